//! The command line of a migration crate: [`args`] defines it, [`output`] writes events and
//! errors, [`review`] and [`generate`] handle their commands; [`run`] dispatches the rest to
//! the library. A migration crate's `main` is one call: [`main`].

pub mod adopt;
pub mod args;
pub mod autogen;
pub mod backup;
pub mod erd;
pub mod fleet;
pub mod output;
pub mod review;
pub mod verify;

use std::time::Duration;

use sea_orm_migration::MigratorTrait;

use crate::backup::BackupConfig;
pub use crate::cli::args::{
    Cli, Command, ConnectionArgs, Environment, MigrateArgs, Safety, SecretUrl, command, parse,
    parse_from, with_env_vars,
};
use crate::cli::output::outln;
use crate::cli::output::scrub_error;
pub use crate::cli::output::{EventLog, Format};
use crate::config::Config;
use crate::db::backend_name;
use crate::db::{ConnectSettings, DatabaseUrl, connect};
use crate::error::{MigrateError, Versions};
use crate::generate::{self, Clock};
use crate::plan::{Direction, Target};
use crate::review::doctor;
use crate::run::runner::{ChecksumState, MigrationState, RunOptions, Runner, State, Step};

/// The whole `main` of a migration crate: loads `.env`, parses the arguments, runs the command
/// against migrator `M` with `config`, and exits with its status.
///
/// ```ignore
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     migration_engine::cli::main::<migration::Migrator>(migration::config()).await
/// }
/// ```
pub async fn main<M: MigratorTrait>(config: Config) -> ! {
    let _ = dotenvy::dotenv();
    let cli = parse(&config);
    let code = run::<M>(cli, &config).await;
    std::process::exit(code)
}

/// Runs the command line against migrator `M`; returns what the process should exit with.
/// Every error is printed as one paragraph on stderr.
pub async fn run<M: MigratorTrait>(cli: Cli, config: &Config) -> i32 {
    let log = EventLog::new(
        cli.migrate
            .command
            .as_ref()
            .map(Command::event_format)
            .unwrap_or_default(),
        cli.migrate.safety.log_file.clone(),
    );
    let result = execute::<M>(cli, log.clone(), config).await;
    // Output lost to a closed pipe is not an error; output lost otherwise (a full disk) is.
    let result = result.and_then(|()| crate::cli::output::take_stdout_error().map_or(Ok(()), Err));
    match result {
        Ok(()) => 0,
        Err(err) => {
            log.error(&err);
            err.exit_code()
        }
    }
}

/// Runs the command line against migrator `M`, reporting events to `log`.
pub async fn execute<M: MigratorTrait>(
    cli: Cli,
    log: EventLog,
    config: &Config,
) -> Result<(), MigrateError> {
    let Cli {
        connection,
        migrate: cli,
    } = cli;
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
        erd,
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
            let url = connection
                .database_url
                .as_ref()
                .map(|u| u.0.as_str())
                .filter(|u| std::env::var("DATABASE_URL").ok().as_deref() != Some(*u));
            let head = erd.then(|| crate::cli::erd::head_migration(&cwd, config));
            crate::cli::autogen::run_command(
                &cwd,
                name,
                clock,
                url,
                connection.database_schema.clone(),
                config,
            )
            .await?;
            if let Some(head) = head {
                crate::cli::erd::print_autogen_change(&cwd, config, head.as_deref())?;
            }
            return Ok(());
        }
        let made = generate::generate(&cwd, name, chrono::Utc::now(), clock, config)?;
        outln!("Created {}", made.path.display());
        outln!(
            "Registered {} in {}",
            made.module,
            made.registered_in.display()
        );
        return Ok(());
    }
    if let Command::Sql(args) = &command {
        return crate::cli::review::run_sql(args, &M::migrations(), config).await;
    }
    if let Command::Erd(args) = &command {
        return crate::cli::erd::run(args, &connection, config).await;
    }
    if let Command::Fleet(args) = &command {
        return crate::cli::fleet::run::<M>(args, &cli.safety, &cli.scale, config).await;
    }
    if let Some(done) = crate::cli::backup::offline(&command, &cli.safety).await {
        return done;
    }
    let safety = cli.safety;
    let destructive = matches!(
        command,
        Command::Fresh { .. }
            | Command::Refresh { .. }
            | Command::Reset { .. }
            | Command::Down { dry_run: false, .. }
            | Command::Restore { .. }
            | Command::Baseline {
                accept_differences: true,
                ..
            }
            | Command::Adopt {
                accept_differences: true,
                ..
            }
    );
    if destructive && connection.environment == Environment::Production && !safety.yes {
        return Err(MigrateError::NeedsConfirmation {
            command: command.name().into(),
        });
    }

    let url = connection.url(config)?;
    if url.is_default() {
        log.notice(&format!(
            "No DATABASE_URL given: using the SQLite database ./{} (created if missing). \
             Set DATABASE_URL or pass -u to use PostgreSQL or MySQL.",
            config.default_sqlite_file
        ));
    }
    if command.needs_existing_database() {
        url.require_existing()?;
    }
    if cli.verbose {
        init_statement_log();
    }
    let settings = ConnectSettings {
        schema: connection.database_schema.clone(),
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
        tuning: cli.scale.tuning(),
        environment: connection.environment,
        skip_gates: safety.skip_gates.clone(),
        statement_timeout: safety.statement_timeout,
        migration_timeout: safety.migration_timeout,
    };
    let observer = log.clone();
    // Set when a run found nothing to do (it changed nothing).
    let idle = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let idle_seen = idle.clone();
    let runner = Runner::with_config(db, M::migrations(), config.clone())
        .with_options(options)
        .on_event(move |e| {
            if matches!(e, crate::run::runner::Event::NothingToDo { .. }) {
                idle_seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            observer.event(e)
        });
    let result =
        match crate::cli::review::handle(&command, &runner, &url, runner.migrations()).await {
            Ok(true) => Ok(()),
            Ok(false) => dispatch(&runner, &url, &backup_config, command, !safety.no_backup).await,
            Err(e) => Err(e),
        };
    // A SQLite run that changed nothing leaves nothing to flush or checkpoint: the process
    // exit releases the file (closing costs the no-op `up` a round trip to the driver's
    // thread). Every other connection is closed.
    let unchanged = result.is_ok() && idle.load(std::sync::atomic::Ordering::Relaxed);
    if !(unchanged && url.backend() == sea_orm::DbBackend::Sqlite) {
        let _ = runner.connection().clone().close().await;
    }
    result.map_err(|e| scrub_error(&url, e))
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
            let alembic = crate::cli::adopt::status_notice(runner, &states, format).await?;
            if check && let Some(managed) = alembic {
                return Err(managed);
            }
            let pending: Vec<String> = states
                .iter()
                .filter(|s| s.status == State::Pending)
                .map(|s| s.version.clone())
                .collect();
            if check {
                let problems = runner.verify().await?;
                if !problems.is_empty() {
                    return Err(MigrateError::Inconsistent { problems });
                }
            }
            if check && !pending.is_empty() {
                return Err(MigrateError::Pending {
                    count: pending.len(),
                    versions: Versions(pending),
                });
            }
        }
        Command::History { format, limit } => {
            let report = crate::run::report::history_report(runner, limit).await?;
            let entries = &report.history;
            match format {
                Format::Json => outln!("{}", report.to_json()),
                Format::Text => {
                    if entries.is_empty() {
                        outln!("No migration has run on this database yet.");
                    }
                    // `up`, `down`, `baseline`, `adopt`: one column as wide as the widest.
                    let dir_width = entries
                        .iter()
                        .map(|e| e.direction.len())
                        .max()
                        .unwrap_or(4)
                        .max(4);
                    for e in entries {
                        outln!(
                            "{}  {:<dir_width$} {:<40} {:<11} {:>7}  {}@{}  {}{}",
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
                                .map(|c| c.get(..12).unwrap_or(c))
                                .unwrap_or("-"),
                            e.error
                                .as_deref()
                                .map(|err| format!(
                                    "  {}: {}",
                                    // baseline/adopt rows keep a note there, not an error
                                    if e.outcome.as_str() == "succeeded" {
                                        "note"
                                    } else {
                                        "error"
                                    },
                                    err.lines().next().unwrap_or(err)
                                ))
                                .unwrap_or_default()
                        );
                        if let Some(notes) = &e.notes {
                            outln!("    note: {notes}");
                        }
                    }
                }
            }
        }
        Command::Repair => {
            let done = runner.repair_report().await?;
            if !done.ledger_rows.is_empty() {
                outln!(
                    "Re-added {} ledger row(s) the history records as applied: {}.",
                    done.ledger_rows.len(),
                    done.ledger_rows.join(", ")
                );
            }
            outln!(
                "Repair: recorded {} checksum(s), marked {} failed run(s) as repaired.",
                done.checksums,
                done.failed_runs
            );
        }
        Command::Fresh { .. } => report(runner.fresh().await?),
        Command::Refresh { .. } => report(runner.refresh().await?),
        Command::Reset { .. } => report(runner.reset().await?),
        Command::Backup { .. } => crate::cli::backup::take(runner, url, backup_config).await?,
        Command::Restore { file, overwrite } => {
            crate::cli::backup::restore(runner, url, backup_config, &file, overwrite, backups)
                .await?
        }
        Command::Doctor { format } => {
            let report = doctor::run(runner, url, backups.then_some(backup_config)).await;
            match format {
                Format::Json => outln!("{}", serde_json::to_string(&report).unwrap_or_default()),
                Format::Text => {
                    for c in &report.checks {
                        outln!("[{}] {}: {}", c.level.label(), c.name, c.detail);
                    }
                }
            }
            if !report.healthy() {
                return Err(MigrateError::Unhealthy {
                    failures: report.failures(),
                });
            }
        }
        Command::Baseline {
            to,
            accept_differences,
            format,
        } => crate::cli::adopt::baseline(runner, url, &to, accept_differences, format).await?,
        Command::Adopt {
            tool,
            accept_differences,
            format,
        } => crate::cli::adopt::adopt(runner, url, tool, accept_differences, format).await?,
        Command::Generate { .. } => {}
        Command::Verify(args) => crate::cli::verify::run(runner, url, &args).await?,
        Command::Sql(_)
        | Command::Erd(_)
        | Command::Lint(_)
        | Command::Drift(_)
        | Command::Check(_)
        | Command::Fleet(_) => {}
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
    outln!("Done: {} migration(s) in {total} ms.", parts.join(", "));
}

fn print_status(url: &DatabaseUrl, runner: &Runner, states: &[MigrationState], format: Format) {
    let backend = runner.connection().get_database_backend();
    let pending = states.iter().filter(|s| s.status == State::Pending).count();
    match format {
        Format::Json => {
            let doc = crate::run::report::StatusReport::new(url, runner, states.to_vec());
            outln!("{}", doc.to_json());
        }
        Format::Text => {
            let width = states
                .iter()
                .map(|s| s.version.len())
                .max()
                .unwrap_or(9)
                .max(9);
            outln!("Database: {} ({})", url.redacted(), backend_name(backend));
            outln!(
                "{:<width$}  {:<8}  {:<19}  {:>8}  Checksum",
                "Migration",
                "Status",
                "Applied at (UTC)",
                "Took"
            );
            for s in states {
                let status = match s.status {
                    State::Applied => "applied",
                    State::Pending => "pending",
                    State::Unknown => "UNKNOWN",
                    State::MissingFromLedger => "MISSING",
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
                outln!(
                    "{:<width$}  {status:<8}  {at:<19}  {took:>8}  {checksum}",
                    s.version
                );
            }
            let unknown = states.iter().filter(|s| s.status == State::Unknown).count();
            outln!(
                "{} migration(s), {pending} pending.",
                states.len() - unknown
            );
            if unknown > 0 {
                outln!(
                    "{unknown} applied migration(s) are UNKNOWN to this build: a newer build migrated this database."
                );
            }
            let missing = states
                .iter()
                .filter(|s| s.status == State::MissingFromLedger)
                .count();
            if missing > 0 {
                outln!(
                    "{missing} migration(s) are MISSING from the ledger ({}) though the history records them as applied: \
                     check that their changes are in the schema, then run `migration repair` to re-add the ledger rows.",
                    runner.config().ledger_table
                );
            }
            if states.iter().any(|s| s.checksum == ChecksumState::Changed) {
                outln!(
                    "A CHANGED checksum means a migration was edited after it was applied: see `migration up` for the way out."
                );
            }
        }
    }
}

/// The `-v` statement log on stderr: coloured only on a terminal without `NO_COLOR`, and
/// never failing (or panicking) when stderr is closed.
fn init_statement_log() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(crate::cli::output::colour(&std::io::stderr()))
        .log_internal_errors(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("sea_orm=info,sqlx=info")),
        )
        .try_init();
}
