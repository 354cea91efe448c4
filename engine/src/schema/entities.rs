//! [`Entities`]: the schema a project's SeaORM entities declare, handed to the engine by the
//! caller (see [`crate::Config::with_entities`]). SeaORM models carry columns, keys and
//! relations but no named secondary indexes and no renames, so those are declared here too.
//!
//! Entities are registered by type rather than through SeaORM 2's entity registry (feature
//! `entity-registry`): its `EntitySchemaInfo` keeps the table and index statements private, so
//! it cannot give the column types, keys and foreign-key actions that drift compares.
//!
//! ```ignore
//! let entities = Entities::new()
//!     .entity::<cake::Entity>()
//!     .entity::<fruit::Entity>()
//!     .index("fruit", "idx_fruit_name", &["name"], false);
//! ```

use std::collections::BTreeMap;

use sea_orm::sea_query::{ForeignKeyAction, StringLen};
use sea_orm::{
    ColumnTrait, ColumnType, DbBackend, EntityTrait, IdenStatic, Iterable, PrimaryKeyToColumn,
    PrimaryKeyTrait, RelationTrait,
};

use crate::schema::{Column, ForeignKey, Index, Schema, Table};

/// A declared rename, for `generate --autogenerate`: without it, a table or column that
/// disappears while another appears is generated as a drop plus an add (losing its data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rename {
    /// Table `from` becomes `to`.
    Table {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Column `from` of `table` (its name after any table rename) becomes `to`.
    Column {
        /// The table.
        table: String,
        /// Old column name.
        from: String,
        /// New column name.
        to: String,
    },
}

impl Rename {
    /// The same rename, backwards.
    pub fn reversed(&self) -> Rename {
        match self {
            Rename::Table { from, to } => Rename::Table {
                from: to.clone(),
                to: from.clone(),
            },
            Rename::Column { table, from, to } => Rename::Column {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            },
        }
    }
}

/// A named secondary index declared next to the entities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredIndex {
    /// Table the index belongs to.
    pub table: String,
    /// Index name.
    pub name: String,
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
}

/// The closed value set of a column mapped to a string- or integer-backed `ActiveEnum`
/// (SeaORM column definitions carry the column's type, not its values), for `verify`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnumColumn {
    /// Table.
    pub table: String,
    /// Column.
    pub column: String,
    /// The values the entity can read, as stored.
    pub values: Vec<String>,
}

type TableOf = fn(DbBackend, &[DeclaredIndex]) -> (String, Table);

/// The entity schema of a project: its entities (referenced tables first), named indexes and
/// declared renames.
#[derive(Clone, Default)]
pub struct Entities {
    tables: Vec<TableOf>,
    indexes: Vec<DeclaredIndex>,
    renames: Vec<Rename>,
    enums: Vec<EnumColumn>,
}

impl Entities {
    /// No entities.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds entity `E`.
    pub fn entity<E: EntityTrait + Default>(mut self) -> Self {
        self.add_entity::<E>();
        self
    }

    /// Adds entity `E` in place.
    pub fn add_entity<E: EntityTrait + Default>(&mut self) {
        self.tables.push(entity_table::<E>);
    }

    /// Declares a named secondary index.
    pub fn index(mut self, table: &str, name: &str, columns: &[&str], unique: bool) -> Self {
        self.indexes.push(DeclaredIndex {
            table: table.into(),
            name: name.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            unique,
        });
        self
    }

    /// Declares that `table.column` holds `ActiveEnum` `E`: the values its variants store.
    pub fn enum_column<E>(mut self, table: &str, column: &str) -> Self
    where
        E: sea_orm::ActiveEnum,
        E::Value: ToString,
    {
        self.enums.push(EnumColumn {
            table: table.into(),
            column: column.into(),
            values: E::values().iter().map(ToString::to_string).collect(),
        });
        self
    }

    /// The declared enum columns.
    pub fn enum_columns(&self) -> &[EnumColumn] {
        &self.enums
    }

    /// Declares a rename (oldest first).
    pub fn rename(mut self, rename: Rename) -> Self {
        self.renames.push(rename);
        self
    }

    /// How many entities.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether there are no entities.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The declared named indexes.
    pub fn indexes(&self) -> &[DeclaredIndex] {
        &self.indexes
    }

    /// The declared renames, oldest first.
    pub fn renames(&self) -> &[Rename] {
        &self.renames
    }

    /// The schema the entities define, as `backend` would report it.
    pub fn schema(&self, backend: DbBackend) -> Schema {
        let tables: BTreeMap<String, Table> = self
            .tables
            .iter()
            .map(|table_of| table_of(backend, &self.indexes))
            .collect();
        Schema { tables }
    }
}

/// The native type `backend` reports (see [`crate::schema`]) for a SeaORM column type,
/// following the project's mapping (`migration::columns`).
pub fn native_type(backend: DbBackend, ty: &ColumnType) -> String {
    use sea_orm::DatabaseBackend::{MySql, Postgres};
    match (backend, ty) {
        (Postgres, ColumnType::Integer) => "integer".into(),
        (MySql, ColumnType::Integer) => "int".into(),
        (_, ColumnType::Integer) => "integer".into(),
        (_, ColumnType::BigInteger) => "bigint".into(),
        (_, ColumnType::SmallInteger) => "smallint".into(),
        (Postgres, ColumnType::String(StringLen::N(n))) => format!("character varying({n})"),
        (Postgres, ColumnType::String(_)) => "character varying".into(),
        (MySql, ColumnType::String(StringLen::N(n))) => format!("varchar({n})"),
        (MySql, ColumnType::String(_)) => "varchar(255)".into(),
        (_, ColumnType::String(StringLen::N(n))) => format!("varchar({n})"),
        (_, ColumnType::String(_)) => "varchar".into(),
        (_, ColumnType::Text) => "text".into(),
        (Postgres, ColumnType::Double) => "double precision".into(),
        (_, ColumnType::Double) => "double".into(),
        (Postgres, ColumnType::Float) => "real".into(),
        (_, ColumnType::Float) => "float".into(),
        (MySql, ColumnType::Boolean) => "tinyint(1)".into(),
        (_, ColumnType::Boolean) => "boolean".into(),
        (Postgres, ColumnType::DateTime) => "timestamp without time zone".into(),
        (MySql, ColumnType::DateTime) => "datetime(6)".into(),
        (_, ColumnType::DateTime) => "datetime_text".into(),
        (Postgres, ColumnType::Json) => "json".into(),
        (Postgres, ColumnType::JsonBinary) => "jsonb".into(),
        (MySql, ColumnType::Json | ColumnType::JsonBinary) => "json".into(),
        (_, ColumnType::Json | ColumnType::JsonBinary) => "json_text".into(),
        (Postgres, ColumnType::Blob | ColumnType::VarBinary(_) | ColumnType::Binary(_)) => {
            "bytea".into()
        }
        (MySql, ColumnType::Blob) => "longblob".into(),
        (_, ColumnType::Blob) => "blob".into(),
        (_, other) => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn action(a: Option<ForeignKeyAction>, backend: DbBackend) -> String {
    match a {
        Some(ForeignKeyAction::Cascade) => "CASCADE",
        Some(ForeignKeyAction::SetNull) => "SET NULL",
        Some(ForeignKeyAction::Restrict) => "RESTRICT",
        Some(ForeignKeyAction::SetDefault) => "SET DEFAULT",
        Some(ForeignKeyAction::NoAction) => "NO ACTION",
        None if backend == DbBackend::MySql => "RESTRICT",
        _ => "NO ACTION",
    }
    .to_string()
}

fn default_text(expr: &sea_orm::sea_query::SimpleExpr) -> String {
    use sea_orm::sea_query::{SimpleExpr, Value};
    match expr {
        SimpleExpr::Value(Value::Bool(Some(b))) => b.to_string(),
        SimpleExpr::Value(Value::Int(Some(v))) => v.to_string(),
        SimpleExpr::Value(Value::BigInt(Some(v))) => v.to_string(),
        SimpleExpr::Value(Value::String(Some(s))) => format!("'{s}'"),
        other => format!("{other:?}"),
    }
}

fn entity_table<E: EntityTrait + Default>(
    backend: DbBackend,
    indexes: &[DeclaredIndex],
) -> (String, Table) {
    let entity = E::default();
    let name = entity.table_name().to_string();
    let primary_key: Vec<String> = E::PrimaryKey::iter()
        .map(|pk| pk.into_column().as_str().to_string())
        .collect();
    let auto = <E::PrimaryKey as PrimaryKeyTrait>::auto_increment() && primary_key.len() == 1;
    let mut table = Table {
        primary_key: primary_key.clone(),
        ..Table::default()
    };
    for col in E::Column::iter() {
        let def = col.def();
        let cname = col.as_str().to_string();
        if def.is_unique() {
            table.uniques.insert(vec![cname.clone()]);
        }
        let data_type = native_type(backend, def.get_column_type());
        table.columns.push(Column {
            auto_increment: auto && primary_key.contains(&cname),
            nullable: def.is_null(),
            default: def.get_column_default().map(default_text),
            name: cname,
            data_type,
        });
    }
    for rel in E::Relation::iter() {
        let def = rel.def();
        // `belongs_to` (the side holding the FK columns) builds a def with `is_owner: false`;
        // `has_one`/`has_many` build the reverse with `is_owner: true`.
        if def.is_owner || def.skip_fk {
            continue;
        }
        table.foreign_keys.insert(ForeignKey {
            columns: def
                .from_col
                .clone()
                .into_iter()
                .map(|c| c.to_string())
                .collect(),
            ref_table: def.to_tbl.sea_orm_table().to_string(),
            ref_columns: def
                .to_col
                .clone()
                .into_iter()
                .map(|c| c.to_string())
                .collect(),
            on_delete: action(def.on_delete, backend),
            on_update: action(def.on_update, backend),
        });
    }
    for ix in indexes.iter().filter(|ix| ix.table == name) {
        table.indexes.insert(
            ix.name.clone(),
            Index {
                columns: ix.columns.clone(),
                unique: ix.unique,
            },
        );
    }
    (name, table)
}
