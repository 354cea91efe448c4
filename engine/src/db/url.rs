//! Where the database is: URL parsing, the SQLite default, credential redaction and connecting.

use std::fmt;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr};

use crate::error::{DbErrorKind, MigrateError, classify, db_code};

/// A database URL whose password never leaves this type unredacted: `Display` and `Debug`
/// show `***` in its place (in the userinfo and in a `password=` query parameter).
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
    redacted: String,
    backend: DbBackend,
    defaulted: bool,
}

impl DatabaseUrl {
    /// Parses and validates `raw`. `mariadb://` is accepted as `mysql://`; a SQLite URL without
    /// `mode=` gets `mode=rwc` so the file is created when missing.
    pub fn parse(raw: &str) -> Result<Self, MigrateError> {
        let raw = raw.trim();
        let scheme_end = raw.find(':').ok_or_else(|| MigrateError::InvalidUrl {
            url: redact_unparsed(raw),
            reason: "it has no scheme".into(),
        })?;
        let scheme = raw[..scheme_end].to_ascii_lowercase();
        let backend = match scheme.as_str() {
            "postgres" | "postgresql" => DbBackend::Postgres,
            "mysql" | "mariadb" => DbBackend::MySql,
            "sqlite" => DbBackend::Sqlite,
            "" => {
                return Err(MigrateError::InvalidUrl {
                    url: redact_unparsed(raw),
                    reason: "it has no scheme".into(),
                });
            }
            _ => {
                return Err(MigrateError::UnsupportedScheme {
                    scheme,
                    url: redact_unparsed(raw),
                });
            }
        };
        let mut normalized = match scheme.as_str() {
            "mariadb" => format!("mysql{}", &raw[scheme_end..]),
            _ => raw.to_string(),
        };
        let mut redacted = normalized.clone();
        if backend == DbBackend::Sqlite {
            let path = normalized["sqlite:".len()..].trim_start_matches("//");
            if path.is_empty() {
                return Err(MigrateError::InvalidUrl {
                    url: normalized,
                    reason: "it names no database file".into(),
                });
            }
            if !normalized.contains("mode=") && !normalized.contains(":memory:") {
                normalized.push(if normalized.contains('?') { '&' } else { '?' });
                normalized.push_str("mode=rwc");
            }
        } else {
            let parsed = url::Url::parse(&normalized).map_err(|e| MigrateError::InvalidUrl {
                url: redact_unparsed(&normalized),
                reason: e.to_string(),
            })?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(MigrateError::InvalidUrl {
                    url: redact_unparsed(&normalized),
                    reason: "it names no host".into(),
                });
            }
            if parsed.path().trim_start_matches('/').is_empty() {
                return Err(MigrateError::InvalidUrl {
                    url: redact_unparsed(&normalized),
                    reason: "it names no database (add /dbname after the host)".into(),
                });
            }
            redacted = redact_parsed(&parsed);
        }
        Ok(Self {
            raw: normalized,
            redacted,
            backend,
            defaulted: false,
        })
    }

    /// The embedded default: SQLite file `file` (relative to the current directory), created
    /// if missing.
    pub fn default_sqlite(file: &str) -> Self {
        let raw = format!("sqlite://{file}?mode=rwc");
        Self {
            redacted: raw.clone(),
            raw,
            backend: DbBackend::Sqlite,
            defaulted: true,
        }
    }

    /// `given` when set and not blank, else the SQLite file `default_file`.
    pub fn resolve(given: Option<&str>, default_file: &str) -> Result<Self, MigrateError> {
        match given.map(str::trim).filter(|s| !s.is_empty()) {
            Some(url) => Self::parse(url),
            None => Ok(Self::default_sqlite(default_file)),
        }
    }

    /// For commands that only read: fails when this is a SQLite file that does not exist
    /// (connecting would create it).
    pub fn require_existing(&self) -> Result<(), MigrateError> {
        if self.backend != DbBackend::Sqlite {
            return Ok(());
        }
        let path = self.database_name();
        if path.is_empty() || path.contains(":memory:") || std::path::Path::new(&path).exists() {
            return Ok(());
        }
        Err(MigrateError::NoDatabaseFile { path })
    }

    /// Which kind of database this is.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Whether this is the SQLite default chosen because no URL was given.
    pub fn is_default(&self) -> bool {
        self.defaulted
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The URL with its password, for handing to a driver only.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// Hides credentials in `text` (e.g. a tool's error) by structure, never by searching for
    /// the password's text: this URL becomes its redacted form, and in every other URL-shaped
    /// part (`scheme://user:pass@host`, `?password=`) the password becomes `***`. Words that
    /// happen to equal the password are left alone.
    pub fn scrub(&self, text: &str) -> String {
        redact_urls(&text.replace(&self.raw, &self.redacted))
    }

    /// The user name in the URL, percent-decoded (PostgreSQL/MySQL).
    pub fn username(&self) -> Option<String> {
        let parsed = url::Url::parse(&self.raw).ok()?;
        Some(decode(parsed.username())).filter(|u| !u.is_empty())
    }

    /// The password in the URL, percent-decoded, for handing to a tool only (e.g. in
    /// `PGPASSWORD`/`MYSQL_PWD`, never on a command line).
    pub fn password(&self) -> Option<String> {
        let parsed = url::Url::parse(&self.raw).ok()?;
        parsed.password().map(decode)
    }

    /// The database name (PostgreSQL/MySQL) or file path (SQLite).
    pub fn database_name(&self) -> String {
        match self.backend {
            DbBackend::Sqlite => {
                let rest = self.raw["sqlite:".len()..].trim_start_matches("//");
                rest.split('?').next().unwrap_or(rest).to_string()
            }
            _ => url::Url::parse(&self.raw)
                .map(|u| u.path().trim_start_matches('/').to_string())
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.redacted)
            .field("backend", &self.backend)
            .finish()
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `parsed` with the password of its userinfo and of a `password=` query parameter as `***`.
fn redact_parsed(parsed: &url::Url) -> String {
    let mut shown = parsed.clone();
    if parsed.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| is_password_key(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_password_key(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

fn is_password_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("password")
}

/// Replaces the password of every URL-shaped part of `text` by `***`: what stands between the
/// first `:` of the userinfo and its `@` (the last `@` before the query), and the value of a
/// `password=` query parameter. Found by structure only.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let scheme_start = rest[..sep]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let body_start = sep + 3;
        out.push_str(&rest[..body_start]);
        let after = &rest[body_start..];
        if scheme_start == sep {
            rest = after;
            continue;
        }
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(after.len());
        out.push_str(&redact_url_body(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// [`redact_urls`] for the part of one URL after `scheme://`.
fn redact_url_body(body: &str) -> String {
    let query_at = body.find(['?', '#']).unwrap_or(body.len());
    let (head, tail) = body.split_at(query_at);
    let mut out = String::with_capacity(body.len());
    match head.rfind('@') {
        Some(at) => match head[..at].find(':') {
            Some(colon) => {
                out.push_str(&head[..=colon]);
                out.push_str("***");
                out.push_str(&head[at..]);
            }
            _ => out.push_str(head),
        },
        None => out.push_str(head),
    }
    // The query: `password=` values, up to the next `&`, `;` or `#`.
    let mut rest = tail;
    while let Some(i) = rest.find(['?', '&', ';']) {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let key_end = rest
            .find('=')
            .filter(|&e| !rest[..e].contains(['&', ';', '#']));
        if let Some(eq) = key_end.filter(|&e| is_password_key(&rest[..e])) {
            out.push_str(&rest[..=eq]);
            rest = &rest[eq + 1..];
            let value_end = rest.find(['&', ';', '#']).unwrap_or(rest.len());
            out.push_str("***");
            rest = &rest[value_end..];
        }
    }
    out.push_str(rest);
    out
}

/// Best-effort redaction of a URL that failed to parse: hides whatever stands between the
/// first `:` after `//` and the last `@`.
fn redact_unparsed(raw: &str) -> String {
    let Some(start) = raw.find("//").map(|i| i + 2) else {
        return raw.to_string();
    };
    let rest = &raw[start..];
    let Some(at) = rest.rfind('@') else {
        return raw.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &raw[..start], &rest[..colon], &rest[at..]),
        None => raw.to_string(),
    }
}

/// Quotes an identifier (table, column, index) for `backend`, doubling any quote inside it.
pub fn quote_ident(backend: DbBackend, name: &str) -> String {
    match backend {
        DbBackend::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A database URL as typed, before validation; its `Debug` never shows it (it may hold a
/// password).
#[derive(Clone)]
pub struct SecretUrl(pub String);

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretUrl(***)")
    }
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// PostgreSQL schema to work in (`search_path`); ignored elsewhere.
    pub schema: Option<String>,
    /// Log every SQL statement.
    pub log_statements: bool,
    /// How long to wait for the server to answer.
    pub connect_timeout: Duration,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        Self {
            schema: None,
            log_statements: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens exactly one connection (a pool of one, never recycled), so session state such as
/// locks and `search_path` holds for the whole run.
pub async fn connect(
    url: &DatabaseUrl,
    settings: &ConnectSettings,
) -> Result<DatabaseConnection, MigrateError> {
    connect_pool(url, settings, 1).await
}

/// Opens a pool of up to `connections` connections (at least one), for concurrent readers
/// such as an HTTP service; use [`connect`] for anything that takes the migration lock.
pub async fn connect_pool(
    url: &DatabaseUrl,
    settings: &ConnectSettings,
    connections: u32,
) -> Result<DatabaseConnection, MigrateError> {
    let mut opts = ConnectOptions::new(url.expose().to_string());
    // Every connection opened up front: the first burst of requests finds them ready.
    opts.max_connections(connections.max(1))
        .min_connections(connections.max(1))
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout.max(Duration::from_secs(30)))
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .sqlx_logging(settings.log_statements);
    if url.backend() == DbBackend::Sqlite {
        // Short waits on a locked file: the migration lock polls, and reports who it waits for.
        opts.map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::from_millis(250)));
    }
    if url.backend() == DbBackend::Postgres
        && let Some(schema) = settings.schema.as_deref().filter(|s| !s.is_empty())
    {
        opts.set_schema_search_path(schema.to_string());
    }
    // The driver's pool retries a refused connection until its acquire timeout. Instead of
    // probing first (a second connection, and a server-side fork, on every run), probe only
    // when connecting takes longer than a healthy local server ever does.
    let connecting = Database::connect(opts);
    tokio::pin!(connecting);
    tokio::select! {
        result = &mut connecting => return result.map_err(|e| connect_error(url, e)),
        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
    }
    probe(url, settings.connect_timeout).await?;
    connecting.await.map_err(|e| connect_error(url, e))
}

/// Fails fast when nothing listens at the server's address: the driver's pool would otherwise
/// retry a refused connection until its acquire timeout.
async fn probe(url: &DatabaseUrl, timeout: Duration) -> Result<(), MigrateError> {
    let default_port = match url.backend() {
        DbBackend::Postgres => 5432,
        DbBackend::MySql => 3306,
        _ => return Ok(()),
    };
    let Ok(parsed) = url::Url::parse(url.expose()) else {
        return Ok(());
    };
    let Some(host) = parsed
        .host_str()
        .map(|h| h.trim_matches(['[', ']']).to_string())
    else {
        return Ok(());
    };
    let port = parsed.port().unwrap_or(default_port);
    let fail = |cause: String, hint: &str, source: Option<std::io::Error>| MigrateError::Connect {
        url: url.redacted().to_string(),
        cause,
        hint: hint.to_string(),
        source: source.map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    };
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(fail(
            format!("connection refused by {host}:{port}"),
            HINT_REFUSED,
            Some(e),
        )),
        Ok(Err(e)) => Err(fail(
            format!("cannot reach {host}:{port} ({e})"),
            HINT_NETWORK,
            Some(e),
        )),
        Err(_) => Err(fail(
            format!(
                "no answer from {host}:{port} within {} s",
                timeout.as_secs()
            ),
            HINT_TIMEOUT,
            None,
        )),
    }
}

const HINT_REFUSED: &str = "Is the server running and listening at that host and port?";
const HINT_NETWORK: &str = "Check the host name and port in the URL, and the network.";
const HINT_TIMEOUT: &str = "The server did not answer in time: check the host, port and network.";

/// The error of a failed connection: the driver's message (it never contains the password)
/// with its code, and a hint chosen by the driver's code or error kind, never by its text.
fn connect_error(url: &DatabaseUrl, err: DbErr) -> MigrateError {
    let sqlx = match &err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    };
    let code = db_code(&err);
    let backend = url.backend();
    let cause = match (sqlx.and_then(|e| e.as_database_error()), &code) {
        (Some(d), Some(code)) => {
            let label = match backend {
                DbBackend::Postgres => "SQLSTATE",
                DbBackend::MySql => "error",
                _ => "SQLite code",
            };
            format!("{} ({label} {code})", d.message())
        }
        (Some(d), None) => d.message().to_string(),
        _ => sqlx.map_or_else(|| err.to_string(), ToString::to_string),
    };
    let cause = url.scrub(&cause);
    let cause = match cause.rfind(" at line ") {
        Some(i) if cause[i + 9..].chars().all(|c| c.is_ascii_digit()) => cause[..i].to_string(),
        _ => cause,
    };
    let db = url.database_name();
    let hint = match classify(&err) {
        DbErrorKind::UnknownRole => "The role (user) in the URL does not exist on this server, or pg_hba.conf \
             does not let it connect from here: fix the user name in the URL (-u or DATABASE_URL), or create \
             the role (createuser NAME, or CREATE ROLE name LOGIN PASSWORD '...')."
            .to_string(),
        DbErrorKind::AuthFailed => {
            "Check the user name and password in the URL (-u or DATABASE_URL).".to_string()
        }
        DbErrorKind::UnknownDatabase => match backend {
            DbBackend::MySql => format!(
                "Create the database first (CREATE DATABASE `{db}`), or fix its name in the URL."
            ),
            _ => format!("Create the database first (createdb {db}), or fix its name in the URL."),
        },
        DbErrorKind::PermissionDenied => match backend {
            DbBackend::MySql => format!(
                "The user may not use the database `{db}` (or it does not exist and the user may not \
                 see it): create it, grant the user access (GRANT ALL ON `{db}`.* TO ...), or use another user."
            ),
            _ => format!(
                "The user may not connect to the database {db}: grant it (GRANT CONNECT ON DATABASE \
                 {db} TO ...), or use another user."
            ),
        },
        DbErrorKind::LockTimeout => {
            "The database is locked by another process: try again when it is done.".to_string()
        }
        DbErrorKind::MissingTable | DbErrorKind::StatementTimeout | DbErrorKind::Other => {
            other_hint(backend, sqlx, code.as_deref())
        }
    };
    MigrateError::Connect {
        url: url.redacted().to_string(),
        cause,
        hint,
        source: Some(Box::new(err)),
    }
}

/// The hint for a connection error without a code [`classify`] knows.
fn other_hint(backend: DbBackend, err: Option<&sqlx::Error>, code: Option<&str>) -> String {
    const GENERIC: &str = "Check the URL (-u or DATABASE_URL) and that the server is reachable.";
    if backend == DbBackend::Sqlite {
        // Primary result codes: SQLITE_READONLY 8, SQLITE_CANTOPEN 14, SQLITE_NOTADB 26.
        return match code.and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff) {
            Some(8 | 14) => "Check that the SQLite file's directory exists and is writable.",
            Some(26) => "The file is not a SQLite database: check the path in the URL.",
            _ => GENERIC,
        }
        .to_string();
    }
    match err {
        Some(sqlx::Error::Io(e)) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => HINT_REFUSED,
            std::io::ErrorKind::TimedOut => HINT_TIMEOUT,
            _ => HINT_NETWORK,
        },
        Some(sqlx::Error::PoolTimedOut) => HINT_TIMEOUT,
        Some(sqlx::Error::Tls(_)) => {
            "The TLS handshake failed: check the server's TLS set-up and the URL's ssl options."
        }
        Some(sqlx::Error::Configuration(_)) => {
            "The driver does not accept an option of the URL: check its query parameters."
        }
        _ => GENERIC,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_everywhere() {
        let url = DatabaseUrl::parse("postgres://app:s3cr%40t@db.example:5432/oht50").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db.example:5432/oht50");
        assert!(!format!("{url:?}").contains("s3cr"));
        assert!(!url.to_string().contains("s3cr"));
        assert_eq!(url.password().as_deref(), Some("s3cr@t"));
        assert_eq!(url.username().as_deref(), Some("app"));
        assert_eq!(
            url.scrub("connecting to postgres://app:s3cr%40t@db.example:5432/oht50 failed"),
            "connecting to postgres://app:***@db.example:5432/oht50 failed"
        );
        let url =
            DatabaseUrl::parse("postgres://db.example/oht50?password=hunter2&sslmode=disable")
                .unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://db.example/oht50?password=***&sslmode=disable"
        );
    }

    #[test]
    fn scrub_masks_by_structure_not_by_text() {
        // A one-character password: words containing it stay intact.
        let url = DatabaseUrl::parse("mysql://app:s@127.0.0.1:3306/oht50").unwrap();
        let msg = "Access denied for user 'app'@'localhost' to database 'oht50'";
        assert_eq!(url.scrub(msg), msg);
        assert_eq!(url.redacted(), "mysql://app:***@127.0.0.1:3306/oht50");
        // The password equals the user name.
        let url = DatabaseUrl::parse("mysql://root:root@127.0.0.1:3306/oht50").unwrap();
        let msg = "Access denied for user 'root'@'localhost' (using password: YES)";
        assert_eq!(url.scrub(msg), msg);
        assert_eq!(url.redacted(), "mysql://root:***@127.0.0.1:3306/oht50");
        // A common word.
        let url = DatabaseUrl::parse("postgres://app:password@h/oht50").unwrap();
        let msg = "password authentication failed for user \"app\"";
        assert_eq!(url.scrub(msg), msg);
        // Percent-encoded: neither the encoded nor the decoded text is searched for.
        let url = DatabaseUrl::parse("postgres://app:p%40ss%3Aw%2Frd%25@h/oht50").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@h/oht50");
        assert_eq!(url.password().as_deref(), Some("p@ss:w/rd%"));
        assert_eq!(
            url.scrub("database \"oht50\" does not exist"),
            "database \"oht50\" does not exist"
        );
    }

    #[test]
    fn scrub_redacts_any_url_shaped_credentials() {
        let url = DatabaseUrl::parse("sqlite://x.db").unwrap();
        assert_eq!(
            url.scrub("tried postgres://u:p%40x@h:5432/db and 'mariadb://root:root@db/x', then mysql://a@b/c"),
            "tried postgres://u:***@h:5432/db and 'mariadb://root:***@db/x', then mysql://a@b/c"
        );
        assert_eq!(
            url.scrub("dsn=postgres://h/db?sslmode=require&PASSWORD=s3cret#frag done"),
            "dsn=postgres://h/db?sslmode=require&PASSWORD=***#frag done"
        );
        // Unencoded `@` in a password: everything up to the last `@` is hidden.
        assert_eq!(url.scrub("postgres://u:a@b@h/db"), "postgres://u:***@h/db");
        // Idempotent, and no `://` means nothing to do.
        assert_eq!(url.scrub("postgres://u:***@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            url.scrub("user 'root'@'localhost' :// x"),
            "user 'root'@'localhost' :// x"
        );
        assert_eq!(url.scrub("ünïcode://u:p@h/d"), "ünïcode://u:***@h/d");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(matches!(
            DatabaseUrl::parse("oracle://u:p@h/db"),
            Err(MigrateError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            DatabaseUrl::parse("not a url"),
            Err(MigrateError::InvalidUrl { .. })
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@h:5432"),
            Err(MigrateError::InvalidUrl { .. })
        ));
        let err = DatabaseUrl::parse("postgres://u:hunter2@h:99999/db").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn sqlite_urls_create_missing_files_and_mariadb_is_mysql() {
        let url = DatabaseUrl::parse("sqlite://data/x.db").unwrap();
        assert_eq!(url.expose(), "sqlite://data/x.db?mode=rwc");
        assert_eq!(url.database_name(), "data/x.db");
        let url = DatabaseUrl::parse("mariadb://root@127.0.0.1:3306/oht").unwrap();
        assert_eq!(url.backend(), DbBackend::MySql);
        assert!(url.expose().starts_with("mysql://"));
        assert!(DatabaseUrl::resolve(None, "app.db").unwrap().is_default());
    }
}
