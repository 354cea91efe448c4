//! Default data (spec 5.1) through the library, on SQLite, PostgreSQL and MariaDB.

// Shared with the workspace tests; not reformatted from here.
use crate::support::{count, migrated};
use entity::{robots, safety_zones, users};
use migration_engine::{Runner, Target};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use seed::SeedError;
use seed::defaults::{self, DefaultsOptions};
use seed::passwords::{self, PasswordSource, Secret};

fn given(admin: &str, operator: &str) -> DefaultsOptions {
    DefaultsOptions {
        dry_run: false,
        admin_password: PasswordSource::Given {
            secret: Secret::new(admin),
            origin: "test".into(),
        },
        operator_password: PasswordSource::Given {
            secret: Secret::new(operator),
            origin: "test".into(),
        },
        may_generate: false,
    }
}

async fn hash_of(conn: &sea_orm::DatabaseConnection, username: &str) -> String {
    users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(conn)
        .await
        .unwrap()
        .expect("user exists")
        .password_hash
}

#[tokio::test]
async fn creates_the_spec_rows_once_and_reports_counts() {
    each_backend!("defaults_idem", |db| {
        let conn = migrated(&db).await;
        let opts = given("admin-password-123", "operator-password-123");

        let dry = defaults::seed_defaults(
            &conn,
            &DefaultsOptions {
                dry_run: true,
                ..opts.clone()
            },
        )
        .await
        .unwrap();
        assert!(dry.dry_run);
        assert_eq!(dry.total_created(), 4);
        assert_eq!(dry.created.len(), 4);
        assert_eq!(count(&conn, "users").await, 0, "dry run writes nothing");

        let first = defaults::seed_defaults(&conn, &opts).await.unwrap();
        let lines: Vec<String> = first.tables.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            lines,
            [
                "users: created 2, unchanged 0",
                "robots: created 1, unchanged 0",
                "safety_zones: created 1, unchanged 0"
            ]
        );
        assert!(first.generated.is_empty());

        let admin = users::Entity::find()
            .filter(users::Column::Username.eq("admin"))
            .one(&conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(admin.email, "admin@oht50.com");
        assert_eq!(admin.role, entity::enums::UserRole::Admin);
        assert!(admin.is_active);
        let robot = robots::Entity::find().one(&conn).await.unwrap().unwrap();
        assert_eq!(robot.name, "OHT-50-001");
        assert_eq!(robot.robot_type, "OHT-50");
        assert_eq!(robot.status, entity::enums::RobotStatus::Idle);
        assert_eq!(robot.mode, entity::enums::RobotMode::Manual);
        assert_eq!(robot.battery_level, Some(100));
        assert_eq!(robot.temperature, Some(25.0));
        assert_eq!(robot.position_x, Some(0.0));
        let zone = safety_zones::Entity::find()
            .one(&conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(zone.zone_name, "Default Safety Zone");
        assert_eq!(zone.zone_type, entity::enums::ZoneType::Warning);
        assert_eq!(zone.boundary_data, defaults::default_zone_boundary());
        assert_eq!(zone.radius, Some(5.0));

        let before = seed::fixtures::dump(
            &conn,
            seed::fixtures::DumpOptions {
                include_password_hashes: true,
            },
        )
        .await
        .unwrap();
        // Second run: other passwords, nothing created, nothing changed.
        let second =
            defaults::seed_defaults(&conn, &given("another-password-1", "another-password-2"))
                .await
                .unwrap();
        let lines: Vec<String> = second.tables.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            lines,
            [
                "users: created 0, unchanged 2",
                "robots: created 0, unchanged 1",
                "safety_zones: created 0, unchanged 1"
            ]
        );
        assert_eq!(second.total_created(), 0);
        let after = seed::fixtures::dump(
            &conn,
            seed::fixtures::DumpOptions {
                include_password_hashes: true,
            },
        )
        .await
        .unwrap();
        assert_eq!(before, after, "{:?}: second run changed rows", db.backend);
    });
}

#[tokio::test]
async fn a_failure_part_way_leaves_nothing_behind() {
    each_backend!("defaults_atomic", |db| {
        let conn = migrated(&db).await;
        // Someone else already uses the operator's e-mail: inserting `operator` violates the
        // unique constraint after `admin` was inserted in the same transaction.
        users::ActiveModel {
            username: Set("someone".into()),
            email: Set("operator@oht50.com".into()),
            password_hash: Set(passwords::hash(&Secret::new("someone-password-1")).unwrap()),
            role: Set(entity::enums::UserRole::Viewer),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();

        let err =
            defaults::seed_defaults(&conn, &given("admin-password-123", "operator-password-123"))
                .await
                .unwrap_err();
        assert!(matches!(err, SeedError::RolledBack { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("operator") && msg.contains("Nothing was written"),
            "{msg}"
        );
        assert_eq!(
            count(&conn, "users").await,
            1,
            "{:?}: admin must be rolled back",
            db.backend
        );
        assert_eq!(count(&conn, "robots").await, 0);
        assert_eq!(count(&conn, "safety_zones").await, 0);
    });
}

#[tokio::test]
async fn passwords_from_file_generated_and_hashed_with_argon2id() {
    each_backend!("defaults_pw", |db| {
        let conn = migrated(&db).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("admin.pw");
        std::fs::write(&file, "file-password-0001\n").unwrap();
        let opts = DefaultsOptions {
            dry_run: false,
            admin_password: PasswordSource::File(file),
            operator_password: PasswordSource::Generate,
            may_generate: true,
        };
        let report = defaults::seed_defaults(&conn, &opts).await.unwrap();
        assert_eq!(report.generated.len(), 1);
        let generated = &report.generated[0];
        assert_eq!(generated.username, "operator");
        assert!(generated.password.len() >= 20);
        assert!(!format!("{report:?}").contains(generated.password.expose()));

        let admin_hash = hash_of(&conn, "admin").await;
        let operator_hash = hash_of(&conn, "operator").await;
        assert!(
            passwords::verify("file-password-0001", &admin_hash),
            "trailing newline ignored"
        );
        assert!(passwords::verify(
            generated.password.expose(),
            &operator_hash
        ));
        for phc in [&admin_hash, &operator_hash] {
            assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
            let p = passwords::inspect(phc).expect("PHC string");
            assert_eq!(p.algorithm, "argon2id");
            assert!(
                p.memory_kib >= 19_456 && p.iterations >= 2 && p.parallelism >= 1,
                "{p:?}"
            );
            assert!(p.salt_len >= 16);
        }
    });
}

#[tokio::test]
async fn same_password_never_gives_the_same_hash() {
    let mut hashes = Vec::new();
    each_backend!("defaults_salt", |db| {
        let conn = migrated(&db).await;
        defaults::seed_defaults(&conn, &given("same-password-1234", "same-password-1234"))
            .await
            .unwrap();
        let a = hash_of(&conn, "admin").await;
        let o = hash_of(&conn, "operator").await;
        assert_ne!(a, o, "same password, two users, two hashes");
        hashes.push(a);
        hashes.push(o);
    });
    let mut unique = hashes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        hashes.len(),
        "two installs never share a hash"
    );
}

#[tokio::test]
async fn short_passwords_and_unshowable_generated_ones_are_refused() {
    each_backend!("defaults_refuse", |db| {
        let conn = migrated(&db).await;
        let err = defaults::seed_defaults(&conn, &given("short", "operator-password-123"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SeedError::PasswordTooShort {
                    len: 5,
                    min: 12,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("at least 12 characters"));
        assert!(!err.to_string().contains("short\""));

        let err = defaults::seed_defaults(
            &conn,
            &DefaultsOptions {
                dry_run: false,
                admin_password: PasswordSource::Generate,
                operator_password: PasswordSource::Generate,
                may_generate: false,
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, SeedError::CannotShowGeneratedPassword { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("OHT50_ADMIN_PASSWORD"));
        for t in ["users", "robots", "safety_zones"] {
            assert_eq!(count(&conn, t).await, 0, "{t}");
        }
    });
}

#[tokio::test]
async fn refuses_a_database_that_is_not_migrated() {
    each_backend!("defaults_unmigrated", |db| {
        let conn = crate::support::connect(&db).await;
        let err =
            defaults::seed_defaults(&conn, &given("admin-password-123", "operator-password-123"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, SeedError::NotMigrated { pending, .. }
                if pending == <migration::Migrator as migration::MigratorTrait>::migrations().len()),
            "{err:?}"
        );
        assert!(err.to_string().contains("cargo run -p migration up"));

        Runner::with_config(
            conn.clone(),
            <migration::Migrator as migration::MigratorTrait>::migrations(),
            migration::config(),
        )
        .up(&Target::Steps(1))
        .await
        .unwrap();
        let err =
            defaults::seed_defaults(&conn, &given("admin-password-123", "operator-password-123"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, SeedError::NotMigrated { pending, .. }
                if pending == <migration::Migrator as migration::MigratorTrait>::migrations().len() - 1),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), 3);
    });
}
