//! The `migration` binary end to end, on every backend: the command set, `--to`, JSON status,
//! `generate` from the workspace root, and every kind of bad input (clear message, non-zero
//! exit, database unchanged, no password printed).

use std::path::Path;
use std::process::Command;

use crate::support::{
    BIN, applied, common_prefix, count, names, ok, run, snapshot, stderr, stdout, unique_prefix,
};
use test_support::{Backend, TestDb};

#[tokio::test]
async fn command_set_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    let n = all.len();
    assert!(n >= 3, "these steps need three migrations: {all:?}");
    let (m1, m2, m3, last) = (
        all[0].as_str(),
        all[1].as_str(),
        all[2].as_str(),
        all[n - 1].as_str(),
    );
    let all_but_first = (n - 1).to_string();
    each_backend!("cli_commands", |db| {
        let url = db.url.as_str();
        let b = db.backend;
        let o = ok(run(d, Some(url), &["up"]));
        assert!(
            stderr(&o).contains(&format!("Applied {last}")),
            "{b:?}: {}",
            stderr(&o)
        );
        assert_eq!(applied(d, url), all, "{b:?}");

        let o = ok(run(d, Some(url), &["status"]));
        assert!(stdout(&o).contains("0 pending"), "{b:?}: {}", stdout(&o));

        let o = ok(run(d, Some(url), &["up"]));
        assert!(stderr(&o).contains("Nothing to apply"), "{b:?}");

        ok(run(d, Some(url), &["down", "-n", &all_but_first]));
        assert_eq!(applied(d, url), [m1], "{b:?}: down -n {all_but_first}");
        ok(run(d, Some(url), &["down"]));
        assert!(applied(d, url).is_empty(), "{b:?}: down defaults to 1");
        ok(run(d, Some(url), &["up", "-n", "1"]));
        assert_eq!(applied(d, url), [m1], "{b:?}: up -n 1");
        ok(run(d, Some(url), &["up", "--to", &unique_prefix(m2)]));
        assert_eq!(applied(d, url), [m1, m2], "{b:?}: up --to prefix");
        ok(run(d, Some(url), &["up", "--to", m3]));
        assert_eq!(applied(d, url), [m1, m2, m3], "{b:?}: up --to full name");
        ok(run(d, Some(url), &["down", "--to", m1]));
        assert_eq!(applied(d, url), [m1], "{b:?}: down --to");
        ok(run(d, Some(url), &["up"]));

        // refresh and reset keep working on a populated schema.
        let o = ok(run(d, Some(url), &["refresh"]));
        assert!(
            stdout(&o).contains(&format!("reverted {n}, applied {n}")),
            "{b:?}: {}",
            stdout(&o)
        );
        assert_eq!(applied(d, url), all, "{b:?}: refresh");
        ok(run(d, Some(url), &["reset"]));
        assert!(applied(d, url).is_empty(), "{b:?}: reset");
        let (schema, _) = snapshot(&db).await;
        assert_eq!(
            schema.table_names(),
            ["oht50_migration_history", "seaql_migrations"],
            "{b:?}: reset leaves only the ledger and the history"
        );

        // fresh drops everything, foreign tables included, then applies all.
        ok(run(d, Some(url), &["up", "-n", "1"]));
        {
            let conn = db.connect().await;
            sea_orm::ConnectionTrait::execute_unprepared(
                &conn,
                "CREATE TABLE stray (id INTEGER PRIMARY KEY)",
            )
            .await
            .expect("create stray table");
        }
        let o = ok(run(d, Some(url), &["fresh"]));
        assert!(
            stderr(&o).contains("stray"),
            "{b:?}: fresh names what it dropped"
        );
        assert_eq!(applied(d, url), all, "{b:?}: fresh");
        let (schema, _) = snapshot(&db).await;
        assert!(!schema.tables.contains_key("stray"), "{b:?}");
        assert_eq!(
            schema.tables.len(),
            12,
            "{b:?}: 10 tables + ledger + history"
        );
    });
}

#[test]
fn without_database_url_uses_local_sqlite_file_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = ok(run(dir.path(), None, &["up"]));
    assert!(
        stderr(&o).contains("No DATABASE_URL given: using the SQLite database ./oht50.db"),
        "{}",
        stderr(&o)
    );
    assert!(dir.path().join("oht50.db").is_file());
    // No subcommand means `up` (as in sea-orm-migration).
    let o = ok(run(dir.path(), None, &[]));
    assert!(stderr(&o).contains("Nothing to apply"));
    let o = ok(run(dir.path(), None, &["status", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("pure JSON on stdout");
    assert_eq!(doc["pending"], 0);
    assert_eq!(doc["migrations"].as_array().map(Vec::len), Some(count()));
}

#[test]
fn dotenv_file_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite://from_env_file.db\n",
    )
    .unwrap();
    ok(run(dir.path(), None, &["up"]));
    assert!(dir.path().join("from_env_file.db").is_file());
    assert!(!dir.path().join("oht50.db").exists());
}

/// Copies the migration crate's manifest and lib.rs into a fake workspace.
fn fake_workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let src = ws.path().join("migration/src");
    std::fs::create_dir_all(&src).unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        here.join("Cargo.toml"),
        ws.path().join("migration/Cargo.toml"),
    )
    .unwrap();
    std::fs::copy(here.join("src/lib.rs"), src.join("lib.rs")).unwrap();
    std::fs::write(
        ws.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"migration\"]\n",
    )
    .unwrap();
    ws
}

#[test]
fn generate_from_the_workspace_root_writes_into_the_migration_crate() {
    let ws = fake_workspace();
    let o = ok(run(ws.path(), None, &["generate", "add robot firmware"]));
    let src = ws.path().join("migration/src");
    let created: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with("_add_robot_firmware.rs"))
        .collect();
    assert_eq!(created.len(), 1, "{created:?} / {}", stdout(&o));
    let module = created[0].trim_end_matches(".rs");
    assert!(
        migration_engine::generate::is_migration_module(module),
        "{module}"
    );
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains(&format!("mod {module};")), "{lib}");
    assert!(
        lib.contains(&format!("Box::new({module}::Migration),")),
        "{lib}"
    );
    // Registered last, after every existing migration.
    let new_at = lib.find(&format!("Box::new({module}::Migration)"));
    for existing in names() {
        let at = lib.find(&format!("Box::new({existing}::Migration)"));
        assert!(
            at.is_some() && at < new_at,
            "{existing} before {module}: {lib}"
        );
    }
    let body = std::fs::read_to_string(src.join(&created[0])).unwrap();
    assert!(body.contains("impl MigrationTrait for Migration"));
    assert!(!body.contains("todo!"), "generated code must not panic");
    assert!(
        !ws.path().join("src").exists(),
        "nothing written to ./src of the workspace root"
    );

    // From inside the crate's src/ too.
    ok(run(&src, None, &["generate", "second"]));
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains("_second::Migration),"));

    // Outside any workspace: a clear error, nothing written.
    let elsewhere = tempfile::tempdir().unwrap();
    let o = run(elsewhere.path(), None, &["generate", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no migration crate found"),
        "{}",
        stderr(&o)
    );
    let o = run(ws.path(), None, &["generate", "bad;name"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("contains `;`"), "{}", stderr(&o));
}

/// Runs `args` expecting failure with `code` and a message containing `needle`; the database
/// must be unchanged and `secret` must appear nowhere in the output.
async fn refused(
    db: &TestDb,
    dir: &Path,
    url: &str,
    args: &[&str],
    code: i32,
    needle: &str,
    secret: &str,
) {
    let before = snapshot(db).await;
    let o = run(dir, Some(url), args);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(
        o.status.code(),
        Some(code),
        "{:?} {args:?}\nstdout: {out}\nstderr: {err}",
        db.backend
    );
    assert!(
        err.contains(needle),
        "{:?} {args:?}: expected `{needle}` in: {err}",
        db.backend
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{:?}: {err}",
        db.backend
    );
    let first = err.split("\n\n").next().unwrap_or_default().trim_end();
    assert!(
        first.starts_with("error: ") && !first.contains('\n'),
        "{:?}: one paragraph: {err}",
        db.backend
    );
    assert_eq!(
        err.matches("error:").count(),
        1,
        "{:?}: one error: {err}",
        db.backend
    );
    if !secret.is_empty() {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{:?}: password printed",
            db.backend
        );
    }
    assert!(
        before == snapshot(db).await,
        "{:?} {args:?}: database changed",
        db.backend
    );
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = names();
    let (m1, m3) = (all[0].as_str(), all[2].as_str());
    // A prefix every migration shares, and what the refusal says about it.
    let ambiguous = common_prefix();
    let ambiguous_says = format!("prefix of {} migrations", all.len());
    each_backend!("cli_bad_input", |db| {
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up", "-n", "1"]));
        refused(
            &db,
            d,
            url,
            &["up", "--to", "m2099"],
            2,
            "unknown migration `m2099`",
            "",
        )
        .await;
        refused(
            &db,
            d,
            url,
            &["up", "--to", &ambiguous],
            2,
            &ambiguous_says,
            "",
        )
        .await;
        refused(&db, d, url, &["up", "--to", m1], 2, "already applied", "").await;
        refused(&db, d, url, &["down", "--to", m3], 2, "is not applied", "").await;
        refused(
            &db,
            d,
            url,
            &["up", "-n", "1", "--to", m3],
            2,
            "cannot be used with",
            "",
        )
        .await;
        refused(&db, d, url, &["sideways"], 2, "unrecognized subcommand", "").await;
        refused(&db, d, url, &["up", "-n", "many"], 2, "invalid value", "").await;
        // Bad URLs: the database named by `url` must stay as it is.
        refused(
            &db,
            d,
            "postgres://u:Hunter2Secret@127.0.0.1:1/x",
            &["up"],
            1,
            "connection refused",
            "Hunter2Secret",
        )
        .await;
        refused(
            &db,
            d,
            "oracle://u:Hunter2Secret@h/x",
            &["up"],
            2,
            "unsupported database scheme",
            "Hunter2Secret",
        )
        .await;
        refused(
            &db,
            d,
            "postgres://u:Hunter2Secret@/x",
            &["up"],
            2,
            "invalid database URL",
            "Hunter2Secret",
        )
        .await;
        refused(&db, d, "not-a-url", &["up"], 2, "invalid database URL", "").await;
        if db.backend == Backend::MySql {
            let wrong = url.replacen("mysql://root@", "mysql://root:Hunter2Secret@", 1);
            refused(
                &db,
                d,
                &wrong,
                &["up"],
                1,
                "Check the user name and password",
                "Hunter2Secret",
            )
            .await;
        }
        if db.backend == Backend::Postgres {
            let missing = format!("{}_missing", url);
            refused(
                &db,
                d,
                &missing,
                &["up"],
                1,
                "Create the database first",
                "",
            )
            .await;
            let bad_user = url.replacen(
                "postgres://postgres@",
                "postgres://nosuchrole:Hunter2Secret@",
                1,
            );
            refused(
                &db,
                d,
                &bad_user,
                &["up"],
                1,
                "could not connect",
                "Hunter2Secret",
            )
            .await;
        }
        // Applied versions this build does not know: refused, nothing changed.
        {
            let conn = db.connect().await;
            migration_engine::bookkeeping::ledger::Ledger::default()
                .insert(&conn, "m20991231_000000_from_the_future")
                .await
                .unwrap();
        }
        refused(
            &db,
            d,
            url,
            &["up"],
            1,
            "does not know: m20991231_000000_from_the_future",
            "",
        )
        .await;
        let o = ok(run(d, Some(url), &["status"]));
        assert!(stdout(&o).contains("UNKNOWN"), "{:?}", db.backend);
    });
}

#[test]
fn help_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .env("DATABASE_URL", "postgres://u:Hunter2Secret@127.0.0.1/x")
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("--database-url"));
    assert!(!text.contains("Hunter2Secret"), "{text}");
}
