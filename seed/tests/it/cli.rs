//! The `seed` binary: secrets never reach a pipe, refusals, exit codes, profiles.

// Shared with the workspace tests; not reformatted from here.
use std::process::{Command, Output};

use crate::support::{count, migrated};
use entity::users;
use sea_orm::EntityTrait;
use seed::passwords;

const ADMIN_PW: &str = "Cli-Admin-Password-Xy1";
const OPERATOR_PW: &str = "Cli-Operator-Password-Zq2";

/// Runs the seed binary in an empty directory (no stray `.env`), stdout and stderr piped.
fn seed(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed"));
    cmd.current_dir(dir.path())
        .arg("-u")
        .arg(url)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("OHT50_ADMIN_PASSWORD")
        .env_remove("OHT50_OPERATOR_PASSWORD")
        .env_remove("OHT50_SEED_PROFILE")
        .env("RUST_LOG", "trace");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run seed")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn seeds_with_env_passwords_twice_and_never_prints_them() {
    each_backend!("cli_env", |db| {
        let conn = migrated(&db).await;
        let env = [
            ("OHT50_ADMIN_PASSWORD", ADMIN_PW),
            ("OHT50_OPERATOR_PASSWORD", OPERATOR_PW),
        ];
        let first = seed(&db.url, &[], &env);
        let out = text(&first);
        assert!(first.status.success(), "{out}");
        assert!(out.contains("users: created 2, unchanged 0"), "{out}");
        assert!(
            out.contains("safety_zones: created 1, unchanged 0"),
            "{out}"
        );
        let second = seed(&db.url, &["--profile", "production", "defaults"], &env);
        let out2 = text(&second);
        assert!(second.status.success(), "{out2}");
        assert!(out2.contains("users: created 0, unchanged 2"), "{out2}");
        assert!(out2.contains("Nothing to do"), "{out2}");
        for o in [&out, &out2] {
            assert!(
                !o.contains(ADMIN_PW) && !o.contains(OPERATOR_PW),
                "secret printed: {o}"
            );
            assert!(!o.contains("$argon2"), "hash printed: {o}");
        }
        let all = users::Entity::find().all(&conn).await.unwrap();
        let admin = all.iter().find(|u| u.username == "admin").unwrap();
        assert!(passwords::verify(ADMIN_PW, &admin.password_hash));
    });
}

#[tokio::test]
async fn generated_passwords_are_never_written_to_a_pipe() {
    each_backend!("cli_pipe", |db| {
        let conn = migrated(&db).await;
        for profile in ["development", "production"] {
            let o = seed(&db.url, &["--profile", profile], &[]);
            let out = text(&o);
            assert_eq!(o.status.code(), Some(2), "{out}");
            assert!(out.contains("stdout is not a terminal"), "{out}");
            assert!(out.contains("OHT50_ADMIN_PASSWORD"), "{out}");
            assert_eq!(count(&conn, "users").await, 0);
        }
        // One password given, the other would be generated: still refused, nothing written.
        let o = seed(&db.url, &[], &[("OHT50_ADMIN_PASSWORD", ADMIN_PW)]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(!out.contains(ADMIN_PW));
        assert_eq!(count(&conn, "users").await, 0);
        assert_eq!(count(&conn, "robots").await, 0);

        // Files work as well; a short one is refused with the rule.
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "tooshort\n").unwrap();
        let o = seed(
            &db.url,
            &["--admin-password-file", short.to_str().unwrap()],
            &[("OHT50_OPERATOR_PASSWORD", OPERATOR_PW)],
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(
            out.contains("too short (8 characters)") && out.contains("at least 12"),
            "{out}"
        );
        assert!(!out.contains("tooshort\n"));
    });
}

#[tokio::test]
async fn refuses_unmigrated_databases_and_production_dev_data() {
    each_backend!("cli_refuse", |db| {
        let o = seed(
            &db.url,
            &[],
            &[
                ("OHT50_ADMIN_PASSWORD", ADMIN_PW),
                ("OHT50_OPERATOR_PASSWORD", OPERATOR_PW),
            ],
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(3), "{out}");
        assert!(out.contains("cargo run -p migration up"), "{out}");

        let _conn = migrated(&db).await;
        let o = seed(&db.url, &["--profile", "production", "dev"], &[]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(
            out.contains("not allowed with --profile production"),
            "{out}"
        );
        let o = seed(&db.url, &["--profile", "production", "load", "x.json"], &[]);
        assert_eq!(o.status.code(), Some(2));
    });
}

#[tokio::test]
async fn dev_dry_run_dump_and_load_through_the_binary() {
    each_backend!("cli_dev", |db| {
        let conn = migrated(&db).await;
        let o = seed(
            &db.url,
            &[
                "--dry-run",
                "dev",
                "--robots",
                "2",
                "--telemetry-per-robot-hour",
                "6",
            ],
            &[],
        );
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(
            out.contains("telemetry: created 288, unchanged 0 (dry run)"),
            "{out}"
        );
        assert_eq!(count(&conn, "telemetry").await, 0);

        let o = seed(
            &db.url,
            &[
                "dev",
                "--robots",
                "2",
                "--telemetry-per-robot-hour",
                "6",
                "--lidar-scans",
                "5",
            ],
            &[],
        );
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains("rows/s"), "{out}");
        assert_eq!(count(&conn, "telemetry").await, 288);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dump.json");
        let o = seed(&db.url, &["dump", file.to_str().unwrap()], &[]);
        assert!(o.status.success(), "{}", text(&o));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let o = seed(&db.url, &["load", file.to_str().unwrap()], &[]);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains("telemetry: created 0, unchanged 288"), "{out}");

        std::fs::write(&file, r#"{"robots": [{"name": 5}]}"#).unwrap();
        let o = seed(&db.url, &["load", file.to_str().unwrap()], &[]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(
            out.contains("`robots` record 0") && out.contains("column `name`"),
            "{out}"
        );
    });
}
