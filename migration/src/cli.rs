//! The `migration` command line: the sea-orm-migration command set with its flag names (so
//! `sea-orm-cli migrate ...` keeps working), plus `--to`, JSON output, history, repair,
//! backups, doctor and production guards.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sea_orm_migration::MigratorTrait;

use crate::backup::{self, BackupConfig};
use crate::database::{ConnectSettings, DEFAULT_SQLITE_FILE, DatabaseUrl, connect};
use crate::doctor;
use crate::error::{MigrateError, Versions};
use crate::generate::{self, Clock};
use crate::plan::{Direction, Target};
use crate::runner::{
    ChecksumState, Event, MigrationState, RunOptions, Runner, State, Step, backend_name,
};

/// Command-line arguments of `migration`.
#[derive(Debug, Parser)]
#[command(
    name = "migration",
    version,
    about = "Apply, revert and inspect the OHT-50 database migrations",
    long_about = "Apply, revert and inspect the OHT-50 database migrations.\n\n\
                  Without a database URL the SQLite file ./oht50.db is used (created if missing).\n\
                  With no command, `up` runs."
)]
pub struct Cli {
    /// Database URL, e.g. postgres://user:password@host:5432/db, mysql://..., sqlite://file.db
    #[arg(
        short = 'u',
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<SecretUrl>,

    /// PostgreSQL schema to migrate (search_path); ignored by MySQL and SQLite
    #[arg(
        short = 's',
        long,
        env = "DATABASE_SCHEMA",
        global = true,
        hide_env_values = true
    )]
    pub database_schema: Option<String>,

    /// Log every SQL statement to stderr
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,

    #[command(flatten)]
    pub safety: Safety,

    #[command(flatten)]
    pub scale: crate::tuning::ScaleArgs,

    /// What to do (default: up)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A database URL as typed, before validation; its `Debug` never shows it (it may hold a
/// password).
#[derive(Clone)]
pub struct SecretUrl(pub String);

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretUrl(***)")
    }
}

/// Flags shared by every command that changes the database.
#[derive(Debug, Clone, Args)]
pub struct Safety {
    /// Environment: production requires --yes for fresh, refresh, reset, down and restore
    #[arg(long = "env", env = "OHT50_ENV", global = true, value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,

    /// Confirm a destructive command in production
    #[arg(long, global = true)]
    pub yes: bool,

    /// Seconds to wait for another runner's migration lock
    #[arg(
        long,
        env = "OHT50_LOCK_TIMEOUT",
        global = true,
        default_value_t = 300,
        value_name = "SECS"
    )]
    pub lock_timeout: u64,

    /// Directory for the backups taken before changing a database that holds data
    #[arg(
        long,
        env = "OHT50_BACKUP_DIR",
        global = true,
        default_value = "backups",
        value_name = "DIR"
    )]
    pub backup_dir: PathBuf,

    /// How many backups to keep per database
    #[arg(
        long,
        env = "OHT50_BACKUP_KEEP",
        global = true,
        default_value_t = 10,
        value_name = "N"
    )]
    pub keep_backups: usize,

    /// Do not back up before changing the database
    #[arg(long, global = true)]
    pub no_backup: bool,

    /// Also append the event log to this file
    #[arg(long, env = "OHT50_LOG_FILE", global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
}

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// A developer's machine.
    Development,
    /// A staging system.
    Staging,
    /// Production: destructive commands need --yes.
    Production,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Text,
    /// JSON for programs (events: one object per line on stderr).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (all, -n N of them, or up to --to VERSION)
    Up {
        /// Number of pending migrations to apply
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Apply up to and including this migration (full name or unique prefix)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Apply pending migrations even when a later one is already applied
        #[arg(long)]
        allow_out_of_order: bool,
        /// Print the SQL each migration would run, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Apply migrations that drop tables or columns, truncate or narrow types
        #[arg(long)]
        allow_destructive: bool,
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revert applied migrations (the last one, -n N of them, or down to --to VERSION)
    Down {
        /// Number of applied migrations to revert
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Revert every migration applied after this one (`base` reverts all)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Print the SQL each migration would run, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show every migration: applied or pending, when, how long it took, checksum state
    Status {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit with code 3 while migrations are pending (readiness probes, CI)
        #[arg(long)]
        check: bool,
    },
    /// Show the history of every migration run, newest first
    History {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Show at most this many runs
        #[arg(long)]
        limit: Option<u64>,
    },
    /// After review: record current checksums and mark failed runs as repaired
    Repair,
    /// Drop every table of the database, then apply all migrations
    Fresh {
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revert all applied migrations, then apply all migrations
    Refresh {
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revert all applied migrations
    Reset {
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a backup of the database into the backup directory
    Backup,
    /// Replace the database's contents with a backup file
    Restore {
        /// The backup file
        file: PathBuf,
        /// Replace a database that is not empty
        #[arg(long)]
        overwrite: bool,
    },
    /// Pre-flight checks: connectivity, pending and failed migrations, checksums, lock, disk
    Doctor {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a new migration file into migration/src and register it
    Generate {
        /// Short description, e.g. add_robot_firmware
        name: String,
        /// Name the file with the UTC time (default)
        #[arg(long, conflicts_with = "local_time")]
        universal_time: bool,
        /// Name the file with the local time
        #[arg(long)]
        local_time: bool,
        /// Write up/down from the difference between the entities and the schema at the latest
        /// migration (its snapshot, or the database given with -u)
        #[arg(long)]
        autogenerate: bool,
    },
    /// Print the SQL script of up or down for a backend, without a database
    Sql(crate::review_cli::SqlArgs),
    /// Check migrations for destructive changes, lock hazards, bad downs and naming
    Lint(crate::review_cli::LintArgs),
    /// List every difference between the database and the entity schema
    Drift(crate::review_cli::DriftArgs),
    /// For CI: fail on drift, unknown versions and lint errors
    Check(crate::review_cli::CheckArgs),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Up { .. } => "up",
            Command::Down { .. } => "down",
            Command::Status { .. } => "status",
            Command::History { .. } => "history",
            Command::Repair => "repair",
            Command::Fresh { .. } => "fresh",
            Command::Refresh { .. } => "refresh",
            Command::Reset { .. } => "reset",
            Command::Backup => "backup",
            Command::Restore { .. } => "restore",
            Command::Doctor { .. } => "doctor",
            Command::Generate { .. } => "generate",
            Command::Sql(_) => "sql",
            Command::Lint(_) => "lint",
            Command::Drift(_) => "drift",
            Command::Check(_) => "check",
        }
    }

    fn event_format(&self) -> Format {
        match self {
            Command::Up { format, .. }
            | Command::Down { format, .. }
            | Command::Fresh { format }
            | Command::Refresh { format }
            | Command::Reset { format } => *format,
            _ => Format::Text,
        }
    }
}

/// Runs the command line against migrator `M`; returns what the process should exit with.
/// Every error is printed as one paragraph on stderr.
pub async fn run<M: MigratorTrait>(cli: Cli) -> i32 {
    let log = EventLog::new(
        cli.command
            .as_ref()
            .map(Command::event_format)
            .unwrap_or_default(),
        cli.safety.log_file.clone(),
    );
    match execute::<M>(cli, log.clone()).await {
        Ok(()) => 0,
        Err(err) => {
            log.error(&err);
            err.exit_code()
        }
    }
}

/// Runs the command line against migrator `M`, reporting events to `log`.
pub async fn execute<M: MigratorTrait>(cli: Cli, log: EventLog) -> Result<(), MigrateError> {
    let command = cli.command.unwrap_or(Command::Up {
        num: None,
        to: None,
        allow_out_of_order: false,
        dry_run: false,
        allow_destructive: false,
        format: Format::Text,
    });
    if let Command::Generate {
        name,
        local_time,
        autogenerate,
        ..
    } = &command
    {
        let cwd = std::env::current_dir().map_err(|e| {
            MigrateError::Generate(format!("cannot read the current directory: {e}"))
        })?;
        let clock = if *local_time {
            Clock::Local
        } else {
            Clock::Utc
        };
        if *autogenerate {
            // Only an explicit -u diffs against a database, not DATABASE_URL from the environment.
            let url = cli
                .database_url
                .as_ref()
                .map(|u| u.0.as_str())
                .filter(|u| std::env::var("DATABASE_URL").ok().as_deref() != Some(*u));
            return crate::autogen::run_command(
                &cwd,
                name,
                clock,
                url,
                cli.database_schema.clone(),
            )
            .await;
        }
        let made = generate::generate(&cwd, name, chrono::Utc::now(), clock)?;
        println!("Created {}", made.path.display());
        println!(
            "Registered {} in {}",
            made.module,
            made.registered_in.display()
        );
        return Ok(());
    }
    if let Command::Sql(args) = &command {
        return crate::review_cli::run_sql(args, &M::migrations()).await;
    }
    crate::tuning::set(cli.scale.tuning());
    let safety = cli.safety;
    let destructive = matches!(
        command,
        Command::Fresh { .. }
            | Command::Refresh { .. }
            | Command::Reset { .. }
            | Command::Down { dry_run: false, .. }
            | Command::Restore { .. }
    );
    if destructive && safety.environment == Environment::Production && !safety.yes {
        return Err(MigrateError::NeedsConfirmation {
            command: command.name().into(),
        });
    }

    let url = DatabaseUrl::resolve(cli.database_url.as_ref().map(|u| u.0.as_str()))?;
    if url.is_default() {
        eprintln!(
            "No DATABASE_URL given: using the SQLite database ./{DEFAULT_SQLITE_FILE} (created if missing). \
             Set DATABASE_URL or pass -u to use PostgreSQL or MySQL."
        );
    }
    if cli.verbose {
        init_statement_log();
    }
    let settings = ConnectSettings {
        schema: cli.database_schema.clone(),
        log_statements: cli.verbose,
        ..ConnectSettings::default()
    };
    let backup_config = BackupConfig {
        dir: safety.backup_dir.clone(),
        keep: safety.keep_backups,
    };
    let db = connect(&url, &settings).await?;
    let options = RunOptions {
        lock_timeout: Duration::from_secs(safety.lock_timeout),
        allow_out_of_order: matches!(
            command,
            Command::Up {
                allow_out_of_order: true,
                ..
            }
        ),
        backup: (!safety.no_backup).then(|| (backup_config.clone(), url.clone())),
        allow_destructive: matches!(
            command,
            Command::Up {
                allow_destructive: true,
                ..
            }
        ),
    };
    let observer = log.clone();
    let runner = Runner::new(db, M::migrations())
        .with_options(options)
        .on_event(move |e| observer.event(e));
    let result = match crate::review_cli::handle(&command, &runner, &url, &M::migrations()).await {
        Ok(true) => Ok(()),
        Ok(false) => dispatch(&runner, &url, &backup_config, command, !safety.no_backup).await,
        Err(e) => Err(e),
    };
    let _ = runner.connection().clone().close().await;
    result.map_err(|e| scrub(&url, e))
}

async fn dispatch(
    runner: &Runner,
    url: &DatabaseUrl,
    backup_config: &BackupConfig,
    command: Command,
    backups: bool,
) -> Result<(), MigrateError> {
    match command {
        Command::Up { num, to, .. } => report(runner.up(&target(num, to)).await?),
        Command::Down { num, to, .. } => {
            let target = match (num, to) {
                (None, None) => Target::Steps(1),
                (num, to) => target(num, to),
            };
            report(runner.down(&target).await?)
        }
        Command::Status { format, check } => {
            let states = runner.status().await?;
            print_status(url, runner, &states, format);
            let pending: Vec<String> = states
                .iter()
                .filter(|s| s.status == State::Pending)
                .map(|s| s.version.clone())
                .collect();
            if check && !pending.is_empty() {
                return Err(MigrateError::Pending {
                    count: pending.len(),
                    versions: Versions(pending),
                });
            }
        }
        Command::History { format, limit } => {
            let entries = runner.history(limit).await?;
            match format {
                Format::Json => println!("{}", serde_json::json!({ "history": entries })),
                Format::Text => {
                    if entries.is_empty() {
                        println!("No migration has run on this database yet.");
                    }
                    for e in &entries {
                        println!(
                            "{}  {:<6} {:<40} {:<11} {:>7}  {}@{}  {}{}",
                            e.started_at.format("%Y-%m-%d %H:%M:%S"),
                            e.direction,
                            e.version,
                            e.outcome.as_str(),
                            e.duration_ms
                                .map(|d| format!("{d} ms"))
                                .unwrap_or_else(|| "-".into()),
                            e.os_user,
                            e.host,
                            e.checksum
                                .as_deref()
                                .map(|c| &c[..c.len().min(12)])
                                .unwrap_or("-"),
                            e.error
                                .as_deref()
                                .map(|err| format!(
                                    "  error: {}",
                                    err.lines().next().unwrap_or(err)
                                ))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        Command::Repair => {
            let (checksums, repaired) = runner.repair().await?;
            println!(
                "Repair: recorded {checksums} checksum(s), marked {repaired} failed run(s) as repaired."
            );
        }
        Command::Fresh { .. } => report(runner.fresh().await?),
        Command::Refresh { .. } => report(runner.refresh().await?),
        Command::Reset { .. } => report(runner.reset().await?),
        Command::Backup => {
            let label = runner
                .status()
                .await?
                .iter()
                .filter(|s| s.status != State::Pending)
                .map(|s| s.version.clone())
                .next_back()
                .unwrap_or_else(|| "empty".into());
            let taken = backup::take(runner.connection(), url, backup_config, &label).await?;
            println!(
                "Backup written: {} ({} bytes)",
                taken.path.display(),
                taken.bytes
            );
        }
        Command::Restore { file, overwrite } => {
            backup::restore(runner.connection().clone(), url, &file, overwrite).await?;
            println!("Restored {} into {}", file.display(), url.redacted());
        }
        Command::Doctor { format } => {
            let report = doctor::run(runner, url, backups.then_some(backup_config)).await;
            match format {
                Format::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
                Format::Text => {
                    for c in &report.checks {
                        println!("[{}] {}: {}", c.level.label(), c.name, c.detail);
                    }
                }
            }
            if !report.healthy() {
                return Err(MigrateError::Unhealthy {
                    failures: report.failures(),
                });
            }
        }
        Command::Generate { .. } => {}
        Command::Sql(_) | Command::Lint(_) | Command::Drift(_) | Command::Check(_) => {}
    }
    Ok(())
}

fn target(num: Option<u32>, to: Option<String>) -> Target {
    match (num, to) {
        (_, Some(v)) if v.eq_ignore_ascii_case("base") => Target::Base,
        (_, Some(v)) => Target::Version(v),
        (Some(n), None) => Target::Steps(n),
        (None, None) => Target::All,
    }
}

fn report(steps: Vec<Step>) {
    if steps.is_empty() {
        return;
    }
    let ups = steps
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .count();
    let downs = steps.len() - ups;
    let total: u128 = steps.iter().map(|s| s.duration_ms).sum();
    let mut parts = Vec::new();
    if downs > 0 {
        parts.push(format!("reverted {downs}"));
    }
    if ups > 0 {
        parts.push(format!("applied {ups}"));
    }
    println!("Done: {} migration(s) in {total} ms.", parts.join(", "));
}

/// Where events go: stderr (text or one JSON object per line) and optionally a log file.
#[derive(Clone)]
pub struct EventLog {
    format: Format,
    file: Option<Arc<Mutex<std::fs::File>>>,
}

impl EventLog {
    /// Events in `format` on stderr, and appended to `file` when given (a file that cannot be
    /// opened is reported once on stderr and skipped).
    pub fn new(format: Format, file: Option<PathBuf>) -> Self {
        let file = file.and_then(|p| {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
            {
                Ok(f) => Some(Arc::new(Mutex::new(f))),
                Err(e) => {
                    eprintln!(
                        "warning: cannot open the log file {}: {e}; logging to stderr only",
                        p.display()
                    );
                    None
                }
            }
        });
        Self { format, file }
    }

    fn emit(&self, level: &str, text: String, json: serde_json::Value) {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut obj = json;
        if let Some(map) = obj.as_object_mut() {
            map.insert("ts".into(), ts.clone().into());
            map.insert("level".into(), level.into());
        }
        match self.format {
            Format::Json => eprintln!("{obj}"),
            Format::Text if level == "error" => eprintln!("error: {text}"),
            Format::Text => eprintln!("{text}"),
        }
        if let Some(file) = &self.file
            && let Ok(mut f) = file.lock()
        {
            let _ = match self.format {
                Format::Json => writeln!(f, "{obj}"),
                Format::Text => {
                    writeln!(f, "{ts} - migration - {} - {text}", level.to_uppercase())
                }
            };
        }
    }

    /// Reports a failed command.
    pub fn error(&self, err: &MigrateError) {
        self.emit(
            "error",
            err.to_string(),
            serde_json::json!({"event": "error", "message": err.to_string(), "exit_code": err.exit_code()}),
        );
    }

    /// Reports a runner event.
    pub fn event(&self, event: &Event<'_>) {
        use serde_json::json;
        let verb = |d: Direction, up: &'static str, down: &'static str| {
            if d == Direction::Up { up } else { down }
        };
        match event {
            Event::Started { version, direction } => self.emit(
                "info",
                format!("{} {version} ...", verb(*direction, "Applying", "Reverting")),
                json!({"event": "started", "version": version, "direction": direction}),
            ),
            Event::Finished { version, direction, duration } => self.emit(
                "info",
                format!("{} {version} in {} ms", verb(*direction, "Applied", "Reverted"), duration.as_millis()),
                json!({"event": "finished", "version": version, "direction": direction, "duration_ms": duration.as_millis() as u64}),
            ),
            Event::Failed { version, direction, error } => self.emit(
                "error",
                format!("Failed {} of {version}: {error}", direction.as_str()),
                json!({"event": "failed", "version": version, "direction": direction, "error": error}),
            ),
            Event::NothingToDo { direction } => self.emit(
                "info",
                verb(*direction, "Nothing to apply: the database is up to date.", "Nothing to revert.").into(),
                json!({"event": "nothing-to-do", "direction": direction}),
            ),
            Event::DroppedTables { tables } => self.emit(
                "info",
                format!("Dropped {} table(s): {}", tables.len(), tables.join(", ")),
                json!({"event": "dropped-tables", "tables": tables}),
            ),
            Event::LockWaiting { holder } => self.emit(
                "warn",
                format!("Waiting for the migration lock, held by {holder} ..."),
                json!({"event": "lock-waiting", "holder": holder}),
            ),
            Event::DestructiveAllowed { version, rule, message } => self.emit(
                "warn",
                format!("Allowed destructive change in {version} ({rule}): {message}"),
                json!({"event": "destructive-allowed", "version": version, "rule": rule, "message": message}),
            ),
            Event::BackupTaken { backup } => self.emit(
                "info",
                format!("Backup written: {} ({} bytes)", backup.path.display(), backup.bytes),
                json!({"event": "backup", "path": backup.path, "bytes": backup.bytes}),
            ),
        }
    }
}

fn print_status(url: &DatabaseUrl, runner: &Runner, states: &[MigrationState], format: Format) {
    let backend = runner.connection().get_database_backend();
    let pending = states.iter().filter(|s| s.status == State::Pending).count();
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "database": url.redacted(),
                "backend": backend_name(backend),
                "pending": pending,
                "migrations": states,
            });
            println!("{doc}");
        }
        Format::Text => {
            let width = states
                .iter()
                .map(|s| s.version.len())
                .max()
                .unwrap_or(9)
                .max(9);
            println!("Database: {} ({})", url.redacted(), backend_name(backend));
            println!(
                "{:<width$}  {:<8}  {:<19}  {:>8}  Checksum",
                "Migration", "Status", "Applied at (UTC)", "Took"
            );
            for s in states {
                let status = match s.status {
                    State::Applied => "applied",
                    State::Pending => "pending",
                    State::Unknown => "UNKNOWN",
                };
                let at = s
                    .applied_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "-".into());
                let took = s
                    .duration_ms
                    .map(|d| format!("{d} ms"))
                    .unwrap_or_else(|| "-".into());
                let checksum = match s.checksum {
                    ChecksumState::Ok => "ok",
                    ChecksumState::Changed => "CHANGED",
                    ChecksumState::Unrecorded => "unrecorded",
                    ChecksumState::None => "-",
                };
                println!(
                    "{:<width$}  {status:<8}  {at:<19}  {took:>8}  {checksum}",
                    s.version
                );
            }
            let unknown = states.iter().filter(|s| s.status == State::Unknown).count();
            println!(
                "{} migration(s), {pending} pending.",
                states.len() - unknown
            );
            if unknown > 0 {
                println!(
                    "{unknown} applied migration(s) are UNKNOWN to this build: a newer build migrated this database."
                );
            }
            if states.iter().any(|s| s.checksum == ChecksumState::Changed) {
                println!(
                    "A CHANGED checksum means a migration was edited after it was applied: see `migration up` for the way out."
                );
            }
        }
    }
}

fn scrub(url: &DatabaseUrl, err: MigrateError) -> MigrateError {
    match err {
        MigrateError::Database { action, cause } => MigrateError::Database {
            action,
            cause: url.scrub(&cause),
        },
        MigrateError::MigrationFailed {
            version,
            direction,
            cause,
            consequence,
        } => MigrateError::MigrationFailed {
            version,
            direction,
            cause: url.scrub(&cause),
            consequence,
        },
        MigrateError::Backup { what, cause, fix } => MigrateError::Backup {
            what,
            cause: url.scrub(&cause),
            fix,
        },
        other => other,
    }
}

fn init_statement_log() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("sea_orm=info,sqlx=info")),
        )
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_parsed_arguments_hides_the_password() {
        let cli = Cli::try_parse_from(["migration", "-u", "postgres://u:Hunter2@h/db", "status"])
            .unwrap();
        let text = format!("{cli:?}");
        assert!(!text.contains("Hunter2"), "{text}");
    }
}
