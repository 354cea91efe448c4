//! Plain DDL migrations on PostgreSQL are sent as one simple-query message with their ledger
//! and history rows (see `Runner::replay_batch`). Tested on every backend for the same
//! outcome: each migration is atomic where the backend can roll DDL back, recorded with its
//! checksum and a sane duration, and a statement failing on the server leaves its migration
//! unapplied and marked failed.

use migration_engine::{ChecksumState, Runner, State, Target};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use sea_orm_migration::prelude::*;
use test_support::Backend;

/// A migration creating the tables it names (each with an integer `id` key), dropping them on
/// `down`; shared with the other tests of this crate.
pub(crate) struct Create(pub &'static str, pub &'static [&'static str]);

impl MigrationName for Create {
    fn name(&self) -> &str {
        self.0
    }
}

fn table(name: &str) -> TableCreateStatement {
    Table::create()
        .table(Alias::new(name))
        .col(
            ColumnDef::new(Alias::new("id"))
                .integer()
                .not_null()
                .primary_key(),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Create {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in self.1 {
            manager.create_table(table(t)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in self.1.iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(*t)).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(Create("m20990101_000001_one", &["replay_one"])),
        // The second table's name is taken: fails on the server, never under capture.
        Box::new(Create(
            "m20990101_000002_clash",
            &["replay_two", "replay_one"],
        )),
    ]
}

async fn has_table(db: &DatabaseConnection, name: &str) -> bool {
    migration_engine::db::list_tables(db)
        .await
        .expect("list tables")
        .iter()
        .any(|t| t == name)
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let b = db.get_database_backend();
    db.query_all_raw(Statement::from_string(b, sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn ddl_migrations_are_atomic_and_recorded_and_a_server_failure_is_marked() {
    each_backend!("replay", |db| {
        let b = db.backend;
        let conn = db.connect().await;
        let runner = Runner::new(conn.clone(), migrations());
        let err = runner
            .up(&Target::All)
            .await
            .expect_err("the second migration fails");
        assert!(
            err.to_string().contains("m20990101_000002_clash"),
            "{b:?}: {err}"
        );
        assert!(has_table(&conn, "replay_one").await, "{b:?}");
        // PostgreSQL and SQLite roll the failed migration back; MySQL's DDL commits itself.
        assert_eq!(
            has_table(&conn, "replay_two").await,
            b == Backend::MySql,
            "{b:?}"
        );
        let states = runner.status().await.expect("status");
        assert_eq!(states[0].status, State::Applied, "{b:?}");
        assert_eq!(
            states[0].checksum,
            ChecksumState::Ok,
            "{b:?}: recorded checksum"
        );
        assert!(states[0].duration_ms.is_some_and(|d| d >= 0), "{b:?}");
        assert_eq!(states[1].status, State::Pending, "{b:?}");
        let history = migration_engine::db::quote_ident(
            conn.get_database_backend(),
            &runner.config().history_table,
        );
        let outcomes = strings(
            &conn,
            &format!(
                "SELECT outcome FROM {history} WHERE version = 'm20990101_000002_clash' ORDER BY id"
            ),
        )
        .await;
        assert_eq!(outcomes.last().map(String::as_str), Some("failed"), "{b:?}");
        let finished = strings(
            &conn,
            &format!(
                "SELECT CASE WHEN finished_at >= started_at THEN 'ok' ELSE 'bad' END \
                 FROM {history} WHERE version = 'm20990101_000001_one'"
            ),
        )
        .await;
        assert_eq!(finished, ["ok"], "{b:?}");
        let _ = conn.close().await;
    });
}
