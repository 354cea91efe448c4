//! Retention (spec 5.2 `cleanup_old_data`): deletes rows older than a cut-off from
//! `telemetry`, `lidar_scans` (with their `lidar_obstacles`) and `safety_events`, in bounded
//! batches by primary key, one transaction each, so the tables keep taking writes.
//!
//! A run is resumable by construction: each committed batch is gone for good and the next run
//! (or the rest of this one) starts from what is left, so a killed run never deletes a row
//! twice or leaves a batch half-done.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use clap::{Args, ValueEnum};
use migration_engine::author::batch::{bigint, placeholder, quote};
use migration_engine::author::progress::{Progress, ProgressMode};
use migration_engine::cli::ConnectionArgs;
use migration_engine::config::Environment;
use migration_engine::{Config, ConnectSettings, MigrateError, connect};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait};

/// Why a retention run failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// `--older-than` could not be parsed.
    #[error(
        "invalid --older-than `{0}`: give a positive number followed by d (days), h (hours), m (minutes) \
         or s (seconds), e.g. 30d"
    )]
    BadAge(String),
    /// Production without `--yes`.
    #[error(
        "`retention` deletes data and the environment is production: add --yes to confirm (or try --dry-run first)."
    )]
    NeedsConfirmation,
    /// Connecting or resolving the URL failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// A statement failed; batches committed before it stay deleted.
    #[error(
        "database error while {action}: {cause}. Batches committed before the error stay deleted; run the \
         same command again to delete the rest."
    )]
    Database { action: String, cause: String },
}

impl RetentionError {
    /// Process exit code: 2 for bad input, 1 for failures at run time.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::BadAge(_) | Self::NeedsConfirmation => 2,
            Self::Migrate(e) => e.exit_code(),
            Self::Database { .. } => 1,
        }
    }
}

/// A table retention cleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum RetentionTable {
    /// `telemetry` by `timestamp`.
    Telemetry,
    /// `lidar_scans` by `timestamp`, with their `lidar_obstacles`.
    LidarScans,
    /// `safety_events` by `created_at`.
    SafetyEvents,
}

impl RetentionTable {
    /// Table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::LidarScans => "lidar_scans",
            Self::SafetyEvents => "safety_events",
        }
    }

    /// The time column rows are aged by.
    pub fn time_column(self) -> &'static str {
        match self {
            Self::SafetyEvents => "created_at",
            _ => "timestamp",
        }
    }
}

/// `oht50-db retention` arguments.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Delete rows older than this: 30d, 12h, 90m, 3600s
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Duration,

    /// Only this table (repeatable; default: all three)
    #[arg(long = "table", value_enum)]
    pub tables: Vec<RetentionTable>,

    /// Count what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Confirm deleting in production
    #[arg(long)]
    pub yes: bool,

    /// Rows per batch (one transaction each)
    #[arg(long, default_value_t = 10_000, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,

    /// Throttle to at most this many rows per second
    #[arg(long, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows_per_sec: Option<u64>,

    /// Pause between two batches
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub batch_pause_ms: u64,

    /// Progress on stderr
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// Parses a positive age with `humantime`: `30d`, `12h`, `90m`, `3600s`, `2w`, `1h 30m`.
pub fn parse_age(s: &str) -> Result<Duration, RetentionError> {
    humantime::parse_duration(s.trim())
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| RetentionError::BadAge(s.to_string()))
}

/// What retention did (or, in a dry run, would do) to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table.
    pub table: RetentionTable,
    /// Rows deleted (dry run: rows that would be).
    pub rows: u64,
    /// LiDAR obstacles deleted with their scans.
    pub obstacles: u64,
    /// Batches committed.
    pub batches: u64,
}

fn db_err(action: &str) -> impl Fn(DbErr) -> RetentionError + '_ {
    move |e| RetentionError::Database {
        action: action.to_string(),
        cause: e.to_string(),
    }
}

async fn one_i64<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Option<i64>, DbErr> {
    let b = conn.get_database_backend();
    match conn
        .query_one_raw(Statement::from_sql_and_values(b, sql, values))
        .await?
    {
        Some(r) => r.try_get_by_index::<Option<i64>>(0),
        None => Ok(None),
    }
}

/// Runs retention from the command line; prints the final counts on stdout.
pub async fn run_cli(
    args: RetentionArgs,
    connection: &ConnectionArgs,
    config: &Config,
) -> Result<Vec<TableReport>, RetentionError> {
    if connection.environment == Environment::Production && !args.yes && !args.dry_run {
        return Err(RetentionError::NeedsConfirmation);
    }
    let url = connection.url(config)?;
    let settings = ConnectSettings {
        schema: connection.database_schema.clone(),
        ..ConnectSettings::default()
    };
    let db = connect(&url, &settings).await?;
    let cutoff = chrono::Utc::now().naive_utc()
        - chrono::Duration::from_std(args.older_than).unwrap_or(chrono::Duration::MAX);
    let result = run(&db, &args, cutoff).await;
    let _ = db.close().await;
    let reports = result.map_err(|e| match e {
        RetentionError::Database { action, cause } => RetentionError::Database {
            action,
            cause: url.scrub(&cause),
        },
        other => other,
    })?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for r in &reports {
        let extra = if r.table == RetentionTable::LidarScans {
            format!(" and {} obstacle(s)", r.obstacles)
        } else {
            String::new()
        };
        let batches = if args.dry_run {
            String::new()
        } else {
            format!(" in {} batch(es)", r.batches)
        };
        println!(
            "{}: {verb} {} row(s){extra} older than {} UTC{batches}",
            r.table.name(),
            r.rows,
            cutoff.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(reports)
}

/// Deletes (or counts, with `dry_run`) the rows of the selected tables older than `cutoff`.
pub async fn run(
    db: &DatabaseConnection,
    args: &RetentionArgs,
    cutoff: NaiveDateTime,
) -> Result<Vec<TableReport>, RetentionError> {
    let mut tables = if args.tables.is_empty() {
        vec![
            RetentionTable::Telemetry,
            RetentionTable::LidarScans,
            RetentionTable::SafetyEvents,
        ]
    } else {
        args.tables.clone()
    };
    tables.sort();
    tables.dedup();
    let mut out = Vec::new();
    for t in tables {
        out.push(clean(db, t, args, cutoff).await?);
    }
    Ok(out)
}

async fn clean(
    db: &DatabaseConnection,
    t: RetentionTable,
    args: &RetentionArgs,
    cutoff: NaiveDateTime,
) -> Result<TableReport, RetentionError> {
    let b = db.get_database_backend();
    let p = |n| placeholder(b, n);
    let (table, ts, id) = (
        quote(b, t.name()),
        quote(b, t.time_column()),
        quote(b, "id"),
    );
    let obstacles = quote(b, "lidar_obstacles");
    let count_action = format!("counting old rows of {}", t.name());
    let old = one_i64(
        db,
        &format!(
            "SELECT {} FROM {table} WHERE {ts} < {}",
            bigint(b, "COUNT(*)"),
            p(1)
        ),
        vec![cutoff.into()],
    )
    .await
    .map_err(db_err(&count_action))?
    .unwrap_or(0) as u64;
    let mut report = TableReport {
        table: t,
        rows: 0,
        obstacles: 0,
        batches: 0,
    };
    if args.dry_run {
        report.rows = old;
        if t == RetentionTable::LidarScans {
            report.obstacles = one_i64(
                db,
                &format!(
                    "SELECT {} FROM {obstacles} WHERE scan_id IN (SELECT {id} FROM {table} WHERE {ts} < {})",
                    bigint(b, "COUNT(*)"),
                    p(1)
                ),
                vec![cutoff.into()],
            )
            .await
            .map_err(db_err(&count_action))?
            .unwrap_or(0) as u64;
        }
        return Ok(report);
    }
    let size = args.batch_size.max(1);
    let next_sql = format!(
        "SELECT {} FROM {table} WHERE {ts} < {} ORDER BY {id} LIMIT 1 OFFSET {}",
        bigint(b, &id),
        p(1),
        size - 1
    );
    let last_sql = format!(
        "SELECT {} FROM {table} WHERE {ts} < {}",
        bigint(b, &format!("MAX({id})")),
        p(1)
    );
    let delete_obstacles = format!(
        "DELETE FROM {obstacles} WHERE scan_id IN (SELECT {id} FROM {table} WHERE {id} <= {} AND {ts} < {})",
        p(1),
        p(2)
    );
    let delete = format!(
        "DELETE FROM {table} WHERE {id} <= {} AND {ts} < {}",
        p(1),
        p(2)
    );
    let mut progress = Progress::new(format!("retention {}", t.name()), old, args.progress);
    let started = Instant::now();
    let action = format!("deleting old rows of {}", t.name());
    loop {
        let hi = match one_i64(db, &next_sql, vec![cutoff.into()])
            .await
            .map_err(db_err(&action))?
        {
            Some(k) => k,
            None => match one_i64(db, &last_sql, vec![cutoff.into()])
                .await
                .map_err(db_err(&action))?
            {
                Some(k) => k,
                None => break,
            },
        };
        let txn = db.begin().await.map_err(db_err(&action))?;
        if t == RetentionTable::LidarScans {
            report.obstacles += txn
                .execute_raw(Statement::from_sql_and_values(
                    b,
                    &delete_obstacles,
                    [hi.into(), cutoff.into()],
                ))
                .await
                .map_err(db_err(&action))?
                .rows_affected();
        }
        let n = txn
            .execute_raw(Statement::from_sql_and_values(
                b,
                &delete,
                [hi.into(), cutoff.into()],
            ))
            .await
            .map_err(db_err(&action))?
            .rows_affected();
        txn.commit().await.map_err(db_err(&action))?;
        report.rows += n;
        report.batches += 1;
        progress.advance(n);
        if args.batch_pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.batch_pause_ms)).await;
        }
        if let Some(cap) = args.max_rows_per_sec {
            let due = Duration::from_secs_f64(report.rows as f64 / cap as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    progress.finish(&format!(
        "deleted {} row(s) in {} batch(es) in {:.1} s",
        report.rows,
        report.batches,
        started.elapsed().as_secs_f64()
    ));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;

    #[test]
    fn ages_parse() {
        assert_eq!(
            parse_age("30d").ok(),
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(parse_age("12h").ok(), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_age("90m").ok(), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_age("5s").ok(), Some(Duration::from_secs(5)));
        assert_eq!(parse_age("1h 30m").ok(), Some(Duration::from_secs(5_400)));
        for bad in ["", "d", "30", "0d", "-1d", "soon"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn db_backend_names() {
        assert_eq!(RetentionTable::SafetyEvents.time_column(), "created_at");
        assert_eq!(bigint(DbBackend::Sqlite, "x"), "x");
    }
}
