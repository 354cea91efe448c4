//! Batched, resumable data migrations.
//!
//! A [`BatchJob`] names a table, its integer key and one set-based statement for a key range.
//! [`run`] walks the table in key order, `batch_size` rows at a time (gaps in the keys are
//! fine: a batch ends at the key of its `batch_size`-th row). Each batch is its own transaction
//! and records itself in the batch table ([`crate::Config::batch_table`]) in that same transaction, so a
//! batch is either applied and recorded or neither, and a killed run resumes after the last
//! recorded batch without applying any batch twice. Progress, throttling and batch size come
//! from [`crate::author::tuning`].
//!
//! The migration declaring the job must return `use_transaction() -> Some(false)` so batches
//! commit on their own on PostgreSQL and MySQL. On SQLite the whole run is one transaction (the
//! migration lock), so batches are savepoints: a killed run leaves nothing and starts over.
//!
//! Under capture (dry runs, checksums) the first query returns no rows, so no batch runs and the
//! captured SQL does not depend on the data or the settings.

use std::time::{Duration, Instant};

use sea_orm::sea_query::{Alias, ColumnDef, Index, Table};
use sea_orm::{
    ConnectionTrait, DatabaseExecutor, DbBackend, DbErr, Statement, TransactionTrait, Value,
};
use sea_orm_migration::SchemaManager;

use crate::author::columns;
use crate::author::context;
use crate::author::progress::Progress;

/// Declares, while `manager` is capturing, that the running migration can safely run again
/// after it failed or was killed half-way (it resumes, or cleans up what the failed attempt
/// left). The runner then does not block on its failed runs. Called by [`run`] and by
/// [`crate::author::online`]; a hand-written migration may call it too.
pub async fn declare_resumable(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if capturing(manager) {
        manager
            .get_connection()
            .execute_unprepared(crate::plan::capture::RESUMABLE_MARKER)
            .await?;
    }
    Ok(())
}

/// One batched data migration.
pub trait BatchJob: Send + Sync {
    /// Name its progress is recorded under (the migration's name).
    fn name(&self) -> &str;
    /// The table it walks.
    fn table(&self) -> &str;
    /// The table's integer key column (primary key).
    fn key(&self) -> &str;
    /// The set-based statement for the rows whose key is in `(after, last]`: `key_range` is
    /// the SQL condition to put in its `WHERE` (with two parameters, bound in that order).
    fn statement(&self, backend: DbBackend, key_range: &str) -> String;
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Batches committed by this run.
    pub batches: u64,
    /// Keys the batches covered (their key ranges, gaps between batches excluded).
    pub rows_scanned: u64,
    /// Rows the statements changed.
    pub rows_changed: u64,
    /// Batches an earlier, interrupted run had committed (this run resumed after them).
    pub resumed_after: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The longest batch transaction (begin to commit).
    pub longest_batch: Duration,
}

pub use crate::db::quote_ident as quote;

/// The `n`-th (1-based) bind placeholder of `backend`.
pub fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// `expr` as a 64-bit integer on `backend`.
pub fn bigint(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST({expr} AS BIGINT)"),
        DbBackend::MySql => format!("CAST({expr} AS SIGNED)"),
        _ => expr.to_string(),
    }
}

/// Whether `manager` is a recording connection (capture), where nothing really runs.
pub fn capturing(manager: &SchemaManager) -> bool {
    match manager.get_connection() {
        DatabaseExecutor::Connection(c) => c.is_mock_connection(),
        _ => false,
    }
}

async fn query_i64s<C: ConnectionTrait>(
    conn: &C,
    sql: String,
    values: Vec<Value>,
    columns: &[&str],
) -> Result<Option<Vec<Option<i64>>>, DbErr> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    match row {
        None => Ok(None),
        Some(r) => columns
            .iter()
            .map(|c| r.try_get::<Option<i64>>("", c))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

/// Creates the progress table when missing.
pub async fn ensure_table<C: ConnectionTrait>(conn: &C, table: &str) -> Result<(), DbErr> {
    let b = conn.get_database_backend();
    let big = |n: &str| {
        ColumnDef::new(Alias::new(n))
            .big_integer()
            .not_null()
            .take()
    };
    let stmt = Table::create()
        .table(Alias::new(table))
        .if_not_exists()
        .col(columns::string(Alias::new("migration"), 255, false))
        .col(big("batch"))
        .col(big("after_key"))
        .col(big("last_key"))
        .col(big("rows_changed"))
        .col(big("duration_ms"))
        .col(columns::timestamp(b, Alias::new("applied_at"), false))
        .primary_key(
            Index::create()
                .col(Alias::new("migration"))
                .col(Alias::new("batch")),
        )
        .take();
    conn.execute(&stmt).await.map(|_| ())
}

/// Deletes the progress rows of `migration` (its `down`, so a later `up` starts over).
pub async fn forget(manager: &SchemaManager<'_>, migration: &str) -> Result<(), DbErr> {
    let table = context::current().batch_table;
    if !manager.has_table(&table).await? {
        return Ok(());
    }
    let conn = manager.get_connection();
    let b = conn.get_database_backend();
    conn.execute_raw(Statement::from_sql_and_values(
        b,
        format!(
            "DELETE FROM {} WHERE migration = {}",
            quote(b, &table),
            placeholder(b, 1)
        ),
        [migration.into()],
    ))
    .await
    .map(|_| ())
}

/// Runs `job` in batches on `manager`'s connection, resuming after the batches an earlier run
/// recorded, with the settings of the run's [`context`].
pub async fn run(manager: &SchemaManager<'_>, job: &dyn BatchJob) -> Result<BatchReport, DbErr> {
    declare_resumable(manager).await?;
    let started = Instant::now();
    let conn = manager.get_connection();
    let b = conn.get_database_backend();
    let (table, key) = (quote(b, job.table()), quote(b, job.key()));
    let mut report = BatchReport::default();
    // Under capture this returns no row: nothing below runs, and the checksum is stable.
    let Some(bounds) = query_i64s(
        conn,
        format!(
            "SELECT {} AS lo FROM {table}",
            bigint(b, &format!("MIN({key})"))
        ),
        vec![],
        &["lo"],
    )
    .await?
    else {
        return Ok(report);
    };
    let Some(lo) = bounds[0] else {
        return Ok(report);
    };
    let ctx = context::current();
    let tuning = ctx.tuning.clone();
    ensure_table(conn, &ctx.batch_table).await?;
    let progress_table = quote(b, &ctx.batch_table);
    let resume = query_i64s(
        conn,
        format!(
            "SELECT {} AS batch, {} AS last_key FROM {progress_table} WHERE migration = {} \
             ORDER BY batch DESC LIMIT 1",
            bigint(b, "batch"),
            bigint(b, "last_key"),
            placeholder(b, 1)
        ),
        vec![job.name().into()],
        &["batch", "last_key"],
    )
    .await?;
    let (mut batch, mut after) = match resume {
        Some(v) => (v[0].unwrap_or(0), v[1].unwrap_or(i64::MIN)),
        None => (0, lo.saturating_sub(1)),
    };
    report.resumed_after = batch as u64;
    // Progress is measured in keys (an index lookup), not by counting rows (a full scan).
    let hi = query_i64s(
        conn,
        format!(
            "SELECT {} AS k FROM {table}",
            bigint(b, &format!("MAX({key})"))
        ),
        vec![],
        &["k"],
    )
    .await?
    .and_then(|v| v[0])
    .unwrap_or(after);
    let remaining = hi.saturating_sub(after).max(0) as u64;
    let mut progress = Progress::new(job.name(), remaining, tuning.progress);
    if batch > 0 {
        context::notice(&format!(
            "{}: resuming after batch {batch} (key {after}): keys up to {hi} left",
            job.name()
        ));
    }
    let size = tuning.batch_size.max(1);
    // Batches are key ranges [start, start + size): the start is found by an index seek, so
    // no batch scans rows twice (an OFFSET scan to find where a batch ends costs as much as the
    // update itself on a clustered table) and gaps in ids are skipped, not walked.
    let start_sql = format!(
        "SELECT {} AS k FROM {table} WHERE {key} > {}",
        bigint(b, &format!("MIN({key})")),
        placeholder(b, 1)
    );
    let range = format!(
        "{key} > {} AND {key} <= {}",
        placeholder(b, 1),
        placeholder(b, 2)
    );
    let update_sql = job.statement(b, &range);
    let insert_sql = format!(
        "INSERT INTO {progress_table} (migration, batch, after_key, last_key, rows_changed, duration_ms, applied_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {})",
        placeholder(b, 1),
        placeholder(b, 2),
        placeholder(b, 3),
        placeholder(b, 4),
        placeholder(b, 5),
        placeholder(b, 6),
        placeholder(b, 7)
    );
    loop {
        let Some(first) = query_i64s(conn, start_sql.clone(), vec![after.into()], &["k"])
            .await?
            .and_then(|v| v[0])
        else {
            break;
        };
        let last = first.saturating_add(size as i64 - 1);
        // Keys covered since the previous batch (gaps included), for progress and rows/s.
        let scanned = last.saturating_sub(after).max(0) as u64;
        batch += 1;
        let t0 = Instant::now();
        let txn = conn.begin().await?;
        let changed = txn
            .execute_raw(Statement::from_sql_and_values(
                b,
                update_sql.clone(),
                [after.into(), last.into()],
            ))
            .await?
            .rows_affected();
        let ms = t0.elapsed().as_millis() as i64;
        txn.execute_raw(Statement::from_sql_and_values(
            b,
            insert_sql.clone(),
            [
                job.name().into(),
                batch.into(),
                after.into(),
                last.into(),
                (changed as i64).into(),
                ms.into(),
                crate::db::dialect::now().into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        report.longest_batch = report.longest_batch.max(t0.elapsed());
        report.batches += 1;
        report.rows_scanned += scanned;
        report.rows_changed += changed;
        progress.advance(scanned);
        after = last;
        throttle(&tuning, &progress).await;
    }
    report.elapsed = started.elapsed();
    progress.finish(&format!(
        "{} batch(es), {} row(s) changed over {} key(s) in {:.1} s ({:.0} keys/s), longest batch {} ms{}",
        report.batches,
        report.rows_changed,
        report.rows_scanned,
        report.elapsed.as_secs_f64(),
        report.rows_scanned as f64 / report.elapsed.as_secs_f64().max(1e-9),
        report.longest_batch.as_millis(),
        if report.resumed_after > 0 {
            format!(", resumed after batch {}", report.resumed_after)
        } else {
            String::new()
        }
    ));
    Ok(report)
}

/// Sleeps after a batch: the configured pause, and as long as the rows/s cap needs.
async fn throttle(tuning: &crate::author::tuning::Tuning, progress: &Progress) {
    if !tuning.batch_pause.is_zero() {
        tokio::time::sleep(tuning.batch_pause).await;
    }
    if let Some(cap) = tuning.max_rows_per_sec {
        let due = Duration::from_secs_f64(progress.done() as f64 / cap as f64);
        if let Some(wait) = due.checked_sub(progress.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
}
