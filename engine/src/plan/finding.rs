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
    AlterColumnOperation, AlterTableOperation, ColumnOption, ColumnOptionDef, DataType, Expr,
    FromTable, Ident, ObjectName, ObjectType, RenameTableNameKind, Statement, TableConstraint,
    TableFactor, TableWithJoins, TimezoneInfo, visit_expressions,
};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::plan::Direction;
use crate::plan::capture::{Capture, capture, normalize};
use crate::schema::Schema;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed (or, for destructive changes, explicitly allowed) before deploying.
    Error,
    /// Worth a look; does not fail `check`.
    Warning,
    /// Low-severity design advice (e.g. key and timestamp types of new tables); does not fail
    /// `check`.
    Advice,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Advice => "advice",
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
    /// PostgreSQL: `DROP INDEX` without `CONCURRENTLY`.
    pub const PG_DROP_INDEX_NOT_CONCURRENT: &str = "pg-drop-index-not-concurrently";
    /// PostgreSQL: `VALIDATE CONSTRAINT` in the transaction that added it `NOT VALID`.
    pub const PG_VALIDATE_SAME_TRANSACTION: &str = "pg-validate-in-same-transaction";
    /// PostgreSQL: `ADD UNIQUE`/`PRIMARY KEY` constraint on an existing table (builds its index
    /// under a write lock) instead of a concurrent unique index + `USING INDEX`.
    pub const PG_ADD_UNIQUE: &str = "pg-add-unique-constraint";
    /// PostgreSQL: `CREATE/DROP INDEX CONCURRENTLY` in a migration the runner wraps in a
    /// transaction: fails at deploy.
    pub const CONCURRENTLY_IN_TRANSACTION: &str = "concurrently-in-transaction";
    /// `ADD COLUMN ... NOT NULL` without a default on an existing table (depends on rows).
    pub const ADD_COLUMN_NOT_NULL: &str = "add-column-not-null-without-default";
    /// Renaming a column of an existing table.
    pub const RENAME_COLUMN: &str = "rename-column";
    /// Renaming an existing table.
    pub const RENAME_TABLE: &str = "rename-table";
    /// `UPDATE`/`DELETE` of a whole existing table in one statement (depends on rows).
    pub const WHOLE_TABLE_DML: &str = "whole-table-update";
    /// MySQL/MariaDB: a type change that copies the table (ALGORITHM=COPY blocks writes).
    pub const MYSQL_TYPE_COPY: &str = "mysql-type-change-copy";
    /// Advice: a new column holding a timestamp without time zone.
    pub const TIMESTAMP_WITHOUT_TIME_ZONE: &str = "timestamp-without-time-zone";
    /// Advice: a new table with a 32-bit integer primary key.
    pub const INTEGER_KEY: &str = "integer-primary-key";
    /// A `lint::allow` naming a rule that does not exist.
    pub const UNKNOWN_ALLOW: &str = "unknown-lint-allow";
    /// A foreign key whose columns no index covers (spec 001).
    pub const FK_WITHOUT_INDEX: &str = "fk-without-index";
    /// A migration name not of the form `mYYYYMMDD_HHMMSS_name`.
    pub const NAMING: &str = "migration-name";
    /// Migrations not in strictly ascending version order, or a pending one before an applied one.
    pub const ORDER: &str = "migration-order";

    /// Rules whose verdict depends on the rows the table holds: lint checks them against the
    /// connected database's row counts.
    pub const ROW_DEPENDENT: &[&str] = &[ADD_COLUMN_NOT_NULL, WHOLE_TABLE_DML];

    /// Every rule a migration or the configuration can switch off.
    pub const ALL: &[&str] = &[
        DROP_TABLE,
        DROP_COLUMN,
        TRUNCATE,
        NARROWING_TYPE,
        DROP_FK_INDEX,
        MISSING_DOWN,
        IRREVERSIBLE_DOWN,
        FAILS,
        UNCHECKED,
        PG_INDEX_NOT_CONCURRENT,
        PG_CONSTRAINT_NOT_VALID,
        PG_SET_NOT_NULL,
        PG_TYPE_REWRITE,
        PG_VOLATILE_DEFAULT,
        PG_DROP_INDEX_NOT_CONCURRENT,
        PG_VALIDATE_SAME_TRANSACTION,
        PG_ADD_UNIQUE,
        CONCURRENTLY_IN_TRANSACTION,
        ADD_COLUMN_NOT_NULL,
        RENAME_COLUMN,
        RENAME_TABLE,
        WHOLE_TABLE_DML,
        MYSQL_TYPE_COPY,
        TIMESTAMP_WITHOUT_TIME_ZONE,
        INTEGER_KEY,
        FK_WITHOUT_INDEX,
        NAMING,
        ORDER,
    ];

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

    /// Whether the verdict depends on the rows the table holds (see [`rules::ROW_DEPENDENT`]).
    pub fn depends_on_rows(&self) -> bool {
        rules::ROW_DEPENDENT.contains(&self.rule.as_str())
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

/// Counts errors and warnings (and advice, when there is some), e.g. "1 error(s), 3
/// warning(s)".
pub fn summary(findings: &[Finding]) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let advice = count(Severity::Advice);
    let mut text = format!(
        "{} error(s), {} warning(s)",
        count(Severity::Error),
        count(Severity::Warning)
    );
    if advice > 0 {
        text.push_str(&format!(", {advice} advice"));
    }
    text
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
    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [name] ON table (columns)`.
    CreateIndex {
        /// Index name (without schema), when given.
        name: Option<String>,
        /// Indexed table.
        table: String,
        /// `UNIQUE`.
        unique: bool,
        /// `CONCURRENTLY`.
        concurrently: bool,
        /// The indexed columns, in order (expressions are left out).
        columns: Vec<String>,
    },
    /// `DROP INDEX [CONCURRENTLY] a, b` (index names without schema).
    DropIndex {
        /// The dropped indexes.
        names: Vec<String>,
        /// `CONCURRENTLY`.
        concurrently: bool,
    },
    /// MySQL `RENAME TABLE a TO b`.
    RenameTable {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `UPDATE`/`DELETE` of one table.
    Dml {
        /// The table.
        table: String,
        /// `DELETE` (else `UPDATE`).
        delete: bool,
        /// No `WHERE`, or one that bounds no column by a value: it touches every row (or most).
        whole_table: bool,
    },
    /// Anything else.
    Other,
}

/// A column an `ALTER TABLE ... ADD COLUMN` adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AddedColumn {
    /// Its name.
    pub name: String,
    /// `NOT NULL` (or `PRIMARY KEY`).
    pub not_null: bool,
    /// Has a `DEFAULT`, or is filled by the database (identity, auto-increment, generated).
    pub filled: bool,
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
    /// The columns of the `SET NOT NULL`s; `None` when classified from the text.
    pub not_null_columns: Option<Vec<String>>,
    /// `ADD COLUMN ... DEFAULT <a volatile function call>`.
    pub volatile_default: bool,
    /// MySQL `ALTER TABLE ... DROP INDEX`.
    pub dropped_indexes: Vec<String>,
    /// Every column the statement names; `None` when it was classified from its text.
    pub columns: Option<BTreeSet<String>>,
    /// `ADD COLUMN`s.
    pub added_columns: Vec<AddedColumn>,
    /// Names of the constraints added `NOT VALID`.
    pub not_valid: Vec<String>,
    /// `VALIDATE CONSTRAINT` names.
    pub validated: Vec<String>,
    /// Adds a `UNIQUE` or `PRIMARY KEY` constraint that builds its own index.
    pub adds_unique: bool,
    /// `RENAME COLUMN a TO b` (and MySQL `CHANGE a b` with another name).
    pub renamed_columns: Vec<(String, String)>,
    /// `RENAME TO b`.
    pub renamed_to: Option<String>,
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
/// PostgreSQL rewrite the table. Matched case-insensitively on the function's name. (`now()`,
/// `current_timestamp` are STABLE: PostgreSQL 11+ stores their value once, no rewrite.)
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "clock_timestamp",
    "gen_random_uuid",
    "uuid_generate_v4",
    "uuid_generate_v1",
    "timeofday",
    "nextval",
    "uuid",
];

fn parse(stmt: &str, backend: DbBackend) -> Result<Vec<Statement>, sqlparser::parser::ParserError> {
    match backend {
        DbBackend::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, stmt),
        DbBackend::MySql => Parser::parse_sql(&MySqlDialect {}, stmt),
        _ => Parser::parse_sql(&SQLiteDialect {}, stmt),
    }
}

/// Classifies `stmt` (one captured string; it may hold several statements) as `backend` would
/// run it.
pub(crate) fn classify(stmt: &str, backend: DbBackend) -> Vec<StatementKind> {
    match parse(stmt, backend) {
        Ok(statements) => statements
            .iter()
            .map(|s| classify_ast(s, backend == DbBackend::Postgres))
            .collect(),
        // sqlparser does not know every dialect-specific statement (e.g. `DROP INDEX
        // CONCURRENTLY`, MySQL's `ALGORITHM=INPLACE`): such a statement keeps the text
        // classification.
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

/// Whether a `WHERE` bounds some column by a value (`=`, `<`, `IN (...)`, `BETWEEN`, a bound
/// parameter), as a batch does; `IS NULL` tests and constants alone do not.
fn bounds_rows(expr: &Expr) -> bool {
    fn is_value(e: &Expr) -> bool {
        matches!(
            e,
            Expr::Value(_) | Expr::TypedString { .. } | Expr::UnaryOp { .. }
        )
    }
    fn is_column(e: &Expr) -> bool {
        matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
    }
    visit_expressions(expr, |e| {
        let bounded = match e {
            Expr::BinaryOp { left, op, right } => {
                use sqlparser::ast::BinaryOperator as B;
                matches!(op, B::Eq | B::Lt | B::LtEq | B::Gt | B::GtEq)
                    && ((is_column(left) && is_value(right))
                        || (is_value(left) && is_column(right)))
            }
            Expr::In { expr, negated, .. } | Expr::Between { expr, negated, .. } => {
                !negated && is_column(expr)
            }
            _ => false,
        };
        if bounded {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

fn table_of(t: &TableWithJoins, fold: bool) -> Option<String> {
    match &t.relation {
        TableFactor::Table { name, .. } => Some(object_name(name, fold)),
        _ => None,
    }
}

fn fills_itself(options: &[ColumnOptionDef]) -> bool {
    options.iter().any(|o| {
        matches!(
            o.option,
            ColumnOption::Default(_)
                | ColumnOption::Generated { .. }
                | ColumnOption::Identity(_)
                | ColumnOption::Materialized(_)
        ) || matches!(&o.option, ColumnOption::DialectSpecific(t) if t.iter().any(|t| {
            let s = t.to_string().to_ascii_uppercase();
            s == "AUTO_INCREMENT" || s == "AUTOINCREMENT"
        }))
    })
}

fn is_not_null(options: &[ColumnOptionDef]) -> bool {
    options.iter().any(|o| {
        matches!(
            o.option,
            ColumnOption::NotNull | ColumnOption::PrimaryKey(_)
        )
    })
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
        } => StatementKind::DropIndex {
            names: names.iter().map(|n| last_name(n, pg)).collect(),
            concurrently: false,
        },
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
            columns: ci
                .columns
                .iter()
                .filter_map(|c| match &c.column.expr {
                    Expr::Identifier(i) => Some(ident(i, pg)),
                    _ => None,
                })
                .collect(),
        },
        Statement::RenameTable(renames) => match renames.first() {
            Some(r) => StatementKind::RenameTable {
                from: object_name(&r.old_name, pg),
                to: object_name(&r.new_name, pg),
            },
            None => StatementKind::Other,
        },
        Statement::Update(u) => match table_of(&u.table, pg) {
            Some(table) => StatementKind::Dml {
                table,
                delete: false,
                whole_table: u.selection.as_ref().is_none_or(|w| !bounds_rows(w))
                    && u.limit.is_none(),
            },
            None => StatementKind::Other,
        },
        Statement::Delete(d) => {
            let from = match &d.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            match from.first().and_then(|t| table_of(t, pg)) {
                Some(table) => StatementKind::Dml {
                    table,
                    delete: true,
                    whole_table: d.selection.as_ref().is_none_or(|w| !bounds_rows(w))
                        && d.limit.is_none(),
                },
                None => StatementKind::Other,
            }
        }
        Statement::AlterTable(at) => {
            let mut info = AlterInfo {
                table: object_name(&at.name, pg),
                ..AlterInfo::default()
            };
            let mut columns = BTreeSet::new();
            let mut not_null = Vec::new();
            for op in &at.operations {
                match op {
                    AlterTableOperation::DropColumn { column_names, .. } => {
                        for c in column_names {
                            columns.insert(ident(c, pg));
                            info.dropped_columns.push(ident(c, pg));
                        }
                    }
                    AlterTableOperation::AddConstraint {
                        constraint,
                        not_valid,
                    } => match constraint {
                        TableConstraint::ForeignKey(fk) => {
                            if *not_valid {
                                info.not_valid
                                    .extend(fk.name.as_ref().map(|n| ident(n, pg)));
                            } else {
                                info.validated_constraint = true;
                            }
                        }
                        TableConstraint::Check(c) => {
                            if *not_valid {
                                info.not_valid.extend(c.name.as_ref().map(|n| ident(n, pg)));
                            } else {
                                info.validated_constraint = true;
                            }
                        }
                        TableConstraint::Unique(_) | TableConstraint::PrimaryKey(_) => {
                            info.adds_unique = true;
                        }
                        _ => {}
                    },
                    AlterTableOperation::ValidateConstraint { name } => {
                        info.validated.push(ident(name, pg));
                    }
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        let name = ident(&column_def.name, pg);
                        columns.insert(name.clone());
                        for o in &column_def.options {
                            match &o.option {
                                ColumnOption::Default(e) if is_volatile(e) => {
                                    info.volatile_default = true;
                                }
                                ColumnOption::Check(_) => info.validated_constraint = true,
                                _ => {}
                            }
                        }
                        info.added_columns.push(AddedColumn {
                            name,
                            not_null: is_not_null(&column_def.options),
                            filled: fills_itself(&column_def.options)
                                || matches!(
                                    column_def.data_type,
                                    DataType::Custom(ref n, _)
                                        if n.to_string().to_ascii_lowercase().contains("serial")
                                ),
                        });
                    }
                    AlterTableOperation::AlterColumn { column_name, op } => {
                        columns.insert(ident(column_name, pg));
                        if matches!(op, AlterColumnOperation::SetNotNull) {
                            info.set_not_null = true;
                            not_null.push(ident(column_name, pg));
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
                        if old_name.value != new_name.value {
                            info.renamed_columns
                                .push((ident(old_name, pg), ident(new_name, pg)));
                        }
                    }
                    AlterTableOperation::RenameColumn {
                        old_column_name,
                        new_column_name,
                    } => {
                        columns.insert(ident(old_column_name, pg));
                        columns.insert(ident(new_column_name, pg));
                        info.renamed_columns
                            .push((ident(old_column_name, pg), ident(new_column_name, pg)));
                    }
                    AlterTableOperation::RenameTable { table_name } => {
                        let (RenameTableNameKind::As(n) | RenameTableNameKind::To(n)) = table_name;
                        info.renamed_to = Some(object_name(n, pg));
                    }
                    AlterTableOperation::DropIndex { name } => {
                        info.dropped_indexes.push(ident(name, pg));
                    }
                    _ => {}
                }
            }
            info.columns = Some(columns);
            info.not_null_columns = Some(not_null);
            StatementKind::AlterTable(info)
        }
        _ => StatementKind::Other,
    }
}

/// A column of a `CREATE TABLE` the advice rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewColumn {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// A timestamp without time zone (PostgreSQL `timestamp`, MySQL `DATETIME`).
    pub naive_timestamp: bool,
    /// A 32-bit (or smaller) integer primary key (PostgreSQL/MySQL; SQLite's are 64-bit).
    pub small_int_key: bool,
}

/// The columns `stmt` creates tables with, for the advice rules.
pub(crate) fn new_columns(stmt: &str, backend: DbBackend) -> Vec<NewColumn> {
    let pg = backend == DbBackend::Postgres;
    let Ok(statements) = parse(stmt, backend) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in &statements {
        let Statement::CreateTable(ct) = s else {
            continue;
        };
        let table = object_name(&ct.name, pg);
        let table_pk: Vec<String> = ct
            .constraints
            .iter()
            .filter_map(|c| match c {
                TableConstraint::PrimaryKey(pk) => Some(pk),
                _ => None,
            })
            .flat_map(|pk| pk.columns.iter())
            .filter_map(|c| match &c.column.expr {
                Expr::Identifier(i) => Some(ident(i, pg)),
                _ => None,
            })
            .collect();
        for c in &ct.columns {
            let column = ident(&c.name, pg);
            let is_pk = c
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)))
                || (table_pk.len() == 1 && table_pk[0] == column);
            let naive_timestamp = match (&c.data_type, backend) {
                (DataType::Timestamp(_, tz), DbBackend::Postgres) => {
                    matches!(tz, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone)
                }
                (DataType::Datetime(_), DbBackend::MySql) => true,
                (DataType::Custom(n, _), DbBackend::MySql) => {
                    n.to_string().eq_ignore_ascii_case("datetime")
                }
                _ => false,
            };
            let small_int = matches!(
                c.data_type,
                DataType::Int(_)
                    | DataType::Integer(_)
                    | DataType::Int4(_)
                    | DataType::SmallInt(_)
                    | DataType::MediumInt(_)
                    | DataType::TinyInt(_)
                    | DataType::Int2(_)
            ) || matches!(&c.data_type, DataType::Custom(n, _)
                    if matches!(n.to_string().to_ascii_lowercase().as_str(), "serial" | "smallserial"));
            out.push(NewColumn {
                table: table.clone(),
                column,
                naive_timestamp,
                small_int_key: is_pk && small_int && backend != DbBackend::Sqlite,
            });
        }
    }
    out
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

/// The plain column names in the first parenthesised list after ` ON table`.
fn index_columns_text(stmt: &str) -> Vec<String> {
    let norm = normalize(stmt);
    let Some(open) = norm.find('(') else {
        return Vec::new();
    };
    let Some(close) = norm[open..].find(')') else {
        return Vec::new();
    };
    norm[open + 1..open + close]
        .split(',')
        .map(|c| c.trim().trim_matches(['"', '`']).to_string())
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_alphanumeric() || ch == '_'))
        .collect()
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
        let using_index = u.contains(" USING INDEX ");
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
            adds_unique: !using_index
                && u.contains(" ADD ")
                && (u.contains(" UNIQUE ") || u.contains(" UNIQUE(") || u.contains("PRIMARY KEY")),
            ..AlterInfo::default()
        })
    } else if u.starts_with("CREATE INDEX") || u.starts_with("CREATE UNIQUE INDEX") {
        StatementKind::CreateIndex {
            name: ident_after(stmt, "INDEX"),
            table: ident_after(stmt, " ON ").unwrap_or_default(),
            unique: u.starts_with("CREATE UNIQUE"),
            concurrently: u.contains("CONCURRENTLY"),
            columns: index_columns_text(stmt),
        }
    } else if u.starts_with("DROP INDEX") {
        StatementKind::DropIndex {
            names: ident_after(stmt, "DROP INDEX").into_iter().collect(),
            concurrently: u.starts_with("DROP INDEX CONCURRENTLY"),
        }
    } else if u.starts_with("CREATE TABLE") {
        StatementKind::CreateTable(ident_after(stmt, "CREATE TABLE").unwrap_or_default())
    } else {
        StatementKind::Other
    }
}

/// What the static rules know besides a migration's SQL.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context<'a> {
    /// Whether the runner wraps the migration in a transaction on this backend.
    pub transactional: bool,
    /// The schema before the migration runs (from lint's scratch database), when known.
    pub before: Option<&'a Schema>,
    /// PostgreSQL: `(table, column)` pairs that have a validated `CHECK (column IS NOT NULL)`
    /// before the migration runs.
    pub not_null_checks: BTreeSet<(String, String)>,
    /// The statements are the migration's `down` (only the rules that apply to a revert run).
    pub down: bool,
}

/// Static rules for one migration's `up` SQL on `backend`, without anything else known.
pub(crate) fn static_findings(name: &str, up: &Capture, backend: DbBackend) -> Vec<Finding> {
    static_findings_in(name, up, backend, &Context::default())
}

/// Static rules for the SQL `captured` of one migration on `backend`, in `ctx`.
pub(crate) fn static_findings_in(
    name: &str,
    captured: &Capture,
    backend: DbBackend,
    ctx: &Context<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let classified: Vec<(&str, Vec<StatementKind>)> = captured
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
    let created_indexes: BTreeSet<&str> = classified
        .iter()
        .flat_map(|(_, kinds)| kinds)
        .filter_map(|k| match k {
            StatementKind::CreateIndex { name: Some(n), .. } => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let not_valid: BTreeSet<&str> = classified
        .iter()
        .flat_map(|(_, kinds)| kinds)
        .filter_map(|k| match k {
            StatementKind::AlterTable(a) => Some(a.not_valid.iter().map(String::as_str)),
            _ => None,
        })
        .flatten()
        .collect();
    // A table dropped and replaced by one this migration built and renamed to its name (the
    // SQLite rebuild of author::rebuild: create new, copy rows, drop old, rename) keeps its rows.
    let rebuilt: BTreeSet<&str> = classified
        .iter()
        .flat_map(|(_, kinds)| kinds)
        .filter_map(|k| match k {
            StatementKind::AlterTable(a) if created.contains(a.table.as_str()) => {
                a.renamed_to.as_deref()
            }
            _ => None,
        })
        .collect();
    let existing = |t: &str| {
        let bare = t.rsplit('.').next().unwrap_or(t);
        !created.contains(t) && !created.contains(bare) && !rebuilt.contains(bare)
    };
    let pg = backend == DbBackend::Postgres;
    let whose = if ctx.down { "its down " } else { "" };
    for (stmt, kinds) in &classified {
        let s = Some(*stmt);
        for kind in kinds {
            match kind {
                StatementKind::CreateIndex {
                    concurrently: true, ..
                }
                | StatementKind::DropIndex {
                    concurrently: true, ..
                } if pg && ctx.transactional => {
                    out.push(Finding::new(
                        rules::CONCURRENTLY_IN_TRANSACTION,
                        Severity::Error,
                        name,
                        s,
                        format!("{whose}builds or drops an index CONCURRENTLY, but the runner runs this migration in a transaction, where PostgreSQL refuses it: the deploy fails"),
                        "return Some(false) from the migration's use_transaction() (and keep other changes in another migration)",
                    ));
                }
                _ if ctx.down => {}
                StatementKind::DropTable(tables) if tables.iter().any(|t| existing(t)) => {
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
                StatementKind::RenameTable { from, to } if existing(from) => {
                    out.push(rename_table(name, s, from, to));
                }
                StatementKind::Dml {
                    table,
                    delete,
                    whole_table: true,
                } if existing(table) => {
                    let verb = if *delete { "DELETE" } else { "UPDATE" };
                    out.push(Finding::new(
                        rules::WHOLE_TABLE_DML,
                        Severity::Warning,
                        name,
                        s,
                        format!(
                            "{verb}s all (or most) rows of {table} in one statement: depends on existing rows; on a large table it holds row locks and grows the log for the whole run, and a failure redoes it all"
                        ),
                        "write it as a batched data migration (migration_engine::author::batch::run with a BatchJob): one short transaction per key range, resumable and throttled",
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
                    if !existing(table) {
                        continue;
                    }
                    for (from, to) in &a.renamed_columns {
                        out.push(Finding::new(
                            rules::RENAME_COLUMN,
                            Severity::Warning,
                            name,
                            s,
                            format!(
                                "renames column {table}.{from} to {to}: application instances still running the previous release use {from} and fail from this moment on"
                            ),
                            format!(
                                "expand/contract: add {to}, write both and backfill in one release, switch reads to {to} in the next, drop {from} last"
                            ),
                        ));
                    }
                    if let Some(to) = &a.renamed_to {
                        out.push(rename_table(name, s, table, to));
                    }
                    if pg && a.validated_constraint {
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
                    if pg && ctx.transactional {
                        for c in a
                            .validated
                            .iter()
                            .filter(|c| not_valid.contains(c.as_str()))
                        {
                            out.push(Finding::new(
                                rules::PG_VALIDATE_SAME_TRANSACTION,
                                Severity::Warning,
                                name,
                                s,
                                format!(
                                    "validates constraint {c} in the transaction that added it NOT VALID: the strong lock taken by the ADD is held while VALIDATE scans {table}, so NOT VALID buys nothing"
                                ),
                                "move the VALIDATE CONSTRAINT into a later migration (or one with use_transaction() -> Some(false))",
                            ));
                        }
                    }
                    if pg && a.set_not_null {
                        let hazardous: Vec<&str> = match &a.not_null_columns {
                            Some(cols) => cols
                                .iter()
                                .map(String::as_str)
                                .filter(|c| !already_not_null(ctx, table, c))
                                .collect(),
                            None => vec!["?"],
                        };
                        if !hazardous.is_empty() {
                            let cols = if hazardous == ["?"] {
                                table.to_string()
                            } else {
                                hazardous
                                    .iter()
                                    .map(|c| format!("{table}.{c}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            };
                            out.push(Finding::new(
                                rules::PG_SET_NOT_NULL,
                                Severity::Warning,
                                name,
                                s,
                                format!(
                                    "SET NOT NULL on {cols} scans the whole existing table under an ACCESS EXCLUSIVE lock (and fails if a NULL is left)"
                                ),
                                "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK",
                            ));
                        }
                    }
                    if pg && a.volatile_default {
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
                    if pg && a.adds_unique {
                        out.push(Finding::new(
                            rules::PG_ADD_UNIQUE,
                            Severity::Warning,
                            name,
                            s,
                            format!(
                                "adds a UNIQUE/PRIMARY KEY constraint to existing table {table}: its index is built while writes are blocked"
                            ),
                            "CREATE UNIQUE INDEX CONCURRENTLY in a migration without transaction, then ADD CONSTRAINT ... UNIQUE USING INDEX (instant)",
                        ));
                    }
                }
                StatementKind::CreateIndex {
                    table,
                    concurrently: false,
                    ..
                } if pg && existing(table) => {
                    out.push(Finding::new(
                        rules::PG_INDEX_NOT_CONCURRENT,
                        Severity::Warning,
                        name,
                        s,
                        format!(
                            "creates an index on existing table {table} without CONCURRENTLY: writes to it are blocked until the index is built"
                        ),
                        "use migration_engine::author::online::create_index (CREATE INDEX CONCURRENTLY) in a migration with use_transaction() -> Some(false)",
                    ));
                }
                StatementKind::DropIndex {
                    names,
                    concurrently: false,
                } if pg && names.iter().any(|n| !created_indexes.contains(n.as_str())) => {
                    out.push(Finding::new(
                        rules::PG_DROP_INDEX_NOT_CONCURRENT,
                        Severity::Warning,
                        name,
                        s,
                        format!(
                            "drops index {} without CONCURRENTLY: its table is locked against reads and writes while other transactions finish",
                            names.join(", ")
                        ),
                        "use migration_engine::author::online::drop_index (DROP INDEX CONCURRENTLY) in a migration with use_transaction() -> Some(false)",
                    ));
                }
                _ => {}
            }
            // Adding a NOT NULL column without a default: up and down alike.
            if let StatementKind::AlterTable(a) = kind
                && existing(&a.table)
            {
                for c in a.added_columns.iter().filter(|c| c.not_null && !c.filled) {
                    out.push(not_null_without_default(
                        name, s, backend, &a.table, &c.name, ctx.down,
                    ));
                }
            }
        }
        if !ctx.down {
            for c in new_columns(stmt, backend) {
                if c.naive_timestamp {
                    out.push(Finding::new(
                        rules::TIMESTAMP_WITHOUT_TIME_ZONE,
                        Severity::Advice,
                        name,
                        s,
                        format!(
                            "new column {}.{} stores a timestamp without time zone: its meaning depends on every writer using the same zone",
                            c.table, c.column
                        ),
                        if pg {
                            "use timestamp with time zone (timestamptz)"
                        } else {
                            "use TIMESTAMP (stored as UTC), or document that the column holds UTC"
                        },
                    ));
                }
                if c.small_int_key {
                    out.push(Finding::new(
                        rules::INTEGER_KEY,
                        Severity::Advice,
                        name,
                        s,
                        format!(
                            "new table {} has a 32-bit integer key {}: it runs out at 2^31 rows, and widening it later rewrites the table and every referencing column",
                            c.table, c.column
                        ),
                        "use bigint for the key (and for the columns that reference it)",
                    ));
                }
            }
        }
    }
    out
}

fn already_not_null(ctx: &Context<'_>, table: &str, column: &str) -> bool {
    let short = table.rsplit('.').next().unwrap_or(table);
    ctx.before
        .and_then(|s| s.tables.get(short))
        .and_then(|t| t.column(column))
        .is_some_and(|c| !c.nullable)
        || ctx
            .not_null_checks
            .contains(&(short.to_string(), column.to_string()))
}

fn rename_table(name: &str, s: Option<&str>, from: &str, to: &str) -> Finding {
    Finding::new(
        rules::RENAME_TABLE,
        Severity::Warning,
        name,
        s,
        format!(
            "renames table {from} to {to}: application instances still running the previous release query {from} and fail from this moment on"
        ),
        format!(
            "expand/contract: create {to} (or a view named {from} over it), write both in one release, switch reads, drop {from} last"
        ),
    )
}

fn not_null_without_default(
    name: &str,
    s: Option<&str>,
    backend: DbBackend,
    table: &str,
    column: &str,
    down: bool,
) -> Finding {
    let whose = if down { "its down " } else { "" };
    let (severity, message) = match backend {
        DbBackend::Sqlite => (
            Severity::Error,
            format!(
                "{whose}adds NOT NULL column {table}.{column} without a default: SQLite refuses that on every table"
            ),
        ),
        DbBackend::MySql => (
            Severity::Warning,
            format!(
                "{whose}adds NOT NULL column {table}.{column} without a default: depends on existing rows: each existing row silently gets the type's implicit value (0, '', a zero date), or the statement fails in strict zero-date modes"
            ),
        ),
        _ => (
            Severity::Warning,
            format!(
                "{whose}adds NOT NULL column {table}.{column} without a default: depends on existing rows: it fails wherever {table} has a row"
            ),
        ),
    };
    Finding::new(
        rules::ADD_COLUMN_NOT_NULL,
        severity,
        name,
        s,
        message,
        format!(
            "give {column} a DEFAULT, or add it NULL, backfill it in batches and then set NOT NULL{}",
            if down {
                " (a down that re-adds a dropped column must also restore its data, or say it cannot)"
            } else {
                ""
            }
        ),
    )
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
                columns: vec!["owner_id".into()],
            }]
        );
        for (backend, sql) in [
            (PG, drop_index.to_string(PostgresQueryBuilder)),
            (MY, drop_index.to_string(MysqlQueryBuilder)),
            (LITE, drop_index.to_string(SqliteQueryBuilder)),
        ] {
            assert_eq!(
                classify(&sql, backend),
                [StatementKind::DropIndex {
                    names: vec!["ix_widgets_owner".into()],
                    concurrently: false
                }],
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
        assert_eq!(rules_of(MY, &[rename]), ["rename-column"]);
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
        // A UNIQUE constraint builds its index under a write lock; USING INDEX does not.
        assert_eq!(
            rules_of(
                PG,
                &one(r#"ALTER TABLE "t" ADD CONSTRAINT "u" UNIQUE ("c")"#)
            ),
            ["pg-add-unique-constraint"]
        );
        assert!(
            rules_of(
                PG,
                &one(r#"ALTER TABLE "t" ADD CONSTRAINT "u" UNIQUE USING INDEX "ux_t_c""#)
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

#[cfg(test)]
mod hazard_tests {
    use super::*;
    use sea_query::{
        ColumnDef, Expr as SqExpr, MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder,
        Table,
    };

    const PG: DbBackend = DbBackend::Postgres;
    const MY: DbBackend = DbBackend::MySql;
    const LITE: DbBackend = DbBackend::Sqlite;

    fn rules_in(backend: DbBackend, sql: &[&str], ctx: &Context<'_>) -> Vec<String> {
        let c = Capture {
            statements: sql.iter().map(|s| s.to_string()).collect(),
            ..Capture::default()
        };
        let mut r: Vec<String> = static_findings_in("m20260101_000000_t", &c, backend, ctx)
            .into_iter()
            .map(|f| f.rule)
            .collect();
        r.sort();
        r.dedup();
        r
    }

    fn rules(backend: DbBackend, sql: &[&str]) -> Vec<String> {
        rules_in(backend, sql, &Context::default())
    }

    fn render(backend: DbBackend, t: &sea_query::TableAlterStatement) -> String {
        match backend {
            DbBackend::Postgres => t.to_string(PostgresQueryBuilder),
            DbBackend::MySql => t.to_string(MysqlQueryBuilder),
            _ => t.to_string(SqliteQueryBuilder),
        }
    }

    #[test]
    fn not_null_without_default_on_every_backend() {
        let add = Table::alter()
            .table("robots")
            .add_column(ColumnDef::new("serial_no").string_len(20).not_null())
            .to_owned();
        let with_default = Table::alter()
            .table("robots")
            .add_column(
                ColumnDef::new("serial_no")
                    .string_len(20)
                    .not_null()
                    .default("x"),
            )
            .to_owned();
        for b in [PG, MY, LITE] {
            let sql = render(b, &add);
            assert_eq!(
                rules(b, &[&sql]),
                ["add-column-not-null-without-default"],
                "{sql}"
            );
            let sql = render(b, &with_default);
            assert!(rules(b, &[&sql]).is_empty(), "{sql}");
        }
        // In a down too.
        let down = Context {
            down: true,
            ..Context::default()
        };
        let sql = render(PG, &add);
        assert_eq!(
            rules_in(PG, &[&sql], &down),
            ["add-column-not-null-without-default"]
        );
        // Identity/serial columns fill themselves.
        assert!(
            rules(
                PG,
                &[r#"ALTER TABLE "robots" ADD COLUMN "n" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL"#]
            )
            .is_empty()
        );
    }

    #[test]
    fn set_not_null_only_where_it_scans() {
        let modify = Table::alter()
            .table("robots")
            .modify_column(ColumnDef::new("name").string_len(80).not_null())
            .to_owned();
        let sql = render(PG, &modify);
        assert_eq!(rules(PG, &[&sql]), ["pg-set-not-null"], "{sql}");
        let mut before = Schema::default();
        let mut robots = crate::schema::Table::default();
        robots.columns.push(crate::schema::Column {
            name: "name".into(),
            data_type: "character varying(50)".into(),
            nullable: false,
            default: None,
            auto_increment: false,
        });
        before.tables.insert("robots".into(), robots.clone());
        let ctx = Context {
            before: Some(&before),
            ..Context::default()
        };
        // Already NOT NULL: SeaQuery's SET NOT NULL is a no-op.
        assert!(rules_in(PG, &[&sql], &ctx).is_empty());
        // Nullable, but a validated CHECK (name IS NOT NULL) exists: PostgreSQL 12+ skips the scan.
        robots.columns[0].nullable = true;
        before.tables.insert("robots".into(), robots);
        let ctx = Context {
            before: Some(&before),
            ..Context::default()
        };
        assert_eq!(rules_in(PG, &[&sql], &ctx), ["pg-set-not-null"]);
        let ctx = Context {
            before: Some(&before),
            not_null_checks: [("robots".to_string(), "name".to_string())].into(),
            ..Context::default()
        };
        assert!(rules_in(PG, &[&sql], &ctx).is_empty());
    }

    #[test]
    fn postgres_constraint_and_index_rules() {
        let tx = Context {
            transactional: true,
            ..Context::default()
        };
        let add = r#"ALTER TABLE "t" ADD CONSTRAINT "c" CHECK (x > 0) NOT VALID"#;
        let validate = r#"ALTER TABLE "t" VALIDATE CONSTRAINT "c""#;
        assert_eq!(
            rules_in(PG, &[add, validate], &tx),
            ["pg-validate-in-same-transaction"]
        );
        assert!(rules_in(PG, &[add, validate], &Context::default()).is_empty());
        assert!(rules_in(PG, &[validate], &tx).is_empty());
        let concurrently = r#"CREATE INDEX CONCURRENTLY "ix" ON "t" ("c")"#;
        assert_eq!(
            rules_in(PG, &[concurrently], &tx),
            ["concurrently-in-transaction"]
        );
        assert!(rules(PG, &[concurrently]).is_empty());
        assert_eq!(
            rules(PG, &[r#"DROP INDEX "ix""#]),
            ["pg-drop-index-not-concurrently"]
        );
        assert!(rules(PG, &[r#"DROP INDEX CONCURRENTLY IF EXISTS "ix""#]).is_empty());
        assert_eq!(
            rules_in(PG, &[r#"DROP INDEX CONCURRENTLY IF EXISTS "ix""#], &tx),
            ["concurrently-in-transaction"]
        );
        assert_eq!(
            rules(PG, &[r#"ALTER TABLE "t" ADD PRIMARY KEY ("id")"#]),
            ["pg-add-unique-constraint"]
        );
    }

    #[test]
    fn renames_and_whole_table_statements() {
        for b in [PG, MY, LITE] {
            let sql = render(
                b,
                &Table::alter()
                    .table("robots")
                    .rename_column("name", "label")
                    .to_owned(),
            );
            assert_eq!(rules(b, &[&sql]), ["rename-column"], "{sql}");
            let sql = match b {
                DbBackend::Postgres => Table::rename()
                    .table("robots", "vehicles")
                    .to_string(PostgresQueryBuilder),
                DbBackend::MySql => Table::rename()
                    .table("robots", "vehicles")
                    .to_string(MysqlQueryBuilder),
                _ => Table::rename()
                    .table("robots", "vehicles")
                    .to_string(SqliteQueryBuilder),
            };
            assert_eq!(rules(b, &[&sql]), ["rename-table"], "{sql}");
        }
        for sql in [
            "UPDATE robots SET status = 'idle'",
            "UPDATE robots SET status = 'idle' WHERE status IS NULL",
            "DELETE FROM telemetry",
            "DELETE FROM telemetry WHERE 1 = 1 OR speed IS NULL",
        ] {
            assert_eq!(rules(PG, &[sql]), ["whole-table-update"], "{sql}");
        }
        for sql in [
            "UPDATE robots SET status = 'idle' WHERE id = 5",
            "UPDATE robots SET status = 'idle' WHERE id > $1 AND id <= $2",
            "DELETE FROM telemetry WHERE robot_id IN (1, 2)",
            "DELETE FROM telemetry WHERE id BETWEEN 1 AND 1000",
        ] {
            assert!(rules(PG, &[sql]).is_empty(), "{sql}");
        }
        // On a table created in the same migration there is nothing to lock.
        assert!(
            rules(
                PG,
                &[
                    "CREATE TABLE gadgets (id bigint PRIMARY KEY, status text)",
                    "UPDATE gadgets SET status = 'x'"
                ]
            )
            .is_empty()
        );
    }

    #[test]
    fn advice_on_new_tables() {
        let create = Table::create()
            .table("gadgets")
            .col(
                ColumnDef::new("id")
                    .integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(ColumnDef::new("made_at").date_time().not_null())
            .to_owned();
        let pg = create.to_string(PostgresQueryBuilder);
        assert_eq!(
            rules(PG, &[&pg]),
            ["integer-primary-key", "timestamp-without-time-zone"],
            "{pg}"
        );
        let my = create.to_string(MysqlQueryBuilder);
        assert_eq!(
            rules(MY, &[&my]),
            ["integer-primary-key", "timestamp-without-time-zone"],
            "{my}"
        );
        // SQLite's integer keys are 64-bit and it has no zoned type.
        assert!(rules(LITE, &[&create.to_string(SqliteQueryBuilder)]).is_empty());
        let good = Table::create()
            .table("gadgets")
            .col(
                ColumnDef::new("id")
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(
                ColumnDef::new("made_at")
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(
                ColumnDef::new("token")
                    .uuid()
                    .not_null()
                    .default(SqExpr::cust("gen_random_uuid()")),
            )
            .to_owned();
        let pg = good.to_string(PostgresQueryBuilder);
        assert!(rules(PG, &[&pg]).is_empty(), "{pg}");
    }
}
