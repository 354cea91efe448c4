//! The migration state a run decides by is read in one query: a short history whole, a long
//! one (more rows than four per migration) grouped per version (see `History::state`). Both
//! ways must lead to the same decisions: applied, pending, checksums verified, a tampered
//! checksum refused.

use migration_engine::{ChecksumState, Problem, Runner, State, Target};
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::prelude::*;
use test_support::{exec, i64s};

struct Create(&'static str, &'static str);

impl MigrationName for Create {
    fn name(&self) -> &str {
        self.0
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Create {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new(self.1))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new(self.1)).to_owned())
            .await
    }
}

fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(Create("m20990201_000001_one", "state_one")),
        Box::new(Create("m20990201_000002_two", "state_two")),
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
        set_checksum(&conn, &history, "m20990201_000001_one", "tampered").await;
        let (states, problems) = decisions(&runner).await;
        assert_eq!(states[0], (State::Applied, ChecksumState::Changed), "{b:?}");
        assert_eq!(
            problems,
            ["checksum changed: m20990201_000001_one"],
            "{b:?}"
        );
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
        set_checksum(&conn, &history, "m20990201_000002_two", "tampered").await;
        let (states, problems) = decisions(&runner).await;
        assert_eq!(states[1], (State::Applied, ChecksumState::Changed), "{b:?}");
        assert_eq!(
            problems,
            ["checksum changed: m20990201_000002_two"],
            "{b:?}"
        );
        assert!(runner.up(&Target::All).await.is_err(), "{b:?}: up refuses");
        let _ = conn.close().await;
    });
}
