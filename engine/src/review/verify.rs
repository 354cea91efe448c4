//! `verify`: rows that do not fit the entity model. Reads every entity table in bounded,
//! read-only batches (keyset pagination by primary key) and counts, per column, the rows the
//! application would fail on or that a move to a stricter backend would reject:
//!
//! - [`ProblemKind::Enum`]: a value outside the column's `ActiveEnum`
//!   ([`Entities::enum_column`]);
//! - [`ProblemKind::ForeignKey`]: a key with no parent row (SQLite with foreign keys off, MySQL
//!   loads with `foreign_key_checks=0`, PostgreSQL with triggers disabled);
//! - [`ProblemKind::Null`]: NULL in a column the entity declares NOT NULL (checked only where
//!   the database does not enforce it);
//! - [`ProblemKind::Json`]: a JSON column holding text that does not parse (SQLite, MySQL,
//!   MariaDB; PostgreSQL `json`/`jsonb` cannot hold any);
//! - [`ProblemKind::Length`]: a string longer than the entity's declared length (SQLite does not
//!   enforce lengths; checked where the database's own limit is wider);
//! - [`ProblemKind::Timestamp`]: a timestamp the entity cannot read (SQLite text in no format
//!   the driver parses, MySQL zero dates, PostgreSQL `infinity`).
//!
//! Each batch is one query: the batch's primary keys and checked columns in a derived table
//! (`... WHERE pk > last ORDER BY pk LIMIT n`), aggregated into one count per check, with a
//! `LEFT JOIN` per foreign key to find missing parents. Only a batch with problems runs a
//! second query for example keys. So verify reads each table once, in short statements that
//! hold no lock between batches. On PostgreSQL a foreign key to a small parent is checked with
//! `NOT IN (SELECT ...)` (a hashed subplan) instead of the join. With [`VerifyOptions::jobs`] > 1
//! an integer key span is split into that many ranges read at the same time (over a pool of as
//! many connections: the way PostgreSQL's own parallel scan uses the cores).

use std::collections::BTreeMap;
use std::time::Instant;

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

use crate::config::Config;
use crate::db::quote_ident;
use crate::error::MigrateError;
use crate::schema::entities::Entities;
use crate::schema::{self, Column, Schema, Table};

/// What is wrong with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A value outside the entity's enum.
    Enum,
    /// A foreign key value with no parent row.
    ForeignKey,
    /// NULL in a column the entity declares NOT NULL.
    Null,
    /// JSON that does not parse.
    Json,
    /// A string longer than the declared length.
    Length,
    /// A timestamp the entity cannot read.
    Timestamp,
}

impl ProblemKind {
    /// Every kind, in report order.
    pub const ALL: [ProblemKind; 6] = [
        Self::Enum,
        Self::ForeignKey,
        Self::Null,
        Self::Json,
        Self::Length,
        Self::Timestamp,
    ];

    /// Kebab-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enum => "enum",
            Self::ForeignKey => "foreign-key",
            Self::Null => "null",
            Self::Json => "json",
            Self::Length => "length",
            Self::Timestamp => "timestamp",
        }
    }
}

/// One kind of problem in one column (or foreign key) of a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The column (a foreign key's columns, comma-separated).
    pub column: String,
    /// What the entity expects, e.g. `one of 'admin', 'viewer'` or `a row in users(id)`.
    pub expected: String,
    /// How many rows have it.
    pub rows: u64,
    /// Primary keys of the first rows that have it (at most [`VerifyOptions::examples`]).
    pub examples: Vec<String>,
}

/// The result for one table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableVerification {
    /// Table name.
    pub table: String,
    /// Rows read.
    pub rows_checked: u64,
    /// Batches (queries over the table).
    pub batches: u64,
    /// Checks run on each row.
    pub checks: usize,
    /// Problems found, by kind then column.
    pub problems: Vec<Problem>,
    /// Checks that could not run, and why (e.g. a column the database does not have).
    pub skipped: Vec<String>,
    /// The entity model has this table but the database does not (it is behind: run `up`).
    pub missing: bool,
}

impl TableVerification {
    /// Rows with a problem, counted once per problem.
    pub fn problem_rows(&self) -> u64 {
        self.problems.iter().map(|p| p.rows).sum()
    }
}

/// The `verify` report: every entity table, in name order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Per table.
    pub tables: Vec<TableVerification>,
    /// Rows read over all tables.
    pub rows_checked: u64,
    /// Wall time.
    pub duration_ms: u128,
}

impl Verification {
    /// Problems over all tables (a row with two problems counts twice).
    pub fn problem_count(&self) -> u64 {
        self.tables
            .iter()
            .map(TableVerification::problem_rows)
            .sum()
    }

    /// Tables of the entity model the database does not have.
    pub fn missing_tables(&self) -> Vec<&str> {
        self.tables
            .iter()
            .filter(|t| t.missing)
            .map(|t| t.table.as_str())
            .collect()
    }

    /// Whether no row has a problem and every table of the entity model was there to check.
    pub fn is_clean(&self) -> bool {
        self.problem_count() == 0 && self.missing_tables().is_empty()
    }

    /// Problem counts by kind over all tables.
    pub fn by_kind(&self) -> BTreeMap<ProblemKind, u64> {
        let mut by = BTreeMap::new();
        for p in self.tables.iter().flat_map(|t| &t.problems) {
            *by.entry(p.kind).or_insert(0) += p.rows;
        }
        by
    }

    /// `N problem(s) in M row(s) checked` with the kinds.
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = self
            .by_kind()
            .iter()
            .map(|(k, n)| format!("{n} {}", k.as_str()))
            .collect();
        let missing = self.missing_tables();
        if !missing.is_empty() {
            return format!(
                "{} table(s) of the entity model missing from the database ({}): it is behind \
                 the entities, run `migration up` first; {} problem(s) in {} row(s) of the others",
                missing.len(),
                missing.join(", "),
                self.problem_count(),
                self.rows_checked
            );
        }
        if kinds.is_empty() {
            format!("no problem in {} row(s)", self.rows_checked)
        } else {
            format!(
                "{} problem(s) in {} row(s) ({})",
                self.problem_count(),
                self.rows_checked,
                kinds.join(", ")
            )
        }
    }
}

/// How `verify` reads.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Rows per batch (one query each).
    pub batch_size: u64,
    /// Example primary keys kept per problem.
    pub examples: usize,
    /// Only these tables (all entity tables when empty).
    pub tables: Vec<String>,
    /// Key ranges of a table read at the same time (integer keys; needs a pool of as many
    /// connections to run in parallel).
    pub jobs: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            batch_size: 50_000,
            examples: 5,
            tables: Vec::new(),
            jobs: 1,
        }
    }
}

/// Where `verify` is, after each batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The table being read.
    pub table: &'a str,
    /// Rows of it read so far.
    pub rows_checked: u64,
    /// Fraction of the key range read (integer keys; `None` otherwise).
    pub fraction: Option<f64>,
}

/// Verifies the runner's database against the entity schema of its [`Config`].
pub async fn verify_of(
    runner: &crate::run::runner::Runner,
    options: &VerifyOptions,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<Verification, MigrateError> {
    let config = runner.config();
    let entities = config
        .entities()
        .ok_or(MigrateError::NoEntities { command: "verify" })?;
    verify(runner.connection(), entities, config, options, progress).await
}

/// Verifies the rows of every entity table of the connected database (see the module docs).
pub async fn verify<C: ConnectionTrait + Sync>(
    db: &C,
    entities: &Entities,
    config: &Config,
    options: &VerifyOptions,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<Verification, MigrateError> {
    let started = Instant::now();
    let backend = db.get_database_backend();
    let expected = entities.schema(backend);
    for t in &options.tables {
        if !expected.tables.contains_key(t) {
            return Err(MigrateError::Review {
                command: "verify",
                detail: format!(
                    "no entity defines table {t}: name one of {}",
                    expected.table_names().join(", ")
                ),
            });
        }
    }
    let mut live = schema::inspect(db)
        .await
        .map_err(MigrateError::database("reading the database schema"))?;
    live.tables.retain(|name, _| !config.is_tooling_table(name));
    let selected = |name: &String| options.tables.is_empty() || options.tables.contains(name);
    let small = small_parents(db, &expected, &live, selected).await?;
    let mut tables = Vec::new();
    for (name, want) in &expected.tables {
        if !selected(name) {
            continue;
        }
        let plan = plan_table(backend, name, want, entities, &expected, &live, &small);
        tables.push(run_table(db, plan, options, progress).await?);
    }
    Ok(Verification {
        rows_checked: tables.iter().map(|t| t.rows_checked).sum(),
        tables,
        duration_ms: started.elapsed().as_millis(),
    })
}

/// One check: a SQL condition on the batch row `b` (true = problem).
#[derive(Debug, Clone)]
struct Check {
    kind: ProblemKind,
    column: String,
    expected: String,
    condition: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Int,
    Text,
}

#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i64),
    Text(String),
}

impl Key {
    fn value(&self) -> Value {
        match self {
            Key::Int(v) => Value::BigInt(Some(*v)),
            Key::Text(v) => Value::String(Some(v.clone())),
        }
    }
}

/// What to read from one table.
#[derive(Debug, Clone)]
struct TablePlan {
    backend: DbBackend,
    table: String,
    key: Option<(String, KeyType)>,
    columns: Vec<String>,
    joins: Vec<String>,
    checks: Vec<Check>,
    skipped: Vec<String>,
    missing: bool,
}

fn q(backend: DbBackend, ident: &str) -> String {
    quote_ident(backend, ident)
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `n` of a `varchar(n)` / `character varying(n)` type.
fn declared_length(data_type: &str) -> Option<u64> {
    let t = data_type.trim().to_ascii_lowercase();
    let rest = t
        .strip_prefix("character varying(")
        .or_else(|| t.strip_prefix("varchar("))
        .or_else(|| t.strip_prefix("char("))
        .or_else(|| t.strip_prefix("character("))?;
    rest.strip_suffix(')')?.trim().parse().ok()
}

fn is_json(data_type: &str) -> bool {
    matches!(data_type, "json" | "jsonb" | "json_text")
}

fn is_timestamp(data_type: &str) -> bool {
    data_type.starts_with("timestamp") || data_type.starts_with("datetime")
}

/// Parent tables small enough for PostgreSQL to hash whole (see [`SMALL_PARENT`]).
const SMALL_PARENT: i64 = 50_000;

/// PostgreSQL: the parents of the selected tables' single-column foreign keys that have at
/// most [`SMALL_PARENT`] rows (a bounded count each). Checking a key with `NOT IN (SELECT ...)`
/// against such a parent is a hashed subplan, cheaper than a hash join per batch; a larger
/// parent keeps the join (a subplan too big to hash would rescan the parent per row).
async fn small_parents<C: ConnectionTrait>(
    db: &C,
    expected: &Schema,
    live: &Schema,
    selected: impl Fn(&String) -> bool,
) -> Result<std::collections::BTreeSet<String>, MigrateError> {
    let backend = db.get_database_backend();
    let mut small = std::collections::BTreeSet::new();
    if backend != DbBackend::Postgres {
        return Ok(small);
    }
    let parents: std::collections::BTreeSet<&String> = expected
        .tables
        .iter()
        .filter(|(name, _)| selected(name))
        .flat_map(|(_, t)| &t.foreign_keys)
        .filter(|fk| fk.columns.len() == 1 && live.tables.contains_key(&fk.ref_table))
        .map(|fk| &fk.ref_table)
        .collect();
    for parent in parents {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (SELECT 1 FROM {} LIMIT {}) s",
            q(backend, parent),
            SMALL_PARENT + 1
        );
        let n = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .and_then(|r| r.map(|r| r.try_get::<i64>("", "n")).transpose())
            .map_err(MigrateError::database("counting a parent table"))?
            .unwrap_or(0);
        if n <= SMALL_PARENT {
            small.insert(parent.clone());
        }
    }
    Ok(small)
}

/// The checks of `table`, from the entity definition `want` and what the live table has.
fn plan_table(
    backend: DbBackend,
    table: &str,
    want: &Table,
    entities: &Entities,
    expected: &Schema,
    live: &Schema,
    small_parents: &std::collections::BTreeSet<String>,
) -> TablePlan {
    let mut plan = TablePlan {
        backend,
        table: table.to_string(),
        key: None,
        columns: Vec::new(),
        joins: Vec::new(),
        checks: Vec::new(),
        skipped: Vec::new(),
        missing: false,
    };
    let Some(got) = live.tables.get(table) else {
        plan.missing = true;
        plan.skipped
            .push("the table does not exist: run `migration up`".into());
        return plan;
    };
    let key = match want.primary_key.as_slice() {
        [one] => got.column(one).map(|c| {
            let ty = if c.data_type.contains("int") {
                KeyType::Int
            } else {
                KeyType::Text
            };
            (one.clone(), ty)
        }),
        _ => None,
    };
    if key.is_none() {
        plan.skipped.push(
            "not read: verify pages by a single-column primary key, which this table lacks".into(),
        );
        return plan;
    }
    plan.key = key;
    let b = |c: &str| format!("b.{}", q(backend, c));
    let mut used = Vec::new();
    for wc in &want.columns {
        let Some(gc) = got.column(&wc.name) else {
            plan.skipped.push(format!(
                "{}: the database has no such column (see `migration drift`)",
                wc.name
            ));
            continue;
        };
        let col = b(&wc.name);
        let before = plan.checks.len();
        if !wc.nullable && gc.nullable {
            plan.checks.push(Check {
                kind: ProblemKind::Null,
                column: wc.name.clone(),
                expected: "NOT NULL".into(),
                condition: format!("{col} IS NULL"),
            });
        }
        if let Some(e) = entities
            .enum_columns()
            .iter()
            .find(|e| e.table == table && e.column == wc.name)
        {
            let values: Vec<String> = e.values.iter().map(|v| literal(v)).collect();
            plan.checks.push(Check {
                kind: ProblemKind::Enum,
                column: wc.name.clone(),
                expected: format!("one of {}", values.join(", ")),
                condition: format!("{col} NOT IN ({})", values.join(", ")),
            });
        }
        if let Some(check) = length_check(backend, &col, wc, gc) {
            plan.checks.push(check);
        }
        if is_json(&wc.data_type) {
            match json_condition(backend, &col, gc) {
                Some(Ok(condition)) => plan.checks.push(Check {
                    kind: ProblemKind::Json,
                    column: wc.name.clone(),
                    expected: "valid JSON".into(),
                    condition,
                }),
                Some(Err(why)) => plan.skipped.push(format!("{}: {why}", wc.name)),
                None => {}
            }
        }
        if is_timestamp(&wc.data_type) {
            plan.checks.push(Check {
                kind: ProblemKind::Timestamp,
                column: wc.name.clone(),
                expected: "a timestamp the entity can read".into(),
                condition: timestamp_condition(backend, &col),
            });
        }
        if plan.checks.len() > before {
            used.push(wc.name.clone());
        }
    }
    for (i, fk) in want.foreign_keys.iter().enumerate() {
        let parent_ok = expected.tables.contains_key(&fk.ref_table)
            && live
                .tables
                .get(&fk.ref_table)
                .is_some_and(|p| fk.ref_columns.iter().all(|c| p.column(c).is_some()));
        if !parent_ok || fk.columns.iter().any(|c| got.column(c).is_none()) {
            plan.skipped.push(format!(
                "foreign key ({}) -> {}: a column or the parent table is missing",
                fk.columns.join(", "),
                fk.ref_table
            ));
            continue;
        }
        if fk.columns.len() == 1 && small_parents.contains(&fk.ref_table) {
            let (c, r) = (b(&fk.columns[0]), q(backend, &fk.ref_columns[0]));
            plan.checks.push(Check {
                kind: ProblemKind::ForeignKey,
                column: fk.columns[0].clone(),
                expected: format!("a row in {}({})", fk.ref_table, fk.ref_columns[0]),
                condition: format!(
                    "{c} IS NOT NULL AND {c} NOT IN (SELECT {r} FROM {} WHERE {r} IS NOT NULL)",
                    q(backend, &fk.ref_table)
                ),
            });
            used.push(fk.columns[0].clone());
            continue;
        }
        let alias = format!("p{i}");
        let on: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.ref_columns)
            .map(|(c, r)| format!("{alias}.{} = {}", q(backend, r), b(c)))
            .collect();
        plan.joins.push(format!(
            "LEFT JOIN {} {alias} ON {}",
            q(backend, &fk.ref_table),
            on.join(" AND ")
        ));
        let mut condition: Vec<String> = fk
            .columns
            .iter()
            .map(|c| format!("{} IS NOT NULL", b(c)))
            .collect();
        condition.push(format!(
            "{alias}.{} IS NULL",
            q(backend, &fk.ref_columns[0])
        ));
        plan.checks.push(Check {
            kind: ProblemKind::ForeignKey,
            column: fk.columns.join(","),
            expected: format!("a row in {}({})", fk.ref_table, fk.ref_columns.join(", ")),
            condition: condition.join(" AND "),
        });
        used.extend(fk.columns.iter().cloned());
    }
    let pk = plan
        .key
        .as_ref()
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    used.retain(|c| *c != pk);
    used.sort();
    used.dedup();
    plan.columns = used;
    plan
}

fn length_check(backend: DbBackend, col: &str, want: &Column, got: &Column) -> Option<Check> {
    let n = declared_length(&want.data_type)?;
    // PostgreSQL and MySQL enforce their own declared length (strict or truncating).
    let enforced =
        backend != DbBackend::Sqlite && declared_length(&got.data_type).is_some_and(|m| m <= n);
    if enforced {
        return None;
    }
    let len = match backend {
        DbBackend::Postgres | DbBackend::MySql => "CHAR_LENGTH",
        _ => "length",
    };
    Some(Check {
        kind: ProblemKind::Length,
        column: want.name.clone(),
        expected: format!("at most {n} characters"),
        condition: format!("{len}({col}) > {n}"),
    })
}

/// The condition for JSON that does not parse; `None` when the type guarantees valid JSON,
/// `Some(Err)` when it cannot be checked in SQL.
fn json_condition(backend: DbBackend, col: &str, got: &Column) -> Option<Result<String, String>> {
    match backend {
        DbBackend::Postgres if matches!(got.data_type.as_str(), "json" | "jsonb") => None,
        DbBackend::Postgres => Some(Err(format!(
            "JSON not checked: the column is {} rather than json/jsonb and PostgreSQL before 16 \
             cannot test text for JSON in SQL",
            got.data_type
        ))),
        DbBackend::MySql => Some(Ok(format!("JSON_VALID({col}) = 0"))),
        _ => Some(Ok(format!("json_valid({col}) = 0"))),
    }
}

/// The condition for a timestamp the entity (chrono `NaiveDateTime` through sqlx) cannot read.
fn timestamp_condition(backend: DbBackend, col: &str) -> String {
    match backend {
        // `infinity`/`-infinity` do not fit a NaiveDateTime.
        DbBackend::Postgres => format!("NOT isfinite({col})"),
        // Zero dates and zero parts (relaxed sql_mode) have no calendar date.
        DbBackend::MySql => format!("(MONTH({col}) = 0 OR DAYOFMONTH({col}) = 0)"),
        // The driver reads integers, reals and text in `YYYY-MM-DD HH:MM[:SS[.f]]` shapes
        // (with `T`, `Z` or an offset); anything else, or a date SQLite itself cannot
        // interpret, fails.
        _ => format!(
            "(typeof({col}) = 'blob' OR (typeof({col}) = 'text' AND (julianday({col}) IS NULL \
             OR {col} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]*')))"
        ),
    }
}

fn int_cast(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::MySql => format!("CAST({expr} AS SIGNED)"),
        DbBackend::Postgres => format!("CAST({expr} AS BIGINT)"),
        _ => expr.to_string(),
    }
}

fn text_cast(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::MySql => format!("CAST({expr} AS CHAR)"),
        _ => format!("CAST({expr} AS TEXT)"),
    }
}

fn key_expr(backend: DbBackend, ty: KeyType, expr: &str) -> String {
    match ty {
        KeyType::Int => int_cast(backend, expr),
        KeyType::Text => text_cast(backend, expr),
    }
}

fn read_key(row: &QueryResult, col: &str, ty: KeyType) -> Result<Option<Key>, sea_orm::DbErr> {
    Ok(match ty {
        KeyType::Int => row.try_get::<Option<i64>>("", col)?.map(Key::Int),
        KeyType::Text => row.try_get::<Option<String>>("", col)?.map(Key::Text),
    })
}

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// The SQL of one table's batches, built once.
struct TableSql {
    backend: DbBackend,
    key_type: KeyType,
    table: String,
    k: String,
    bk: String,
    inner_cols: String,
    sums: String,
    joins: String,
    conditions: Vec<String>,
}

impl TableSql {
    /// The aggregate over the next batch after `after` (exclusive) up to `upto` (inclusive).
    fn batch(&self, after: Option<&Key>, upto: Option<i64>, size: u64) -> Statement {
        let b = self.backend;
        let mut values = Vec::new();
        let mut filter = Vec::new();
        if let Some(after) = after {
            values.push(after.value());
            filter.push(format!("{} > {}", self.k, placeholder(b, values.len())));
        }
        if let Some(upto) = upto {
            values.push(Value::BigInt(Some(upto)));
            filter.push(format!("{} <= {}", self.k, placeholder(b, values.len())));
        }
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filter.join(" AND "))
        };
        let sql = format!(
            "SELECT {} AS n, {} AS last_key{} FROM (SELECT {} FROM {} {filter} ORDER BY {} LIMIT {size}) b {}",
            int_cast(b, "COUNT(*)"),
            key_expr(b, self.key_type, &format!("MAX({})", self.bk)),
            self.sums,
            self.inner_cols,
            self.table,
            self.k,
            self.joins
        );
        Statement::from_sql_and_values(b, sql, values)
    }

    /// Up to `limit` keys in (`after`, `upto`] failing check `i`.
    fn examples(&self, i: usize, after: Option<&Key>, upto: &Key, limit: usize) -> Statement {
        let b = self.backend;
        let mut values = Vec::new();
        let mut filter = Vec::new();
        if let Some(after) = after {
            values.push(after.value());
            filter.push(format!("{} > {}", self.bk, placeholder(b, values.len())));
        }
        values.push(upto.value());
        filter.push(format!("{} <= {}", self.bk, placeholder(b, values.len())));
        filter.push(format!("({})", self.conditions[i]));
        let sql = format!(
            "SELECT {} AS example FROM {} b {} WHERE {} ORDER BY {} LIMIT {limit}",
            text_cast(b, &self.bk),
            self.table,
            self.joins,
            filter.join(" AND "),
            self.bk
        );
        Statement::from_sql_and_values(b, sql, values)
    }
}

/// What one key range of a table yielded.
#[derive(Default)]
struct RangeResult {
    rows: u64,
    batches: u64,
    counts: Vec<u64>,
    examples: Vec<Vec<String>>,
}

/// Reads keys in (`start`, `end`] (open ends: the whole table) batch by batch.
#[allow(clippy::too_many_arguments)]
async fn run_range<C: ConnectionTrait>(
    db: &C,
    sql: &TableSql,
    start: Option<Key>,
    end: Option<i64>,
    options: &VerifyOptions,
    action: &str,
    on_batch: &(dyn Fn(u64, &Key) + Send + Sync),
) -> Result<RangeResult, MigrateError> {
    let err = MigrateError::database(action);
    let checks = sql.conditions.len();
    let mut out = RangeResult {
        counts: vec![0; checks],
        examples: vec![Vec::new(); checks],
        ..RangeResult::default()
    };
    let size = options.batch_size.max(1);
    let mut last = start;
    loop {
        let row = db
            .query_one_raw(sql.batch(last.as_ref(), end, size))
            .await
            .map_err(err)?;
        let Some(row) = row else { break };
        let n = row.try_get::<i64>("", "n").map_err(err)?;
        if n <= 0 {
            break;
        }
        let Some(batch_last) = read_key(&row, "last_key", sql.key_type).map_err(err)? else {
            break;
        };
        out.batches += 1;
        out.rows += n as u64;
        for i in 0..checks {
            let found = row.try_get::<i64>("", &format!("c{i}")).map_err(err)?;
            if found <= 0 {
                continue;
            }
            out.counts[i] += found as u64;
            let want = options.examples.saturating_sub(out.examples[i].len());
            if want == 0 {
                continue;
            }
            let rows = db
                .query_all_raw(sql.examples(i, last.as_ref(), &batch_last, want))
                .await
                .map_err(err)?;
            for r in rows {
                if let Some(v) = r.try_get::<Option<String>>("", "example").map_err(err)? {
                    out.examples[i].push(v);
                }
            }
        }
        on_batch(n as u64, &batch_last);
        if (n as u64) < size {
            break;
        }
        last = Some(batch_last);
    }
    Ok(out)
}

async fn run_table<C: ConnectionTrait + Sync>(
    db: &C,
    plan: TablePlan,
    options: &VerifyOptions,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<TableVerification, MigrateError> {
    let mut report = TableVerification {
        table: plan.table.clone(),
        rows_checked: 0,
        batches: 0,
        checks: plan.checks.len(),
        problems: plan
            .checks
            .iter()
            .map(|c| Problem {
                kind: c.kind,
                column: c.column.clone(),
                expected: c.expected.clone(),
                rows: 0,
                examples: Vec::new(),
            })
            .collect(),
        skipped: plan.skipped.clone(),
        missing: plan.missing,
    };
    let Some((key, key_type)) = plan.key.clone() else {
        report.problems.clear();
        return Ok(report);
    };
    let backend = plan.backend;
    let action = format!("verifying table {}", plan.table);
    let err = MigrateError::database(&action);
    let table = q(backend, &plan.table);
    let k = q(backend, &key);

    let bounds = if key_type == KeyType::Int {
        let sql = format!(
            "SELECT {} AS hi, {} AS lo FROM {table}",
            int_cast(backend, &format!("max({k})")),
            int_cast(backend, &format!("min({k})"))
        );
        match db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .map_err(err)?
        {
            Some(r) => match (
                r.try_get::<Option<i64>>("", "lo").map_err(err)?,
                r.try_get::<Option<i64>>("", "hi").map_err(err)?,
            ) {
                (Some(lo), Some(hi)) => Some((lo, hi)),
                _ => None,
            },
            None => None,
        }
    } else {
        None
    };

    let mut inner_cols = vec![k.clone()];
    inner_cols.extend(plan.columns.iter().map(|c| q(backend, c)));
    let sums: String = plan
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                ", {} AS c{i}",
                int_cast(
                    backend,
                    &format!(
                        "COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)",
                        c.condition
                    )
                )
            )
        })
        .collect();
    let sql = TableSql {
        backend,
        key_type,
        bk: format!("b.{k}"),
        k,
        table,
        inner_cols: inner_cols.join(", "),
        sums,
        joins: plan.joins.join(" "),
        conditions: plan.checks.iter().map(|c| c.condition.clone()).collect(),
    };

    // Progress over all ranges: rows so far, and their share of the key span (dense keys).
    let span = bounds.map(|(lo, hi)| (hi - lo + 1).max(1) as f64);
    let done = std::sync::Mutex::new((0u64, progress));
    let on_batch = |rows: u64, _at: &Key| {
        if let Ok(mut d) = done.lock() {
            d.0 += rows;
            let rows_checked = d.0;
            (d.1)(Progress {
                table: &plan.table,
                rows_checked,
                fraction: span.map(|s| (rows_checked as f64 / s).min(1.0)),
            });
        }
    };

    // Integer keys are split into `jobs` key ranges read at the same time (a pool with as
    // many connections runs them in parallel; one connection runs them in turn).
    let jobs = options.jobs.max(1) as i64;
    let results = match bounds {
        Some((lo, hi)) if jobs > 1 && hi - lo >= jobs * options.batch_size.max(1) as i64 => {
            let step = (hi - lo) / jobs + 1;
            let ranges = (0..jobs).map(|j| {
                let start = lo - 1 + j * step;
                (Key::Int(start), (start + step).min(hi))
            });
            futures_util::future::join_all(ranges.map(|(start, end)| {
                run_range(
                    db,
                    &sql,
                    Some(start),
                    Some(end),
                    options,
                    &action,
                    &on_batch,
                )
            }))
            .await
        }
        _ => vec![run_range(db, &sql, None, None, options, &action, &on_batch).await],
    };
    // Ranges are in key order: examples stay the lowest keys.
    for result in results {
        let r = result?;
        report.rows_checked += r.rows;
        report.batches += r.batches;
        for (i, problem) in report.problems.iter_mut().enumerate() {
            problem.rows += r.counts[i];
            for e in &r.examples[i] {
                if problem.examples.len() < options.examples {
                    problem.examples.push(e.clone());
                }
            }
        }
    }
    report.problems.retain(|p| p.rows > 0);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_lengths_are_read_from_every_spelling() {
        assert_eq!(declared_length("character varying(50)"), Some(50));
        assert_eq!(declared_length("varchar(20)"), Some(20));
        assert_eq!(declared_length("text"), None);
        assert_eq!(declared_length("varchar"), None);
    }

    #[test]
    fn the_summary_names_each_kind() {
        let v = Verification {
            tables: vec![TableVerification {
                table: "t".into(),
                rows_checked: 10,
                batches: 1,
                checks: 2,
                problems: vec![Problem {
                    kind: ProblemKind::Enum,
                    column: "c".into(),
                    expected: "one of 'a'".into(),
                    rows: 2,
                    examples: vec!["1".into(), "4".into()],
                }],
                skipped: vec![],
                missing: false,
            }],
            rows_checked: 10,
            duration_ms: 1,
        };
        assert!(!v.is_clean());
        assert_eq!(v.summary(), "2 problem(s) in 10 row(s) (2 enum)");
    }
}
