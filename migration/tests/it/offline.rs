//! Capture and offline scripts of the OHT-50 migrations, without a database.

use migration::{Migrator, MigratorTrait};
use migration_engine::plan::capture::capture;
use migration_engine::review::script::offline_script;
use migration_engine::{Direction, Target};
use sea_orm::DbBackend;

#[tokio::test]
async fn captures_each_backends_sql_without_a_database() {
    let first = &Migrator::migrations()[0];
    let pg = capture(first.as_ref(), Direction::Up, DbBackend::Postgres)
        .await
        .unwrap();
    assert!(
        pg.statements[0].starts_with("CREATE TABLE \"users\""),
        "{:?}",
        pg.statements
    );
    assert!(
        pg.statements
            .iter()
            .any(|s| s.contains("CREATE INDEX \"idx_users_username\""))
    );
    assert!(!pg.data_dependent && pg.incomplete.is_none());
    let my = capture(first.as_ref(), Direction::Up, DbBackend::MySql)
        .await
        .unwrap();
    assert!(my.statements[0].starts_with("CREATE TABLE `users`"));
    assert_ne!(pg.checksum(), my.checksum());
    let again = capture(first.as_ref(), Direction::Up, DbBackend::Postgres)
        .await
        .unwrap();
    assert_eq!(pg.checksum(), again.checksum(), "deterministic");
    let down = capture(first.as_ref(), Direction::Down, DbBackend::Sqlite)
        .await
        .unwrap();
    assert_eq!(down.statements.len(), 3);
}

#[tokio::test]
async fn resumable_migrations_declare_themselves_without_changing_their_sql() {
    let migrations = Migrator::migrations();
    let mut resumable = Vec::new();
    for m in &migrations {
        let c = capture(m.as_ref(), Direction::Up, DbBackend::Postgres)
            .await
            .unwrap();
        assert!(
            c.statements.iter().all(|s| !s.contains("migration-engine")),
            "the declaration is not part of the SQL: {:?}",
            c.statements
        );
        if c.resumable {
            resumable.push(m.name().to_string());
        }
    }
    // The telemetry backfill (batched) and the online index builds declare themselves.
    assert_eq!(resumable.len(), 3, "{resumable:?}");
    assert!(resumable.iter().any(|n| n.ends_with("_telemetry_backfill")));
    assert!(
        resumable
            .iter()
            .any(|n| n.ends_with("_idx_telemetry_timestamp"))
    );
    assert!(resumable.iter().any(|n| n.ends_with("_index_foreign_keys")));
}

#[tokio::test]
async fn offline_script_has_boundaries_ledger_and_names() {
    let migrations = Migrator::migrations();
    let names: Vec<&str> = migrations.iter().map(|m| m.name()).collect();
    let config = migration::config();
    let pg = offline_script(
        &migrations,
        Direction::Up,
        &Target::All,
        DbBackend::Postgres,
        &config,
    )
    .await
    .unwrap();
    let text = pg.to_text();
    assert!(text.contains("CREATE TABLE IF NOT EXISTS \"seaql_migrations\""));
    // The batched backfill and the online index builds run outside a transaction.
    assert_eq!(text.matches("BEGIN;").count(), names.len() - 3, "{text}");
    assert_eq!(text.matches("COMMIT;").count(), names.len() - 3);
    assert!(text.contains(&format!(
        "-- Migration {} (up, in one transaction)",
        names[1]
    )));
    assert!(text.contains("INSERT INTO \"seaql_migrations\""));
    let my = offline_script(
        &migrations,
        Direction::Down,
        &Target::Version(names[0].into()),
        DbBackend::MySql,
        &config,
    )
    .await
    .unwrap();
    let reverted: Vec<&str> = my.migrations.iter().map(|m| m.version.as_str()).collect();
    let expected: Vec<&str> = names[1..].iter().rev().copied().collect();
    assert_eq!(reverted, expected);
    let text = my.to_text();
    assert!(!text.contains("BEGIN;"), "{text}");
    assert!(text.contains("DELETE FROM `seaql_migrations`"));
}

#[tokio::test]
async fn offline_scripts_use_the_configured_ledger() {
    let config = migration::config().with_ledger_table("custom_ledger");
    let script = offline_script(
        &Migrator::migrations(),
        Direction::Up,
        &Target::All,
        DbBackend::Sqlite,
        &config,
    )
    .await
    .unwrap();
    let text = script.to_text();
    assert!(text.contains("\"custom_ledger\""), "{text}");
    assert!(!text.contains("seaql_migrations"), "{text}");
}
