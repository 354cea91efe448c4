//! SQLite table rebuilds on a table other tables reference (`author::rebuild`), through the
//! runner: it switches foreign-key enforcement off for the run of a migration that declares it
//! (before the run's transaction), the children's rows stay and no ON DELETE action fires, a
//! migration that leaves orphans is rolled back with the rows listed, and enforcement is back on
//! afterwards in every case. Outside the runner, with enforcement on, the rebuild refuses.
//!
//! SQLite only: on PostgreSQL and MySQL the generated code alters the table in place and never
//! calls the rebuild (the other backends are covered by the autogenerate end-to-end test).

use migration_engine::author::rebuild;
use migration_engine::{Config, Runner, Target};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::prelude::*;
use test_support::{Backend, TestDb};

#[derive(DeriveIden)]
enum Parent {
    Table,
    Id,
    Level,
}

/// Creates `parent` and `child` (ON DELETE CASCADE) with rows.
struct Setup;

impl MigrationName for Setup {
    fn name(&self) -> &str {
        "m20240101_000001_setup"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Setup {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "CREATE TABLE parent (id integer PRIMARY KEY AUTOINCREMENT, level integer)",
            "CREATE TABLE child (id integer PRIMARY KEY AUTOINCREMENT, parent_id integer NOT NULL \
             REFERENCES parent (id) ON DELETE CASCADE)",
            "CREATE INDEX idx_parent_level ON parent (level)",
            "CREATE TABLE audit (what text)",
            "CREATE TRIGGER parent_audit AFTER UPDATE ON parent BEGIN \
             INSERT INTO audit (what) VALUES ('updated'); END",
            "INSERT INTO parent (level) VALUES (10), (20)",
            "INSERT INTO child (parent_id) VALUES (1), (1), (2)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE child").await?;
        db.execute_unprepared("DROP TABLE parent").await?;
        db.execute_unprepared("DROP TABLE audit").await?;
        Ok(())
    }
}

/// Rebuilds `parent` with `level` as a double (what autogenerate writes for a type change);
/// `orphan` then deletes parent 2 (no cascade with enforcement off: child 3 is left pointing at
/// nothing).
struct Rebuild {
    orphan: bool,
}

impl MigrationName for Rebuild {
    fn name(&self) -> &str {
        "m20240101_000002_rebuild_parent"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Rebuild {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild::rebuild_sqlite_table(
            manager,
            Table::create()
                .table(Parent::Table)
                .col(
                    ColumnDef::new(Parent::Id)
                        .integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Parent::Level).double().null())
                .take(),
            vec![
                Index::create()
                    .name("idx_parent_level")
                    .table(Parent::Table)
                    .col(Parent::Level)
                    .take(),
            ],
            &["id", "level"],
        )
        .await?;
        if self.orphan {
            manager
                .get_connection()
                .execute_unprepared("DELETE FROM parent WHERE id = 2")
                .await?;
        }
        Ok(())
    }
}

async fn count(conn: &DatabaseConnection, sql: &str) -> i64 {
    conn.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("an integer")
}

async fn enforced(conn: &DatabaseConnection) -> bool {
    rebuild::foreign_keys_enforced(conn).await.unwrap() == Some(true)
}

fn runner(conn: DatabaseConnection, orphan: bool) -> Runner {
    Runner::with_config(
        conn,
        vec![Box::new(Setup), Box::new(Rebuild { orphan })],
        Config::new("rb"),
    )
}

#[tokio::test]
async fn the_runner_rebuilds_a_referenced_table_with_rows_and_children_intact() {
    let Some(db) = TestDb::create(Backend::Sqlite, "rebuild_ok").await else {
        return;
    };
    let r = runner(db.connect().await, false);
    assert!(
        enforced(r.connection()).await,
        "enforcement on to begin with"
    );
    r.up(&Target::All).await.expect("up");
    let c = r.connection();
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM child").await,
        3,
        "no cascade"
    );
    assert_eq!(count(c, "SELECT COUNT(*) FROM parent").await, 2);
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM pragma_table_info('parent') WHERE name = 'level' AND lower(type) = 'double'").await,
        1,
        "parent rebuilt with the new type"
    );
    assert_eq!(
        count(
            c,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'idx_parent_level'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            c,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'parent_audit'"
        )
        .await,
        1,
        "the trigger is recreated"
    );
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM pragma_foreign_key_check").await,
        0
    );
    assert!(enforced(c).await, "enforcement back on after the run");
    // Enforcement really is back: deleting a parent cascades again.
    c.execute_unprepared("DELETE FROM parent WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(count(c, "SELECT COUNT(*) FROM child").await, 2);
}

#[tokio::test]
async fn a_rebuild_that_leaves_orphans_is_rolled_back_with_the_rows_listed() {
    let Some(db) = TestDb::create(Backend::Sqlite, "rebuild_orphan").await else {
        return;
    };
    let r = runner(db.connect().await, true);
    r.up(&Target::Steps(1)).await.expect("setup");
    let err = r.up(&Target::All).await.expect_err("orphans must fail");
    let text = err.to_string();
    assert!(
        text.contains("foreign_key_check") && text.contains("child rowid 3 -> parent"),
        "{text}"
    );
    let c = r.connection();
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM parent").await,
        2,
        "rolled back"
    );
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM pragma_table_info('parent') WHERE name = 'level' AND lower(type) = 'integer'").await,
        1,
        "the old definition is back"
    );
    assert_eq!(count(c, "SELECT COUNT(*) FROM child").await, 3);
    assert!(enforced(c).await, "enforcement back on after a failure");
}

#[tokio::test]
async fn outside_the_runner_with_enforcement_on_the_rebuild_refuses() {
    let Some(db) = TestDb::create(Backend::Sqlite, "rebuild_refuse").await else {
        return;
    };
    let conn = db.connect().await;
    let manager = SchemaManager::new(&conn);
    Setup.up(&manager).await.expect("setup");
    let err = Rebuild { orphan: false }
        .up(&manager)
        .await
        .expect_err("refuses");
    let text = err.to_string();
    assert!(
        text.contains("cannot rebuild the SQLite table parent") && text.contains("child"),
        "{text}"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM child").await, 3);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '__autogen_new_%'"
        )
        .await,
        0,
        "nothing changed"
    );
}
