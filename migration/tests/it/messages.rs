//! Messages that send people the right way: a missing PostgreSQL role is reported as such,
//! and a migration whose ledger row was deleted is reported as missing from the ledger, with
//! `repair` as the way out (not as "merged out of order" with a flag that then fails).

use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;
use test_support::{Backend, TestDb};

use crate::support::{ok, run, stderr, stdout};

fn names() -> Vec<String> {
    migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// `status --format json`: version → status.
fn states(dir: &std::path::Path, url: &str) -> Vec<(String, String)> {
    let o = ok(run(dir, Some(url), &["status", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status JSON");
    doc["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap_or_default().to_string(),
                m["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn connect_errors_name_the_role_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for backend in [Backend::Postgres, Backend::MySql] {
        let Some(db) = TestDb::create(backend, "messages_connect").await else {
            continue;
        };
        let (scheme, rest) = db.url.split_once("://").expect("URL");
        let host_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        if backend == Backend::Postgres {
            let role = format!("nosuchrole{}", std::process::id());
            let url = format!("{scheme}://{role}:pw@{host_db}");
            let o = run(d, Some(&url), &["status"]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(
                err.contains(&format!("role \"{role}\" does not exist")),
                "{err}"
            );
            assert!(err.contains("SQLSTATE 28000"), "{err}");
            assert!(err.contains("does not exist on this server"), "{err}");
            assert!(!err.contains("Create the database"), "{err}");
        }
        // An unknown database, as the server's own user (allowed to see every database).
        let url = format!("{}_missing", db.url);
        let o = run(d, Some(&url), &["status"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{backend:?}: {err}");
        assert!(
            err.contains("Create the database first"),
            "{backend:?}: {err}"
        );
        assert!(
            err.contains(&format!("{}_missing", db.name())),
            "{backend:?}: {err}"
        );
        assert!(!err.contains("role"), "{backend:?}: {err}");
    }
}

#[tokio::test]
async fn deleted_ledger_row_is_reported_and_repaired() {
    let all = names();
    assert!(
        all.len() >= 3,
        "the test deletes a middle and the last ledger row"
    );
    let middle = all[all.len() / 2].clone();
    let last = all[all.len() - 1].clone();
    each_backend!("messages_ledger", |db| {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url.as_str();
        ok(run(d, Some(url), &["--no-backup", "up"]));
        {
            let conn = db.connect().await;
            for v in [&middle, &last] {
                conn.execute_unprepared(&format!(
                    "DELETE FROM seaql_migrations WHERE version = '{v}'"
                ))
                .await
                .expect("delete a ledger row");
            }
            let _ = conn.close().await;
        }

        // `status` shows it, and exits 0; `status --check` does not.
        let o = ok(run(d, Some(url), &["status"]));
        let text = stdout(&o);
        assert!(
            text.lines()
                .any(|l| l.starts_with(middle.as_str()) && l.contains("MISSING")),
            "{b:?}: {text}"
        );
        assert!(text.contains("MISSING from the ledger"), "{b:?}: {text}");
        let st = states(d, url);
        for (v, s) in &st {
            let want = if *v == middle || *v == last {
                "missing-from-ledger"
            } else {
                "applied"
            };
            assert_eq!(s, want, "{b:?}: {v}");
        }
        let o = run(d, Some(url), &["status", "--check"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {err}");
        for v in [&middle, &last] {
            assert!(
                err.contains(&format!("{v} is recorded as applied in the history but its row is missing from the ledger")),
                "{b:?}: {err}"
            );
        }
        assert!(err.contains("migration repair"), "{b:?}: {err}");

        // `up`, with or without --allow-out-of-order, refuses with the same message and changes
        // nothing: no failed run is recorded, so nothing blocks later runs.
        for args in [
            &["--no-backup", "up"][..],
            &["--no-backup", "up", "--allow-out-of-order"],
        ] {
            let o = run(d, Some(url), args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{b:?} {args:?}: {err}");
            assert!(err.contains("missing from the ledger"), "{b:?}: {err}");
            assert!(err.contains("migration repair"), "{b:?}: {err}");
            assert!(!err.contains("out of order"), "{b:?}: {err}");
            assert!(!err.contains("--allow-out-of-order"), "{b:?}: {err}");
            assert!(!err.contains("Applying"), "{b:?}: {err}");
        }
        let history = ok(run(d, Some(url), &["history", "--format", "json"]));
        let doc: serde_json::Value = serde_json::from_slice(&history.stdout).expect("JSON");
        assert!(
            doc["history"]
                .as_array()
                .expect("history")
                .iter()
                .all(|r| r["outcome"] == "succeeded"),
            "{b:?}: {doc}"
        );

        // `repair` re-adds the rows from the history; then all is well.
        let o = ok(run(d, Some(url), &["repair"]));
        assert!(
            stdout(&o).contains("Re-added 2 ledger row(s)"),
            "{b:?}: {}",
            stdout(&o)
        );
        assert!(states(d, url).iter().all(|(_, s)| s == "applied"), "{b:?}");
        ok(run(d, Some(url), &["status", "--check"]));
        let o = ok(run(d, Some(url), &["--no-backup", "up"]));
        assert!(
            stderr(&o).contains("Nothing to apply"),
            "{b:?}: {}",
            stderr(&o)
        );

        // A real `down` leaves it pending, not missing.
        ok(run(d, Some(url), &["--no-backup", "down"]));
        let st = states(d, url);
        assert_eq!(
            st.last().map(|(v, s)| (v.as_str(), s.as_str())),
            Some((last.as_str(), "pending")),
            "{b:?}"
        );
        ok(run(d, Some(url), &["--no-backup", "up"]));

        // `fresh` that drops everything leaves nothing "missing" behind.
        ok(run(d, Some(url), &["--no-backup", "fresh"]));
        ok(run(d, Some(url), &["status", "--check"]));
    });
}
