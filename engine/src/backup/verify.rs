//! Proving a backup good without restoring it: its name is not `.partial`, its manifest is
//! there, its size and SHA-256 match the manifest, its first bytes are of the manifest's
//! backend, and the backend's own tool accepts it: SQLite `PRAGMA integrity_check` on a copy,
//! `pg_restore` reading the whole archive, a complete `mysqldump` trailer.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::backup::manifest::{BackupKind, Manifest, digest_async};
use crate::backup::tools::{self, stderr_line, with_suffix};
use crate::error::{BackupProblem, MigrateError};

/// The last line `mysqldump` writes (with its default `--comments`).
pub(crate) const MYSQLDUMP_TRAILER: &[u8] = b"-- Dump completed";

/// Checks backup `file` as described in the module documentation; returns its manifest.
pub async fn verify(file: &Path) -> Result<Manifest, MigrateError> {
    check(file)
        .await
        .map_err(|problem| MigrateError::BackupInvalid {
            file: file.to_path_buf(),
            problem,
        })
}

/// [`verify`], with the problem untyped by context (restore wraps it in its own error).
pub(crate) async fn check(file: &Path) -> Result<Manifest, BackupProblem> {
    if is_partial(file) {
        return Err(BackupProblem::Partial);
    }
    let meta = std::fs::metadata(file).map_err(|source| BackupProblem::Unreadable { source })?;
    let manifest = Manifest::read(file)?;
    if meta.len() != manifest.bytes {
        return Err(BackupProblem::SizeMismatch {
            recorded: manifest.bytes,
            actual: meta.len(),
        });
    }
    let kind = kind_of_file(file)?;
    if kind != manifest.backend {
        return Err(BackupProblem::BackendDisagrees {
            manifest: manifest.backend.name(),
            file: kind.name(),
        });
    }
    let (_, sha) = digest_async(file)
        .await
        .map_err(|source| BackupProblem::Unreadable { source })?;
    if !sha.eq_ignore_ascii_case(&manifest.sha256) {
        return Err(BackupProblem::ChecksumMismatch {
            recorded: manifest.sha256.clone(),
            actual: sha,
        });
    }
    tool_check(file, kind).await?;
    Ok(manifest)
}

/// Whether `file` is named like an unfinished backup.
pub(crate) fn is_partial(file: &Path) -> bool {
    file.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".partial") || n.contains(".partial."))
}

/// The kind of backup `file` is, by its first bytes.
pub(crate) fn kind_of_file(file: &Path) -> Result<BackupKind, BackupProblem> {
    let mut head = [0u8; 64];
    let mut f = std::fs::File::open(file).map_err(|source| BackupProblem::Unreadable { source })?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(source) => return Err(BackupProblem::Unreadable { source }),
        }
    }
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        Ok(BackupKind::Sqlite)
    } else if head.starts_with(b"PGDMP") {
        Ok(BackupKind::Postgres)
    } else if head.starts_with(b"-- MySQL dump")
        || head.starts_with(b"-- MariaDB dump")
        || head.starts_with(b"/*M!999999")
        || head.starts_with(b"/*!999999")
    {
        Ok(BackupKind::Mysql)
    } else {
        Err(BackupProblem::NotABackup)
    }
}

/// The backend's own check of `file`.
pub(crate) async fn tool_check(file: &Path, kind: BackupKind) -> Result<(), BackupProblem> {
    match kind {
        BackupKind::Sqlite => sqlite_check(file).await,
        BackupKind::Postgres => pg_check(file).await,
        BackupKind::Mysql => mysql_check(file),
    }
}

/// `pg_restore` reads the whole archive (table of contents and every data block) into a
/// script that goes nowhere: a truncated or corrupted archive fails.
async fn pg_check(file: &Path) -> Result<(), BackupProblem> {
    let mut cmd = tools::tool("pg_restore").map_err(|m| BackupProblem::CannotCheck {
        tool: m.tool,
        package: m.package,
    })?;
    cmd.arg("--file=-").arg(file);
    let out = cmd
        .output()
        .await
        .map_err(|e| BackupProblem::ToolRejected {
            tool: "pg_restore".into(),
            detail: format!("it could not be run: {e}"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackupProblem::ToolRejected {
            tool: "pg_restore".into(),
            detail: stderr_line(&out.stderr, None, true),
        })
    }
}

/// A complete `mysqldump` file ends with its `-- Dump completed` comment.
fn mysql_check(file: &Path) -> Result<(), BackupProblem> {
    let tail = read_tail(file, 512).map_err(|source| BackupProblem::Unreadable { source })?;
    if contains(&tail, MYSQLDUMP_TRAILER) {
        Ok(())
    } else {
        Err(BackupProblem::ToolRejected {
            tool: "the mysqldump trailer check".into(),
            detail: "the file does not end with mysqldump's `-- Dump completed` line, so the \
                     dump was cut short"
                .into(),
        })
    }
}

/// The last `n` bytes of `file`.
pub(crate) fn read_tail(file: &Path, n: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(n)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `PRAGMA integrity_check` on a copy of `file` in the temporary directory (so the backup
/// itself is never opened for writing); when no copy can be made, on the file itself opened
/// read-only and immutable.
async fn sqlite_check(file: &Path) -> Result<(), BackupProblem> {
    let copy = std::env::temp_dir().join(format!("backup-verify-{}.sqlite3", tools::unique_tag()));
    let (target, immutable) = match std::fs::copy(file, &copy) {
        Ok(_) => (copy.clone(), false),
        Err(_) => {
            let _ = std::fs::remove_file(&copy);
            (file.to_path_buf(), true)
        }
    };
    let result = integrity_check(&target, immutable).await;
    if !immutable {
        remove_sqlite_files(&copy);
    }
    result.map_err(|detail| BackupProblem::ToolRejected {
        tool: "SQLite integrity_check".into(),
        detail,
    })
}

/// Runs `PRAGMA integrity_check` on the SQLite file `path`; `Err` holds the first problem.
pub(crate) async fn integrity_check(path: &Path, read_only: bool) -> Result<(), String> {
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .read_only(read_only)
        .immutable(read_only);
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&opts)
        .await
        .map_err(|e| first_line(&e.to_string()))?;
    let rows: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await;
    let _ = conn.close().await;
    let rows = rows.map_err(|e| first_line(&e.to_string()))?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    // Skip headers such as `*** in database main ***`.
    match rows.iter().find(|r| !r.starts_with("***")).or(rows.first()) {
        Some(first) => Err(stderr_line(first.as_bytes(), None, true)),
        None => Err("it returned nothing".into()),
    }
}

fn first_line(s: &str) -> String {
    stderr_line(s.as_bytes(), None, true)
}

/// Removes a SQLite file and its journal, WAL and shared-memory files.
pub(crate) fn remove_sqlite_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}
