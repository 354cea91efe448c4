//! `generate --autogenerate`: the bootstrap snapshot is the schema the migrations build, no
//! entity change writes nothing, and the generated code for a fixed edit is pinned.
//!
//! Update the pinned files with `UPDATE_SNAPSHOTS=1 cargo test -p migration --test autogen`
//! and review the diff.

use std::path::{Path, PathBuf};

use migration_engine::generate::autogen;
use migration_engine::review::drift;
use migration_engine::schema::{Column, ForeignKey, Index, Table};
use sea_orm::DbBackend;

use crate::support::{names, ok, run, stdout};
use test_support::Backend;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The head of the snapshot chain: the latest migration that has a schema snapshot.
fn head() -> String {
    names()
        .into_iter()
        .rev()
        .find(|m| crate_dir().join(format!("snapshots/{m}.json")).is_file())
        .expect("a migration with a snapshot")
}

fn updating() -> bool {
    std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1")
}

/// Compares `actual` with the pinned file, or rewrites it under UPDATE_SNAPSHOTS=1.
fn pinned(path: &Path, actual: &str) {
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with UPDATE_SNAPSHOTS=1", path.display()));
    assert!(
        expected == actual,
        "{} differs from what is generated now (UPDATE_SNAPSHOTS=1 rewrites it):\n{actual}",
        path.display()
    );
}

/// `lib.rs` of this crate without the migrations registered after the last one with a
/// snapshot (hand-written ones still in progress), so these tests pin the snapshot chain.
fn lib_up_to_head() -> String {
    let lib = std::fs::read_to_string(crate_dir().join("src/lib.rs")).unwrap();
    let registered = autogen::registered_migrations(&crate_dir().join("src")).unwrap();
    let head = head();
    let pos = registered
        .iter()
        .position(|m| *m == head)
        .expect("HEAD registered");
    let later = &registered[pos + 1..];
    lib.lines()
        .filter(|l| !later.iter().any(|m| l.contains(m.as_str())))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_head_snapshot_is_the_entity_schema() {
    let path = crate_dir().join(format!("snapshots/{}.json", head()));
    if updating() {
        autogen::write_snapshot(&path, &autogen::entity_snapshot(&migration::entities())).unwrap();
    }
    let head = autogen::read_snapshot(&path).expect("head snapshot");
    assert_eq!(head, autogen::entity_snapshot(&migration::entities()));
    assert_eq!(head.tables.len(), 10);
    let (up, down) = autogen::plan(
        &head,
        &autogen::entity_snapshot(&migration::entities()),
        DbBackend::Postgres,
        &migration::config(),
    );
    assert!(up.is_empty() && down.is_empty(), "{:?}", up.summary());
}

#[tokio::test]
async fn the_head_snapshot_is_what_the_migrations_build_on_postgres() {
    let Some(db) = test_support::TestDb::create(Backend::Postgres, "autogen_head").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let head_name = head();
    ok(run(dir.path(), Some(&db.url), &["up", "--to", &head_name]));
    let conn = db.connect().await;
    let mut live = migration_engine::schema::inspect(&conn)
        .await
        .expect("inspect");
    live.tables
        .retain(|name, _| !migration::config().is_tooling_table(name));
    let head =
        autogen::read_snapshot(&crate_dir().join(format!("snapshots/{head_name}.json"))).unwrap();
    let d = drift::compare(&head, &live, Some(DbBackend::Postgres));
    assert!(d.is_empty(), "{:#?}", d.differences);
    let _ = conn.close().await;
}

/// A directory holding a copy of this crate's registration list and snapshots, enough for
/// `generate` to run in without touching the real tree.
fn scratch_crate() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migration");
    std::fs::create_dir_all(m.join("src")).unwrap();
    std::fs::create_dir_all(m.join("snapshots")).unwrap();
    std::fs::write(
        m.join("Cargo.toml"),
        "[package]\nname = \"migration\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(m.join("src/lib.rs"), lib_up_to_head()).unwrap();
    let snap = format!("snapshots/{}.json", head());
    std::fs::copy(crate_dir().join(&snap), m.join(&snap)).unwrap();
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["migration/src", "migration/snapshots"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            out.push(format!(
                "{sub}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn no_entity_change_says_so_and_writes_nothing() {
    let dir = scratch_crate();
    let before = listing(dir.path());
    let lib_before = std::fs::read_to_string(dir.path().join("migration/src/lib.rs")).unwrap();
    let o = ok(run(
        dir.path(),
        None,
        &["generate", "nothing", "--autogenerate"],
    ));
    assert!(
        stdout(&o).starts_with("Nothing to change: the entity schema matches"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!("{}.json", head())),
        "{}",
        stdout(&o)
    );
    assert_eq!(listing(dir.path()), before);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("migration/src/lib.rs")).unwrap(),
        lib_before
    );
}

#[test]
fn a_missing_head_snapshot_is_explained() {
    let dir = scratch_crate();
    let head = head();
    std::fs::remove_file(dir.path().join(format!("migration/snapshots/{head}.json"))).unwrap();
    let o = run(dir.path(), None, &["generate", "x", "--autogenerate"]);
    assert_eq!(o.status.code(), Some(1));
    let err = crate::support::stderr(&o);
    assert!(
        err.contains(&format!("{head} has no schema snapshot")),
        "{err}"
    );
    assert!(err.contains("-u URL"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("migration/src"))
            .unwrap()
            .count(),
        1
    );
}

fn col(name: &str, ty: &str, nullable: bool, default: Option<&str>) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        nullable,
        default: default.map(str::to_string),
        auto_increment: false,
    }
}

/// The fixed edit of the pinned snapshot, made on the model: a new table with a foreign key
/// and an index, a nullable column, a NOT NULL column with a default, a new index, a changed
/// ON DELETE action and a dropped column.
fn fixed_edit() -> migration_engine::schema::Schema {
    let mut s = autogen::entity_snapshot(&migration::entities());
    let mut firmware = Table {
        primary_key: vec!["id".into()],
        ..Table::default()
    };
    firmware.columns = vec![
        Column {
            auto_increment: true,
            ..col("id", "integer", false, None)
        },
        col("robot_id", "integer", false, None),
        col("version", "character varying(20)", false, None),
        col("installed_at", "timestamp without time zone", false, None),
        col("notes", "jsonb", true, None),
    ];
    firmware.uniques.insert(vec!["version".into()]);
    firmware.foreign_keys.insert(ForeignKey {
        columns: vec!["robot_id".into()],
        ref_table: "robots".into(),
        ref_columns: vec!["id".into()],
        on_delete: "CASCADE".into(),
        on_update: "NO ACTION".into(),
    });
    firmware.indexes.insert(
        "idx_robot_firmware_robot".into(),
        Index {
            columns: vec!["robot_id".into()],
            unique: false,
        },
    );
    s.tables.insert("robot_firmware".into(), firmware);
    let robots = s.tables.get_mut("robots").unwrap();
    robots
        .columns
        .push(col("firmware_version", "character varying(32)", true, None));
    robots
        .columns
        .push(col("retry_limit", "integer", false, Some("3")));
    robots.indexes.insert(
        "idx_robots_mode".into(),
        Index {
            columns: vec!["mode".into()],
            unique: false,
        },
    );
    let telemetry = s.tables.get_mut("telemetry").unwrap();
    telemetry.foreign_keys = telemetry
        .foreign_keys
        .iter()
        .cloned()
        .map(|mut f| {
            f.on_delete = "RESTRICT".into();
            f
        })
        .collect();
    let paths = s.tables.get_mut("lidar_paths").unwrap();
    paths.columns.retain(|c| c.name != "safety_score");
    s
}

#[test]
fn generated_code_for_a_fixed_edit_is_pinned() {
    let head =
        autogen::read_snapshot(&crate_dir().join(format!("snapshots/{}.json", head()))).unwrap();
    let (up, down) = autogen::plan(
        &head,
        &fixed_edit(),
        DbBackend::Postgres,
        &migration::config(),
    );
    let summary = up.summary();
    for line in [
        "create table robot_firmware",
        "add column robots.firmware_version",
        "add column robots.retry_limit",
        "create index idx_robots_mode on robots",
        "drop column lidar_paths.safety_score",
        "drop foreign key telemetry(robot_id)",
        "add foreign key telemetry(robot_id) -> robots(id) ON DELETE RESTRICT ON UPDATE NO ACTION",
    ] {
        assert!(
            summary.iter().any(|s| s == line),
            "{line} not in {summary:#?}"
        );
    }
    assert!(
        up.warnings
            .iter()
            .any(|w| w.starts_with("destructive: drops column lidar_paths.safety_score")),
        "{:?}",
        up.warnings
    );
    assert!(
        down.summary()
            .contains(&"drop table robot_firmware".to_string())
    );
    let source = autogen::render_migration(
        "m20260101_000000_fixed_edit",
        "fixed_edit",
        &up,
        &down,
        DbBackend::Postgres,
    )
    .expect("render");
    assert!(
        autogen::rustfmt(&source).as_deref() == Some(source.as_str()),
        "rustfmt'd"
    );
    pinned(
        &crate_dir().join("tests/snapshots/m20260101_000000_fixed_edit.rs"),
        &source,
    );
}

/// Three versions of one test entity whose `status` is a string-backed `DeriveActiveEnum`:
/// v2 adds a variant, v3 also widens the column.
mod gadgets {
    macro_rules! gadget {
        ($name:ident, $len:literal, [$($variant:ident = $value:literal),*]) => {
            pub mod $name {
                use sea_orm::entity::prelude::*;

                #[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
                #[sea_orm(rs_type = "String", db_type = $len)]
                pub enum Status {
                    $(
                        #[sea_orm(string_value = $value)]
                        $variant,
                    )*
                }

                #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
                #[sea_orm(table_name = "gadgets")]
                pub struct Model {
                    #[sea_orm(primary_key)]
                    pub id: i32,
                    pub status: Status,
                }

                #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
                pub enum Relation {}

                impl ActiveModelBehavior for ActiveModel {}
            }
        };
    }
    gadget!(
        v1,
        "String(StringLen::N(20))",
        [Idle = "IDLE", Busy = "BUSY"]
    );
    gadget!(
        v2,
        "String(StringLen::N(20))",
        [Idle = "IDLE", Busy = "BUSY", Lost = "LOST"]
    );
    gadget!(
        v3,
        "String(StringLen::N(40))",
        [Idle = "IDLE", Busy = "BUSY", Lost = "LOST"]
    );
}

#[test]
fn a_new_enum_variant_needs_no_migration_unless_the_column_changes() {
    use migration_engine::schema::entities::Entities;
    let config = migration::config();
    for backend in [DbBackend::Postgres, DbBackend::MySql, DbBackend::Sqlite] {
        let v1 = Entities::new()
            .entity::<gadgets::v1::Entity>()
            .schema(backend);
        let v2 = Entities::new()
            .entity::<gadgets::v2::Entity>()
            .schema(backend);
        let v3 = Entities::new()
            .entity::<gadgets::v3::Entity>()
            .schema(backend);
        let (up, _) = autogen::plan(&v1, &v2, backend, &config);
        assert!(
            up.is_empty(),
            "{backend:?}: a new variant of a string enum is no schema change: {:?}",
            up.summary()
        );
        let (up, down) = autogen::plan(&v2, &v3, backend, &config);
        assert_eq!(
            up.summary(),
            vec!["alter column gadgets.status".to_string()],
            "{backend:?}"
        );
        assert!(
            up.alter_tables[0].alter_columns[0]
                .1
                .data_type
                .contains("40"),
            "{backend:?}"
        );
        assert_eq!(
            down.summary(),
            vec!["alter column gadgets.status".to_string()]
        );
    }
}

/// What the generated `up` runs for a dropped entity.
struct DropSafetyZones;

impl sea_orm_migration::MigrationName for DropSafetyZones {
    fn name(&self) -> &str {
        "m20260101_000000_drop_safety_zones"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for DropSafetyZones {
    async fn up(&self, manager: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        use sea_orm_migration::prelude::*;
        manager
            .drop_table(Table::drop().table(Alias::new("safety_zones")).take())
            .await
    }
}

#[tokio::test]
async fn dropping_an_entity_generates_a_destructive_guarded_drop() {
    let head =
        autogen::read_snapshot(&crate_dir().join(format!("snapshots/{}.json", head()))).unwrap();
    let mut target = head.clone();
    target.tables.remove("safety_zones").expect("safety_zones");
    let (up, down) = autogen::plan(&head, &target, DbBackend::Postgres, &migration::config());
    assert_eq!(up.summary(), vec!["drop table safety_zones".to_string()]);
    assert!(
        up.warnings
            .iter()
            .any(|w| w.starts_with("destructive: drops table safety_zones and all its rows")),
        "{:?}",
        up.warnings
    );
    assert_eq!(down.summary()[0], "create table safety_zones");
    let source = autogen::render_migration(
        "m20260101_000000_drop_safety_zones",
        "drop_safety_zones",
        &up,
        &down,
        DbBackend::Postgres,
    )
    .expect("render");
    assert!(
        source.contains("// DESTRUCTIVE: drops table safety_zones and its rows.")
            && source.contains("WARNING: destructive: drops table safety_zones")
            && source.contains("Table::drop().table(SafetyZones::Table)"),
        "{source}"
    );
    // The runner and lint refuse such an `up` unless destruction is allowed.
    for backend in [DbBackend::Postgres, DbBackend::MySql, DbBackend::Sqlite] {
        let found = migration_engine::plan::finding::destructive_findings(
            &[&DropSafetyZones as &dyn sea_orm_migration::MigrationTrait],
            backend,
        )
        .await;
        assert!(
            !found.is_empty(),
            "{backend:?}: the drop is a destructive finding"
        );
    }
}
