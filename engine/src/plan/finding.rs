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

use sea_orm::DbBackend;
use sea_orm_migration::MigrationTrait;

use crate::plan::capture::{Capture, capture, normalize};
use crate::plan::Direction;

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
// SQL text helpers (the statements come from sea-query, so their shape is predictable).

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

fn created_tables(statements: &[String]) -> BTreeSet<String> {
    statements
        .iter()
        .filter(|s| upper(s).starts_with("CREATE TABLE"))
        .filter_map(|s| ident_after(s, "CREATE TABLE"))
        .collect()
}

const VOLATILE: &[&str] = &[
    "RANDOM()",
    "CLOCK_TIMESTAMP()",
    "GEN_RANDOM_UUID()",
    "UUID_GENERATE_V4()",
    "UUID_GENERATE_V1()",
    "TIMEOFDAY()",
    "NEXTVAL(",
];

/// Static rules for one migration's `up` SQL on `backend`.
pub(crate) fn static_findings(name: &str, up: &Capture, backend: DbBackend) -> Vec<Finding> {
    let mut out = Vec::new();
    let created = created_tables(&up.statements);
    let pg = backend == DbBackend::Postgres;
    for stmt in &up.statements {
        let u = upper(stmt);
        let s = Some(stmt.as_str());
        if u.starts_with("DROP TABLE") {
            let table = ident_after(stmt, "DROP TABLE").unwrap_or_default();
            out.push(Finding::new(
                rules::DROP_TABLE,
                Severity::Error,
                name,
                s,
                format!("drops table {table} and every row in it"),
                "make sure the data is no longer needed or copied elsewhere first; apply with `up --allow-destructive`",
            ));
        } else if u.starts_with("TRUNCATE") {
            let table = ident_after(stmt, "TABLE")
                .or_else(|| ident_after(stmt, "TRUNCATE"))
                .unwrap_or_default();
            out.push(Finding::new(
                rules::TRUNCATE,
                Severity::Error,
                name,
                s,
                format!("deletes every row of {table}"),
                "delete only the rows that must go (DELETE ... WHERE), or apply with `up --allow-destructive`",
            ));
        } else if u.starts_with("ALTER TABLE") {
            let table = ident_after(stmt, "ALTER TABLE").unwrap_or_default();
            let existing = !created.contains(&table);
            if u.contains(" DROP COLUMN ") {
                let column = ident_after(stmt, "DROP COLUMN").unwrap_or_default();
                out.push(Finding::new(
                    rules::DROP_COLUMN,
                    Severity::Error,
                    name,
                    s,
                    format!("drops column {table}.{column} and its data"),
                    "stop using the column in a release first, then drop it with `up --allow-destructive`",
                ));
            }
            if pg && existing {
                if (u.contains("FOREIGN KEY") || u.contains(" CHECK ") || u.contains(" CHECK("))
                    && u.contains(" ADD ")
                    && !u.contains("NOT VALID")
                {
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
                if u.contains("SET NOT NULL") {
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
                if u.contains("ADD COLUMN")
                    && u.contains(" DEFAULT ")
                    && VOLATILE.iter().any(|v| u.contains(v))
                {
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
        } else if pg && (u.starts_with("CREATE INDEX") || u.starts_with("CREATE UNIQUE INDEX")) {
            let table = ident_after(stmt, " ON ").unwrap_or_default();
            if !u.contains("CONCURRENTLY") && !created.contains(&table) {
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

