//! The external tools (`pg_dump`, `pg_restore`, `psql`, `mysqldump`, `mysql`): finding them,
//! handing them credentials through their environment, and turning their stderr into one
//! line that holds neither a password nor anything read from a backup.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::db::DatabaseUrl;

/// A tool that is not installed, and the package that has it.
#[derive(Debug, Clone)]
pub(crate) struct Missing {
    pub tool: String,
    pub package: String,
}

impl Missing {
    /// As the error a backup reports.
    pub fn into_backup_error(self) -> crate::error::MigrateError {
        crate::error::MigrateError::BackupToolMissing {
            tool: self.tool,
            package: self.package,
        }
    }
}

/// Whether `name` is an executable on `PATH` (`which`).
pub(crate) fn installed(name: &str) -> bool {
    which::which(name).is_ok()
}

/// A command for `name` (stdin and stdout closed, stderr captured, killed when dropped).
pub(crate) fn tool(name: &str) -> Result<tokio::process::Command, Missing> {
    let path = which::which(name).map_err(|_| Missing {
        tool: name.into(),
        package: match name {
            "pg_dump" | "pg_restore" | "psql" => "postgresql-client",
            _ => "mariadb-client (or mysql-client)",
        }
        .into(),
    })?;
    let mut cmd = tokio::process::Command::new(path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(cmd)
}

/// First line of `name --version`, for the manifest.
pub(crate) async fn version_of(name: &str) -> String {
    let Ok(mut cmd) = tool(name) else {
        return name.to_string();
    };
    cmd.arg("--version").stdout(Stdio::piped());
    match cmd.output().await {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| name.to_string()),
        _ => name.to_string(),
    }
}

/// One line of a tool's stderr for an error message: the first line that reports an error
/// (else the first line), without `psql:<stdin>:N:` prefixes, capped, with the password
/// removed. With `content`, the tool was reading a backup and may quote it: everything from
/// the first quote on is withheld.
pub(crate) fn stderr_line(stderr: &[u8], url: Option<&DatabaseUrl>, content: bool) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("error") || lower.contains("fatal")
        })
        .or(lines.first())
        .copied()
        .unwrap_or("");
    let mut line = strip_location(line).to_string();
    if content && let Some(i) = line.find(['\'', '"', '`']) {
        line.truncate(i);
        line = format!(
            "{} [rest withheld: it may quote the backup's contents]",
            line.trim_end()
        );
    }
    if let Some(url) = url {
        line = url.scrub(&line);
    }
    const MAX: usize = 300;
    if line.chars().count() > MAX {
        line = line.chars().take(MAX).collect::<String>() + "...";
    }
    if line.is_empty() {
        "no message".into()
    } else {
        line
    }
}

/// Drops a leading `psql:<stdin>:12:` (or `psql:FILE:12:`) location.
fn strip_location(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix("psql:") {
        let mut parts = rest.splitn(3, ':');
        if let (Some(_), Some(n), Some(tail)) = (parts.next(), parts.next(), parts.next())
            && n.chars().all(|c| c.is_ascii_digit())
        {
            return tail.trim_start();
        }
    }
    line
}

/// The URL for libpq tools, without the password (returned separately) and without
/// parameters libpq does not know.
pub(crate) fn libpq_url(url: &DatabaseUrl) -> (String, Option<String>) {
    let Ok(mut parsed) = url::Url::parse(url.expose()) else {
        return (url.redacted().to_string(), None);
    };
    let pass = url.password();
    let _ = parsed.set_password(None);
    let keep: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| {
            matches!(
                k.as_ref(),
                "sslmode" | "sslrootcert" | "sslcert" | "sslkey" | "application_name"
            )
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.set_query(None);
    if !keep.is_empty() {
        parsed.query_pairs_mut().extend_pairs(keep);
    }
    let _ = parsed.set_scheme("postgresql");
    (parsed.to_string(), pass)
}

/// A libpq tool pointed at `url`'s database (`--dbname`, password in `PGPASSWORD`).
pub(crate) fn libpq_connect(cmd: &mut tokio::process::Command, url: &DatabaseUrl) {
    let (conn, pass) = libpq_url(url);
    cmd.arg("--dbname").arg(conn);
    if let Some(p) = pass {
        cmd.env("PGPASSWORD", p);
    }
}

/// Host, port and user of `url` as mysql client flags; the password goes to `MYSQL_PWD`.
pub(crate) fn mysql_args(cmd: &mut tokio::process::Command, url: &DatabaseUrl) {
    if let Ok(parsed) = url::Url::parse(url.expose()) {
        cmd.arg(format!(
            "--host={}",
            parsed.host_str().unwrap_or("127.0.0.1")
        ));
        cmd.arg(format!("--port={}", parsed.port().unwrap_or(3306)));
        if let Some(user) = url.username() {
            cmd.arg(format!("--user={user}"));
        }
        if let Some(p) = url.password() {
            cmd.env("MYSQL_PWD", p);
        }
    }
}

/// `path` with `suffix` appended to its file name (`a.sql` + `.json` = `a.sql.json`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Flushes `path` to disk.
pub(crate) fn fsync_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// Flushes the directory entry changes of `dir` to disk (a no-op where directories cannot
/// be opened).
pub(crate) fn fsync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` and flushes it to disk.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A name no other process picks: process id, time and a counter.
pub(crate) fn unique_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}{:x}{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_line_withholds_quoted_content_and_locations() {
        let err = b"psql:<stdin>:42: ERROR:  duplicate key value violates unique constraint \"t_pkey\"\nDETAIL:  Key (id)=(5) already exists.\n";
        let line = stderr_line(err, None, true);
        assert!(line.starts_with("ERROR:  duplicate key value"), "{line}");
        assert!(!line.contains("t_pkey") && !line.contains("(5)"), "{line}");
        let my =
            b"ERROR 1064 (42000) at line 7: You have an error near 'INSERT INTO secret VALUES'";
        let line = stderr_line(my, None, true);
        assert!(!line.contains("secret"), "{line}");
        assert_eq!(stderr_line(b"", None, true), "no message");
    }
}
