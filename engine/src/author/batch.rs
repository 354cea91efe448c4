//! Batched, resumable data migrations.
//!
//! A [`BatchJob`] names a table, its integer key and one set-based statement for a key range.
//! [`run`] walks the table in key order, one key range at a time (gaps in the keys are
//! skipped: a batch starts at the next existing key). Batch sizes adapt to a target duration
//! by default ([`BatchSizer`]: the first batch spans `batch_size` keys, each next one is sized
//! from how long the last took, begin to commit), so a fast backend takes big batches and no
//! batch holds its locks much longer than the target; or they are fixed (see
//! [`crate::author::tuning`]). Each batch is its own transaction
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
    /// The smallest batch this run committed, in keys.
    pub smallest_batch: u64,
    /// The largest batch this run committed, in keys.
    pub largest_batch: u64,
}

/// Smallest size an adaptive batch shrinks to, in keys (or the first batch's size when that
/// is smaller): below it a batch's fixed costs (its commit) dominate whatever the target.
pub const MIN_ADAPTIVE_BATCH: u64 = 100;
/// Most an adaptive batch grows from one batch to the next: a batch that ran quickly over a
/// sparse key range must not make the next one, over a dense range, very long.
pub const MAX_GROWTH: f64 = 2.0;

/// Chooses each batch's size: fixed, or adapted so each batch takes about a target duration.
///
/// Adaptive: the next size is the last size times `target / took` (so a batch that took
/// twice the target halves the next one at once), growing at most [`MAX_GROWTH`] times per
/// batch, within [`MIN_ADAPTIVE_BATCH`] and the maximum. With a fixed cost per batch `c`
/// and `r` keys per second this settles at `r * (target - c)` keys.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSizer {
    size: u64,
    min: u64,
    max: u64,
    target: Option<Duration>,
}

impl BatchSizer {
    /// The sizer `tuning` describes (see [`crate::author::tuning::Tuning`]).
    pub fn new(tuning: &crate::author::tuning::Tuning) -> Self {
        let first = tuning.batch_size.max(1);
        match tuning.batch_target {
            None => Self {
                size: first,
                min: first,
                max: first,
                target: None,
            },
            Some(target) => {
                let max = tuning.max_batch_size.max(1);
                let size = first.min(max);
                Self {
                    size,
                    min: MIN_ADAPTIVE_BATCH.min(size),
                    max,
                    target: Some(target),
                }
            }
        }
    }

    /// Keys the next batch spans.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The target duration (`None`: fixed size).
    pub fn target(&self) -> Option<Duration> {
        self.target
    }

    /// Records that a batch of [`BatchSizer::size`] keys took `took`, begin to commit; returns
    /// the next batch's size.
    pub fn record(&mut self, took: Duration) -> u64 {
        let Some(target) = self.target else {
            return self.size;
        };
        let ratio = if took.is_zero() {
            MAX_GROWTH
        } else {
            (target.as_secs_f64() / took.as_secs_f64()).min(MAX_GROWTH)
        };
        let next = (self.size as f64 * ratio).round();
        // `as` saturates: a huge or NaN product still lands in range.
        self.size = (next as u64).clamp(self.min, self.max);
        self.size
    }
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

/// Whether `manager` records instead of running (a capture: dry runs, scripts, lint,
/// checksums), also inside a transaction the migration began itself.
pub fn capturing(manager: &SchemaManager) -> bool {
    crate::plan::capture::active()
        || match manager.get_connection() {
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
    let mut sizer = BatchSizer::new(&tuning);
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
        let size = sizer.size();
        let last = first.saturating_add(i64::try_from(size).unwrap_or(i64::MAX) - 1);
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
        let took = t0.elapsed();
        report.longest_batch = report.longest_batch.max(took);
        report.largest_batch = report.largest_batch.max(size);
        report.smallest_batch = match report.batches {
            0 => size,
            _ => report.smallest_batch.min(size),
        };
        sizer.record(took);
        report.batches += 1;
        report.rows_scanned += scanned;
        report.rows_changed += changed;
        progress.advance(scanned);
        after = last;
        throttle(&tuning, &progress).await;
    }
    report.elapsed = started.elapsed();
    let sizes = match sizer.target() {
        Some(target) => format!(
            ", batch sizes {}-{} keys (adaptive, target {} ms)",
            report.smallest_batch,
            report.largest_batch,
            target.as_millis()
        ),
        None => String::new(),
    };
    let summary = format!(
        "{} batch(es), {} row(s) changed over {} key(s) in {:.1} s ({:.0} keys/s), longest batch {} ms{sizes}{}",
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
    );
    progress.finish(&summary);
    context::report(&format!("{}: {summary}", job.name()));
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

#[cfg(test)]
mod sizer_tests {
    use super::*;
    use crate::author::tuning::Tuning;

    fn tuning(first: u64, target_ms: Option<u64>, max: u64) -> Tuning {
        Tuning {
            batch_size: first,
            batch_target: target_ms.map(Duration::from_millis),
            max_batch_size: max,
            ..Tuning::default()
        }
    }

    #[test]
    fn a_fixed_size_never_changes() {
        let mut s = BatchSizer::new(&tuning(64, None, 10));
        for took in [0, 1, 500, 10_000] {
            assert_eq!(s.record(Duration::from_millis(took)), 64);
        }
    }

    #[test]
    fn fast_batches_grow_at_most_twofold_up_to_the_maximum() {
        let mut s = BatchSizer::new(&tuning(1_000, Some(100), 10_000));
        let sizes: Vec<u64> = (0..6).map(|_| s.record(Duration::from_millis(1))).collect();
        assert_eq!(sizes, [2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
        // 80 ms of a 100 ms target: grow by the ratio, not twofold.
        let mut s = BatchSizer::new(&tuning(1_000, Some(100), 1_000_000));
        assert_eq!(s.record(Duration::from_millis(80)), 1_250);
    }

    #[test]
    fn slow_batches_shrink_at_once_down_to_the_minimum() {
        let mut s = BatchSizer::new(&tuning(10_000, Some(100), 1_000_000));
        assert_eq!(s.record(Duration::from_millis(400)), 2_500);
        assert_eq!(s.record(Duration::from_secs(60)), MIN_ADAPTIVE_BATCH);
        // A first batch below the minimum is the floor.
        let mut s = BatchSizer::new(&tuning(10, Some(100), 1_000_000));
        assert_eq!(s.record(Duration::from_secs(5)), 10);
    }

    /// A simulated backend: 2 ms per batch plus 1 µs per key; the sizes settle where a batch
    /// takes the 100 ms target (98,000 keys), from below and from above.
    #[test]
    fn sizes_settle_where_a_batch_takes_the_target() {
        let took = |keys: u64| Duration::from_micros(2_000 + keys);
        for first in [100, 5_000_000] {
            let mut s = BatchSizer::new(&tuning(first, Some(100), 10_000_000));
            for _ in 0..40 {
                let size = s.size();
                s.record(took(size));
            }
            let settled = took(s.size()).as_secs_f64() * 1e3;
            assert!((95.0..=105.0).contains(&settled), "{first}: {settled} ms");
        }
    }
}
