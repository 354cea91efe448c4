//! `migration fleet`: one command on PostgreSQL, MariaDB and SQLite targets at once. Failing,
//! unreachable and tampered targets are reported without stopping or touching the others, a
//! rerun after fixing them finishes the job, canaries stop a rollout, `--parallel 1` is
//! strictly sequential, secrets from environment references are never printed, and a bad
//! targets file is one clear error before anything runs.

use std::path::Path;
use std::process::Output;

use sea_orm::ConnectionTrait;
use test_support::{Backend, TestDb};

use crate::support::{BIN, applied, command, count, names, ok, run, stderr, stdout};

/// A password only ever given through an environment reference.
const SECRET: &str = "fleet-s3cret-Xq9";

/// Runs `migration fleet ARGS` in `dir` with `FLEET_TEST_PASSWORD` set.
fn fleet(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["fleet"];
    all.extend_from_slice(args);
    command(
        Path::new(BIN),
        dir,
        None,
        &all,
        &[("FLEET_TEST_PASSWORD", SECRET)],
    )
    .output()
    .expect("run migration fleet")
}

/// The JSON document of a `--format json` run.
fn doc(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "fleet JSON: {e}\nstdout: {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}

/// The report of target `name`.
fn target<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no target {name} in {doc}"))
}

/// Writes the targets file `fleet.toml` in `dir` with `(name, url, labels)` entries.
fn write_targets(dir: &Path, targets: &[(&str, String, &[&str])]) -> String {
    let mut text = String::new();
    for (name, url, labels) in targets {
        let labels: Vec<String> = labels.iter().map(|l| format!("\"{l}\"")).collect();
        text.push_str(&format!(
            "[targets.{name}]\nurl = \"{url}\"\nlabels = [{}]\n\n",
            labels.join(", ")
        ));
    }
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).expect("write targets file");
    path.display().to_string()
}

/// One database per backend (those whose server is up; all three in CI).
async fn one_of_each(label: &str) -> Vec<TestDb> {
    let mut dbs = Vec::new();
    for backend in test_support::ALL {
        if let Some(db) = TestDb::create(backend, label).await {
            dbs.push(db);
        }
    }
    dbs
}

/// The target name of a test database.
fn short_name(db: &TestDb) -> &'static str {
    match db.backend {
        Backend::Sqlite => "lite",
        Backend::Postgres => "pg",
        Backend::MySql => "maria",
    }
}

/// The URL of `db` as a targets file holds it: PostgreSQL (trust authentication accepts any
/// password) gets its password from `${FLEET_TEST_PASSWORD}`.
fn file_url(db: &TestDb) -> String {
    match db.backend {
        Backend::Postgres => {
            db.url
                .replacen("://postgres@", "://postgres:${FLEET_TEST_PASSWORD}@", 1)
        }
        _ => db.url.clone(),
    }
}

/// Rows in the history table of `db`.
async fn history_rows(db: &TestDb) -> i64 {
    let conn = db.connect().await;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) FROM oht50_migration_history".to_string(),
        ))
        .await
        .expect("count history")
        .expect("a row");
    let n = row.try_get_by_index::<i64>(0).expect("count");
    let _ = conn.close().await;
    n
}

fn assert_no_secret(o: &Output) {
    for (stream, text) in [("stdout", stdout(o)), ("stderr", stderr(o))] {
        assert!(
            !text.contains(SECRET),
            "the secret leaked on {stream}: {text}"
        );
    }
}

#[tokio::test]
async fn mixed_fleet_reports_bad_targets_and_a_rerun_finishes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    let n = count();
    let healthy = one_of_each("fleet_mixed").await;
    let Some(tampered) = TestDb::create(Backend::Sqlite, "fleet_tampered").await else {
        return;
    };
    // The tampered target has two migrations applied, then the first one's recorded checksum
    // no longer matches its code (as when a migration is edited after it was applied).
    ok(run(d, Some(&tampered.url), &["up", "-n", "2"]));
    let conn = tampered.connect().await;
    conn.execute_unprepared(&format!(
        "UPDATE oht50_migration_history SET checksum = '{}' WHERE version = '{}'",
        "0".repeat(64),
        all[0]
    ))
    .await
    .expect("tamper with the checksum");
    let _ = conn.close().await;

    let mut entries: Vec<(&str, String, &[&str])> = healthy
        .iter()
        .map(|db| (short_name(db), file_url(db), &["site"][..]))
        .collect();
    entries.push(("edited", tampered.url.clone(), &["rig"]));
    // Nothing listens on port 1.
    entries.push((
        "gone",
        "postgres://postgres:${FLEET_TEST_PASSWORD}@127.0.0.1:1/oht50".into(),
        &["site"],
    ));
    let file = write_targets(d, &entries);

    let o = fleet(d, &["up", "--targets", &file, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_no_secret(&o);
    let report = doc(&o);
    for db in &healthy {
        let t = target(&report, short_name(db));
        assert_eq!(t["outcome"], "applied", "{t}");
        assert_eq!(t["after"], all[n - 1].as_str(), "{t}");
        assert!(t["before"].is_null(), "{t}");
        assert_eq!(t["applied"].as_array().map(Vec::len), Some(n), "{t}");
        assert_eq!(applied(d, &db.url), all, "{:?} ends current", db.backend);
    }
    let edited = target(&report, "edited");
    assert_eq!(edited["outcome"], "failed", "{edited}");
    assert!(
        edited["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("{} was changed after it was applied", all[0]))),
        "{edited}"
    );
    assert_eq!(
        applied(d, &tampered.url),
        all[..2],
        "the refused target is untouched"
    );
    let gone = target(&report, "gone");
    assert_eq!(gone["outcome"], "unreachable", "{gone}");
    assert!(
        gone["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{gone}"
    );
    assert_eq!(gone["url"], "postgres://postgres:***@127.0.0.1:1/oht50");
    assert!(stderr(&o).contains("2 of"), "{}", stderr(&o));
    let summary = &report["summary"];
    assert_eq!(summary["applied"], healthy.len(), "{summary}");
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["unreachable"], 1);

    // `fleet status` reads only: the healthy ones are current, the edited one needs attention.
    let o = fleet(d, &["status", "--targets", &file, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_no_secret(&o);
    let report = doc(&o);
    for db in &healthy {
        assert_eq!(target(&report, short_name(db))["outcome"], "current");
    }
    let edited = target(&report, "edited");
    assert_eq!(edited["outcome"], "attention", "{edited}");
    assert_eq!(edited["pending"], n - 2, "{edited}");
    assert!(
        edited["error"]
            .as_str()
            .is_some_and(|e| e.contains("was changed after it was applied")),
        "{edited}"
    );

    // Fix both: repair the reviewed checksum, point the other target at a live database.
    ok(run(d, Some(&tampered.url), &["repair"]));
    let Some(moved) = TestDb::create(Backend::Postgres, "fleet_moved").await else {
        return;
    };
    let before: Vec<i64> = {
        let mut v = Vec::new();
        for db in &healthy {
            v.push(history_rows(db).await);
        }
        v
    };
    let last = entries.len() - 1;
    entries[last].1 = file_url(&moved);
    let file = write_targets(d, &entries);
    let o = fleet(d, &["up", "--targets", &file, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_no_secret(&o);
    let report = doc(&o);
    for (db, rows) in healthy.iter().zip(before) {
        let t = target(&report, short_name(db));
        assert_eq!(t["outcome"], "current", "{t}");
        assert_eq!(
            history_rows(db).await,
            rows,
            "{:?}: a current target is not changed",
            db.backend
        );
    }
    let edited = target(&report, "edited");
    assert_eq!(edited["outcome"], "applied", "{edited}");
    assert_eq!(edited["before"], all[1].as_str());
    assert_eq!(edited["applied"].as_array().map(Vec::len), Some(n - 2));
    assert_eq!(target(&report, "gone")["outcome"], "applied");
    assert_eq!(applied(d, &moved.url), all);

    // The roll-up in text: a table and a summary, exit 0, no secret.
    let o = ok(fleet(d, &["status", "--targets", &file]));
    assert_no_secret(&o);
    let text = stdout(&o);
    assert!(text.contains("Before → after"), "{text}");
    assert!(
        text.contains(&format!("{} target(s)", entries.len())) && text.contains("current"),
        "{text}"
    );
    // One plain line per target on stderr (not a terminal).
    assert_eq!(
        stderr(&o).lines().filter(|l| l.starts_with('[')).count(),
        entries.len(),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn canary_failure_stops_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rest = one_of_each("fleet_canary").await;
    let mut entries: Vec<(&str, String, &[&str])> = vec![(
        "canary",
        "mysql://root:${FLEET_TEST_PASSWORD}@127.0.0.1:1/oht50".into(),
        &[],
    )];
    entries.extend(
        rest.iter()
            .map(|db| (short_name(db), file_url(db), &[][..])),
    );
    let file = write_targets(d, &entries);
    let o = fleet(
        d,
        &[
            "up",
            "--targets",
            &file,
            "--canary",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_no_secret(&o);
    let report = doc(&o);
    assert_eq!(target(&report, "canary")["outcome"], "unreachable");
    for db in &rest {
        let t = target(&report, short_name(db));
        assert_eq!(t["outcome"], "not-run", "{t}");
        assert!(
            t["error"].as_str().is_some_and(|e| e.contains("canary")),
            "{t}"
        );
        assert!(t["started_at"].is_null(), "{t}");
        match db.sqlite_path() {
            Some(path) => assert!(!path.exists(), "the SQLite file was not even created"),
            None => assert!(applied(d, &db.url).is_empty(), "{:?} untouched", db.backend),
        }
    }
    assert_eq!(report["summary"]["not_run"], rest.len());

    // A healthy canary lets the rollout go on.
    let file = write_targets(d, &entries[1..]);
    let o = ok(fleet(
        d,
        &[
            "up",
            "--targets",
            &file,
            "--canary",
            "1",
            "--format",
            "json",
        ],
    ));
    let report = doc(&o);
    assert_eq!(report["summary"]["applied"], rest.len(), "{report}");
}

#[tokio::test]
async fn parallel_one_is_strictly_sequential_and_globs_are_targets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dbs = one_of_each("fleet_seq").await;
    let rigs = d.join("rigs");
    std::fs::create_dir(&rigs).unwrap();
    for i in 0..3 {
        std::fs::File::create(rigs.join(format!("rig{i}.db"))).unwrap();
    }
    let mut text = String::new();
    for db in &dbs {
        text.push_str(&format!(
            "[targets.{}]\nurl = \"{}\"\n\n",
            short_name(db),
            file_url(db)
        ));
    }
    text.push_str(&format!(
        "[globs.rigs]\npattern = \"{}/*.db\"\nlabels = [\"rig\"]\n",
        rigs.display()
    ));
    let file = d.join("fleet.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();

    let o = ok(fleet(
        d,
        &[
            "up",
            "--targets",
            &file,
            "--parallel",
            "1",
            "--format",
            "json",
        ],
    ));
    let report = doc(&o);
    assert_eq!(report["parallel"], 1);
    let targets = report["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), dbs.len() + 3);
    let mut spans: Vec<(String, String, String)> = targets
        .iter()
        .map(|t| {
            assert_eq!(t["outcome"], "applied", "{t}");
            (
                t["started_at"].as_str().expect("started").to_string(),
                t["finished_at"].as_str().expect("finished").to_string(),
                t["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let in_file_order: Vec<String> = spans.iter().map(|s| s.2.clone()).collect();
    spans.sort();
    let by_start: Vec<String> = spans.iter().map(|s| s.2.clone()).collect();
    assert_eq!(by_start, in_file_order, "targets start in the file's order");
    for pair in spans.windows(2) {
        let (a_end, b_start) = (
            chrono::DateTime::parse_from_rfc3339(&pair[0].1).expect("time"),
            chrono::DateTime::parse_from_rfc3339(&pair[1].0).expect("time"),
        );
        assert!(
            a_end <= b_start,
            "{} finished at {a_end} after {} started at {b_start}",
            pair[0].2,
            pair[1].2
        );
    }
    // A glob given directly, with a selection: only the rigs, one left out.
    let glob = format!("{}/*.db", rigs.display());
    let o = ok(fleet(
        d,
        &[
            "status",
            "--targets",
            &glob,
            "--except",
            "rig1",
            "--format",
            "json",
        ],
    ));
    let report = doc(&o);
    let names: Vec<&str> = report["targets"]
        .as_array()
        .map(|ts| ts.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["rig0", "rig2"]);
    assert!(
        report["targets"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["outcome"] == "current"))
    );
    let o = ok(fleet(
        d,
        &[
            "status",
            "--targets",
            &file,
            "--only",
            "rig",
            "--format",
            "json",
        ],
    ));
    assert_eq!(doc(&o)["summary"]["total"], 3);
}

#[tokio::test]
async fn bad_targets_files_are_one_clear_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dbs = one_of_each("fleet_bad").await;
    let mut good = String::new();
    for db in &dbs {
        good.push_str(&format!(
            "[targets.{}]\nurl = \"{}\"\n\n",
            short_name(db),
            file_url(db)
        ));
    }
    let cases = [
        (
            "syntax",
            format!("{good}[targets.broken\nurl = \"sqlite://x.db\"\n"),
            "is not valid",
        ),
        (
            "duplicate",
            format!(
                "{good}[targets.twice]\nurl = \"sqlite://a.db\"\n\n[targets.twice]\nurl = \"sqlite://b.db\"\n"
            ),
            "defines target `twice` twice",
        ),
        (
            "unknown env var",
            format!(
                "{good}[targets.nope]\nurl = \"postgres://u:${{FLEET_TEST_UNSET_VAR}}@h/db\"\n"
            ),
            "${FLEET_TEST_UNSET_VAR}, which is not set",
        ),
        (
            "unknown scheme",
            format!(
                "{good}[targets.ora]\nurl = \"oracle://scott:${{FLEET_TEST_PASSWORD}}@h/db\"\n"
            ),
            "oracle",
        ),
    ];
    for (what, text, expected) in cases {
        let file = d.join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let o = fleet(d, &["up", "--targets", &file.display().to_string()]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert_no_secret(&o);
        let err = stderr(&o);
        assert!(err.contains(expected), "{what}: {err}");
        assert!(err.contains("No target was touched"), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: one error: {err}");
        assert!(stdout(&o).is_empty(), "{what}: {}", stdout(&o));
    }
    let o = fleet(
        d,
        &["up", "--targets", &format!("{}/none/*.db", d.display())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("matches no file"), "{}", stderr(&o));
    for db in &dbs {
        match db.sqlite_path() {
            Some(path) => assert!(!path.exists(), "nothing created"),
            None => assert!(applied(d, &db.url).is_empty(), "{:?}", db.backend),
        }
    }
}
