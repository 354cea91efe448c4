//! `generate NAME --autogenerate`: writes a migration that turns the schema at the latest
//! migration into the schema the project's entities define (see [`crate::schema::entities::Entities`]),
//! with a `down` that turns it back, without a database.
//!
//! The schema at the latest migration comes from its snapshot, `migration/snapshots/<module>.json`:
//! the entity schema in PostgreSQL's spelling, written beside each generated migration (the
//! three hand-written spec migrations have a bootstrap snapshot). With `-u URL` the diff is taken
//! against that live database instead (in its backend's spelling), and the snapshot is written
//! as well. Renames are only detected when declared (see [`crate::schema::entities::Entities::rename`]).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend};

use crate::config::Config;
use crate::error::MigrateError;
use crate::generate::{self, Clock, GeneratedMigration};
use crate::schema::entities::Entities;
use crate::schema::{self, Schema};

pub use crate::generate::diff::{Changes, TableChange};
use crate::generate::{codegen, diff};
pub use crate::schema::entities::Rename;

/// What `generate --autogenerate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The entity schema equals the schema at head: no file was written.
    NothingToChange {
        /// What the entities were compared with (a snapshot path or a database).
        compared_with: String,
        /// Side effects worth telling (a missing head snapshot written).
        notes: Vec<String>,
    },
    /// A migration and its snapshot were written.
    Generated {
        /// The migration file and where it was registered.
        migration: GeneratedMigration,
        /// The schema snapshot written beside it.
        snapshot: PathBuf,
        /// One line per change of `up`.
        summary: Vec<String>,
        /// Destructive changes and other things to review.
        warnings: Vec<String>,
    },
}

/// Where the schema at head comes from.
pub enum Baseline<'a, C: ConnectionTrait> {
    /// The snapshot of the latest migration (no database).
    Snapshot,
    /// A live database at head.
    Database(&'a C),
}

/// The snapshot directory of the migration crate whose `src/` is `src_dir`.
pub fn snapshot_dir(src_dir: &Path) -> PathBuf {
    src_dir
        .parent()
        .map(|p| p.join("snapshots"))
        .unwrap_or_else(|| PathBuf::from("snapshots"))
}

/// The migration modules registered in `src_dir/lib.rs`, in migrator order.
pub fn registered_migrations(src_dir: &Path) -> Result<Vec<String>, MigrateError> {
    let lib = src_dir.join("lib.rs");
    let text = fs::read_to_string(&lib).map_err(|e| {
        MigrateError::Autogenerate(format!(
            "cannot read {}: {e}; run this inside the workspace of the migration crate",
            lib.display()
        ))
    })?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let t = l.trim();
            t.strip_prefix("Box::new(")?
                .strip_suffix("::Migration),")
                .filter(|m| generate::is_migration_module(m))
                .map(str::to_string)
        })
        .collect())
}

/// The entity schema as snapshots keep it (PostgreSQL's spelling).
pub fn entity_snapshot(entities: &Entities) -> Schema {
    entities.schema(DbBackend::Postgres)
}

/// Writes `schema` as pretty JSON to `path`.
pub fn write_snapshot(path: &Path, schema: &Schema) -> Result<(), MigrateError> {
    let text = serde_json::to_string_pretty(schema)
        .map_err(|e| MigrateError::Autogenerate(format!("cannot encode the snapshot: {e}")))?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| {
            MigrateError::Autogenerate(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    fs::write(path, text + "\n")
        .map_err(|e| MigrateError::Autogenerate(format!("cannot write {}: {e}", path.display())))
}

/// Reads a snapshot written by [`write_snapshot`].
pub fn read_snapshot(path: &Path) -> Result<Schema, MigrateError> {
    let bad = |why: String| {
        MigrateError::Autogenerate(format!(
            "the snapshot {} is not valid ({why}): restore it from version control, or generate \
             against a database at head with `-u URL`, which rewrites it",
            path.display()
        ))
    };
    let text = fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
}

/// The schema at the latest migration of `src_dir`'s crate, from its snapshot, and where it
/// came from. No migration at all is the empty schema.
pub fn head_snapshot(src_dir: &Path) -> Result<(Schema, String), MigrateError> {
    let migrations = registered_migrations(src_dir)?;
    let Some(head) = migrations.last() else {
        return Ok((Schema::default(), "an empty database".into()));
    };
    let path = snapshot_dir(src_dir).join(format!("{head}.json"));
    if !path.is_file() {
        return Err(MigrateError::Autogenerate(format!(
            "the latest migration {head} has no schema snapshot ({} is missing; it was probably \
             written by hand): apply the migrations to a database and generate against it with \
             `migration -u URL generate NAME --autogenerate`, which also writes the snapshot",
            path.display()
        )));
    }
    Ok((read_snapshot(&path)?, path.display().to_string()))
}

/// The `up` and `down` changes between `head` and `target` (same backend spelling).
pub fn plan(
    head: &Schema,
    target: &Schema,
    backend: DbBackend,
    config: &Config,
) -> (Changes, Changes) {
    let head = diff::normalize(head.clone(), backend, config);
    let target = diff::normalize(target.clone(), backend, config);
    let renames: Vec<Rename> = config
        .entities()
        .map(|e| e.renames().to_vec())
        .unwrap_or_default();
    let up = diff::diff(&head, &target, &renames);
    let reversed: Vec<Rename> = up.renames.iter().rev().map(Rename::reversed).collect();
    let down = diff::diff(&target, &head, &reversed);
    (up, down)
}

/// The formatted source of migration `module` for `up` and `down` (types spelled by `backend`).
pub fn render_migration(
    module: &str,
    name: &str,
    up: &Changes,
    down: &Changes,
    backend: DbBackend,
) -> Result<String, MigrateError> {
    let command = format!("migration generate {name} --autogenerate");
    let source = codegen::render(module, &command, up, down, backend).map_err(|errors| {
        MigrateError::Autogenerate(format!(
            "cannot generate this change automatically: {}. Write this migration by hand with \
             `migration generate {name}` (and write its snapshot by generating the next one with -u URL)",
            errors.join("; ")
        ))
    })?;
    Ok(rustfmt(&source).unwrap_or(source))
}

/// `source` formatted by `rustfmt --edition 2024`, or `None` when rustfmt is not available or
/// fails.
pub fn rustfmt(source: &str) -> Option<String> {
    let mut child = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()))
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(source.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

/// Writes the snapshot of the latest migration when it is missing (a hand-written migration)
/// and `db`, whose schema matches the entities, has every registered migration applied.
async fn write_missing_head_snapshot<C: ConnectionTrait>(
    src_dir: &Path,
    db: &C,
    config: &Config,
    entities: &Entities,
) -> Result<Vec<String>, MigrateError> {
    let mut notes = Vec::new();
    let migrations = registered_migrations(src_dir)?;
    let Some(head) = migrations.last() else {
        return Ok(notes);
    };
    let path = snapshot_dir(src_dir).join(format!("{head}.json"));
    if path.exists() {
        return Ok(notes);
    }
    let applied = crate::bookkeeping::ledger::Ledger::new(config.ledger_table.clone())
        .applied_versions(db)
        .await
        .unwrap_or_default();
    if migrations.iter().all(|m| applied.contains(m)) {
        write_snapshot(&path, &entity_snapshot(entities))?;
        notes.push(format!("Wrote the missing snapshot {}", path.display()));
    }
    Ok(notes)
}

/// `generate NAME --autogenerate` run from `start`: diffs the entity schema (from `config`)
/// against `baseline` and, unless nothing changes, writes `<migration_dir>/src/<module>.rs`
/// (registered in `lib.rs`) and `<migration_dir>/snapshots/<module>.json`.
pub async fn autogenerate<C: ConnectionTrait>(
    start: &Path,
    name: &str,
    now: DateTime<Utc>,
    clock: Clock,
    baseline: Baseline<'_, C>,
    config: &Config,
) -> Result<Outcome, MigrateError> {
    let entities = config.entities().ok_or_else(|| {
        MigrateError::Autogenerate(
            "this migration tool was built without an entity schema: pass one with \
             Config::with_entities (see the engine's README)"
                .into(),
        )
    })?;
    let src_dir = generate::locate_source_dir(start, &config.migration_dir).ok_or_else(|| {
        MigrateError::Autogenerate(format!(
            "no migration crate found from {}: run this inside the workspace (a directory with \
             {}/Cargo.toml, or below it)",
            start.display(),
            config.migration_dir
        ))
    })?;
    let (head, target, backend, compared_with) = match &baseline {
        Baseline::Snapshot => {
            let (head, from) = head_snapshot(&src_dir)?;
            (head, entity_snapshot(entities), DbBackend::Postgres, from)
        }
        Baseline::Database(db) => {
            let backend = db.get_database_backend();
            let live = schema::inspect(*db).await.map_err(MigrateError::database(
                "reading the database schema for autogenerate",
            ))?;
            (
                live,
                entities.schema(backend),
                backend,
                "the database".to_string(),
            )
        }
    };
    let (up, down) = plan(&head, &target, backend, config);
    if up.is_empty() {
        let notes = match baseline {
            Baseline::Database(db) => {
                write_missing_head_snapshot(&src_dir, db, config, entities).await?
            }
            Baseline::Snapshot => Vec::new(),
        };
        return Ok(Outcome::NothingToChange {
            compared_with,
            notes,
        });
    }
    let module = generate::module_name(name, now, clock)?;
    let source = render_migration(&module, name, &up, &down, backend)?;
    let snapshot = snapshot_dir(&src_dir).join(format!("{module}.json"));
    if snapshot.exists() {
        return Err(MigrateError::Autogenerate(format!(
            "{} already exists: wait a second or choose another name",
            snapshot.display()
        )));
    }
    let migration = generate::write_migration(&src_dir, &module, &source)?;
    if let Err(e) = write_snapshot(&snapshot, &entity_snapshot(entities)) {
        return Err(MigrateError::Autogenerate(format!(
            "{e}; the migration {} was written without its snapshot: delete it and its line in \
             lib.rs, then generate again",
            migration.path.display()
        )));
    }
    Ok(Outcome::Generated {
        migration,
        snapshot,
        summary: up.summary(),
        warnings: up.warnings.clone(),
    })
}
