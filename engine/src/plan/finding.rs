//! Findings about a migration's SQL, before it runs (the static half of `lint`, and the
//! destructive-change guard of the runner). Each [`Finding`] names a rule, a
//! severity, the migration, the statement and a one-line fix.
//!
//! Two kinds of rules:
//! * **Static** rules read the SQL a migration would run on the target backend (from
//!   [`crate::plan::capture`]): drop table/column, truncate, PostgreSQL lock hazards, a missing
//!   `down`, migration naming and order.
//! * **Schema** rules run every migration in a scratch database of the same backend and compare
//!   the schema before its `up`, after it, and after its `down`: narrowing type changes,
//!   dropping an index a foreign key uses, foreign keys without an index (spec 001), type
//!   changes that rewrite a PostgreSQL table, and a `down` that does not restore the schema.
//!
//! Severity: [`Severity::Error`] for data loss, broken `down`s and naming/order problems;
//! [`Severity::Warning`] for lock hazards and missing FK indexes. `check` fails on errors only.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::ControlFlow;

use sea_orm::DbBackend;
use sea_orm_migration::MigrationTrait;
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, Expr, Ident, ObjectName, ObjectType,
    Statement, TableConstraint, visit_expressions,
};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::plan::Direction;
use crate::plan::capture::{Capture, capture, normalize};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed (or, for destructive changes, explicitly allowed) before deploying.
    Error,
    /// Worth a look; does not fail `check`.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// Rule names, as printed.
pub mod rules {
    /// `DROP TABLE`.
    pub const DROP_TABLE: &str = "drop-table";
    /// `ALTER TABLE ... DROP COLUMN`.
    pub const DROP_COLUMN: &str = "drop-column";
    /// `TRUNCATE`.
    pub const TRUNCATE: &str = "truncate";
    /// A column type change that can lose data (shorter, smaller or another kind).
    pub const NARROWING_TYPE: &str = "narrowing-type-change";
    /// Dropping the only index that covers a foreign key.
    pub const DROP_FK_INDEX: &str = "drop-fk-index";
    /// `down` is not implemented (fails without touching the database).
    pub const MISSING_DOWN: &str = "missing-down";
    /// `down` does not restore the schema of before `up`.
    pub const IRREVERSIBLE_DOWN: &str = "irreversible-down";
    /// The migration fails in a scratch database.
    pub const FAILS: &str = "migration-fails";
    /// The reversibility and schema checks could not run.
    pub const UNCHECKED: &str = "schema-checks-skipped";
    /// PostgreSQL: `CREATE INDEX` without `CONCURRENTLY` on an existing table.
    pub const PG_INDEX_NOT_CONCURRENT: &str = "pg-index-not-concurrently";
    /// PostgreSQL: foreign key or CHECK added to an existing table without `NOT VALID`.
    pub const PG_CONSTRAINT_NOT_VALID: &str = "pg-constraint-without-not-valid";
    /// PostgreSQL: `SET NOT NULL` on an existing column.
    pub const PG_SET_NOT_NULL: &str = "pg-set-not-null";
    /// PostgreSQL: a type change that rewrites the table.
    pub const PG_TYPE_REWRITE: &str = "pg-type-change-rewrite";
    /// PostgreSQL: a column added with a volatile default (rewrites the table).
    pub const PG_VOLATILE_DEFAULT: &str = "pg-volatile-default";
    /// A foreign key whose columns no index covers (spec 001).
    pub const FK_WITHOUT_INDEX: &str = "fk-without-index";
    /// A migration name not of the form `mYYYYMMDD_HHMMSS_name`.
    pub const NAMING: &str = "migration-name";
    /// Migrations not in strictly ascending version order, or a pending one before an applied one.
    pub const ORDER: &str = "migration-order";

    /// Rules about data loss: `up` refuses them without `--allow-destructive`.
    pub const DESTRUCTIVE: &[&str] = &[
        DROP_TABLE,
        DROP_COLUMN,
        TRUNCATE,
        NARROWING_TYPE,
        DROP_FK_INDEX,
    ];
}

/// One problem found in one migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Rule name (see [`rules`]).
    pub rule: String,
    /// Error or warning.
    pub severity: Severity,
    /// The migration (empty for findings about the database as a whole).
    pub migration: String,
    /// The statement concerned, when there is one.
    pub statement: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl Finding {
    pub(crate) fn new(
        rule: &str,
        severity: Severity,
        migration: &str,
        statement: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.to_string(),
            severity,
            migration: migration.to_string(),
            statement: statement.map(normalize),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// Whether the rule is about data loss.
    pub fn is_destructive(&self) -> bool {
        rules::DESTRUCTIVE.contains(&self.rule.as_str())
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.migration.is_empty() {
            String::new()
        } else {
            format!(" {}", self.migration)
        };
        writeln!(f, "{}[{}]{at}: {}", self.severity, self.rule, self.message)?;
        if let Some(stmt) = &self.statement {
            let shown: String = if stmt.chars().count() > 160 {
                format!("{}...", stmt.chars().take(157).collect::<String>())
            } else {
                stmt.clone()
            };
            writeln!(f, "    statement: {shown}")?;
        }
        write!(f, "    fix: {}", self.fix)
    }
}

/// Counts errors and warnings, e.g. "1 error(s), 3 warning(s)".
pub fn summary(findings: &[Finding]) -> String {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    format!("{errors} error(s), {} warning(s)", findings.len() - errors)
}

// ---------------------------------------------------------------------------------------------
// Statement classification: each statement is parsed with `sqlparser` in the backend's dialect
// and classified from the AST. Statements it cannot parse fall back to the text helpers below.

/// What one statement does, as far as the lint rules care. Names are unquoted; an unquoted
/// identifier is folded to lowercase on PostgreSQL (as PostgreSQL does); a qualified table
/// name is joined with `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatementKind {
    /// `CREATE TABLE name`.
    CreateTable(String),
    /// `DROP TABLE a, b`.
    DropTable(Vec<String>),
    /// `TRUNCATE [TABLE] a, b`.
    Truncate(Vec<String>),
    /// `ALTER TABLE name ...`.
    AlterTable(AlterInfo),
    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [name] ON table`.
    CreateIndex {
        /// Index name (without schema), when given.
        name: Option<String>,
        /// Indexed table.
        table: String,
        /// `UNIQUE`.
        unique: bool,
        /// `CONCURRENTLY`.
        concurrently: bool,
    },
    /// `DROP INDEX a, b` (index names without schema).
    DropIndex(Vec<String>),
    /// Anything else.
    Other,
}

/// What an `ALTER TABLE` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AlterInfo {
    /// The altered table.
    pub table: String,
    /// `DROP COLUMN`s, in order.
    pub dropped_columns: Vec<String>,
    /// Adds a FOREIGN KEY or CHECK constraint without `NOT VALID`.
    pub validated_constraint: bool,
    /// `ALTER COLUMN ... SET NOT NULL`.
    pub set_not_null: bool,
    /// `ADD COLUMN ... DEFAULT <a volatile function call>`.
    pub volatile_default: bool,
    /// MySQL `ALTER TABLE ... DROP INDEX`.
    pub dropped_indexes: Vec<String>,
    /// Every column the statement names; `None` when it was classified from its text.
    pub columns: Option<BTreeSet<String>>,
}

impl AlterInfo {
    /// Whether it alters `table` (a qualified name matches on its last part).
    pub(crate) fn is_on(&self, table: &str) -> bool {
        self.table == table || self.table.rsplit('.').next() == Some(table)
    }

    /// Whether `stmt` (the statement this was classified from) names `column`.
    pub(crate) fn touches(&self, column: &str, stmt: &str) -> bool {
        match &self.columns {
            Some(cols) => cols.contains(column),
            None => stmt.contains(column),
        }
    }
}

/// Functions whose result differs per row: a column added with one as its default makes
/// PostgreSQL rewrite the table. Matched case-insensitively on the function's name.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "clock_timestamp",
    "gen_random_uuid",
    "uuid_generate_v4",
    "uuid_generate_v1",
    "timeofday",
    "nextval",
];

/// Classifies `stmt` (one captured string; it may hold several statements) as `backend` would
/// run it.
pub(crate) fn classify(stmt: &str, backend: DbBackend) -> Vec<StatementKind> {
    let parsed = match backend {
        DbBackend::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, stmt),
        DbBackend::MySql => Parser::parse_sql(&MySqlDialect {}, stmt),
        _ => Parser::parse_sql(&SQLiteDialect {}, stmt),
    };
    match parsed {
        Ok(statements) => statements
            .iter()
            .map(|s| classify_ast(s, backend == DbBackend::Postgres))
            .collect(),
        // sqlparser does not know every dialect-specific statement (e.g. some PostgreSQL
        // `ALTER TYPE`/MySQL table options): such a statement keeps the text classification.
        Err(_) => vec![classify_text(stmt)],
    }
}

fn ident(i: &Ident, fold: bool) -> String {
    if fold && i.quote_style.is_none() {
        i.value.to_lowercase()
    } else {
        i.value.clone()
    }
}

fn object_name(name: &ObjectName, fold: bool) -> String {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(i) => ident(i, fold),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The last part of a (possibly qualified) name: index names are reported without schema.
fn last_name(name: &ObjectName, fold: bool) -> String {
    match name.0.last() {
        Some(p) => match p.as_ident() {
            Some(i) => ident(i, fold),
            None => p.to_string(),
        },
        None => String::new(),
    }
}

fn is_volatile(expr: &Expr) -> bool {
    visit_expressions(expr, |e| match e {
        Expr::Function(f)
            if f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| {
                VOLATILE_FUNCTIONS
                    .iter()
                    .any(|v| i.value.eq_ignore_ascii_case(v))
            }) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

fn classify_ast(stmt: &Statement, pg: bool) -> StatementKind {
    match stmt {
        Statement::CreateTable(ct) => StatementKind::CreateTable(object_name(&ct.name, pg)),
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } => StatementKind::DropTable(names.iter().map(|n| object_name(n, pg)).collect()),
        Statement::Drop {
            object_type: ObjectType::Index,
            names,
            ..
        } => StatementKind::DropIndex(names.iter().map(|n| last_name(n, pg)).collect()),
        Statement::Truncate(t) => StatementKind::Truncate(
            t.table_names
                .iter()
                .map(|t| object_name(&t.name, pg))
                .collect(),
        ),
        Statement::CreateIndex(ci) => StatementKind::CreateIndex {
            name: ci.name.as_ref().map(|n| last_name(n, pg)),
            table: object_name(&ci.table_name, pg),
            unique: ci.unique,
            concurrently: ci.concurrently,
        },
        Statement::AlterTable(at) => {
            let mut info = AlterInfo {
                table: object_name(&at.name, pg),
                ..AlterInfo::default()
            };
            let mut columns = BTreeSet::new();
            for op in &at.operations {
                match op {
                    AlterTableOperation::DropColumn { column_names, .. } => {
                        for c in column_names {
                            columns.insert(ident(c, pg));
                            info.dropped_columns.push(ident(c, pg));
                        }
                    }
                    AlterTableOperation::AddConstraint {
                        constraint: TableConstraint::ForeignKey(_) | TableConstraint::Check(_),
                        not_valid: false,
                    } => info.validated_constraint = true,
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        columns.insert(ident(&column_def.name, pg));
                        for o in &column_def.options {
                            match &o.option {
                                ColumnOption::Default(e) if is_volatile(e) => {
                                    info.volatile_default = true;
                                }
                                ColumnOption::Check(_) => info.validated_constraint = true,
                                _ => {}
                            }
                        }
                    }
                    AlterTableOperation::AlterColumn { column_name, op } => {
                        columns.insert(ident(column_name, pg));
                        if matches!(op, AlterColumnOperation::SetNotNull) {
                            info.set_not_null = true;
                        }
                    }
                    AlterTableOperation::ModifyColumn { col_name, .. } => {
                        columns.insert(ident(col_name, pg));
                    }
                    AlterTableOperation::ChangeColumn {
                        old_name, new_name, ..
                    } => {
                        columns.insert(ident(old_name, pg));
                        columns.insert(ident(new_name, pg));
                    }
                    AlterTableOperation::RenameColumn {
                        old_column_name,
                        new_column_name,
                    } => {
                        columns.insert(ident(old_column_name, pg));
                        columns.insert(ident(new_column_name, pg));
                    }
                    AlterTableOperation::DropIndex { name } => {
                        info.dropped_indexes.push(ident(name, pg));
                    }
                    _ => {}
                }
            }
            info.columns = Some(columns);
            StatementKind::AlterTable(info)
        }
        _ => StatementKind::Other,
    }
}

// Text helpers, for the statements sqlparser cannot parse (they come from sea-query, so their
// shape is predictable).

pub(crate) fn upper(stmt: &str) -> String {
    normalize(stmt).to_ascii_uppercase()
}

/// The identifier after the first occurrence of `keyword` (case-insensitive), skipping
/// `IF [NOT] EXISTS`, `ONLY` and `CONCURRENTLY`.
pub(crate) fn ident_after(stmt: &str, keyword: &str) -> Option<String> {
    let norm = normalize(stmt);
    let up = norm.to_ascii_uppercase();
    let pos = up.find(keyword)? + keyword.len();
    let mut rest = &norm[pos..];
    loop {
        rest = rest.trim_start();
        let ru = rest.to_ascii_uppercase();
        let skip = ["IF NOT EXISTS", "IF EXISTS", "ONLY", "CONCURRENTLY"]
            .iter()
            .find(|k| ru.starts_with(*k) && ru[k.len()..].starts_with([' ', '"', '`']));
        match skip {
            Some(k) => rest = &rest[k.len()..],
            None => break,
        }
    }
    let mut chars = rest.chars();
    match chars.next()? {
        q @ ('"' | '`') => Some(chars.take_while(|c| *c != q).collect()),
        c => Some(
            std::iter::once(c)
                .chain(chars.take_while(|c| c.is_ascii_alphanumeric() || *c == '_'))
                .collect(),
        ),
    }
}

const VOLATILE_TEXT: &[&str] = &[
    "RANDOM()",
    "CLOCK_TIMESTAMP()",
    "GEN_RANDOM_UUID()",
    "UUID_GENERATE_V4()",
    "UUID_GENERATE_V1()",
    "TIMEOFDAY()",
    "NEXTVAL(",
];

/// The substring classification lint used before sqlparser, kept for unparsable statements.
fn classify_text(stmt: &str) -> StatementKind {
    let u = upper(stmt);
    if u.starts_with("DROP TABLE") {
        StatementKind::DropTable(vec![ident_after(stmt, "DROP TABLE").unwrap_or_default()])
    } else if u.starts_with("TRUNCATE") {
        StatementKind::Truncate(vec![
            ident_after(stmt, "TABLE")
                .or_else(|| ident_after(stmt, "TRUNCATE"))
                .unwrap_or_default(),
        ])
    } else if u.starts_with("ALTER TABLE") {
        StatementKind::AlterTable(AlterInfo {
            table: ident_after(stmt, "ALTER TABLE").unwrap_or_default(),
            dropped_columns: if u.contains(" DROP COLUMN ") {
                vec![ident_after(stmt, "DROP COLUMN").unwrap_or_default()]
            } else {
                Vec::new()
            },
            validated_constraint: (u.contains("FOREIGN KEY")
                || u.contains(" CHECK ")
                || u.contains(" CHECK("))
                && u.contains(" ADD ")
                && !u.contains("NOT VALID"),
            set_not_null: u.contains("SET NOT NULL"),
            volatile_default: u.contains("ADD COLUMN")
                && u.contains(" DEFAULT ")
                && VOLATILE_TEXT.iter().any(|v| u.contains(v)),
            dropped_indexes: Vec::new(),
            columns: None,
        })
    } else if u.starts_with("CREATE INDEX") || u.starts_with("CREATE UNIQUE INDEX") {
        StatementKind::CreateIndex {
            name: ident_after(stmt, "INDEX"),
            table: ident_after(stmt, " ON ").unwrap_or_default(),
            unique: u.starts_with("CREATE UNIQUE"),
            concurrently: u.contains("CONCURRENTLY"),
        }
    } else if u.starts_with("DROP INDEX") {
        StatementKind::DropIndex(ident_after(stmt, "DROP INDEX").into_iter().collect())
    } else if u.starts_with("CREATE TABLE") {
        StatementKind::CreateTable(ident_after(stmt, "CREATE TABLE").unwrap_or_default())
    } else {
        StatementKind::Other
    }
}

/// Static rules for one migration's `up` SQL on `backend`.
pub(crate) fn static_findings(name: &str, up: &Capture, backend: DbBackend) -> Vec<Finding> {
    let mut out = Vec::new();
    let classified: Vec<(&str, Vec<StatementKind>)> = up
        .statements
        .iter()
        .map(|s| (s.as_str(), classify(s, backend)))
        .collect();
    let created: BTreeSet<&str> = classified
        .iter()
        .flat_map(|(_, kinds)| kinds)
        .filter_map(|k| match k {
            StatementKind::CreateTable(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let pg = backend == DbBackend::Postgres;
    for (stmt, kinds) in &classified {
        let s = Some(*stmt);
        for kind in kinds {
            match kind {
                StatementKind::DropTable(tables) => {
                    let table = tables.join(", ");
                    out.push(Finding::new(
                        rules::DROP_TABLE,
                        Severity::Error,
                        name,
                        s,
                        format!("drops table {table} and every row in it"),
                        "make sure the data is no longer needed or copied elsewhere first; apply with `up --allow-destructive`",
                    ));
                }
                StatementKind::Truncate(tables) => {
                    let table = tables.join(", ");
                    out.push(Finding::new(
                        rules::TRUNCATE,
                        Severity::Error,
                        name,
                        s,
                        format!("deletes every row of {table}"),
                        "delete only the rows that must go (DELETE ... WHERE), or apply with `up --allow-destructive`",
                    ));
                }
                StatementKind::AlterTable(a) => {
                    let table = &a.table;
                    for column in &a.dropped_columns {
                        out.push(Finding::new(
                            rules::DROP_COLUMN,
                            Severity::Error,
                            name,
                            s,
                            format!("drops column {table}.{column} and its data"),
                            "stop using the column in a release first, then drop it with `up --allow-destructive`",
                        ));
                    }
                    if !pg || created.contains(table.as_str()) {
                        continue;
                    }
                    if a.validated_constraint {
                        out.push(Finding::new(
                            rules::PG_CONSTRAINT_NOT_VALID,
                            Severity::Warning,
                            name,
                            s,
                            format!(
                                "adds a constraint to existing table {table} without NOT VALID: every row is checked while writes are blocked"
                            ),
                            "add it with NOT VALID, then `ALTER TABLE ... VALIDATE CONSTRAINT` in a later migration",
                        ));
                    }
                    if a.set_not_null {
                        out.push(Finding::new(
                            rules::PG_SET_NOT_NULL,
                            Severity::Warning,
                            name,
                            s,
                            format!(
                                "SET NOT NULL on existing table {table} scans the whole table under an ACCESS EXCLUSIVE lock"
                            ),
                            "add a CHECK (col IS NOT NULL) NOT VALID constraint, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan)",
                        ));
                    }
                    if a.volatile_default {
                        out.push(Finding::new(
                            rules::PG_VOLATILE_DEFAULT,
                            Severity::Warning,
                            name,
                            s,
                            format!(
                                "adds a column with a volatile default to existing table {table}: PostgreSQL rewrites every row under an ACCESS EXCLUSIVE lock"
                            ),
                            "add the column without a default (or with a constant one), backfill in batches, then set the default",
                        ));
                    }
                }
                StatementKind::CreateIndex {
                    table,
                    concurrently,
                    ..
                } if pg && !concurrently && !created.contains(table.as_str()) => {
                    out.push(Finding::new(
                        rules::PG_INDEX_NOT_CONCURRENT,
                        Severity::Warning,
                        name,
                        s,
                        format!(
                            "creates an index on existing table {table} without CONCURRENTLY: writes to it are blocked until the index is built"
                        ),
                        "use CREATE INDEX CONCURRENTLY in a migration with use_transaction() -> Some(false)",
                    ));
                }
                _ => {}
            }
        }
    }
    out
}

/// Whether `name` has the form `mYYYYMMDD_HHMMSS_description` (lowercase, digits, `_`).
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 17
        && b[0] == b'm'
        && b[1..9].iter().all(u8::is_ascii_digit)
        && b[9] == b'_'
        && b[10..16].iter().all(u8::is_ascii_digit)
        && b[16] == b'_'
        && b[17..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Naming and ordering of the migration list (`names` in list order).
pub fn naming_findings(names: &[&str]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if !is_valid_name(name) {
            out.push(Finding::new(
                rules::NAMING,
                Severity::Error,
                name,
                None,
                "the name is not of the form mYYYYMMDD_HHMMSS_description (lowercase)",
                "create migrations with `migration generate NAME` and keep the file name it chose",
            ));
        }
        if i > 0 && *name <= names[i - 1] {
            out.push(Finding::new(
                rules::ORDER,
                Severity::Error,
                name,
                None,
                if *name == names[i - 1] {
                    format!("{name} is listed twice")
                } else {
                    format!("listed after {} but sorts before it: migrations must be listed in version order", names[i - 1])
                },
                "order the vec![...] in Migrator::migrations() by version (as `migration generate` does)",
            ));
        }
    }
    out
}

/// The destructive findings of `migrations` on `backend`, from their SQL alone (drop table,
/// drop column, truncate). `up` refuses a plan that has any unless `--allow-destructive`.
pub async fn destructive_findings(
    migrations: &[&dyn MigrationTrait],
    backend: DbBackend,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in migrations {
        match capture(*m, Direction::Up, backend).await {
            Ok(up) => out.extend(
                static_findings(m.name(), &up, backend)
                    .into_iter()
                    .filter(Finding::is_destructive),
            ),
            Err(e) => out.push(Finding::new(
                rules::FAILS,
                Severity::Error,
                m.name(),
                None,
                format!("its SQL could not be rendered: {e}"),
                "run `migration up --dry-run` to see where it fails",
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{
        ColumnDef, Expr as SqExpr, ForeignKey, Index, MysqlQueryBuilder, PostgresQueryBuilder,
        SqliteQueryBuilder, Table, TableForeignKey,
    };

    const PG: DbBackend = DbBackend::Postgres;
    const MY: DbBackend = DbBackend::MySql;
    const LITE: DbBackend = DbBackend::Sqlite;

    /// (rule, message) of every static finding of `statements` as one migration's `up`.
    fn findings(backend: DbBackend, statements: &[String]) -> Vec<(String, String)> {
        let up = Capture {
            statements: statements.to_vec(),
            ..Capture::default()
        };
        static_findings("m20260101_000000_t", &up, backend)
            .into_iter()
            .map(|f| (f.rule, f.message))
            .collect()
    }

    fn rules_of(backend: DbBackend, statements: &[String]) -> Vec<String> {
        findings(backend, statements)
            .into_iter()
            .map(|(r, _)| r)
            .collect()
    }

    fn one(sql: &str) -> Vec<String> {
        vec![sql.to_string()]
    }

    fn parses(sql: &str, backend: DbBackend) -> bool {
        match backend {
            DbBackend::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql).is_ok(),
            DbBackend::MySql => Parser::parse_sql(&MySqlDialect {}, sql).is_ok(),
            _ => Parser::parse_sql(&SQLiteDialect {}, sql).is_ok(),
        }
    }

    #[test]
    fn sea_query_output_parses_on_every_backend() {
        let create = Table::create()
            .table("widgets")
            .if_not_exists()
            .col(
                ColumnDef::new("id")
                    .integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(
                ColumnDef::new("name")
                    .string_len(50)
                    .not_null()
                    .default("x"),
            )
            .col(ColumnDef::new("made_at").date_time().null())
            .col(ColumnDef::new("owner_id").integer().not_null())
            .foreign_key(
                ForeignKey::create()
                    .name("fk_widgets_owner")
                    .from("widgets", "owner_id")
                    .to("owners", "id")
                    .on_delete(sea_query::ForeignKeyAction::Cascade),
            )
            .to_owned();
        let index = Index::create()
            .name("ix_widgets_owner")
            .table("widgets")
            .col("owner_id")
            .to_owned();
        let drop_index = Index::drop()
            .name("ix_widgets_owner")
            .table("widgets")
            .to_owned();
        let drop = Table::drop().table("widgets").if_exists().to_owned();
        let drop_col = Table::alter()
            .table("widgets")
            .drop_column("name")
            .to_owned();
        let add_col = Table::alter()
            .table("widgets")
            .add_column(ColumnDef::new("note").text().null())
            .to_owned();
        for (backend, sql) in [
            (PG, create.to_string(PostgresQueryBuilder)),
            (MY, create.to_string(MysqlQueryBuilder)),
            (LITE, create.to_string(SqliteQueryBuilder)),
            (PG, index.to_string(PostgresQueryBuilder)),
            (MY, index.to_string(MysqlQueryBuilder)),
            (LITE, index.to_string(SqliteQueryBuilder)),
            (PG, drop_index.to_string(PostgresQueryBuilder)),
            (MY, drop_index.to_string(MysqlQueryBuilder)),
            (LITE, drop_index.to_string(SqliteQueryBuilder)),
            (PG, drop.to_string(PostgresQueryBuilder)),
            (MY, drop.to_string(MysqlQueryBuilder)),
            (LITE, drop.to_string(SqliteQueryBuilder)),
            (PG, drop_col.to_string(PostgresQueryBuilder)),
            (MY, drop_col.to_string(MysqlQueryBuilder)),
            (LITE, drop_col.to_string(SqliteQueryBuilder)),
            (PG, add_col.to_string(PostgresQueryBuilder)),
            (MY, add_col.to_string(MysqlQueryBuilder)),
            (LITE, add_col.to_string(SqliteQueryBuilder)),
        ] {
            assert!(parses(&sql, backend), "{backend:?} does not parse: {sql}");
        }
        assert_eq!(
            classify(&create.to_string(MysqlQueryBuilder), MY),
            [StatementKind::CreateTable("widgets".into())]
        );
        assert_eq!(
            classify(&index.to_string(SqliteQueryBuilder), LITE),
            [StatementKind::CreateIndex {
                name: Some("ix_widgets_owner".into()),
                table: "widgets".into(),
                unique: false,
                concurrently: false,
            }]
        );
        for (backend, sql) in [
            (PG, drop_index.to_string(PostgresQueryBuilder)),
            (MY, drop_index.to_string(MysqlQueryBuilder)),
            (LITE, drop_index.to_string(SqliteQueryBuilder)),
        ] {
            assert_eq!(
                classify(&sql, backend),
                [StatementKind::DropIndex(vec!["ix_widgets_owner".into()])],
                "{sql}"
            );
        }
    }

    #[test]
    fn destructive_statements_on_every_backend() {
        for backend in [PG, MY, LITE] {
            let sql = |t: &sea_query::TableDropStatement| match backend {
                DbBackend::Postgres => t.to_string(PostgresQueryBuilder),
                DbBackend::MySql => t.to_string(MysqlQueryBuilder),
                _ => t.to_string(SqliteQueryBuilder),
            };
            let drop = Table::drop().table("widgets").to_owned();
            assert_eq!(
                findings(backend, &[sql(&drop)]),
                [(
                    "drop-table".to_string(),
                    "drops table widgets and every row in it".to_string()
                )]
            );
            let alter = Table::alter()
                .table("widgets")
                .drop_column("note")
                .to_owned();
            let alter = match backend {
                DbBackend::Postgres => alter.to_string(PostgresQueryBuilder),
                DbBackend::MySql => alter.to_string(MysqlQueryBuilder),
                _ => alter.to_string(SqliteQueryBuilder),
            };
            assert_eq!(
                findings(backend, &[alter]),
                [(
                    "drop-column".to_string(),
                    "drops column widgets.note and its data".to_string()
                )]
            );
        }
        let truncate = Table::truncate().table("widgets").to_owned();
        for sql in [
            truncate.to_string(PostgresQueryBuilder),
            truncate.to_string(MysqlQueryBuilder),
        ] {
            let backend = if sql.contains('`') { MY } else { PG };
            assert_eq!(
                findings(backend, &[sql]),
                [(
                    "truncate".to_string(),
                    "deletes every row of widgets".to_string()
                )]
            );
        }
        // Lowercase keywords, unquoted names, a comment in front.
        assert_eq!(
            findings(
                PG,
                &one("-- no longer used\nalter table robots drop column speed")
            ),
            [(
                "drop-column".to_string(),
                "drops column robots.speed and its data".to_string()
            )]
        );
        // Quoted identifiers with spaces.
        assert_eq!(
            findings(PG, &one(r#"DROP TABLE "old robots""#)),
            [(
                "drop-table".to_string(),
                "drops table old robots and every row in it".to_string()
            )]
        );
        assert_eq!(
            findings(MY, &one("TRUNCATE TABLE `robot log`")),
            [(
                "truncate".to_string(),
                "deletes every row of robot log".to_string()
            )]
        );
        // MySQL: several columns in one statement, one finding each.
        assert_eq!(
            rules_of(MY, &one("ALTER TABLE `t` DROP COLUMN `a`, DROP COLUMN `b`")),
            ["drop-column", "drop-column"]
        );
    }

    #[test]
    fn substring_false_positives_are_gone() {
        // A column whose quoted name contains DROP COLUMN is added, not dropped.
        let add = Table::alter()
            .table("robots")
            .add_column(ColumnDef::new("to drop column later").text().null())
            .to_string(PostgresQueryBuilder);
        assert!(upper(&add).contains(" DROP COLUMN "), "{add}");
        assert!(rules_of(PG, &[add]).is_empty());
        // A column literally named drop_column_at is renamed, not dropped.
        let rename = Table::alter()
            .table("robots")
            .rename_column("drop_column_at", "dropped_at")
            .to_string(MysqlQueryBuilder);
        assert!(rules_of(MY, &[rename]).is_empty());
        // A string default that mentions random() is a constant.
        let add = Table::alter()
            .table("robots")
            .add_column(ColumnDef::new("note").text().null().default("random()"))
            .to_string(PostgresQueryBuilder);
        assert!(upper(&add).contains("RANDOM()"), "{add}");
        assert!(rules_of(PG, &[add]).is_empty());
        // "ON" inside a quoted index name: the text match took robots; the index is on t, created here.
        let create = Table::create()
            .table("t")
            .col(ColumnDef::new("c").integer())
            .to_string(PostgresQueryBuilder);
        let index = r#"CREATE INDEX "ix on robots" ON "t" ("c")"#.to_string();
        assert_eq!(ident_after(&index, " ON ").as_deref(), Some("robots"));
        assert!(rules_of(PG, &[create, index]).is_empty());
        // A comment before the statement hid it from the prefix match.
        let commented = "/* speed up lookups */ CREATE INDEX ix_speed ON robots (speed)";
        assert_eq!(
            findings(PG, &one(commented)),
            [(
                "pg-index-not-concurrently".to_string(),
                "creates an index on existing table robots without CONCURRENTLY: writes to it are blocked until the index is built".to_string()
            )]
        );
    }

    #[test]
    fn postgres_lock_hazards() {
        let fk = Table::alter()
            .table("widgets")
            .add_foreign_key(
                TableForeignKey::new()
                    .name("fk_owner")
                    .from_tbl("widgets")
                    .from_col("owner_id")
                    .to_tbl("owners")
                    .to_col("id"),
            )
            .to_string(PostgresQueryBuilder);
        assert_eq!(rules_of(PG, &[fk]), ["pg-constraint-without-not-valid"]);
        let fk = ForeignKey::create()
            .name("fk_owner")
            .from("widgets", "owner_id")
            .to("owners", "id")
            .to_string(PostgresQueryBuilder);
        assert_eq!(rules_of(PG, &[fk]), ["pg-constraint-without-not-valid"]);
        assert_eq!(
            rules_of(
                PG,
                &one(r#"ALTER TABLE "t" ADD CONSTRAINT "c" CHECK (x > 0)"#)
            ),
            ["pg-constraint-without-not-valid"]
        );
        assert!(
            rules_of(
                PG,
                &one(r#"ALTER TABLE "t" ADD CONSTRAINT "c" CHECK (x > 0) NOT VALID"#)
            )
            .is_empty()
        );
        assert!(
            rules_of(
                PG,
                &one(
                    "alter table t add constraint fk foreign key (o) references owners (id) not valid"
                )
            )
            .is_empty()
        );
        // A UNIQUE constraint is not this rule's business.
        assert!(
            rules_of(
                PG,
                &one(r#"ALTER TABLE "t" ADD CONSTRAINT "u" UNIQUE ("c")"#)
            )
            .is_empty()
        );

        let not_null = Table::alter()
            .table("widgets")
            .modify_column(ColumnDef::new("name").string_len(50).not_null())
            .to_string(PostgresQueryBuilder);
        assert_eq!(rules_of(PG, &[not_null]), ["pg-set-not-null"]);
        assert!(
            rules_of(
                PG,
                &one(r#"ALTER TABLE "t" ALTER COLUMN "c" DROP NOT NULL"#)
            )
            .is_empty()
        );

        let volatile = Table::alter()
            .table("widgets")
            .add_column(
                ColumnDef::new("token")
                    .uuid()
                    .not_null()
                    .default(SqExpr::cust("gen_random_uuid()")),
            )
            .to_string(PostgresQueryBuilder);
        assert_eq!(rules_of(PG, &[volatile]), ["pg-volatile-default"]);
        for default in [
            "(RANDOM() * 100)::int",
            "Clock_Timestamp()",
            "nextval('widgets_seq'::regclass)",
            "public.uuid_generate_v4()",
            "md5(timeofday())",
        ] {
            let sql = format!(r#"ALTER TABLE "widgets" ADD COLUMN "v" text DEFAULT {default}"#);
            assert_eq!(rules_of(PG, &one(&sql)), ["pg-volatile-default"], "{sql}");
        }
        for default in ["now()", "0", "'nextval(x)'"] {
            let sql = format!(r#"ALTER TABLE "widgets" ADD COLUMN "v" text DEFAULT {default}"#);
            assert!(rules_of(PG, &one(&sql)).is_empty(), "{sql}");
        }

        let index = Index::create()
            .name("ix_widgets_name")
            .table("widgets")
            .col("name")
            .to_string(PostgresQueryBuilder);
        assert_eq!(
            rules_of(PG, std::slice::from_ref(&index)),
            ["pg-index-not-concurrently"]
        );
        let unique = Index::create()
            .name("ux_widgets_name")
            .table("widgets")
            .col("name")
            .unique()
            .to_string(PostgresQueryBuilder);
        assert_eq!(rules_of(PG, &[unique]), ["pg-index-not-concurrently"]);
        assert!(
            rules_of(
                PG,
                &one(r#"CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix" ON "widgets" ("name")"#)
            )
            .is_empty()
        );
        // The same index on a table this migration creates: nothing to block.
        let create = Table::create()
            .table("widgets")
            .col(ColumnDef::new("name").string())
            .to_string(PostgresQueryBuilder);
        assert!(rules_of(PG, &[create.clone(), index.clone()]).is_empty());
        // Unquoted names fold to lowercase on PostgreSQL.
        assert!(rules_of(PG, &[create, "CREATE INDEX ix ON Widgets (name)".into()]).is_empty());
        // Lock hazards are PostgreSQL rules.
        let index_my = Index::create()
            .name("ix_widgets_name")
            .table("widgets")
            .col("name")
            .to_string(MysqlQueryBuilder);
        assert!(rules_of(MY, &[index_my]).is_empty());
        assert!(rules_of(LITE, &[index.replace('"', "`")]).is_empty());
    }

    #[test]
    fn several_statements_in_one_string() {
        assert_eq!(
            rules_of(
                PG,
                &one("DROP TABLE a; TRUNCATE b; ALTER TABLE c DROP COLUMN d")
            ),
            ["drop-table", "truncate", "drop-column"]
        );
    }

    #[test]
    fn unparsable_statements_fall_back_to_text() {
        let sql = r#"ALTER TABLE "widgets" DROP COLUMN "note" WITH SOME VENDOR OPTION"#;
        assert!(!parses(sql, PG));
        assert_eq!(
            findings(PG, &one(sql)),
            [(
                "drop-column".to_string(),
                "drops column widgets.note and its data".to_string()
            )]
        );
        let sql = "DROP TABLE `t` WITH GARBAGE";
        assert!(!parses(sql, MY));
        assert_eq!(rules_of(MY, &one(sql)), ["drop-table"]);
    }

    fn alter(sql: &str, backend: DbBackend) -> AlterInfo {
        match classify(sql, backend).as_slice() {
            [StatementKind::AlterTable(a)] => a.clone(),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn alter_info_for_lint() {
        let sql = Table::alter()
            .table("widgets")
            .modify_column(ColumnDef::new("name").string_len(20))
            .to_string(MysqlQueryBuilder);
        let a = alter(&sql, MY);
        assert!(a.is_on("widgets") && a.touches("name", &sql));
        assert!(!a.touches("nam", &sql));
        let a = alter("ALTER TABLE `widgets` DROP INDEX `ix`", MY);
        assert_eq!(a.dropped_indexes, ["ix"]);
        let a = alter(
            r#"ALTER TABLE "s"."widgets" ALTER COLUMN "n" TYPE text"#,
            PG,
        );
        assert_eq!(a.table, "s.widgets");
        assert!(a.is_on("widgets") && a.touches("n", ""));
    }
}
