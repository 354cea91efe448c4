//! Backups before a run changes a database that holds data, and `backup`/`restore`:
//! SQLite an online copy (`VACUUM INTO`), PostgreSQL `pg_dump -Fc`, MySQL `mysqldump`.
//!
//! A backup is whole or absent: it is written under a temporary `.partial` name in the backup
//! directory, checked (the tool's exit status, the file's first bytes, the `mysqldump`
//! trailer, `pg_restore --list`), flushed to disk and only then renamed into place, together
//! with its [`Manifest`] (`<file>.json`: backend, database, version, size, SHA-256, creation
//! time, tool). A failed backup leaves no file behind. Files are named
//! `{database}-{UTC time}-{version}.{sqlite3|pgdump|sql}` and only the newest N per database
//! are kept. [`verify`] proves a backup good; [`restore()`] only restores a verified backup, so
//! that a failure leaves the target as it was. Passwords reach the tools through their
//! environment (`PGPASSWORD`, `MYSQL_PWD`), never their command line.

pub mod manifest;
pub mod restore;
mod tools;
pub mod verify;

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

pub use crate::backup::manifest::{BackupKind, MANIFEST_FORMAT, Manifest, manifest_path};
pub use crate::backup::restore::{RestoreMethod, RestoreOptions, Restored, restore};
use crate::backup::tools::{fsync_dir, fsync_file, stderr_line, with_suffix, write_synced};
pub use crate::backup::verify::verify;
use crate::config::Config;
use crate::db::DatabaseUrl;
use crate::db::dialect as runner;
use crate::error::{BackupProblem, MigrateError};

/// Where backups go and how many to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// Directory (created when missing).
    pub dir: PathBuf,
    /// Newest files kept per database.
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("backups"),
            keep: 10,
        }
    }
}

/// A backup file that was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Backup {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// What was recorded about it (also in `<path>.json`).
    pub manifest: Manifest,
}

/// Whether any table other than the migration bookkeeping (see
/// [`crate::Config::is_tooling_table`]) has a row.
pub async fn holds_data<C: ConnectionTrait>(db: &C, config: &Config) -> Result<bool, MigrateError> {
    let backend = db.get_database_backend();
    let tables = runner::list_tables(db)
        .await
        .map_err(err("listing tables"))?;
    for t in tables.iter().filter(|t| !config.is_tooling_table(t)) {
        let quoted = crate::db::quote_ident(backend, t);
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT 1 AS one FROM {quoted} LIMIT 1"),
            ))
            .await
            .map_err(err("looking for data"))?;
        if row.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

fn err(action: &'static str) -> impl Fn(sea_orm::DbErr) -> MigrateError {
    MigrateError::database(action)
}

/// The newest version recorded in `ledger_table`, or `empty` (no table, no rows, or it
/// cannot be read): the label of a backup.
pub async fn latest_version<C: ConnectionTrait>(db: &C, ledger_table: &str) -> String {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT version FROM {} ORDER BY version DESC LIMIT 1",
        crate::db::quote_ident(backend, ledger_table)
    );
    match db.query_one_raw(Statement::from_string(backend, sql)).await {
        Ok(Some(row)) => row
            .try_get::<String>("", "version")
            .unwrap_or_else(|_| "empty".into()),
        _ => "empty".into(),
    }
}

fn file_stem(url: &DatabaseUrl) -> String {
    let name = url.database_name();
    let base = Path::new(&name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("database")
        .to_string();
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn label(version: &str) -> String {
    let l: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if l.is_empty() { "empty".into() } else { l }
}

/// Takes a backup of the database behind `db`/`url` into `config.dir`, labelled with
/// `version` (the newest applied migration), writes its manifest, then prunes old ones.
/// On failure no backup file is left behind.
pub async fn take(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    config: &BackupConfig,
    version: &str,
) -> Result<Backup, MigrateError> {
    let taken = take_unpruned(db, url, config, version).await?;
    prune_except(
        &config.dir,
        &file_stem(url),
        BackupKind::of(url.backend()).extension(),
        config.keep,
        None,
    );
    Ok(taken)
}

/// [`take`] without pruning.
pub(crate) async fn take_unpruned(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    config: &BackupConfig,
    version: &str,
) -> Result<Backup, MigrateError> {
    let kind = BackupKind::of(url.backend());
    std::fs::create_dir_all(&config.dir).map_err(|e| MigrateError::Backup {
        what: format!(
            "cannot create the backup directory {}",
            config.dir.display()
        ),
        cause: e.to_string(),
        fix: "pass a writable directory with --backup-dir (or the BACKUP_DIR variable), or \
              --no-backup"
            .into(),
    })?;
    let created_at = chrono::Utc::now();
    let stamp = created_at.format("%Y%m%dT%H%M%S%3fZ");
    let stem = file_stem(url);
    let path = config.dir.join(format!(
        "{stem}-{stamp}-{}.{}",
        label(version),
        kind.extension()
    ));
    let partial = with_suffix(&path, ".partial");
    let manifest_partial = with_suffix(&manifest_path(&path), ".partial");
    let cleanup = |also_final: bool| {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(&manifest_partial);
        if also_final {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(manifest_path(&path));
        }
    };
    cleanup(false);
    let written = async {
        let tool = write_dump(db, url, kind, &partial).await?;
        check_written(kind, &partial).await?;
        fsync_file(&partial).map_err(|e| io_failure("flushing", &partial, e))?;
        let (bytes, sha256) = manifest::digest_async(&partial)
            .await
            .map_err(|e| io_failure("reading back", &partial, e))?;
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            backend: kind,
            database: url.database_name(),
            version: version.to_string(),
            bytes,
            sha256,
            created_at,
            tool,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| MigrateError::Backup {
            what: "cannot encode the backup manifest".into(),
            cause: e.to_string(),
            fix: "report this as a bug, or pass --no-backup".into(),
        })?;
        write_synced(&manifest_partial, &json)
            .map_err(|e| io_failure("writing", &manifest_partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| io_failure("renaming", &partial, e))?;
        std::fs::rename(&manifest_partial, manifest_path(&path))
            .map_err(|e| io_failure("renaming", &manifest_partial, e))?;
        fsync_dir(&config.dir);
        Ok::<_, MigrateError>(Backup {
            path: path.clone(),
            bytes,
            manifest,
        })
    }
    .await;
    match written {
        Ok(b) => Ok(b),
        Err(e) => {
            cleanup(true);
            fsync_dir(&config.dir);
            Err(e)
        }
    }
}

fn io_failure(doing: &str, path: &Path, e: std::io::Error) -> MigrateError {
    MigrateError::Backup {
        what: format!(
            "{doing} {} failed, so no backup was written (nothing is left behind)",
            path.display()
        ),
        cause: e.to_string(),
        fix: "free space in the backup directory or pass another --backup-dir, or pass \
              --no-backup"
            .into(),
    }
}

/// Writes the dump of `url` into `out`; returns the tool's name and version.
async fn write_dump(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    kind: BackupKind,
    out: &Path,
) -> Result<String, MigrateError> {
    match kind {
        BackupKind::Postgres => {
            let mut cmd = tools::tool("pg_dump").map_err(tools::Missing::into_backup_error)?;
            cmd.arg("--format=custom")
                .arg("--no-owner")
                .arg("--file")
                .arg(out);
            tools::libpq_connect(&mut cmd, url);
            run_dump(cmd, "pg_dump", url).await?;
            Ok(tools::version_of("pg_dump").await)
        }
        BackupKind::Mysql => {
            let mut cmd = tools::tool("mysqldump").map_err(tools::Missing::into_backup_error)?;
            tools::mysql_args(&mut cmd, url);
            cmd.arg("--single-transaction")
                .arg("--routines")
                .arg("--triggers")
                .arg("--result-file")
                .arg(out);
            cmd.arg(url.database_name());
            run_dump(cmd, "mysqldump", url).await?;
            Ok(tools::version_of("mysqldump").await)
        }
        BackupKind::Sqlite => {
            let target = out.to_string_lossy().replace('\'', "''");
            db.execute_unprepared(&format!("VACUUM INTO '{target}'"))
                .await
                .map_err(|e| MigrateError::Backup {
                    what: format!(
                        "VACUUM INTO {} failed, so no backup was written (nothing is left behind)",
                        out.display()
                    ),
                    cause: e.to_string(),
                    fix: "check that the backup directory is writable and has room (or pass \
                          another --backup-dir), or pass --no-backup"
                        .into(),
                })?;
            let version = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT sqlite_version() AS v",
                ))
                .await
                .ok()
                .flatten()
                .and_then(|r| r.try_get::<String>("", "v").ok())
                .unwrap_or_else(|| "?".into());
            Ok(format!("SQLite {version} VACUUM INTO"))
        }
    }
}

async fn run_dump(
    mut cmd: tokio::process::Command,
    name: &str,
    url: &DatabaseUrl,
) -> Result<(), MigrateError> {
    let out = cmd.output().await.map_err(|e| MigrateError::Backup {
        what: format!("cannot run {name}"),
        cause: e.to_string(),
        fix: "check that it is installed and executable, or pass --no-backup".into(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(MigrateError::Backup {
        what: format!(
            "{name} failed ({}), so no backup was written (nothing is left behind)",
            out.status
        ),
        cause: stderr_line(&out.stderr, Some(url), false),
        fix: "fix the cause above (a full disk: free space or pass another --backup-dir), or \
              pass --no-backup to run without a backup"
            .into(),
    })
}

/// After the tool succeeded: the file is of the right kind and complete.
async fn check_written(kind: BackupKind, file: &Path) -> Result<(), MigrateError> {
    let bad = |problem: BackupProblem| MigrateError::Backup {
        what: format!(
            "the backup just written to {} is not usable, so it was removed",
            file.display()
        ),
        cause: problem.to_string(),
        fix: "check the backup directory (a full disk?) and try again, or pass --no-backup".into(),
    };
    let found = verify::kind_of_file(file).map_err(bad)?;
    if found != kind {
        return Err(bad(BackupProblem::NotABackup));
    }
    match kind {
        BackupKind::Mysql => verify::tool_check(file, kind).await.map_err(bad),
        // Reading the table of contents is quick and proves the archive is finished.
        BackupKind::Postgres if tools::installed("pg_restore") => {
            let mut cmd = tools::tool("pg_restore").map_err(tools::Missing::into_backup_error)?;
            cmd.arg("--list").arg(file);
            match cmd.output().await {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(bad(BackupProblem::ToolRejected {
                    tool: "pg_restore --list".into(),
                    detail: stderr_line(&out.stderr, None, true),
                })),
                Err(e) => Err(bad(BackupProblem::ToolRejected {
                    tool: "pg_restore --list".into(),
                    detail: e.to_string(),
                })),
            }
        }
        _ => Ok(()),
    }
}

/// Deletes all but the newest `keep` backups of `stem` in `dir` (and their manifests).
pub fn prune(dir: &Path, stem: &str, ext: &str, keep: usize) {
    prune_except(dir, stem, ext, keep, None)
}

/// [`prune`], never deleting `except`.
pub(crate) fn prune_except(dir: &Path, stem: &str, ext: &str, keep: usize, except: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&format!("{stem}-")) && n.ends_with(&format!(".{ext}"))
            })
        })
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(keep.max(1));
    let same = |a: &Path, b: &Path| {
        a == b
            || std::fs::canonicalize(a)
                .ok()
                .zip(std::fs::canonicalize(b).ok())
                .is_some_and(|(a, b)| a == b)
    };
    for old in files.into_iter().take(excess) {
        if except.is_some_and(|e| same(e, &old)) {
            continue;
        }
        let _ = std::fs::remove_file(manifest_path(&old));
        let _ = std::fs::remove_file(old);
    }
}

/// The kind of database a backup file is from, by its first bytes.
pub fn backend_of_file(path: &Path) -> Result<DbBackend, MigrateError> {
    verify::kind_of_file(path)
        .map(BackupKind::backend)
        .map_err(|problem| MigrateError::BackupInvalid {
            file: path.to_path_buf(),
            problem,
        })
}

/// Whether the dump tool this backend needs is installed (`Ok` also for SQLite).
pub fn check_tool(backend: DbBackend) -> Result<(), MigrateError> {
    let name = match backend {
        DbBackend::Postgres => "pg_dump",
        DbBackend::MySql => "mysqldump",
        _ => return Ok(()),
    };
    tools::tool(name)
        .map(|_| ())
        .map_err(tools::Missing::into_backup_error)
}

/// One file of a backup directory, as [`list`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// What it looks like without reading it through (see [`verify`] for the full check).
    pub state: ListedState,
    /// Its manifest, when it has a readable one.
    pub manifest: Option<Manifest>,
}

/// The state of a listed backup file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListedState {
    /// Has a manifest and the recorded size.
    Complete,
    /// Named `.partial`: unfinished, restore refuses it.
    Partial,
    /// No manifest: restore refuses it.
    NoManifest,
    /// The manifest cannot be read: restore refuses it.
    BadManifest,
    /// The size differs from the manifest's: restore refuses it.
    SizeMismatch,
}

impl ListedState {
    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Partial => "PARTIAL",
            Self::NoManifest => "NO MANIFEST",
            Self::BadManifest => "BAD MANIFEST",
            Self::SizeMismatch => "SIZE MISMATCH",
        }
    }
}

/// The backup files in `dir` (by extension, `.partial` ones included), oldest name first,
/// with their manifests. Cheap: sizes are compared, checksums are not (see [`verify`]).
/// A missing directory lists nothing.
pub fn list(dir: &Path) -> Result<Vec<Listed>, MigrateError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(MigrateError::Backup {
                what: format!("cannot read the backup directory {}", dir.display()),
                cause: e.to_string(),
                fix: "check --backup-dir and its permissions".into(),
            });
        }
    };
    let exts = [
        BackupKind::Sqlite.extension(),
        BackupKind::Postgres.extension(),
        BackupKind::Mysql.extension(),
    ];
    let mut out = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let base = name.strip_suffix(".partial").unwrap_or(name);
        if !exts.iter().any(|e| base.ends_with(&format!(".{e}"))) {
            continue;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let (state, manifest) = if verify::is_partial(&path) {
            (ListedState::Partial, None)
        } else {
            match Manifest::read(&path) {
                Ok(m) if m.bytes == bytes => (ListedState::Complete, Some(m)),
                Ok(m) => (ListedState::SizeMismatch, Some(m)),
                Err(BackupProblem::NoManifest { .. }) => (ListedState::NoManifest, None),
                Err(_) => (ListedState::BadManifest, None),
            }
        };
        out.push(Listed {
            path,
            bytes,
            state,
            manifest,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
