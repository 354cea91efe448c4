//! The SQL migrations would run, without running it: `up/down --dry-run` against a connected
//! database, and offline scripts (`migration sql`) a DBA can review and apply with `psql`,
//! `mysql` or `sqlite3`. Both are rendered from [`crate::plan::capture`], so they show the statements
//! the runner would execute, in order, with the transaction boundaries it would use.
//!
//! A migration that queries the database while it runs is marked *data-dependent*: its
//! captured SQL assumes the queries return no rows, so the output says so instead of guessing.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use sea_orm::DbBackend;
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::bookkeeping::ledger::Ledger;
use crate::config::Config;
use crate::db::backend_name;
use crate::error::MigrateError;
use crate::plan::capture::{Capture, capture};
use crate::plan::{self, Direction, Plan, Target};
use crate::run::runner::{Runner, State};

/// The SQL of one migration in one direction on one backend.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationSql {
    /// The migration's name.
    pub version: String,
    /// Up or down.
    pub direction: Direction,
    /// Whether the runner wraps it (and its ledger write) in one transaction on this backend.
    pub transactional: bool,
    /// What the migration itself runs.
    pub capture: Capture,
    /// The ledger write that records it (insert on up, delete on down).
    pub ledger: Vec<String>,
}

impl MigrationSql {
    /// Whether its SQL depends on what the database holds.
    pub fn data_dependent(&self) -> bool {
        self.capture.data_dependent
    }
}

/// Whether the runner runs `migration` in a transaction on `backend` (see `Runner`).
pub fn is_transactional(migration: &dyn MigrationTrait, backend: DbBackend) -> bool {
    migration
        .use_transaction()
        .unwrap_or(backend != DbBackend::MySql)
}

/// Records a ledger write through the capture mechanism, so scripts follow whatever the
/// [`Ledger`] writes.
struct LedgerWrite {
    ledger: Ledger,
    version: String,
    create_table: bool,
}

impl MigrationName for LedgerWrite {
    fn name(&self) -> &str {
        &self.version
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for LedgerWrite {
    async fn up(&self, manager: &SchemaManager) -> Result<(), sea_orm::DbErr> {
        let conn = manager.get_connection();
        if self.create_table {
            self.ledger.ensure(conn).await?;
        }
        if !self.version.is_empty() {
            self.ledger.insert(conn, &self.version).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), sea_orm::DbErr> {
        self.ledger
            .delete(manager.get_connection(), &self.version)
            .await
    }
}

async fn ledger_sql(
    ledger: &Ledger,
    version: &str,
    direction: Direction,
    create_table: bool,
    backend: DbBackend,
) -> Result<Vec<String>, MigrateError> {
    let write = LedgerWrite {
        ledger: ledger.clone(),
        version: version.to_string(),
        create_table,
    };
    let captured = capture(&write, direction, backend)
        .await
        .map_err(MigrateError::database("rendering the ledger statements"))?;
    Ok(captured.statements)
}

/// Captures `migrations` (already in execution order) in `direction` on `backend`.
///
/// Fails with [`MigrateError::Unrenderable`] when a migration returns an error without a
/// database (typically a `down` that is not implemented).
pub async fn render(
    migrations: &[&dyn MigrationTrait],
    direction: Direction,
    backend: DbBackend,
    ledger: &Ledger,
) -> Result<Vec<MigrationSql>, MigrateError> {
    let mut out = Vec::with_capacity(migrations.len());
    for migration in migrations {
        let captured = capture(*migration, direction, backend)
            .await
            .map_err(|e| MigrateError::database(&format!("rendering {}", migration.name()))(e))?;
        if let Some(cause) = &captured.incomplete
            && !captured.data_dependent
        {
            return Err(MigrateError::Unrenderable {
                version: migration.name().to_string(),
                direction: direction.as_str(),
                cause: cause.clone(),
            });
        }
        out.push(MigrationSql {
            version: migration.name().to_string(),
            direction,
            transactional: is_transactional(*migration, backend),
            ledger: ledger_sql(ledger, migration.name(), direction, false, backend).await?,
            capture: captured,
        });
    }
    Ok(out)
}

/// The plan `up`/`down` with `target` would run, read without writing anything (unlike
/// [`Runner::plan`], which creates the ledger table when missing).
pub async fn plan_read_only(
    runner: &Runner,
    direction: Direction,
    target: &Target,
) -> Result<Plan, MigrateError> {
    let applied: BTreeSet<String> = runner
        .status()
        .await?
        .into_iter()
        .filter(|s| matches!(s.status, State::Applied | State::Unknown))
        .map(|s| s.version)
        .collect();
    let names = runner.names();
    match direction {
        Direction::Up => plan::plan_up(&names, &applied, target),
        Direction::Down => plan::plan_down(&names, &applied, target),
    }
}

/// What `up`/`down --dry-run` prints: the SQL of every migration the command would run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRun {
    /// The database (password redacted).
    pub database: String,
    /// Its backend.
    #[serde(skip)]
    pub backend: DbBackend,
    /// Up or down.
    pub direction: Direction,
    /// The migrations in execution order.
    pub migrations: Vec<MigrationSql>,
    /// The runner's DDL lock timeout (the bound it sets on lock waits).
    #[serde(skip)]
    pub ddl_lock_timeout: std::time::Duration,
}

/// Works out what `up`/`down` with `target` would run on the runner's database and renders
/// it. Changes nothing: neither the schema nor the ledger (which is not even created).
/// `migrations` must be the runner's migration list.
pub async fn dry_run(
    runner: &Runner,
    migrations: &[Box<dyn MigrationTrait>],
    database: &str,
    direction: Direction,
    target: &Target,
) -> Result<DryRun, MigrateError> {
    let plan = plan_read_only(runner, direction, target).await?;
    let selected: Vec<&dyn MigrationTrait> = plan
        .steps
        .iter()
        .filter_map(|&i| migrations.get(i).map(|m| m.as_ref()))
        .collect();
    let backend = runner.connection().get_database_backend();
    Ok(DryRun {
        database: database.to_string(),
        backend,
        direction,
        ddl_lock_timeout: runner.options().tuning.ddl_lock_timeout,
        migrations: render(
            &selected,
            direction,
            backend,
            &Ledger::new(runner.config().ledger_table.clone()),
        )
        .await?,
    })
}

impl DryRun {
    /// The report as text: one block per migration, its statements terminated by `;`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "-- Dry run of `{}` on {} ({}): nothing was executed.",
            self.direction.as_str(),
            self.database,
            backend_name(self.backend)
        );
        if self.migrations.is_empty() {
            let _ = writeln!(
                s,
                "-- {}",
                match self.direction {
                    Direction::Up => "Nothing to apply: the database is up to date.",
                    Direction::Down => "Nothing to revert.",
                }
            );
            return s;
        }
        for m in &self.migrations {
            s.push('\n');
            write_migration(&mut s, m, self.backend, self.ddl_lock_timeout);
        }
        let _ = writeln!(
            s,
            "\n-- {} migration(s) would be {}.",
            self.migrations.len(),
            match self.direction {
                Direction::Up => "applied",
                Direction::Down => "reverted",
            }
        );
        s
    }
}

fn write_migration(
    s: &mut String,
    m: &MigrationSql,
    backend: DbBackend,
    lock_timeout: std::time::Duration,
) {
    let mode = if m.transactional {
        "in one transaction"
    } else if backend == DbBackend::MySql {
        "no transaction: MySQL/MariaDB commit each DDL statement implicitly"
    } else {
        "no transaction: the migration opts out"
    };
    let _ = writeln!(
        s,
        "-- Migration {} ({}, {mode})",
        m.version,
        m.direction.as_str()
    );
    if m.capture.data_dependent {
        let _ = writeln!(
            s,
            "-- DATA-DEPENDENT: this migration queries the database while it runs; the statements \
             below assume every query returns no rows and may differ on a real database. Queries:"
        );
        for q in &m.capture.queries {
            let _ = writeln!(s, "--   {}", crate::plan::capture::normalize(q));
        }
    }
    if let Some(cause) = &m.capture.incomplete {
        let _ = writeln!(
            s,
            "-- INCOMPLETE: the migration stopped under capture ({cause}); statements after this \
             point are unknown."
        );
    }
    // Exactly what the runner sends: a transaction only where it opens one, and the bound on
    // lock waits it sets (see crate::run::lock_wait).
    let wrap = m.transactional;
    if wrap {
        s.push_str("BEGIN;\n");
    }
    let (bound, unbound) = lock_bound(backend, m.transactional, lock_timeout);
    if let Some(set) = &bound {
        let _ = writeln!(s, "{set};");
    }
    for stmt in &m.capture.statements {
        let _ = writeln!(s, "{stmt};");
    }
    if m.capture.statements.is_empty() {
        s.push_str("-- (no statements)\n");
    }
    if let Some(reset) = &unbound {
        let _ = writeln!(s, "{reset};");
    }
    for stmt in &m.ledger {
        let _ = writeln!(s, "{stmt};");
    }
    if wrap {
        s.push_str("COMMIT;\n");
    }
}

/// The statements that bound a migration's lock waits to the DDL lock timeout
/// (`--ddl-lock-timeout-ms`) and undo that afterwards: inside a PostgreSQL transaction
/// `SET LOCAL` (ends with it), else the session's setting, reset after the migration.
fn lock_bound(
    backend: DbBackend,
    transactional: bool,
    timeout: std::time::Duration,
) -> (Option<String>, Option<String>) {
    let Some(set) = crate::run::lock_wait::bound_statement(backend, timeout) else {
        return (None, None);
    };
    match backend {
        DbBackend::Postgres if transactional => (Some(set.replacen("SET", "SET LOCAL", 1)), None),
        DbBackend::Postgres => (Some(set), Some("RESET lock_timeout".into())),
        _ => (
            Some(set),
            Some("SET SESSION lock_wait_timeout = DEFAULT".into()),
        ),
    }
}

/// An offline SQL script: what `up` (from an empty database) or `down` (from a fully
/// migrated one) would run, for review and for applying by hand.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Script {
    /// The backend it is written for.
    #[serde(skip)]
    pub backend: DbBackend,
    /// Up or down.
    pub direction: Direction,
    /// The ledger table statement run first (up only).
    pub prelude: Vec<String>,
    /// The migrations in execution order.
    pub migrations: Vec<MigrationSql>,
    /// The ledger table the script records the migrations in.
    pub ledger_table: String,
    /// The DDL lock timeout the script bounds lock waits with (the runner's default, or
    /// `<PREFIX>_DDL_LOCK_TIMEOUT_MS`).
    #[serde(skip)]
    pub ddl_lock_timeout: std::time::Duration,
}

/// Renders the offline script for `migrations` (all the migrations this build knows, oldest
/// first): `up` assumes nothing is applied, `down` that everything is; `target` limits it as
/// `up`/`down` would (`--to`, `-n`).
pub async fn offline_script(
    migrations: &[Box<dyn MigrationTrait>],
    direction: Direction,
    target: &Target,
    backend: DbBackend,
    config: &Config,
) -> Result<Script, MigrateError> {
    let names: Vec<&str> = migrations.iter().map(|m| m.name()).collect();
    let plan = match direction {
        Direction::Up => plan::plan_up(&names, &BTreeSet::new(), target)?,
        Direction::Down => {
            let all: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
            plan::plan_down(&names, &all, target)?
        }
    };
    let selected: Vec<&dyn MigrationTrait> = plan
        .steps
        .iter()
        .filter_map(|&i| migrations.get(i).map(|m| m.as_ref()))
        .collect();
    let ledger = Ledger::new(config.ledger_table.clone());
    let prelude = match direction {
        Direction::Up => ledger_sql(&ledger, "", Direction::Up, true, backend).await?,
        Direction::Down => Vec::new(),
    };
    Ok(Script {
        backend,
        direction,
        prelude,
        migrations: render(&selected, direction, backend, &ledger).await?,
        ledger_table: config.ledger_table.clone(),
        ddl_lock_timeout: crate::author::tuning::Tuning::from_env(config).ddl_lock_timeout,
    })
}

impl Script {
    /// The command a DBA applies the script with.
    pub fn apply_hint(&self) -> &'static str {
        match self.backend {
            DbBackend::Postgres => "psql -v ON_ERROR_STOP=1 -f FILE DBNAME",
            DbBackend::MySql => "mysql DBNAME < FILE",
            _ => "sqlite3 -bail FILE.db < FILE",
        }
    }

    /// The script text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "-- Migrations: `{}` for {}, generated by `migration sql` on {} UTC.",
            self.direction.as_str(),
            backend_name(self.backend),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
        );
        let _ = writeln!(
            s,
            "-- {}",
            match self.direction {
                Direction::Up => "Assumes none of these migrations is applied yet.",
                Direction::Down => "Assumes all of these migrations are applied.",
            }
        );
        let _ = writeln!(s, "-- Apply with: {}", self.apply_hint());
        if self.direction == Direction::Up {
            let _ = writeln!(
                s,
                "-- Each migration is recorded in {}; applied_at is the time this script was generated.",
                self.ledger_table
            );
        }
        let dependent: Vec<&str> = self
            .migrations
            .iter()
            .filter(|m| m.data_dependent())
            .map(|m| m.version.as_str())
            .collect();
        if !dependent.is_empty() {
            let _ = writeln!(
                s,
                "-- WARNING: data-dependent migration(s), review before applying: {}",
                dependent.join(", ")
            );
        }
        if self.backend == DbBackend::MySql {
            let _ = writeln!(
                s,
                "-- MySQL/MariaDB commit DDL implicitly: a failure leaves earlier statements applied."
            );
        }
        if !self.prelude.is_empty() {
            s.push('\n');
            for stmt in &self.prelude {
                let _ = writeln!(s, "{stmt};");
            }
        }
        for m in &self.migrations {
            s.push('\n');
            write_migration(&mut s, m, self.backend, self.ddl_lock_timeout);
        }
        if self.migrations.is_empty() {
            s.push_str("\n-- No migrations selected.\n");
        }
        s
    }
}
