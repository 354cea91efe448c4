//! Adaptive batch sizes of `author::batch::run`, on every backend: sizes grow from a small
//! first batch toward the target duration and shrink after a slow batch, and the whole job
//! still covers every row exactly once. Asserts on the batches recorded in the batch table and
//! on the run's report, never on wall time.

use std::time::Duration;
use test_support::{exec, i64s};

use migration_engine::author::batch::{self, BatchJob, BatchReport, MIN_ADAPTIVE_BATCH};
use migration_engine::author::context::{self, RunContext};
use migration_engine::author::tuning::{ProgressMode, Tuning};
use sea_orm::{DatabaseConnection, DbBackend};
use sea_orm_migration::SchemaManager;

const PROGRESS_TABLE: &str = "adaptive_batches";

/// Sets `v = 0` where it is NULL.
struct Fill;

impl BatchJob for Fill {
    fn name(&self) -> &str {
        "m20990101_000000_fill"
    }

    fn table(&self) -> &str {
        "adaptive_t"
    }

    fn key(&self) -> &str {
        "id"
    }

    fn statement(&self, _backend: DbBackend, key_range: &str) -> String {
        format!("UPDATE adaptive_t SET v = 0 WHERE {key_range} AND v IS NULL")
    }
}

/// `adaptive_t` with ids `1..=n`; every third row has `v` NULL.
async fn table_with_rows(db: &DatabaseConnection, n: i64) -> i64 {
    exec(
        db,
        "CREATE TABLE adaptive_t (id BIGINT NOT NULL PRIMARY KEY, v INTEGER NULL)",
    )
    .await;
    let ids: Vec<i64> = (1..=n).collect();
    for chunk in ids.chunks(1_000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|id| match id % 3 {
                0 => format!("({id}, NULL)"),
                _ => format!("({id}, 1)"),
            })
            .collect();
        exec(
            db,
            &format!("INSERT INTO adaptive_t (id, v) VALUES {}", rows.join(", ")),
        )
        .await;
    }
    n / 3
}

/// Runs [`Fill`] with `tuning` as a runner would hand it to the migration.
async fn run(db: &DatabaseConnection, tuning: Tuning) -> BatchReport {
    let ctx = RunContext {
        tuning,
        batch_table: PROGRESS_TABLE.into(),
        notify: Some(std::sync::Arc::new(|_: &str| {})),
        reports: None,
    };
    context::scope(ctx, async {
        batch::run(&SchemaManager::new(db), &Fill)
            .await
            .expect("batch run")
    })
    .await
}

/// (after_key, last_key, rows_changed) of every recorded batch, in order.
async fn recorded(db: &DatabaseConnection) -> Vec<(i64, i64, i64)> {
    i64s(
        db,
        &format!(
            "SELECT after_key, last_key, rows_changed FROM {PROGRESS_TABLE} \
             WHERE migration = '{}' ORDER BY batch",
            Fill.name()
        ),
    )
    .await
    .into_iter()
    .map(|r| (r[0], r[1], r[2]))
    .collect()
}

/// The batches cover `1..=n` once, adjacent, and changed `nulls` rows; nothing is left NULL.
async fn assert_complete(db: &DatabaseConnection, b: test_support::Backend, n: i64, nulls: i64) {
    let got = recorded(db).await;
    assert_eq!(
        got.first().map(|r| r.0),
        Some(0),
        "{b:?}: starts at the first key"
    );
    assert!(got.last().is_some_and(|r| r.1 >= n), "{b:?}: {got:?}");
    for w in got.windows(2) {
        assert_eq!(w[1].0, w[0].1, "{b:?}: batches are adjacent: {got:?}");
    }
    assert_eq!(got.iter().map(|r| r.2).sum::<i64>(), nulls, "{b:?}");
    let left = i64s(
        db,
        "SELECT COUNT(*) FROM adaptive_t WHERE v IS NULL OR v NOT IN (0, 1)",
    )
    .await;
    assert_eq!(left[0][0], 0, "{b:?}");
    let zeros = i64s(db, "SELECT COUNT(*) FROM adaptive_t WHERE v = 0").await;
    assert_eq!(zeros[0][0], nulls, "{b:?}");
}

fn tuning(first: u64, target: Duration, max: u64) -> Tuning {
    Tuning {
        batch_size: first,
        batch_target: Some(target),
        max_batch_size: max,
        progress: ProgressMode::Off,
        ..Tuning::default()
    }
}

/// With a target no batch comes near (a minute), every batch is "fast": sizes double from the
/// first batch's up to the maximum, then stay there.
#[tokio::test]
async fn adaptive_batches_grow_toward_the_target_and_cover_every_row() {
    each_backend!("adaptive_grow", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let n = 3_000;
        let nulls = table_with_rows(&conn, n).await;
        let report = run(&conn, tuning(10, Duration::from_secs(60), 640)).await;
        let spans: Vec<i64> = recorded(&conn)
            .await
            .iter()
            .map(|(after, last, _)| last - after)
            .collect();
        let mut want = vec![10, 20, 40, 80, 160, 320];
        let mut covered: i64 = want.iter().sum();
        while covered < n {
            want.push(640);
            covered += 640;
        }
        assert_eq!(spans, want, "{b:?}");
        assert_eq!(report.batches, want.len() as u64, "{b:?}");
        assert_eq!(
            (report.smallest_batch, report.largest_batch),
            (10, 640),
            "{b:?}"
        );
        assert_eq!(report.rows_changed, nulls as u64, "{b:?}");
        assert!(report.longest_batch > Duration::ZERO, "{b:?}");
        assert_complete(&conn, b, n, nulls).await;
        let _ = conn.close().await;
    });
}

/// A first batch far too big for a 1 ms target (it updates thousands of rows) makes the next
/// one smaller at once; later batches stay within the bounds, and the job completes.
#[tokio::test]
async fn adaptive_batches_shrink_after_a_slow_batch_and_complete() {
    each_backend!("adaptive_shrink", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let n = 24_000;
        let nulls = table_with_rows(&conn, n).await;
        let first = 16_000;
        let report = run(&conn, tuning(first, Duration::from_millis(1), 1_000_000)).await;
        let spans: Vec<i64> = recorded(&conn)
            .await
            .iter()
            .map(|(after, last, _)| last - after)
            .collect();
        assert_eq!(spans[0], first as i64, "{b:?}");
        assert!(spans.len() >= 2 && spans[1] < spans[0], "{b:?}: {spans:?}");
        assert!(
            spans
                .iter()
                .skip(1)
                .all(|&s| s >= MIN_ADAPTIVE_BATCH as i64),
            "{b:?}: {spans:?}"
        );
        for w in spans.windows(2) {
            assert!(w[1] <= 2 * w[0], "{b:?}: grows at most twofold: {spans:?}");
        }
        assert_eq!(report.largest_batch, first, "{b:?}");
        assert!(report.smallest_batch < first, "{b:?}");
        assert!(report.longest_batch >= Duration::from_millis(1), "{b:?}");
        assert_complete(&conn, b, n, nulls).await;
        let _ = conn.close().await;
    });
}

/// Without a target every batch spans the given size, whatever it took.
#[tokio::test]
async fn fixed_batches_keep_their_size() {
    each_backend!("fixed_batches", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let n = 1_000;
        let nulls = table_with_rows(&conn, n).await;
        let fixed = Tuning {
            batch_size: 300,
            batch_target: None,
            progress: ProgressMode::Off,
            ..Tuning::default()
        };
        let report = run(&conn, fixed).await;
        let spans: Vec<i64> = recorded(&conn)
            .await
            .iter()
            .map(|(after, last, _)| last - after)
            .collect();
        assert_eq!(spans, [300, 300, 300, 300], "{b:?}");
        assert_eq!((report.smallest_batch, report.largest_batch), (300, 300));
        assert_complete(&conn, b, n, nulls).await;
        let _ = conn.close().await;
    });
}
