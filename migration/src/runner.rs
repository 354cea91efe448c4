//! Applies and reverts migrations: one transaction per migration wherever the backend can roll
//! DDL back (PostgreSQL and SQLite), the ledger row written in that same transaction.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use crate::error::MigrateError;
use crate::ledger::Ledger;
use crate::plan::{self, Direction, Plan, Target};

/// What a runner reports while it works.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A migration is about to run.
    Started {
        version: &'a str,
        direction: Direction,
    },
    /// A migration ran and was recorded.
    Finished {
        version: &'a str,
        direction: Direction,
        duration: Duration,
    },
    /// A migration failed.
    Failed {
        version: &'a str,
        direction: Direction,
        error: &'a str,
    },
    /// There was nothing to do.
    NothingToDo { direction: Direction },
    /// `fresh` dropped these tables.
    DroppedTables { tables: &'a [String] },
}

/// Status of one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Recorded as applied.
    Applied,
    /// Not applied yet.
    Pending,
    /// Recorded as applied, but this build does not have it.
    Unknown,
}

/// One line of `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationState {
    /// The migration's name.
    pub version: String,
    /// Applied, pending or unknown.
    pub status: State,
    /// When it was applied (UTC), if it was.
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One migration a command ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// The migration's name.
    pub version: String,
    /// Up or down.
    pub direction: Direction,
    /// Wall time including the ledger write and commit.
    pub duration_ms: u128,
}

/// The ordered list of migrations a runner knows, oldest first.
pub type Migrations = Vec<Box<dyn MigrationTrait>>;

type Observer = Box<dyn Fn(&Event<'_>) + Send + Sync>;

/// Runs migrations against one connection.
pub struct Runner {
    db: DatabaseConnection,
    migrations: Migrations,
    ledger: Ledger,
    observer: Observer,
}

impl Runner {
    /// A runner for `migrations` (oldest first) on `db`, recording in `seaql_migrations`.
    pub fn new(db: DatabaseConnection, migrations: Migrations) -> Self {
        Self {
            db,
            migrations,
            ledger: Ledger::default(),
            observer: Box::new(|_| {}),
        }
    }

    /// Uses another ledger table.
    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = ledger;
        self
    }

    /// Calls `observer` for every [`Event`].
    pub fn on_event(mut self, observer: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Box::new(observer);
        self
    }

    /// The connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The migration names, oldest first.
    pub fn names(&self) -> Vec<&str> {
        self.migrations.iter().map(|m| m.name()).collect()
    }

    /// Every known migration with its state, then applied versions this build does not know.
    /// Reads only: never creates the ledger table.
    pub async fn status(&self) -> Result<Vec<MigrationState>, MigrateError> {
        let applied = if self
            .ledger
            .exists(&self.db)
            .await
            .map_err(db_err("reading the migration ledger"))?
        {
            self.ledger
                .applied(&self.db)
                .await
                .map_err(db_err("reading the migration ledger"))?
        } else {
            Vec::new()
        };
        let names = self.names();
        let mut out: Vec<MigrationState> = names
            .iter()
            .map(|name| {
                let row = applied.iter().find(|a| a.version == *name);
                MigrationState {
                    version: name.to_string(),
                    status: if row.is_some() {
                        State::Applied
                    } else {
                        State::Pending
                    },
                    applied_at: row.and_then(|r| chrono::DateTime::from_timestamp(r.applied_at, 0)),
                }
            })
            .collect();
        out.extend(
            applied
                .iter()
                .filter(|a| !names.contains(&a.version.as_str()))
                .map(|a| MigrationState {
                    version: a.version.clone(),
                    status: State::Unknown,
                    applied_at: chrono::DateTime::from_timestamp(a.applied_at, 0),
                }),
        );
        Ok(out)
    }

    /// Works out what `up`/`down` with `target` would run, without running it.
    pub async fn plan(&self, direction: Direction, target: &Target) -> Result<Plan, MigrateError> {
        self.ledger
            .ensure(&self.db)
            .await
            .map_err(db_err("creating the migration ledger"))?;
        let applied = self
            .ledger
            .applied_versions(&self.db)
            .await
            .map_err(db_err("reading the migration ledger"))?;
        let names = self.names();
        match direction {
            Direction::Up => plan::plan_up(&names, &applied, target),
            Direction::Down => plan::plan_down(&names, &applied, target),
        }
    }

    /// Applies pending migrations up to `target`.
    pub async fn up(&self, target: &Target) -> Result<Vec<Step>, MigrateError> {
        let plan = self.plan(Direction::Up, target).await?;
        self.execute(&plan).await
    }

    /// Reverts applied migrations down to `target`.
    pub async fn down(&self, target: &Target) -> Result<Vec<Step>, MigrateError> {
        let plan = self.plan(Direction::Down, target).await?;
        self.execute(&plan).await
    }

    /// Reverts every applied migration.
    pub async fn reset(&self) -> Result<Vec<Step>, MigrateError> {
        self.down(&Target::All).await
    }

    /// Reverts every applied migration, then applies them all again.
    pub async fn refresh(&self) -> Result<Vec<Step>, MigrateError> {
        let mut steps = self.down(&Target::All).await?;
        steps.extend(self.up(&Target::All).await?);
        Ok(steps)
    }

    /// Drops every table of the database (or PostgreSQL schema), ours or not, then applies
    /// every migration.
    pub async fn fresh(&self) -> Result<Vec<Step>, MigrateError> {
        let tables = drop_all_tables(&self.db)
            .await
            .map_err(db_err("dropping all tables"))?;
        (self.observer)(&Event::DroppedTables { tables: &tables });
        self.up(&Target::All).await
    }

    /// Runs `plan`, one migration at a time, stopping at the first failure.
    pub async fn execute(&self, plan: &Plan) -> Result<Vec<Step>, MigrateError> {
        if plan.steps.is_empty() {
            (self.observer)(&Event::NothingToDo {
                direction: plan.direction,
            });
        }
        let mut done = Vec::with_capacity(plan.steps.len());
        for &index in &plan.steps {
            let Some(migration) = self.migrations.get(index) else {
                continue;
            };
            done.push(self.run_one(migration.as_ref(), plan.direction).await?);
        }
        Ok(done)
    }

    async fn run_one(
        &self,
        migration: &dyn MigrationTrait,
        direction: Direction,
    ) -> Result<Step, MigrateError> {
        let version = migration.name();
        (self.observer)(&Event::Started { version, direction });
        let started = Instant::now();
        let backend = self.db.get_database_backend();
        let transactional = migration
            .use_transaction()
            .unwrap_or(backend != DbBackend::MySql);
        let result = if transactional {
            self.run_in_transaction(migration, direction).await
        } else {
            run_and_record(&self.db, &self.ledger, migration, direction).await
        };
        match result {
            Ok(()) => {
                let duration = started.elapsed();
                (self.observer)(&Event::Finished {
                    version,
                    direction,
                    duration,
                });
                Ok(Step {
                    version: version.to_string(),
                    direction,
                    duration_ms: duration.as_millis(),
                })
            }
            Err(err) => {
                let cause = err.to_string();
                (self.observer)(&Event::Failed {
                    version,
                    direction,
                    error: &cause,
                });
                let consequence = if transactional {
                    "Its changes were rolled back, so the database is as it was before it; \
                     migrations before it stay applied. Fix the migration and run the command again."
                        .to_string()
                } else {
                    format!(
                        "{} cannot roll back schema changes, so part of this migration may be \
                         applied: compare the schema with the migration, undo what it created, \
                         then run the command again.",
                        backend_name(backend)
                    )
                };
                Err(MigrateError::MigrationFailed {
                    version: version.to_string(),
                    direction: direction.as_str(),
                    cause,
                    consequence,
                })
            }
        }
    }

    async fn run_in_transaction(
        &self,
        migration: &dyn MigrationTrait,
        direction: Direction,
    ) -> Result<(), DbErr> {
        let txn = self.db.begin().await?;
        match run_and_record(&txn, &self.ledger, migration, direction).await {
            Ok(()) => txn.commit().await,
            Err(err) => {
                // The rollback's own failure would hide the migration's error; the
                // transaction is discarded either way when `txn` is dropped.
                let _ = txn.rollback().await;
                Err(err)
            }
        }
    }
}

async fn run_and_record<'c, C>(
    conn: &'c C,
    ledger: &Ledger,
    migration: &dyn MigrationTrait,
    direction: Direction,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    &'c C: sea_orm_migration::IntoSchemaManagerConnection<'c>,
{
    let manager = SchemaManager::new(conn);
    match direction {
        Direction::Up => {
            migration.up(&manager).await?;
            ledger.insert(conn, migration.name()).await
        }
        Direction::Down => {
            migration.down(&manager).await?;
            ledger.delete(conn, migration.name()).await
        }
    }
}

/// Human name of a backend.
pub fn backend_name(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "PostgreSQL",
        DbBackend::MySql => "MySQL/MariaDB",
        DbBackend::Sqlite => "SQLite",
        _ => "this database",
    }
}

/// Every base table of the current database (PostgreSQL: current schema), sorted.
pub async fn list_tables<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        DbBackend::MySql => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect()
}

async fn drop_all_tables(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let tables = list_tables(db).await?;
    if tables.is_empty() {
        return Ok(tables);
    }
    let quote = |t: &str| match backend {
        DbBackend::MySql => format!("`{}`", t.replace('`', "``")),
        _ => format!("\"{}\"", t.replace('"', "\"\"")),
    };
    match backend {
        DbBackend::Postgres => {
            let list: Vec<String> = tables.iter().map(|t| quote(t)).collect();
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {} CASCADE", list.join(", ")))
                .await?;
        }
        DbBackend::MySql => {
            db.execute_unprepared("SET FOREIGN_KEY_CHECKS = 0").await?;
            let list: Vec<String> = tables.iter().map(|t| quote(t)).collect();
            let result = db
                .execute_unprepared(&format!("DROP TABLE IF EXISTS {}", list.join(", ")))
                .await;
            db.execute_unprepared("SET FOREIGN_KEY_CHECKS = 1").await?;
            result?;
        }
        _ => {
            db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
            let mut result = Ok(());
            for t in &tables {
                if let Err(e) = db
                    .execute_unprepared(&format!("DROP TABLE IF EXISTS {}", quote(t)))
                    .await
                {
                    result = Err(e);
                    break;
                }
            }
            db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
            result?;
        }
    }
    Ok(tables)
}

fn db_err(action: &'static str) -> impl Fn(DbErr) -> MigrateError {
    move |e| MigrateError::Database {
        action: action.to_string(),
        cause: e.to_string(),
    }
}
