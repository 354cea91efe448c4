//! Backups and restores through the library API, on every backend: a backup is whole or
//! absent, restore refuses bad backups (truncated, empty, corrupted, partial, of another
//! backend, without manifest) and never changes the target unless it succeeds, and a good
//! backup round-trips.

use std::path::{Path, PathBuf};

use migration_engine::backup::{
    self, Backup, BackupConfig, ListedState, Manifest, RestoreMethod, RestoreOptions,
};
use migration_engine::db::{list_tables, quote_ident};
use migration_engine::error::{BackupProblem, RestoreOutcome};
use migration_engine::{Config, DatabaseUrl, MigrateError, Runner, Target};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sha2::{Digest, Sha256};
use test_support::{Backend, TestDb};

/// Marker in the rows: no error message may contain it.
const SECRET: &str = "payload-7f3a9c";

mod migrations {
    use super::*;

    pub struct CreateSensor;

    impl MigrationName for CreateSensor {
        fn name(&self) -> &str {
            "m20240101_000001_create_sensor"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CreateSensor {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Sensor::Table)
                        .col(pk_auto(Sensor::Id))
                        .col(string(Sensor::Name))
                        .col(string(Sensor::Payload))
                        .to_owned(),
                )
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .drop_table(Table::drop().table(Sensor::Table).to_owned())
                .await
        }
    }

    pub struct CreateReading;

    impl MigrationName for CreateReading {
        fn name(&self) -> &str {
            "m20240101_000002_create_reading"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CreateReading {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Reading::Table)
                        .col(pk_auto(Reading::Id))
                        .col(integer(Reading::SensorId))
                        .col(integer(Reading::Value))
                        .foreign_key(
                            ForeignKey::create()
                                .name("fk_reading_sensor")
                                .from(Reading::Table, Reading::SensorId)
                                .to(Sensor::Table, Sensor::Id),
                        )
                        .to_owned(),
                )
                .await?;
            let insert = Query::insert()
                .into_table(Sensor::Table)
                .columns([Sensor::Name, Sensor::Payload])
                .values_panic([format!("seed-{SECRET}").into(), "seed".into()])
                .to_owned();
            manager.exec_stmt(insert).await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .drop_table(Table::drop().table(Reading::Table).to_owned())
                .await
        }
    }

    #[derive(DeriveIden)]
    pub enum Sensor {
        Table,
        Id,
        Name,
        Payload,
    }

    #[derive(DeriveIden)]
    pub enum Reading {
        Table,
        Id,
        SensorId,
        Value,
    }
}

fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(migrations::CreateSensor),
        Box::new(migrations::CreateReading),
    ]
}

fn config() -> Config {
    Config::new("bk")
}

fn url_of(db: &TestDb) -> DatabaseUrl {
    DatabaseUrl::parse(&db.url).unwrap()
}

/// Applies every migration and adds `rows` sensors with one reading each.
async fn migrated(db: &TestDb, rows: usize) -> DatabaseConnection {
    let runner = Runner::with_config(db.connect().await, migrations(), config());
    runner.up(&Target::All).await.unwrap();
    let conn = runner.connection().clone();
    add_rows(&conn, "row", rows).await;
    conn
}

/// Adds `n` sensors (names carry [`SECRET`], payloads 96 hex characters) and a reading each.
async fn add_rows(conn: &DatabaseConnection, prefix: &str, n: usize) {
    let backend = conn.get_database_backend();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let hex = hex_of(format!("{prefix}{i}").as_bytes());
                format!(
                    "('{prefix}-{i}-{SECRET}', '{}')",
                    &format!("{hex}{hex}")[..96]
                )
            })
            .collect();
        conn.execute_unprepared(&format!(
            "INSERT INTO {} ({}, {}) VALUES {}",
            quote_ident(backend, "sensor"),
            quote_ident(backend, "name"),
            quote_ident(backend, "payload"),
            values.join(", ")
        ))
        .await
        .unwrap();
    }
    conn.execute_unprepared(&format!(
        "INSERT INTO {r} ({sid}, {v}) SELECT {id}, {id} * 3 FROM {s} WHERE {name} LIKE '{prefix}-%'",
        r = quote_ident(backend, "reading"),
        s = quote_ident(backend, "sensor"),
        sid = quote_ident(backend, "sensor_id"),
        v = quote_ident(backend, "value"),
        id = quote_ident(backend, "id"),
        name = quote_ident(backend, "name"),
    ))
    .await
    .unwrap();
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn backup_config(dir: &Path) -> BackupConfig {
    BackupConfig {
        dir: dir.to_path_buf(),
        keep: 100,
    }
}

fn restore_options(safety_dir: Option<&Path>) -> RestoreOptions {
    RestoreOptions {
        overwrite: true,
        safety_backup: safety_dir.map(backup_config),
        ledger_table: config().ledger_table,
    }
}

async fn strings(conn: &DatabaseConnection, sql: &str) -> Vec<String> {
    let backend = conn.get_database_backend();
    conn.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            r.try_get_by_index::<String>(0)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
        .collect()
}

/// Everything in the database: schema, every row of every table (ledger and history
/// included), sequences; for SQLite also the file's SHA-256.
async fn snapshot(db: &TestDb) -> String {
    let conn = db.connect().await;
    let backend = conn.get_database_backend();
    let mut out = Vec::new();
    let tables = list_tables(&conn).await.unwrap();
    out.push(format!("tables: {tables:?}"));
    match backend {
        DbBackend::Sqlite => {
            out.extend(
                strings(
                    &conn,
                    "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name",
                )
                .await,
            );
        }
        DbBackend::Postgres => {
            out.extend(
                strings(
                    &conn,
                    "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
                     || COALESCE(column_default, '') FROM information_schema.columns \
                     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
                )
                .await,
            );
            out.extend(
                strings(
                    &conn,
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname",
                )
                .await,
            );
            out.extend(
                strings(
                    &conn,
                    "SELECT c.conname || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c \
                     JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() \
                     ORDER BY c.conname",
                )
                .await,
            );
            out.extend(
                strings(
                    &conn,
                    "SELECT sequencename || ' ' || COALESCE(last_value::text, '-') FROM pg_sequences \
                     WHERE schemaname = current_schema() ORDER BY sequencename",
                )
                .await,
            );
            out.extend(
                strings(
                    &conn,
                    "SELECT p.proname || ' ' || pg_get_functiondef(p.oid) FROM pg_proc p \
                     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() \
                     ORDER BY p.proname",
                )
                .await,
            );
        }
        _ => {
            for t in &tables {
                let row = conn
                    .query_one_raw(Statement::from_string(
                        backend,
                        format!("SHOW CREATE TABLE {}", quote_ident(backend, t)),
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                out.push(row.try_get_by_index::<String>(1).unwrap());
            }
        }
    }
    for t in &tables {
        let cols = match backend {
            DbBackend::Sqlite => {
                strings(
                    &conn,
                    &format!("SELECT name FROM pragma_table_info('{t}') ORDER BY cid"),
                )
                .await
            }
            DbBackend::Postgres => strings(
                &conn,
                &format!(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = \
                         current_schema() AND table_name = '{t}' ORDER BY ordinal_position"
                ),
            )
            .await,
            _ => {
                strings(
                    &conn,
                    &format!(
                        "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS WHERE \
                         TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}' ORDER BY ORDINAL_POSITION"
                    ),
                )
                .await
            }
        };
        let list: Vec<String> = cols.iter().map(|c| quote_ident(backend, c)).collect();
        let array = match backend {
            DbBackend::Sqlite => format!("json_array({})", list.join(", ")),
            DbBackend::Postgres => format!("json_build_array({})::text", list.join(", ")),
            _ => format!("CAST(JSON_ARRAY({}) AS CHAR)", list.join(", ")),
        };
        let rows = strings(
            &conn,
            &format!("SELECT {array} FROM {} ORDER BY 1", quote_ident(backend, t)),
        )
        .await;
        out.push(format!("{t}: {} rows", rows.len()));
        out.extend(rows);
    }
    let _ = conn.close().await;
    if let Some(path) = db.sqlite_path() {
        out.push(format!(
            "file sha256 {}",
            hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
        ));
    }
    out.join("\n")
}

fn assert_same(before: &str, after: &str, what: &str) {
    if before != after {
        let diff: Vec<String> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!("{what}: the target changed:\n{}", diff.join("\n"));
    }
}

/// Copies backup `b` (and its manifest) to `dir/name`.
fn copy_backup(b: &Backup, dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let to = dir.join(name);
    std::fs::copy(&b.path, &to).unwrap();
    std::fs::copy(backup::manifest_path(&b.path), backup::manifest_path(&to)).unwrap();
    to
}

/// Rewrites the manifest of `file` to match its current bytes, as if a bad file had been
/// recorded as good: only the backend's own tool can catch it then.
fn rerecord(file: &Path) {
    let mut m: Manifest =
        serde_json::from_slice(&std::fs::read(backup::manifest_path(file)).unwrap()).unwrap();
    let bytes = std::fs::read(file).unwrap();
    m.bytes = bytes.len() as u64;
    m.sha256 = hex::encode(Sha256::digest(&bytes));
    std::fs::write(backup::manifest_path(file), serde_json::to_vec(&m).unwrap()).unwrap();
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|e| {
            e.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Another backend than `b` that is reachable, with a migrated database.
async fn other_backend(b: Backend) -> Option<TestDb> {
    let candidates = match b {
        Backend::Sqlite => [Backend::Postgres, Backend::MySql],
        Backend::Postgres => [Backend::Sqlite, Backend::MySql],
        Backend::MySql => [Backend::Sqlite, Backend::Postgres],
    };
    for c in candidates {
        if let Some(db) = TestDb::create(c, "bk_other").await {
            return Some(db);
        }
    }
    None
}

#[tokio::test]
async fn bad_backups_are_refused_and_the_target_is_unchanged() {
    each_backend!("bk_refuse", |db| {
        let b = db.backend;
        let url = url_of(&db);
        let tmp = tempfile::tempdir().unwrap();
        let backups = tmp.path().join("backups");
        let safety = tmp.path().join("safety");
        let cases_dir = tmp.path().join("cases");
        let conn = migrated(&db, 30).await;
        let good = backup::take(&conn, &url, &backup_config(&backups), "m2")
            .await
            .unwrap();
        assert_eq!(backup::verify(&good.path).await.unwrap(), good.manifest);
        // The target moves on after the backup, so a restore would visibly change it.
        add_rows(&conn, "later", 3).await;
        let _ = conn.close().await;
        let ext = good
            .path
            .extension()
            .unwrap()
            .to_string_lossy()
            .into_owned();

        let mut cases: Vec<(&str, PathBuf)> = Vec::new();
        let len = good.bytes;

        let f = copy_backup(&good, &cases_dir, &format!("truncated.{ext}"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        cases.push(("truncated", f));

        let f = copy_backup(&good, &cases_dir, &format!("truncated-recorded.{ext}"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        rerecord(&f);
        cases.push(("truncated, recorded as good", f));

        let f = copy_backup(&good, &cases_dir, &format!("tail-cut-recorded.{ext}"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_len(len - 40)
            .unwrap();
        rerecord(&f);
        cases.push(("last bytes cut, recorded as good", f));

        let f = copy_backup(&good, &cases_dir, &format!("empty.{ext}"));
        std::fs::write(&f, b"").unwrap();
        cases.push(("zero-length", f));

        let f = copy_backup(&good, &cases_dir, &format!("empty-recorded.{ext}"));
        std::fs::write(&f, b"").unwrap();
        rerecord(&f);
        cases.push(("zero-length, recorded as good", f));

        let f = copy_backup(&good, &cases_dir, &format!("flipped.{ext}"));
        let mut bytes = std::fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        for byte in &mut bytes[mid..mid + 16] {
            *byte ^= 0xff;
        }
        std::fs::write(&f, &bytes).unwrap();
        cases.push(("corrupted in the middle", f));

        let f = cases_dir.join(format!("partial.{ext}.partial"));
        std::fs::copy(&good.path, &f).unwrap();
        cases.push(("partial", f));

        let f = cases_dir.join(format!("no-manifest.{ext}"));
        std::fs::copy(&good.path, &f).unwrap();
        cases.push(("without manifest", f));

        let other = other_backend(b).await;
        if let Some(other) = &other {
            let oconn = migrated(other, 3).await;
            let ob = backup::take(&oconn, &url_of(other), &backup_config(&cases_dir), "m2")
                .await
                .unwrap();
            let _ = oconn.close().await;
            cases.push(("of another backend", ob.path));
        }

        let before = snapshot(&db).await;
        for (what, file) in &cases {
            let err = backup::restore(
                db.connect().await,
                &url,
                file,
                &restore_options(Some(&safety)),
            )
            .await
            .expect_err(&format!("{b:?}: a {what} backup must be refused"));
            let msg = err.to_string();
            eprintln!("{b:?}, {what}: {msg}");
            assert!(
                matches!(err, MigrateError::RestoreRefused { .. }),
                "{b:?} {what}: {msg}"
            );
            assert!(msg.contains("not touched"), "{b:?} {what}: {msg}");
            assert!(
                !msg.contains(SECRET),
                "{b:?} {what}: echoes the dump: {msg}"
            );
            assert_same(
                &before,
                &snapshot(&db).await,
                &format!("{b:?}, {what} backup"),
            );
            assert!(
                files_in(&safety).is_empty(),
                "{b:?} {what}: no safety backup before the checks"
            );
            if *what != "of another backend" {
                let err = backup::verify(file)
                    .await
                    .expect_err(&format!("{b:?}: verify {what}"));
                assert!(
                    matches!(err, MigrateError::BackupInvalid { .. }),
                    "{b:?} {what}: {err}"
                );
                assert!(!err.to_string().contains(SECRET), "{b:?} {what}: {err}");
            }
            if let MigrateError::RestoreRefused { problem, .. } = &err {
                let expected = match *what {
                    "truncated" => matches!(problem, BackupProblem::SizeMismatch { .. }),
                    "zero-length" => matches!(
                        problem,
                        BackupProblem::SizeMismatch { .. } | BackupProblem::NotABackup
                    ),
                    "corrupted in the middle" => {
                        matches!(problem, BackupProblem::ChecksumMismatch { .. })
                    }
                    "partial" => matches!(problem, BackupProblem::Partial),
                    "without manifest" => matches!(problem, BackupProblem::NoManifest { .. }),
                    "of another backend" => matches!(problem, BackupProblem::OtherBackend { .. }),
                    "zero-length, recorded as good" => {
                        matches!(problem, BackupProblem::NotABackup)
                    }
                    _ => matches!(problem, BackupProblem::ToolRejected { .. }),
                };
                assert!(expected, "{b:?} {what}: {problem:?}");
            }
        }
        // The good backup itself is fine.
        backup::verify(&good.path).await.unwrap();
    });
}

/// Mounts a tmpfs of `size` at `path` (root only); unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIP: cannot mount a tmpfs at {} (needs root)",
                path.display()
            );
            return None;
        }
        Some(Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_backup_that_fills_the_disk_leaves_no_file() {
    each_backend!("bk_full", |db| {
        let b = db.backend;
        let url = url_of(&db);
        let tmp = tempfile::tempdir().unwrap();
        let conn = migrated(&db, 6000).await;
        let full = tmp.path().join("full");
        let Some(_mount) = Tmpfs::mount(&full, "64k") else {
            return;
        };
        let err = backup::take(&conn, &url, &backup_config(&full), "m2")
            .await
            .expect_err(&format!("{b:?}: 64 KiB cannot hold the backup"));
        let msg = err.to_string();
        eprintln!("{b:?}, full disk: {msg}");
        assert!(msg.contains("no backup was written"), "{b:?}: {msg}");
        assert!(!msg.contains(SECRET), "{b:?}: {msg}");
        assert_eq!(
            files_in(&full),
            Vec::<String>::new(),
            "{b:?}: nothing left behind"
        );
        assert!(backup::list(&full).unwrap().is_empty());

        // The same database backs up fine where there is room.
        let roomy = tmp.path().join("roomy");
        let ok = backup::take(&conn, &url, &backup_config(&roomy), "m2")
            .await
            .unwrap();
        backup::verify(&ok.path).await.unwrap();
        let _ = conn.close().await;
    });
}

#[tokio::test]
async fn a_good_backup_round_trips() {
    each_backend!("bk_round", |db| {
        let b = db.backend;
        let url = url_of(&db);
        let tmp = tempfile::tempdir().unwrap();
        let backups = tmp.path().join("backups");
        let conn = migrated(&db, 25).await;
        let _ = conn.close().await;
        let at_backup = snapshot(&db).await;
        let conn = db.connect().await;
        let good = backup::take(&conn, &url, &backup_config(&backups), "m2")
            .await
            .unwrap();
        assert_eq!(good.manifest.version, "m2");
        assert_eq!(good.manifest.bytes, good.bytes);
        assert!(backup::manifest_path(&good.path).exists());

        // The target changes: rows, an extra table, a reverted migration (ledger and history).
        add_rows(&conn, "later", 5).await;
        conn.execute_unprepared("CREATE TABLE junk (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        let runner = Runner::with_config(conn, migrations(), config());
        runner.down(&Target::Steps(1)).await.unwrap();
        let _ = runner.connection().clone().close().await;
        let changed = snapshot(&db).await;
        assert_ne!(changed, at_backup);

        // Without --overwrite: refused, unchanged.
        let mut no_overwrite = restore_options(Some(&backups));
        no_overwrite.overwrite = false;
        let err = backup::restore(db.connect().await, &url, &good.path, &no_overwrite)
            .await
            .unwrap_err();
        assert!(
            matches!(err, MigrateError::RestoreNeedsOverwrite { .. }),
            "{b:?}: {err}"
        );
        assert_same(&changed, &snapshot(&db).await, "without --overwrite");

        // Restore: a safety backup first, then exactly the backed-up state.
        let done = backup::restore(
            db.connect().await,
            &url,
            &good.path,
            &restore_options(Some(&backups)),
        )
        .await
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        let expected = match b {
            Backend::Sqlite => RestoreMethod::SqliteFileSwap,
            Backend::Postgres => RestoreMethod::PostgresTransaction,
            Backend::MySql => RestoreMethod::MysqlTableSwap,
        };
        assert_eq!(done.method, expected, "{b:?}");
        assert!(done.notes.is_empty(), "{b:?}: {:?}", done.notes);
        let safety = done.safety_backup.clone().expect("a safety backup");
        assert_eq!(safety.manifest.version, "m20240101_000001_create_sensor");
        backup::verify(&safety.path).await.unwrap();
        let mut restored = snapshot(&db).await;
        let mut expected_state = at_backup.clone();
        if b == Backend::Sqlite {
            // Same contents, but VACUUM INTO rewrites the file: compare everything else.
            restored = without_file_hash(&restored);
            expected_state = without_file_hash(&expected_state);
        }
        assert_same(&expected_state, &restored, &format!("{b:?}: restored"));

        // And back again with the safety backup (a second swap on the same target).
        let back = backup::restore(
            db.connect().await,
            &url,
            &safety.path,
            &restore_options(None),
        )
        .await
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        assert!(back.safety_backup.is_none(), "--no-backup takes none");
        let mut again = snapshot(&db).await;
        let mut changed_state = changed.clone();
        if b == Backend::Sqlite {
            again = without_file_hash(&again);
            changed_state = without_file_hash(&changed_state);
        }
        assert_same(
            &changed_state,
            &again,
            &format!("{b:?}: safety backup restored"),
        );

        // The backup directory lists both, complete.
        let listed = backup::list(&backups).unwrap();
        assert_eq!(listed.len(), 2, "{b:?}: {listed:?}");
        assert!(
            listed
                .iter()
                .all(|l| l.state == ListedState::Complete && l.manifest.is_some())
        );

        // MySQL: no scratch database is left behind.
        if b == Backend::MySql {
            assert_no_scratch(&db).await;
        }
    });
}

fn without_file_hash(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("file sha256"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_restore_that_fails_part_way_leaves_the_target_unchanged() {
    each_backend!("bk_midway", |db| {
        match db.backend {
            Backend::Sqlite => midway_sqlite().await,
            _ => midway_server(&db).await,
        }
    });
}

/// SQLite: the target lives on a small disk the (verified) backup does not fit on.
async fn midway_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let src = TestDb::create(Backend::Sqlite, "bk_midway_src")
        .await
        .unwrap();
    let sconn = migrated(&src, 3000).await;
    let big = backup::take(
        &sconn,
        &url_of(&src),
        &backup_config(&tmp.path().join("b")),
        "m2",
    )
    .await
    .unwrap();
    let _ = sconn.close().await;
    backup::verify(&big.path).await.unwrap();
    assert!(big.bytes > 300 * 1024, "{} bytes", big.bytes);

    let small = tmp.path().join("small");
    let Some(_mount) = Tmpfs::mount(&small, "256k") else {
        return;
    };
    let path = small.join("target.db");
    let raw = format!("sqlite://{}?mode=rwc", path.display());
    let url = DatabaseUrl::parse(&raw).unwrap();
    let runner = Runner::with_config(
        sea_orm::Database::connect(raw.as_str()).await.unwrap(),
        migrations(),
        config(),
    );
    runner.up(&Target::All).await.unwrap();
    add_rows(runner.connection(), "target", 10).await;
    let _ = runner.connection().clone().close().await;
    let before = std::fs::read(&path).unwrap();

    let safety_dir = tmp.path().join("safety");
    let err = backup::restore(
        sea_orm::Database::connect(raw.as_str()).await.unwrap(),
        &url,
        &big.path,
        &restore_options(Some(&safety_dir)),
    )
    .await
    .expect_err("the copy cannot fit");
    check_failure(Backend::Sqlite, &err);
    assert!(
        std::fs::read(&path).unwrap() == before,
        "SQLite: the target file changed"
    );
    assert_eq!(
        files_in(&small),
        vec!["target.db".to_string()],
        "no temporary file left"
    );
    assert_eq!(files_in(&safety_dir).len(), 2, "safety backup and manifest");
}

/// PostgreSQL and MySQL: a verified backup whose restore fails at a statement.
async fn midway_server(db: &TestDb) {
    let b = db.backend;
    let url = url_of(db);
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    let safety_dir = tmp.path().join("safety");
    let file = if b == Backend::Postgres {
        // A CHECK constraint calling a function that reads another table: pg_dump cannot see
        // that dependency, so the rows are loaded before the table the check reads, and the
        // restore fails at the COPY.
        let src = TestDb::create(Backend::Postgres, "bk_midway_src")
            .await
            .unwrap();
        let sconn = migrated(&src, 5).await;
        sconn
            .execute_unprepared(
                "CREATE TABLE zz_allowed (id int PRIMARY KEY); \
                 INSERT INTO zz_allowed VALUES (1), (2); \
                 CREATE FUNCTION ok_id(i int) RETURNS bool LANGUAGE sql \
                   AS 'SELECT EXISTS (SELECT 1 FROM public.zz_allowed WHERE id = i)'; \
                 CREATE TABLE aa_checked (id int CHECK (ok_id(id))); \
                 INSERT INTO aa_checked VALUES (1), (2);",
            )
            .await
            .unwrap();
        let bad = backup::take(&sconn, &url_of(&src), &backup_config(&backups), "m2")
            .await
            .unwrap();
        let _ = sconn.close().await;
        let conn = migrated(db, 10).await;
        let _ = conn.close().await;
        bad.path
    } else {
        // A statement in the middle of the dump fails (and the dump is recorded as good).
        let conn = migrated(db, 5).await;
        let good = backup::take(&conn, &url, &backup_config(&backups), "m2")
            .await
            .unwrap();
        add_rows(&conn, "after", 4).await;
        let _ = conn.close().await;
        let text = std::fs::read_to_string(&good.path).unwrap();
        let at = text
            .find("INSERT INTO `reading`")
            .expect("reading rows in the dump");
        let broken = format!(
            "{}INSERT INTO `reading` VALUES ('{SECRET}' 'not sql;\n{}",
            &text[..at],
            &text[at..]
        );
        std::fs::write(&good.path, broken).unwrap();
        rerecord(&good.path);
        good.path
    };
    backup::verify(&file)
        .await
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));

    let before = snapshot(db).await;
    let err = backup::restore(
        db.connect().await,
        &url,
        &file,
        &restore_options(Some(&safety_dir)),
    )
    .await
    .expect_err(&format!("{b:?}: the restore must fail"));
    check_failure(b, &err);
    assert_same(
        &before,
        &snapshot(db).await,
        &format!("{b:?}: failed restore"),
    );
    let safety = files_in(&safety_dir);
    assert_eq!(
        safety.len(),
        2,
        "{b:?}: safety backup and manifest: {safety:?}"
    );
    if b == Backend::MySql {
        assert_no_scratch(db).await;
    }
}

async fn assert_no_scratch(db: &TestDb) {
    let conn = db.connect().await;
    let left = strings(
        &conn,
        &format!(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE '{}\\_%'",
            db.name()
        ),
    )
    .await;
    assert!(left.is_empty(), "scratch databases left: {left:?}");
    let _ = conn.close().await;
}

fn check_failure(b: Backend, err: &MigrateError) {
    let msg = err.to_string();
    eprintln!("{b:?}, failed restore: {msg}");
    assert!(
        matches!(
            err,
            MigrateError::RestoreFailed {
                outcome: RestoreOutcome::Unchanged,
                ..
            }
        ),
        "{b:?}: {msg}"
    );
    assert!(msg.contains("unchanged"), "{b:?}: {msg}");
    assert!(!msg.contains(SECRET), "{b:?}: echoes the dump: {msg}");
}

#[tokio::test]
async fn views_triggers_and_types_survive_a_restore() {
    each_backend!("bk_views", |db| {
        let b = db.backend;
        if b == Backend::Sqlite {
            // A SQLite restore swaps the whole file: nothing backend-specific to prove.
            continue;
        }
        let url = url_of(&db);
        let tmp = tempfile::tempdir().unwrap();
        let backups = tmp.path().join("backups");
        let conn = migrated(&db, 5).await;
        let extra: &[&str] = if b == Backend::Postgres {
            &[
                "CREATE TYPE mood AS ENUM ('ok', 'bad')",
                "ALTER TABLE sensor ADD COLUMN mood mood NOT NULL DEFAULT 'ok'",
                "CREATE VIEW v_names AS SELECT name FROM sensor",
            ]
        } else {
            &[
                "CREATE VIEW v_names AS SELECT name FROM sensor",
                "CREATE TRIGGER trg_reading BEFORE INSERT ON reading FOR EACH ROW SET NEW.value = NEW.value + 1",
            ]
        };
        for sql in extra {
            conn.execute_unprepared(sql).await.unwrap();
        }
        let _ = conn.close().await;
        let at_backup = snapshot(&db).await;
        let conn = db.connect().await;
        let good = backup::take(&conn, &url, &backup_config(&backups), "m2")
            .await
            .unwrap();
        // Move on: more rows, another view, a table the backup does not have.
        add_rows(&conn, "later", 3).await;
        conn.execute_unprepared("CREATE TABLE junk (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        conn.execute_unprepared("CREATE VIEW v_junk AS SELECT id FROM junk")
            .await
            .unwrap();
        let _ = conn.close().await;

        let done = backup::restore(
            db.connect().await,
            &url,
            &good.path,
            &restore_options(Some(&backups)),
        )
        .await
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        let expected = if b == Backend::Postgres {
            RestoreMethod::PostgresTransaction
        } else {
            // Views and triggers cannot move between databases.
            RestoreMethod::MysqlDirectLoad
        };
        assert_eq!(done.method, expected);
        assert_same(
            &at_backup,
            &snapshot(&db).await,
            &format!("{b:?}: restored"),
        );
        let conn = db.connect().await;
        let names = strings(&conn, "SELECT name FROM v_names ORDER BY name").await;
        assert_eq!(names.len(), 6, "{b:?}: the view is back: {names:?}");
        assert!(
            conn.execute_unprepared("SELECT 1 FROM v_junk")
                .await
                .is_err(),
            "{b:?}: the view made after the backup is gone"
        );
        if b == Backend::MySql {
            let triggers = strings(
                &conn,
                "SELECT CAST(TRIGGER_NAME AS CHAR) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
            )
            .await;
            assert_eq!(triggers, vec!["trg_reading".to_string()]);
        }
        let _ = conn.close().await;
        if b == Backend::MySql {
            assert_no_scratch(&db).await;
        }
    });
}
