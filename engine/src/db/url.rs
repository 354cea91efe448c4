//! Where the database is: URL parsing, the SQLite default, credential redaction and connecting.

use std::fmt;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::error::MigrateError;

/// A database URL whose password never leaves this type unredacted: `Display` and `Debug`
/// show `***` in its place.
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: String,
    redacted: String,
    secret: Option<String>,
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
        let mut secret = None;
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
            if let Some(password) = parsed.password() {
                secret = Some(password.to_string());
                let mut shown = parsed.clone();
                let _ = shown.set_password(Some("***"));
                redacted = shown.to_string();
            } else {
                redacted = parsed.to_string();
            }
        }
        Ok(Self {
            raw: normalized,
            redacted,
            secret,
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
            secret: None,
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

    /// Removes the password (raw and percent-decoded) from any text, e.g. a driver's error.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.raw, &self.redacted);
        if let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty()) {
            out = out.replace(secret, "***");
            if let Ok(decoded) = percent_decode(secret)
                && !decoded.is_empty()
            {
                out = out.replace(&decoded, "***");
            }
        }
        out
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

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
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
    let mut opts = ConnectOptions::new(url.expose().to_string());
    opts.max_connections(1)
        .min_connections(1)
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
        result = &mut connecting => return result.map_err(|e| connect_error(url, &e)),
        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
    }
    probe(url, settings.connect_timeout).await?;
    connecting.await.map_err(|e| connect_error(url, &e))
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
    let fail = |cause: String, hint: &str| MigrateError::Connect {
        url: url.redacted().to_string(),
        cause,
        hint: hint.to_string(),
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
            "Is the server running and listening at that host and port?",
        )),
        Ok(Err(e)) => Err(fail(
            format!("cannot reach {host}:{port} ({e})"),
            "Check the host name and port in the URL, and the network.",
        )),
        Err(_) => Err(fail(
            format!(
                "no answer from {host}:{port} within {} s",
                timeout.as_secs()
            ),
            "The server did not answer in time: check the host, port and network.",
        )),
    }
}

fn connect_error(url: &DatabaseUrl, err: &DbErr) -> MigrateError {
    let cause = url.scrub(&err.to_string());
    let cause = match cause.rfind(" at line ") {
        Some(i) if cause[i + 9..].chars().all(|c| c.is_ascii_digit()) => cause[..i].to_string(),
        _ => cause,
    };
    let lower = cause.to_ascii_lowercase();
    let hint = if lower.contains("refused") || lower.contains("no route") {
        "Is the server running and listening at that host and port?"
    } else if lower.contains("password")
        || lower.contains("access denied")
        || lower.contains("authentication")
    {
        "Check the user name and password in the URL (-u or DATABASE_URL)."
    } else if lower.contains("does not exist") || lower.contains("unknown database") {
        "Create the database first (PostgreSQL: createdb NAME; MySQL: CREATE DATABASE NAME), \
         or fix its name in the URL."
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "The server did not answer in time: check the host, port and network."
    } else if lower.contains("unable to open")
        || lower.contains("readonly")
        || lower.contains("permission")
    {
        "Check that the SQLite file's directory exists and is writable."
    } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        "The host name could not be resolved: check it."
    } else {
        "Check the URL (-u or DATABASE_URL) and that the server is reachable."
    };
    MigrateError::Connect {
        url: url.redacted().to_string(),
        cause,
        hint: hint.to_string(),
    }
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
        assert_eq!(
            url.scrub("failed for s3cr@t and s3cr%40t"),
            "failed for *** and ***"
        );
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
