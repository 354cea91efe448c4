//! Credentials are masked by structure, never by searching for the password's text: against
//! real servers, with passwords that are one character, equal to the user name, a common word,
//! or percent-encoded, the messages name the right thing, keep every other word intact, and
//! never show the password.

use std::path::Path;

use sea_orm::{ConnectionTrait, Database};
use test_support::{Backend, TestDb};

use crate::support::{run, stderr, stdout};

/// The server URL of `backend` (no database), as test-support uses it.
fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Postgres => std::env::var("OHT50_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
        _ => std::env::var("OHT50_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
    }
}

/// `url` with its userinfo replaced by `user:password` (`password` as it goes in a URL).
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A role (PostgreSQL) or user (MariaDB) with a password, dropped with this value.
struct Login {
    backend: Backend,
    name: String,
}

impl Login {
    /// Creates `name` with `password` (plain text), allowed to use the database `db`.
    async fn create(backend: Backend, name: &str, password: &str, db: &str) -> Login {
        let admin = admin(backend).await;
        let pw = password.replace('\'', "''");
        let statements = match backend {
            Backend::Postgres => vec![format!("CREATE ROLE \"{name}\" LOGIN PASSWORD '{pw}'")],
            _ => vec![
                format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{pw}'"),
                format!("CREATE USER '{name}'@'localhost' IDENTIFIED BY '{pw}'"),
                format!("GRANT ALL ON `{db}`.* TO '{name}'@'%'"),
                format!("GRANT ALL ON `{db}`.* TO '{name}'@'localhost'"),
            ],
        };
        let login = Login {
            backend,
            name: name.to_string(),
        };
        for sql in statements {
            admin
                .execute_unprepared(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let _ = admin.close().await;
        login
    }
}

async fn admin(backend: Backend) -> sea_orm::DatabaseConnection {
    let db = if backend == Backend::Postgres {
        "postgres"
    } else {
        "mysql"
    };
    Database::connect(format!("{}/{db}", server_url(backend)))
        .await
        .expect("admin connection")
}

impl Drop for Login {
    fn drop(&mut self) {
        let (backend, name) = (self.backend, self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let admin = admin(backend).await;
                let statements = match backend {
                    Backend::Postgres => vec![format!("DROP ROLE IF EXISTS \"{name}\"")],
                    _ => vec![
                        format!("DROP USER IF EXISTS '{name}'@'%'"),
                        format!("DROP USER IF EXISTS '{name}'@'localhost'"),
                    ],
                };
                for sql in statements {
                    let _ = admin.execute_unprepared(&sql).await;
                }
                let _ = admin.close().await;
            });
        })
        .join();
    }
}

/// Every `***` in `text` stands for a URL's password (`user:***@`): none replaced a letter
/// inside another word.
fn masks_only_passwords(text: &str) -> bool {
    text.match_indices("***")
        .all(|(i, _)| text[..i].ends_with(':') && text[i + 3..].starts_with('@'))
}

/// Runs `args` against `url` and checks the output: exit `code`, `needles` present, only
/// URL passwords masked, and the password (plain and as written in the URL) absent from every
/// `user:password@` and, when it is not a common word or the user name, from the whole output.
#[allow(clippy::too_many_arguments)]
fn check(
    dir: &Path,
    url: &str,
    args: &[&str],
    code: i32,
    needles: &[&str],
    user: &str,
    password: &str,
    encoded: &str,
) -> String {
    let o = run(dir, Some(url), args);
    let (out, err) = (stdout(&o), stderr(&o));
    let all = format!("{out}{err}");
    assert_eq!(o.status.code(), Some(code), "{args:?}: {all}");
    for needle in needles {
        assert!(
            all.contains(needle),
            "{args:?}: expected `{needle}` in: {all}"
        );
    }
    assert!(
        masks_only_passwords(&all),
        "{args:?}: a word was masked: {all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    for shown in [password, encoded] {
        assert!(
            !all.contains(&format!("{user}:{shown}@")),
            "{args:?}: password shown: {all}"
        );
        if shown.len() > 3 && shown != user && shown != "password" {
            assert!(!all.contains(shown), "{args:?}: password shown: {all}");
        }
    }
    all
}

/// The odd passwords: (label, plain text, as written in a URL).
fn passwords(user: &str) -> Vec<(&'static str, String, String)> {
    vec![
        ("one character", "s".into(), "s".into()),
        ("the user name", user.into(), user.into()),
        ("a common word", "password".into(), "password".into()),
        (
            "percent-encoded",
            "p@ss:w/rd%".into(),
            "p%40ss%3Aw%2Frd%25".into(),
        ),
    ]
}

#[tokio::test]
async fn odd_passwords_never_mangle_messages_or_show_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for backend in [Backend::Postgres, Backend::MySql] {
        let Some(db) = TestDb::create(backend, "redaction").await else {
            continue;
        };
        for (n, (label, _, _)) in passwords("x").into_iter().enumerate() {
            // Names the messages contain, so a masked letter would show.
            let user = format!("rdx{n}u{}", std::process::id());
            let (_, password, encoded) = passwords(&user).swap_remove(n);
            let _login = Login::create(backend, &user, &password, db.name()).await;
            let url = with_credentials(&db.url, &user, &encoded);
            let ctx = format!("{backend:?}, password {label}");

            // Connected: the URL is shown with its password masked, nothing else.
            let all = check(
                d,
                &url,
                &["status"],
                0,
                &["pending"],
                &user,
                &password,
                &encoded,
            );
            assert!(
                all.contains(&format!("{user}:***@")),
                "{ctx}: the URL is shown masked: {all}"
            );

            // The server refuses the database: its name and the server's words stay intact.
            let missing = format!("{}_missing", db.name());
            let bad_db = format!("{}_missing", url);
            let needles: Vec<String> = match backend {
                Backend::Postgres => vec![
                    format!("database \"{missing}\" does not exist"),
                    "Create the database first".into(),
                ],
                _ => vec![
                    format!("Access denied for user '{user}'@"),
                    format!("to database '{missing}'"),
                ],
            };
            let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
            check(
                d,
                &bad_db,
                &["status"],
                1,
                &needles,
                &user,
                &password,
                &encoded,
            );

            // MariaDB checks passwords here: a wrong one names the user, and every word stays.
            if backend == Backend::MySql {
                let wrong_pw = if password == "password" {
                    "s"
                } else {
                    "password"
                };
                let wrong = with_credentials(&db.url, &user, wrong_pw);
                check(
                    d,
                    &wrong,
                    &["status"],
                    1,
                    &[
                        &format!("Access denied for user '{user}'@"),
                        "(using password: YES)",
                        "Check the user name and password",
                    ],
                    &user,
                    wrong_pw,
                    wrong_pw,
                );
            }
            drop(_login);
            eprintln!("{ctx}: ok");
        }
        // The example: user `root` with password `root` (MariaDB's root has none here).
        if backend == Backend::MySql {
            let url = with_credentials(&db.url, "root", "root");
            check(
                d,
                &url,
                &["status"],
                1,
                &[
                    "Access denied for user 'root'@",
                    "Check the user name and password",
                ],
                "root",
                "root",
                "root",
            );
        }
    }
}
