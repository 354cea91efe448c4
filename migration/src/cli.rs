//! The `migration` command line: the sea-orm-migration command set with its flag names (so
//! `sea-orm-cli migrate ...` keeps working), plus `--to` and `status --format json`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use sea_orm_migration::MigratorTrait;

use crate::database::{ConnectSettings, DEFAULT_SQLITE_FILE, DatabaseUrl, connect};
use crate::error::MigrateError;
use crate::generate::{self, Clock};
use crate::plan::Target;
use crate::runner::{Event, MigrationState, Runner, State, Step, backend_name};

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
    pub database_url: Option<String>,

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

    /// What to do (default: up)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Output format of reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Text,
    /// One JSON document for programs.
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
    },
    /// Revert applied migrations (the last one, -n N of them, or down to --to VERSION)
    Down {
        /// Number of applied migrations to revert
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Revert every migration applied after this one (`base` reverts all)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },
    /// Show every migration: applied or pending, and when it was applied
    Status {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Drop every table of the database, then apply all migrations
    Fresh,
    /// Revert all applied migrations, then apply all migrations
    Refresh,
    /// Revert all applied migrations
    Reset,
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
    },
}

/// Runs the command line against migrator `M`; returns what the process should exit with.
/// Every error is printed as one paragraph on stderr.
pub async fn run<M: MigratorTrait>(cli: Cli) -> i32 {
    match execute::<M>(cli).await {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

/// Runs the command line against migrator `M`.
pub async fn execute<M: MigratorTrait>(cli: Cli) -> Result<(), MigrateError> {
    let command = cli.command.unwrap_or(Command::Up {
        num: None,
        to: None,
    });
    if let Command::Generate {
        name, local_time, ..
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
        let made = generate::generate(&cwd, name, chrono::Utc::now(), clock)?;
        println!("Created {}", made.path.display());
        println!(
            "Registered {} in {}",
            made.module,
            made.registered_in.display()
        );
        return Ok(());
    }

    let url = DatabaseUrl::resolve(cli.database_url.as_deref())?;
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
    let db = connect(&url, &settings).await?;
    let runner = Runner::new(db, M::migrations()).on_event(print_event);
    let result = dispatch(&runner, &url, command).await;
    let _ = runner.connection().clone().close().await;
    result.map_err(|e| scrub(&url, e))
}

async fn dispatch(
    runner: &Runner,
    url: &DatabaseUrl,
    command: Command,
) -> Result<(), MigrateError> {
    match command {
        Command::Up { num, to } => report(runner.up(&target(num, to)).await?),
        Command::Down { num, to } => {
            let target = match (num, to) {
                (None, None) => Target::Steps(1),
                (num, to) => target(num, to),
            };
            report(runner.down(&target).await?)
        }
        Command::Status { format } => {
            let states = runner.status().await?;
            print_status(url, runner, &states, format);
        }
        Command::Fresh => report(runner.fresh().await?),
        Command::Refresh => report(runner.refresh().await?),
        Command::Reset => report(runner.reset().await?),
        Command::Generate { .. } => {}
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
        .filter(|s| s.direction == crate::plan::Direction::Up)
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

fn print_event(event: &Event<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = match event {
        Event::Started { version, direction } => writeln!(
            err,
            "{} {version} ...",
            match direction {
                crate::plan::Direction::Up => "Applying",
                crate::plan::Direction::Down => "Reverting",
            }
        ),
        Event::Finished {
            version,
            direction,
            duration,
        } => writeln!(
            err,
            "{} {version} in {} ms",
            match direction {
                crate::plan::Direction::Up => "Applied",
                crate::plan::Direction::Down => "Reverted",
            },
            duration.as_millis()
        ),
        Event::Failed {
            version, direction, ..
        } => {
            writeln!(err, "Failed {} of {version}", direction.as_str())
        }
        Event::NothingToDo { direction } => match direction {
            crate::plan::Direction::Up => {
                writeln!(err, "Nothing to apply: the database is up to date.")
            }
            crate::plan::Direction::Down => writeln!(err, "Nothing to revert."),
        },
        Event::DroppedTables { tables } => writeln!(
            err,
            "Dropped {} table(s): {}",
            tables.len(),
            tables.join(", ")
        ),
    };
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
            println!("{:<width$}  {:<8}  Applied at (UTC)", "Migration", "Status");
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
                println!("{:<width$}  {status:<8}  {at}", s.version);
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

/// Where `generate` would write when run from `dir` (for tests and tooling).
pub fn migration_source_dir(dir: &std::path::Path) -> Option<PathBuf> {
    generate::locate_source_dir(dir)
}
