//! The review commands of the `migration` CLI: `sql`, `lint`, `drift`, `check`, plus the
//! `--dry-run` and `--allow-destructive` handling of `up`/`down`. Parsing and printing only;
//! the work is done by [`crate::review::script`], [`crate::review::lint`], [`crate::review::drift`], [`crate::review::check`].

use sea_orm_migration::MigrationTrait;

use crate::cli::args::{CheckArgs, DriftArgs, LintArgs, ScriptDirection, SqlArgs};
use crate::cli::output::Format;
use crate::cli::output::{errln, out, outln};
use crate::db::DatabaseUrl;
use crate::db::backend_name;
use crate::error::MigrateError;
use crate::plan::{Direction, Target};
use crate::review::check::{self, CheckOptions};
use crate::review::lint::{self, Finding};
use crate::review::script;
use crate::run::runner::Runner;

/// The review commands.
#[derive(Debug, Clone)]
pub enum ReviewCommand {
    /// `sql`: offline script.
    Sql(SqlArgs),
    /// `lint`.
    Lint(LintArgs),
    /// `drift`.
    Drift(DriftArgs),
    /// `check`.
    Check(CheckArgs),
}

/// `-n`/`--to` as a [`Target`], the way `up`/`down` read them.
pub fn target(num: Option<u32>, to: Option<String>) -> Target {
    match (num, to) {
        (_, Some(v)) if v.eq_ignore_ascii_case("base") => Target::Base,
        (_, Some(v)) => Target::Version(v),
        (Some(n), None) => Target::Steps(n),
        (None, None) => Target::All,
    }
}

/// `sql`: renders the offline script (no database) to stdout or `--output`.
pub async fn run_sql(
    args: &SqlArgs,
    migrations: &[Box<dyn MigrationTrait>],
    config: &crate::config::Config,
) -> Result<(), MigrateError> {
    let direction = match args.direction {
        ScriptDirection::Up => Direction::Up,
        ScriptDirection::Down => Direction::Down,
    };
    let script = script::offline_script(
        migrations,
        direction,
        &target(args.num, args.to.clone()),
        args.backend.db_backend(),
        config,
    )
    .await?;
    let text = script.to_text();
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| MigrateError::Write {
                path: path.clone(),
                source: e,
            })?;
            errln!(
                "Wrote {} migration(s) to {}; apply with: {}",
                script.migrations.len(),
                path.display(),
                script.apply_hint()
            );
        }
        None => out!("{text}"),
    }
    for m in script.migrations.iter().filter(|m| m.data_dependent()) {
        errln!(
            "warning: {} queries the database while it runs; its SQL in the script assumes the queries return no rows (see the DATA-DEPENDENT comment).",
            m.version
        );
    }
    Ok(())
}

/// `up/down --dry-run`: prints the SQL the command would run on the connected database.
pub async fn run_dry_run(
    runner: &Runner,
    url: &DatabaseUrl,
    migrations: &[Box<dyn MigrationTrait>],
    direction: Direction,
    target: &Target,
) -> Result<(), MigrateError> {
    let dry = script::dry_run(runner, migrations, url.redacted(), direction, target).await?;
    out!("{}", dry.to_text());
    Ok(())
}

fn print_findings(findings: &[Finding]) {
    for f in findings {
        outln!("{f}");
    }
}

/// Runs `lint`, `drift` or `check` against the runner's database. `sql` does not need one:
/// use [`run_sql`]. Returns [`MigrateError::ReviewFailed`] when the command finds errors.
pub async fn run_review(
    cmd: ReviewCommand,
    runner: &Runner,
    url: &DatabaseUrl,
    migrations: &[Box<dyn MigrationTrait>],
) -> Result<(), MigrateError> {
    let backend = backend_name(url.backend());
    match cmd {
        ReviewCommand::Sql(args) => run_sql(&args, migrations, runner.config()).await,
        ReviewCommand::Lint(args) => {
            let report = lint::lint_database_report(runner, url, migrations, args.all).await?;
            let findings = report.findings;
            let errors = findings
                .iter()
                .filter(|f| f.severity == lint::Severity::Error)
                .count();
            match args.format {
                Format::Json => outln!(
                    "{}",
                    serde_json::json!({
                        "database": url.redacted(),
                        "backend": backend,
                        "errors": errors,
                        "warnings": findings.len() - errors,
                        "findings": findings,
                        "suppressed": report.suppressed,
                    })
                ),
                Format::Text => {
                    outln!(
                        "Lint of {} migrations on {} ({backend})",
                        if args.all { "all" } else { "pending" },
                        url.redacted()
                    );
                    print_findings(&findings);
                    outln!("{}.", lint::summary(&findings));
                    if !report.suppressed.is_empty() {
                        outln!(
                            "{} finding(s) switched off (`--format json` lists them):",
                            report.suppressed.len()
                        );
                        let mut reasons: Vec<(&str, &str, &str)> = report
                            .suppressed
                            .iter()
                            .map(|s| (s.rule.as_str(), s.by, s.reason.as_str()))
                            .collect();
                        reasons.sort();
                        reasons.dedup();
                        for (rule, by, reason) in reasons {
                            outln!("    {rule}, by the {by}: {reason}");
                        }
                    }
                }
            }
            if errors > 0 {
                return Err(MigrateError::ReviewFailed {
                    command: "lint",
                    summary: lint::summary(&findings),
                });
            }
            Ok(())
        }
        ReviewCommand::Drift(args) => {
            let drift = crate::review::drift::drift_of(runner).await?;
            match args.format {
                Format::Json => outln!(
                    "{}",
                    serde_json::json!({
                        "database": url.redacted(),
                        "backend": backend,
                        "differences": drift.differences,
                    })
                ),
                Format::Text => {
                    outln!(
                        "Drift of {} ({backend}) from the entity schema:",
                        url.redacted()
                    );
                    for d in &drift.differences {
                        outln!("  {d}");
                    }
                    if drift.is_empty() {
                        outln!("No drift: the database matches the entities.");
                    } else {
                        outln!("{} difference(s).", drift.differences.len());
                    }
                }
            }
            if !drift.is_empty() {
                return Err(MigrateError::ReviewFailed {
                    command: "drift",
                    summary: format!("{} difference(s)", drift.differences.len()),
                });
            }
            Ok(())
        }
        ReviewCommand::Check(args) => {
            let options = CheckOptions {
                allow_destructive: args.allow_destructive,
                all: args.all,
            };
            let report = check::check(runner, url, migrations, &options).await?;
            match args.format {
                Format::Json => outln!(
                    "{}",
                    serde_json::json!({
                        "database": report.database,
                        "backend": backend,
                        "passed": report.passed(),
                        "errors": report.errors(),
                        "warnings": report.findings.len() - report.errors(),
                        "pending": report.pending,
                        "findings": report.findings,
                    })
                ),
                Format::Text => {
                    outln!("Check of {} ({backend})", report.database);
                    print_findings(&report.findings);
                    outln!(
                        "{}: {}.",
                        if report.passed() { "PASSED" } else { "FAILED" },
                        lint::summary(&report.findings)
                    );
                }
            }
            if !report.passed() {
                return Err(MigrateError::ReviewFailed {
                    command: "check",
                    summary: lint::summary(&report.findings),
                });
            }
            Ok(())
        }
    }
}

/// Handles what the review features add to the `migration` CLI before its own dispatch: the
/// `lint`/`drift`/`check` commands and `up`/`down --dry-run` (returns `Ok(true)`: done), and
/// the destructive-change refusal of `up` (returns `Ok(false)`: go on and run it).
pub async fn handle(
    command: &crate::cli::args::Command,
    runner: &Runner,
    url: &DatabaseUrl,
    migrations: &[Box<dyn MigrationTrait>],
) -> Result<bool, MigrateError> {
    use crate::cli::args::Command;
    let review = match command {
        Command::Up {
            num,
            to,
            dry_run: true,
            ..
        } => {
            let target = target(*num, to.clone());
            run_dry_run(runner, url, migrations, Direction::Up, &target).await?;
            return Ok(true);
        }
        Command::Down {
            num,
            to,
            dry_run: true,
            ..
        } => {
            let target = match (num, to) {
                (None, None) => Target::Steps(1),
                (num, to) => target(*num, to.clone()),
            };
            run_dry_run(runner, url, migrations, Direction::Down, &target).await?;
            return Ok(true);
        }
        Command::Sql(args) => ReviewCommand::Sql(args.clone()),
        Command::Lint(args) => ReviewCommand::Lint(args.clone()),
        Command::Drift(args) => ReviewCommand::Drift(args.clone()),
        Command::Check(args) => ReviewCommand::Check(args.clone()),
        _ => return Ok(false),
    };
    run_review(review, runner, url, migrations).await?;
    Ok(true)
}
