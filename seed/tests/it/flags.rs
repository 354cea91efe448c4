//! `-u`, `-s` and `--env` are accepted before or after the subcommand, as on every binary.

use std::process::{Command, Output};

use test_support::{ok, stderr, stdout};

use crate::support::migrated;

/// Runs the seed binary with exactly `args` (no `-u` added) in an empty directory.
fn seed(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed"));
    cmd.current_dir(dir.path())
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("OHT50_ENV")
        .env_remove("OHT50_SEED_PROFILE")
        .env("OHT50_ADMIN_PASSWORD", "Flags-Admin-Password-Q1")
        .env("OHT50_OPERATOR_PASSWORD", "Flags-Operator-Password-Q2");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run seed")
}

#[tokio::test]
async fn connection_flags_before_or_after_the_subcommand() {
    each_backend!("seed_flags", |db| {
        let b = db.backend;
        let conn = migrated(&db).await;
        let url = db.url.as_str();
        for args in [
            &["-u", url, "defaults", "--dry-run"][..],
            &["defaults", "-u", url, "--dry-run"][..],
        ] {
            let o = ok(seed(args, &[]));
            assert!(
                stdout(&o).contains("(dry run)"),
                "{b:?} {args:?}: {}",
                stdout(&o)
            );
        }
        // Development data is refused in production, however production is named.
        for (args, env) in [
            (&["--env", "production", "-u", url, "dev"][..], &[][..]),
            (&["dev", "-u", url, "--env", "production"][..], &[][..]),
            (&["-u", url, "dev"][..], &[("OHT50_ENV", "production")][..]),
        ] {
            let o = seed(args, env);
            assert!(!o.status.success(), "{b:?} {args:?}: {}", stdout(&o));
            assert!(stderr(&o).contains("production"), "{b:?}: {}", stderr(&o));
        }
        let _ = conn.close().await;
    });
}
