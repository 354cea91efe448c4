//! `drift`: how a live database differs from the schema the project's entities define
//! ([`crate::schema::entities::Entities`]: models, relations and named indexes), per backend,
//! in the spelling [`crate::schema`] reports.
//!
//! Tables of the migration tooling ([`crate::Config::is_tooling_table`]) are ignored. On MySQL/MariaDB an index InnoDB
//! created implicitly for a foreign key (same columns as the key, not declared) is not drift.

use std::collections::BTreeSet;
use std::fmt;

use sea_orm::{ConnectionTrait, DbBackend};

use crate::config::Config;
use crate::error::MigrateError;
use crate::schema::entities::Entities;
use crate::schema::{self, Column, ForeignKey, Index, Schema};

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffKind {
    /// A table the entities define is missing.
    MissingTable,
    /// A table the entities do not define.
    ExtraTable,
    /// A column is missing.
    MissingColumn,
    /// A column the entities do not define.
    ExtraColumn,
    /// Different column type.
    Type,
    /// Different nullability.
    Nullability,
    /// Different server default.
    Default,
    /// Auto-increment differs.
    AutoIncrement,
    /// Different primary key.
    PrimaryKey,
    /// A unique constraint is missing.
    MissingUnique,
    /// A unique constraint the entities do not define.
    ExtraUnique,
    /// A named index is missing.
    MissingIndex,
    /// An index the entities do not declare.
    ExtraIndex,
    /// Same index name, other columns or uniqueness.
    IndexDefinition,
    /// A foreign key is missing.
    MissingForeignKey,
    /// A foreign key the entities do not define.
    ExtraForeignKey,
    /// Same foreign key, other target or ON DELETE/ON UPDATE action.
    ForeignKeyAction,
}

impl DiffKind {
    /// Kebab-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingTable => "missing-table",
            Self::ExtraTable => "extra-table",
            Self::MissingColumn => "missing-column",
            Self::ExtraColumn => "extra-column",
            Self::Type => "type",
            Self::Nullability => "nullability",
            Self::Default => "default",
            Self::AutoIncrement => "auto-increment",
            Self::PrimaryKey => "primary-key",
            Self::MissingUnique => "missing-unique",
            Self::ExtraUnique => "extra-unique",
            Self::MissingIndex => "missing-index",
            Self::ExtraIndex => "extra-index",
            Self::IndexDefinition => "index-definition",
            Self::MissingForeignKey => "missing-foreign-key",
            Self::ExtraForeignKey => "extra-foreign-key",
            Self::ForeignKeyAction => "foreign-key-action",
        }
    }
}

/// One difference between the expected and the live schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// What differs.
    pub kind: DiffKind,
    /// The table.
    pub table: String,
    /// The column, index or constraint within it (empty for whole tables).
    pub object: String,
    /// What the entities define (empty when the object should not exist).
    pub expected: String,
    /// What the database has (empty when it is missing).
    pub actual: String,
}

impl Difference {
    /// `table.object: expected X, found Y`, without the kind.
    pub fn detail(&self) -> String {
        let at = if self.object.is_empty() {
            self.table.clone()
        } else {
            format!("{}.{}", self.table, self.object)
        };
        match (self.expected.is_empty(), self.actual.is_empty()) {
            (false, false) => format!("{at}: expected {}, found {}", self.expected, self.actual),
            (false, true) => format!("{at}: expected {}", self.expected),
            (true, false) => format!("{at}: found {}", self.actual),
            (true, true) => at,
        }
    }
}

/// `kind  table.object: expected X, found Y`, the kind padded for aligned lists.
impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<20} {}", self.kind.as_str(), self.detail())
    }
}

/// Every difference between a database and the entity schema; empty means no drift.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// The differences, by table.
    pub differences: Vec<Difference>,
}

impl Drift {
    /// Whether the database matches the entities.
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Compares types the way backends spell them: MySQL integer display widths (`int(11)`)
/// are dropped.
fn normalize_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    for int in ["int", "bigint", "smallint", "mediumint"] {
        if let Some(rest) = t.strip_prefix(int)
            && rest.starts_with('(')
            && rest.ends_with(')')
        {
            return int.to_string();
        }
    }
    t
}

fn cols(c: &[String]) -> String {
    format!("({})", c.join(", "))
}

fn column_text(c: &Column) -> String {
    let mut s = format!(
        "{} {}",
        c.data_type,
        if c.nullable { "NULL" } else { "NOT NULL" }
    );
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    s
}

fn fk_text(fk: &ForeignKey) -> String {
    format!(
        "{} -> {}{} ON DELETE {} ON UPDATE {}",
        cols(&fk.columns),
        fk.ref_table,
        cols(&fk.ref_columns),
        fk.on_delete,
        fk.on_update
    )
}

/// On SQLite a single-column `integer` primary key is the rowid: it is assigned automatically
/// with or without `AUTOINCREMENT` (which only stops ids of deleted rows being reused), so
/// both spellings auto-increment and the difference is not drift.
fn sqlite_rowid(
    backend: Option<DbBackend>,
    want: &schema::Table,
    got: &schema::Table,
    column: &Column,
) -> bool {
    let rowid = |t: &schema::Table| {
        t.primary_key.len() == 1
            && t.primary_key[0] == column.name
            && t.column(&column.name)
                .is_some_and(|c| normalize_type(&c.data_type) == "integer")
    };
    backend == Some(DbBackend::Sqlite) && rowid(want) && rowid(got)
}

/// Every difference between `expected` and `actual`. `backend` enables its tolerances
/// (MySQL's implicit FK indexes); `None` compares strictly.
pub fn compare(expected: &Schema, actual: &Schema, backend: Option<DbBackend>) -> Drift {
    let mut d = Vec::new();
    let mut push = |kind, table: &str, object: &str, expected: String, actual: String| {
        d.push(Difference {
            kind,
            table: table.to_string(),
            object: object.to_string(),
            expected,
            actual,
        })
    };
    let names: BTreeSet<&String> = expected.tables.keys().chain(actual.tables.keys()).collect();
    for name in names {
        let (want, got) = match (expected.tables.get(name), actual.tables.get(name)) {
            (Some(w), Some(g)) => (w, g),
            (Some(_), None) => {
                push(
                    DiffKind::MissingTable,
                    name,
                    "",
                    "table".into(),
                    String::new(),
                );
                continue;
            }
            (None, Some(_)) => {
                push(
                    DiffKind::ExtraTable,
                    name,
                    "",
                    String::new(),
                    "table".into(),
                );
                continue;
            }
            (None, None) => continue,
        };
        for wc in &want.columns {
            let Some(gc) = got.column(&wc.name) else {
                push(
                    DiffKind::MissingColumn,
                    name,
                    &wc.name,
                    column_text(wc),
                    String::new(),
                );
                continue;
            };
            if normalize_type(&wc.data_type) != normalize_type(&gc.data_type) {
                push(
                    DiffKind::Type,
                    name,
                    &wc.name,
                    wc.data_type.clone(),
                    gc.data_type.clone(),
                );
            }
            if wc.nullable != gc.nullable {
                let t = |n: bool| if n { "NULL" } else { "NOT NULL" }.to_string();
                push(
                    DiffKind::Nullability,
                    name,
                    &wc.name,
                    t(wc.nullable),
                    t(gc.nullable),
                );
            }
            // By meaning: casts, parentheses, quoting and literal forms differ per backend.
            if !crate::schema::default_value::DefaultValue::same(
                wc.default.as_deref(),
                gc.default.as_deref(),
                &gc.data_type,
            ) {
                let t = |v: &Option<String>| v.clone().unwrap_or_else(|| "no default".into());
                push(
                    DiffKind::Default,
                    name,
                    &wc.name,
                    t(&wc.default),
                    t(&gc.default),
                );
            }
            if wc.auto_increment != gc.auto_increment && !sqlite_rowid(backend, want, got, wc) {
                push(
                    DiffKind::AutoIncrement,
                    name,
                    &wc.name,
                    wc.auto_increment.to_string(),
                    gc.auto_increment.to_string(),
                );
            }
        }
        for gc in &got.columns {
            if want.column(&gc.name).is_none() {
                push(
                    DiffKind::ExtraColumn,
                    name,
                    &gc.name,
                    String::new(),
                    column_text(gc),
                );
            }
        }
        if want.primary_key != got.primary_key {
            push(
                DiffKind::PrimaryKey,
                name,
                "",
                cols(&want.primary_key),
                cols(&got.primary_key),
            );
        }
        for u in want.uniques.difference(&got.uniques) {
            push(
                DiffKind::MissingUnique,
                name,
                &u.join(","),
                format!("UNIQUE {}", cols(u)),
                String::new(),
            );
        }
        for u in got.uniques.difference(&want.uniques) {
            push(
                DiffKind::ExtraUnique,
                name,
                &u.join(","),
                String::new(),
                format!("UNIQUE {}", cols(u)),
            );
        }
        let ix_text = |i: &Index| {
            format!(
                "{}{}",
                if i.unique { "UNIQUE " } else { "" },
                cols(&i.columns)
            )
        };
        for (iname, wi) in &want.indexes {
            match got.indexes.get(iname) {
                None => push(
                    DiffKind::MissingIndex,
                    name,
                    iname,
                    ix_text(wi),
                    String::new(),
                ),
                Some(gi) if gi != wi => push(
                    DiffKind::IndexDefinition,
                    name,
                    iname,
                    ix_text(wi),
                    ix_text(gi),
                ),
                Some(_) => {}
            }
        }
        for (iname, gi) in &got.indexes {
            if want.indexes.contains_key(iname) {
                continue;
            }
            let implicit_fk = backend == Some(DbBackend::MySql)
                && !gi.unique
                && got.foreign_keys.iter().any(|fk| fk.columns == gi.columns);
            if !implicit_fk {
                push(
                    DiffKind::ExtraIndex,
                    name,
                    iname,
                    String::new(),
                    ix_text(gi),
                );
            }
        }
        for wf in &want.foreign_keys {
            if got.foreign_keys.contains(wf) {
                continue;
            }
            match got.foreign_keys.iter().find(|g| g.columns == wf.columns) {
                Some(gf) => push(
                    DiffKind::ForeignKeyAction,
                    name,
                    &wf.columns.join(","),
                    fk_text(wf),
                    fk_text(gf),
                ),
                None => push(
                    DiffKind::MissingForeignKey,
                    name,
                    &wf.columns.join(","),
                    fk_text(wf),
                    String::new(),
                ),
            }
        }
        for gf in &got.foreign_keys {
            if !want.foreign_keys.contains(gf)
                && !want.foreign_keys.iter().any(|w| w.columns == gf.columns)
            {
                push(
                    DiffKind::ExtraForeignKey,
                    name,
                    &gf.columns.join(","),
                    String::new(),
                    fk_text(gf),
                );
            }
        }
    }
    Drift { differences: d }
}

/// Compares the runner's database with the entity schema of its [`Config`].
pub async fn drift_of(runner: &crate::run::runner::Runner) -> Result<Drift, MigrateError> {
    let config = runner.config();
    let entities = config
        .entities()
        .ok_or(MigrateError::NoEntities { command: "drift" })?;
    drift(runner.connection(), entities, config).await
}

/// Compares the connected database with the entity schema (tooling tables left out).
pub async fn drift<C: ConnectionTrait>(
    db: &C,
    entities: &Entities,
    config: &Config,
) -> Result<Drift, MigrateError> {
    let backend = db.get_database_backend();
    let mut live = schema::inspect(db)
        .await
        .map_err(MigrateError::database("reading the database schema"))?;
    live.tables.retain(|name, _| !config.is_tooling_table(name));
    Ok(compare(&entities.schema(backend), &live, Some(backend)))
}
