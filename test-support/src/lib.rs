//! Shared test support of the workspace (a dev-dependency of every crate).
//!
//! Test databases: each test gets its own uniquely named database on a real server (or its own
//! SQLite file) and drops it afterwards, so tests run in parallel.
//!
//! Servers: `OHT50_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`) and
//! `OHT50_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`), without a database name.
//! When one cannot be reached the test prints a `SKIP` line and passes, except with `CI=true`,
//! where that is a failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// The three backends every behaviour is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::MySql];

impl Backend {
    pub fn db_backend(self) -> DbBackend {
        match self {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
            Backend::MySql => DbBackend::MySql,
        }
    }

    fn server_url(self) -> String {
        match self {
            Backend::Postgres => std::env::var("OHT50_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
            Backend::MySql => std::env::var("OHT50_TEST_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
            Backend::Sqlite => String::new(),
        }
    }

    fn admin_url(self) -> String {
        match self {
            Backend::Postgres => format!("{}/postgres", self.server_url()),
            Backend::MySql => format!("{}/mysql", self.server_url()),
            Backend::Sqlite => String::new(),
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for the life of this value.
pub struct TestDb {
    pub backend: Backend,
    /// Full URL of the database (with its name).
    pub url: String,
    name: String,
    dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates a fresh empty database, or `None` (after printing a SKIP line) when the server
    /// is unreachable outside CI.
    pub async fn create(backend: Backend, label: &str) -> Option<TestDb> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(24)
            .collect();
        let name = format!("t_{label}_{}_{n}_{nanos:x}", std::process::id());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join(format!("{name}.db"));
                Some(TestDb {
                    backend,
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    name,
                    dir: Some(dir),
                })
            }
            Backend::Postgres | Backend::MySql => {
                let admin = match Database::connect(backend.admin_url()).await {
                    Ok(db) => db,
                    Err(e) => {
                        unavailable(backend, &e.to_string());
                        return None;
                    }
                };
                let sql = match backend {
                    Backend::Postgres => format!("CREATE DATABASE \"{name}\""),
                    _ => format!("CREATE DATABASE `{name}`"),
                };
                admin
                    .execute_unprepared(&sql)
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                Some(TestDb {
                    backend,
                    url: format!("{}/{name}", backend.server_url()),
                    name,
                    dir: None,
                })
            }
        }
    }

    /// A connection to this database.
    /// One connection, as the migration tool itself uses: session state (the migration lock)
    /// then always belongs to the same session.
    pub async fn connect(&self) -> DatabaseConnection {
        let mut opts = sea_orm::ConnectOptions::new(self.url.clone());
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        Database::connect(opts)
            .await
            .expect("connect to test database")
    }

    /// The SQLite file, for SQLite databases.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.path().join(format!("{}.db", self.name)))
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        let backend = self.backend;
        let name = self.name.clone();
        // Drop runs outside any async context: use a private runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = Database::connect(backend.admin_url()).await {
                    let sql = match backend {
                        Backend::Postgres => {
                            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
                        }
                        _ => format!("DROP DATABASE IF EXISTS `{name}`"),
                    };
                    let _ = admin.execute_unprepared(&sql).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

fn unavailable(backend: Backend, why: &str) {
    if std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
    {
        panic!(
            "{backend:?} is not reachable at {} and CI=true: {why}",
            backend.server_url()
        );
    }
    eprintln!(
        "SKIP: {backend:?} not reachable at {} ({why}); start it to run this test",
        backend.server_url()
    );
}

/// Runs `f` once per backend, each with its own fresh database.
#[macro_export]
macro_rules! each_backend {
    ($label:expr, |$db:ident| $body:expr) => {{
        for backend in $crate::ALL {
            let Some($db) = $crate::TestDb::create(backend, $label).await else {
                continue;
            };
            $body;
        }
    }};
}

/// Path of a workspace binary built by cargo for these tests.
pub fn bin(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test exe path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// Waits until `check` returns `Some`, polling every 20 ms, for at most `deadline`; panics
/// with `what` when the deadline passes. For synchronising with another process (no sleeps).
pub fn wait_for<T>(
    what: &str,
    deadline: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Async [`wait_for`].
pub async fn wait_for_async<T, F, Fut>(what: &str, deadline: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Stdout of a finished process, lossy.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr of a finished process, lossy.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o`, after asserting it exited 0 (printing its output otherwise).
pub fn ok(o: std::process::Output) -> std::process::Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Runs `sql` (one or more statements, unprepared); panics naming the statement on failure.
pub async fn exec<C: ConnectionTrait>(db: &C, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The rows of `sql`, each as its leading integer columns.
pub async fn i64s<C: ConnectionTrait>(db: &C, sql: &str) -> Vec<Vec<i64>> {
    let b = db.get_database_backend();
    db.query_all_raw(sea_orm::Statement::from_string(b, sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (0..)
                .map_while(|i| r.try_get_by_index::<i64>(i).ok())
                .collect()
        })
        .collect()
}
