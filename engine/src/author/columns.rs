//! Column builders shared by the migrations: the spec's SQLAlchemy types mapped to the closest
//! type each backend has (see `SEAORM-NOTES.md`).
//!
//! | spec            | PostgreSQL                     | MySQL/MariaDB  | SQLite          |
//! |-----------------|--------------------------------|----------------|-----------------|
//! | `Integer` PK    | `integer` identity             | `int` auto_inc | `integer` PK    |
//! | `String(n)`     | `varchar(n)`                   | `varchar(n)`   | `varchar(n)`    |
//! | `Float`         | `double precision`             | `double`       | `double`        |
//! | `DateTime`      | `timestamp without time zone`  | `datetime(6)`  | `datetime_text` |
//! | `JSONB`         | `jsonb`                        | `json`         | `json_text`     |
//! | `BYTEA`         | `bytea`                        | `longblob`     | `blob`          |

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

/// Auto-increment integer primary key.
pub fn pk(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .take()
}

/// `VARCHAR(len)`, NOT NULL unless `nullable`.
pub fn string(name: impl IntoIden, len: u32, nullable: bool) -> ColumnDef {
    nullability(ColumnDef::new(name).string_len(len).take(), nullable)
}

/// `TEXT`.
pub fn text(name: impl IntoIden, nullable: bool) -> ColumnDef {
    nullability(ColumnDef::new(name).text().take(), nullable)
}

/// 32-bit integer.
pub fn integer(name: impl IntoIden, nullable: bool) -> ColumnDef {
    nullability(ColumnDef::new(name).integer().take(), nullable)
}

/// Double-precision float (SQLAlchemy `Float` on PostgreSQL).
pub fn float(name: impl IntoIden, nullable: bool) -> ColumnDef {
    nullability(ColumnDef::new(name).double().take(), nullable)
}

/// Boolean with a server-side default.
pub fn boolean(name: impl IntoIden, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .take()
}

/// Timestamp without time zone, microsecond precision on every backend.
pub fn timestamp(backend: DbBackend, name: impl IntoIden, nullable: bool) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::MySql => col.custom("datetime(6)"),
        _ => col.date_time(),
    };
    nullability(col, nullable)
}

/// JSON document: `jsonb` on PostgreSQL, `json` elsewhere.
pub fn json(backend: DbBackend, name: impl IntoIden, nullable: bool) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::Postgres => col.json_binary(),
        _ => col.json(),
    };
    nullability(col, nullable)
}

/// Binary data: `bytea` on PostgreSQL, `longblob` on MySQL (a plain `blob` stops at 64 KiB),
/// `blob` on SQLite.
pub fn bytes(backend: DbBackend, name: impl IntoIden, nullable: bool) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DbBackend::MySql => col.custom("longblob"),
        _ => col.blob(),
    };
    nullability(col, nullable)
}

fn nullability(mut col: ColumnDef, nullable: bool) -> ColumnDef {
    if nullable {
        col.null();
    } else {
        col.not_null();
    }
    col
}

/// A foreign key named the way PostgreSQL names an unnamed one (`{table}_{column}_fkey`),
/// so the schema matches the spec's Alembic output on every backend.
pub fn foreign_key(
    table: impl IntoIden,
    column: impl IntoIden,
    ref_table: impl IntoIden,
    ref_column: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let (table, column) = (table.into_iden(), column.into_iden());
    let name = format!("{}_{}_fkey", table, column);
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(ref_table, ref_column)
        .on_delete(on_delete)
        .take()
}

/// `CREATE INDEX name ON table (columns...)`.
pub fn index(
    name: &str,
    table: impl IntoIden + 'static,
    columns: impl IntoIterator<Item = impl IntoIden + 'static>,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for column in columns {
        stmt.col(column);
    }
    stmt
}
