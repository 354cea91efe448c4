//! What a live database reports about its schema, normalised enough to compare: tables,
//! columns (native type, nullability, default, auto-increment), primary key, unique
//! constraints, foreign keys (with ON DELETE/ON UPDATE) and indexes.
//!
//! Types stay in each backend's own spelling (`character varying(50)`, `varchar(50)`, ...):
//! comparisons are per backend. MariaDB's `JSON` (a `longtext` with a `json_valid` check) is
//! reported as `json`.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};

/// The schema of one database (PostgreSQL: the current schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Table {
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Primary key columns in key order.
    pub primary_key: Vec<String>,
    /// Unique constraints (each a column list).
    pub uniques: BTreeSet<Vec<String>>,
    /// Foreign keys.
    pub foreign_keys: BTreeSet<ForeignKey>,
    /// Indexes other than the primary key and unique constraints, by name.
    pub indexes: BTreeMap<String, Index>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Native type, lowercase.
    pub data_type: String,
    /// Whether NULL is allowed.
    #[serde(default)]
    pub nullable: bool,
    /// Server default, normalised (`true`/`false` for booleans); `None` for none.
    #[serde(default)]
    pub default: Option<String>,
    /// Identity / serial / AUTO_INCREMENT / SQLite rowid alias.
    #[serde(default)]
    pub auto_increment: bool,
}

/// One foreign key (names are not compared: SQLite does not keep them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ForeignKey {
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns.
    pub ref_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `RESTRICT`, `NO ACTION` or `SET DEFAULT`.
    pub on_delete: String,
    /// Same values as `on_delete`.
    pub on_update: String,
}

/// One index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Index {
    /// Indexed columns in order.
    pub columns: Vec<String>,
    /// Whether it is a unique index.
    #[serde(default)]
    pub unique: bool,
}

impl Schema {
    /// Table names, sorted.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.keys().map(String::as_str).collect()
    }

    /// This schema without the named tables (e.g. the migration ledger).
    pub fn without(mut self, tables: &[&str]) -> Self {
        for t in tables {
            self.tables.remove(*t);
        }
        self
    }
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads the schema of the connected database.
pub async fn inspect<C: ConnectionTrait>(db: &C) -> Result<Schema, DbErr> {
    // Hand-written per backend rather than sea-schema's discovery; each function says why.
    match db.get_database_backend() {
        DbBackend::Postgres => inspect_postgres(db).await,
        DbBackend::MySql => inspect_mysql(db).await,
        _ => inspect_sqlite(db).await,
    }
}

async fn rows<C: ConnectionTrait>(db: &C, sql: &str) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
}

fn s(row: &QueryResult, col: &str) -> Result<String, DbErr> {
    row.try_get::<String>("", col)
}

fn opt_s(row: &QueryResult, col: &str) -> Result<Option<String>, DbErr> {
    row.try_get::<Option<String>>("", col)
}

fn split_cols(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn normalize_default(default: Option<String>, data_type: &str) -> Option<String> {
    let d = default?;
    let t = d.trim();
    if t.eq_ignore_ascii_case("null") || t.is_empty() {
        return None;
    }
    let is_bool = matches!(data_type, "boolean" | "tinyint(1)" | "bool");
    if is_bool {
        return Some(match t.to_ascii_lowercase().as_str() {
            "1" | "true" | "'1'" | "b'1'" => "true".into(),
            "0" | "false" | "'0'" | "b'0'" => "false".into(),
            other => other.to_string(),
        });
    }
    Some(t.to_string())
}

async fn inspect_postgres<C: ConnectionTrait>(db: &C) -> Result<Schema, DbErr> {
    // Not sea-schema: its PostgreSQL discovery (0.18) reports no non-unique indexes and parses types and defaults into enums (Type, ColumnDefault), losing the catalogue's text (`character varying(50)`, `'x'::character varying`).
    let mut schema = Schema::default();
    for row in rows(db, "SELECT tablename::text AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema()").await? {
        schema.tables.insert(s(&row, "name")?, Table::default());
    }
    let columns = rows(
        db,
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                data_type::text AS data_type, character_maximum_length::int4 AS len, \
                is_nullable::text AS is_nullable, column_default::text AS column_default, \
                is_identity::text AS is_identity \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         ORDER BY table_name, ordinal_position",
    )
    .await?;
    for row in columns {
        let Some(table) = schema.tables.get_mut(&s(&row, "table_name")?) else {
            continue;
        };
        let mut data_type = s(&row, "data_type")?;
        if let Some(len) = row.try_get::<Option<i32>>("", "len")? {
            data_type = format!("{data_type}({len})");
        }
        let default = opt_s(&row, "column_default")?;
        let serial = default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        let identity = s(&row, "is_identity")? == "YES";
        table.columns.push(Column {
            name: s(&row, "column_name")?,
            nullable: s(&row, "is_nullable")? == "YES",
            default: if serial {
                None
            } else {
                normalize_default(default, &data_type)
            },
            auto_increment: serial || identity,
            data_type,
        });
    }
    let constraints = rows(
        db,
        "SELECT cl.relname::text AS table_name, c.contype::text AS kind, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
                   FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
                rf.relname::text AS ref_table, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
                   FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS ref_columns, \
                c.confdeltype::text AS on_delete, c.confupdtype::text AS on_update \
         FROM pg_constraint c \
         JOIN pg_class cl ON cl.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = cl.relnamespace \
         LEFT JOIN pg_class rf ON rf.oid = c.confrelid \
         WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f')",
    )
    .await?;
    for row in constraints {
        let Some(table) = schema.tables.get_mut(&s(&row, "table_name")?) else {
            continue;
        };
        let columns = split_cols(&opt_s(&row, "columns")?.unwrap_or_default());
        match s(&row, "kind")?.as_str() {
            "p" => table.primary_key = columns,
            "u" => {
                table.uniques.insert(columns);
            }
            _ => {
                let action = |code: Option<String>| match code.as_deref() {
                    Some("c") => "CASCADE",
                    Some("n") => "SET NULL",
                    Some("r") => "RESTRICT",
                    Some("d") => "SET DEFAULT",
                    _ => "NO ACTION",
                };
                table.foreign_keys.insert(ForeignKey {
                    columns,
                    ref_table: opt_s(&row, "ref_table")?.unwrap_or_default(),
                    ref_columns: split_cols(&opt_s(&row, "ref_columns")?.unwrap_or_default()),
                    on_delete: action(opt_s(&row, "on_delete")?).into(),
                    on_update: action(opt_s(&row, "on_update")?).into(),
                });
            }
        }
    }
    let indexes = rows(
        db,
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, ix.indisunique AS is_unique, \
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
                   FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns \
         FROM pg_index ix \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND NOT ix.indisprimary \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype IN ('p', 'u'))",
    )
    .await?;
    for row in indexes {
        let Some(table) = schema.tables.get_mut(&s(&row, "table_name")?) else {
            continue;
        };
        table.indexes.insert(
            s(&row, "index_name")?,
            Index {
                columns: split_cols(&opt_s(&row, "columns")?.unwrap_or_default()),
                unique: row.try_get::<bool>("", "is_unique")?,
            },
        );
    }
    Ok(schema)
}

async fn inspect_mysql<C: ConnectionTrait>(db: &C) -> Result<Schema, DbErr> {
    // Not sea-schema: its MySQL discovery (0.18) parses column_type and column_default into enums (Type, ColumnDefault) without the reported text (`int(11)`, `datetime(6)`, MariaDB's `'x'`), and ignores the CHECK (json_valid(..)) that marks MariaDB JSON.
    let mut schema = Schema::default();
    for row in rows(
        db,
        "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
    )
    .await?
    {
        schema.tables.insert(s(&row, "name")?, Table::default());
    }
    // MariaDB stores JSON as longtext guarded by CHECK (json_valid(col)).
    let mut json_cols = BTreeSet::new();
    if let Ok(checks) = rows(
        db,
        "SELECT CAST(table_name AS CHAR) AS table_name, CAST(check_clause AS CHAR) AS clause \
         FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()",
    )
    .await
    {
        for row in checks {
            let clause = s(&row, "clause")?;
            if let Some(rest) = clause.strip_prefix("json_valid(") {
                let col = rest.trim_end_matches(')').trim_matches('`').to_string();
                json_cols.insert((s(&row, "table_name")?, col));
            }
        }
    }
    let columns = rows(
        db,
        "SELECT CAST(table_name AS CHAR) AS table_name, CAST(column_name AS CHAR) AS column_name, \
                CAST(column_type AS CHAR) AS column_type, CAST(is_nullable AS CHAR) AS is_nullable, \
                CAST(column_default AS CHAR) AS column_default, CAST(extra AS CHAR) AS extra \
         FROM information_schema.columns WHERE table_schema = DATABASE() \
         ORDER BY table_name, ordinal_position",
    )
    .await?;
    for row in columns {
        let table_name = s(&row, "table_name")?;
        let Some(table) = schema.tables.get_mut(&table_name) else {
            continue;
        };
        let name = s(&row, "column_name")?;
        let mut data_type = s(&row, "column_type")?.to_ascii_lowercase();
        if data_type == "longtext" && json_cols.contains(&(table_name.clone(), name.clone())) {
            data_type = "json".into();
        }
        let extra = s(&row, "extra")?.to_ascii_lowercase();
        table.columns.push(Column {
            name,
            nullable: s(&row, "is_nullable")? == "YES",
            default: normalize_default(opt_s(&row, "column_default")?, &data_type),
            auto_increment: extra.contains("auto_increment"),
            data_type,
        });
    }
    let stats = rows(
        db,
        "SELECT CAST(table_name AS CHAR) AS table_name, CAST(index_name AS CHAR) AS index_name, \
                CAST(non_unique AS SIGNED) AS non_unique, \
                CAST(GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ',') AS CHAR) AS columns \
         FROM information_schema.statistics WHERE table_schema = DATABASE() \
         GROUP BY table_name, index_name, non_unique",
    )
    .await?;
    let fk_rows = rows(
        db,
        "SELECT CAST(rc.table_name AS CHAR) AS table_name, CAST(rc.constraint_name AS CHAR) AS name, \
                CAST(rc.referenced_table_name AS CHAR) AS ref_table, \
                CAST(rc.delete_rule AS CHAR) AS on_delete, CAST(rc.update_rule AS CHAR) AS on_update, \
                CAST(GROUP_CONCAT(k.column_name ORDER BY k.ordinal_position SEPARATOR ',') AS CHAR) AS columns, \
                CAST(GROUP_CONCAT(k.referenced_column_name ORDER BY k.ordinal_position SEPARATOR ',') AS CHAR) AS ref_columns \
         FROM information_schema.referential_constraints rc \
         JOIN information_schema.key_column_usage k \
           ON k.constraint_schema = rc.constraint_schema AND k.constraint_name = rc.constraint_name \
          AND k.table_name = rc.table_name \
         WHERE rc.constraint_schema = DATABASE() \
         GROUP BY rc.table_name, rc.constraint_name, rc.referenced_table_name, rc.delete_rule, rc.update_rule",
    )
    .await?;
    for row in stats {
        let Some(table) = schema.tables.get_mut(&s(&row, "table_name")?) else {
            continue;
        };
        let index_name = s(&row, "index_name")?;
        let columns = split_cols(&opt_s(&row, "columns")?.unwrap_or_default());
        let unique = row.try_get::<i64>("", "non_unique")? == 0;
        if index_name == "PRIMARY" {
            table.primary_key = columns;
        } else if unique {
            table.uniques.insert(columns);
        } else {
            table.indexes.insert(index_name, Index { columns, unique });
        }
    }
    for row in fk_rows {
        let Some(table) = schema.tables.get_mut(&s(&row, "table_name")?) else {
            continue;
        };
        table.foreign_keys.insert(ForeignKey {
            columns: split_cols(&opt_s(&row, "columns")?.unwrap_or_default()),
            ref_table: s(&row, "ref_table")?,
            ref_columns: split_cols(&opt_s(&row, "ref_columns")?.unwrap_or_default()),
            on_delete: s(&row, "on_delete")?.to_ascii_uppercase(),
            on_update: s(&row, "on_update")?.to_ascii_uppercase(),
        });
    }
    Ok(schema)
}

async fn inspect_sqlite<C: ConnectionTrait>(db: &C) -> Result<Schema, DbErr> {
    // Not sea-schema: its SQLite discovery (0.18) maps declared types to sea-query's ColumnType (`integer` becomes BigInteger, `datetime_text` DateTime) and strips quotes from defaults, parsing them as i64/f32, so the declared text is lost.
    let mut schema = Schema::default();
    let tables = rows(
        db,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .await?;
    for row in tables {
        let name = s(&row, "name")?;
        let sql = opt_s(&row, "sql")?.unwrap_or_default().to_ascii_uppercase();
        let quoted = name.replace('\'', "''");
        let mut table = Table::default();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let cols = rows(
            db,
            &format!("SELECT name, type, \"notnull\" AS nn, dflt_value, pk FROM pragma_table_info('{quoted}') ORDER BY cid"),
        )
        .await?;
        let single_int_pk = cols
            .iter()
            .filter(|r| r.try_get::<i64>("", "pk").unwrap_or(0) > 0)
            .count()
            == 1;
        for c in cols {
            let col_name = s(&c, "name")?;
            let data_type = s(&c, "type")?.to_ascii_lowercase();
            let pk_pos = c.try_get::<i64>("", "pk")?;
            if pk_pos > 0 {
                pk.push((pk_pos, col_name.clone()));
            }
            let rowid_alias = pk_pos > 0 && single_int_pk && data_type == "integer";
            table.columns.push(Column {
                auto_increment: rowid_alias && sql.contains("AUTOINCREMENT"),
                nullable: c.try_get::<i64>("", "nn")? == 0 && !rowid_alias,
                default: normalize_default(opt_s(&c, "dflt_value")?, &data_type),
                name: col_name,
                data_type,
            });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, n)| n).collect();
        let index_list = rows(
            db,
            &format!(
                "SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list('{quoted}')"
            ),
        )
        .await?;
        for ix in index_list {
            let ix_name = s(&ix, "name")?;
            let origin = s(&ix, "origin")?;
            let unique = ix.try_get::<i64>("", "is_unique")? == 1;
            let ix_quoted = ix_name.replace('\'', "''");
            let columns: Vec<String> = rows(
                db,
                &format!("SELECT name FROM pragma_index_info('{ix_quoted}') ORDER BY seqno"),
            )
            .await?
            .iter()
            .map(|r| s(r, "name"))
            .collect::<Result<_, _>>()?;
            match origin.as_str() {
                "pk" => {}
                "u" => {
                    table.uniques.insert(columns);
                }
                _ => {
                    table.indexes.insert(ix_name, Index { columns, unique });
                }
            }
        }
        let fks = rows(
            db,
            &format!(
                "SELECT id, seq, \"table\" AS ref_table, \"from\" AS col, \"to\" AS ref_col, on_update, on_delete \
                 FROM pragma_foreign_key_list('{quoted}') ORDER BY id, seq"
            ),
        )
        .await?;
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for fk in fks {
            let entry = by_id
                .entry(fk.try_get::<i64>("", "id")?)
                .or_insert_with(|| ForeignKey {
                    columns: Vec::new(),
                    ref_table: String::new(),
                    ref_columns: Vec::new(),
                    on_delete: String::new(),
                    on_update: String::new(),
                });
            entry.columns.push(s(&fk, "col")?);
            entry.ref_table = s(&fk, "ref_table")?;
            entry
                .ref_columns
                .push(opt_s(&fk, "ref_col")?.unwrap_or_default());
            entry.on_delete = s(&fk, "on_delete")?.to_ascii_uppercase();
            entry.on_update = s(&fk, "on_update")?.to_ascii_uppercase();
        }
        table.foreign_keys = by_id.into_values().collect();
        schema.tables.insert(name, table);
    }
    Ok(schema)
}
