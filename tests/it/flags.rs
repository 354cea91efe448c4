//! The connection flags (`-u`, `-s`) and `--env` are the same on every binary and accepted
//! before or after the subcommand, with the project's environment variables.

use std::path::Path;
use std::process::{Command, Output};

use test_support::{ok, stderr};

const ROOT: &str = env!("CARGO_BIN_EXE_oht50-db");

/// `bin args...` in `dir`, with no database or environment settings from outside.
fn run(bin: &Path, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA")
        .env_remove("OHT50_ENV")
        .env("OHT50_BACKUP_DIR", dir.join("backups"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run binary")
}

#[tokio::test]
async fn connection_flags_before_or_after_the_subcommand() {
    each_backend!("flags", |db| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let b = db.backend;
        let url = db.url.as_str();
        let root = Path::new(ROOT);
        ok(run(root, d, &["-u", url, "migrate", "up"], &[]));
        let status = ok(run(
            root,
            d,
            &["migrate", "-u", url, "status", "--format", "json"],
            &[],
        ));
        let doc: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
        let all = <migration::Migrator as migration::MigratorTrait>::migrations().len();
        assert_eq!(
            doc["migrations"].as_array().map(|m| m.len()),
            Some(all),
            "{b:?}"
        );
        for args in [
            &["-u", url, "retention", "--older-than", "30d", "--dry-run"][..],
            &["retention", "-u", url, "--older-than", "30d", "--dry-run"][..],
        ] {
            let o = ok(run(root, d, args, &[]));
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("would delete"),
                "{b:?} {args:?}"
            );
        }
        // --env before or after, and the project's variable, all reach the production guard.
        for (args, envs) in [
            (
                &[
                    "--env",
                    "production",
                    "-u",
                    url,
                    "retention",
                    "--older-than",
                    "30d",
                ][..],
                &[][..],
            ),
            (
                &[
                    "retention",
                    "--older-than",
                    "30d",
                    "-u",
                    url,
                    "--env",
                    "production",
                ][..],
                &[][..],
            ),
            (
                &["-u", url, "retention", "--older-than", "30d"][..],
                &[("OHT50_ENV", "production")][..],
            ),
            (
                &["-u", url, "migrate", "reset"][..],
                &[("OHT50_ENV", "production")][..],
            ),
            (
                &["migrate", "reset", "--env", "production", "-u", url][..],
                &[][..],
            ),
        ] {
            let o = run(root, d, args, envs);
            assert_eq!(o.status.code(), Some(2), "{b:?} {args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains("production"), "{b:?}: {}", stderr(&o));
        }
    });
}
