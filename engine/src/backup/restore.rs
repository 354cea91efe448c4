//! Restoring a backup so that a failure leaves the target as it was.
//!
//! Before the target is touched the backup is proven good ([`crate::backup::verify`]) and of
//! the target's backend, and a safety backup of the target is taken (unless disabled). Then:
//!
//! - **SQLite**: the backup is copied next to the target under a temporary name, checked with
//!   `PRAGMA integrity_check`, and renamed over the target (atomic) once every connection to
//!   it is closed.
//! - **PostgreSQL**: one `psql` session runs, in one transaction, the removal of the target's
//!   tables, views, sequences and types (its current schema) followed by the script
//!   `pg_restore --clean --if-exists --single-transaction` makes of the archive. Any error
//!   rolls everything back.
//! - **MySQL/MariaDB**: the dump is loaded into a scratch database; then one `RENAME TABLE`
//!   statement (atomic) moves the target's tables into a second scratch database and the
//!   restored ones into the target, and both scratch databases are dropped. When views,
//!   triggers or routines make that impossible (they cannot move between databases) or no
//!   scratch database can be created, the target is emptied and the dump, which just loaded
//!   cleanly into the scratch database, is loaded into it directly; a failure then names the
//!   safety backup.
//!
//! Errors never quote the backup's contents: tool output is cut to one line and withheld from
//! its first quote on.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backup::manifest::{BackupKind, Manifest};
use crate::backup::tools::{self, fsync_dir, fsync_file, stderr_line, unique_tag};
use crate::backup::verify::{self, integrity_check, remove_sqlite_files};
use crate::backup::{Backup, BackupConfig, latest_version, prune_except, take_unpruned};
use crate::db::{DatabaseUrl, quote_ident};
use crate::error::{BackupProblem, MigrateError, RestoreOutcome};

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Replace a target that has tables (refused otherwise).
    pub overwrite: bool,
    /// Where to put the safety backup of the target taken before it is replaced (`None`: no
    /// safety backup). Only a target with tables is backed up.
    pub safety_backup: Option<BackupConfig>,
    /// The ledger table, to label the safety backup with the target's newest migration.
    pub ledger_table: String,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self {
            overwrite: false,
            safety_backup: Some(BackupConfig::default()),
            ledger_table: "seaql_migrations".into(),
        }
    }
}

/// How the backup was put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreMethod {
    /// SQLite: a checked copy renamed over the target file.
    SqliteFileSwap,
    /// PostgreSQL: one transaction.
    PostgresTransaction,
    /// MySQL/MariaDB: loaded into a scratch database, swapped in by one `RENAME TABLE`.
    MysqlTableSwap,
    /// MySQL/MariaDB: loaded straight into the emptied target (views, triggers or routines
    /// present, or no scratch database allowed).
    MysqlDirectLoad,
}

impl RestoreMethod {
    /// One phrase for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SqliteFileSwap => "checked copy swapped in by an atomic rename",
            Self::PostgresTransaction => "restored in one transaction",
            Self::MysqlTableSwap => {
                "loaded into a scratch database, swapped in by one RENAME TABLE"
            }
            Self::MysqlDirectLoad => "loaded directly into the emptied target",
        }
    }
}

/// A finished restore.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    /// The backup restored.
    pub file: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The safety backup of the target's previous contents, when one was taken.
    pub safety_backup: Option<Backup>,
    /// How it was done.
    pub method: RestoreMethod,
    /// Anything left to clean up by hand (e.g. a scratch database that could not be dropped).
    pub notes: Vec<String>,
}

/// Replaces the contents of the database behind `db`/`url` with backup `file`, as described
/// in the module documentation. Consumes (and closes) `db`; on SQLite every connection to the
/// target must be closed for the swap, so the pool `db` belongs to is closed.
pub async fn restore(
    db: DatabaseConnection,
    url: &DatabaseUrl,
    file: &Path,
    options: &RestoreOptions,
) -> Result<Restored, MigrateError> {
    let result = run(&db, url, file, options).await;
    let _ = db.close().await;
    result
}

/// What a failure says about the target.
struct Ctx<'a> {
    file: &'a Path,
    url: &'a DatabaseUrl,
    safety: Option<PathBuf>,
}

impl Ctx<'_> {
    fn unchanged(&self, step: &str, cause: impl std::fmt::Display) -> MigrateError {
        self.fail(step, cause, RestoreOutcome::Unchanged)
    }

    fn changed(&self, step: &str, cause: impl std::fmt::Display) -> MigrateError {
        self.fail(
            step,
            cause,
            RestoreOutcome::Changed {
                safety_backup: self.safety.clone(),
            },
        )
    }

    fn fail(
        &self,
        step: &str,
        cause: impl std::fmt::Display,
        outcome: RestoreOutcome,
    ) -> MigrateError {
        let cause = self.url.scrub(&cause.to_string());
        MigrateError::RestoreFailed {
            file: self.file.to_path_buf(),
            step: step.to_string(),
            cause: cause.trim_end_matches(['.', ' ']).to_string(),
            outcome,
        }
    }

    fn db(&self, step: &str) -> impl Fn(sea_orm::DbErr) -> MigrateError + '_ {
        let step = step.to_string();
        move |e| self.unchanged(&step, first_line(&e.to_string()))
    }
}

fn first_line(s: &str) -> String {
    stderr_line(s.as_bytes(), None, true)
}

async fn run(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    file: &Path,
    options: &RestoreOptions,
) -> Result<Restored, MigrateError> {
    let refuse = |problem: BackupProblem| MigrateError::RestoreRefused {
        file: file.to_path_buf(),
        problem,
    };
    let target_kind = BackupKind::of(url.backend());
    if verify::is_partial(file) {
        return Err(refuse(BackupProblem::Partial));
    }
    // The kind first: a backup of another backend gets the clearest message.
    let kind = verify::kind_of_file(file).map_err(refuse)?;
    if kind != target_kind {
        return Err(refuse(BackupProblem::OtherBackend {
            backup: kind.name(),
            target: target_kind.name(),
        }));
    }
    let manifest = verify::check(file).await.map_err(refuse)?;
    let mut ctx = Ctx {
        file,
        url,
        safety: None,
    };
    let needed: &[&str] = match kind {
        BackupKind::Postgres => &["pg_restore", "psql"],
        BackupKind::Mysql => &["mysql"],
        BackupKind::Sqlite => &[],
    };
    for name in needed {
        if let Err(m) = tools::tool(name) {
            return Err(ctx.unchanged(
                "checking the restore tools",
                format!(
                    "`{}` is not installed (Debian/Ubuntu: apt-get install {})",
                    m.tool, m.package
                ),
            ));
        }
    }
    let tables = crate::db::list_tables(db)
        .await
        .map_err(ctx.db("reading the target's tables"))?;
    if !tables.is_empty() && !options.overwrite {
        return Err(MigrateError::RestoreNeedsOverwrite {
            tables: tables.len(),
        });
    }
    let safety = match &options.safety_backup {
        Some(config) if !tables.is_empty() => {
            let version = latest_version(db, &options.ledger_table).await;
            let taken = take_unpruned(db, url, config, &version)
                .await
                .map_err(|e| ctx.unchanged("taking the safety backup of the target", e))?;
            ctx.safety = Some(taken.path.clone());
            Some(taken)
        }
        _ => None,
    };
    let (method, notes) = match kind {
        BackupKind::Sqlite => (sqlite(db, url, file, &ctx).await?, Vec::new()),
        BackupKind::Postgres => (postgres(db, url, file, &ctx).await?, Vec::new()),
        BackupKind::Mysql => mysql(db, url, file, &ctx).await?,
    };
    if let (Some(config), Some(_)) = (&options.safety_backup, &safety) {
        prune_except(
            &config.dir,
            &super::file_stem(url),
            kind.extension(),
            config.keep,
            Some(file),
        );
    }
    Ok(Restored {
        file: file.to_path_buf(),
        manifest,
        safety_backup: safety,
        method,
        notes,
    })
}

// ---------------------------------------------------------------------------------------
// SQLite

async fn sqlite(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    file: &Path,
    ctx: &Ctx<'_>,
) -> Result<RestoreMethod, MigrateError> {
    let target = PathBuf::from(url.database_name());
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && !n.contains(":memory:"));
    let Some(name) = name else {
        return Err(ctx.unchanged(
            "locating the target file",
            "the target is not a SQLite file (an in-memory database cannot be restored into)",
        ));
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = dir.join(format!(".{name}.restore-{}.partial", unique_tag()));
    let step = "copying the backup next to the target";
    let staged = async {
        std::fs::copy(file, &temp).map_err(|e| ctx.unchanged(step, e))?;
        if let Ok(meta) = std::fs::metadata(&target) {
            let _ = std::fs::set_permissions(&temp, meta.permissions());
        }
        fsync_file(&temp).map_err(|e| ctx.unchanged(step, e))?;
        integrity_check(&temp, false)
            .await
            .map_err(|e| ctx.unchanged("checking the copy with PRAGMA integrity_check", e))?;
        // The check's connection is closed: no journal of the copy may remain.
        for suffix in ["-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(tools::with_suffix(&temp, suffix));
        }
        Ok::<_, MigrateError>(())
    }
    .await;
    if let Err(e) = staged {
        remove_sqlite_files(&temp);
        return Err(e);
    }
    // Every connection of this pool to the target is closed before the swap.
    let _ = db.clone().close().await;
    for suffix in ["-wal", "-journal"] {
        let side = tools::with_suffix(&target, suffix);
        if std::fs::metadata(&side).is_ok_and(|m| m.len() > 0) {
            remove_sqlite_files(&temp);
            return Err(ctx.unchanged(
                "replacing the target file",
                format!(
                    "{} is not empty: another process has the database open or was \
                     interrupted while writing; stop the application using it (or open the \
                     database once to recover it) and try again",
                    side.display()
                ),
            ));
        }
    }
    if let Err(e) = std::fs::rename(&temp, &target) {
        remove_sqlite_files(&temp);
        return Err(ctx.unchanged("replacing the target file", e));
    }
    // Empty leftovers of the old file's WAL belong to nothing now.
    for suffix in ["-wal", "-shm"] {
        let side = tools::with_suffix(&target, suffix);
        if std::fs::metadata(&side).is_ok_and(|m| m.len() == 0 || suffix == "-shm") {
            let _ = std::fs::remove_file(side);
        }
    }
    fsync_dir(&dir);
    Ok(RestoreMethod::SqliteFileSwap)
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// Statements that remove the target's tables, views, sequences and types (its current
/// schema; objects of extensions are left alone).
async fn pg_clear_statements(
    db: &DatabaseConnection,
    ctx: &Ctx<'_>,
) -> Result<Vec<String>, MigrateError> {
    let step = "reading the target's objects";
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass \
                             AND d.objid = c.oid AND d.deptype = 'e') \
             UNION ALL \
             SELECT n.nspname::text, t.typname::text, 't' || t.typtype::text \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = current_schema() AND (t.typtype IN ('e', 'd', 'r') \
                   OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')) \
             AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass \
                             AND d.objid = t.oid AND d.deptype = 'e')",
        ))
        .await
        .map_err(ctx.db(step))?;
    let mut by_kind: std::collections::BTreeMap<&'static str, Vec<String>> = Default::default();
    for row in rows {
        let get = |c: &str| row.try_get::<String>("", c);
        let (Ok(schema), Ok(name), Ok(kind)) = (get("schema"), get("name"), get("kind")) else {
            continue;
        };
        let what = match kind.as_str() {
            "m" => "1 MATERIALIZED VIEW",
            "v" => "2 VIEW",
            "f" => "3 FOREIGN TABLE",
            "r" | "p" => "4 TABLE",
            "S" => "5 SEQUENCE",
            "td" => "7 DOMAIN",
            _ => "6 TYPE",
        };
        let q = |s: &str| quote_ident(DbBackend::Postgres, s);
        by_kind
            .entry(what)
            .or_default()
            .push(format!("{}.{}", q(&schema), q(&name)));
    }
    Ok(by_kind
        .into_iter()
        .map(|(what, names)| {
            format!(
                "DROP {} IF EXISTS {} CASCADE;",
                &what[2..],
                names.join(", ")
            )
        })
        .collect())
}

async fn postgres(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    file: &Path,
    ctx: &Ctx<'_>,
) -> Result<RestoreMethod, MigrateError> {
    let clear = pg_clear_statements(db, ctx).await?;
    let step = "restoring in one transaction with pg_restore and psql";
    let missing = |m: tools::Missing| ctx.unchanged(step, format!("`{}` is not installed", m.tool));
    let mut dump = tools::tool("pg_restore").map_err(missing)?;
    dump.arg("--clean")
        .arg("--if-exists")
        .arg("--no-owner")
        .arg("--single-transaction")
        .arg("--file=-")
        .arg(file)
        .stdout(Stdio::piped());
    let mut psql = tools::tool("psql").map_err(missing)?;
    psql.arg("--no-psqlrc")
        .arg("--quiet")
        .arg("--no-password")
        .arg("--set=ON_ERROR_STOP=1");
    tools::libpq_connect(&mut psql, url);
    psql.stdin(Stdio::piped());

    let mut loader = psql.spawn().map_err(|e| ctx.unchanged(step, e))?;
    let mut reader = match dump.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = loader.kill().await;
            return Err(ctx.unchanged(step, e));
        }
    };
    let loader_err = drain(loader.stderr.take());
    let reader_err = drain(reader.stderr.take());
    let (Some(mut stdin), Some(mut script)) = (loader.stdin.take(), reader.stdout.take()) else {
        let _ = loader.kill().await;
        let _ = reader.kill().await;
        return Err(ctx.unchanged(step, "the tools' pipes could not be opened"));
    };
    // Our transaction first; pg_restore's own BEGIN inside it only warns. Its COMMIT, the
    // script's last statement, is only written when it read the whole archive.
    let preamble = format!(
        "BEGIN;\nSET LOCAL client_min_messages = warning;\n{}\n",
        clear.join("\n")
    );
    let fed = async {
        stdin.write_all(preamble.as_bytes()).await?;
        tokio::io::copy(&mut script, &mut stdin).await?;
        stdin.shutdown().await
    }
    .await;
    drop(stdin);
    drop(script);
    let reader_status = reader.wait().await;
    let loader_status = loader.wait().await;
    let loader_msg = loader_err.await.unwrap_or_default();
    let reader_msg = reader_err.await.unwrap_or_default();
    match (loader_status, reader_status) {
        (Ok(l), Ok(r)) if l.success() && r.success() && fed.is_ok() => {
            Ok(RestoreMethod::PostgresTransaction)
        }
        (Ok(l), _) if !l.success() => Err(ctx.unchanged(
            step,
            format!(
                "psql stopped at an error and rolled back: {}",
                stderr_line(&loader_msg, Some(url), true)
            ),
        )),
        (_, Ok(r)) if !r.success() => Err(ctx.unchanged(
            step,
            format!(
                "pg_restore failed before the end of the archive, so nothing was committed: {}",
                stderr_line(&reader_msg, Some(url), true)
            ),
        )),
        (l, r) => Err(ctx.unchanged(
            step,
            format!(
                "the tools could not be run to the end ({}), so nothing was committed",
                [
                    l.err().map(|e| format!("psql: {e}")),
                    r.err().map(|e| format!("pg_restore: {e}")),
                    fed.err().map(|e| format!("feeding psql: {e}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ")
            ),
        )),
    }
}

/// Reads a child's stderr to the end in the background (at most 64 KiB kept).
fn drain<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    pipe: Option<R>,
) -> tokio::task::JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let Some(mut pipe) = pipe else {
            return kept;
        };
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if kept.len() < 65536 {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        kept
    })
}

// ---------------------------------------------------------------------------------------
// MySQL / MariaDB

async fn mysql(
    db: &DatabaseConnection,
    url: &DatabaseUrl,
    file: &Path,
    ctx: &Ctx<'_>,
) -> Result<(RestoreMethod, Vec<String>), MigrateError> {
    let target = url.database_name();
    let q = |s: &str| quote_ident(DbBackend::MySql, s);
    let step = "reading the target's settings";
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR) AS cs, \
             CAST(DEFAULT_COLLATION_NAME AS CHAR) AS coll \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
        ))
        .await
        .map_err(ctx.db(step))?;
    let charset = row
        .as_ref()
        .and_then(|r| r.try_get::<String>("", "cs").ok())
        .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let collation = row
        .as_ref()
        .and_then(|r| r.try_get::<String>("", "coll").ok())
        .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let target_blockers = mysql_movable_blockers(db, &target)
        .await
        .map_err(ctx.db(step))?;

    let tag = unique_tag();
    let scratch = scratch_name(&target, "rst", &tag);
    let trash = scratch_name(&target, "old", &tag);
    let mut notes = Vec::new();
    let create = format!(
        "CREATE DATABASE {}{}{}",
        q(&scratch),
        charset
            .map(|c| format!(" CHARACTER SET {c}"))
            .unwrap_or_default(),
        collation
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default()
    );
    let scratch_made = db.execute_unprepared(&create).await;
    let drop_db = |name: String| async move {
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {}", q(&name)))
            .await
    };

    if scratch_made.is_ok() {
        // Load into the scratch database: a failure here leaves the target untouched.
        if let Err(cause) = mysql_load(url, &scratch, file).await {
            let _ = drop_db(scratch.clone()).await;
            return Err(ctx.unchanged(
                "loading the dump into a scratch database",
                format!("mysql stopped at an error: {cause}"),
            ));
        }
        let scratch_blockers = mysql_movable_blockers(db, &scratch).await.unwrap_or(1);
        if target_blockers == 0 && scratch_blockers == 0 {
            let result = mysql_swap(db, &target, &scratch, &trash, ctx).await;
            if let Err(e) = drop_db(scratch.clone()).await {
                notes.push(format!(
                    "drop the scratch database {scratch} by hand ({})",
                    first_line(&e.to_string())
                ));
            }
            if let Err(e) = drop_db(trash.clone()).await {
                notes.push(format!(
                    "drop the database {trash}, which holds the target's previous tables, by \
                     hand ({})",
                    first_line(&e.to_string())
                ));
            }
            result?;
            return Ok((RestoreMethod::MysqlTableSwap, notes));
        }
        // Views or triggers cannot move between databases: the rehearsal above proved the
        // dump loads; load it into the emptied target.
        if let Err(e) = drop_db(scratch.clone()).await {
            notes.push(format!(
                "drop the scratch database {scratch} by hand ({})",
                first_line(&e.to_string())
            ));
        }
    }
    mysql_clear(db, &target)
        .await
        .map_err(|e| ctx.changed("emptying the target", first_line(&e.to_string())))?;
    mysql_load(url, &target, file)
        .await
        .map_err(|cause| ctx.changed("loading the dump into the target", cause))?;
    Ok((RestoreMethod::MysqlDirectLoad, notes))
}

/// A database name of at most 64 characters: `<target prefix>_<what>_<tag>`.
fn scratch_name(target: &str, what: &str, tag: &str) -> String {
    let room = 64usize.saturating_sub(what.len() + tag.len() + 2);
    let prefix: String = target.chars().take(room.min(40)).collect();
    format!("{prefix}_{what}_{tag}")
}

/// Views, triggers and routines in `schema`: RENAME cannot move them to another database.
async fn mysql_movable_blockers(
    db: &DatabaseConnection,
    schema: &str,
) -> Result<i64, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::MySql,
            "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?) \
                  + (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?) \
                  + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) AS n",
            [schema.into(), schema.into(), schema.into()],
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0))
}

async fn mysql_base_tables(
    db: &DatabaseConnection,
    schema: &str,
) -> Result<Vec<String>, sea_orm::DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::MySql,
        "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
        [schema.into()],
    ))
    .await?
    .into_iter()
    .map(|r| r.try_get::<String>("", "name"))
    .collect()
}

/// One `RENAME TABLE`: the target's tables into `trash`, `scratch`'s into the target.
async fn mysql_swap(
    db: &DatabaseConnection,
    target: &str,
    scratch: &str,
    trash: &str,
    ctx: &Ctx<'_>,
) -> Result<(), MigrateError> {
    let q = |s: &str| quote_ident(DbBackend::MySql, s);
    let step = "swapping the restored tables in";
    let old = mysql_base_tables(db, target).await.map_err(ctx.db(step))?;
    let new = mysql_base_tables(db, scratch).await.map_err(ctx.db(step))?;
    let mut pairs: Vec<String> = Vec::new();
    if !old.is_empty() {
        db.execute_unprepared(&format!("CREATE DATABASE {}", q(trash)))
            .await
            .map_err(ctx.db(step))?;
        pairs.extend(
            old.iter()
                .map(|t| format!("{}.{} TO {}.{}", q(target), q(t), q(trash), q(t))),
        );
    }
    pairs.extend(
        new.iter()
            .map(|t| format!("{}.{} TO {}.{}", q(scratch), q(t), q(target), q(t))),
    );
    if pairs.is_empty() {
        return Ok(());
    }
    // One statement: every rename happens, or none does.
    db.execute_unprepared(&format!("RENAME TABLE {}", pairs.join(", ")))
        .await
        .map_err(ctx.db(step))?;
    Ok(())
}

/// Drops the target's views and tables (triggers go with their tables).
async fn mysql_clear(db: &DatabaseConnection, target: &str) -> Result<(), sea_orm::DbErr> {
    let q = |s: &str| quote_ident(DbBackend::MySql, s);
    let views: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::MySql,
            "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = ?",
            [target.into()],
        ))
        .await?
        .into_iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .collect();
    if !views.is_empty() {
        let list: Vec<String> = views.iter().map(|v| q(v)).collect();
        db.execute_unprepared(&format!("DROP VIEW IF EXISTS {}", list.join(", ")))
            .await?;
    }
    crate::db::drop_all_tables(db).await.map(|_| ())
}

/// Loads dump `file` into database `database` with the `mysql` client; `Err` is one line
/// without the dump's contents.
async fn mysql_load(url: &DatabaseUrl, database: &str, file: &Path) -> Result<(), String> {
    let mut cmd = tools::tool("mysql").map_err(|m| format!("`{}` is not installed", m.tool))?;
    tools::mysql_args(&mut cmd, url);
    cmd.arg("--batch").arg(format!("--database={database}"));
    let input = std::fs::File::open(file).map_err(|e| format!("cannot read the backup ({e})"))?;
    cmd.stdin(Stdio::from(input));
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run mysql ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr_line(&out.stderr, Some(url), true))
    }
}
