//! The flags of `oht50-db serve`. The token is never a flag: it comes from the environment
//! variable `<PREFIX>_SERVE_TOKEN` (`OHT50_SERVE_TOKEN`) or from `--token-file`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use migration_engine::backup::BackupConfig;
use migration_engine::cli::{ConnectionArgs, EventLog, Format};
use migration_engine::run::runner::Migrations;
use migration_engine::{Config, ConnectSettings};

use crate::serve::auth::Token;
use crate::serve::error::ServeError;
use crate::serve::state::{ServeOptions, token_env_var};

/// `oht50-db serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (use 0.0.0.0:PORT to accept other hosts, e.g. in a container)
    #[arg(long, default_value = "127.0.0.1:8050", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// File holding the token that enables POST /api/v1/migrations/* (or set OHT50_SERVE_TOKEN)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Database connections for the read endpoints
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub pool_size: u32,

    /// Worker threads (0: one per CPU)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub workers: usize,

    /// Seconds a read request may take before it is answered 503
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub request_timeout: u64,

    /// Largest request body accepted, in bytes
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub body_limit: usize,

    /// Seconds a migration request waits for another runner's lock (0: answer 409 at once)
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub lock_timeout: u64,

    /// Seconds shutdown waits for a running migration before giving up on it
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub shutdown_timeout: u64,

    /// Longest one statement of a migration may run, e.g. 30s or 5m (PostgreSQL
    /// statement_timeout, MariaDB max_statement_time; SQLite: per migration)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub statement_timeout: Option<Duration>,

    /// Longest one migration may run, e.g. 10m
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub migration_timeout: Option<Duration>,

    /// Directory for the backups taken before changing a database that holds data
    #[arg(long, default_value = "backups", value_name = "DIR")]
    pub backup_dir: PathBuf,

    /// How many backups to keep per database
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub keep_backups: usize,

    /// Do not back up before changing the database
    #[arg(long)]
    pub no_backup: bool,

    /// Event log format on stderr
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub log_format: Format,

    /// Also append the event log to this file
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

impl ServeArgs {
    /// The server's options for the connection flags, `config` and `migrations`; reads the
    /// token from the environment or `--token-file`.
    pub fn options(
        &self,
        connection: &ConnectionArgs,
        config: &Config,
        migrations: fn() -> Migrations,
    ) -> Result<ServeOptions, ServeError> {
        let url = connection.url(config)?;
        let token = Token::load(&token_env_var(config), self.token_file.as_deref())?;
        let mut options = ServeOptions::new(url, config.clone(), migrations);
        options.connect = ConnectSettings {
            schema: connection.database_schema.clone(),
            ..ConnectSettings::default()
        };
        options.environment = connection.environment;
        options.token = token;
        options.listen = self.listen;
        options.pool_size = self.pool_size.max(1);
        options.lock_timeout = Duration::from_secs(self.lock_timeout);
        options.backup = (!self.no_backup).then(|| BackupConfig {
            dir: self.backup_dir.clone(),
            keep: self.keep_backups,
        });
        options.request_timeout = Duration::from_secs(self.request_timeout.max(1));
        options.body_limit = self.body_limit;
        options.shutdown_timeout = Duration::from_secs(self.shutdown_timeout);
        options.statement_timeout = self.statement_timeout;
        options.migration_timeout = self.migration_timeout;
        options.log = EventLog::new(self.log_format, self.log_file.clone());
        Ok(options)
    }
}
