//! `baseline --to VERSION` and `adopt alembic`: parse, call [`crate::review::adopt`], print.
//! Also the Alembic notice `status` prints.

use crate::cli::output::{Format, errln, outln};
use crate::db::{DatabaseUrl, backend_name};
use crate::error::MigrateError;
use crate::review::adopt::{self, AdoptOptions, Baseline};
use crate::run::runner::{MigrationState, Runner, State};

/// The migration tools `adopt` can take a database over from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdoptTool {
    /// Alembic (SQLAlchemy): reads `alembic_version`, leaves it untouched
    Alembic,
}

fn options(runner: &Runner, accept_differences: bool) -> AdoptOptions {
    AdoptOptions {
        accept_differences,
        lock_timeout: runner.options().lock_timeout,
    }
}

/// `baseline --to VERSION [--accept-differences]`.
pub async fn baseline(
    runner: &Runner,
    url: &DatabaseUrl,
    to: &str,
    accept_differences: bool,
    format: Format,
) -> Result<(), MigrateError> {
    let done = adopt::baseline(runner, url, to, &options(runner, accept_differences)).await?;
    print(runner, url, &done, format);
    Ok(())
}

/// `adopt alembic [--accept-differences]`.
pub async fn adopt(
    runner: &Runner,
    url: &DatabaseUrl,
    tool: AdoptTool,
    accept_differences: bool,
    format: Format,
) -> Result<(), MigrateError> {
    let done = match tool {
        AdoptTool::Alembic => {
            adopt::adopt_alembic(runner, url, &options(runner, accept_differences)).await?
        }
    };
    print(runner, url, &done, format);
    Ok(())
}

fn print(runner: &Runner, url: &DatabaseUrl, done: &Baseline, format: Format) {
    let bin = &runner.config().bin_name;
    if format == Format::Json {
        outln!("{}", serde_json::to_string(done).unwrap_or_default());
        return;
    }
    let backend = backend_name(runner.connection().get_database_backend());
    outln!(
        "Baseline of {} ({backend}) at {}:",
        url.redacted(),
        done.version
    );
    if let Some(a) = &done.alembic {
        outln!(
            "  Alembic revision {} maps to {}.",
            a.revision,
            done.version
        );
    }
    if done.accepted_differences.is_empty() {
        outln!(
            "  Schema check: the database has the schema these migrations create on {backend} (compared as `{bin} drift` compares)."
        );
    } else {
        outln!(
            "  Schema check: {} difference(s) ACCEPTED with --accept-differences and written into the history:",
            done.accepted_differences.len()
        );
        for d in &done.accepted_differences {
            outln!("    {d}");
        }
    }
    if !done.schema_fixes.is_empty() {
        outln!(
            "  Schema fix (one recorded step): added the {} server default(s) SQLAlchemy leaves to Python:",
            done.schema_fixes.len()
        );
        for f in &done.schema_fixes {
            outln!("    {}.{}: {}", f.table, f.column, f.statement);
        }
    }
    outln!(
        "  Recorded as applied without running them (history direction `baseline`): {}.",
        done.recorded.join(", ")
    );
    if let Some(a) = &done.alembic {
        outln!(
            "  {} was left in place, untouched (revision {}): the Python stack can still read it while you may roll back. \
             Drop it once you no longer need Alembic: DROP TABLE {};",
            a.table,
            a.revision,
            a.table
        );
    }
    if done.pending.is_empty() {
        outln!("Nothing is pending.");
    } else {
        outln!(
            "Next: `{bin} up` applies the {} later migration(s): {}.",
            done.pending.len(),
            done.pending.join(", ")
        );
    }
}

/// `status`: a notice when the database is an Alembic one this tool has recorded nothing in
/// (text: on stdout after the table; JSON: on stderr, keeping stdout one document). Returns
/// the error `status --check` reports for it. Costs no query unless every migration in
/// `states` is pending.
pub async fn status_notice(
    runner: &Runner,
    states: &[MigrationState],
    format: Format,
) -> Result<Option<MigrateError>, MigrateError> {
    if states.iter().any(|s| s.status != State::Pending) {
        return Ok(None);
    }
    let Some(notice) = adopt::alembic_notice(runner).await? else {
        return Ok(None);
    };
    match format {
        Format::Json => errln!("notice: {}", notice.describe()),
        Format::Text => outln!("{}", notice.describe()),
    }
    Ok(Some(MigrateError::AlembicManaged {
        revision: notice.revisions.join(", "),
        ledger_table: runner.config().ledger_table.clone(),
        advice: notice.advice,
    }))
}
