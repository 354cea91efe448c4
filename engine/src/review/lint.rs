//! `lint`: findings about migrations before they run. Static rules live in
//! [`crate::plan::finding`]; this module adds the schema rules, run in a scratch database of the
//! same backend: narrowing type changes, dropping an index a foreign key uses, foreign keys
//! without an index, type changes that rewrite a PostgreSQL table, and a `down` that does not
//! restore the schema.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use crate::config::LintRuleOff;
use crate::db::{ConnectSettings, DatabaseUrl, connect};
use crate::error::MigrateError;
use crate::plan::Direction;
use crate::plan::capture::{Capture, capture};
pub use crate::plan::finding::*;
use crate::plan::finding::{Context, StatementKind, classify, static_findings_in};
use crate::review::script::is_transactional;
use crate::run::runner::{Runner, State};
use crate::schema::{self, Schema};
// ---------------------------------------------------------------------------------------------
// Schema rules, in a scratch database.

/// An empty database of the same backend, used to run migrations up and down for lint. On
/// SQLite it is in memory; on PostgreSQL/MySQL a database created next to the connected one
/// (needs the right to create databases) and dropped by [`ScratchDb::dispose`].
pub struct ScratchDb {
    conn: DatabaseConnection,
    name: Option<String>,
}

impl ScratchDb {
    /// Creates the scratch database for the database at `url`, `main` being connected to it.
    pub async fn create(main: &DatabaseConnection, url: &DatabaseUrl) -> Result<Self, String> {
        let backend = url.backend();
        if backend == DbBackend::Sqlite {
            let mut opts = ConnectOptions::new("sqlite::memory:");
            opts.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .sqlx_logging(false);
            let conn = Database::connect(opts).await.map_err(|e| e.to_string())?;
            return Ok(Self { conn, name: None });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("lint_scratch_{}_{nanos:x}", std::process::id());
        let mut parsed = url::Url::parse(url.expose()).map_err(|e| url.scrub(&e.to_string()))?;
        parsed.set_path(&format!("/{name}"));
        main.execute_unprepared(&format!("CREATE DATABASE {}", quote(backend, &name)))
            .await
            .map_err(|e| url.scrub(&e.to_string()))?;
        let scratch_url = DatabaseUrl::parse(parsed.as_str()).map_err(|e| e.to_string())?;
        match connect(&scratch_url, &ConnectSettings::default()).await {
            Ok(conn) => Ok(Self {
                conn,
                name: Some(name),
            }),
            Err(e) => {
                let _ = main
                    .execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS {}",
                        quote(backend, &name)
                    ))
                    .await;
                Err(e.to_string())
            }
        }
    }

    /// The scratch connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes and drops the scratch database.
    pub async fn dispose(self, main: &DatabaseConnection) {
        let backend = self.conn.get_database_backend();
        let _ = self.conn.close().await;
        if let Some(name) = self.name {
            let _ = main
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {}",
                    quote(backend, &name)
                ))
                .await;
        }
    }
}

use crate::db::quote_ident as quote;

/// Runs `m` on `db` the way the runner does: in one transaction when the runner would use one
/// (so `CREATE INDEX CONCURRENTLY` fails here as it would at deploy), else on the connection.
async fn run_on(
    db: &DatabaseConnection,
    m: &dyn MigrationTrait,
    direction: Direction,
    transactional: bool,
) -> Result<(), DbErr> {
    if !transactional {
        let manager = SchemaManager::new(db);
        return match direction {
            Direction::Up => m.up(&manager).await,
            Direction::Down => m.down(&manager).await,
        };
    }
    let txn = db.begin().await?;
    let result = {
        let manager = SchemaManager::new(&txn);
        match direction {
            Direction::Up => m.up(&manager).await,
            Direction::Down => m.down(&manager).await,
        }
    };
    match result {
        Ok(()) => txn.commit().await,
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// The scratch schema without the tooling tables migrations may create there (the ledger,
/// the batch-progress table of batched data migrations).
async fn snapshot(db: &DatabaseConnection) -> Result<Schema, DbErr> {
    let batch_table = crate::author::context::current().batch_table;
    Ok(schema::inspect(db)
        .await?
        .without(&["seaql_migrations", &batch_table]))
}

/// Index names the migrations create explicitly (as opposed to MySQL's implicit FK indexes).
fn explicit_indexes(captures: &[Capture], backend: DbBackend) -> BTreeSet<String> {
    captures
        .iter()
        .flat_map(|c| c.statements.iter())
        .flat_map(|s| classify(s, backend))
        .filter_map(|k| match k {
            StatementKind::CreateIndex { name, .. } => name,
            _ => None,
        })
        .collect()
}

fn type_family(t: &str) -> (&str, Option<u32>) {
    let t = t.trim();
    let (base, len) = match t.find('(') {
        Some(i) => (
            &t[..i],
            t[i + 1..]
                .trim_end_matches(')')
                .split(',')
                .next()
                .and_then(|n| n.trim().parse().ok()),
        ),
        None => (t, None),
    };
    let fam = match base.trim() {
        "character varying" | "varchar" | "character" | "char" => "varchar",
        "text" | "longtext" | "mediumtext" => "text",
        "smallint" | "int2" => "int16",
        "integer" | "int" | "int4" | "mediumint" => "int32",
        "bigint" | "int8" => "int64",
        "real" | "float" | "float4" => "float32",
        "double precision" | "double" | "float8" => "float64",
        other => other,
    };
    (fam, len)
}

/// Whether changing a column from `old` to `new` can lose data.
pub fn is_narrowing(old: &str, new: &str) -> bool {
    if old == new {
        return false;
    }
    let (of, ol) = type_family(old);
    let (nf, nl) = type_family(new);
    let widening = match (of, nf) {
        ("varchar", "varchar") => match (ol, nl) {
            (Some(o), Some(n)) => n >= o,
            (_, None) => true,
            (None, Some(_)) => false,
        },
        ("varchar", "text") | ("text", "text") => true,
        ("int16", "int32" | "int64") | ("int32", "int64") => true,
        ("int16" | "int32", "float64") | ("float32", "float64") => true,
        (a, b) => a == b && ol == nl,
    };
    !widening
}

/// Whether PostgreSQL can change `old` to `new` without rewriting the table.
fn pg_change_is_cheap(old: &str, new: &str) -> bool {
    let (of, ol) = type_family(old);
    let (nf, nl) = type_family(new);
    match (of, nf) {
        ("varchar", "varchar") => match (ol, nl) {
            (Some(o), Some(n)) => n >= o,
            (_, None) => true,
            _ => false,
        },
        ("varchar", "text") => true,
        _ => false,
    }
}

/// Whether InnoDB changes `old` to `new` in place: only a longer VARCHAR whose length prefix
/// stays 1 byte (up to 255 bytes, 63 characters in utf8mb4) or was already 2 bytes.
fn mysql_change_is_in_place(old: &str, new: &str) -> bool {
    let (of, ol) = type_family(old);
    let (nf, nl) = type_family(new);
    match (of, nf, ol, nl) {
        ("varchar", "varchar", Some(o), Some(n)) => n >= o && ((n <= 63) == (o <= 63)),
        _ => false,
    }
}

fn statement_touching<'a>(
    up: &'a Capture,
    table: &str,
    column: &str,
    backend: DbBackend,
) -> Option<&'a str> {
    up.statements
        .iter()
        .find(|s| {
            classify(s, backend).iter().any(|k| {
                matches!(k, StatementKind::AlterTable(a) if a.is_on(table) && a.touches(column, s))
            })
        })
        .map(String::as_str)
}

fn schema_findings(
    name: &str,
    up: &Capture,
    before: &Schema,
    after: &Schema,
    explicit: &BTreeSet<String>,
    later_indexes: &[Vec<(String, Vec<String>)>],
    backend: DbBackend,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (tname, b) in &before.tables {
        let Some(a) = after.tables.get(tname) else {
            continue;
        };
        for bc in &b.columns {
            let Some(ac) = a.column(&bc.name) else {
                continue;
            };
            if bc.data_type == ac.data_type {
                continue;
            }
            let stmt = statement_touching(up, tname, &bc.name, backend);
            if is_narrowing(&bc.data_type, &ac.data_type) {
                out.push(Finding::new(
                    rules::NARROWING_TYPE,
                    Severity::Error,
                    name,
                    stmt,
                    format!(
                        "changes {tname}.{} from {} to {}, which can truncate or reject existing values",
                        bc.name, bc.data_type, ac.data_type
                    ),
                    "check the longest/largest stored value first, or add a new column and copy; apply with `up --allow-destructive`",
                ));
            }
            if backend == DbBackend::MySql
                && !mysql_change_is_in_place(&bc.data_type, &ac.data_type)
            {
                out.push(Finding::new(
                    rules::MYSQL_TYPE_COPY,
                    Severity::Warning,
                    name,
                    stmt,
                    format!(
                        "changing {tname}.{} from {} to {} copies the whole table (ALGORITHM=COPY): writes to it are blocked until the copy is done",
                        bc.name, bc.data_type, ac.data_type
                    ),
                    "add a new column, backfill it in batches and switch over, or use an online schema-change tool (gh-ost, pt-online-schema-change) in a maintenance window",
                ));
            }
            if backend == DbBackend::Postgres && !pg_change_is_cheap(&bc.data_type, &ac.data_type) {
                out.push(Finding::new(
                    rules::PG_TYPE_REWRITE,
                    Severity::Warning,
                    name,
                    stmt,
                    format!(
                        "changing {tname}.{} from {} to {} rewrites the whole table under an ACCESS EXCLUSIVE lock",
                        bc.name, bc.data_type, ac.data_type
                    ),
                    "add a new column, backfill it in batches and switch over, or run it in a maintenance window",
                ));
            }
        }
        for (iname, ix) in &b.indexes {
            if a.indexes.contains_key(iname) {
                continue;
            }
            let Some(first) = ix.columns.first() else {
                continue;
            };
            let used = a
                .foreign_keys
                .iter()
                .any(|fk| fk.columns.first() == Some(first));
            let still_covered = a.indexes.values().any(|i| i.columns.first() == Some(first))
                || a.uniques.iter().any(|u| u.first() == Some(first))
                || a.primary_key.first() == Some(first);
            if used && !still_covered {
                let stmt = up
                    .statements
                    .iter()
                    .find(|s| {
                        classify(s, backend).iter().any(|k| match k {
                            StatementKind::DropIndex { names, .. } => names.contains(iname),
                            StatementKind::AlterTable(a) => a.dropped_indexes.contains(iname),
                            _ => false,
                        })
                    })
                    .map(String::as_str);
                out.push(Finding::new(
                    rules::DROP_FK_INDEX,
                    Severity::Error,
                    name,
                    stmt,
                    format!(
                        "drops index {iname}, the only index on {tname}.{first}, which a foreign key uses: deletes in the referenced table will scan {tname}"
                    ),
                    "keep the index, or create a replacement covering the FK column before dropping it",
                ));
            }
        }
    }
    for (tname, a) in &after.tables {
        let old_fks = before.tables.get(tname).map(|t| &t.foreign_keys);
        for fk in &a.foreign_keys {
            if old_fks.is_some_and(|f| f.contains(fk)) {
                continue;
            }
            let covers = |cols: &[String]| cols.starts_with(&fk.columns);
            let explicit_ix = a
                .indexes
                .iter()
                .any(|(n, i)| explicit.contains(n) && covers(&i.columns));
            // An index a later migration creates counts: the key is covered once the chain
            // is applied (e.g. an online index build kept in its own migration).
            let later = later_indexes
                .iter()
                .flatten()
                .any(|(t, cols)| t == tname && covers(cols));
            let covered = explicit_ix
                || later
                || a.uniques.iter().any(|u| covers(u))
                || covers(&a.primary_key);
            if !covered {
                let col = fk.columns.join(", ");
                let implicit = a.indexes.values().any(|i| covers(&i.columns));
                let message = if implicit {
                    format!(
                        "foreign key {tname}({col}) -> {} has no explicit index; only InnoDB's implicit one, which other backends do not create",
                        fk.ref_table
                    )
                } else {
                    format!(
                        "foreign key {tname}({col}) -> {} has no index: deleting or updating a {} row scans {tname}",
                        fk.ref_table, fk.ref_table
                    )
                };
                out.push(Finding::new(
                    rules::FK_WITHOUT_INDEX,
                    Severity::Warning,
                    name,
                    None,
                    message,
                    format!("create an index on {tname}({col}) (spec 001: FK columns are indexed)"),
                ));
            }
        }
    }
    out
}

/// First difference between two schemas, in words (for `irreversible-down`).
fn first_difference(before: &Schema, restored: &Schema) -> String {
    crate::review::drift::compare(before, restored, None)
        .differences
        .first()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "the schemas differ".into())
}

/// What `lint` may use besides the migrations.
#[derive(Clone, Copy, Default)]
pub struct LintOptions<'a> {
    /// An empty database of the same backend: every migration is run up, down and up again
    /// there, the way the runner runs it (same transaction mode), for the schema rules.
    pub scratch: Option<&'a DatabaseConnection>,
    /// The connected database: row-dependent findings (see [`Finding::depends_on_rows`]) are
    /// checked against the row counts of its tables.
    pub rows_from: Option<&'a DatabaseConnection>,
    /// Rules the project switched off ([`crate::Config::with_lint_rule_off`]).
    pub rules_off: &'a [LintRuleOff],
    /// Migrations the connected database has applied: their row-dependent findings are not
    /// weighed against its rows (they ran already).
    pub applied: &'a [String],
}

/// A finding left out because a migration (`lint_allow::allow`) or the configuration switched
/// its rule off.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppressed {
    /// The rule.
    pub rule: String,
    /// The migration.
    pub migration: String,
    /// The reason given.
    pub reason: String,
    /// `migration` or `configuration`.
    pub by: &'static str,
}

/// What [`lint_report`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LintReport {
    /// The findings, in migration order.
    pub findings: Vec<Finding>,
    /// Findings left out on purpose, with the reason.
    pub suppressed: Vec<Suppressed>,
}

/// Lints `migrations[selected]` (indexes into the full list, oldest first) for `backend`.
/// With a `scratch` database (empty, same backend), every migration is also run up, down and
/// up again there, oldest first, for the schema rules.
pub async fn lint(
    migrations: &[Box<dyn MigrationTrait>],
    selected: &[usize],
    backend: DbBackend,
    scratch: Option<&DatabaseConnection>,
) -> Vec<Finding> {
    lint_report(
        migrations,
        selected,
        backend,
        &LintOptions {
            scratch,
            ..LintOptions::default()
        },
    )
    .await
    .findings
}

/// [`lint`] with everything [`LintOptions`] gives: row counts of the connected database and
/// the project's switched-off rules. Findings of rules switched off are listed apart.
pub async fn lint_report(
    migrations: &[Box<dyn MigrationTrait>],
    selected: &[usize],
    backend: DbBackend,
    opts: &LintOptions<'_>,
) -> LintReport {
    let names: Vec<&str> = migrations.iter().map(|m| m.name()).collect();
    let mut out: Vec<Finding> = naming_findings(&names)
        .into_iter()
        .filter(|f| {
            selected
                .iter()
                .any(|&i| names.get(i) == Some(&f.migration.as_str()))
        })
        .collect();
    let mut ups = Vec::with_capacity(migrations.len());
    for m in migrations {
        ups.push(
            capture(m.as_ref(), Direction::Up, backend)
                .await
                .unwrap_or_default(),
        );
    }
    let mut downs: BTreeMap<usize, Capture> = BTreeMap::new();
    for &i in selected {
        let (Some(m), Some(up)) = (migrations.get(i), ups.get(i)) else {
            continue;
        };
        if !up.data_dependent
            && let Some(err) = &up.incomplete
        {
            out.push(Finding::new(
                rules::FAILS,
                Severity::Error,
                m.name(),
                None,
                format!("its up fails without a database: {err}"),
                "fix the migration's up (run `migration up --dry-run` to see its SQL)",
            ));
        }
        if let Ok(down) = capture(m.as_ref(), Direction::Down, backend).await {
            if let (Some(err), false) = (&down.incomplete, down.data_dependent) {
                out.push(Finding::new(
                    rules::MISSING_DOWN,
                    Severity::Error,
                    m.name(),
                    None,
                    format!("its down fails without touching the database: {err}"),
                    "implement down() so it undoes exactly what up() does",
                ));
            }
            let ctx = Context {
                transactional: is_transactional(m.as_ref(), backend),
                down: true,
                ..Context::default()
            };
            out.extend(static_findings_in(m.name(), &down, backend, &ctx));
            downs.insert(i, down);
        }
    }
    let mut statically_done = BTreeSet::new();
    if let Some(db) = opts.scratch {
        statically_done = scratch_findings(migrations, selected, backend, db, &ups, &mut out).await;
    } else if !selected.is_empty() {
        out.push(Finding::new(
            rules::UNCHECKED,
            Severity::Warning,
            "",
            None,
            "no scratch database: reversibility, narrowing types, FK indexes, dropped FK indexes and the current nullability of columns were not checked",
            "give lint the right to create a database (CREATE DATABASE) on this server",
        ));
    }
    for &i in selected {
        if statically_done.contains(&i) {
            continue;
        }
        let (Some(m), Some(up)) = (migrations.get(i), ups.get(i)) else {
            continue;
        };
        let ctx = Context {
            transactional: is_transactional(m.as_ref(), backend),
            ..Context::default()
        };
        out.extend(static_findings_in(m.name(), up, backend, &ctx));
    }
    if let Some(main) = opts.rows_from {
        for f in out
            .iter_mut()
            .filter(|f| f.depends_on_rows() && !opts.applied.contains(&f.migration))
        {
            weigh_rows(main, backend, f).await;
        }
    }
    // Keep migration order (findings without a migration first), stable within one.
    let position = |f: &Finding| names.iter().position(|n| *n == f.migration);
    out.sort_by_key(|f| position(f).map_or(0, |p| p + 1));
    let mut report = LintReport::default();
    for (i, m) in migrations.iter().enumerate() {
        if !selected.contains(&i) {
            continue;
        }
        let allowed = ups[i].lint_allowed.iter().chain(
            downs
                .get(&i)
                .map(|d| d.lint_allowed.as_slice())
                .unwrap_or(&[]),
        );
        for (rule, reason) in allowed {
            if !rules::ALL.contains(&rule.as_str()) {
                out.push(Finding::new(
                    rules::UNKNOWN_ALLOW,
                    Severity::Warning,
                    m.name(),
                    None,
                    format!("switches off lint rule `{rule}`, which does not exist ({reason})"),
                    format!(
                        "use one of the rule names lint prints: {}",
                        rules::ALL.join(", ")
                    ),
                ));
            }
        }
    }
    for f in out {
        let by_migration = names.iter().position(|n| *n == f.migration).and_then(|i| {
            ups[i]
                .lint_allowed
                .iter()
                .chain(
                    downs
                        .get(&i)
                        .map(|d| d.lint_allowed.as_slice())
                        .unwrap_or(&[]),
                )
                .find(|(rule, _)| *rule == f.rule)
                .map(|(_, reason)| reason.clone())
        });
        let by_config = opts
            .rules_off
            .iter()
            .find(|r| !f.migration.is_empty() && r.covers(&f.rule, &f.migration))
            .map(|r| r.reason.clone());
        match (by_migration, by_config) {
            (Some(reason), _) => report.suppressed.push(Suppressed {
                rule: f.rule,
                migration: f.migration,
                reason,
                by: "migration",
            }),
            (None, Some(reason)) => report.suppressed.push(Suppressed {
                rule: f.rule,
                migration: f.migration,
                reason,
                by: "configuration",
            }),
            (None, None) => report.findings.push(f),
        }
    }
    report
}

/// The table a row-dependent finding is about, from its statement.
fn finding_table(f: &Finding, backend: DbBackend) -> Option<String> {
    let stmt = f.statement.as_deref()?;
    classify(stmt, backend).into_iter().find_map(|k| match k {
        StatementKind::AlterTable(a) => Some(a.table),
        StatementKind::Dml { table, .. } => Some(table),
        _ => None,
    })
}

/// How many rows `table` has on `db`, counted up to `cap + 1`; `None` when it cannot be read.
/// A table that does not exist yet has none.
async fn row_count(db: &DatabaseConnection, table: &str, cap: u64) -> Option<u64> {
    let b = db.get_database_backend();
    let qualified = table
        .split('.')
        .map(|p| quote(b, p))
        .collect::<Vec<_>>()
        .join(".");
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM {qualified} LIMIT {}) AS sample",
        cap + 1
    );
    match db.query_one_raw(Statement::from_string(b, sql)).await {
        Ok(Some(row)) => row.try_get::<i64>("", "n").ok().map(|n| n.max(0) as u64),
        Ok(None) => Some(0),
        Err(e) if crate::error::classify(&e) == crate::error::DbErrorKind::MissingTable => Some(0),
        Err(_) => None,
    }
}

/// Row limit up to which lint counts exactly.
const ROW_CAP: u64 = 100_000;

/// Checks a row-dependent finding against the rows its table has on the connected database:
/// where the statement would fail there, it becomes an error.
async fn weigh_rows(main: &DatabaseConnection, backend: DbBackend, f: &mut Finding) {
    let Some(table) = finding_table(f, backend) else {
        return;
    };
    let Some(rows) = row_count(main, &table, ROW_CAP).await else {
        return;
    };
    let shown = if rows > ROW_CAP {
        format!("more than {ROW_CAP} rows")
    } else {
        format!("{rows} row(s)")
    };
    if rows == 0 {
        f.message = format!(
            "{} (on the connected database {table} is empty, so it passes there; it does not wherever {table} has rows)",
            f.message
        );
        return;
    }
    f.message = format!(
        "{} (the connected database: {table} has {shown})",
        f.message
    );
    if f.rule == rules::ADD_COLUMN_NOT_NULL && backend == DbBackend::Postgres {
        f.severity = Severity::Error;
        f.message = format!("{} : the deploy fails here", f.message.trim_end());
    }
}

/// PostgreSQL: the `(table, column)` pairs with a validated `CHECK (column IS NOT NULL)` in
/// the current schema of `db`.
async fn validated_not_null_checks(db: &DatabaseConnection) -> BTreeSet<(String, String)> {
    let sql = "SELECT CAST(cl.relname AS TEXT) AS tbl, pg_get_constraintdef(c.oid) AS def \
               FROM pg_catalog.pg_constraint c \
               JOIN pg_catalog.pg_class cl ON cl.oid = c.conrelid \
               JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
               WHERE c.contype = 'c' AND c.convalidated AND n.nspname = current_schema()";
    let Ok(rows) = db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
    else {
        return BTreeSet::new();
    };
    rows.iter()
        .filter_map(|r| {
            let table: String = r.try_get("", "tbl").ok()?;
            let def: String = r.try_get("", "def").ok()?;
            not_null_check_column(&def).map(|c| (table, c))
        })
        .collect()
}

/// The column of a constraint definition `CHECK ((col IS NOT NULL))` as PostgreSQL renders it.
fn not_null_check_column(def: &str) -> Option<String> {
    let expr = def.trim().strip_prefix("CHECK")?.trim();
    let expr = expr.trim_start_matches('(').trim_end_matches(')').trim();
    let column = expr.strip_suffix("IS NOT NULL")?.trim();
    let column = column.trim_matches('"');
    (!column.is_empty() && !column.contains(char::is_whitespace)).then(|| column.to_string())
}

/// The scratch half of lint: runs every migration up to the last selected one in `db`, the
/// way the runner would, and adds the schema rules and the static rules that need the schema
/// of before each migration. Returns the selected migrations whose static rules it ran.
async fn scratch_findings(
    migrations: &[Box<dyn MigrationTrait>],
    selected: &[usize],
    backend: DbBackend,
    db: &DatabaseConnection,
    ups: &[Capture],
    out: &mut Vec<Finding>,
) -> BTreeSet<usize> {
    let mut done = BTreeSet::new();
    let explicit = explicit_indexes(ups, backend);
    // Per migration, the indexes it creates: parsed once, not once per earlier migration.
    let created_indexes: Vec<Vec<(String, Vec<String>)>> = ups
        .iter()
        .map(|c| index_columns(std::slice::from_ref(c), backend))
        .collect();
    // The schema after the previous linted migration's final re-up, when nothing ran since.
    let mut known: Option<Schema> = None;
    let last = selected.iter().copied().max();
    for (i, m) in migrations.iter().enumerate() {
        if last.is_some_and(|l| i > l) {
            break;
        }
        let name = m.name();
        let linted = selected.contains(&i);
        let transactional = is_transactional(m.as_ref(), backend);
        if !linted {
            known = None;
            if let Err(e) = run_on(db, m.as_ref(), Direction::Up, transactional).await {
                out.push(Finding::new(
                    rules::FAILS,
                    Severity::Error,
                    name,
                    None,
                    format!(
                        "its up fails on an empty scratch database after the migrations before it, run as the runner runs it: {e}"
                    ),
                    "fix the migration; `migration up --dry-run` shows its SQL",
                ));
                break;
            }
            continue;
        }
        let before = match known.take() {
            Some(s) => s,
            None => match snapshot(db).await {
                Ok(s) => s,
                Err(e) => {
                    out.push(scratch_failure(name, &e));
                    break;
                }
            },
        };
        let ctx = Context {
            transactional,
            before: Some(&before),
            not_null_checks: if backend == DbBackend::Postgres {
                validated_not_null_checks(db).await
            } else {
                BTreeSet::new()
            },
            down: false,
        };
        out.extend(static_findings_in(name, &ups[i], backend, &ctx));
        done.insert(i);
        if let Err(e) = run_on(db, m.as_ref(), Direction::Up, transactional).await {
            out.push(Finding::new(
                rules::FAILS,
                Severity::Error,
                name,
                None,
                format!(
                    "its up fails on an empty scratch database after the migrations before it, run as the runner runs it{}: {e}",
                    if transactional { " (in a transaction)" } else { "" }
                ),
                "fix the migration; `migration up --dry-run` shows its SQL",
            ));
            break;
        }
        let after = match snapshot(db).await {
            Ok(s) => s,
            Err(e) => {
                out.push(scratch_failure(name, &e));
                break;
            }
        };
        out.extend(schema_findings(
            name,
            &ups[i],
            &before,
            &after,
            &explicit,
            created_indexes.get(i + 1..).unwrap_or(&[]),
            backend,
        ));
        let down_ok = match run_on(db, m.as_ref(), Direction::Down, transactional).await {
            Ok(()) => true,
            Err(e) => {
                if !out
                    .iter()
                    .any(|f| f.rule == rules::MISSING_DOWN && f.migration == name)
                {
                    out.push(Finding::new(
                        rules::IRREVERSIBLE_DOWN,
                        Severity::Error,
                        name,
                        None,
                        format!("its down fails right after its up: {e}"),
                        "fix down() so it undoes exactly what up() does",
                    ));
                }
                false
            }
        };
        if !down_ok {
            break;
        }
        match snapshot(db).await {
            // Column order is not compared: re-adding a dropped column appends it.
            Ok(restored) if !crate::review::drift::compare(&before, &restored, None).is_empty() => out.push(Finding::new(
                rules::IRREVERSIBLE_DOWN,
                Severity::Error,
                name,
                None,
                format!(
                    "its down does not restore the schema of before its up: {}",
                    first_difference(&before, &restored)
                ),
                "make down() undo exactly what up() does (drop what it created, recreate what it dropped)",
            )),
            Ok(_) => {}
            Err(e) => {
                out.push(scratch_failure(name, &e));
                break;
            }
        }
        if let Err(e) = run_on(db, m.as_ref(), Direction::Up, transactional).await {
            out.push(Finding::new(
                rules::IRREVERSIBLE_DOWN,
                Severity::Error,
                name,
                None,
                format!("its up fails after its down: {e}"),
                "make down() remove everything up() creates",
            ));
            break;
        }
        // Up is deterministic: the re-up leaves the schema of after the first up.
        known = Some(after);
    }
    done
}

/// `(table, columns)` of every index the captured migrations create.
fn index_columns(ups: &[Capture], backend: DbBackend) -> Vec<(String, Vec<String>)> {
    ups.iter()
        .flat_map(|c| c.statements.iter())
        .flat_map(|s| classify(s, backend))
        .filter_map(|k| match k {
            StatementKind::CreateIndex { table, columns, .. } => Some((
                table.rsplit('.').next().unwrap_or(&table).to_string(),
                columns,
            )),
            _ => None,
        })
        .collect()
}

fn scratch_failure(name: &str, e: &DbErr) -> Finding {
    Finding::new(
        rules::UNCHECKED,
        Severity::Warning,
        name,
        None,
        format!("the scratch database could not be inspected: {e}"),
        "run lint again; if it persists, report it",
    )
}

/// `lint` against a connected database: the pending migrations (or all with `all`), plus
/// pending migrations ordered before applied ones. Schema rules run in a [`ScratchDb`].
pub async fn lint_database(
    runner: &Runner,
    url: &DatabaseUrl,
    migrations: &[Box<dyn MigrationTrait>],
    all: bool,
) -> Result<Vec<Finding>, MigrateError> {
    lint_database_report(runner, url, migrations, all)
        .await
        .map(|r| r.findings)
}

/// [`lint_database`], with the findings the migrations and the runner's configuration
/// switched off listed apart. Row-dependent findings of pending migrations are checked
/// against the connected database's row counts.
pub async fn lint_database_report(
    runner: &Runner,
    url: &DatabaseUrl,
    migrations: &[Box<dyn MigrationTrait>],
    all: bool,
) -> Result<LintReport, MigrateError> {
    let states = runner.status().await?;
    let names: Vec<&str> = migrations.iter().map(|m| m.name()).collect();
    let applied: BTreeSet<&str> = states
        .iter()
        .filter(|s| s.status == State::Applied)
        .map(|s| s.version.as_str())
        .collect();
    let selected: Vec<usize> = (0..names.len())
        .filter(|&i| all || !applied.contains(names[i]))
        .collect();
    let backend = url.backend();
    let main = runner.connection();
    let scratch = if selected.is_empty() {
        None
    } else {
        Some(ScratchDb::create(main, url).await)
    };
    let applied_names: Vec<String> = applied.iter().map(|s| s.to_string()).collect();
    let opts = LintOptions {
        scratch: match &scratch {
            Some(Ok(s)) => Some(s.connection()),
            _ => None,
        },
        rows_from: Some(main),
        rules_off: &runner.config().lint_rules_off,
        applied: &applied_names,
    };
    let mut report = lint_report(migrations, &selected, backend, &opts).await;
    let findings = &mut report.findings;
    if let Some(Err(e)) = &scratch
        && let Some(f) = findings.iter_mut().find(|f| f.rule == rules::UNCHECKED)
    {
        f.message = format!("{} (creating it failed: {})", f.message, url.scrub(e));
    }
    if let Some(Ok(s)) = scratch {
        s.dispose(main).await;
    }
    let newest_applied = names.iter().rposition(|n| applied.contains(n));
    if let Some(newest) = newest_applied {
        for n in names.iter().take(newest) {
            if !applied.contains(n) {
                findings.push(Finding::new(
                    rules::ORDER,
                    Severity::Error,
                    n,
                    None,
                    format!(
                        "pending, but ordered before {} which is already applied: it would run after newer migrations",
                        names[newest]
                    ),
                    "give it a version newer than the last applied migration (rename it), or apply it deliberately out of order",
                ));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_names() {
        assert_eq!(
            ident_after(
                "ALTER TABLE \"robots\" DROP COLUMN \"speed\"",
                "DROP COLUMN"
            )
            .as_deref(),
            Some("speed")
        );
        assert_eq!(
            ident_after("CREATE INDEX IF NOT EXISTS `ix` ON `t` (`c`)", " ON ").as_deref(),
            Some("t")
        );
        assert!(is_valid_name("m20250128_100000_initial_schema"));
        assert!(!is_valid_name("m2025_initial"));
        assert!(!is_valid_name("m20250128_100000_Initial"));
        let f = naming_findings(&["m20250128_100000_a", "m20250101_100000_b", "x"]);
        let rules: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["migration-order", "migration-name"]);
    }

    #[test]
    fn narrowing() {
        assert!(is_narrowing(
            "character varying(50)",
            "character varying(20)"
        ));
        assert!(!is_narrowing("varchar(20)", "varchar(50)"));
        assert!(!is_narrowing("varchar(20)", "text"));
        assert!(is_narrowing("text", "varchar(20)"));
        assert!(is_narrowing("bigint", "integer"));
        assert!(!is_narrowing("int(11)", "bigint(20)"));
        assert!(is_narrowing("double precision", "real"));
        assert!(is_narrowing("varchar(20)", "integer"));
    }
}
