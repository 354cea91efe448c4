//! Backups before a run changes a database that holds data, and `backup`/`restore`:
//! SQLite an online copy (`VACUUM INTO`), PostgreSQL `pg_dump -Fc`, MySQL `mysqldump`.
//! Files are named `{database}-{UTC time}-{version}.{sqlite3|pgdump|sql}` and only the newest
//! N per database are kept. Passwords reach the dump tools through their environment
//! (`PGPASSWORD`, `MYSQL_PWD`), never their command line.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::db::DatabaseUrl;
use crate::error::MigrateError;
use crate::config::Config;
use crate::db::dialect as runner;

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

fn extension(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "pgdump",
        DbBackend::MySql => "sql",
        _ => "sqlite3",
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

/// Takes a backup of the database behind `db`/`url` into `config.dir`, labelled with
/// `version` (the newest applied migration), then prunes old ones.
pub async fn take(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    config: &BackupConfig,
    version: &str,
) -> Result<Backup, MigrateError> {
    let backend = url.backend();
    std::fs::create_dir_all(&config.dir).map_err(|e| MigrateError::Backup {
        what: format!(
            "cannot create the backup directory {}",
            config.dir.display()
        ),
        cause: e.to_string(),
        fix: "pass a writable directory with --backup-dir (or OHT50_BACKUP_DIR), or --no-backup"
            .into(),
    })?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
    let stem = file_stem(url);
    let path = config
        .dir
        .join(format!("{stem}-{stamp}-{version}.{}", extension(backend)));
    match backend {
        DbBackend::Postgres => {
            let (conn, pass) = libpq_url(url);
            let mut cmd = tool("pg_dump")?;
            cmd.arg("--format=custom")
                .arg("--no-owner")
                .arg("--file")
                .arg(&path)
                .arg("--dbname")
                .arg(conn);
            if let Some(p) = pass {
                cmd.env("PGPASSWORD", p);
            }
            run_tool(cmd, "pg_dump", url).await?;
        }
        DbBackend::MySql => {
            let mut cmd = tool("mysqldump")?;
            mysql_args(&mut cmd, url);
            cmd.arg("--single-transaction")
                .arg("--routines")
                .arg("--triggers")
                .arg("--result-file")
                .arg(&path);
            cmd.arg(url.database_name());
            run_tool(cmd, "mysqldump", url).await?;
        }
        _ => {
            let target = path.to_string_lossy().replace('\'', "''");
            db.execute_unprepared(&format!("VACUUM INTO '{target}'"))
                .await
                .map_err(|e| MigrateError::Backup {
                    what: format!("VACUUM INTO {} failed", path.display()),
                    cause: e.to_string(),
                    fix: "check the backup directory is writable and has room, or pass --no-backup"
                        .into(),
                })?;
        }
    }
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    prune(&config.dir, &stem, extension(backend), config.keep);
    Ok(Backup { path, bytes })
}

/// Deletes all but the newest `keep` backups of `stem` in `dir`.
pub fn prune(dir: &Path, stem: &str, ext: &str, keep: usize) {
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
    for old in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
}

/// The kind of database a backup file is from, by its first bytes.
pub fn backend_of_file(path: &Path) -> Result<DbBackend, MigrateError> {
    use std::io::Read;
    let mut head = [0u8; 32];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| MigrateError::Backup {
            what: format!("cannot read {}", path.display()),
            cause: e.to_string(),
            fix: "check the path of the backup file".into(),
        })?;
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        Ok(DbBackend::Sqlite)
    } else if head.starts_with(b"PGDMP") {
        Ok(DbBackend::Postgres)
    } else if head.starts_with(b"-- MySQL dump")
        || head.starts_with(b"-- MariaDB dump")
        || head.starts_with(b"/*M!999999")
    {
        Ok(DbBackend::MySql)
    } else {
        Err(MigrateError::Backup {
            what: format!("{} is not a backup this tool wrote", path.display()),
            cause: "it is neither a SQLite database, a pg_dump custom-format archive nor a mysqldump file".into(),
            fix: "give a file from the backup directory".into(),
        })
    }
}

/// Replaces the contents of the database behind `db`/`url` with backup `file`. Refuses a file
/// of another backend, and a target that holds data unless `overwrite`.
pub async fn restore(
    db: DatabaseConnection,
    url: &DatabaseUrl,
    file: &Path,
    overwrite: bool,
) -> Result<(), MigrateError> {
    let backend = url.backend();
    let from = backend_of_file(file)?;
    if from != backend {
        return Err(MigrateError::Backup {
            what: format!(
                "{} is a {} backup and the target is {}",
                file.display(),
                runner::backend_name(from),
                runner::backend_name(backend)
            ),
            cause: "a backup can only be restored into the same kind of database".into(),
            fix: "restore it into a database of its own kind".into(),
        });
    }
    let tables = runner::list_tables(&db)
        .await
        .map_err(err("listing tables"))?;
    if !tables.is_empty() && !overwrite {
        return Err(MigrateError::Backup {
            what: format!("the target database is not empty ({} tables)", tables.len()),
            cause: "restoring replaces everything in it".into(),
            fix: "pass --overwrite to replace its contents with the backup (take a backup of it first)".into(),
        });
    }
    match backend {
        DbBackend::Sqlite => {
            let _ = db.close().await;
            let target = PathBuf::from(url.database_name());
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut p = target.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            std::fs::copy(file, &target).map_err(|e| MigrateError::Backup {
                what: format!("cannot copy {} over {}", file.display(), target.display()),
                cause: e.to_string(),
                fix: "check both paths and permissions".into(),
            })?;
        }
        DbBackend::Postgres => {
            runner::drop_all_tables(&db)
                .await
                .map_err(err("emptying the target database"))?;
            let _ = db.close().await;
            let (conn, pass) = libpq_url(url);
            let mut cmd = tool("pg_restore")?;
            cmd.arg("--no-owner")
                .arg("--exit-on-error")
                .arg("--dbname")
                .arg(conn)
                .arg(file);
            if let Some(p) = pass {
                cmd.env("PGPASSWORD", p);
            }
            run_tool(cmd, "pg_restore", url).await?;
        }
        _ => {
            runner::drop_all_tables(&db)
                .await
                .map_err(err("emptying the target database"))?;
            let _ = db.close().await;
            let mut cmd = tool("mysql")?;
            mysql_args(&mut cmd, url);
            cmd.arg(url.database_name());
            let input = std::fs::File::open(file).map_err(|e| MigrateError::Backup {
                what: format!("cannot read {}", file.display()),
                cause: e.to_string(),
                fix: "check the path of the backup file".into(),
            })?;
            cmd.stdin(Stdio::from(input));
            run_tool(cmd, "mysql", url).await?;
        }
    }
    Ok(())
}

/// Whether the dump tool this backend needs is installed (`Ok` also for SQLite).
pub fn check_tool(backend: DbBackend) -> Result<(), MigrateError> {
    match backend {
        DbBackend::Postgres => tool("pg_dump").map(|_| ()),
        DbBackend::MySql => tool("mysqldump").map(|_| ()),
        _ => Ok(()),
    }
}

fn tool(name: &str) -> Result<tokio::process::Command, MigrateError> {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        let package = match name {
            "pg_dump" | "pg_restore" => "postgresql-client",
            _ => "mariadb-client (or mysql-client)",
        };
        return Err(MigrateError::BackupToolMissing {
            tool: name.into(),
            package: package.into(),
        });
    }
    let mut cmd = tokio::process::Command::new(name);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(cmd)
}

async fn run_tool(
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(MigrateError::Backup {
        what: format!("{name} failed ({})", out.status),
        cause: url.scrub(stderr.trim()),
        fix: "fix the cause above, or pass --no-backup to run without a backup".into(),
    })
}

/// The URL for libpq tools, without the password (returned separately) and without
/// parameters libpq does not know.
fn libpq_url(url: &DatabaseUrl) -> (String, Option<String>) {
    let Ok(mut parsed) = url::Url::parse(url.expose()) else {
        return (url.redacted().to_string(), None);
    };
    let pass = parsed.password().map(percent_decode);
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

fn mysql_args(cmd: &mut tokio::process::Command, url: &DatabaseUrl) {
    if let Ok(parsed) = url::Url::parse(url.expose()) {
        cmd.arg(format!(
            "--host={}",
            parsed.host_str().unwrap_or("127.0.0.1")
        ));
        cmd.arg(format!("--port={}", parsed.port().unwrap_or(3306)));
        if !parsed.username().is_empty() {
            cmd.arg(format!("--user={}", percent_decode(parsed.username())));
        }
        if let Some(p) = parsed.password() {
            cmd.env("MYSQL_PWD", percent_decode(p));
        }
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}
