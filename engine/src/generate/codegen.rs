//! Rust source for [`Changes`]: a migration in the style of the hand-written ones
//! (`SchemaManager`, SeaQuery builders, `crate::author::columns` helpers, `DeriveIden` enums), the
//! same file for every backend.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use sea_orm::DbBackend;

use crate::generate::diff::{Changes, Rename, TableChange};
use crate::schema::default_value::DefaultValue;
use crate::schema::{Column, ForeignKey, Index, Table};

/// A column type as the migration helpers know it, whatever backend spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Integer,
    BigInteger,
    SmallInteger,
    String(Option<u32>),
    Text,
    Double,
    Real,
    Boolean,
    Timestamp,
    /// `jsonb` on PostgreSQL, JSON elsewhere (`columns::json`).
    Json,
    /// Plain `json` on PostgreSQL.
    JsonPlain,
    Bytes,
}

fn logical(backend: DbBackend, t: &str) -> Option<Ty> {
    let t = t.trim().to_ascii_lowercase();
    let len = |s: &str| -> Option<Option<u32>> {
        let inner = s.strip_prefix('(')?.strip_suffix(')')?;
        inner.parse().ok().map(Some)
    };
    if let Some(rest) = t
        .strip_prefix("character varying")
        .or_else(|| t.strip_prefix("varchar"))
    {
        return if rest.is_empty() {
            Some(Ty::String(None))
        } else {
            len(rest).map(Ty::String)
        };
    }
    for (int, ty) in [
        ("int", Ty::Integer),
        ("bigint", Ty::BigInteger),
        ("smallint", Ty::SmallInteger),
    ] {
        if let Some(rest) = t.strip_prefix(int)
            && (rest.is_empty() || len(rest).is_some())
        {
            return Some(ty);
        }
    }
    Some(match t.as_str() {
        "integer" => Ty::Integer,
        "text" => Ty::Text,
        "double precision" | "double" => Ty::Double,
        "real" | "float" => Ty::Real,
        "boolean" | "bool" | "tinyint(1)" => Ty::Boolean,
        "timestamp without time zone" | "datetime(6)" | "datetime_text" => Ty::Timestamp,
        "jsonb" | "json_text" => Ty::Json,
        "json" if backend == DbBackend::Postgres => Ty::JsonPlain,
        "json" => Ty::Json,
        "bytea" | "longblob" | "blob" => Ty::Bytes,
        _ => return None,
    })
}

/// Rust names for tables and columns: one `DeriveIden` enum per table.
#[derive(Default)]
struct Idents {
    tables: BTreeMap<String, BTreeSet<String>>,
}

const RESERVED: &[&str] = &[
    "Table",
    "Index",
    "ForeignKey",
    "ForeignKeyAction",
    "ColumnDef",
    "Alias",
    "Migration",
    "DbBackend",
    "DbErr",
    "SchemaManager",
    "Expr",
    "Iden",
    "Query",
];

fn pascal(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Whether `DeriveIden` turns `pascal(name)` back into `name`.
fn round_trips(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('_')
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase()))
}

impl Idents {
    fn enum_name(table: &str) -> String {
        let p = pascal(table);
        if round_trips(table) && !RESERVED.contains(&p.as_str()) {
            p
        } else {
            let cleaned: String = p.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let cleaned = if cleaned.starts_with(|c: char| c.is_ascii_digit()) || cleaned.is_empty()
            {
                format!("T{cleaned}")
            } else {
                cleaned
            };
            format!("{cleaned}Iden")
        }
    }

    fn variant_name(column: &str) -> String {
        let p = pascal(column);
        if round_trips(column) && p != "Table" {
            p
        } else {
            let cleaned: String = p.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            format!("C{cleaned}")
        }
    }

    fn table(&mut self, table: &str) -> String {
        self.tables.entry(table.to_string()).or_default();
        format!("{}::Table", Self::enum_name(table))
    }

    fn column(&mut self, table: &str, column: &str) -> String {
        self.tables
            .entry(table.to_string())
            .or_default()
            .insert(column.to_string());
        format!("{}::{}", Self::enum_name(table), Self::variant_name(column))
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (table, columns) in &self.tables {
            let name = Self::enum_name(table);
            out.push_str("\n#[derive(DeriveIden)]\n");
            out.push_str(&format!("enum {name} {{\n"));
            if round_trips(table) && name == pascal(table) {
                out.push_str("    Table,\n");
            } else {
                out.push_str(&format!("    #[sea_orm(iden = {table:?})]\n    Table,\n"));
            }
            for c in columns {
                if !round_trips(c) || pascal(c) == "Table" {
                    out.push_str(&format!("    #[sea_orm(iden = {c:?})]\n"));
                }
                out.push_str(&format!("    {},\n", Self::variant_name(c)));
            }
            out.push_str("}\n");
        }
        out
    }
}

/// What the generated file uses, to import exactly that.
#[derive(Default)]
struct Uses {
    helpers: BTreeSet<&'static str>,
    /// The current body uses `db`.
    backend: bool,
    /// Some body compares with `DbBackend`.
    sqlite_branch: bool,
    runtime: bool,
}

struct Gen<'a> {
    backend: DbBackend,
    /// Generating `down`: a NOT NULL column without a default that comes back (dropped by
    /// `up`) is re-added nullable, filled with [`fill_value`], then made NOT NULL.
    refill: bool,
    ids: &'a mut Idents,
    uses: &'a mut Uses,
    errors: &'a mut Vec<String>,
}

/// `default` (in any backend's spelling, see [`DefaultValue`]) as a Rust literal for
/// `.default(..)`.
fn default_expr(default: &str, data_type: &str) -> Option<String> {
    DefaultValue::parse(default, data_type).rust_literal()
}

/// The value rows get in a NOT NULL column without a default that `down` re-adds to a table
/// that may hold rows (its values were dropped by `up`): the type's zero value.
fn fill_value(backend: DbBackend, c: &Column) -> &'static str {
    match logical(backend, &c.data_type) {
        Some(Ty::String(_) | Ty::Text | Ty::Bytes) => "''",
        Some(Ty::Boolean) => "false",
        Some(Ty::Timestamp) => "CURRENT_TIMESTAMP",
        Some(Ty::Json | Ty::JsonPlain) => "'{}'",
        _ => "0",
    }
}

/// Whether `down` must fill `c` when it re-adds it (see [`Gen::refill`]).
fn needs_fill(refill: bool, c: &Column) -> bool {
    refill && !c.nullable && c.default.is_none() && !c.auto_increment
}

fn action(a: &str, backend: DbBackend) -> Option<&'static str> {
    match a {
        "CASCADE" => Some("ForeignKeyAction::Cascade"),
        "SET NULL" => Some("ForeignKeyAction::SetNull"),
        "SET DEFAULT" => Some("ForeignKeyAction::SetDefault"),
        // MySQL reports RESTRICT for an FK without an action, the others NO ACTION.
        "RESTRICT" if backend == DbBackend::MySql => None,
        "RESTRICT" => Some("ForeignKeyAction::Restrict"),
        "NO ACTION" if backend == DbBackend::MySql => Some("ForeignKeyAction::NoAction"),
        _ => None,
    }
}

fn fk_name(table: &str, fk: &ForeignKey) -> String {
    format!("{table}_{}_fkey", fk.columns.join("_"))
}

impl Gen<'_> {
    /// A `ColumnDef` expression for `c` of `table`.
    fn column(&mut self, table: &str, c: &Column, single_pk: bool, unique: bool) -> String {
        let id = self.ids.column(table, &c.name);
        let Some(ty) = logical(self.backend, &c.data_type) else {
            self.errors.push(format!(
                "{table}.{}: the column type `{}` has no migration helper",
                c.name, c.data_type
            ));
            return format!("ColumnDef::new({id}).take()");
        };
        if c.auto_increment {
            if single_pk && ty == Ty::Integer {
                self.uses.helpers.insert("pk");
                return format!("pk({id})");
            }
            self.errors.push(format!(
                "{table}.{}: only a single integer primary key can auto-increment",
                c.name
            ));
        }
        let n = c.nullable;
        let mut default_done = false;
        let mut base = match ty {
            Ty::Integer => self.helper("integer", format!("integer({id}, {n})")),
            Ty::String(Some(len)) => self.helper("string", format!("string({id}, {len}, {n})")),
            Ty::Text => self.helper("text", format!("text({id}, {n})")),
            Ty::Double => self.helper("float", format!("float({id}, {n})")),
            Ty::Timestamp => self.db_helper("timestamp", format!("timestamp(db, {id}, {n})")),
            Ty::Json => self.db_helper("json", format!("json(db, {id}, {n})")),
            Ty::Bytes => self.db_helper("bytes", format!("bytes(db, {id}, {n})")),
            Ty::Boolean if !n && matches!(c.default.as_deref(), Some("true" | "false")) => {
                default_done = true;
                let d = c.default.as_deref().unwrap_or("false");
                self.helper("boolean", format!("boolean({id}, {d})"))
            }
            other => {
                let method = match other {
                    Ty::BigInteger => "big_integer()",
                    Ty::SmallInteger => "small_integer()",
                    Ty::String(_) => "string()",
                    Ty::Real => "float()",
                    Ty::Boolean => "boolean()",
                    Ty::JsonPlain => "json()",
                    _ => "integer()",
                };
                let null = if n { "null()" } else { "not_null()" };
                format!("ColumnDef::new({id}).{method}.{null}.take()")
            }
        };
        let mut modifiers = Vec::new();
        if let (Some(d), false) = (&c.default, default_done) {
            match default_expr(d, &c.data_type) {
                Some(e) => modifiers.push(format!(".default({e})")),
                None => self.errors.push(format!(
                    "{table}.{}: the default `{d}` is not a literal autogenerate can write",
                    c.name
                )),
            }
        }
        if unique {
            modifiers.push(".unique_key()".into());
        }
        if !modifiers.is_empty() {
            base = format!("{base}{}.take()", modifiers.join(""));
        }
        base
    }

    fn helper(&mut self, name: &'static str, code: String) -> String {
        self.uses.helpers.insert(name);
        code
    }

    fn db_helper(&mut self, name: &'static str, code: String) -> String {
        self.uses.backend = true;
        self.helper(name, code)
    }

    fn foreign_key(&mut self, table: &str, fk: &ForeignKey) -> String {
        let mut s = format!(
            "ForeignKey::create().name({:?}).from_tbl({})",
            fk_name(table, fk),
            self.ids.table(table)
        );
        for c in &fk.columns {
            let _ = write!(s, ".from_col({})", self.ids.column(table, c));
        }
        let _ = write!(s, ".to_tbl({})", self.ids.table(&fk.ref_table));
        for c in &fk.ref_columns {
            let _ = write!(s, ".to_col({})", self.ids.column(&fk.ref_table, c));
        }
        if let Some(a) = action(&fk.on_delete, self.backend) {
            let _ = write!(s, ".on_delete({a})");
        }
        if let Some(a) = action(&fk.on_update, self.backend) {
            let _ = write!(s, ".on_update({a})");
        }
        s.push_str(".take()");
        s
    }

    fn index(&mut self, table: &str, name: &str, ix: &Index) -> String {
        self.uses.helpers.insert("index");
        let cols: Vec<String> = ix
            .columns
            .iter()
            .map(|c| self.ids.column(table, c))
            .collect();
        let mut s = format!(
            "index({name:?}, {}, [{}])",
            self.ids.table(table),
            cols.join(", ")
        );
        if ix.unique {
            s = format!("{s}.unique().take()");
        }
        s
    }

    /// `Table::create()...take()` for the whole table (indexes separately).
    fn create_table(&mut self, name: &str, t: &Table) -> String {
        let single_pk = t.primary_key.len() == 1;
        let mut s = format!("Table::create().table({})", self.ids.table(name));
        for c in &t.columns {
            let is_pk = single_pk && t.primary_key[0] == c.name && c.auto_increment;
            let unique = t.uniques.contains(&vec![c.name.clone()]);
            let def = self.column(name, c, is_pk, unique);
            let _ = write!(s, ".col({def})");
        }
        let auto_pk = single_pk
            && t.column(&t.primary_key[0])
                .is_some_and(|c| c.auto_increment);
        if !t.primary_key.is_empty() && !auto_pk {
            let mut pk = "Index::create()".to_string();
            for c in &t.primary_key {
                let _ = write!(pk, ".col({})", self.ids.column(name, c));
            }
            let _ = write!(s, ".primary_key({pk})");
        }
        for u in t.uniques.iter().filter(|u| u.len() > 1) {
            let mut ix = format!("Index::create().unique().name({:?})", unique_name(name, u));
            for c in u {
                let _ = write!(ix, ".col({})", self.ids.column(name, c));
            }
            let _ = write!(s, ".index({ix})");
        }
        for fk in &t.foreign_keys {
            let f = self.foreign_key(name, fk);
            let _ = write!(s, ".foreign_key(&mut {f})");
        }
        s.push_str(".take()");
        s
    }
}

fn unique_name(table: &str, cols: &[String]) -> String {
    format!("{table}_{}_key", cols.join("_"))
}

fn str_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("&[{}]", quoted.join(", "))
}

/// The statements of one direction, as the body of `up` or `down`.
fn body(g: &mut Gen<'_>, ch: &Changes) -> String {
    let mut out = String::new();
    for r in &ch.renames {
        match r {
            Rename::Table { from, to } => {
                let _ = writeln!(
                    out,
                    "manager.rename_table(Table::rename().table({}, {}).take()).await?;",
                    g.ids.table(from),
                    g.ids.table(to)
                );
            }
            Rename::Column { table, from, to } => {
                let _ = writeln!(
                    out,
                    "manager.alter_table(Table::alter().table({}).rename_column({}, {}).take()).await?;",
                    g.ids.table(table),
                    g.ids.column(table, from),
                    g.ids.column(table, to)
                );
            }
        }
    }
    for (name, t) in &ch.create_tables {
        let _ = writeln!(out, "\n// New table {name}.");
        let stmt = g.create_table(name, t);
        let _ = writeln!(out, "manager.create_table({stmt}).await?;");
        for (iname, ix) in &t.indexes {
            let stmt = g.index(name, iname, ix);
            let _ = writeln!(out, "manager.create_index({stmt}).await?;");
        }
    }
    for tc in &ch.alter_tables {
        let _ = writeln!(out, "\n// Table {}.", tc.name);
        if tc.needs_rebuild_on_sqlite() {
            g.uses.backend = true;
            g.uses.sqlite_branch = true;
            g.uses.runtime = true;
            let stmt = g.create_table(&tc.name, &tc.after);
            let indexes: Vec<String> = tc
                .after
                .indexes
                .iter()
                .map(|(n, ix)| g.index(&tc.name, n, ix))
                .collect();
            let copied: Vec<String> = tc
                .after
                .columns
                .iter()
                .filter(|c| tc.before.column(&c.name).is_some())
                .map(|c| c.name.clone())
                .collect();
            let fills: Vec<String> = tc
                .after
                .columns
                .iter()
                .filter(|c| tc.before.column(&c.name).is_none() && needs_fill(g.refill, c))
                .map(|c| format!("({:?}, {:?})", c.name, fill_value(g.backend, c)))
                .collect();
            let call = if fills.is_empty() {
                format!(
                    "runtime::rebuild_sqlite_table(manager, {stmt}, vec![{}], {}).await?;",
                    indexes.join(", "),
                    str_list(&copied)
                )
            } else {
                format!(
                    "// Rows get the fill value in the re-added NOT NULL column(s).\n\
                     runtime::rebuild_sqlite_table_filling(manager, {stmt}, vec![{}], {}, &[{}]).await?;",
                    indexes.join(", "),
                    str_list(&copied),
                    fills.join(", ")
                )
            };
            let _ = writeln!(
                out,
                "if db == DbBackend::Sqlite {{\n\
                 // SQLite cannot change columns or constraints in place: rebuild the table\n\
                 // (the runner turns foreign-key enforcement off for it; rows that reference\n\
                 // it stay as they are).\n\
                 {call}\n\
                 }} else {{\n{}}}",
                alter_statements(g, tc)
            );
        } else {
            out.push_str(&alter_statements(g, tc));
        }
    }
    for (name, _) in &ch.drop_tables {
        let _ = writeln!(out, "\n// DESTRUCTIVE: drops table {name} and its rows.");
        let _ = writeln!(
            out,
            "manager.drop_table(Table::drop().table({}).take()).await?;",
            g.ids.table(name)
        );
    }
    out
}

/// The in-place statements for one table (PostgreSQL and MySQL; SQLite when no rebuild is
/// needed), one change per statement.
fn alter_statements(g: &mut Gen<'_>, tc: &TableChange) -> String {
    let mut out = String::new();
    let name = tc.name.as_str();
    for (iname, ix) in &tc.drop_indexes {
        // A foreign key that stays and that this index may serve (its columns lead it): MySQL
        // refuses to drop the only index a foreign key can use.
        let served = tc
            .before
            .foreign_keys
            .iter()
            .filter(|f| tc.after.foreign_keys.contains(*f))
            .find(|f| ix.columns.starts_with(&f.columns));
        if let Some(fk) = served {
            g.uses.runtime = true;
            let _ = writeln!(
                out,
                "runtime::drop_index_under_foreign_key(manager, {name:?}, {iname:?}, {}).await?;",
                str_list(&fk.columns)
            );
            continue;
        }
        let _ = writeln!(
            out,
            "manager.drop_index(Index::drop().name({iname:?}).table({}).to_owned()).await?;",
            g.ids.table(name)
        );
    }
    for fk in &tc.drop_foreign_keys {
        let _ = writeln!(
            out,
            "manager.drop_foreign_key(ForeignKey::drop().name({:?}).table({}).to_owned()).await?;",
            fk_name(name, fk),
            g.ids.table(name)
        );
    }
    for u in &tc.drop_uniques {
        g.uses.runtime = true;
        let _ = writeln!(
            out,
            "runtime::drop_unique(manager, {name:?}, {}).await?;",
            str_list(u)
        );
    }
    for c in &tc.add_columns {
        if needs_fill(g.refill, c) {
            g.uses.runtime = true;
            let nullable = Column {
                nullable: true,
                ..c.clone()
            };
            let loose = g.column(name, &nullable, false, false);
            let tight = g.column(name, c, false, false);
            let fill = fill_value(g.backend, c);
            let t = g.ids.table(name);
            let _ = writeln!(
                out,
                "// {name}.{col} comes back NOT NULL on a table that may hold rows: added\n\
                 // nullable, filled with {fill} (the values `up` dropped are lost), then NOT NULL.\n\
                 manager.alter_table(Table::alter().table({t}).add_column({loose}).take()).await?;\n\
                 runtime::fill_nulls(manager, {name:?}, {col:?}, {fill:?}).await?;\n\
                 manager.alter_table(Table::alter().table({t}).modify_column({tight}).take()).await?;",
                col = c.name,
            );
            continue;
        }
        let def = g.column(name, c, false, false);
        let _ = writeln!(
            out,
            "manager.alter_table(Table::alter().table({}).add_column({def}).take()).await?;",
            g.ids.table(name)
        );
    }
    for (before, after) in &tc.alter_columns {
        let def = g.column(name, after, false, false);
        let _ = writeln!(
            out,
            "manager.alter_table(Table::alter().table({}).modify_column({def}).take()).await?;",
            g.ids.table(name)
        );
        if before.default.is_some() && after.default.is_none() {
            g.uses.runtime = true;
            let _ = writeln!(
                out,
                "runtime::drop_default(manager, {name:?}, {:?}).await?;",
                after.name
            );
        }
    }
    for c in &tc.drop_columns {
        let _ = writeln!(
            out,
            "// DESTRUCTIVE: drops column {name}.{} and its data.\n\
             manager.alter_table(Table::alter().table({}).drop_column({}).take()).await?;",
            c.name,
            g.ids.table(name),
            g.ids.column(name, &c.name)
        );
    }
    for u in &tc.add_uniques {
        g.uses.runtime = true;
        let _ = writeln!(
            out,
            "runtime::add_unique(manager, {name:?}, {:?}, {}).await?;",
            unique_name(name, u),
            str_list(u)
        );
    }
    for fk in &tc.add_foreign_keys {
        let f = g.foreign_key(name, fk);
        let _ = writeln!(out, "manager.create_foreign_key({f}).await?;");
    }
    for (iname, ix) in &tc.create_indexes {
        let stmt = g.index(name, iname, ix);
        let _ = writeln!(out, "manager.create_index({stmt}).await?;");
    }
    out
}

/// The migration source (not yet formatted) for `up` and `down`, in `backend`'s spelling of
/// types. `Err` lists what cannot be generated.
pub fn render(
    module: &str,
    command: &str,
    up: &Changes,
    down: &Changes,
    backend: DbBackend,
) -> Result<String, Vec<String>> {
    let mut ids = Idents::default();
    let mut uses = Uses::default();
    let mut errors: Vec<String> = up.unsupported.clone();
    let (up_body, up_db, down_body, down_db) = {
        let mut g = Gen {
            backend,
            refill: false,
            ids: &mut ids,
            uses: &mut uses,
            errors: &mut errors,
        };
        let up_body = body(&mut g, up);
        let up_db = std::mem::take(&mut g.uses.backend);
        g.refill = true;
        let down_body = body(&mut g, down);
        (up_body, up_db, down_body, g.uses.backend)
    };
    if !errors.is_empty() {
        errors.dedup();
        return Err(errors);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! Generated by `{command}` from the entity crate; review it before applying.\n//!"
    );
    for line in up.summary() {
        let _ = writeln!(out, "//! - {line}");
    }
    if !up.warnings.is_empty() {
        let _ = writeln!(out, "//!");
        for w in &up.warnings {
            let _ = writeln!(out, "//! WARNING: {w}");
        }
    }
    let _ = writeln!(
        out,
        "//!\n//! Schema after this migration: migration/snapshots/{module}.json (used by the next\n\
         //! `generate --autogenerate`; regenerate rather than edit it)."
    );
    out.push_str("\nuse sea_orm_migration::prelude::*;\n");
    if uses.sqlite_branch {
        out.push_str("use sea_orm_migration::sea_orm::DbBackend;\n");
    }
    if uses.runtime {
        out.push_str("\nuse migration_engine::author::rebuild as runtime;\n");
    }
    if !uses.helpers.is_empty() {
        let list: Vec<&str> = uses.helpers.iter().copied().collect();
        let _ = writeln!(
            out,
            "{}use migration_engine::author::columns::{{{}}};",
            if uses.runtime { "" } else { "\n" },
            list.join(", ")
        );
    }
    let db_line = |used: bool| {
        if used {
            "let db = manager.get_database_backend();\n"
        } else {
            ""
        }
    };
    let (up_db, down_db) = (db_line(up_db), db_line(down_db));
    let _ = write!(
        out,
        "\n#[derive(DeriveMigrationName)]\npub struct Migration;\n\n\
         #[async_trait::async_trait]\nimpl MigrationTrait for Migration {{\n\
         async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\n{up_db}{up_body}\nOk(())\n}}\n\n\
         async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{\n{down_db}{down_body}\nOk(())\n}}\n}}\n"
    );
    out.push_str(&ids.render());
    Ok(out)
}
