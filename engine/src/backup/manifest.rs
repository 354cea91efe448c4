//! The manifest written next to every backup (`<file>.json`): which backend and database it
//! is from, at which migration, its size, SHA-256, creation time and the tool that wrote it.
//! Restore and `backup --verify` check the file against it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sea_orm::DbBackend;
use sha2::{Digest, Sha256};

use crate::backup::tools::with_suffix;
use crate::error::BackupProblem;

/// Format version of the manifest.
pub const MANIFEST_FORMAT: u32 = 1;

/// The kind of database a backup is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// A SQLite database file (`VACUUM INTO`).
    Sqlite,
    /// A `pg_dump -Fc` archive.
    Postgres,
    /// A `mysqldump` SQL file.
    Mysql,
}

impl BackupKind {
    /// The kind for a SeaORM backend.
    pub fn of(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Postgres => Self::Postgres,
            DbBackend::MySql => Self::Mysql,
            _ => Self::Sqlite,
        }
    }

    /// The SeaORM backend.
    pub fn backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
            Self::Mysql => DbBackend::MySql,
        }
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        crate::db::backend_name(self.backend())
    }

    /// File extension of its backups.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite3",
            Self::Postgres => "pgdump",
            Self::Mysql => "sql",
        }
    }
}

/// What is recorded about a backup when it is written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Manifest format version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// The backup's file name.
    pub file: String,
    /// The backend it is of.
    pub backend: BackupKind,
    /// The database (PostgreSQL/MySQL name, SQLite file path).
    pub database: String,
    /// The newest applied migration when it was taken (`empty`: none).
    pub version: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// When it was taken.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The tool that wrote it, with its version.
    pub tool: String,
}

/// Where the manifest of backup `file` is: `<file>.json`.
pub fn manifest_path(file: &Path) -> PathBuf {
    with_suffix(file, ".json")
}

impl Manifest {
    /// Reads the manifest of backup `file`.
    pub fn read(file: &Path) -> Result<Manifest, BackupProblem> {
        let path = manifest_path(file);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BackupProblem::NoManifest { manifest: path });
            }
            Err(e) => {
                return Err(BackupProblem::BadManifest {
                    manifest: path,
                    cause: e.to_string(),
                });
            }
        };
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| BackupProblem::BadManifest {
                manifest: path.clone(),
                cause: e.to_string(),
            })?;
        if manifest.format > MANIFEST_FORMAT {
            return Err(BackupProblem::BadManifest {
                manifest: path,
                cause: format!(
                    "format {} is newer than this tool's ({MANIFEST_FORMAT})",
                    manifest.format
                ),
            });
        }
        Ok(manifest)
    }
}

/// Size and SHA-256 (hex) of `path`.
pub fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hex::encode(hasher.finalize())))
}

/// [`digest`] on a blocking thread.
pub(crate) async fn digest_async(path: &Path) -> std::io::Result<(u64, String)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || digest(&path))
        .await
        .map_err(std::io::Error::other)?
}
