//! Taking over a database this tool did not build: [`baseline`] (Flyway's `baseline`,
//! Alembic's `stamp`) records a migration and every one before it as applied without running
//! them, once the live schema is shown to be what those migrations create; [`adopt_alembic`]
//! does the same for a database Alembic manages, reading the revision from `alembic_version`
//! and mapping it through [`crate::Config::alembic_revisions`].
//!
//! The expected schema is built by running the migrations in a scratch database of the same
//! backend ([`ScratchDb`]) and compared with the live one by [`drift::compare`], the comparison
//! `drift` uses: a serial and an identity primary key both auto-increment (as do SQLite's
//! rowid with and without `AUTOINCREMENT`); constraint and foreign-key names are not compared;
//! index names are; column types, nullability, defaults, unique constraints, indexes and
//! foreign-key targets and actions must match. On MySQL/MariaDB the indexes InnoDB creates for
//! foreign keys are named after the key and are left out on both sides.
//!
//! Adopting an Alembic database also closes the gap SQLAlchemy leaves: a `default=` on a
//! `Column` is applied by Python, so such columns have no server default where ours do.
//! Adoption adds those defaults (and nothing else) as one recorded step, under the migration
//! lock, before recording the baseline. Nothing is written when anything else differs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use sea_orm_migration::SchemaManager;

use crate::bookkeeping::alembic::{self, ALEMBIC_VERSION_TABLE};
use crate::bookkeeping::history::{self, History, Outcome};
use crate::bookkeeping::ledger::Ledger;
use crate::bookkeeping::lock::{LockId, MigrationLock};
use crate::config::Config;
use crate::db::{DatabaseUrl, list_tables, quote_ident};
use crate::error::{AdoptRefusal, MigrateError};
use crate::plan::capture::capture;
use crate::plan::finding::{StatementKind, classify};
use crate::plan::{self, Direction};
use crate::review::drift::{self, DiffKind, Difference};
use crate::review::lint::ScratchDb;
use crate::run::runner::Runner;
use crate::schema::{self, Schema};

/// How [`baseline`] and [`adopt_alembic`] behave.
#[derive(Debug, Clone)]
pub struct AdoptOptions {
    /// Record the baseline even when the schema differs; the differences are written into the
    /// history row of the baseline version.
    pub accept_differences: bool,
    /// How long to wait for another runner's migration lock.
    pub lock_timeout: Duration,
}

impl Default for AdoptOptions {
    fn default() -> Self {
        Self {
            accept_differences: false,
            lock_timeout: Duration::from_secs(300),
        }
    }
}

/// One server default added by adoption (SQLAlchemy's client-side defaults).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaFix {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The default added, as the backend reports it.
    pub default: String,
    /// The statement that added it.
    pub statement: String,
}

/// Where an adopted Alembic database came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlembicSource {
    /// The revision `alembic_version` holds.
    pub revision: String,
    /// The table, left in place and untouched.
    pub table: &'static str,
}

/// What [`baseline`] or [`adopt_alembic`] recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Baseline {
    /// The baseline version (the newest recorded).
    pub version: String,
    /// Every version recorded as applied (not run), oldest first.
    pub recorded: Vec<String>,
    /// Differences recorded with `--accept-differences` (empty: the schema matched).
    pub accepted_differences: Vec<Difference>,
    /// Server defaults adoption added before recording (empty for a plain baseline).
    pub schema_fixes: Vec<SchemaFix>,
    /// For `adopt alembic`: the Alembic revision, whose table was left untouched.
    pub alembic: Option<AlembicSource>,
    /// Migrations after the baseline, which `up` applies.
    pub pending: Vec<String>,
}

/// `status`/`doctor`: an Alembic database this tool has recorded nothing in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlembicNotice {
    /// The revisions in `alembic_version`.
    pub revisions: Vec<String>,
    /// The migration the revision maps to, when the mapping knows it.
    pub version: Option<String>,
    /// What to run.
    pub advice: String,
}

impl AlembicNotice {
    /// One sentence for `status` and `doctor`.
    pub fn describe(&self) -> String {
        let at = match &self.version {
            Some(v) => format!("revision {} = {v}", self.revisions.join(", ")),
            None if self.revisions.is_empty() => "no revision".into(),
            None => format!("revision {}", self.revisions.join(", ")),
        };
        format!(
            "this database is managed by Alembic ({ALEMBIC_VERSION_TABLE}: {at}) and no migration is \
             recorded by this tool, so its migrations look pending but `up` would recreate existing \
             tables. {}",
            self.advice
        )
    }
}

/// The Alembic situation of the runner's database: `Some` when an `alembic_version` table is
/// present and the ledger records nothing. Reads only.
pub async fn alembic_notice(runner: &Runner) -> Result<Option<AlembicNotice>, MigrateError> {
    let db = runner.connection();
    let config = runner.config();
    if !ledger_rows(db, config).await?.is_empty() {
        return Ok(None);
    }
    let Some(revisions) = alembic::revisions(db)
        .await
        .map_err(MigrateError::database("reading alembic_version"))?
    else {
        return Ok(None);
    };
    let version = match revisions.as_slice() {
        [one] => alembic::mapped(&config.alembic_revisions, one).and_then(|v| {
            plan::resolve_version(&runner.names(), v)
                .ok()
                .map(|i| runner.names()[i].to_string())
        }),
        _ => None,
    };
    Ok(Some(AlembicNotice {
        revisions,
        version,
        advice: alembic::advice(config),
    }))
}

/// `baseline --to VERSION`: records VERSION and every migration before it as applied, without
/// running them, after checking that the live schema is what they create on this backend.
/// Refuses (changing nothing) when the ledger has rows, VERSION is unknown, the database is
/// empty, or the schema differs (unless `accept_differences`).
pub async fn baseline(
    runner: &Runner,
    url: &DatabaseUrl,
    version: &str,
    options: &AdoptOptions,
) -> Result<Baseline, MigrateError> {
    let names = runner.names();
    let index = plan::resolve_version(&names, version)?;
    refuse_if_managed(runner, "baseline").await?;
    refuse_if_empty(runner, "baseline").await?;
    take_over(runner, url, index, options, None, "baseline").await
}

/// `adopt alembic`: reads the revision in `alembic_version`, maps it to a migration through
/// [`Config::alembic_revisions`] and baselines there with the same schema check, adding the
/// server defaults SQLAlchemy leaves to Python. `alembic_version` is left untouched.
pub async fn adopt_alembic(
    runner: &Runner,
    url: &DatabaseUrl,
    options: &AdoptOptions,
) -> Result<Baseline, MigrateError> {
    const COMMAND: &str = "adopt alembic";
    let config = runner.config();
    let refuse = |reason| MigrateError::AdoptRefused {
        command: COMMAND,
        reason,
    };
    if config.alembic_revisions.is_empty() {
        return Err(refuse(AdoptRefusal::NoAlembicMapping));
    }
    refuse_if_managed(runner, COMMAND).await?;
    let revisions = alembic::revisions(runner.connection())
        .await
        .map_err(MigrateError::database("reading alembic_version"))?
        .ok_or_else(|| refuse(AdoptRefusal::NoAlembicTable))?;
    let [revision] = revisions.as_slice() else {
        return Err(refuse(AdoptRefusal::AlembicRows { revisions }));
    };
    let Some(version) = alembic::mapped(&config.alembic_revisions, revision) else {
        return Err(refuse(AdoptRefusal::UnknownRevision {
            revision: revision.clone(),
            known: config
                .alembic_revisions
                .iter()
                .map(|(r, _)| r.clone())
                .collect(),
        }));
    };
    let index = plan::resolve_version(&runner.names(), version)?;
    refuse_if_empty(runner, COMMAND).await?;
    let source = AlembicSource {
        revision: revision.clone(),
        table: ALEMBIC_VERSION_TABLE,
    };
    take_over(runner, url, index, options, Some(source), COMMAND).await
}

/// The schema migrations `0..=index` create on the runner's backend, built in a scratch
/// database, tooling tables left out.
pub async fn expected_schema(
    runner: &Runner,
    url: &DatabaseUrl,
    index: usize,
) -> Result<Schema, MigrateError> {
    let main = runner.connection();
    let scratch =
        ScratchDb::create(main, url)
            .await
            .map_err(|cause| MigrateError::AdoptRefused {
                command: "baseline",
                reason: AdoptRefusal::NoScratch { cause },
            })?;
    let built = build(scratch.connection(), &runner.migrations()[..=index]).await;
    scratch.dispose(main).await;
    let built = built.map_err(MigrateError::database(
        "applying the migrations in a scratch database",
    ))?;
    Ok(comparable(built, runner.config()))
}

async fn build(
    db: &DatabaseConnection,
    migrations: &[Box<dyn sea_orm_migration::MigrationTrait>],
) -> Result<Schema, DbErr> {
    for m in migrations {
        m.up(&SchemaManager::new(db)).await?;
    }
    schema::inspect(db).await
}

/// `schema` without tooling tables (ledger, history, batches, `alembic_version`).
fn comparable(mut schema: Schema, config: &Config) -> Schema {
    schema
        .tables
        .retain(|name, _| !config.is_tooling_table(name));
    schema
}

/// Every difference between the live schema and the one migrations `0..=index` create, with
/// both schemas.
pub async fn schema_differences(
    runner: &Runner,
    url: &DatabaseUrl,
    index: usize,
) -> Result<(Schema, Schema, Vec<Difference>), MigrateError> {
    let expected = expected_schema(runner, url, index).await?;
    let live = live_schema(runner.connection(), runner.config()).await?;
    let differences = compare(runner, index, &expected, &live).await;
    Ok((expected, live, differences))
}

async fn live_schema<C: ConnectionTrait>(db: &C, config: &Config) -> Result<Schema, MigrateError> {
    schema::inspect(db)
        .await
        .map(|s| comparable(s, config))
        .map_err(MigrateError::database("reading the database schema"))
}

/// [`drift::compare`], with MySQL's implicit foreign-key indexes (named after the key, which
/// Alembic and we name differently) left out on both sides.
async fn compare(
    runner: &Runner,
    index: usize,
    expected: &Schema,
    live: &Schema,
) -> Vec<Difference> {
    let backend = runner.connection().get_database_backend();
    if backend != DbBackend::MySql {
        return drift::compare(expected, live, Some(backend)).differences;
    }
    let mut explicit = BTreeSet::new();
    for m in &runner.migrations()[..=index] {
        if let Ok(c) = capture(m.as_ref(), Direction::Up, backend).await {
            for s in &c.statements {
                for kind in classify(s, backend) {
                    if let StatementKind::CreateIndex { name: Some(n), .. } = kind {
                        explicit.insert(n);
                    }
                }
            }
        }
    }
    let strip = |s: &Schema| {
        let mut s = s.clone();
        for t in s.tables.values_mut() {
            let fks: Vec<Vec<String>> = t.foreign_keys.iter().map(|f| f.columns.clone()).collect();
            t.indexes.retain(|name, ix| {
                explicit.contains(name) || ix.unique || !fks.contains(&ix.columns)
            });
        }
        s
    };
    drift::compare(&strip(expected), &strip(live), Some(backend)).differences
}

async fn ledger_rows<C: ConnectionTrait>(
    db: &C,
    config: &Config,
) -> Result<Vec<String>, MigrateError> {
    let tables = list_tables(db)
        .await
        .map_err(MigrateError::database("listing tables"))?;
    if !tables.contains(&config.ledger_table) {
        return Ok(Vec::new());
    }
    Ok(Ledger::new(config.ledger_table.clone())
        .applied(db)
        .await
        .map_err(MigrateError::database("reading the migration ledger"))?
        .into_iter()
        .map(|a| a.version)
        .collect())
}

async fn refuse_if_managed_on<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    command: &'static str,
) -> Result<(), MigrateError> {
    let applied = ledger_rows(db, config).await?;
    match applied.last() {
        None => Ok(()),
        Some(newest) => Err(MigrateError::AdoptRefused {
            command,
            reason: AdoptRefusal::LedgerNotEmpty {
                ledger_table: config.ledger_table.clone(),
                applied: applied.len(),
                newest: newest.clone(),
            },
        }),
    }
}

async fn refuse_if_managed(runner: &Runner, command: &'static str) -> Result<(), MigrateError> {
    refuse_if_managed_on(runner.connection(), runner.config(), command).await
}

async fn refuse_if_empty(runner: &Runner, command: &'static str) -> Result<(), MigrateError> {
    let tables = list_tables(runner.connection())
        .await
        .map_err(MigrateError::database("listing tables"))?;
    if tables.iter().all(|t| runner.config().is_tooling_table(t)) {
        return Err(MigrateError::AdoptRefused {
            command,
            reason: AdoptRefusal::EmptyDatabase,
        });
    }
    Ok(())
}

/// The differences adoption closes itself: a column the expected schema gives a server default
/// that the live column lacks (SQLAlchemy's client-side `default=`), everything else equal.
fn fixable(d: &Difference, expected: &Schema, live: &Schema) -> Option<(String, String, String)> {
    if d.kind != DiffKind::Default {
        return None;
    }
    let want = expected.tables.get(&d.table)?.column(&d.object)?;
    let got = live.tables.get(&d.table)?.column(&d.object)?;
    match (&want.default, &got.default) {
        (Some(default), None) => Some((d.table.clone(), d.object.clone(), default.clone())),
        _ => None,
    }
}

async fn take_over(
    runner: &Runner,
    url: &DatabaseUrl,
    index: usize,
    options: &AdoptOptions,
    alembic: Option<AlembicSource>,
    command: &'static str,
) -> Result<Baseline, MigrateError> {
    let names = runner.names();
    let version = names[index].to_string();
    let (expected, live, differences) = schema_differences(runner, url, index).await?;
    let mut fixes = Vec::new();
    let mut remaining = Vec::new();
    for d in differences {
        match alembic.as_ref().and(fixable(&d, &expected, &live)) {
            Some(fix) => fixes.push(fix),
            None => remaining.push(d),
        }
    }
    if !remaining.is_empty() && !options.accept_differences {
        let mut listed: Vec<String> = remaining.iter().map(|d| d.to_string()).collect();
        listed.extend(fixes.iter().map(|(t, c, v)| {
            format!("default {t}.{c}: no server default (SQLAlchemy's client-side default; adoption would add DEFAULT {v})")
        }));
        return Err(MigrateError::AdoptRefused {
            command,
            reason: AdoptRefusal::SchemaDiffers {
                version,
                differences: listed
                    .into_iter()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect(),
            },
        });
    }
    let backend = runner.connection().get_database_backend();
    let schema_fixes: Vec<SchemaFix> = fixes
        .iter()
        .map(|(table, column, default)| SchemaFix {
            table: table.clone(),
            column: column.clone(),
            default: default.clone(),
            statement: set_default_sql(backend, table, column, default),
        })
        .collect();
    let mut checksums = Vec::with_capacity(index + 1);
    for i in 0..=index {
        checksums.push(runner.checksum(i).await?);
    }
    let mut note = Vec::new();
    if let Some(a) = &alembic {
        note.push(format!(
            "adopted from Alembic revision {} ({} left untouched)",
            a.revision, a.table
        ));
    }
    if !remaining.is_empty() {
        note.push(format!(
            "accepted differences: {}",
            remaining
                .iter()
                .map(|d| format!("{} {}", d.kind.as_str(), d.detail()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let record = Record {
        config: runner.config(),
        names: names[..=index].iter().map(|n| n.to_string()).collect(),
        checksums,
        note: (!note.is_empty()).then(|| note.join(". ")),
        fixes: &schema_fixes,
        expected: &expected,
        command,
    };
    let db = runner.connection();
    let lock = MigrationLock::acquire(
        db,
        &LockId::of(runner.config()),
        options.lock_timeout,
        &|_| {},
    )
    .await?;
    let result = match &lock {
        MigrationLock::Sqlite(txn) => record.prepare_and_write(txn).await,
        _ if backend == DbBackend::MySql => {
            async {
                // DDL commits implicitly: prepare first, then write the records in one transaction.
                record.prepare(db).await?;
                let txn = db
                    .begin()
                    .await
                    .map_err(MigrateError::database("starting a transaction"))?;
                record.write(&txn).await?;
                txn.commit()
                    .await
                    .map_err(MigrateError::database("committing the baseline"))
            }
            .await
        }
        _ => {
            async {
                let txn = db
                    .begin()
                    .await
                    .map_err(MigrateError::database("starting a transaction"))?;
                record.prepare_and_write(&txn).await?;
                txn.commit()
                    .await
                    .map_err(MigrateError::database("committing the baseline"))
            }
            .await
        }
    };
    let released = match (lock, &result) {
        (MigrationLock::Sqlite(txn), Err(_)) => txn.rollback().await,
        (lock, _) => lock.release(db).await,
    };
    result?;
    released.map_err(MigrateError::database("releasing the migration lock"))?;
    Ok(Baseline {
        version,
        recorded: record.names,
        accepted_differences: remaining,
        schema_fixes,
        alembic,
        pending: names[index + 1..].iter().map(|n| n.to_string()).collect(),
    })
}

/// A schema of the one table `name`.
fn table_only(name: &str, table: &schema::Table) -> Schema {
    let mut s = Schema::default();
    s.tables.insert(name.to_string(), table.clone());
    s
}

/// The writes of a baseline, done under the migration lock.
struct Record<'a> {
    config: &'a Config,
    names: Vec<String>,
    checksums: Vec<String>,
    note: Option<String>,
    fixes: &'a [SchemaFix],
    expected: &'a Schema,
    command: &'static str,
}

impl Record<'_> {
    async fn prepare_and_write<C: ConnectionTrait>(&self, conn: &C) -> Result<(), MigrateError> {
        self.prepare(conn).await?;
        self.write(conn).await
    }

    /// Creates the bookkeeping tables, re-checks the ledger (another runner may have won the
    /// race) and adds the server defaults.
    async fn prepare<C: ConnectionTrait>(&self, conn: &C) -> Result<(), MigrateError> {
        Ledger::new(self.config.ledger_table.clone())
            .ensure(conn)
            .await
            .map_err(MigrateError::database("creating the migration ledger"))?;
        History::new(self.config.history_table.clone())
            .ensure(conn)
            .await
            .map_err(MigrateError::database("creating the migration history"))?;
        refuse_if_managed_on(conn, self.config, self.command).await?;
        if self.fixes.is_empty() {
            return Ok(());
        }
        let err = MigrateError::database("adding the missing server defaults");
        if conn.get_database_backend() == DbBackend::Sqlite {
            let mut by_table: BTreeMap<&str, Vec<&SchemaFix>> = BTreeMap::new();
            for f in self.fixes {
                by_table.entry(f.table.as_str()).or_default().push(f);
            }
            sqlite_set_defaults(conn, &by_table).await.map_err(err)?;
        } else {
            for f in self.fixes {
                conn.execute_unprepared(&f.statement).await.map_err(err)?;
            }
        }
        // Read back (in the same transaction where the backend allows): every fixed column now
        // has the default the migrations give it.
        let live = live_schema(conn, self.config).await?;
        for f in self.fixes {
            let (Some(want), Some(got)) = (
                self.expected.tables.get(&f.table),
                live.tables.get(&f.table),
            ) else {
                continue;
            };
            let still = drift::compare(
                &table_only(&f.table, want),
                &table_only(&f.table, got),
                Some(conn.get_database_backend()),
            )
            .differences
            .into_iter()
            .find(|d| d.kind == DiffKind::Default && d.object == f.column);
            if let Some(d) = still {
                return Err(MigrateError::Database {
                    action: "adding the missing server defaults".into(),
                    cause: format!("the default did not take: {d}"),
                    source: None,
                });
            }
        }
        Ok(())
    }

    /// The ledger rows and a `baseline` history row per version (after one `adopt` row for
    /// the schema fixes, so the baseline row stays the version's latest).
    async fn write<C: ConnectionTrait>(&self, conn: &C) -> Result<(), MigrateError> {
        let ledger = Ledger::new(self.config.ledger_table.clone());
        let history = History::new(self.config.history_table.clone());
        let transactional = conn.get_database_backend() != DbBackend::MySql;
        let err = MigrateError::database("recording the baseline");
        let last = self.names.len().saturating_sub(1);
        if let Some(version) = self.names.last()
            && !self.fixes.is_empty()
        {
            let now = history::now();
            let text = format!(
                "schema fix by adoption: {}",
                self.fixes
                    .iter()
                    .map(|f| f.statement.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            history
                .append(
                    conn,
                    version,
                    "adopt",
                    None,
                    now,
                    Some(now),
                    Outcome::Succeeded,
                    Some(&text),
                    transactional,
                )
                .await
                .map_err(err)?;
        }
        for (i, (version, checksum)) in self.names.iter().zip(&self.checksums).enumerate() {
            ledger.insert(conn, version).await.map_err(err)?;
            let now = history::now();
            history
                .append(
                    conn,
                    version,
                    "baseline",
                    Some(checksum),
                    now,
                    Some(now),
                    Outcome::Succeeded,
                    if i == last {
                        self.note.as_deref()
                    } else {
                        None
                    },
                    transactional,
                )
                .await
                .map_err(err)?;
        }
        Ok(())
    }
}

/// `ALTER TABLE ... SET DEFAULT` on PostgreSQL and MySQL/MariaDB; on SQLite a description
/// (the default is written into the table's definition, see [`sqlite_set_defaults`]).
fn set_default_sql(backend: DbBackend, table: &str, column: &str, default: &str) -> String {
    let value = match default {
        "true" => "TRUE",
        "false" => "FALSE",
        other => other,
    };
    let (t, c) = (quote_ident(backend, table), quote_ident(backend, column));
    match backend {
        DbBackend::Sqlite => format!(
            "DEFAULT {value} added to the definition of {t}.{c} (sqlite_master, writable_schema)"
        ),
        _ => format!("ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {value}"),
    }
}

/// SQLite cannot `ALTER COLUMN`; a default is part of the stored `CREATE TABLE`. SQLite's
/// documented procedure for changes that do not touch stored data (adding a default is one)
/// rewrites that text in `sqlite_master` with `writable_schema`, bumps `schema_version`, and
/// checks the result, all in the caller's transaction: no table is copied or dropped, so no
/// foreign-key action runs and every rowid stays.
async fn sqlite_set_defaults<C: ConnectionTrait>(
    conn: &C,
    by_table: &BTreeMap<&str, Vec<&SchemaFix>>,
) -> Result<(), DbErr> {
    let b = DbBackend::Sqlite;
    let one = |sql: &str| Statement::from_string(b, sql.to_string());
    let version = conn
        .query_one_raw(one("PRAGMA schema_version"))
        .await?
        .ok_or_else(|| DbErr::Custom("PRAGMA schema_version returned no row".into()))?
        .try_get_by_index::<i64>(0)?;
    let mut updates = Vec::new();
    for (table, fixes) in by_table {
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                b,
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                [(*table).into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom(format!("table {table} not found in sqlite_master")))?;
        let mut sql: String = row.try_get("", "sql")?;
        for f in fixes {
            let value = match f.default.as_str() {
                "true" => "TRUE",
                "false" => "FALSE",
                other => other,
            };
            sql = with_default(&sql, &f.column, value).ok_or_else(|| {
                DbErr::Custom(format!(
                    "cannot find column {} in the definition of table {table}",
                    f.column
                ))
            })?;
        }
        updates.push((table.to_string(), sql));
    }
    conn.execute_unprepared("PRAGMA writable_schema = ON")
        .await?;
    let written = async {
        for (table, sql) in &updates {
            conn.execute_raw(Statement::from_sql_and_values(
                b,
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                [sql.as_str().into(), table.as_str().into()],
            ))
            .await?;
        }
        conn.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
            .await
            .map(|_| ())
    }
    .await;
    conn.execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    written?;
    let check = conn
        .query_one_raw(one("PRAGMA quick_check"))
        .await?
        .map(|r| r.try_get_by_index::<String>(0))
        .transpose()?
        .unwrap_or_default();
    if check != "ok" {
        return Err(DbErr::Custom(format!(
            "the rewritten table definitions fail PRAGMA quick_check ({check})"
        )));
    }
    Ok(())
}

/// `create` (a `CREATE TABLE` statement) with ` DEFAULT value` appended to the definition of
/// `column`; `None` when the column is not found. Understands quoted identifiers (`"x"`, `` `x` ``,
/// `[x]`), string literals and nested parentheses.
fn with_default(create: &str, column: &str, value: &str) -> Option<String> {
    let chars: Vec<(usize, char)> = create.char_indices().collect();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut segments = Vec::new();
    let mut start = None;
    for &(i, c) in &chars {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '[' => quote = Some(']'),
            '(' => {
                depth += 1;
                if depth == 1 {
                    start = Some(i + 1);
                }
            }
            ')' => {
                if depth == 1
                    && let Some(s) = start
                {
                    segments.push((s, i));
                }
                depth = depth.saturating_sub(1);
            }
            ',' if depth == 1 => {
                if let Some(s) = start {
                    segments.push((s, i));
                }
                start = Some(i + 1);
            }
            _ => {}
        }
    }
    for (s, e) in segments {
        let seg = &create[s..e];
        let trimmed = seg.trim_start();
        let constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|k| {
                trimmed
                    .get(..k.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(k))
            });
        if !constraint && first_identifier(trimmed).is_some_and(|n| n.eq_ignore_ascii_case(column))
        {
            let end = s + seg.trim_end().len();
            return Some(format!(
                "{} DEFAULT {value}{}",
                &create[..end],
                &create[end..]
            ));
        }
    }
    None
}

/// The identifier a column definition starts with, unquoted.
fn first_identifier(def: &str) -> Option<String> {
    let mut it = def.chars();
    let first = it.next()?;
    let close = match first {
        '"' => '"',
        '`' => '`',
        '[' => ']',
        _ => {
            return Some(
                def.chars()
                    .take_while(|c| !c.is_whitespace() && *c != '(')
                    .collect(),
            );
        }
    };
    let mut out = String::new();
    let mut chars = it.peekable();
    while let Some(c) = chars.next() {
        if c == close {
            if chars.peek() == Some(&close) && close != ']' {
                out.push(close);
                chars.next();
                continue;
            }
            return Some(out);
        }
        out.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_default_to_the_named_column_only() {
        let sql = "CREATE TABLE users (\n\tid INTEGER NOT NULL, \n\t\"is_active\" BOOLEAN NOT NULL, \n\
                   \tname VARCHAR(50) DEFAULT 'a,(b' NOT NULL, \n\tPRIMARY KEY (id), \n\tUNIQUE (name)\n)";
        let out = with_default(sql, "is_active", "TRUE").unwrap_or_default();
        assert!(
            out.contains("\"is_active\" BOOLEAN NOT NULL DEFAULT TRUE, "),
            "{out}"
        );
        assert_eq!(out.matches("DEFAULT TRUE").count(), 1);
        let out = with_default(sql, "name", "'x'").unwrap_or_default();
        assert!(
            out.contains("DEFAULT 'a,(b' NOT NULL DEFAULT 'x', "),
            "{out}"
        );
        let last = "CREATE TABLE t (a INTEGER, `b c` BOOLEAN NOT NULL)";
        assert_eq!(
            with_default(last, "b c", "FALSE").as_deref(),
            Some("CREATE TABLE t (a INTEGER, `b c` BOOLEAN NOT NULL DEFAULT FALSE)")
        );
        assert_eq!(with_default(sql, "missing", "TRUE"), None);
        // Table constraints are not columns.
        assert_eq!(with_default(sql, "PRIMARY", "TRUE"), None);
        assert_eq!(with_default(sql, "unique", "TRUE"), None);
    }

    #[test]
    fn identifiers() {
        assert_eq!(first_identifier("\"a\"\"b\" INT").as_deref(), Some("a\"b"));
        assert_eq!(first_identifier("[x y] INT").as_deref(), Some("x y"));
        assert_eq!(first_identifier("plain INT").as_deref(), Some("plain"));
    }
}
