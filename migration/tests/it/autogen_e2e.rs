//! HEAVY (two `cargo build`s of a copy of the workspace, about 1-2 minutes on 2 cores):
//! `generate --autogenerate` end to end, on every backend.
//!
//! A copy of the workspace (engine + entity + migration only, the same Cargo.lock, built into the same
//! target directory so dependencies are reused) gets a set of entity edits: a new table with a
//! foreign key and an index, a nullable column, a NOT NULL column with a default, a new index,
//! a changed ON DELETE action, a dropped column and a declared column rename. Its binary
//! generates the migration without a database; the copy is built again with it; then per
//! backend: migrations up to the old head, a robot and a telemetry row, `up` (the generated
//! migration), `drift` is empty and the rows survived, `down`, and the schema equals the schema
//! before.

use std::path::{Path, PathBuf};
use std::process::Command;

use migration_engine::review::drift;
use migration_engine::schema as inspect;
use sea_orm::ConnectionTrait;

use crate::support::{name_ending, ok, run_bin, stderr, stdout};

/// Where the copy's migrator ends: the spec's last hand-written schema migration (it has a
/// bootstrap snapshot).
fn head() -> String {
    name_ending("_safety_system")
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

fn edit_entities(dir: &Path) {
    let e = dir.join("entity/src");
    std::fs::write(e.join("robot_firmware.rs"), FIRMWARE).unwrap();
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
        "    #[sea_orm(column_type = \"String(StringLen::N(32))\", nullable)]\n    pub firmware_version: Option<String>,\n    #[sea_orm(default_value = 3)]\n    pub retry_limit: i32,\n    pub created_at: DateTime,",
    );
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
    ] {
        assert!(out.contains(expected), "{expected} missing from:\n{out}");
    }
    assert!(
        source.contains("WARNING: destructive: drops column lidar_paths.safety_score"),
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
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) \
             VALUES ('r1', 'oht', 'idle', 'auto', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO telemetry (robot_id, timestamp, speed) \
             VALUES (1, '2025-01-01 00:00:00', 1.5)",
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
        let after_up = inspect::inspect(&conn).await.expect("inspect");
        assert!(after_up.tables.contains_key("robot_firmware"), "{b:?}");
        let telemetry_rows = conn
            .query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT robot_id FROM telemetry",
            ))
            .await
            .expect("select");
        assert_eq!(telemetry_rows.len(), 1, "{b:?}: rows survive the change");
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
