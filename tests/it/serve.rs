//! `oht50-db serve` on every backend, through a real HTTP client on an ephemeral port: the
//! status and history documents (byte for byte those of the command line), the probes, the
//! metrics (parsed as Prometheus text), token auth of the mutation endpoints, concurrent
//! migrate requests, SIGTERM during a migration that waits, and no password anywhere.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::Migrator;
use migration_engine::DatabaseUrl;
use migration_engine::bookkeeping::lock::{LockId, MigrationLock};
use migration_engine::cli::Environment;
use migration_engine::cli::{EventLog, Format};
use oht50_db::serve::auth::Token;
use oht50_db::serve::{AppState, ServeOptions, serve_on};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use test_support::{Backend, TestDb, wait_for, wait_for_async};

const BIN: &str = env!("CARGO_BIN_EXE_oht50-db");
const TOKEN: &str = "test-token-0123456789abcdef";

fn names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// A server in this process on an ephemeral port; stops when dropped.
struct Server {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start(url: &str, configure: impl FnOnce(&mut ServeOptions)) -> Server {
        let mut options = ServeOptions::new(
            DatabaseUrl::parse(url).expect("url"),
            migration::config(),
            Migrator::migrations,
        );
        options.log = EventLog::new(Format::Json, None);
        configure(&mut options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_on(listener, AppState::new(options), async move {
            let _ = stopped.await;
        }));
        Server {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = r.status();
        (status, r.text().await.expect("body"))
    }

    async fn get_json(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let (status, body) = self.get(path).await;
        let doc = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        (status, doc)
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        post(&self.client, &self.base, path, token, body).await
    }
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let mut req = client.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("POST");
    let status = r.status();
    let text = r.text().await.expect("body");
    let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    (status, doc)
}

fn with_token(o: &mut ServeOptions) {
    o.token = Some(Token::new(TOKEN, "test").expect("token"));
}

/// stdout of `oht50-db -u URL migrate ARGS`, which must succeed.
fn cli(url: &str, args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(["-u", url, "migrate"])
        .args(args)
        .env_remove("OHT50_ENV")
        .output()
        .expect("run oht50-db");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .expect("count query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// The ledger rows, and per version the successful `up` rows of the history.
async fn ledger(db: &TestDb) -> (i64, Vec<i64>) {
    let conn = db.connect().await;
    let rows = count(&conn, "SELECT COUNT(*) FROM seaql_migrations").await;
    let mut ups = Vec::new();
    for name in names() {
        ups.push(
            count(
                &conn,
                &format!(
                    "SELECT COUNT(*) FROM oht50_migration_history \
                     WHERE version = '{name}' AND direction = 'up' AND outcome = 'succeeded'"
                ),
            )
            .await,
        );
    }
    let _ = conn.close().await;
    (rows, ups)
}

/// One sample: name, labels (sorted), value.
type Sample = (String, Vec<(String, String)>, f64);

/// Samples of a metrics text, parsed as Prometheus text.
fn metrics(text: &str) -> Vec<Sample> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("{}: unexpected {other:?}", s.metric),
            };
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            (s.metric, labels, value)
        })
        .collect()
}

fn metric(samples: &[Sample], name: &str) -> f64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "one sample of {name} in {samples:?}");
    found[0]
}

#[tokio::test]
async fn endpoints_serve_the_cli_documents_and_ready_flips_after_migrate() {
    let all = names();
    let n = all.len();
    each_backend!("serve_docs", |db| {
        let b = db.backend;
        let server = Server::start(&db.url, with_token).await;

        let (status, health) = server.get_json("/health").await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {health}");
        assert_eq!(health["status"], "ok");
        assert_eq!(health["database"]["reachable"], true, "{b:?}: {health}");

        let (status, ready) = server.get_json("/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{b:?}: {ready}");
        assert_eq!(ready["ready"], false);
        let pending: Vec<&str> = ready["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .filter(|r| r["kind"] == "pending")
            .map(|r| r["name"].as_str().expect("name"))
            .collect();
        assert_eq!(pending, all, "{b:?}: every migration is a reason");

        // Same bytes as the command line, before and after migrating.
        let (status, body) = server.get("/api/v1/migrations/status").await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {body}");
        assert_eq!(body, cli(&db.url, &["status", "--format", "json"]), "{b:?}");
        let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(doc["pending"], n);

        let (status, run) = server
            .post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {run}");
        let steps: Vec<&str> = run["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["version"].as_str().expect("version"))
            .collect();
        assert_eq!(steps, all, "{b:?}");
        let finished: Vec<&str> = run["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["event"] == "finished")
            .map(|e| e["version"].as_str().expect("version"))
            .collect();
        assert_eq!(finished, all, "{b:?}: the event log of the run: {run}");

        let (status, ready) = server.get_json("/ready").await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {ready}");
        assert_eq!(ready["ready"], true);
        assert_eq!(ready["reasons"], serde_json::json!([]));

        let (_, body) = server.get("/api/v1/migrations/status").await;
        assert_eq!(body, cli(&db.url, &["status", "--format", "json"]), "{b:?}");
        let (status, body) = server.get("/api/v1/migrations/history?limit=2").await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {body}");
        assert_eq!(
            body,
            cli(&db.url, &["history", "--format", "json", "--limit", "2"]),
            "{b:?}"
        );
        let (_, body) = server.get("/api/v1/migrations/history").await;
        assert_eq!(
            body,
            cli(&db.url, &["history", "--format", "json"]),
            "{b:?}"
        );
        let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(doc["history"].as_array().map(Vec::len), Some(n));
        let (status, bad) = server.get_json("/api/v1/migrations/history?limit=x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b:?}: {bad}");

        let r = server
            .client
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .expect("metrics");
        assert_eq!(r.status(), StatusCode::OK);
        let content_type = r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(content_type.contains("text"), "{content_type}");
        let samples = metrics(&r.text().await.expect("text"));
        assert_eq!(metric(&samples, "oht50_database_up"), 1.0, "{b:?}");
        assert_eq!(metric(&samples, "oht50_migrations_applied"), n as f64);
        assert_eq!(metric(&samples, "oht50_migrations_pending"), 0.0);
        assert_eq!(metric(&samples, "oht50_migrations_unknown"), 0.0);
        assert_eq!(metric(&samples, "oht50_migration_failed_runs"), 0.0);
        assert_eq!(metric(&samples, "oht50_migration_checksum_problems"), 0.0);
        assert_eq!(metric(&samples, "oht50_migration_lock_held"), 0.0);
        assert_eq!(metric(&samples, "oht50_migration_run_in_progress"), 0.0);
        let info: Vec<_> = samples
            .iter()
            .filter(|(name, _, _)| name == "oht50_migration_build_info")
            .collect();
        assert_eq!(info.len(), 1, "{samples:?}");
        assert!(
            info[0]
                .1
                .contains(&("newest_version".to_string(), all[n - 1].clone())),
            "{info:?}"
        );
        let mut timed: Vec<String> = samples
            .iter()
            .filter(|(name, _, _)| name == "oht50_migration_last_duration_seconds")
            .map(|(_, labels, v)| {
                assert!(*v >= 0.0);
                labels
                    .iter()
                    .find(|(k, _)| k == "version")
                    .map(|(_, v)| v.clone())
                    .expect("version label")
            })
            .collect();
        timed.sort();
        assert_eq!(timed, all, "{b:?}: one duration per applied migration");

        // A rollback shows in the metrics and makes the database not ready again.
        let (status, run) = server
            .post(
                &format!("/api/v1/migrations/rollback/{}", all[n - 2]),
                Some(TOKEN),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {run}");
        assert_eq!(run["steps"][0]["version"], all[n - 1].as_str());
        let (_, text) = server.get("/metrics").await;
        let samples = metrics(&text);
        assert_eq!(metric(&samples, "oht50_migrations_pending"), 1.0, "{b:?}");
        let (status, _) = server.get("/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    });
}

#[tokio::test]
async fn mutation_endpoints_need_the_token_and_change_nothing_without_it() {
    let all = names();
    each_backend!("serve_auth", |db| {
        let b = db.backend;
        let migrate = "/api/v1/migrations/migrate";
        let rollback = format!("/api/v1/migrations/rollback/{}", all[0]);
        let pending = |doc: &serde_json::Value| doc["pending"].as_u64();

        // Off without a token: 403 saying how to turn them on.
        let off = Server::start(&db.url, |_| {}).await;
        for path in [migrate, rollback.as_str()] {
            let (status, doc) = off.post(path, Some(TOKEN), serde_json::json!({})).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{b:?} {path}: {doc}");
            let msg = doc["error"].as_str().unwrap_or_default();
            assert!(
                msg.contains("OHT50_SERVE_TOKEN") && msg.contains("--token-file"),
                "{msg}"
            );
        }
        let (_, status) = off.get_json("/api/v1/migrations/status").await;
        assert_eq!(pending(&status), Some(all.len() as u64), "{b:?}");

        let on = Server::start(&db.url, with_token).await;
        let r = on
            .client
            .post(format!("{}{migrate}", on.base))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{b:?}: no token");
        assert_eq!(
            r.headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap_or_default()),
            Some("Bearer")
        );
        for wrong in [
            "wrong-token-0123456789abcdef",
            "",
            TOKEN.get(..10).unwrap_or("x"),
        ] {
            let (status, doc) = on.post(migrate, Some(wrong), serde_json::json!({})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{b:?} {wrong:?}: {doc}");
        }
        let (status, doc) = on.post(&rollback, None, serde_json::json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{b:?}: {doc}");
        let (_, status) = on.get_json("/api/v1/migrations/status").await;
        assert_eq!(
            pending(&status),
            Some(all.len() as u64),
            "{b:?}: nothing changed"
        );

        // The right token: a dry run changes nothing, then a migrate to a target.
        let (status, doc) = on
            .post(migrate, Some(TOKEN), serde_json::json!({"dry_run": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        assert_eq!(
            doc["dry_run"]["migrations"].as_array().map(Vec::len),
            Some(all.len()),
            "{b:?}: {doc}"
        );
        let (_, status) = on.get_json("/api/v1/migrations/status").await;
        assert_eq!(pending(&status), Some(all.len() as u64), "{b:?}: dry run");
        let (status, doc) = on
            .post(
                migrate,
                Some(TOKEN),
                serde_json::json!({"target_version": all[1]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        assert_eq!(doc["steps"].as_array().map(Vec::len), Some(2));
        let (status, doc) = on
            .post(
                migrate,
                Some(TOKEN),
                serde_json::json!({"target_version": "m1999_nope"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b:?}: {doc}");
        let (status, doc) = on
            .post(migrate, Some(TOKEN), serde_json::json!({"target": 1}))
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{b:?}: unknown field: {doc}"
        );

        // Production: a rollback needs "confirm": true.
        let prod = Server::start(&db.url, |o| {
            with_token(o);
            o.environment = Environment::Production;
        })
        .await;
        let (status, doc) = prod
            .post(&rollback, Some(TOKEN), serde_json::json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b:?}: {doc}");
        assert!(
            doc["error"]
                .as_str()
                .unwrap_or_default()
                .contains("confirm")
        );
        let (_, status) = prod.get_json("/api/v1/migrations/status").await;
        assert_eq!(pending(&status), Some(all.len() as u64 - 2), "{b:?}");
        let (status, doc) = prod
            .post(&rollback, Some(TOKEN), serde_json::json!({"confirm": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        let (_, status) = prod.get_json("/api/v1/migrations/status").await;
        assert_eq!(pending(&status), Some(all.len() as u64 - 1), "{b:?}");

        // The body size limit.
        let big = "x".repeat(64 * 1024);
        let r = on
            .client
            .post(format!("{}{migrate}", on.base))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "target_version": big }))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{b:?}");
    });
}

#[tokio::test]
async fn concurrent_migrate_requests_apply_each_migration_once() {
    let n = names().len() as i64;
    each_backend!("serve_concurrent", |db| {
        let b = db.backend;
        let server = Server::start(&db.url, with_token).await;
        let (a, c) = tokio::join!(
            server.post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({})
            ),
            server.post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({})
            ),
        );
        let mut applied = 0;
        for (status, doc) in [&a, &c] {
            match *status {
                StatusCode::OK => {
                    applied += doc["steps"].as_array().map(Vec::len).unwrap_or(0) as i64
                }
                StatusCode::CONFLICT => {
                    assert!(
                        doc["holder"]
                            .as_str()
                            .is_some_and(|h| h.contains("migrate")),
                        "{b:?}: 409 names the holder: {doc}"
                    );
                }
                other => panic!("{b:?}: {other}: {doc}"),
            }
        }
        assert!(
            a.0 == StatusCode::OK || c.0 == StatusCode::OK,
            "{b:?}: {a:?} {c:?}"
        );
        assert_eq!(applied, n, "{b:?}: every migration applied by one request");
        let (rows, ups) = ledger(&db).await;
        assert_eq!(rows, n, "{b:?}");
        assert!(
            ups.iter().all(|&u| u == 1),
            "{b:?}: each applied once: {ups:?}"
        );

        // Another runner (another process) holds the lock: 409 naming it, nothing changed.
        let (status, _) = server
            .post(
                &format!("/api/v1/migrations/rollback/{}", names()[0]),
                Some(TOKEN),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}");
        let holder = single(&db).await;
        let config = migration::config();
        let lock = MigrationLock::acquire(
            &holder,
            &LockId::of(&config),
            Duration::from_secs(5),
            &|_| {},
        )
        .await
        .expect("take the lock");
        let (_, text) = server.get("/metrics").await;
        assert_eq!(
            metric(&metrics(&text), "oht50_migration_lock_held"),
            1.0,
            "{b:?}: the lock probe sees the other session"
        );
        let (status, doc) = server
            .post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{b:?}: {doc}");
        assert!(doc["holder"].as_str().is_some(), "{b:?}: {doc}");
        if b == Backend::Postgres {
            assert!(
                doc["holder"].as_str().unwrap_or_default().contains("pid"),
                "{doc}"
            );
        }
        lock.release(&holder).await.expect("release");
        let _ = holder.close().await;
        let (rows, _) = ledger(&db).await;
        assert_eq!(rows, 1, "{b:?}: nothing applied while the lock was held");
        let (_, text) = server.get("/metrics").await;
        assert_eq!(metric(&metrics(&text), "oht50_migration_lock_held"), 0.0);
    });
}

/// A one-connection handle, as the lock needs (the tool's own `connect`).
async fn single(db: &TestDb) -> DatabaseConnection {
    let url = DatabaseUrl::parse(&db.url).expect("url");
    migration_engine::connect(&url, &migration_engine::ConnectSettings::default())
        .await
        .expect("connect")
}

/// The `oht50-db serve` binary, with its stderr collected line by line.
struct Spawned {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Spawned {
    fn start(url: &str, extra: &[&str]) -> Spawned {
        let mut child = Command::new(BIN)
            .args(["-u", url, "serve", "--listen", "127.0.0.1:0", "--no-backup"])
            .args(extra)
            .env("OHT50_SERVE_TOKEN", TOKEN)
            .env_remove("OHT50_ENV")
            .env_remove("OHT50_LOCK_TIMEOUT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn oht50-db serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let base = wait_for("the server to listen", Duration::from_secs(30), || {
            let text = stderr.lock().ok()?.clone();
            let at = text.find("on http://")?;
            let rest = &text[at + 3..];
            let end = rest.find(';')?;
            Some(rest[..end].to_string())
        });
        Spawned {
            child,
            base,
            stderr,
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sigterm_lets_a_running_migration_finish() {
    let n = names().len() as i64;
    each_backend!("serve_sigterm", |db| {
        let b = db.backend;
        // Another runner holds the migration lock, so the requested run waits in the middle.
        let holder = single(&db).await;
        let config = migration::config();
        let lock = MigrationLock::acquire(
            &holder,
            &LockId::of(&config),
            Duration::from_secs(5),
            &|_| {},
        )
        .await
        .expect("take the lock");
        let mut server = Spawned::start(&db.url, &["--lock-timeout", "120"]);
        let client = reqwest::Client::new();
        let base = server.base.clone();
        let request = tokio::spawn(async move {
            post(
                &client,
                &base,
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({}),
            )
            .await
        });
        wait_for_async(
            "the run to wait for the lock",
            Duration::from_secs(30),
            || {
                let log = server.log();
                async move { log.contains("Waiting for the migration lock").then_some(()) }
            },
        )
        .await;
        server.signal("TERM");
        wait_for_async(
            "the server to start shutting down",
            Duration::from_secs(30),
            || {
                let log = server.log();
                async move { log.contains("SIGTERM: shutting down").then_some(()) }
            },
        )
        .await;
        assert!(
            server.log().contains("waiting up to"),
            "{b:?}: {}",
            server.log()
        );
        assert!(
            server.running(),
            "{b:?}: still running while the migration waits"
        );
        let (rows, _) = ledger_or_empty(&db).await;
        assert_eq!(rows, 0, "{b:?}: nothing applied yet");

        lock.release(&holder).await.expect("release");
        let _ = holder.close().await;
        let (status, doc) = request.await.expect("request task");
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        assert_eq!(doc["steps"].as_array().map(Vec::len), Some(n as usize));
        let code = wait_for("the server to exit", Duration::from_secs(30), || {
            server.child.try_wait().ok().flatten()
        });
        assert!(code.success(), "{b:?}: {code:?}\n{}", server.log());
        assert!(
            server.log().contains("The running migration finished"),
            "{b:?}: {}",
            server.log()
        );
        let (rows, ups) = ledger(&db).await;
        assert_eq!(rows, n, "{b:?}");
        assert!(ups.iter().all(|&u| u == 1), "{b:?}: {ups:?}");
    });
}

/// [`ledger`], or no rows when the bookkeeping tables do not exist yet.
async fn ledger_or_empty(db: &TestDb) -> (i64, ()) {
    let conn = db.connect().await;
    let rows = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) FROM seaql_migrations".to_string(),
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    let _ = conn.close().await;
    (rows, ())
}

/// A user with a password on the server (SQLite has none): `(url with password, password)`.
async fn user_with_password(db: &TestDb) -> Option<(String, String)> {
    let password = format!("Pw{}x9Q", std::process::id());
    match db.backend {
        Backend::Sqlite => None,
        // Trust authentication: the password is not checked, but it is in the URL.
        Backend::Postgres => Some((
            db.url.replacen(
                "postgres://postgres@",
                &format!("postgres://postgres:{password}@"),
                1,
            ),
            password,
        )),
        Backend::MySql => {
            let user = format!("u{}", db.name().chars().rev().take(20).collect::<String>());
            let conn = db.connect().await;
            for host in ["%", "localhost", "127.0.0.1"] {
                for sql in [
                    format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"),
                    format!("GRANT ALL ON `{}`.* TO '{user}'@'{host}'", db.name()),
                ] {
                    conn.execute_unprepared(&sql)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
            }
            let _ = conn.close().await;
            let url = db
                .url
                .replacen("mysql://root@", &format!("mysql://{user}:{password}@"), 1);
            Some((url, password))
        }
    }
}

async fn drop_user(db: &TestDb, url: &str) {
    if db.backend != Backend::MySql {
        return;
    }
    let Some(user) = url
        .strip_prefix("mysql://")
        .and_then(|r| r.split(':').next())
    else {
        return;
    };
    let conn = db.connect().await;
    for host in ["%", "localhost", "127.0.0.1"] {
        let _ = conn
            .execute_unprepared(&format!("DROP USER IF EXISTS '{user}'@'{host}'"))
            .await;
    }
    let _ = conn.close().await;
}

#[tokio::test]
async fn no_password_in_any_response_or_log() {
    each_backend!("serve_secret", |db| {
        let b = db.backend;
        let (url, password) = match user_with_password(&db).await {
            Some(p) => p,
            None => (db.url.clone(), "no-password-in-a-sqlite-url".to_string()),
        };
        let server = Spawned::start(&url, &[]);
        let client = reqwest::Client::new();
        let mut bodies = Vec::new();
        for path in [
            "/health",
            "/ready",
            "/metrics",
            "/api/v1/migrations/status",
            "/api/v1/migrations/history",
        ] {
            let r = client
                .get(format!("{}{path}", server.base))
                .send()
                .await
                .expect("GET");
            bodies.push(r.text().await.expect("body"));
        }
        for body in [
            serde_json::json!({}),
            serde_json::json!({"target_version": "m1999_nope"}),
            serde_json::json!({"dry_run": true}),
        ] {
            let (_, doc) = post(
                &client,
                &server.base,
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                body,
            )
            .await;
            bodies.push(doc.to_string());
        }
        let (status, doc) = post(
            &client,
            &server.base,
            "/api/v1/migrations/migrate",
            Some(TOKEN),
            serde_json::json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        assert!(
            bodies[0].contains("\"reachable\":true"),
            "{b:?}: {}",
            bodies[0]
        );
        server.signal("TERM");
        let mut server = server;
        wait_for("the server to exit", Duration::from_secs(30), || {
            server.child.try_wait().ok().flatten()
        });
        let log = server.log();
        assert!(log.contains("Serving"), "{log}");
        for text in bodies.iter().chain([&log]) {
            assert!(!text.contains(&password), "{b:?}: password in {text}");
        }

        // A database that does not answer: the error says so, without the password.
        if b != Backend::Sqlite {
            let dead = url
                .replacen(":5432/", ":1/", 1)
                .replacen(":3306/", ":1/", 1);
            let server = Spawned::start(&dead, &[]);
            let (status, body) = {
                let r = client
                    .get(format!("{}/health", server.base))
                    .send()
                    .await
                    .expect("GET");
                (r.status(), r.text().await.expect("body"))
            };
            assert_eq!(status, StatusCode::OK, "{b:?}: liveness");
            assert!(body.contains("\"reachable\":false"), "{b:?}: {body}");
            let (status, ready) = {
                let r = client
                    .get(format!("{}/ready", server.base))
                    .send()
                    .await
                    .expect("GET");
                (r.status(), r.text().await.expect("body"))
            };
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
            assert!(ready.contains("database-unreachable"), "{ready}");
            for text in [&body, &ready, &server.log()] {
                assert!(!text.contains(&password), "{b:?}: password in {text}");
            }
        }
        drop_user(&db, &url).await;
    });
}

#[tokio::test]
async fn a_moving_robot_makes_ready_fail_and_blocks_migrate_until_skipped() {
    let all = names();
    let n = all.len();
    each_backend!("serve_gates", |db| {
        let b = db.backend;
        let server = Server::start(&db.url, |o| {
            with_token(o);
            o.environment = Environment::Production;
        })
        .await;
        // All but the last migration, while the plant is safe.
        let (status, doc) = server
            .post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({"target_version": all[n - 2]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        let conn = db.connect().await;
        conn.execute_unprepared(
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) \
             VALUES ('oht-7', 'OHT-50', 'MOVING', 'AUTO', '2025-01-28 10:00:00', '2025-01-28 10:00:00')",
        )
        .await
        .expect("insert a moving robot");
        let _ = conn.close().await;

        let (status, ready) = server.get_json("/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{b:?}: {ready}");
        let gates: Vec<&serde_json::Value> = ready["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .filter(|r| r["kind"] == "precondition")
            .collect();
        assert_eq!(gates.len(), 1, "{b:?}: {ready}");
        assert_eq!(gates[0]["name"], "no-moving-robots");
        assert!(
            gates[0]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("oht-7")),
            "{b:?}: says what it saw: {ready}"
        );

        let (status, doc) = server
            .post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{b:?}: {doc}");
        assert_eq!(doc["gates"][0]["gate"], "no-moving-robots", "{b:?}: {doc}");
        let (rows, _) = ledger(&db).await;
        assert_eq!(rows, n as i64 - 1, "{b:?}: nothing changed");

        let (status, doc) = server
            .post(
                "/api/v1/migrations/migrate",
                Some(TOKEN),
                serde_json::json!({"skip_gates": ["no-moving-robots"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {doc}");
        let (rows, _) = ledger(&db).await;
        assert_eq!(rows, n as i64, "{b:?}");
        let (_, history) = server.get_json("/api/v1/migrations/history?limit=1").await;
        assert!(
            history["history"][0]["notes"]
                .as_str()
                .is_some_and(|s| s.contains("no-moving-robots")),
            "{b:?}: the skip is recorded: {history}"
        );
        // Schema current: ready, though robots move (the gate is reported, not a reason).
        let (status, ready) = server.get_json("/ready").await;
        assert_eq!(status, StatusCode::OK, "{b:?}: {ready}");
        assert_eq!(ready["preconditions"][0]["name"], "no-moving-robots");
        assert_eq!(
            ready["preconditions"][0]["status"], "fail",
            "{b:?}: {ready}"
        );
    });
}
