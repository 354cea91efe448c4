//! What the server knows: its [`ServeOptions`], the database connections it reads with, and
//! the migration run in progress, if any (one at a time per server; the database's migration
//! lock serialises it with every other runner).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use migration_engine::backup::BackupConfig;
use migration_engine::cli::{Environment, EventLog};
use migration_engine::run::runner::Migrations;
use migration_engine::{Config, ConnectSettings, DatabaseUrl, MigrateError, Runner};
use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, OnceCell, watch};

use crate::serve::auth::Token;

/// How `oht50-db serve` runs (the command line builds it; tests build it directly).
#[derive(Clone)]
pub struct ServeOptions {
    /// The one database this server serves.
    pub url: DatabaseUrl,
    /// The project's engine configuration.
    pub config: Config,
    /// The build's migrations, oldest first (`Migrator::migrations`).
    pub migrations: fn() -> Migrations,
    /// How to connect (PostgreSQL schema, timeouts).
    pub connect: ConnectSettings,
    /// Development, staging or production (production rollback needs `"confirm": true`).
    pub environment: Environment,
    /// The token that enables the mutation endpoints; `None`: they are off.
    pub token: Option<Token>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Connections for the read endpoints.
    pub pool_size: u32,
    /// How long a migration request waits for another runner's lock (0: answer 409 at once).
    pub lock_timeout: Duration,
    /// Backups before changing a database that holds data (`None`: no backups).
    pub backup: Option<BackupConfig>,
    /// Longest time a read request may take (answered 503 past it).
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long shutdown waits for a running migration before giving up on it.
    pub shutdown_timeout: Duration,
    /// Longest one statement of a migration may run (see `migration_engine::run::timeout`).
    pub statement_timeout: Option<Duration>,
    /// Longest one migration may run.
    pub migration_timeout: Option<Duration>,
    /// Where events go (stderr, optionally a file).
    pub log: EventLog,
}

impl ServeOptions {
    /// Defaults for serving `url` with `config` and `migrations`: 127.0.0.1:8050, no token,
    /// no backups, 4 read connections, a 409 at once on a held lock.
    pub fn new(url: DatabaseUrl, config: Config, migrations: fn() -> Migrations) -> Self {
        Self {
            url,
            config,
            migrations,
            connect: ConnectSettings::default(),
            environment: Environment::Development,
            token: None,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            pool_size: 4,
            lock_timeout: Duration::ZERO,
            backup: None,
            request_timeout: Duration::from_secs(30),
            body_limit: 16 * 1024,
            shutdown_timeout: Duration::from_secs(600),
            statement_timeout: None,
            migration_timeout: None,
            log: EventLog::new(migration_engine::cli::Format::Text, None),
        }
    }
}

/// The port `serve` listens on by default.
pub const DEFAULT_PORT: u16 = 8050;

/// A migration run this server is doing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunInfo {
    /// `migrate` or `rollback`.
    pub operation: String,
    /// The target it was asked for.
    pub target: String,
    /// The client that asked.
    pub client: String,
    /// When it started (UTC, RFC 3339).
    pub started_at: String,
}

impl std::fmt::Display for RunInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a {} to {} requested by {} at {} (this server, pid {})",
            self.operation,
            self.target,
            self.client,
            self.started_at,
            std::process::id()
        )
    }
}

/// Shared state of every request handler (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) options: ServeOptions,
    reader: OnceCell<DatabaseConnection>,
    read_runner: OnceCell<Arc<Runner>>,
    probe: OnceCell<Mutex<DatabaseConnection>>,
    pub(crate) running: watch::Sender<Option<RunInfo>>,
    shutting_down: AtomicBool,
}

impl AppState {
    /// State for `options`. Connects lazily: the server answers `/health` while the database
    /// is down, and connects on the first request that finds it up.
    pub fn new(options: ServeOptions) -> Self {
        Self(Arc::new(Inner {
            options,
            reader: OnceCell::new(),
            read_runner: OnceCell::new(),
            probe: OnceCell::new(),
            running: watch::Sender::new(None),
            shutting_down: AtomicBool::new(false),
        }))
    }

    /// The options.
    pub fn options(&self) -> &ServeOptions {
        &self.0.options
    }

    /// The pool the read endpoints use (connected on first use).
    pub async fn reader(&self) -> Result<&DatabaseConnection, MigrateError> {
        let o = &self.0.options;
        self.0
            .reader
            .get_or_try_init(|| migration_engine::db::connect_pool(&o.url, &o.connect, o.pool_size))
            .await
    }

    /// The one-connection session the lock probe uses (see
    /// [`migration_engine::bookkeeping::lock::is_held`]).
    pub(crate) async fn probe(&self) -> Result<&Mutex<DatabaseConnection>, MigrateError> {
        let o = &self.0.options;
        self.0
            .probe
            .get_or_try_init(|| async {
                migration_engine::connect(&o.url, &o.connect)
                    .await
                    .map(Mutex::new)
            })
            .await
    }

    /// The runner over the read pool, for status, history and checks (never for running);
    /// one for the server's life, so the build's checksums are computed once.
    pub async fn read_runner(&self) -> Result<Arc<Runner>, MigrateError> {
        let runner = self
            .0
            .read_runner
            .get_or_try_init(|| async {
                let db = self.reader().await?.clone();
                let o = &self.0.options;
                Ok::<_, MigrateError>(Arc::new(Runner::with_config(
                    db,
                    (o.migrations)(),
                    o.config.clone(),
                )))
            })
            .await?;
        Ok(runner.clone())
    }

    /// The migration run in progress in this server, if any.
    pub fn running(&self) -> Option<RunInfo> {
        self.0.running.borrow().clone()
    }

    /// Marks a run as started, unless one already is (then returns it).
    pub(crate) fn start_run(&self, info: RunInfo) -> Result<(), RunInfo> {
        let mut busy = None;
        self.0.running.send_if_modified(|current| match current {
            Some(other) => {
                busy = Some(other.clone());
                false
            }
            None => {
                *current = Some(info.clone());
                true
            }
        });
        busy.map_or(Ok(()), Err)
    }

    /// Marks the run as finished.
    pub(crate) fn finish_run(&self) {
        self.0.running.send_replace(None);
    }

    /// Waits until no run is in progress.
    pub async fn idle(&self) {
        let mut rx = self.0.running.subscribe();
        let _ = rx.wait_for(Option::is_none).await;
    }

    /// Whether shutdown has begun (new runs are refused).
    pub fn shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::SeqCst)
    }

    /// Begins shutdown: new runs are refused from now on.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::SeqCst);
    }

    /// The environment variable that holds the token.
    pub fn token_env_var(&self) -> String {
        token_env_var(&self.0.options.config)
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        if let Some(db) = self.0.reader.get() {
            let _ = db.clone().close().await;
        }
        if let Some(probe) = self.0.probe.get() {
            let _ = probe.lock().await.clone().close().await;
        }
    }
}

/// `<PREFIX>_SERVE_TOKEN`, e.g. `OHT50_SERVE_TOKEN`.
pub fn token_env_var(config: &Config) -> String {
    config.env_var("SERVE_TOKEN")
}
