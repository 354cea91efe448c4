//! The migration state a run decides by is read in one query: a short history whole, a long
//! one (more rows than four per migration) grouped per version (see `History::state`). Both
//! ways must lead to the same decisions: applied, pending, checksums verified, a tampered
//! checksum refused.

use migration_engine::{ChecksumState, Problem, Runner, State, Target};
use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;
use test_support::{Backend, exec, i64s};

use crate::replay::Create;

fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(Create("m20990201_000001_one", &["state_one"])),
        Box::new(Create("m20990201_000002_two", &["state_two"])),
    ]
}

/// What `runner` decides: each migration's state and checksum state, and the problems found.
async fn decisions(runner: &Runner) -> (Vec<(State, ChecksumState)>, Vec<String>) {
    let states = runner
        .status()
        .await
        .expect("status")
        .into_iter()
        .map(|s| (s.status, s.checksum))
        .collect();
    let problems = runner
        .verify()
        .await
        .expect("verify")
        .into_iter()
        .map(|p| match p {
            Problem::ChecksumChanged { version, .. } => format!("checksum changed: {version}"),
            other => format!("{other:?}"),
        })
        .collect();
    (states, problems)
}

/// Sets the checksum of `version`'s latest successful `up` to `checksum`.
async fn set_checksum<C: ConnectionTrait>(db: &C, history: &str, version: &str, checksum: &str) {
    let id = i64s(
        db,
        &format!(
            "SELECT MAX(id) FROM {history} WHERE version = '{version}' AND direction = 'up' \
             AND outcome = 'succeeded'"
        ),
    )
    .await;
    let id = id[0][0];
    exec(
        db,
        &format!("UPDATE {history} SET checksum = '{checksum}' WHERE id = {id}"),
    )
    .await;
}

/// Tampers with the recorded checksum of migration `index`: its state says changed and it is
/// the one problem found.
async fn assert_tamper_refused(runner: &Runner, history: &str, index: usize, b: Backend) {
    let version = migrations()[index].name().to_string();
    set_checksum(runner.connection(), history, &version, "tampered").await;
    let (states, problems) = decisions(runner).await;
    assert_eq!(
        states[index],
        (State::Applied, ChecksumState::Changed),
        "{b:?}"
    );
    assert_eq!(problems, [format!("checksum changed: {version}")], "{b:?}");
}

#[tokio::test]
async fn a_long_history_leads_to_the_same_decisions_as_a_short_one() {
    each_backend!("state", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let runner = Runner::new(conn.clone(), migrations());
        runner.up(&Target::All).await.expect("up");
        let history = migration_engine::db::quote_ident(
            conn.get_database_backend(),
            &runner.config().history_table,
        );
        let applied_ok = vec![(State::Applied, ChecksumState::Ok); 2];
        let short = decisions(&runner).await;
        assert_eq!(short, (applied_ok.clone(), vec![]), "{b:?}: short history");

        // A tampered checksum is refused, read whole.
        let recorded = runner.checksum(0).await.expect("checksum");
        assert_tamper_refused(&runner, &history, 0, b).await;
        set_checksum(&conn, &history, "m20990201_000001_one", &recorded).await;

        // Make the history long: 100 rows of a migration this build no longer has, each a
        // `down` (so it is not applied), with a stale checksum.
        for i in 0..100 {
            exec(
                &conn,
                &format!(
                    "INSERT INTO {history} (version, direction, checksum, started_at, finished_at, \
                     duration_ms, outcome, transactional, tool_version, host, os_user) VALUES \
                     ('m20000101_000000_gone', '{}', 'stale', '2025-01-01 00:00:00', \
                     '2025-01-01 00:00:01', {i}, 'succeeded', TRUE, 'test', 'h', 'u')",
                    if i % 2 == 0 { "up" } else { "down" }
                ),
            )
            .await;
        }
        let rows = i64s(&conn, &format!("SELECT COUNT(*) FROM {history}")).await;
        assert!(
            rows[0][0] > 4 * 2 + 64,
            "{b:?}: {rows:?} rows: the grouped read"
        );
        assert_eq!(decisions(&runner).await, short, "{b:?}: long history");
        assert!(
            runner.up(&Target::All).await.expect("no-op up").is_empty(),
            "{b:?}"
        );

        // Revert one and apply it again: the latest rows decide.
        runner.down(&Target::Steps(1)).await.expect("down");
        let (states, problems) = decisions(&runner).await;
        assert_eq!(states[1].0, State::Pending, "{b:?}");
        assert_eq!(problems, Vec::<String>::new(), "{b:?}");
        runner.up(&Target::All).await.expect("up again");
        assert_eq!(decisions(&runner).await, short, "{b:?}: after down and up");

        // A tampered checksum is refused, read grouped, and `up` refuses to run.
        assert_tamper_refused(&runner, &history, 1, b).await;
        assert!(runner.up(&Target::All).await.is_err(), "{b:?}: up refuses");
        let _ = conn.close().await;
    });
}
