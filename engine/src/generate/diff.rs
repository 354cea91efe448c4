//! The difference between two schemas ([`crate::schema::Schema`], in one backend's spelling)
//! as the changes a migration makes, grouped and ordered so they can be applied: declared
//! renames, new tables (referenced tables first), per-table changes, dropped tables (children
//! first).

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::DbBackend;

use crate::schema::default_value::DefaultValue;
pub use crate::schema::entities::Rename;
use crate::schema::{Column, ForeignKey, Index, Schema, Table};

/// The changes to one table that exists before and after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableChange {
    /// The table (its name after the change).
    pub name: String,
    /// The table before (after renames).
    pub before: Table,
    /// The table after.
    pub after: Table,
    /// Columns to add.
    pub add_columns: Vec<Column>,
    /// Columns to drop.
    pub drop_columns: Vec<Column>,
    /// Columns whose type, nullability or default change: (before, after).
    pub alter_columns: Vec<(Column, Column)>,
    /// Indexes to drop (removed or redefined).
    pub drop_indexes: Vec<(String, Index)>,
    /// Indexes to create (new or redefined).
    pub create_indexes: Vec<(String, Index)>,
    /// Foreign keys to drop (removed, or with other target or actions).
    pub drop_foreign_keys: Vec<ForeignKey>,
    /// Foreign keys to add.
    pub add_foreign_keys: Vec<ForeignKey>,
    /// Unique constraints to drop.
    pub drop_uniques: Vec<Vec<String>>,
    /// Unique constraints to add.
    pub add_uniques: Vec<Vec<String>>,
}

impl TableChange {
    /// Whether SQLite needs the table rebuilt: it cannot alter columns or constraints in place,
    /// nor drop a column that a key or constraint uses.
    pub fn needs_rebuild_on_sqlite(&self) -> bool {
        let constrained = |c: &Column| {
            self.before.primary_key.contains(&c.name)
                || self
                    .before
                    .foreign_keys
                    .iter()
                    .any(|f| f.columns.contains(&c.name))
                || self.before.uniques.iter().any(|u| u.contains(&c.name))
        };
        !self.alter_columns.is_empty()
            || !self.drop_foreign_keys.is_empty()
            || !self.add_foreign_keys.is_empty()
            || !self.drop_uniques.is_empty()
            || !self.add_uniques.is_empty()
            || self.drop_columns.iter().any(constrained)
            || self
                .add_columns
                .iter()
                .any(|c| !c.nullable && c.default.is_none())
    }

    fn is_empty(&self) -> bool {
        self.add_columns.is_empty()
            && self.drop_columns.is_empty()
            && self.alter_columns.is_empty()
            && self.drop_indexes.is_empty()
            && self.create_indexes.is_empty()
            && self.drop_foreign_keys.is_empty()
            && self.add_foreign_keys.is_empty()
            && self.drop_uniques.is_empty()
            && self.add_uniques.is_empty()
    }
}

/// Everything one direction of a migration does, in the order it does it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Declared renames that apply, tables first.
    pub renames: Vec<Rename>,
    /// New tables, referenced tables first.
    pub create_tables: Vec<(String, Table)>,
    /// Tables that change.
    pub alter_tables: Vec<TableChange>,
    /// Tables to drop, referencing tables first.
    pub drop_tables: Vec<(String, Table)>,
    /// Warnings for the reviewer (destructive changes, possible renames).
    pub warnings: Vec<String>,
    /// Differences autogenerate cannot express (a primary key or auto-increment change).
    pub unsupported: Vec<String>,
}

impl Changes {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.renames.is_empty()
            && self.create_tables.is_empty()
            && self.alter_tables.is_empty()
            && self.drop_tables.is_empty()
            && self.unsupported.is_empty()
    }

    /// One line per change, for the generated file's header and the command's output.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.renames {
            match r {
                Rename::Table { from, to } => out.push(format!("rename table {from} to {to}")),
                Rename::Column { table, from, to } => {
                    out.push(format!("rename column {table}.{from} to {to}"))
                }
            }
        }
        for (name, _) in &self.create_tables {
            out.push(format!("create table {name}"));
        }
        for t in &self.alter_tables {
            let n = &t.name;
            for (name, _) in &t.drop_indexes {
                out.push(format!("drop index {name} on {n}"));
            }
            for f in &t.drop_foreign_keys {
                out.push(format!("drop foreign key {n}({})", f.columns.join(", ")));
            }
            for u in &t.drop_uniques {
                out.push(format!("drop unique {n}({})", u.join(", ")));
            }
            for c in &t.add_columns {
                out.push(format!("add column {n}.{}", c.name));
            }
            for (_, c) in &t.alter_columns {
                out.push(format!("alter column {n}.{}", c.name));
            }
            for c in &t.drop_columns {
                out.push(format!("drop column {n}.{}", c.name));
            }
            for u in &t.add_uniques {
                out.push(format!("add unique {n}({})", u.join(", ")));
            }
            for f in &t.add_foreign_keys {
                out.push(format!(
                    "add foreign key {n}({}) -> {}({}) ON DELETE {} ON UPDATE {}",
                    f.columns.join(", "),
                    f.ref_table,
                    f.ref_columns.join(", "),
                    f.on_delete,
                    f.on_update
                ));
            }
            for (name, _) in &t.create_indexes {
                out.push(format!("create index {name} on {n}"));
            }
        }
        for (name, _) in &self.drop_tables {
            out.push(format!("drop table {name}"));
        }
        out
    }
}

/// The schema without the migration tooling's tables and, on MySQL, without the indexes InnoDB
/// creates implicitly for foreign keys (same rule as [`crate::review::drift::compare`]).
pub fn normalize(mut schema: Schema, backend: DbBackend, config: &crate::config::Config) -> Schema {
    schema
        .tables
        .retain(|name, _| !config.is_tooling_table(name));
    if backend == DbBackend::MySql {
        for table in schema.tables.values_mut() {
            let fks = table.foreign_keys.clone();
            table
                .indexes
                .retain(|_, ix| ix.unique || !fks.iter().any(|f| f.columns == ix.columns));
        }
    }
    schema
}

/// Applies `renames` that fit `schema` (the old name exists, the new one does not) and returns
/// the renamed schema with the renames that applied.
fn apply_renames(mut schema: Schema, renames: &[Rename], target: &Schema) -> (Schema, Vec<Rename>) {
    let mut applied = Vec::new();
    for r in renames.iter().filter(|r| matches!(r, Rename::Table { .. })) {
        let Rename::Table { from, to } = r else {
            continue;
        };
        if schema.tables.contains_key(from)
            && !schema.tables.contains_key(to)
            && target.tables.contains_key(to)
            && !target.tables.contains_key(from)
        {
            if let Some(t) = schema.tables.remove(from) {
                schema.tables.insert(to.clone(), t);
            }
            for t in schema.tables.values_mut() {
                t.foreign_keys = std::mem::take(&mut t.foreign_keys)
                    .into_iter()
                    .map(|mut f| {
                        if &f.ref_table == from {
                            f.ref_table = to.clone();
                        }
                        f
                    })
                    .collect();
            }
            applied.push(r.clone());
        }
    }
    for r in renames {
        let Rename::Column { table, from, to } = r else {
            continue;
        };
        let Some(want) = target.tables.get(table) else {
            continue;
        };
        let fits = schema.tables.get(table).is_some_and(|t| {
            t.column(from).is_some()
                && t.column(to).is_none()
                && want.column(to).is_some()
                && want.column(from).is_none()
        });
        if !fits {
            continue;
        }
        let ren = |c: &mut String| {
            if c == from {
                *c = to.clone();
            }
        };
        if let Some(t) = schema.tables.get_mut(table) {
            t.columns.iter_mut().for_each(|c| ren(&mut c.name));
            t.primary_key.iter_mut().for_each(ren);
            t.uniques = std::mem::take(&mut t.uniques)
                .into_iter()
                .map(|mut u| {
                    u.iter_mut().for_each(ren);
                    u
                })
                .collect();
            t.foreign_keys = std::mem::take(&mut t.foreign_keys)
                .into_iter()
                .map(|mut f| {
                    f.columns.iter_mut().for_each(ren);
                    f
                })
                .collect();
            t.indexes
                .values_mut()
                .for_each(|ix| ix.columns.iter_mut().for_each(ren));
        }
        for (name, t) in schema.tables.iter_mut() {
            t.foreign_keys = std::mem::take(&mut t.foreign_keys)
                .into_iter()
                .map(|mut f| {
                    if &f.ref_table == table {
                        f.ref_columns.iter_mut().for_each(ren);
                    }
                    f
                })
                .collect();
            let _ = name;
        }
        applied.push(r.clone());
    }
    (schema, applied)
}

/// Orders `names` so that a table comes after the tables it references (among `names`).
fn dependency_order(tables: &BTreeMap<String, Table>, names: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = names.iter().collect();
    let mut done: Vec<String> = Vec::new();
    let mut left: Vec<String> = names.to_vec();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|n| {
            let ready = tables.get(n).is_none_or(|t| {
                t.foreign_keys.iter().all(|f| {
                    &f.ref_table == n || !set.contains(&f.ref_table) || done.contains(&f.ref_table)
                })
            });
            if ready {
                done.push(n.clone());
            }
            !ready
        });
        if left.len() == before {
            // A reference cycle: keep the remaining tables in name order.
            done.append(&mut left);
        }
    }
    done
}

/// The changes that turn `from` into `to`, both in `backend`'s spelling and normalised with
/// [`normalize`]; `renames` are applied where they fit.
pub fn diff(from: &Schema, to: &Schema, renames: &[Rename]) -> Changes {
    let (from, renames) = apply_renames(from.clone(), renames, to);
    let mut ch = Changes {
        renames,
        ..Changes::default()
    };
    let created: Vec<String> = to
        .tables
        .keys()
        .filter(|n| !from.tables.contains_key(*n))
        .cloned()
        .collect();
    let dropped: Vec<String> = from
        .tables
        .keys()
        .filter(|n| !to.tables.contains_key(*n))
        .cloned()
        .collect();
    for name in dependency_order(&to.tables, &created) {
        if let Some(t) = to.tables.get(&name) {
            ch.create_tables.push((name, t.clone()));
        }
    }
    let mut drop_order = dependency_order(&from.tables, &dropped);
    drop_order.reverse();
    for name in drop_order {
        if let Some(t) = from.tables.get(&name) {
            ch.warnings.push(format!(
                "destructive: drops table {name} and all its rows{}",
                if created.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; if it was renamed to {}, declare the rename in entity/src/renames.rs and generate again",
                        created.join(" or ")
                    )
                }
            ));
            ch.drop_tables.push((name, t.clone()));
        }
    }
    for (name, after) in &to.tables {
        let Some(before) = from.tables.get(name) else {
            continue;
        };
        let mut tc = TableChange {
            name: name.clone(),
            before: before.clone(),
            after: after.clone(),
            ..TableChange::default()
        };
        for c in &after.columns {
            match before.column(&c.name) {
                None => tc.add_columns.push(c.clone()),
                Some(b) => {
                    if b.auto_increment != c.auto_increment {
                        ch.unsupported.push(format!(
                            "{name}.{}: auto-increment changes from {} to {}",
                            c.name, b.auto_increment, c.auto_increment
                        ));
                    }
                    if !same_type(&b.data_type, &c.data_type)
                        || b.nullable != c.nullable
                        || !DefaultValue::same(
                            b.default.as_deref(),
                            c.default.as_deref(),
                            &c.data_type,
                        )
                    {
                        tc.alter_columns.push((b.clone(), c.clone()));
                        if !same_type(&b.data_type, &c.data_type) {
                            ch.warnings.push(format!(
                                "may lose data: {name}.{} changes type from {} to {}; values that do not convert make the migration fail",
                                c.name, b.data_type, c.data_type
                            ));
                        }
                        if b.nullable && !c.nullable {
                            ch.warnings.push(format!(
                                "{name}.{} becomes NOT NULL: the migration fails while rows hold NULL there; fill them first",
                                c.name
                            ));
                        }
                    }
                }
            }
        }
        for c in &before.columns {
            if after.column(&c.name).is_none() {
                let hint = if tc.add_columns.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; if it was renamed to {}, declare the rename in entity/src/renames.rs and generate again",
                        tc.add_columns
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )
                };
                ch.warnings.push(format!(
                    "destructive: drops column {name}.{} and its data{hint}",
                    c.name
                ));
                tc.drop_columns.push(c.clone());
            }
        }
        for c in &tc.add_columns {
            if !c.nullable && c.default.is_none() {
                ch.warnings.push(format!(
                    "{name}.{} is added NOT NULL without a default: the migration fails on a table that has rows; give it a default or make it nullable",
                    c.name
                ));
            }
        }
        if before.primary_key != after.primary_key {
            ch.unsupported.push(format!(
                "{name}: the primary key changes from ({}) to ({})",
                before.primary_key.join(", "),
                after.primary_key.join(", ")
            ));
        }
        for (iname, ix) in &before.indexes {
            if after.indexes.get(iname) != Some(ix) {
                tc.drop_indexes.push((iname.clone(), ix.clone()));
            }
        }
        for (iname, ix) in &after.indexes {
            if before.indexes.get(iname) != Some(ix) {
                tc.create_indexes.push((iname.clone(), ix.clone()));
            }
        }
        for f in &before.foreign_keys {
            if !after.foreign_keys.contains(f) {
                tc.drop_foreign_keys.push(f.clone());
            }
        }
        for f in &after.foreign_keys {
            if !before.foreign_keys.contains(f) {
                tc.add_foreign_keys.push(f.clone());
            }
        }
        tc.drop_uniques = before.uniques.difference(&after.uniques).cloned().collect();
        tc.add_uniques = after.uniques.difference(&before.uniques).cloned().collect();
        if !tc.is_empty() {
            ch.alter_tables.push(tc);
        }
    }
    ch
}

/// Whether two native type spellings of one backend are the same type (MySQL integer display
/// widths are ignored).
fn same_type(a: &str, b: &str) -> bool {
    let norm = |t: &str| {
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
    };
    norm(a) == norm(b)
}
