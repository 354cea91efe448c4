//! JSON fixtures: `{"users": [{...}, ...], "robots": [...], ...}`, one array per table of the
//! entity crate, each record an object of column values in the models' JSON form (timestamps
//! as `2025-01-28T10:00:00`, enums as their stored strings, JSON columns as JSON).
//!
//! [`load`] validates every record against the entities (table, column names, types, foreign
//! keys) and upserts it, in one transaction: matched by `id` when the record has one, else by
//! natural key (users.username, robots.name, safety_zones.zone_name), else inserted.
//! [`dump`] writes the same format. `users.password_hash` is left out of dumps unless asked
//! for: hashes are secrets (they allow offline guessing).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use entity::prelude::*;
use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
    ModelTrait, QueryFilter, QueryOrder, Statement, TransactionTrait, Value,
};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::bulk::{bigint, quote};
use crate::{SeedError, TableCount};

/// Foreign keys of the schema: (table, column, referenced table). Every one references `id`.
pub const FOREIGN_KEYS: [(&str, &str, &str); 7] = [
    ("telemetry", "robot_id", "robots"),
    ("lidar_obstacles", "scan_id", "lidar_scans"),
    ("safety_events", "robot_id", "robots"),
    ("safety_events", "resolved_by", "users"),
    ("emergency_stops", "robot_id", "robots"),
    ("emergency_stops", "triggered_by", "users"),
    ("emergency_stops", "resolved_by", "users"),
];

/// Natural keys used to match records without an `id`.
pub const NATURAL_KEYS: [(&str, &str); 3] = [
    ("users", "username"),
    ("robots", "name"),
    ("safety_zones", "zone_name"),
];

/// How to load a fixture.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Validate and count, then roll everything back.
    pub dry_run: bool,
    /// Name of the fixture in messages (its path, or `-`).
    pub source_name: String,
}

/// What [`load`] did (or, in a dry run, would do), per table in dependency order.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Per table.
    pub tables: Vec<TableCount>,
}

/// Reads and loads a fixture file.
pub async fn load_file(
    db: &DatabaseConnection,
    path: &std::path::Path,
    dry_run: bool,
) -> Result<LoadReport, SeedError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SeedError::Io {
        action: "read fixture",
        path: name.clone(),
        cause: e.to_string(),
    })?;
    let doc: Json = serde_json::from_str(&text).map_err(|e| SeedError::FixtureDocument {
        source_name: name.clone(),
        problem: format!("not valid JSON ({e})"),
    })?;
    load(
        db,
        &doc,
        &LoadOptions {
            dry_run,
            source_name: name,
        },
    )
    .await
}

/// Validates and upserts `doc` in one transaction; any error leaves the database unchanged.
pub async fn load(
    db: &DatabaseConnection,
    doc: &Json,
    opts: &LoadOptions,
) -> Result<LoadReport, SeedError> {
    let src = opts.source_name.clone();
    let doc_err = |problem: String| SeedError::FixtureDocument {
        source_name: src.clone(),
        problem,
    };
    let Json::Object(tables) = doc else {
        return Err(doc_err(
            "the document must be a JSON object with one array of records per table, e.g. \
             {\"robots\": [{\"name\": \"OHT-50-002\", ...}]}"
                .into(),
        ));
    };
    for (name, records) in tables {
        if !entity::TABLES.contains(&name.as_str()) {
            return Err(doc_err(format!(
                "unknown table `{name}`; the tables are: {}",
                entity::TABLES.join(", ")
            )));
        }
        if !records.is_array() {
            return Err(doc_err(format!(
                "`{name}` must be an array of records, not {}",
                kind(records)
            )));
        }
    }
    // First pass, no database: columns and types of every record.
    for table in entity::TABLES {
        if let Some(Json::Array(records)) = tables.get(table) {
            for (index, record) in records.iter().enumerate() {
                dispatch_validate(table, record).map_err(|problem| SeedError::FixtureRecord {
                    source_name: src.clone(),
                    table: table.to_string(),
                    index,
                    problem,
                })?;
            }
        }
    }
    crate::schema::ensure_migrated(db).await?;
    let txn = db
        .begin()
        .await
        .map_err(SeedError::db("starting a transaction"))?;
    let result = apply(&txn, tables, &src).await;
    match result {
        Ok(tables) if !opts.dry_run => {
            txn.commit()
                .await
                .map_err(SeedError::rolled_back("committing the fixture"))?;
            Ok(LoadReport {
                dry_run: false,
                tables,
            })
        }
        Ok(tables) => {
            let _ = txn.rollback().await;
            Ok(LoadReport {
                dry_run: true,
                tables,
            })
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

async fn apply(
    txn: &DatabaseTransaction,
    tables: &Map<String, Json>,
    src: &str,
) -> Result<Vec<TableCount>, SeedError> {
    let mut counts = Vec::new();
    let mut known: BTreeMap<&'static str, BTreeSet<i64>> = BTreeMap::new();
    for table in entity::TABLES {
        let Some(Json::Array(records)) = tables.get(table) else {
            continue;
        };
        let mut count = TableCount::new(table);
        let mut explicit_ids = false;
        for (index, record) in records.iter().enumerate() {
            let rec_err = |problem: String| SeedError::FixtureRecord {
                source_name: src.to_string(),
                table: table.to_string(),
                index,
                problem,
            };
            let Json::Object(fields) = record else {
                return Err(rec_err("not an object".into()));
            };
            check_foreign_keys(txn, table, fields, &mut known)
                .await
                .map_err(rec_err)?;
            explicit_ids |= fields.get("id").is_some_and(|v| !v.is_null());
            let outcome = dispatch_upsert(txn, table, record).await.map_err(rec_err)?;
            match outcome {
                Outcome::Created => count.created += 1,
                Outcome::Updated => count.updated += 1,
                Outcome::Unchanged => count.unchanged += 1,
            }
        }
        if explicit_ids && txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            let t = quote(sea_orm::DbBackend::Postgres, table);
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {t}), 1), (SELECT COUNT(*) > 0 FROM {t}))"
            ))
            .await
            .map_err(SeedError::rolled_back(format!("moving the id sequence of {table}")))?;
        }
        counts.push(count);
    }
    Ok(counts)
}

async fn check_foreign_keys(
    txn: &DatabaseTransaction,
    table: &str,
    fields: &Map<String, Json>,
    known: &mut BTreeMap<&'static str, BTreeSet<i64>>,
) -> Result<(), String> {
    for (t, column, target) in FOREIGN_KEYS {
        if t != table {
            continue;
        }
        let Some(id) = fields.get(column).and_then(Json::as_i64) else {
            continue;
        };
        if known.get(target).is_some_and(|s| s.contains(&id)) {
            continue;
        }
        let backend = txn.get_database_backend();
        let sql = format!(
            "SELECT {} AS n FROM {} WHERE id = {id}",
            bigint(backend, "COUNT(*)"),
            quote(backend, target)
        );
        let n: i64 = txn
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .map_err(|e| format!("checking {column} = {id}: {e}"))?
            .and_then(|row| row.try_get_by_index::<i64>(0).ok())
            .unwrap_or(0);
        if n == 0 {
            return Err(format!(
                "{column} = {id} refers to {target}.id {id}, which is neither in the database \
                 nor earlier in the fixture; add that {target} record (with \"id\": {id}) or fix \
                 {column}"
            ));
        }
        known.entry(target).or_default().insert(id);
    }
    Ok(())
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

fn dispatch_validate(table: &str, record: &Json) -> Result<(), String> {
    match table {
        "users" => validate::<Users>(record),
        "robots" => validate::<Robots>(record),
        "telemetry" => validate::<Telemetry>(record),
        "lidar_scans" => validate::<LidarScans>(record),
        "lidar_obstacles" => validate::<LidarObstacles>(record),
        "lidar_maps" => validate::<LidarMaps>(record),
        "lidar_paths" => validate::<LidarPaths>(record),
        "safety_events" => validate::<SafetyEvents>(record),
        "safety_zones" => validate::<SafetyZones>(record),
        "emergency_stops" => validate::<EmergencyStops>(record),
        other => Err(format!("unknown table `{other}`")),
    }
}

async fn dispatch_upsert(
    txn: &DatabaseTransaction,
    table: &str,
    record: &Json,
) -> Result<Outcome, String> {
    match table {
        "users" => upsert::<Users>(txn, table, record).await,
        "robots" => upsert::<Robots>(txn, table, record).await,
        "telemetry" => upsert::<Telemetry>(txn, table, record).await,
        "lidar_scans" => upsert::<LidarScans>(txn, table, record).await,
        "lidar_obstacles" => upsert::<LidarObstacles>(txn, table, record).await,
        "lidar_maps" => upsert::<LidarMaps>(txn, table, record).await,
        "lidar_paths" => upsert::<LidarPaths>(txn, table, record).await,
        "safety_events" => upsert::<SafetyEvents>(txn, table, record).await,
        "safety_zones" => upsert::<SafetyZones>(txn, table, record).await,
        "emergency_stops" => upsert::<EmergencyStops>(txn, table, record).await,
        other => Err(format!("unknown table `{other}`")),
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn column_names<E: EntityTrait>() -> Vec<&'static str> {
    E::Column::iter().map(|c| c.as_str()).collect()
}

/// Converts one JSON value to the database value of a column of type `ty`.
fn json_to_value(ty: &ColumnType, v: &Json) -> Result<Value, String> {
    let expect = |what: &str| format!("expected {what}, got {}", kind(v));
    Ok(match ty {
        ColumnType::Integer | ColumnType::SmallInteger | ColumnType::TinyInteger => match v {
            Json::Null => Value::Int(None),
            _ => {
                let n = v.as_i64().ok_or_else(|| expect("an integer"))?;
                Value::Int(Some(
                    i32::try_from(n).map_err(|_| format!("{n} does not fit a 32-bit integer"))?,
                ))
            }
        },
        ColumnType::BigInteger => match v {
            Json::Null => Value::BigInt(None),
            _ => Value::BigInt(Some(v.as_i64().ok_or_else(|| expect("an integer"))?)),
        },
        ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => match v {
            Json::Null => Value::Double(None),
            _ => Value::Double(Some(v.as_f64().ok_or_else(|| expect("a number"))?)),
        },
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => match v {
            Json::Null => Value::String(None),
            _ => Value::String(Some(
                v.as_str().ok_or_else(|| expect("a string"))?.to_string(),
            )),
        },
        ColumnType::Boolean => match v {
            Json::Null => Value::Bool(None),
            _ => Value::Bool(Some(v.as_bool().ok_or_else(|| expect("true or false"))?)),
        },
        ColumnType::DateTime | ColumnType::Timestamp => match v {
            Json::Null => Value::ChronoDateTime(None),
            _ => {
                let s = v
                    .as_str()
                    .ok_or_else(|| expect("a timestamp string such as \"2025-01-28T10:00:00\""))?;
                let t = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
                    .ok_or_else(|| {
                        format!("`{s}` is not a timestamp: use YYYY-MM-DDTHH:MM:SS[.ffffff] (UTC)")
                    })?;
                Value::ChronoDateTime(Some(t))
            }
        },
        ColumnType::Json | ColumnType::JsonBinary => match v {
            Json::Null => Value::Json(None),
            other => Value::Json(Some(Box::new(other.clone()))),
        },
        ColumnType::Blob | ColumnType::Binary(_) | ColumnType::VarBinary(_) => match v {
            Json::Null => Value::Bytes(None),
            Json::Array(items) => Value::Bytes(Some(
                items
                    .iter()
                    .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| "expected an array of bytes (0 to 255)".to_string())?,
            )),
            _ => return Err(expect("an array of bytes (0 to 255)")),
        },
        other => {
            return Err(format!(
                "column type {other:?} is not supported by fixtures"
            ));
        }
    })
}

/// Builds the active model of one record of entity `E`: every given column `Set`, checked
/// for name, type, nullability and enum values.
fn active_model<E>(fields: &Map<String, Json>) -> Result<E::ActiveModel, String>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    let mut am = <E::ActiveModel as ActiveModelTrait>::default();
    for (key, value) in fields {
        let Ok(col) = E::Column::from_str(key) else {
            return Err(format!(
                "unknown column `{key}`; the columns are: {}",
                column_names::<E>().join(", ")
            ));
        };
        let def = col.def();
        if value.is_null() && !def.is_null() {
            return Err(format!("column `{key}` cannot be null"));
        }
        let v = json_to_value(def.get_column_type(), value)
            .map_err(|e| format!("column `{key}` has the wrong type: {e}"))?;
        am.try_set(col, v).map_err(|e| {
            format!("column `{key}` has the wrong type or value ({e}); got {value}")
        })?;
    }
    Ok(am)
}

/// Checks one record against entity `E`: an object, known columns, values of the right type.
fn validate<E>(record: &Json) -> Result<(), String>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    let Json::Object(fields) = record else {
        return Err(format!(
            "must be an object of column values, not {}",
            kind(record)
        ));
    };
    active_model::<E>(fields)?;
    if let Some(value) = fields.get("password_hash") {
        let ok = value
            .as_str()
            .and_then(crate::passwords::inspect)
            .is_some_and(|p| p.algorithm == "argon2id");
        if !ok {
            return Err(
                "password_hash must be an Argon2id PHC string ($argon2id$v=19$m=...), never \
                 a password: create users with default seeding or hash the password first"
                    .into(),
            );
        }
    }
    Ok(())
}

async fn upsert<E>(txn: &DatabaseTransaction, table: &str, record: &Json) -> Result<Outcome, String>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + Sync,
    E::ActiveModel: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
{
    let Json::Object(fields) = record else {
        return Err("not an object".into());
    };
    let am = active_model::<E>(fields)?;
    let given: Vec<E::Column> = E::Column::iter()
        .filter(|c| fields.contains_key(c.as_str()))
        .collect();
    let key = if fields.get("id").is_some_and(|v| !v.is_null()) {
        Some("id")
    } else {
        NATURAL_KEYS
            .iter()
            .find(|(t, c)| *t == table && fields.get(*c).is_some_and(|v| !v.is_null()))
            .map(|(_, c)| *c)
    };
    let existing = match key.and_then(|k| E::Column::from_str(k).ok()) {
        Some(col) => {
            let value = am.get(col).into_value().unwrap_or(Value::Int(None));
            E::find()
                .filter(Condition::all().add(col.eq(value)))
                .order_by_asc(col)
                .one(txn)
                .await
                .map_err(|e| format!("looking it up failed: {e}"))?
        }
        None => None,
    };
    match existing {
        Some(model) => {
            let changed: Vec<E::Column> = given
                .iter()
                .copied()
                .filter(|c| am.get(*c).into_value() != Some(model.get(*c)))
                .collect();
            if changed.is_empty() {
                return Ok(Outcome::Unchanged);
            }
            let mut update = model.into_active_model();
            for col in changed {
                if let Some(v) = am.get(col).into_value() {
                    update
                        .try_set(col, v)
                        .map_err(|e| format!("column `{}`: {e}", col.as_str()))?;
                }
            }
            update
                .update(txn)
                .await
                .map_err(|e| format!("the database refused the update: {e}"))?;
            Ok(Outcome::Updated)
        }
        None => {
            let missing: Vec<&str> = E::Column::iter()
                .filter(|c| {
                    let def = c.def();
                    let name = c.as_str();
                    !def.is_null()
                        && def.get_column_default().is_none()
                        && !matches!(name, "id" | "created_at" | "updated_at")
                        && fields.get(name).is_none_or(|v| v.is_null())
                })
                .map(|c| c.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "it is a new row but lacks required column(s) {}",
                    missing.join(", ")
                ));
            }
            am.insert(txn)
                .await
                .map_err(|e| format!("the database refused the insert: {e}"))?;
            Ok(Outcome::Created)
        }
    }
}

/// How to dump.
#[derive(Debug, Clone, Copy, Default)]
pub struct DumpOptions {
    /// Include `users.password_hash` (needed to load users into an empty database).
    pub include_password_hashes: bool,
}

/// Every row of every table, ordered by id, in the fixture format.
pub async fn dump(db: &DatabaseConnection, opts: DumpOptions) -> Result<Json, SeedError> {
    crate::schema::ensure_migrated(db).await?;
    let mut doc = Map::new();
    for table in entity::TABLES {
        let rows = match table {
            "users" => dump_table::<Users>(db, opts).await?,
            "robots" => dump_table::<Robots>(db, opts).await?,
            "telemetry" => dump_table::<Telemetry>(db, opts).await?,
            "lidar_scans" => dump_table::<LidarScans>(db, opts).await?,
            "lidar_obstacles" => dump_table::<LidarObstacles>(db, opts).await?,
            "lidar_maps" => dump_table::<LidarMaps>(db, opts).await?,
            "lidar_paths" => dump_table::<LidarPaths>(db, opts).await?,
            "safety_events" => dump_table::<SafetyEvents>(db, opts).await?,
            "safety_zones" => dump_table::<SafetyZones>(db, opts).await?,
            "emergency_stops" => dump_table::<EmergencyStops>(db, opts).await?,
            _ => Vec::new(),
        };
        doc.insert(table.to_string(), Json::Array(rows));
    }
    Ok(Json::Object(doc))
}

async fn dump_table<E>(db: &DatabaseConnection, opts: DumpOptions) -> Result<Vec<Json>, SeedError>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    let table = E::default().as_str().to_string();
    let id = E::Column::from_str("id").ok();
    let mut query = E::find();
    if let Some(id) = id {
        query = query.order_by_asc(id);
    }
    let models = query
        .all(db)
        .await
        .map_err(SeedError::db(format!("reading {table}")))?;
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let mut v = serde_json::to_value(&m).map_err(|e| SeedError::Database {
            action: format!("serializing a row of {table}"),
            cause: e.to_string(),
        })?;
        // Columns the model does not serialize (users.password_hash).
        if opts.include_password_hashes
            && let Json::Object(obj) = &mut v
        {
            for col in E::Column::iter() {
                if !obj.contains_key(col.as_str()) {
                    obj.insert(
                        col.as_str().to_string(),
                        sea_orm::sea_query::sea_value_to_json_value(&m.get(col)),
                    );
                }
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// Writes `doc` as pretty JSON to `path` (created with mode 0600 on Unix).
pub fn write_file(path: &std::path::Path, doc: &Json) -> Result<(), SeedError> {
    use std::io::Write;
    let io_err = |e: std::io::Error| SeedError::Io {
        action: "write dump to",
        path: path.display().to_string(),
        cause: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err)?;
    let text = serde_json::to_string_pretty(doc).map_err(|e| SeedError::Io {
        action: "serialize dump for",
        path: path.display().to_string(),
        cause: e.to_string(),
    })?;
    file.write_all(text.as_bytes()).map_err(io_err)?;
    file.write_all(b"\n").map_err(io_err)?;
    Ok(())
}
