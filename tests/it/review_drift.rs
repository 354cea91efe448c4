//! Drift between a live database and the entity schema: none right after `up` on every
//! backend; the exact differences after changing a migrated database by hand; and `check`
//! failing on them and on an unknown applied version.

use migration::sea_orm::ConnectionTrait;
use migration::{Migrator, MigratorTrait};
use migration_engine::db::DatabaseUrl;
use migration_engine::review::check::{self, CheckOptions};
use migration_engine::review::drift::{self, DiffKind};
use migration_engine::{Runner, Target};
use test_support::Backend;

#[tokio::test]
async fn no_drift_after_up_and_exact_drift_after_manual_changes() {
    each_backend!("drift", |db| {
        let b = db.backend;
        let runner = Runner::with_config(
            db.connect().await,
            Migrator::migrations(),
            migration::config(),
        );
        runner.up(&Target::All).await.expect("up");
        let d = drift::drift_of(&runner).await.expect("drift");
        assert!(d.is_empty(), "{b:?}: {:#?}", d.differences);

        let sql: &[&str] = match b {
            Backend::Postgres => &[
                "ALTER TABLE robots ALTER COLUMN name TYPE varchar(200)",
                "ALTER TABLE users ALTER COLUMN role DROP NOT NULL",
                "DROP INDEX idx_robots_status",
                "ALTER TABLE telemetry ADD COLUMN extra integer",
                "ALTER TABLE telemetry DROP CONSTRAINT telemetry_robot_id_fkey",
                "ALTER TABLE telemetry ADD CONSTRAINT telemetry_robot_id_fkey FOREIGN KEY (robot_id) REFERENCES robots (id) ON DELETE RESTRICT",
                "ALTER TABLE safety_zones ALTER COLUMN is_active SET DEFAULT false",
                "CREATE TABLE stray (id integer PRIMARY KEY)",
            ],
            Backend::MySql => &[
                "ALTER TABLE robots MODIFY name varchar(200) NOT NULL",
                "ALTER TABLE users MODIFY role varchar(20) NULL",
                "DROP INDEX idx_robots_status ON robots",
                "ALTER TABLE telemetry ADD COLUMN extra int",
                "ALTER TABLE telemetry DROP FOREIGN KEY telemetry_robot_id_fkey",
                "ALTER TABLE telemetry ADD CONSTRAINT telemetry_robot_id_fkey FOREIGN KEY (robot_id) REFERENCES robots (id) ON DELETE RESTRICT",
                "ALTER TABLE safety_zones ALTER COLUMN is_active SET DEFAULT 0",
                "CREATE TABLE stray (id int PRIMARY KEY)",
            ],
            // SQLite cannot alter column types, nullability or keys in place.
            Backend::Sqlite => &[
                "DROP INDEX idx_robots_status",
                "ALTER TABLE telemetry ADD COLUMN extra integer",
                "CREATE TABLE stray (id integer PRIMARY KEY)",
            ],
        };
        for s in sql {
            runner.connection().execute_unprepared(s).await.expect(s);
        }
        let d = drift::drift_of(&runner).await.expect("drift");
        let got: Vec<(DiffKind, String, String)> = d
            .differences
            .iter()
            .map(|d| (d.kind, d.table.clone(), d.object.clone()))
            .collect();
        let mut expected = vec![
            (DiffKind::MissingIndex, "robots", "idx_robots_status"),
            (DiffKind::ExtraTable, "stray", ""),
            (DiffKind::ExtraColumn, "telemetry", "extra"),
        ];
        if b != Backend::Sqlite {
            expected.extend([
                (DiffKind::Type, "robots", "name"),
                (DiffKind::Default, "safety_zones", "is_active"),
                (DiffKind::ForeignKeyAction, "telemetry", "robot_id"),
                (DiffKind::Nullability, "users", "role"),
            ]);
        }
        let mut expected: Vec<(DiffKind, String, String)> = expected
            .into_iter()
            .map(|(k, t, o)| (k, t.to_string(), o.to_string()))
            .collect();
        expected.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        let mut got_sorted = got.clone();
        got_sorted.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        assert_eq!(got_sorted, expected, "{b:?}: {:#?}", d.differences);
        if b != Backend::Sqlite {
            let ty = d
                .differences
                .iter()
                .find(|d| d.kind == DiffKind::Type)
                .unwrap();
            assert!(
                ty.expected.contains("(100)") && ty.actual.contains("(200)"),
                "{ty:?}"
            );
            let fk = d
                .differences
                .iter()
                .find(|d| d.kind == DiffKind::ForeignKeyAction)
                .unwrap();
            assert!(
                fk.expected.contains("ON DELETE CASCADE")
                    && fk.actual.contains("ON DELETE RESTRICT"),
                "{fk:?}"
            );
        }

        // `check` fails on the drift and lists each difference as an error.
        let url = DatabaseUrl::parse(&db.url).expect("url");
        let report = check::check(
            &runner,
            &url,
            &Migrator::migrations(),
            &CheckOptions::default(),
        )
        .await
        .expect("check");
        assert!(!report.passed(), "{b:?}");
        assert_eq!(
            report.findings.iter().filter(|f| f.rule == "drift").count(),
            expected.len(),
            "{b:?}: {:#?}",
            report.findings
        );
        let _ = runner.connection().clone().close().await;
    });
}

#[tokio::test]
async fn check_passes_after_up_and_fails_on_unknown_versions() {
    each_backend!("check", |db| {
        let b = db.backend;
        let url = DatabaseUrl::parse(&db.url).expect("url");
        let runner = Runner::with_config(
            db.connect().await,
            Migrator::migrations(),
            migration::config(),
        );
        // Fresh database: everything pending, drift skipped (a warning), lint warnings only.
        let report = check::check(
            &runner,
            &url,
            &Migrator::migrations(),
            &CheckOptions::default(),
        )
        .await
        .expect("check");
        assert!(report.passed(), "{b:?}: {:#?}", report.findings);
        assert_eq!(report.pending, Migrator::migrations().len());
        assert!(report.findings.iter().any(|f| f.rule == "drift-skipped"));
        runner.up(&Target::All).await.expect("up");
        let report = check::check(
            &runner,
            &url,
            &Migrator::migrations(),
            &CheckOptions::default(),
        )
        .await
        .expect("check");
        assert!(
            report.passed() && report.findings.is_empty(),
            "{b:?}: {:#?}",
            report.findings
        );
        assert_eq!(report.drift.as_ref().map(|d| d.is_empty()), Some(true));

        runner
            .connection()
            .execute_unprepared(
                "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000000_from_the_future', 0)",
            )
            .await
            .expect("insert unknown version");
        let report = check::check(
            &runner,
            &url,
            &Migrator::migrations(),
            &CheckOptions::default(),
        )
        .await
        .expect("check");
        let errors: Vec<(&str, &str)> = report
            .findings
            .iter()
            .filter(|f| f.severity == migration_engine::review::lint::Severity::Error)
            .map(|f| (f.rule.as_str(), f.migration.as_str()))
            .collect();
        assert_eq!(
            errors,
            [("unknown-version", "m20991231_000000_from_the_future")],
            "{b:?}"
        );
        let _ = runner.connection().clone().close().await;
    });
}
