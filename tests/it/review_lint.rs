//! Lint rules, each triggered by a small migration defined here and linted with a real scratch
//! database of each backend; the spec migrations' own findings; and `up` refusing destructive
//! migrations unless allowed.

use migration::sea_orm::{ConnectionTrait, DbBackend};
use migration::{Migrator, MigratorTrait};
use migration_engine::review::lint::{self, Finding, Severity};
use migration_engine::{Runner, Target};
use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use test_support::{Backend, TestDb};

#[derive(DeriveIden)]
enum Owners {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Widgets {
    Table,
    Id,
    OwnerId,
    Name,
    Note,
    Size,
    Score,
}

/// A test migration: a name, an up and a down.
struct Step {
    name: &'static str,
    up: fn(&SchemaManager) -> Vec<Op>,
    down: Option<fn(&SchemaManager) -> Vec<Op>>,
}

enum Op {
    Create(TableCreateStatement),
    Drop(TableDropStatement),
    Alter(TableAlterStatement),
    Truncate(TableTruncateStatement),
    Index(IndexCreateStatement),
    DropIndex(IndexDropStatement),
    Fk(ForeignKeyCreateStatement),
    Raw(String),
}

impl MigrationName for Step {
    fn name(&self) -> &str {
        self.name
    }
}

async fn run_ops(m: &SchemaManager<'_>, ops: Vec<Op>) -> Result<(), DbErr> {
    for op in ops {
        match op {
            Op::Create(s) => m.create_table(s).await?,
            Op::Drop(s) => m.drop_table(s).await?,
            Op::Alter(s) => m.alter_table(s).await?,
            Op::Truncate(s) => m.truncate_table(s).await?,
            Op::Index(s) => m.create_index(s).await?,
            Op::DropIndex(s) => m.drop_index(s).await?,
            Op::Fk(s) => m.create_foreign_key(s).await?,
            Op::Raw(s) => {
                m.get_connection().execute_unprepared(&s).await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl MigrationTrait for Step {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        run_ops(m, (self.up)(m)).await
    }
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        match self.down {
            Some(down) => run_ops(m, down(m)).await,
            None => Err(DbErr::Migration("We Don't Support Down Migration".into())),
        }
    }
}

fn widgets_table() -> TableCreateStatement {
    Table::create()
        .table(Widgets::Table)
        .col(
            ColumnDef::new(Widgets::Id)
                .integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(Widgets::OwnerId).integer().null())
        .col(ColumnDef::new(Widgets::Name).string_len(50).null())
        .col(ColumnDef::new(Widgets::Note).text().null())
        .col(ColumnDef::new(Widgets::Size).integer().null())
        .foreign_key(
            ForeignKey::create()
                .name("widgets_owner_id_fkey")
                .from(Widgets::Table, Widgets::OwnerId)
                .to(Owners::Table, Owners::Id),
        )
        .to_owned()
}

/// The base every test migration runs after: `owners`, `widgets` (FK owner_id, indexed).
fn base() -> Step {
    Step {
        name: "m20260101_000000_base",
        up: |_| {
            vec![
                Op::Create(
                    Table::create()
                        .table(Owners::Table)
                        .col(
                            ColumnDef::new(Owners::Id)
                                .integer()
                                .not_null()
                                .auto_increment()
                                .primary_key(),
                        )
                        .to_owned(),
                ),
                Op::Create(widgets_table()),
                Op::Index(
                    Index::create()
                        .name("idx_widgets_owner")
                        .table(Widgets::Table)
                        .col(Widgets::OwnerId)
                        .to_owned(),
                ),
            ]
        },
        down: Some(|_| {
            vec![
                Op::Drop(Table::drop().table(Widgets::Table).to_owned()),
                Op::Drop(Table::drop().table(Owners::Table).to_owned()),
            ]
        }),
    }
}

fn add_note() -> Vec<Op> {
    vec![Op::Alter(
        Table::alter()
            .table(Widgets::Table)
            .add_column(ColumnDef::new(Widgets::Note).text().null())
            .to_owned(),
    )]
}

/// Lints `step` (after `base`) on `db` with a fresh scratch database of the same backend.
async fn lint_step(db: &TestDb, step: Step) -> Vec<Finding> {
    let scratch = db.connect().await;
    let migrations: Vec<Box<dyn MigrationTrait>> = vec![Box::new(base()), Box::new(step)];
    let findings = lint::lint(&migrations, &[1], db.backend.db_backend(), Some(&scratch)).await;
    let _ = scratch.close().await;
    findings
}

fn rules_of(findings: &[Finding]) -> Vec<&str> {
    let mut r: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    r.sort();
    r.dedup();
    r
}

async fn expect_rules(backend: Backend, label: &str, step: Step, expected: &[&str]) {
    let Some(db) = TestDb::create(backend, label).await else {
        return;
    };
    let findings = lint_step(&db, step).await;
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(
        rules_of(&findings),
        want,
        "{backend:?} {label}: {findings:#?}"
    );
    for f in &findings {
        assert!(!f.migration.is_empty(), "{f:?}");
        assert!(!f.fix.is_empty() && !f.message.is_empty(), "{f:?}");
    }
}

#[tokio::test]
async fn destructive_rules() {
    for b in test_support::ALL {
        expect_rules(
            b,
            "drop_column",
            Step {
                name: "m20260102_000000_drop_note",
                up: |_| {
                    vec![Op::Alter(
                        Table::alter()
                            .table(Widgets::Table)
                            .drop_column(Widgets::Note)
                            .to_owned(),
                    )]
                },
                down: Some(|_| add_note()),
            },
            &["drop-column"],
        )
        .await;
        expect_rules(
            b,
            "drop_table",
            Step {
                name: "m20260102_000000_drop_widgets",
                up: |_| vec![Op::Drop(Table::drop().table(Widgets::Table).to_owned())],
                down: Some(|_| {
                    vec![
                        Op::Create(widgets_table()),
                        Op::Index(
                            Index::create()
                                .name("idx_widgets_owner")
                                .table(Widgets::Table)
                                .col(Widgets::OwnerId)
                                .to_owned(),
                        ),
                    ]
                }),
            },
            &["drop-table"],
        )
        .await;
    }
    // TRUNCATE exists on PostgreSQL and MySQL (sea-query renders none for SQLite).
    for b in [Backend::Postgres, Backend::MySql] {
        expect_rules(
            b,
            "truncate",
            Step {
                name: "m20260102_000000_truncate",
                up: |_| {
                    vec![Op::Truncate(
                        Table::truncate().table(Widgets::Table).to_owned(),
                    )]
                },
                down: Some(|_| vec![]),
            },
            &["truncate"],
        )
        .await;
    }
    // Narrowing a column: SQLite cannot alter column types.
    for b in [Backend::Postgres, Backend::MySql] {
        let mut expected = vec!["narrowing-type-change"];
        if b == Backend::Postgres {
            expected.push("pg-type-change-rewrite");
        } else {
            // InnoDB copies the table for a shorter VARCHAR.
            expected.push("mysql-type-change-copy");
        }
        expect_rules(
            b,
            "narrowing",
            Step {
                name: "m20260102_000000_shorter_name",
                up: |_| {
                    vec![Op::Alter(
                        Table::alter()
                            .table(Widgets::Table)
                            .modify_column(ColumnDef::new(Widgets::Name).string_len(10).null())
                            .to_owned(),
                    )]
                },
                down: Some(|_| {
                    vec![Op::Alter(
                        Table::alter()
                            .table(Widgets::Table)
                            .modify_column(ColumnDef::new(Widgets::Name).string_len(50).null())
                            .to_owned(),
                    )]
                }),
            },
            &expected,
        )
        .await;
    }
    // Dropping the index an FK uses (MySQL refuses it outright, so lint reports that instead).
    for (b, expected) in [
        (Backend::Postgres, "drop-fk-index"),
        (Backend::Sqlite, "drop-fk-index"),
        (Backend::MySql, "irreversible-down"),
    ] {
        let Some(db) = TestDb::create(b, "drop_fk_index").await else {
            continue;
        };
        let findings = lint_step(
            &db,
            Step {
                name: "m20260102_000000_drop_owner_index",
                up: |_| {
                    vec![Op::DropIndex(
                        Index::drop()
                            .name("idx_widgets_owner")
                            .table(Widgets::Table)
                            .to_owned(),
                    )]
                },
                down: Some(|_| {
                    vec![Op::Index(
                        Index::create()
                            .name("idx_widgets_owner")
                            .table(Widgets::Table)
                            .col(Widgets::OwnerId)
                            .to_owned(),
                    )]
                }),
            },
        )
        .await;
        let rules = rules_of(&findings);
        if b == Backend::MySql {
            // InnoDB rejects dropping an index a foreign key needs: the up itself fails.
            assert!(rules.contains(&"migration-fails"), "{b:?}: {findings:#?}");
        } else if b == Backend::Postgres {
            // Plain DROP INDEX also locks the table on PostgreSQL.
            assert_eq!(
                rules,
                [expected, "pg-drop-index-not-concurrently"],
                "{b:?}: {findings:#?}"
            );
        } else {
            assert_eq!(rules, [expected], "{b:?}: {findings:#?}");
        }
    }
}

#[tokio::test]
async fn down_rules() {
    for b in test_support::ALL {
        expect_rules(
            b,
            "missing_down",
            Step {
                name: "m20260102_000000_no_down",
                up: |_| add_size_column(),
                down: None,
            },
            &["missing-down"],
        )
        .await;
        expect_rules(
            b,
            "bad_down",
            Step {
                name: "m20260102_000000_bad_down",
                up: |_| add_size_column(),
                down: Some(|_| vec![]),
            },
            &["irreversible-down"],
        )
        .await;
        expect_rules(
            b,
            "good_down",
            Step {
                name: "m20260102_000000_good_down",
                up: |_| add_size_column(),
                down: Some(|_| {
                    vec![Op::Alter(
                        Table::alter()
                            .table(Widgets::Table)
                            .drop_column(Widgets::Score)
                            .to_owned(),
                    )]
                }),
            },
            // Its down drops the column it added: destructive, but down is not linted.
            &[],
        )
        .await;
    }
}

fn add_size_column() -> Vec<Op> {
    vec![Op::Alter(
        Table::alter()
            .table(Widgets::Table)
            .add_column(ColumnDef::new(Widgets::Score).double().null())
            .to_owned(),
    )]
}

#[tokio::test]
async fn postgres_lock_hazards() {
    let b = Backend::Postgres;
    expect_rules(
        b,
        "pg_index",
        Step {
            name: "m20260102_000000_index_name",
            up: |_| {
                vec![Op::Index(
                    Index::create()
                        .name("idx_widgets_name")
                        .table(Widgets::Table)
                        .col(Widgets::Name)
                        .to_owned(),
                )]
            },
            down: Some(|_| {
                vec![Op::DropIndex(
                    Index::drop()
                        .name("idx_widgets_name")
                        .table(Widgets::Table)
                        .to_owned(),
                )]
            }),
        },
        &["pg-index-not-concurrently"],
    )
    .await;
    expect_rules(
        b,
        "pg_fk",
        Step {
            name: "m20260102_000000_size_fk",
            up: |_| {
                vec![
                    Op::Fk(
                        ForeignKey::create()
                            .name("widgets_size_fkey")
                            .from(Widgets::Table, Widgets::Size)
                            .to(Owners::Table, Owners::Id)
                            .to_owned(),
                    ),
                    Op::Raw(
                        "ALTER TABLE widgets ADD CONSTRAINT widgets_size_positive CHECK (size > 0)"
                            .into(),
                    ),
                ]
            },
            down: Some(|_| {
                vec![
                    Op::Raw("ALTER TABLE widgets DROP CONSTRAINT widgets_size_positive".into()),
                    Op::Raw("ALTER TABLE widgets DROP CONSTRAINT widgets_size_fkey".into()),
                ]
            }),
        },
        // The new FK on `size` has no index either.
        &["pg-constraint-without-not-valid", "fk-without-index"],
    )
    .await;
    expect_rules(
        b,
        "pg_not_null",
        Step {
            name: "m20260102_000000_name_not_null",
            up: |_| {
                vec![Op::Raw(
                    "ALTER TABLE widgets ALTER COLUMN name SET NOT NULL".into(),
                )]
            },
            down: Some(|_| {
                vec![Op::Raw(
                    "ALTER TABLE widgets ALTER COLUMN name DROP NOT NULL".into(),
                )]
            }),
        },
        &["pg-set-not-null"],
    )
    .await;
    expect_rules(
        b,
        "pg_rewrite",
        Step {
            name: "m20260102_000000_size_bigint",
            up: |_| {
                vec![Op::Alter(
                    Table::alter()
                        .table(Widgets::Table)
                        .modify_column(ColumnDef::new(Widgets::Size).big_integer().null())
                        .to_owned(),
                )]
            },
            down: Some(|_| {
                vec![Op::Alter(
                    Table::alter()
                        .table(Widgets::Table)
                        .modify_column(ColumnDef::new(Widgets::Size).integer().null())
                        .to_owned(),
                )]
            }),
        },
        // Widening, so not destructive; but it rewrites the table.
        &["pg-type-change-rewrite"],
    )
    .await;
    expect_rules(
        b,
        "pg_volatile",
        Step {
            name: "m20260102_000000_random_score",
            up: |_| {
                vec![Op::Alter(
                    Table::alter()
                        .table(Widgets::Table)
                        .add_column(
                            ColumnDef::new(Widgets::Score)
                                .double()
                                .null()
                                .default(Expr::cust("random()")),
                        )
                        .to_owned(),
                )]
            },
            down: Some(|_| {
                vec![Op::Alter(
                    Table::alter()
                        .table(Widgets::Table)
                        .drop_column(Widgets::Score)
                        .to_owned(),
                )]
            }),
        },
        &["pg-volatile-default"],
    )
    .await;
    // A table created in the same migration is not "existing": no lock hazards.
    expect_rules(
        b,
        "pg_new_table",
        Step {
            name: "m20260102_000000_new_table",
            up: |_| {
                vec![
                    Op::Raw("CREATE TABLE gadgets (id bigint PRIMARY KEY, label text)".into()),
                    Op::Raw("CREATE INDEX idx_gadgets_label ON gadgets (label)".into()),
                ]
            },
            down: Some(|_| vec![Op::Raw("DROP TABLE gadgets".into())]),
        },
        &[],
    )
    .await;
}

#[tokio::test]
async fn naming_and_order() {
    // The first spec migration, then a well-formed name that sorts before it (the epoch).
    let migrations = Migrator::migrations();
    let first = migrations[0].name();
    let f = lint::naming_findings(&[first, "m19700101_000000_earlier", "add_things"]);
    let got: Vec<(&str, &str)> = f
        .iter()
        .map(|f| (f.rule.as_str(), f.migration.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("migration-order", "m19700101_000000_earlier"),
            ("migration-name", "add_things"),
            ("migration-order", "add_things"),
        ]
    );
    assert!(f.iter().all(|f| f.severity == Severity::Error));
    // The spec migrations are well named and ordered.
    let names: Vec<&str> = migrations.iter().map(|m| m.name()).collect();
    assert!(lint::naming_findings(&names).is_empty());
}

/// What lint says about the spec migrations, on every backend, with the OHT-50
/// configuration: nothing. The three FK columns safety_system leaves unindexed are indexed by
/// a later migration, and the advice on the spec's integer keys and naive timestamps is
/// switched off by the configuration (listed apart, with its reason).
#[tokio::test]
async fn spec_migrations_lint_clean() {
    each_backend!("lint_spec", |db| {
        let b = db.backend;
        let scratch = db.connect().await;
        let migrations = Migrator::migrations();
        let all: Vec<usize> = (0..migrations.len()).collect();
        let config = migration::config();
        let report = lint::lint_report(
            &migrations,
            &all,
            b.db_backend(),
            &lint::LintOptions {
                scratch: Some(&scratch),
                rules_off: &config.lint_rules_off,
                ..Default::default()
            },
        )
        .await;
        assert!(report.findings.is_empty(), "{b:?}: {:#?}", report.findings);
        // Off by configuration, not by special-casing: the advice exists for these tables.
        if b != Backend::Sqlite {
            assert!(
                report
                    .suppressed
                    .iter()
                    .any(|s| s.rule == "integer-primary-key" && s.by == "configuration"),
                "{b:?}: {report:#?}"
            );
        }
        let _ = scratch.close().await;
    });
}

#[tokio::test]
async fn up_refuses_destructive_migrations_unless_allowed() {
    each_backend!("refuse_destructive", |db| {
        let b = db.backend;
        let drop_note = || -> Vec<Box<dyn MigrationTrait>> {
            vec![
                Box::new(base()),
                Box::new(Step {
                    name: "m20260102_000000_drop_note",
                    up: |_| {
                        vec![Op::Alter(
                            Table::alter()
                                .table(Widgets::Table)
                                .drop_column(Widgets::Note)
                                .to_owned(),
                        )]
                    },
                    down: Some(|_| add_note()),
                }),
            ]
        };
        let runner = Runner::with_config(db.connect().await, drop_note(), migration::config());
        runner.up(&Target::Steps(1)).await.expect("base");
        let before = migration_engine::schema::inspect(runner.connection())
            .await
            .unwrap();
        let err = runner.up(&Target::All).await.expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("m20260102_000000_drop_note")
                && msg.contains("drop-column")
                && msg.contains("--allow-destructive"),
            "{b:?}: {msg}"
        );
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            migration_engine::schema::inspect(runner.connection())
                .await
                .unwrap(),
            before
        );
        let runner = Runner::with_config(
            runner.connection().clone(),
            drop_note(),
            migration::config(),
        )
        .with_options(migration_engine::RunOptions {
            allow_destructive: true,
            ..Default::default()
        });
        runner
            .up(&Target::All)
            .await
            .expect("up with allow_destructive");
        let after = migration_engine::schema::inspect(runner.connection())
            .await
            .unwrap();
        assert!(after.tables["widgets"].column("note").is_none(), "{b:?}");
        // The static check alone, as `up` uses it.
        let m = drop_note();
        let refs: Vec<&dyn MigrationTrait> = m.iter().map(|m| m.as_ref()).collect();
        let found = lint::destructive_findings(&refs, b.db_backend()).await;
        assert_eq!(found.len(), 1, "{b:?}: {found:?}");
        assert_eq!(
            found[0]
                .statement
                .as_deref()
                .map(|s| s.contains("DROP COLUMN")),
            Some(true)
        );
        let _ = runner.connection().clone().close().await;
    });
    // The spec migrations are not destructive on any backend.
    let m = Migrator::migrations();
    let refs: Vec<&dyn MigrationTrait> = m.iter().map(|m| m.as_ref()).collect();
    for b in [DbBackend::Postgres, DbBackend::MySql, DbBackend::Sqlite] {
        assert!(lint::destructive_findings(&refs, b).await.is_empty());
    }
}
