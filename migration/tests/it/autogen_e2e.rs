//! HEAVY (two `cargo build`s of a copy of the workspace, about 1-2 minutes on 2 cores):
//! `generate --autogenerate` end to end, on every backend.
//!
//! A copy of the workspace (engine + entity + migration only, the same Cargo.lock, built into the same
//! target directory so dependencies are reused) gets a set of entity edits: a new table with a
//! foreign key and an index, NOT NULL columns with a string and a number default, a new index,
//! a changed ON DELETE action, dropped columns (one nullable, one NOT NULL), a type change on a
//! table other tables reference (`robots.battery_level` i32 -> f64: a table rebuild on SQLite)
//! and a declared column rename. Its binary generates the migration without a database; the
//! copy is built again with it; then per backend: migrations up to the old head, rows in
//! robots and in every table that references it (telemetry, safety_events, emergency_stops)
//! and in lidar_maps, `up` (the generated migration), `drift` is empty and the rows survived
//! (no ON DELETE action fired), `down`, the schema equals the schema before and the rows
//! survived again (the re-added NOT NULL `lidar_maps.resolution` filled with 0).

use std::path::{Path, PathBuf};
use std::process::Command;

use migration_engine::review::drift;
use migration_engine::schema as inspect;
use sea_orm::ConnectionTrait;

use crate::support::{names, ok, run_bin, stderr, stdout};

/// Where the copy's migrator ends: the head of the snapshot chain (the latest registered
/// migration with a schema snapshot; later ones are left out of the copy).
fn head() -> String {
    let snapshots = workspace().join("migration/snapshots");
    names()
        .into_iter()
        .rev()
        .find(|m| snapshots.join(format!("{m}.json")).is_file())
        .expect("a migration with a snapshot")
}

const BIN_NAME: &str = "autogen-e2e-migration";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The target directory this test was built in (`.../target/debug/deps/autogen_e2e-...`).
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test exe");
    // `<target>/debug/deps/autogen_e2e-<hash>`: three levels up is the target directory,
    // whatever it is called.
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("the test binary lives in <target>/debug/deps")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn edit(path: &Path, old: &str, new: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(old), "{} has no `{old}`", path.display());
    std::fs::write(path, text.replacen(old, new, 1)).unwrap();
}

/// A workspace with just entity and migration, its migrator ending at HEAD (migrations other
/// engineers have not finished are left out), the binary renamed so it does not replace the
/// real `migration` binary in the shared target directory.
fn make_copy(dir: &Path) {
    let root = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let start = root
        .find("\n[package]")
        .expect("[package] in root Cargo.toml");
    let end = root
        .find("\n[profile.dev]")
        .expect("[profile.dev] in root Cargo.toml");
    let manifest = format!("{}{}", &root[..start], &root[end..])
        .replace(
            "members = [\".\", \"engine\", \"entity\", \"migration\", \"seed\", \"test-support\"]",
            "members = [\"engine\", \"entity\", \"migration\"]",
        )
        .lines()
        .filter(|l| !l.starts_with("seed ="))
        .map(|l| {
            // Dev-dependencies of the copied members still resolve, to the real crate.
            if l.starts_with("test-support =") {
                format!(
                    "test-support = {{ path = {:?} }}",
                    workspace().join("test-support").display().to_string()
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Another version, so the copy's crates get their own artifacts in the shared target
    // directory: cargo hashes workspace members by their path relative to the workspace root,
    // so the copy's `entity` would otherwise share (and race) the real one's artifacts. Copies
    // share theirs, hence the lock in the test.
    let manifest = manifest.replacen(
        "[workspace.package]\nversion = \"",
        "[workspace.package]\nversion = \"99.0.0-autogen-e2e+",
        1,
    );
    assert!(
        manifest.contains("autogen-e2e+"),
        "[workspace.package] version"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest + "\n").unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for krate in ["entity", "migration"] {
        std::fs::create_dir_all(dir.join(krate)).unwrap();
        std::fs::copy(
            workspace().join(krate).join("Cargo.toml"),
            dir.join(krate).join("Cargo.toml"),
        )
        .unwrap();
        copy_dir(
            &workspace().join(krate).join("src"),
            &dir.join(krate).join("src"),
        );
    }
    copy_dir(&workspace().join("engine"), &dir.join("engine"));
    copy_dir(
        &workspace().join("migration/snapshots"),
        &dir.join("migration/snapshots"),
    );
    edit(
        &dir.join("migration/Cargo.toml"),
        "name = \"migration\"\npath = \"src/main.rs\"",
        &format!("name = \"{BIN_NAME}\"\npath = \"src/main.rs\""),
    );
    let lib = dir.join("migration/src/lib.rs");
    let registered =
        migration_engine::generate::autogen::registered_migrations(&dir.join("migration/src"))
            .unwrap();
    let head = head();
    let pos = registered.iter().position(|m| *m == head).expect("HEAD");
    let later = &registered[pos + 1..];
    let text: String = std::fs::read_to_string(&lib)
        .unwrap()
        .lines()
        .filter(|l| !later.iter().any(|m| l.contains(m.as_str())))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&lib, text).unwrap();
}

const FIRMWARE: &str = r#"//! `robot_firmware`: firmware installed on a robot (test entity).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "robot_firmware")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub robot_id: i32,
    #[sea_orm(column_type = "String(StringLen::N(20))", unique)]
    pub version: String,
    pub installed_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::robots::Entity",
        from = "Column::RobotId",
        to = "super::robots::Column::Id",
        on_delete = "Cascade"
    )]
    Robot,
}

impl ActiveModelBehavior for ActiveModel {}
"#;

/// Removes the declaration of index `name` (one `ix(..)` entry) from `indexes.rs`.
fn drop_index_declaration(path: &Path, name: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text
        .find(&format!("\"{name}\""))
        .unwrap_or_else(|| panic!("{} declares no {name}", path.display()));
    let start = text[..at].rfind("ix(").expect("ix( before the name");
    let start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let end = at + text[at..].find("),").expect("), after the name") + 2;
    let end = end + text[end..].find('\n').map_or(0, |i| i + 1);
    std::fs::write(path, format!("{}{}", &text[..start], &text[end..])).unwrap();
}

fn edit_entities(dir: &Path) {
    let e = dir.join("entity/src");
    std::fs::write(e.join("robot_firmware.rs"), FIRMWARE).unwrap();
    // The only index of the foreign key emergency_stops.resolved_by goes (MySQL keeps one).
    drop_index_declaration(&e.join("indexes.rs"), "idx_emergency_stops_resolved_by");
    edit(
        &e.join("lib.rs"),
        "pub mod robots;",
        "pub mod robot_firmware;\npub mod robots;",
    );
    edit(
        &e.join("registry.rs"),
        "    visitor.visit::<crate::robots::Entity>();\n",
        "    visitor.visit::<crate::robots::Entity>();\n    visitor.visit::<crate::robot_firmware::Entity>();\n",
    );
    edit(
        &e.join("robots.rs"),
        "    pub created_at: DateTime,",
        "    #[sea_orm(column_type = \"String(StringLen::N(32))\", default_value = \"unknown\")]\n    pub firmware_version: String,\n    #[sea_orm(default_value = 3)]\n    pub retry_limit: i32,\n    pub created_at: DateTime,",
    );
    edit(
        &e.join("robots.rs"),
        "pub battery_level: Option<i32>,",
        "pub battery_level: Option<f64>,",
    );
    edit(&e.join("lidar_maps.rs"), "    pub resolution: f64,\n", "");
    edit(
        &e.join("indexes.rs"),
        "    ix(\"robots\", \"idx_robots_status\", &[\"status\"]),",
        "    ix(\"robots\", \"idx_robots_status\", &[\"status\"]),\n    ix(\"robots\", \"idx_robots_mode\", &[\"mode\"]),\n    ix(\"robot_firmware\", \"idx_robot_firmware_robot\", &[\"robot_id\"]),",
    );
    edit(
        &e.join("telemetry.rs"),
        "on_delete = \"Cascade\"",
        "on_delete = \"Restrict\"",
    );
    edit(
        &e.join("lidar_paths.rs"),
        "    pub safety_score: Option<f64>,\n",
        "",
    );
    edit(
        &e.join("lidar_maps.rs"),
        "pub origin_z: f64",
        "pub elevation: f64",
    );
    edit(
        &e.join("renames.rs"),
        "pub const RENAMES: &[Rename] = &[];",
        "pub const RENAMES: &[Rename] = &[Rename::Column {\n    table: \"lidar_maps\",\n    from: \"origin_z\",\n    to: \"elevation\",\n}];",
    );
}

fn build(dir: &Path) {
    let started = std::time::Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["build", "-p", "migration", "--bin", BIN_NAME])
        .output()
        .expect("run cargo");
    assert!(
        o.status.success(),
        "cargo build of the copy failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("built the copy in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn autogenerate_up_drift_down_on_every_backend() {
    // One run at a time per target directory: runs from other processes (other working trees,
    // other test binaries) build the same artifacts (see make_copy) and the same binary.
    let lock = std::fs::File::create(target_dir().join("autogen-e2e.lock")).expect("lock file");
    lock.lock().expect("lock the autogen end-to-end test");
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    make_copy(w);
    edit_entities(w);
    build(w);
    let bin = target_dir().join("debug").join(BIN_NAME);

    // Generate without a database.
    let o = ok(run_bin(
        &bin,
        w,
        None,
        &["generate", "entity_edits", "--autogenerate"],
        &[],
    ));
    let out = stdout(&o);
    let created = out
        .lines()
        .find_map(|l| l.strip_prefix("Created "))
        .unwrap_or_else(|| panic!("no Created line: {out}"));
    let source = std::fs::read_to_string(created).unwrap();
    let module = Path::new(created)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        w.join(format!("migration/snapshots/{module}.json"))
            .is_file(),
        "{out}"
    );
    for expected in [
        "create table robot_firmware",
        "add column robots.firmware_version",
        "add column robots.retry_limit",
        "create index idx_robots_mode on robots",
        "drop column lidar_paths.safety_score",
        "rename column lidar_maps.origin_z to elevation",
        "add foreign key telemetry(robot_id) -> robots(id) ON DELETE RESTRICT",
        "alter column robots.battery_level",
        "drop column lidar_maps.resolution",
        "drop index idx_emergency_stops_resolved_by on emergency_stops",
    ] {
        assert!(out.contains(expected), "{expected} missing from:\n{out}");
    }
    assert!(
        source.contains("WARNING: destructive: drops column lidar_paths.safety_score"),
        "{source}"
    );
    // `down` re-adds the dropped NOT NULL column so that it runs on a table with rows.
    assert!(
        source.contains("runtime::fill_nulls(manager, \"lidar_maps\", \"resolution\", \"0\")")
            && source.contains("rebuild_sqlite_table_filling(")
            && source.contains("runtime::drop_index_under_foreign_key("),
        "{source}"
    );
    assert!(
        stderr(&o).contains("warning: destructive"),
        "{}",
        stderr(&o)
    );

    // Generating again right away finds nothing to change and writes nothing.
    let o = ok(run_bin(
        &bin,
        w,
        None,
        &["generate", "again", "--autogenerate"],
        &[],
    ));
    assert!(
        stdout(&o).starts_with("Nothing to change"),
        "{}",
        stdout(&o)
    );

    build(w);

    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let head = head();
    each_backend!("autogen_e2e", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        let run = |args: &[&str]| run_bin(&bin, d, Some(url), args, &[]);
        ok(run(&["up", "--to", &head]));
        let conn = db.connect().await;
        for sql in [
            "INSERT INTO robots (name, robot_type, status, mode, battery_level, created_at, updated_at) \
             VALUES ('r1', 'oht', 'IDLE', 'AUTO', 87, '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO telemetry (robot_id, timestamp, speed) \
             VALUES (1, '2025-01-01 00:00:00', 1.5)",
            "INSERT INTO telemetry (robot_id, timestamp, speed) \
             VALUES (1, '2025-01-01 00:00:01', 2.5)",
            "INSERT INTO safety_events (event_type, severity, robot_id, resolved, created_at) \
             VALUES ('bump', 'warning', 1, false, '2025-01-01 00:00:00')",
            "INSERT INTO emergency_stops (robot_id, trigger_type, resolved, created_at) \
             VALUES (1, 'manual', false, '2025-01-01 00:00:00')",
            "INSERT INTO lidar_maps (timestamp, resolution, width, height, origin_x, origin_y, origin_z) \
             VALUES ('2025-01-01 00:00:00', 0.05, 640, 480, 1.0, 2.0, 3.0)",
        ] {
            conn.execute_unprepared(sql).await.expect("insert rows");
        }
        let before = inspect::inspect(&conn).await.expect("inspect");

        let o = run(&["up", "--no-backup"]);
        assert!(
            !o.status.success() && stderr(&o).contains("destructive"),
            "{b:?}: up must refuse the dropped column without --allow-destructive: {}",
            stderr(&o)
        );
        ok(run(&["up", "--no-backup", "--allow-destructive"]));
        let o = run(&["drift"]);
        assert!(
            o.status.success(),
            "{b:?}: drift after up:\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
        // Diffed against the live database (its own spelling of defaults and types), the
        // entities need nothing more either.
        let o = ok(run_bin(
            &bin,
            w,
            Some(url),
            &["-u", url, "generate", "live_again", "--autogenerate"],
            &[],
        ));
        assert!(
            stdout(&o).starts_with("Nothing to change"),
            "{b:?}: generate against the database after up:\n{}",
            stdout(&o)
        );
        let after_up = inspect::inspect(&conn).await.expect("inspect");
        assert!(after_up.tables.contains_key("robot_firmware"), "{b:?}");
        assert_children_intact(&conn, "after up").await;
        let firmware: String = one(&conn, "SELECT firmware_version AS v FROM robots").await;
        assert_eq!(
            firmware, "unknown",
            "{b:?}: the string default fills the new column"
        );
        let battery: f64 = one(&conn, "SELECT battery_level AS v FROM robots").await;
        assert_eq!(battery, 87.0, "{b:?}: battery_level converted");
        let width: i32 = one(&conn, "SELECT width AS v FROM lidar_maps").await;
        assert_eq!(
            width, 640,
            "{b:?}: lidar_maps rows survive the dropped column"
        );
        let retry: i32 = conn
            .query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT retry_limit FROM robots",
            ))
            .await
            .expect("select")
            .expect("one robot")
            .try_get("", "retry_limit")
            .expect("retry_limit");
        assert_eq!(retry, 3, "{b:?}: the default fills the new NOT NULL column");

        ok(run(&["down", "--no-backup"]));
        assert_children_intact(&conn, "after down").await;
        // Other SQL text than after `up`: PostgreSQL's cached plan would expect a double.
        let battery: i32 = one(&conn, "SELECT battery_level AS v FROM robots WHERE id = 1").await;
        assert_eq!(battery, 87, "{b:?}: battery_level converted back");
        let resolution: f64 = one(&conn, "SELECT resolution AS v FROM lidar_maps").await;
        assert_eq!(
            resolution, 0.0,
            "{b:?}: down fills the re-added NOT NULL column"
        );
        let width: i32 = one(&conn, "SELECT width AS v FROM lidar_maps").await;
        assert_eq!(width, 640, "{b:?}: lidar_maps rows survive down");
        let after_down = inspect::inspect(&conn).await.expect("inspect");
        let diff = drift::compare(&before, &after_down, Some(b.db_backend()));
        assert!(
            diff.is_empty(),
            "{b:?}: down restores the schema: {:#?}",
            diff.differences
        );
        let _ = conn.close().await;
    });
}

/// The single value `v` of the first row of `sql`.
async fn one<T: sea_orm::TryGetable>(conn: &sea_orm::DatabaseConnection, sql: &str) -> T {
    conn.query_one_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        sql,
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .unwrap_or_else(|| panic!("{sql}: no row"))
    .try_get("", "v")
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The rows that reference robot 1 are all there, still pointing at it (no ON DELETE action
/// fired: telemetry and emergency_stops would be deleted, safety_events set to NULL), and on
/// SQLite no foreign key points at a missing row.
async fn assert_children_intact(conn: &sea_orm::DatabaseConnection, when: &str) {
    let b = conn.get_database_backend();
    for (table, rows) in [
        ("telemetry", 2),
        ("safety_events", 1),
        ("emergency_stops", 1),
    ] {
        let n: i64 = one(
            conn,
            &format!("SELECT COUNT(*) AS v FROM {table} WHERE robot_id = 1"),
        )
        .await;
        assert_eq!(n, rows, "{b:?} {when}: {table} rows of robot 1");
    }
    let robots: i64 = one(conn, "SELECT COUNT(*) AS v FROM robots WHERE id = 1").await;
    assert_eq!(robots, 1, "{b:?} {when}: robot 1");
    if b == sea_orm::DbBackend::Sqlite {
        let orphans = conn
            .query_all_raw(sea_orm::Statement::from_string(
                b,
                "PRAGMA foreign_key_check",
            ))
            .await
            .expect("foreign_key_check");
        assert!(orphans.is_empty(), "{when}: foreign_key_check reports rows");
    }
}
