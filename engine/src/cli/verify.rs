//! `migration verify`: parses nothing more than [`VerifyArgs`], runs
//! [`crate::review::verify`], prints the report (text or JSON) and progress on long tables
//! (stderr, at most once a second), and fails when a row has a problem.

use std::time::{Duration, Instant};

use crate::cli::args::VerifyArgs;
use crate::cli::output::{Format, errln, outln};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::db::{ConnectSettings, DatabaseUrl, backend_name, connect_pool};
use crate::error::MigrateError;
use crate::review::verify::{self, Progress, Verification, VerifyOptions};
use crate::run::runner::Runner;

/// Runs `verify` on the runner's database.
pub async fn run(
    runner: &Runner,
    url: &DatabaseUrl,
    args: &VerifyArgs,
) -> Result<(), MigrateError> {
    let options = VerifyOptions {
        batch_size: args.batch_size,
        examples: args.examples,
        tables: args.tables.clone(),
        jobs: usize::from(args.jobs),
    };
    let started = Instant::now();
    let mut shown = Instant::now();
    let mut on_progress = move |p: Progress<'_>| {
        // Only tables that take a while: the first line after 2 s, then one a second.
        if started.elapsed() < Duration::from_secs(2) || shown.elapsed() < Duration::from_secs(1) {
            return;
        }
        shown = Instant::now();
        match p.fraction {
            Some(f) => errln!(
                "verify: {}: {} rows checked ({:.0}%)",
                p.table,
                p.rows_checked,
                f * 100.0
            ),
            None => errln!("verify: {}: {} rows checked", p.table, p.rows_checked),
        }
    };
    let report = if args.jobs > 1 {
        // A pool of `jobs` connections (in the runner's schema) reads key ranges in parallel.
        let config = runner.config();
        let entities = config
            .entities()
            .ok_or(MigrateError::NoEntities { command: "verify" })?;
        let schema = match url.backend() {
            DbBackend::Postgres => runner
                .connection()
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT current_schema()::text AS s",
                ))
                .await
                .ok()
                .flatten()
                .and_then(|r| r.try_get::<String>("", "s").ok()),
            _ => None,
        };
        let settings = ConnectSettings {
            schema,
            ..ConnectSettings::default()
        };
        let pool = connect_pool(url, &settings, u32::from(args.jobs)).await?;
        let report = verify::verify(&pool, entities, config, &options, &mut on_progress).await;
        let _ = pool.close().await;
        report?
    } else {
        verify::verify_of(runner, &options, &mut on_progress).await?
    };
    let backend = backend_name(url.backend());
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::json!({
                "database": url.redacted(),
                "backend": backend,
                "clean": report.is_clean(),
                "problems": report.problem_count(),
                "by_kind": report.by_kind().iter().map(|(k, n)| (k.as_str(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
                "rows_checked": report.rows_checked,
                "duration_ms": report.duration_ms,
                "tables": report.tables,
            })
        ),
        Format::Text => print_text(url, backend, &report),
    }
    if !report.is_clean() {
        return Err(MigrateError::ReviewFailed {
            command: "verify",
            summary: report.summary(),
        });
    }
    Ok(())
}

fn print_text(url: &DatabaseUrl, backend: &str, report: &Verification) {
    outln!(
        "Verification of {} ({backend}) against the entity model:",
        url.redacted()
    );
    let width = report
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    for t in &report.tables {
        let state = if t.missing {
            "missing".to_string()
        } else if t.problems.is_empty() {
            "ok".to_string()
        } else {
            format!("{} problem(s)", t.problem_rows())
        };
        outln!(
            "  {:<width$}  {:>10} row(s) checked  {state}",
            t.table,
            t.rows_checked
        );
        for p in &t.problems {
            let more = if p.rows as usize > p.examples.len() {
                ", ..."
            } else {
                ""
            };
            outln!(
                "    {:<11} {}: {} row(s), expected {}; e.g. primary key {}{more}",
                p.kind.as_str(),
                p.column,
                p.rows,
                p.expected,
                p.examples.join(", ")
            );
        }
        for s in &t.skipped {
            outln!("    not checked: {s}");
        }
    }
    outln!(
        "{} in {} ms.",
        capitalise(&report.summary()),
        report.duration_ms
    );
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
