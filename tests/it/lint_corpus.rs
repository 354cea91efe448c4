//! The lint corpus: hazardous and safe migrations against the OHT-50 schema (its initial
//! migration), at least two of each per hazard class, each with its expected verdict, linted
//! on every backend the way `migration lint` does (a scratch database run the way the runner
//! runs, and a "connected" database with rows for the row-dependent rules). Prints, per
//! backend, how many hazards were caught or missed and how many safe migrations raised a false
//! alarm; every hazard must be caught and no safe migration may raise one.

use std::collections::BTreeMap;
use std::sync::Arc;

use migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use migration::{Migrator, MigratorTrait};
use migration_engine::author::batch::{self, BatchJob};
use migration_engine::author::{lint_allow, online};
use migration_engine::config::LintRuleOff;
use migration_engine::review::lint::{self, LintOptions, Severity};
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use test_support::{Backend, TestDb};

/// One step of a corpus migration.
#[derive(Clone)]
enum Op {
    /// The same SQL on every backend (unquoted names).
    Sql(&'static str),
    /// SQL per backend.
    Per(fn(DbBackend) -> String),
    Alter(TableAlterStatement),
    Index(IndexCreateStatement),
    DropIndex(IndexDropStatement),
    Fk(ForeignKeyCreateStatement),
    Rename(TableRenameStatement),
    /// `online::create_index(name, table, column)`.
    OnlineIndex(&'static str, &'static str, &'static str),
    /// `online::drop_index(name, table)`.
    OnlineDrop(&'static str, &'static str),
    /// `lint_allow::allow(rule, reason)`.
    Allow(&'static str, &'static str),
    /// A batched backfill of `robots.speed` ([`SpeedBackfill`]).
    Batch,
}

#[derive(Clone)]
struct CaseMigration {
    name: String,
    up: Vec<Op>,
    down: Vec<Op>,
    txn: Option<bool>,
}

impl MigrationName for CaseMigration {
    fn name(&self) -> &str {
        &self.name
    }
}

struct SpeedBackfill(String);

impl BatchJob for SpeedBackfill {
    fn name(&self) -> &str {
        &self.0
    }
    fn table(&self) -> &str {
        "robots"
    }
    fn key(&self) -> &str {
        "id"
    }
    fn statement(&self, backend: DbBackend, key_range: &str) -> String {
        let q = |c: &str| batch::quote(backend, c);
        format!(
            "UPDATE {} SET {} = COALESCE({}, 0) WHERE {key_range}",
            q("robots"),
            q("speed"),
            q("speed")
        )
    }
}

async fn run_ops(m: &SchemaManager<'_>, name: &str, ops: &[Op]) -> Result<(), DbErr> {
    let b = m.get_database_backend();
    for op in ops {
        match op.clone() {
            Op::Sql(s) => {
                m.get_connection().execute_unprepared(s).await?;
            }
            Op::Per(f) => {
                m.get_connection().execute_unprepared(&f(b)).await?;
            }
            Op::Alter(s) => m.alter_table(s).await?,
            Op::Index(s) => m.create_index(s).await?,
            Op::DropIndex(s) => m.drop_index(s).await?,
            Op::Fk(s) => m.create_foreign_key(s).await?,
            Op::Rename(s) => m.rename_table(s).await?,
            Op::OnlineIndex(ix, t, c) => online::create_index(m, name, ix, t, &[c]).await?,
            Op::OnlineDrop(ix, t) => online::drop_index(m, name, ix, t).await?,
            Op::Allow(rule, reason) => lint_allow::allow(m, rule, reason).await?,
            Op::Batch => {
                batch::run(m, &SpeedBackfill(name.to_string())).await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl MigrationTrait for CaseMigration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run_ops(m, &self.name, &self.up).await
    }
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run_ops(m, &self.name, &self.down).await
    }
    fn use_transaction(&self) -> Option<bool> {
        self.txn
    }
}

/// The expected verdict of a case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// A hazard: one of these rules must be reported.
    Hazard(&'static [&'static str]),
    /// Safe: no error or warning about it.
    Safe,
}

#[derive(Clone)]
struct Case {
    class: &'static str,
    label: &'static str,
    expect: Expect,
    /// Backends where the case exists (the hazard, or the safe statement, is meaningful).
    on: &'static [Backend],
    up: Vec<Op>,
    down: Vec<Op>,
    txn: Option<bool>,
    /// Migrations run before it (not linted).
    prep: Vec<(Vec<Op>, Option<bool>)>,
    /// Migrations after it (not linted).
    later: Vec<Op>,
}

const PG: &[Backend] = &[Backend::Postgres];
const PG_MY: &[Backend] = &[Backend::Postgres, Backend::MySql];
const MY: &[Backend] = &[Backend::MySql];
const ALL: &[Backend] = &[Backend::Sqlite, Backend::Postgres, Backend::MySql];

fn case(
    class: &'static str,
    label: &'static str,
    expect: Expect,
    on: &'static [Backend],
    up: Vec<Op>,
    down: Vec<Op>,
) -> Case {
    Case {
        class,
        label,
        expect,
        on,
        up,
        down,
        txn: None,
        prep: Vec::new(),
        later: Vec::new(),
    }
}

fn txn(mut c: Case, t: bool) -> Case {
    c.txn = Some(t);
    c
}

fn alter() -> TableAlterStatement {
    Table::alter().table(Alias::new("robots")).to_owned()
}

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}

fn add(c: ColumnDef) -> Op {
    Op::Alter(alter().add_column(c).to_owned())
}

fn drop_col(c: &str) -> Op {
    Op::Alter(alter().drop_column(Alias::new(c)).to_owned())
}

fn modify(c: ColumnDef) -> Op {
    Op::Alter(alter().modify_column(c).to_owned())
}

fn new_table(name: &'static str, int_key: bool, naive_time: bool) -> Op {
    Op::Per(match (name, int_key, naive_time) {
        ("gadgets", true, true) => |b| {
            match b {
            DbBackend::MySql => "CREATE TABLE gadgets (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, made_at datetime(6) NOT NULL)".into(),
            _ => "CREATE TABLE gadgets (id integer NOT NULL PRIMARY KEY, made_at timestamp NOT NULL)".into(),
        }
        },
        ("gadgets", false, false) => |b| {
            match b {
            DbBackend::MySql => "CREATE TABLE gadgets (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, made_at timestamp(6) NOT NULL)".into(),
            DbBackend::Postgres => "CREATE TABLE gadgets (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, made_at timestamptz NOT NULL)".into(),
            _ => "CREATE TABLE gadgets (id integer NOT NULL PRIMARY KEY, made_at text NOT NULL)".into(),
        }
        },
        ("parts", true, true) => {
            |b| {
                match b {
            DbBackend::MySql => "CREATE TABLE parts (id mediumint NOT NULL PRIMARY KEY, seen datetime NULL)".into(),
            _ => "CREATE TABLE parts (id serial PRIMARY KEY, seen timestamp without time zone NULL)".into(),
        }
            }
        }
        _ => |b| match b {
            DbBackend::MySql => {
                "CREATE TABLE parts (id bigint NOT NULL PRIMARY KEY, label varchar(20) NULL)".into()
            }
            DbBackend::Postgres => {
                "CREATE TABLE parts (id bigserial PRIMARY KEY, label varchar(20) NULL)".into()
            }
            _ => "CREATE TABLE parts (id integer NOT NULL PRIMARY KEY, label varchar(20) NULL)"
                .into(),
        },
    })
}

fn drop_table(name: &'static str) -> Op {
    Op::Per(match name {
        "gadgets" => |_| "DROP TABLE gadgets".into(),
        "parts" => |_| "DROP TABLE parts".into(),
        "robot_notes" => |_| "DROP TABLE robot_notes".into(),
        _ => |_| "DROP TABLE staging".into(),
    })
}

/// The corpus.
fn corpus() -> Vec<Case> {
    use Expect::{Hazard, Safe};
    let idx = |name: &str, c: &str, unique: bool| {
        let mut i = Index::create()
            .name(name)
            .table(Alias::new("robots"))
            .col(Alias::new(c))
            .to_owned();
        if unique {
            i.unique();
        }
        i
    };
    let idx_drop = |name: &str| {
        Index::drop()
            .name(name)
            .table(Alias::new("robots"))
            .to_owned()
    };
    let not_concurrently = &["pg-index-not-concurrently"][..];
    let drop_not_concurrently = &["pg-drop-index-not-concurrently"][..];
    let in_txn = &["concurrently-in-transaction", "migration-fails"][..];
    let not_null = &["add-column-not-null-without-default"][..];
    vec![
        // -- Index build without CONCURRENTLY on an existing table.
        case(
            "index-build",
            "plain index",
            Hazard(not_concurrently),
            PG,
            vec![Op::Index(idx("idx_robots_mode", "mode", false))],
            vec![Op::DropIndex(idx_drop("idx_robots_mode"))],
        ),
        case(
            "index-build",
            "plain unique index",
            Hazard(not_concurrently),
            PG,
            vec![Op::Index(idx("ux_robots_name", "name", true))],
            vec![Op::DropIndex(idx_drop("ux_robots_name"))],
        ),
        txn(
            case(
                "index-build",
                "online helper",
                Safe,
                ALL,
                vec![Op::OnlineIndex("idx_robots_mode", "robots", "mode")],
                vec![Op::OnlineDrop("idx_robots_mode", "robots")],
            ),
            false,
        ),
        case(
            "index-build",
            "index on a table it creates",
            Safe,
            ALL,
            vec![
                new_table("parts", false, false),
                Op::Sql("CREATE INDEX idx_parts_label ON parts (label)"),
            ],
            vec![drop_table("parts")],
        ),
        // -- Index drop without CONCURRENTLY.
        case(
            "index-drop",
            "sea-query drop",
            Hazard(drop_not_concurrently),
            PG,
            vec![Op::DropIndex(idx_drop("idx_robots_status"))],
            vec![Op::Index(idx("idx_robots_status", "status", false))],
        ),
        case(
            "index-drop",
            "raw drop if exists",
            Hazard(drop_not_concurrently),
            PG,
            vec![Op::Sql("DROP INDEX IF EXISTS idx_users_username")],
            vec![Op::Sql(
                "CREATE INDEX idx_users_username ON users (username)",
            )],
        ),
        txn(
            case(
                "index-drop",
                "online helper",
                Safe,
                ALL,
                vec![Op::OnlineDrop("idx_robots_status", "robots")],
                vec![Op::OnlineIndex("idx_robots_status", "robots", "status")],
            ),
            false,
        ),
        txn(
            case(
                "index-drop",
                "drop concurrently outside a transaction",
                Safe,
                PG,
                vec![Op::Sql(
                    "DROP INDEX CONCURRENTLY IF EXISTS idx_users_username",
                )],
                vec![Op::Sql(
                    "CREATE INDEX CONCURRENTLY idx_users_username ON users (username)",
                )],
            ),
            false,
        ),
        // -- CONCURRENTLY in a migration the runner wraps in a transaction (fails at deploy).
        case(
            "concurrently-in-transaction",
            "online helper without opt-out",
            Hazard(in_txn),
            PG,
            vec![Op::OnlineIndex("idx_robots_mode", "robots", "mode")],
            vec![Op::OnlineDrop("idx_robots_mode", "robots")],
        ),
        case(
            "concurrently-in-transaction",
            "raw concurrently",
            Hazard(in_txn),
            PG,
            vec![Op::Sql(
                "CREATE INDEX CONCURRENTLY idx_robots_mode ON robots (mode)",
            )],
            vec![Op::Sql("DROP INDEX CONCURRENTLY idx_robots_mode")],
        ),
        txn(
            case(
                "concurrently-in-transaction",
                "raw concurrently, opted out",
                Safe,
                PG,
                vec![Op::Sql(
                    "CREATE INDEX CONCURRENTLY idx_robots_mode ON robots (mode)",
                )],
                vec![Op::Sql("DROP INDEX CONCURRENTLY idx_robots_mode")],
            ),
            false,
        ),
        txn(
            case(
                "concurrently-in-transaction",
                "two online indexes, opted out",
                Safe,
                ALL,
                vec![
                    Op::OnlineIndex("idx_robots_mode", "robots", "mode"),
                    Op::OnlineIndex("idx_robots_type", "robots", "robot_type"),
                ],
                vec![
                    Op::OnlineDrop("idx_robots_type", "robots"),
                    Op::OnlineDrop("idx_robots_mode", "robots"),
                ],
            ),
            false,
        ),
        // -- ADD COLUMN NOT NULL without a default.
        case(
            "add-not-null",
            "varchar",
            Hazard(not_null),
            ALL,
            vec![add(col("serial_no").string_len(20).not_null().to_owned())],
            vec![drop_col("serial_no")],
        ),
        case(
            "add-not-null",
            "integer",
            Hazard(not_null),
            ALL,
            vec![add(col("shift").integer().not_null().to_owned())],
            vec![drop_col("shift")],
        ),
        case(
            "add-not-null",
            "down re-adds a dropped NOT NULL column",
            Hazard(not_null),
            ALL,
            vec![drop_col("mode")],
            vec![add(col("mode").string_len(20).not_null().to_owned())],
        ),
        case(
            "add-not-null",
            "with a default",
            Safe,
            ALL,
            vec![add(col("shift").integer().not_null().default(0).to_owned())],
            vec![drop_col("shift")],
        ),
        case(
            "add-not-null",
            "nullable",
            Safe,
            ALL,
            vec![add(col("serial_no").string_len(20).null().to_owned())],
            vec![drop_col("serial_no")],
        ),
        // -- Volatile defaults (PostgreSQL rewrites the table).
        case(
            "volatile-default",
            "gen_random_uuid()",
            Hazard(&["pg-volatile-default"]),
            PG,
            vec![add(col("token")
                .uuid()
                .null()
                .default(Expr::cust("gen_random_uuid()"))
                .to_owned())],
            vec![drop_col("token")],
        ),
        case(
            "volatile-default",
            "random()",
            Hazard(&["pg-volatile-default"]),
            PG,
            vec![add(col("jitter")
                .double()
                .null()
                .default(Expr::cust("random()"))
                .to_owned())],
            vec![drop_col("jitter")],
        ),
        case(
            "volatile-default",
            "now() is stable",
            Safe,
            PG,
            vec![add(col("seen_at")
                .timestamp_with_time_zone()
                .not_null()
                .default(Expr::cust("now()"))
                .to_owned())],
            vec![drop_col("seen_at")],
        ),
        case(
            "volatile-default",
            "constant",
            Safe,
            ALL,
            vec![add(col("retries")
                .integer()
                .not_null()
                .default(3)
                .to_owned())],
            vec![drop_col("retries")],
        ),
        // -- Type changes that rewrite / copy the table.
        case(
            "type-rewrite",
            "integer to bigint",
            Hazard(&["pg-type-change-rewrite", "mysql-type-change-copy"]),
            PG_MY,
            vec![modify(col("battery_level").big_integer().null().to_owned())],
            vec![modify(col("battery_level").integer().null().to_owned())],
        ),
        case(
            "type-rewrite",
            "double to text",
            Hazard(&["pg-type-change-rewrite", "mysql-type-change-copy"]),
            PG_MY,
            vec![Op::Per(|b| match b {
                DbBackend::Postgres => {
                    "ALTER TABLE robots ALTER COLUMN temperature TYPE text USING temperature::text"
                        .into()
                }
                _ => "ALTER TABLE robots MODIFY COLUMN temperature varchar(40) NULL".into(),
            })],
            vec![Op::Per(|b| {
                match b {
                DbBackend::Postgres => "ALTER TABLE robots ALTER COLUMN temperature TYPE double precision USING temperature::double precision".into(),
                _ => "ALTER TABLE robots MODIFY COLUMN temperature double NULL".into(),
            }
            })],
        ),
        case(
            "type-rewrite",
            "widening a varchar",
            Safe,
            PG_MY,
            vec![modify(col("name").string_len(200).not_null().to_owned())],
            vec![modify(col("name").string_len(100).not_null().to_owned())],
        ),
        case(
            "type-rewrite",
            "varchar to text",
            Safe,
            PG,
            vec![modify(col("robot_type").text().not_null().to_owned())],
            vec![modify(
                col("robot_type").string_len(50).not_null().to_owned(),
            )],
        ),
        // -- SET NOT NULL on an existing column.
        case(
            "set-not-null",
            "raw SET NOT NULL",
            Hazard(&["pg-set-not-null"]),
            PG,
            vec![Op::Sql(
                "ALTER TABLE robots ALTER COLUMN speed SET NOT NULL",
            )],
            vec![Op::Sql(
                "ALTER TABLE robots ALTER COLUMN speed DROP NOT NULL",
            )],
        ),
        case(
            "set-not-null",
            "modify_column to NOT NULL",
            Hazard(&["pg-set-not-null"]),
            PG,
            vec![modify(col("temperature").double().not_null().to_owned())],
            vec![modify(col("temperature").double().null().to_owned())],
        ),
        case(
            "set-not-null",
            "modify_column of an already NOT NULL column",
            Safe,
            PG_MY,
            vec![modify(col("status").string_len(20).not_null().to_owned())],
            vec![],
        ),
        Case {
            prep: vec![(
                vec![
                    Op::Sql(
                        "ALTER TABLE robots ADD CONSTRAINT robots_speed_nn CHECK (speed IS NOT NULL) NOT VALID",
                    ),
                    Op::Sql("ALTER TABLE robots VALIDATE CONSTRAINT robots_speed_nn"),
                ],
                Some(false),
            )],
            ..case(
                "set-not-null",
                "after a validated CHECK (col IS NOT NULL)",
                Safe,
                PG,
                vec![Op::Sql(
                    "ALTER TABLE robots ALTER COLUMN speed SET NOT NULL",
                )],
                vec![Op::Sql(
                    "ALTER TABLE robots ALTER COLUMN speed DROP NOT NULL",
                )],
            )
        },
        // -- FOREIGN KEY / CHECK without NOT VALID.
        case(
            "constraint-not-valid",
            "foreign key",
            Hazard(&["pg-constraint-without-not-valid"]),
            PG,
            vec![Op::Fk(
                ForeignKey::create()
                    .name("telemetry_robot_fk2")
                    .from(Alias::new("telemetry"), Alias::new("robot_id"))
                    .to(Alias::new("robots"), Alias::new("id"))
                    .to_owned(),
            )],
            vec![Op::Sql(
                "ALTER TABLE telemetry DROP CONSTRAINT telemetry_robot_fk2",
            )],
        ),
        case(
            "constraint-not-valid",
            "check",
            Hazard(&["pg-constraint-without-not-valid"]),
            PG,
            vec![Op::Sql(
                "ALTER TABLE robots ADD CONSTRAINT robots_battery_range CHECK (battery_level BETWEEN 0 AND 100)",
            )],
            vec![Op::Sql(
                "ALTER TABLE robots DROP CONSTRAINT robots_battery_range",
            )],
        ),
        case(
            "constraint-not-valid",
            "check NOT VALID",
            Safe,
            PG,
            vec![Op::Sql(
                "ALTER TABLE robots ADD CONSTRAINT robots_battery_range CHECK (battery_level BETWEEN 0 AND 100) NOT VALID",
            )],
            vec![Op::Sql(
                "ALTER TABLE robots DROP CONSTRAINT robots_battery_range",
            )],
        ),
        case(
            "constraint-not-valid",
            "foreign key NOT VALID",
            Safe,
            PG,
            vec![Op::Sql(
                "ALTER TABLE telemetry ADD CONSTRAINT telemetry_robot_fk2 FOREIGN KEY (robot_id) REFERENCES robots (id) NOT VALID",
            )],
            vec![Op::Sql(
                "ALTER TABLE telemetry DROP CONSTRAINT telemetry_robot_fk2",
            )],
        ),
        // -- NOT VALID + VALIDATE in the same transaction.
        case(
            "validate-same-transaction",
            "check",
            Hazard(&["pg-validate-in-same-transaction"]),
            PG,
            vec![
                Op::Sql(
                    "ALTER TABLE robots ADD CONSTRAINT robots_battery_range CHECK (battery_level BETWEEN 0 AND 100) NOT VALID",
                ),
                Op::Sql("ALTER TABLE robots VALIDATE CONSTRAINT robots_battery_range"),
            ],
            vec![Op::Sql(
                "ALTER TABLE robots DROP CONSTRAINT robots_battery_range",
            )],
        ),
        case(
            "validate-same-transaction",
            "foreign key",
            Hazard(&["pg-validate-in-same-transaction"]),
            PG,
            vec![
                Op::Sql(
                    "ALTER TABLE telemetry ADD CONSTRAINT telemetry_robot_fk2 FOREIGN KEY (robot_id) REFERENCES robots (id) NOT VALID",
                ),
                Op::Sql("ALTER TABLE telemetry VALIDATE CONSTRAINT telemetry_robot_fk2"),
            ],
            vec![Op::Sql(
                "ALTER TABLE telemetry DROP CONSTRAINT telemetry_robot_fk2",
            )],
        ),
        txn(
            case(
                "validate-same-transaction",
                "check, outside a transaction",
                Safe,
                PG,
                vec![
                    Op::Sql(
                        "ALTER TABLE robots ADD CONSTRAINT robots_battery_range CHECK (battery_level BETWEEN 0 AND 100) NOT VALID",
                    ),
                    Op::Sql("ALTER TABLE robots VALIDATE CONSTRAINT robots_battery_range"),
                ],
                vec![Op::Sql(
                    "ALTER TABLE robots DROP CONSTRAINT robots_battery_range",
                )],
            ),
            false,
        ),
        Case {
            prep: vec![(
                vec![Op::Sql(
                    "ALTER TABLE robots ADD CONSTRAINT robots_battery_range CHECK (battery_level BETWEEN 0 AND 100) NOT VALID",
                )],
                None,
            )],
            ..case(
                "validate-same-transaction",
                "validate in a later migration",
                Safe,
                PG,
                vec![Op::Sql(
                    "ALTER TABLE robots VALIDATE CONSTRAINT robots_battery_range",
                )],
                vec![],
            )
        },
        // -- ADD UNIQUE constraint instead of a concurrent unique index + USING INDEX.
        case(
            "add-unique",
            "unique constraint",
            Hazard(&["pg-add-unique-constraint"]),
            PG,
            vec![Op::Sql(
                "ALTER TABLE robots ADD CONSTRAINT robots_name_key UNIQUE (name)",
            )],
            vec![Op::Sql(
                "ALTER TABLE robots DROP CONSTRAINT robots_name_key",
            )],
        ),
        case(
            "add-unique",
            "two-column unique constraint",
            Hazard(&["pg-add-unique-constraint"]),
            PG,
            vec![Op::Sql(
                "ALTER TABLE robots ADD CONSTRAINT robots_type_name_key UNIQUE (robot_type, name)",
            )],
            vec![Op::Sql(
                "ALTER TABLE robots DROP CONSTRAINT robots_type_name_key",
            )],
        ),
        txn(
            case(
                "add-unique",
                "concurrent unique index + USING INDEX",
                Safe,
                PG,
                vec![
                    Op::Sql("CREATE UNIQUE INDEX CONCURRENTLY robots_name_key ON robots (name)"),
                    Op::Sql(
                        "ALTER TABLE robots ADD CONSTRAINT robots_name_key UNIQUE USING INDEX robots_name_key",
                    ),
                ],
                vec![Op::Sql(
                    "ALTER TABLE robots DROP CONSTRAINT robots_name_key",
                )],
            ),
            false,
        ),
        case(
            "add-unique",
            "unique in a new table",
            Safe,
            ALL,
            vec![Op::Sql(
                "CREATE TABLE staging (id bigint NOT NULL PRIMARY KEY, code varchar(20) NOT NULL, CONSTRAINT staging_code_key UNIQUE (code))",
            )],
            vec![drop_table("staging")],
        ),
        // -- Renames (break running instances).
        case(
            "rename",
            "column",
            Hazard(&["rename-column"]),
            ALL,
            vec![Op::Alter(
                alter()
                    .rename_column(Alias::new("robot_type"), Alias::new("kind"))
                    .to_owned(),
            )],
            vec![Op::Alter(
                alter()
                    .rename_column(Alias::new("kind"), Alias::new("robot_type"))
                    .to_owned(),
            )],
        ),
        case(
            "rename",
            "table",
            Hazard(&["rename-table"]),
            ALL,
            vec![Op::Rename(
                Table::rename()
                    .table(Alias::new("telemetry"), Alias::new("robot_telemetry"))
                    .to_owned(),
            )],
            vec![Op::Rename(
                Table::rename()
                    .table(Alias::new("robot_telemetry"), Alias::new("telemetry"))
                    .to_owned(),
            )],
        ),
        case(
            "rename",
            "expand: a new column",
            Safe,
            ALL,
            vec![add(col("kind").string_len(50).null().to_owned())],
            vec![drop_col("kind")],
        ),
        case(
            "rename",
            "a table it creates",
            Safe,
            ALL,
            vec![
                new_table("parts", false, false),
                Op::Sql("ALTER TABLE parts RENAME TO staging"),
            ],
            vec![drop_table("staging")],
        ),
        // -- Dropping a column or table.
        case(
            "drop",
            "column",
            Hazard(&["drop-column"]),
            ALL,
            vec![drop_col("temperature")],
            vec![add(col("temperature").double().null().to_owned())],
        ),
        Case {
            prep: vec![(vec![new_table("parts", false, false)], None)],
            ..case(
                "drop",
                "table",
                Hazard(&["drop-table"]),
                ALL,
                vec![drop_table("parts")],
                vec![new_table("parts", false, false)],
            )
        },
        case(
            "drop",
            "a staging table it creates",
            Safe,
            ALL,
            vec![new_table("parts", false, false), drop_table("parts")],
            vec![],
        ),
        case(
            "drop",
            "an index on a table it creates",
            Safe,
            ALL,
            vec![
                new_table("parts", false, false),
                Op::Sql("CREATE INDEX idx_parts_label ON parts (label)"),
                Op::Per(|b| match b {
                    DbBackend::MySql => "DROP INDEX idx_parts_label ON parts".into(),
                    _ => "DROP INDEX idx_parts_label".into(),
                }),
            ],
            vec![drop_table("parts")],
        ),
        // -- FK column without an index.
        case(
            "fk-index",
            "new table",
            Hazard(&["fk-without-index"]),
            ALL,
            vec![Op::Sql(
                "CREATE TABLE robot_notes (id bigint NOT NULL PRIMARY KEY, robot_id integer NOT NULL, body text NULL, CONSTRAINT robot_notes_robot_fk FOREIGN KEY (robot_id) REFERENCES robots (id))",
            )],
            vec![drop_table("robot_notes")],
        ),
        case(
            "fk-index",
            "new column",
            Hazard(&["fk-without-index"]),
            ALL,
            vec![Op::Per(|b| {
                match b {
                DbBackend::MySql => "ALTER TABLE robots ADD COLUMN owner_id integer NULL, ADD CONSTRAINT robots_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id)".into(),
                _ => "ALTER TABLE robots ADD COLUMN owner_id integer NULL REFERENCES users (id)".into(),
            }
            })],
            vec![Op::Per(|b| {
                match b {
                DbBackend::MySql => "ALTER TABLE robots DROP FOREIGN KEY robots_owner_fk, DROP INDEX robots_owner_fk, DROP COLUMN owner_id".into(),
                _ => "ALTER TABLE robots DROP COLUMN owner_id".into(),
            }
            })],
        ),
        case(
            "fk-index",
            "indexed in the same migration",
            Safe,
            ALL,
            vec![
                Op::Sql(
                    "CREATE TABLE robot_notes (id bigint NOT NULL PRIMARY KEY, robot_id integer NOT NULL, body text NULL, CONSTRAINT robot_notes_robot_fk FOREIGN KEY (robot_id) REFERENCES robots (id))",
                ),
                Op::Sql("CREATE INDEX idx_robot_notes_robot ON robot_notes (robot_id)"),
            ],
            vec![drop_table("robot_notes")],
        ),
        Case {
            later: vec![Op::Sql(
                "CREATE INDEX idx_robot_notes_robot ON robot_notes (robot_id)",
            )],
            ..case(
                "fk-index",
                "indexed by a later migration",
                Safe,
                ALL,
                vec![Op::Sql(
                    "CREATE TABLE robot_notes (id bigint NOT NULL PRIMARY KEY, robot_id integer NOT NULL, body text NULL, CONSTRAINT robot_notes_robot_fk FOREIGN KEY (robot_id) REFERENCES robots (id))",
                )],
                vec![drop_table("robot_notes")],
            )
        },
        // -- Whole-table UPDATE/DELETE in one statement.
        case(
            "whole-table-dml",
            "update",
            Hazard(&["whole-table-update"]),
            ALL,
            vec![Op::Sql("UPDATE robots SET speed = 0 WHERE speed IS NULL")],
            vec![],
        ),
        case(
            "whole-table-dml",
            "delete",
            Hazard(&["whole-table-update"]),
            ALL,
            vec![Op::Sql("DELETE FROM telemetry")],
            vec![],
        ),
        txn(
            case(
                "whole-table-dml",
                "batched helper",
                Safe,
                ALL,
                vec![Op::Batch],
                vec![],
            ),
            false,
        ),
        case(
            "whole-table-dml",
            "one row",
            Safe,
            ALL,
            vec![Op::Sql("UPDATE robots SET status = 'idle' WHERE id = 1")],
            vec![],
        ),
        // -- Advice: integer keys and timestamps without time zone on new tables.
        case(
            "advice",
            "integer key, timestamp",
            Hazard(&["integer-primary-key", "timestamp-without-time-zone"]),
            PG_MY,
            vec![new_table("gadgets", true, true)],
            vec![drop_table("gadgets")],
        ),
        case(
            "advice",
            "serial/mediumint key, datetime",
            Hazard(&["integer-primary-key", "timestamp-without-time-zone"]),
            PG_MY,
            vec![new_table("parts", true, true)],
            vec![drop_table("parts")],
        ),
        case(
            "advice",
            "bigint key, zoned timestamp",
            Safe,
            ALL,
            vec![new_table("gadgets", false, false)],
            vec![drop_table("gadgets")],
        ),
        case(
            "advice",
            "bigint key, no timestamp",
            Safe,
            ALL,
            vec![new_table("parts", false, false)],
            vec![drop_table("parts")],
        ),
        // -- MySQL/MariaDB: a type change that copies the table.
        case(
            "type-rewrite",
            "varchar crossing 255 bytes",
            Hazard(&["mysql-type-change-copy"]),
            MY,
            vec![modify(col("status").string_len(80).not_null().to_owned())],
            vec![modify(col("status").string_len(20).not_null().to_owned())],
        ),
    ]
}

fn migrations_for(c: &Case) -> (Vec<Box<dyn MigrationTrait>>, usize) {
    let mut list: Vec<Box<dyn MigrationTrait>> =
        Migrator::migrations().into_iter().take(1).collect();
    for (i, (up, t)) in c.prep.iter().enumerate() {
        list.push(Box::new(CaseMigration {
            name: format!("m20260101_00000{i}_prep"),
            up: up.clone(),
            down: vec![],
            txn: *t,
        }));
    }
    let index = list.len();
    list.push(Box::new(CaseMigration {
        name: "m20260102_000000_case".into(),
        up: c.up.clone(),
        down: c.down.clone(),
        txn: c.txn,
    }));
    if !c.later.is_empty() {
        list.push(Box::new(CaseMigration {
            name: "m20260103_000000_later".into(),
            up: c.later.clone(),
            down: vec![],
            txn: Some(false),
        }));
    }
    (list, index)
}

/// A database with the OHT-50 initial schema and a few rows: the "connected" database whose
/// row counts lint weighs row-dependent findings against.
async fn with_rows(backend: Backend, rows: bool) -> Option<(TestDb, DatabaseConnection)> {
    let db = TestDb::create(backend, "lint_corpus_rows").await?;
    let conn = db.connect().await;
    let m = &Migrator::migrations()[0];
    m.up(&SchemaManager::new(&conn))
        .await
        .expect("initial schema");
    if rows {
        for sql in [
            "INSERT INTO users (username, email, password_hash, role, is_active, created_at, updated_at) VALUES ('op', 'op@example.com', 'x', 'operator', TRUE, '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) VALUES ('oht-1', 'oht', 'idle', 'auto', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) VALUES ('oht-2', 'oht', 'idle', 'auto', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            "INSERT INTO telemetry (robot_id, timestamp) VALUES (1, '2025-01-01 00:00:00')",
        ] {
            conn.execute_unprepared(sql).await.expect(sql);
        }
    }
    Some((db, conn))
}

#[derive(Default, Debug)]
struct Tally {
    caught: usize,
    missed: Vec<String>,
    safe: usize,
    false_alarms: Vec<String>,
}

/// Lints case `c` with `scratch` as the scratch database (emptied first).
async fn lint_case_on(
    backend: Backend,
    c: &Case,
    scratch: &DatabaseConnection,
    rows: &DatabaseConnection,
) -> Vec<lint::Finding> {
    migration_engine::db::drop_all_tables(scratch)
        .await
        .expect("empty the scratch database");
    let (migrations, index) = migrations_for(c);
    lint::lint_report(
        &migrations,
        &[index],
        backend.db_backend(),
        &LintOptions {
            scratch: Some(scratch),
            rows_from: Some(rows),
            ..LintOptions::default()
        },
    )
    .await
    .findings
}

async fn lint_case(
    backend: Backend,
    c: Case,
    rows: Arc<DatabaseConnection>,
) -> Option<(Case, Vec<lint::Finding>)> {
    let scratch_db = TestDb::create(backend, "lint_corpus").await?;
    let scratch = scratch_db.connect().await;
    let findings = lint_case_on(backend, &c, &scratch, &rows).await;
    let _ = scratch.close().await;
    Some((c, findings))
}

/// Lints `cases` with one scratch database, one case after the other.
async fn lint_cases(
    backend: Backend,
    cases: Vec<Case>,
    rows: Arc<DatabaseConnection>,
) -> Vec<(Case, Vec<lint::Finding>)> {
    let Some(scratch_db) = TestDb::create(backend, "lint_corpus").await else {
        return Vec::new();
    };
    let scratch = scratch_db.connect().await;
    let mut out = Vec::new();
    for c in cases {
        let findings = lint_case_on(backend, &c, &scratch, &rows).await;
        out.push((c, findings));
    }
    let _ = scratch.close().await;
    out
}

#[tokio::test]
async fn corpus_verdicts_on_every_backend() {
    let mut summary = BTreeMap::new();
    for backend in test_support::ALL {
        let Some((_rows_db, rows)) = with_rows(backend, true).await else {
            continue;
        };
        let rows = Arc::new(rows);
        let cases: Vec<Case> = corpus()
            .into_iter()
            .filter(|c| c.on.contains(&backend))
            .collect();
        let mut tally = Tally::default();
        // Three workers, each with its own scratch database.
        let mut set = tokio::task::JoinSet::new();
        let workers = 3;
        for w in 0..workers {
            let share: Vec<Case> = cases.iter().skip(w).step_by(workers).cloned().collect();
            set.spawn(lint_cases(backend, share, rows.clone()));
        }
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            results.extend(r.expect("case task"));
        }
        for (c, findings) in results {
            let about: Vec<&lint::Finding> = findings
                .iter()
                .filter(|f| f.migration == "m20260102_000000_case")
                .collect();
            let id = format!("{}: {}", c.class, c.label);
            match c.expect {
                Expect::Hazard(rules) => {
                    if about.iter().any(|f| rules.contains(&f.rule.as_str())) {
                        tally.caught += 1;
                    } else {
                        tally.missed.push(format!("{id} -> {about:#?}"));
                    }
                }
                Expect::Safe => {
                    tally.safe += 1;
                    let alarms: Vec<&&lint::Finding> = about
                        .iter()
                        .filter(|f| f.severity != Severity::Advice)
                        .collect();
                    if !alarms.is_empty() {
                        tally.false_alarms.push(format!("{id} -> {alarms:#?}"));
                    }
                }
            }
        }
        eprintln!(
            "lint corpus {backend:?}: {} hazard(s) caught, {} missed; {} safe migration(s), {} false alarm(s)",
            tally.caught,
            tally.missed.len(),
            tally.safe,
            tally.false_alarms.len()
        );
        summary.insert(format!("{backend:?}"), tally);
    }
    for (backend, t) in &summary {
        assert!(t.caught >= 10, "{backend}: too few hazards ran: {t:#?}");
        assert!(t.missed.is_empty(), "{backend}: missed: {:#?}", t.missed);
        assert!(
            t.false_alarms.is_empty(),
            "{backend}: false alarms: {:#?}",
            t.false_alarms
        );
    }
}

/// Row-dependent findings are weighed against the connected database's rows: ADD COLUMN NOT
/// NULL without a default fails on PostgreSQL where the table has rows (an error), and only
/// depends on rows where it is empty (a warning).
#[tokio::test]
async fn row_dependent_findings_follow_the_connected_rows() {
    let hazard = corpus()
        .into_iter()
        .find(|c| c.class == "add-not-null" && c.label == "varchar")
        .expect("case");
    for (with, severity, says) in [
        (true, Severity::Error, "has 2 row(s)"),
        (false, Severity::Warning, "is empty"),
    ] {
        let Some((_db, rows)) = with_rows(Backend::Postgres, with).await else {
            return;
        };
        let (_, findings) = lint_case(Backend::Postgres, hazard.clone(), Arc::new(rows))
            .await
            .expect("lint");
        let f = findings
            .iter()
            .find(|f| f.rule == "add-column-not-null-without-default")
            .expect("finding");
        assert_eq!(f.severity, severity, "{f:#?}");
        assert!(
            f.message.contains(says) && f.message.contains("depends on existing rows"),
            "{f:#?}"
        );
    }
}

/// A rule switched off in the migration (with its reason) or by the configuration is listed
/// apart, not reported; an unknown rule name is reported.
#[tokio::test]
async fn rules_switched_off_by_the_migration_or_configuration() {
    each_backend!("lint_allow", |db| {
        let b = db.backend;
        let scratch = db.connect().await;
        let mut c = corpus()
            .into_iter()
            .find(|c| c.class == "rename" && c.label == "column")
            .expect("case");
        c.up.insert(
            0,
            Op::Allow("rename-column", "no release reads robot_type yet"),
        );
        c.up.insert(0, Op::Allow("no-such-rule", "typo"));
        let (migrations, index) = migrations_for(&c);
        let report = lint::lint_report(
            &migrations,
            &[index],
            b.db_backend(),
            &LintOptions {
                scratch: Some(&scratch),
                ..LintOptions::default()
            },
        )
        .await;
        let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["unknown-lint-allow"], "{b:?}: {report:#?}");
        assert_eq!(report.suppressed.len(), 1, "{b:?}: {report:#?}");
        assert_eq!(report.suppressed[0].by, "migration");
        assert_eq!(
            report.suppressed[0].reason,
            "no release reads robot_type yet"
        );
        // The allowance is a flag: it is in no statement and no checksum.
        let captured = migration_engine::plan::capture::capture(
            migrations[index].as_ref(),
            migration_engine::Direction::Up,
            b.db_backend(),
        )
        .await
        .expect("capture");
        assert!(
            captured
                .statements
                .iter()
                .all(|s| !s.contains("lint-allow"))
        );
        let mut plain = c.clone();
        plain.up.drain(..2);
        let (plain_migrations, _) = migrations_for(&plain);
        let plain_capture = migration_engine::plan::capture::capture(
            plain_migrations[index].as_ref(),
            migration_engine::Direction::Up,
            b.db_backend(),
        )
        .await
        .expect("capture");
        assert_eq!(captured.checksum(), plain_capture.checksum());
        // Project-wide, up to a migration.
        let off = [LintRuleOff {
            rule: "rename-column".into(),
            reason: "renames are coordinated".into(),
            through: Some("m20260102_000000_case".into()),
        }];
        let (migrations, index) = migrations_for(&plain);
        let scratch2 = TestDb::create(b, "lint_allow_cfg").await.expect("db");
        let conn2 = scratch2.connect().await;
        let report = lint::lint_report(
            &migrations,
            &[index],
            b.db_backend(),
            &LintOptions {
                scratch: Some(&conn2),
                rules_off: &off,
                ..LintOptions::default()
            },
        )
        .await;
        assert!(report.findings.is_empty(), "{b:?}: {report:#?}");
        assert_eq!(report.suppressed[0].by, "configuration");
        let _ = conn2.close().await;
        let _ = scratch.close().await;
    });
}
