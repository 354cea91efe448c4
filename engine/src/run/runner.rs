//! Applies and reverts migrations safely: serialised by a [`MigrationLock`], checked against
//! the ledger and history (checksums, unknown versions, order, unrepaired failures), backed up
//! first when the database holds data, one transaction per migration wherever the backend can
//! roll DDL back (PostgreSQL and SQLite) with its ledger and history rows in that transaction,
//! and an `in-progress` history row written first where it cannot (MySQL/MariaDB).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait,
};
use sea_orm_migration::{IntoSchemaManagerConnection, MigrationTrait, SchemaManager};

use crate::author::context::{self, RunContext};
use crate::author::rebuild::{ForeignKeysOff, check_foreign_keys};
use crate::author::tuning::Tuning;
use crate::backup::{self, Backup, BackupConfig};
use crate::bookkeeping::history::{self, History, Outcome};
use crate::bookkeeping::ledger::Ledger;
use crate::bookkeeping::lock::{LockId, MigrationLock};
use crate::config::Config;
use crate::db::DatabaseUrl;
use crate::db::{backend_name, drop_all_tables_except, is_missing_table, list_tables};
use crate::error::MigrateError;
pub use crate::error::Problem;
use crate::plan::capture;
use crate::plan::{self, Direction, Plan, Target};
use crate::run::lock_wait;
use crate::run::{gates, timeout};

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
    /// Another runner holds the lock; waiting for it.
    LockWaiting { holder: &'a str },
    /// A backup was written before changing the database.
    BackupTaken { backup: &'a Backup },
    /// A notice from a running migration (progress, a retry, a resume).
    Notice { text: &'a str },
    /// `--allow-destructive` let a destructive change through.
    DestructiveAllowed {
        version: &'a str,
        rule: &'a str,
        message: &'a str,
    },
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
    /// The history records it as applied but its ledger row is gone ([`Problem::MissingFromLedger`]).
    #[serde(rename = "missing-from-ledger")]
    MissingFromLedger,
}

/// How an applied migration's recorded checksum compares with what it does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumState {
    /// Same as recorded.
    Ok,
    /// Different: the migration was edited after it was applied.
    Changed,
    /// Applied without a recorded checksum (e.g. by stock sea-orm-migration); `repair` records it.
    Unrecorded,
    /// Not applicable (pending, or unknown to this build).
    None,
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
    /// How long its last successful `up` took.
    pub duration_ms: Option<i64>,
    /// Checksum state.
    pub checksum: ChecksumState,
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
    /// What the migration reported (a batched data migration: its batches, rows changed and
    /// longest batch); also in its history row's notes.
    pub notes: Vec<String>,
}

/// What [`Runner::repair_report`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Repaired {
    /// Checksums recorded anew.
    pub checksums: usize,
    /// Failed runs marked repaired.
    pub failed_runs: u64,
    /// Versions whose ledger row was re-added from the history.
    pub ledger_rows: Vec<String>,
}

/// The ordered list of migrations a runner knows, oldest first.
pub type Migrations = Vec<Box<dyn MigrationTrait>>;

type Observer = std::sync::Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// How a runner behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
    /// Apply pending migrations that are ordered before applied ones.
    pub allow_out_of_order: bool,
    /// Back up before changing a database that holds data (`None`: no backups).
    pub backup: Option<(BackupConfig, DatabaseUrl)>,
    /// Apply migrations that drop tables or columns or truncate (refused otherwise).
    pub allow_destructive: bool,
    /// Batch sizes, throttling and DDL lock timeouts handed to the migrations.
    pub tuning: Tuning,
    /// The environment: selects the safe-window gates of the [`Config`] that apply.
    pub environment: crate::config::Environment,
    /// Safe-window gates to skip by name (recorded in the history of the run).
    pub skip_gates: Vec<String>,
    /// Longest one statement of a migration may run (see [`crate::run::timeout`]).
    pub statement_timeout: Option<Duration>,
    /// Longest one migration may run (see [`crate::run::timeout`]).
    pub migration_timeout: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(300),
            allow_out_of_order: false,
            backup: None,
            allow_destructive: false,
            tuning: Tuning::default(),
            environment: crate::config::Environment::default(),
            skip_gates: Vec::new(),
            statement_timeout: None,
            migration_timeout: None,
        }
    }
}

/// The ledger and history as read at one moment.
#[derive(Default)]
struct Recorded {
    applied: BTreeMap<String, i64>,
    entries: Vec<history::Entry>,
    /// Per version with history rows, in version order: the rows that decide its state.
    decisive: Vec<Decisive>,
    /// Versions of this build the history records as applied and the ledger lacks, with when
    /// they were applied (Unix seconds); see [`Runner::missing_from_ledger`].
    missing: BTreeMap<String, i64>,
}

/// The rows of one version that decide its state, as indexes into [`Recorded::entries`].
#[derive(Clone, Copy)]
struct Decisive {
    /// Its latest row.
    latest: usize,
    /// Its latest successful row.
    success: Option<usize>,
    /// Its latest successful row other than a `down` (an `up` or a `repair`): the checksum.
    applied: Option<usize>,
    /// Its latest successful `up`: the duration.
    up: Option<usize>,
}

impl Recorded {
    fn new(applied: BTreeMap<String, i64>, entries: Vec<history::Entry>) -> Self {
        // One pass over the rows grouped by version (an index sort: no string is copied).
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| entries[a].version.cmp(&entries[b].version));
        let newer = |best: Option<usize>, i: usize| match best {
            Some(b) if entries[b].id >= entries[i].id => Some(b),
            _ => Some(i),
        };
        let mut decisive: Vec<Decisive> = Vec::new();
        for i in order {
            let e = &entries[i];
            if decisive
                .last()
                .is_none_or(|d| entries[d.latest].version != e.version)
            {
                decisive.push(Decisive {
                    latest: i,
                    success: None,
                    applied: None,
                    up: None,
                });
            }
            let Some(d) = decisive.last_mut() else {
                continue;
            };
            if e.id > entries[d.latest].id {
                d.latest = i;
            }
            if e.outcome == Outcome::Succeeded {
                d.success = newer(d.success, i);
                if e.direction != "down" {
                    d.applied = newer(d.applied, i);
                }
                if e.direction == "up" {
                    d.up = newer(d.up, i);
                }
            }
        }
        Self {
            applied,
            entries,
            decisive,
            missing: BTreeMap::new(),
        }
    }

    /// The rows that decide the state of `version`, if it has any.
    fn decisive(&self, version: &str) -> Option<&Decisive> {
        self.decisive
            .binary_search_by(|d| self.entries[d.latest].version.as_str().cmp(version))
            .ok()
            .and_then(|i| self.decisive.get(i))
    }

    /// Latest checksum recorded by a successful up (or repair) of `version`.
    fn checksum(&self, version: &str) -> Option<&str> {
        let i = self.decisive(version)?.applied?;
        self.entries[i].checksum.as_deref()
    }

    /// Duration of the latest successful `up` of `version`.
    fn duration(&self, version: &str) -> Option<i64> {
        let i = self.decisive(version)?.up?;
        self.entries[i].duration_ms
    }

    /// Id of the latest row of `version`.
    fn latest_id(&self, version: &str) -> Option<i64> {
        self.decisive(version).map(|d| self.entries[d.latest].id)
    }
}

enum Op {
    Up(Target),
    Down(Target),
    Fresh,
    Refresh,
}

/// Runs migrations against one connection.
pub struct Runner {
    db: DatabaseConnection,
    migrations: Migrations,
    config: Config,
    ledger: Ledger,
    history: History,
    observer: Observer,
    options: RunOptions,
    /// The SQLite interrupt deadline of the running migration (see [`timeout`]).
    deadline: std::sync::Arc<timeout::Deadline>,
    /// Checksums computed so far, by migration index: a migration's capture is the same for
    /// the runner's whole life, and a long-lived runner (a service) asks for them often.
    checksums: std::sync::Mutex<Vec<Option<String>>>,
}

impl Runner {
    /// A runner for `migrations` (oldest first) on `db`, with the default [`Config`].
    pub fn new(db: DatabaseConnection, migrations: Migrations) -> Self {
        Self::with_config(db, migrations, Config::default())
    }

    /// A runner for `migrations` (oldest first) on `db`, recording where `config` says.
    pub fn with_config(db: DatabaseConnection, migrations: Migrations, config: Config) -> Self {
        Self {
            db,
            migrations,
            ledger: Ledger::new(config.ledger_table.clone()),
            history: History::new(config.history_table.clone()),
            config,
            observer: std::sync::Arc::new(|_| {}),
            options: RunOptions::default(),
            deadline: Default::default(),
            checksums: Default::default(),
        }
    }

    /// The project configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Uses another ledger table.
    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = ledger;
        self
    }

    /// Sets lock timeout, ordering and backup behaviour.
    pub fn with_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Lock timeout, ordering and backup behaviour.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// Calls `observer` for every [`Event`].
    pub fn on_event(mut self, observer: impl Fn(&Event<'_>) + Send + Sync + 'static) -> Self {
        self.observer = std::sync::Arc::new(observer);
        self
    }

    /// The connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The migrations, oldest first.
    pub fn migrations(&self) -> &[Box<dyn MigrationTrait>] {
        &self.migrations
    }

    /// The migration names, oldest first.
    pub fn names(&self) -> Vec<&str> {
        self.migrations.iter().map(|m| m.name()).collect()
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Checksum of what migration `index` does on this backend.
    pub async fn checksum(&self, index: usize) -> Result<String, MigrateError> {
        if let Some(known) = self.known_checksum(index) {
            return Ok(known);
        }
        let mut recording = capture::Recording::open(self.backend());
        self.checksum_in(index, &mut recording).await
    }

    /// The checksum of migration `index` computed earlier by this runner, if any.
    fn known_checksum(&self, index: usize) -> Option<String> {
        self.checksums
            .lock()
            .ok()
            .and_then(|c| c.get(index).cloned().flatten())
    }

    /// Whether the checksum of migration `index` computed earlier by this runner is `recorded`
    /// (without copying it).
    fn known_checksum_is(&self, index: usize, recorded: &str) -> bool {
        self.checksums
            .lock()
            .is_ok_and(|c| c.get(index).and_then(Option::as_deref) == Some(recorded))
    }

    /// [`Runner::checksum`], capturing through `recording` (one for many migrations).
    async fn checksum_in(
        &self,
        index: usize,
        recording: &mut capture::Recording,
    ) -> Result<String, MigrateError> {
        let Some(m) = self.migrations.get(index) else {
            return Ok(String::new());
        };
        if let Some(known) = self.known_checksum(index) {
            return Ok(known);
        }
        let checksum = recording
            .capture(m.as_ref(), Direction::Up)
            .await
            .map(|c| c.checksum())
            .map_err(db_err("computing a checksum"))?;
        if let Ok(mut cache) = self.checksums.lock() {
            if cache.len() <= index {
                cache.resize(index + 1, None);
            }
            cache[index] = Some(checksum.clone());
        }
        Ok(checksum)
    }

    /// PostgreSQL `up`: the migration's captured statements and its ledger and history rows as
    /// one simple-query batch, sent inside its transaction in one round trip instead of one
    /// or two per statement, when replaying the capture does exactly what running the
    /// migration does ([`capture::Capture::replayable`]: complete, value-free DDL, no
    /// queries); `None` otherwise, and the migration runs as usual.
    /// Records a transactional migration that failed (its transaction is gone, so this row is
    /// written outside it). Best effort: a failing write must not hide the migration's error.
    async fn record_failure<C: ConnectionTrait>(
        &self,
        conn: &C,
        version: &str,
        direction: &str,
        checksum: &str,
        started_at: chrono::NaiveDateTime,
        error: &DbErr,
    ) {
        let _ = self
            .history
            .append(
                conn,
                version,
                direction,
                Some(checksum),
                started_at,
                Some(history::now()),
                Outcome::Failed,
                Some(&timeout::error_text(error)),
                true,
            )
            .await;
    }

    async fn replay_batch(
        &self,
        migration: &dyn MigrationTrait,
        direction: Direction,
        checksum: &str,
        started_at: chrono::NaiveDateTime,
        started: Instant,
    ) -> Option<String> {
        if direction != Direction::Up {
            return None;
        }
        let c = capture::capture(migration, Direction::Up, DbBackend::Postgres)
            .await
            .ok()?;
        if !c.replayable() || c.checksum() != checksum {
            return None;
        }
        // Bounded lock waits for the batch's DDL (see lock_wait).
        let mut sql = lock_wait::transaction_bound_statement();
        sql.push_str(&c.statements.join(";\n"));
        sql.push_str(";\n");
        sql.push_str(&self.history.record_with_ledger_pg_sql(
            self.ledger.table(),
            migration.name(),
            Direction::Up.as_str(),
            checksum,
            started_at,
            started.elapsed(),
        ));
        Some(sql)
    }

    /// Creates the ledger and history tables when missing. Runs under the lock: concurrent
    /// `CREATE TABLE IF NOT EXISTS` races on PostgreSQL.
    async fn ensure_bookkeeping<C: ConnectionTrait>(&self, conn: &C) -> Result<(), MigrateError> {
        let tables = list_tables(conn).await.map_err(db_err("listing tables"))?;
        if !tables.iter().any(|t| t == self.ledger.table()) {
            self.ledger
                .ensure(conn)
                .await
                .map_err(db_err("creating the migration ledger"))?;
        }
        if !tables.iter().any(|t| t == self.history.table()) {
            self.history
                .ensure(conn)
                .await
                .map_err(db_err("creating the migration history"))?;
        } else {
            self.history
                .upgrade(conn)
                .await
                .map_err(db_err("upgrading the migration history table"))?;
        }
        Ok(())
    }

    /// The ledger and the history rows that matter; `None` when the bookkeeping tables do not
    /// exist yet. Two queries, no catalogue lookup: this is the whole cost of a no-op `up`.
    async fn read<C: ConnectionTrait>(&self, conn: &C) -> Result<Option<Recorded>, MigrateError> {
        // Up to four rows per migration of this build are read whole (see History::state).
        let whole_up_to = 4 * self.migrations.len() as u64 + 64;
        let state = self.history.state(conn, self.ledger.table(), whole_up_to);
        let (applied, entries) = match state.await {
            Ok(state) => state,
            // A new database, or one migrated by stock sea-orm-migration (ledger, no history).
            Err(e) if is_missing_table(&e) => {
                let tables = list_tables(conn).await.map_err(db_err("listing tables"))?;
                if !tables.iter().any(|t| t == self.ledger.table()) {
                    return Ok(None);
                }
                let applied = self
                    .ledger
                    .applied(conn)
                    .await
                    .map_err(db_err("reading the migration ledger"))?
                    .into_iter()
                    .map(|a| (a.version, a.applied_at))
                    .collect();
                let entries = if tables.iter().any(|t| t == self.history.table()) {
                    self.history
                        .entries(conn, None)
                        .await
                        .map_err(db_err("reading the migration history"))?
                } else {
                    Vec::new()
                };
                (applied, entries)
            }
            Err(e) => return Err(db_err("reading the migration ledger and history")(e)),
        };
        let applied = applied.into_iter().collect();
        let mut rec = Recorded::new(applied, entries);
        rec.missing = self.missing_from_ledger(conn, &rec).await?;
        Ok(Some(rec))
    }

    /// [`Runner::read`], computing every migration's checksum meanwhile (see
    /// [`Runner::checksum`]; the verification of applied migrations needs them): the captures
    /// run on this thread while the database works on the state query, instead of after it.
    async fn read_verifying<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<Option<Recorded>, MigrateError> {
        let warm = async {
            let mut recording = capture::Recording::open(self.backend());
            for i in 0..self.migrations.len() {
                // Captures never wait: yield now and then, so that the state query is sent
                // (its connection acquired, its request handed to the driver) while they run.
                if i % 8 == 0 {
                    tokio::task::yield_now().await;
                }
                // An error here is met again, and reported, where the checksum is needed.
                if self.checksum_in(i, &mut recording).await.is_err() {
                    break;
                }
            }
        };
        let (rec, ()) = tokio::join!(self.read(conn), warm);
        rec
    }

    /// Versions of this build that the history records as applied (their latest successful run
    /// is an `up` or a `repair`, and their latest run is not a `down`) but the ledger lacks,
    /// with when they were applied. Reads the whole history only when the rows in `rec` cannot
    /// tell: a failed run after the last success, and a `down` possibly in between.
    async fn missing_from_ledger<C: ConnectionTrait>(
        &self,
        conn: &C,
        rec: &Recorded,
    ) -> Result<BTreeMap<String, i64>, MigrateError> {
        // Asked only of versions the ledger lacks whose history says applied: rare.
        let is_known = |v: &str| self.migrations.iter().any(|m| m.name() == v);
        let (missing, unsure) = applied_by_history(rec, &rec.applied, is_known);
        if !unsure {
            return Ok(missing);
        }
        let all = self
            .history
            .entries(conn, None)
            .await
            .map_err(db_err("reading the migration history"))?;
        let all = Recorded::new(BTreeMap::new(), all);
        Ok(applied_by_history(&all, &rec.applied, is_known).0)
    }

    /// [`Runner::read`], treating missing bookkeeping as an empty record.
    async fn read_or_empty<C: ConnectionTrait>(&self, conn: &C) -> Result<Recorded, MigrateError> {
        Ok(self.read(conn).await?.unwrap_or_default())
    }

    /// Whether migration `version` of this build declared itself safe to run again after a
    /// failed or interrupted run (batched data migrations, online DDL: see
    /// [`crate::author::batch::declare_resumable`]). Learnt by capturing it, so no database is
    /// touched.
    async fn resumable(&self, version: &str) -> bool {
        let Some(m) = self.migrations.iter().find(|m| m.name() == version) else {
            return false;
        };
        capture::capture(m.as_ref(), Direction::Up, self.backend())
            .await
            .is_ok_and(|c| c.resumable)
    }

    /// Every problem that would stop `up`, for the recorded state `rec`.
    async fn problems(&self, rec: &Recorded) -> Result<Vec<Problem>, MigrateError> {
        let names = self.names();
        let mut problems = Vec::new();
        for e in rec.entries.iter().filter(|e| e.is_blocking()) {
            // Only the latest run of a version matters: a later success supersedes a failure.
            let latest = rec.latest_id(&e.version);
            if latest == Some(e.id) && !self.resumable(&e.version).await {
                problems.push(Problem::Unrepaired {
                    version: e.version.clone(),
                    direction: e.direction.clone(),
                    outcome: e.outcome.as_str().into(),
                    error: e.error.clone(),
                });
            }
        }
        for version in plan::unknown_applied(&names, &rec.applied) {
            problems.push(Problem::UnknownApplied { version });
        }
        for version in rec.missing.keys() {
            problems.push(Problem::MissingFromLedger {
                version: version.clone(),
                ledger_table: self.ledger.table().to_string(),
            });
        }
        let last_applied = names.iter().rposition(|n| rec.applied.contains_key(*n));
        for (i, name) in names.iter().enumerate() {
            if rec.applied.contains_key(*name) {
                if let Some(recorded) = rec.checksum(name)
                    && !self.known_checksum_is(i, recorded)
                {
                    let current = self.checksum(i).await?;
                    if current != recorded {
                        problems.push(Problem::ChecksumChanged {
                            version: name.to_string(),
                            recorded: recorded.to_string(),
                            current,
                        });
                    }
                }
            } else if let Some(last) = last_applied.filter(|&l| l > i)
                && !self.options.allow_out_of_order
                && !rec.missing.contains_key(*name)
            {
                problems.push(Problem::OutOfOrder {
                    version: name.to_string(),
                    applied_after: names[last].to_string(),
                });
            }
        }
        Ok(problems)
    }

    /// Checks the database against this build without changing anything: checksum changes,
    /// unknown versions, out-of-order pending migrations, unrepaired failures.
    pub async fn verify(&self) -> Result<Vec<Problem>, MigrateError> {
        let rec = self.read_verifying(&self.db).await?.unwrap_or_default();
        self.problems(&rec).await
    }

    /// Every known migration with its state, then applied versions this build does not know.
    /// Reads only: never creates a table.
    pub async fn status(&self) -> Result<Vec<MigrationState>, MigrateError> {
        let rec = self.read_verifying(&self.db).await?.unwrap_or_default();
        let names = self.names();
        let mut out = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let missing = rec.missing.get(*name);
            let at = rec.applied.get(*name).or(missing);
            let checksum = match (at, rec.checksum(name)) {
                (None, _) => ChecksumState::None,
                (Some(_), None) => ChecksumState::Unrecorded,
                (Some(_), Some(recorded)) => {
                    if self.checksum(i).await? == recorded {
                        ChecksumState::Ok
                    } else {
                        ChecksumState::Changed
                    }
                }
            };
            out.push(MigrationState {
                version: name.to_string(),
                status: if missing.is_some() {
                    State::MissingFromLedger
                } else if at.is_some() {
                    State::Applied
                } else {
                    State::Pending
                },
                applied_at: at.and_then(|t| chrono::DateTime::from_timestamp(*t, 0)),
                duration_ms: at.and(rec.duration(name)),
                checksum,
            });
        }
        for (version, at) in rec
            .applied
            .iter()
            .filter(|(v, _)| !names.contains(&v.as_str()))
        {
            out.push(MigrationState {
                version: version.clone(),
                status: State::Unknown,
                applied_at: chrono::DateTime::from_timestamp(*at, 0),
                duration_ms: None,
                checksum: ChecksumState::None,
            });
        }
        Ok(out)
    }

    /// The history, newest first.
    pub async fn history(&self, limit: Option<u64>) -> Result<Vec<history::Entry>, MigrateError> {
        let tables = list_tables(&self.db)
            .await
            .map_err(db_err("listing tables"))?;
        if !tables.iter().any(|t| t == self.history.table()) {
            return Ok(Vec::new());
        }
        self.history
            .entries(&self.db, limit)
            .await
            .map_err(db_err("reading the migration history"))
    }

    /// Works out what `up`/`down` with `target` would run, without running or locking.
    pub async fn plan(&self, direction: Direction, target: &Target) -> Result<Plan, MigrateError> {
        let rec = self.read_or_empty(&self.db).await?;
        self.plan_for(&rec, direction, target)
    }

    fn plan_for(
        &self,
        rec: &Recorded,
        direction: Direction,
        target: &Target,
    ) -> Result<Plan, MigrateError> {
        let names = self.names();
        match direction {
            Direction::Up => plan::plan_up(&names, &rec.applied, target),
            Direction::Down => plan::plan_down(&names, &rec.applied, target),
        }
    }

    /// Applies pending migrations up to `target`.
    pub async fn up(&self, target: &Target) -> Result<Vec<Step>, MigrateError> {
        self.run(Op::Up(target.clone())).await
    }

    /// Reverts applied migrations down to `target`.
    pub async fn down(&self, target: &Target) -> Result<Vec<Step>, MigrateError> {
        self.run(Op::Down(target.clone())).await
    }

    /// Reverts every applied migration.
    pub async fn reset(&self) -> Result<Vec<Step>, MigrateError> {
        self.run(Op::Down(Target::All)).await
    }

    /// Reverts every applied migration, then applies them all again.
    pub async fn refresh(&self) -> Result<Vec<Step>, MigrateError> {
        self.run(Op::Refresh).await
    }

    /// Drops every table of the database (or PostgreSQL schema), ours or not, except the
    /// migration history, then applies every migration.
    pub async fn fresh(&self) -> Result<Vec<Step>, MigrateError> {
        self.run(Op::Fresh).await
    }

    /// Records the current checksum of every applied migration and marks failed runs repaired.
    /// Returns (checksums recorded, failed entries repaired). See [`Runner::repair_report`].
    pub async fn repair(&self) -> Result<(usize, u64), MigrateError> {
        let done = self.repair_report().await?;
        Ok((done.checksums, done.failed_runs))
    }

    /// `repair`: marks failed runs repaired, re-adds the ledger rows of migrations the history
    /// records as applied ([`Problem::MissingFromLedger`]: the history is append-only, so it
    /// is trusted over the ledger; the row gets the time of the recorded `up`), and records
    /// the current checksum of every applied migration.
    pub async fn repair_report(&self) -> Result<Repaired, MigrateError> {
        let lock = self.lock().await?;
        let result = match &lock {
            MigrationLock::Sqlite(txn) => self.repair_locked(txn).await,
            _ => self.repair_locked(&self.db).await,
        };
        finish_locked(lock, &self.db, result).await
    }

    async fn repair_locked<C: ConnectionTrait>(&self, conn: &C) -> Result<Repaired, MigrateError> {
        self.ensure_bookkeeping(conn).await?;
        let rec = self.read_or_empty(conn).await?;
        let repaired = self
            .history
            .mark_repaired(conn)
            .await
            .map_err(db_err("repairing the history"))?;
        for (version, applied_at) in &rec.missing {
            let stmt = sea_orm::sea_query::Query::insert()
                .into_table(sea_orm::sea_query::Alias::new(self.ledger.table()))
                .columns([
                    sea_orm::sea_query::Alias::new("version"),
                    sea_orm::sea_query::Alias::new("applied_at"),
                ])
                .values([version.as_str().into(), (*applied_at).into()])
                .map_err(|e| MigrateError::Database {
                    action: "re-adding a ledger row".into(),
                    cause: e.to_string(),
                    source: None,
                })?
                .to_owned();
            conn.execute(&stmt)
                .await
                .map_err(db_err("re-adding a ledger row"))?;
        }
        let mut recorded = 0;
        for (i, name) in self.names().iter().enumerate() {
            if !rec.applied.contains_key(*name) && !rec.missing.contains_key(*name) {
                continue;
            }
            let current = self.checksum(i).await?;
            if rec.checksum(name) != Some(current.as_str()) {
                let now = history::now();
                self.history
                    .append(
                        conn,
                        name,
                        "repair",
                        Some(&current),
                        now,
                        Some(now),
                        Outcome::Succeeded,
                        None,
                        true,
                    )
                    .await
                    .map_err(db_err("recording a checksum"))?;
                recorded += 1;
            }
        }
        Ok(Repaired {
            checksums: recorded,
            failed_runs: repaired,
            ledger_rows: rec.missing.keys().cloned().collect(),
        })
    }

    async fn lock(&self) -> Result<MigrationLock, MigrateError> {
        let observer = &self.observer;
        let id = LockId::of(&self.config);
        MigrationLock::acquire(&self.db, &id, self.options.lock_timeout, &|holder| {
            observer(&Event::LockWaiting { holder })
        })
        .await
    }

    async fn run(&self, op: Op) -> Result<Vec<Step>, MigrateError> {
        let observer = self.observer.clone();
        let ctx = RunContext {
            tuning: self.options.tuning.clone(),
            batch_table: self.config.batch_table.clone(),
            reports: Some(Default::default()),
            notify: Some(std::sync::Arc::new(move |text: &str| {
                observer(&Event::Notice { text })
            })),
        };
        context::scope(ctx, self.run_unscoped(op)).await
    }

    async fn run_unscoped(&self, op: Op) -> Result<Vec<Step>, MigrateError> {
        // Unlocked pre-check: a no-op run costs two reads and takes no lock.
        let rec = if matches!(op, Op::Up(_)) {
            self.read_verifying(&self.db).await?
        } else {
            self.read(&self.db).await?
        };
        let exists = rec.is_some();
        let rec = rec.unwrap_or_default();
        // Validate the target before anything changes, even on a database never migrated.
        let planned = match &op {
            Op::Up(t) => Some(self.plan_for(&rec, Direction::Up, t)?),
            Op::Down(t) => Some(self.plan_for(&rec, Direction::Down, t)?),
            Op::Fresh | Op::Refresh => None,
        };
        let nothing = exists && planned.as_ref().is_some_and(|p| p.steps.is_empty());
        // A ledger row gone missing makes its migration look pending: refuse before backing up.
        if !rec.missing.is_empty() && !matches!(op, Op::Fresh) {
            refuse(self.problems(&rec).await?)?;
        }
        // An Alembic database we have recorded nothing in: `up` would recreate its tables.
        if matches!(op, Op::Up(_)) && rec.applied.is_empty() && rec.missing.is_empty() {
            self.refuse_alembic().await?;
        }
        if let Some(plan) = planned.as_ref().filter(|p| p.direction == Direction::Up) {
            self.refuse_destructive(plan).await?;
        }
        gates::validate_skips(&self.config, &self.options.skip_gates)?;
        if nothing {
            let problems = self.problems(&rec).await?;
            refuse(problems)?;
            let direction = if matches!(op, Op::Down(_)) {
                Direction::Down
            } else {
                Direction::Up
            };
            (self.observer)(&Event::NothingToDo { direction });
            return Ok(Vec::new());
        }
        // Safe-window gates, before anything changes (again under the lock, see run_locked).
        self.check_gates(&self.db).await?;
        if let Some((config, url)) = &self.options.backup
            && backup::holds_data(&self.db, &self.config).await?
        {
            let label = rec
                .applied
                .keys()
                .next_back()
                .cloned()
                .unwrap_or_else(|| "empty".into());
            let taken = backup::take(&self.db, url, config, &label).await?;
            (self.observer)(&Event::BackupTaken { backup: &taken });
        }
        // SQLite: a migration that rebuilds a referenced table runs with foreign-key
        // enforcement off, switched before the run's transaction and back on after it.
        let runs: Vec<(&dyn MigrationTrait, Direction)> = match &planned {
            Some(p) => p
                .steps
                .iter()
                .filter_map(|&i| self.migrations.get(i))
                .map(|m| (m.as_ref(), p.direction))
                .collect(),
            None => self
                .migrations
                .iter()
                .flat_map(|m| [(m.as_ref(), Direction::Down), (m.as_ref(), Direction::Up)])
                .collect(),
        };
        if self.limits().is_set() {
            timeout::install_sqlite_interrupt(&self.db, &self.deadline).await;
        }
        let fk_off = ForeignKeysOff::switch_if_declared(&self.db, &runs)
            .await
            .map_err(db_err("switching SQLite foreign-key enforcement off"))?;
        let result = match self.lock().await {
            Ok(lock) => {
                let result = match &lock {
                    MigrationLock::Sqlite(txn) => self.run_locked(txn, &op).await,
                    _ => self.run_locked(&self.db, &op).await,
                };
                finish_locked(lock, &self.db, result).await
            }
            Err(e) => Err(e),
        };
        let restored = fk_off.restore(&self.db).await;
        self.history.set_notes(None);
        match (result, restored) {
            (Ok(_), Err(e)) => Err(db_err("switching SQLite foreign-key enforcement back on")(
                e,
            )),
            (result, _) => result,
        }
    }

    async fn run_locked<C>(&self, conn: &C, op: &Op) -> Result<Vec<Step>, MigrateError>
    where
        C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
        for<'c> &'c C: IntoSchemaManagerConnection<'c>,
    {
        // The plant may have changed while we waited for the lock: the gates again, before the
        // bookkeeping tables are created.
        self.check_gates(conn).await?;
        self.ensure_bookkeeping(conn).await?;
        // Re-read: another runner may have migrated while we waited for the lock.
        let mut rec = self.read_or_empty(conn).await?;
        self.fail_abandoned(conn, &mut rec).await?;
        let mut steps = Vec::new();
        match op {
            Op::Up(target) => {
                refuse(self.problems(&rec).await?)?;
                let plan = self.plan_for(&rec, Direction::Up, target)?;
                self.execute(conn, &plan, &mut steps).await?;
            }
            Op::Down(target) => {
                refuse(
                    self.problems(&rec)
                        .await?
                        .into_iter()
                        .filter(|p| !matches!(p, Problem::OutOfOrder { .. }))
                        .collect(),
                )?;
                let plan = self.plan_for(&rec, Direction::Down, target)?;
                self.execute(conn, &plan, &mut steps).await?;
            }
            Op::Refresh => {
                refuse(self.problems(&rec).await?)?;
                let plan = self.plan_for(&rec, Direction::Down, &Target::All)?;
                self.execute(conn, &plan, &mut steps).await?;
                let rec = self.read_or_empty(conn).await?;
                let plan = self.plan_for(&rec, Direction::Up, &Target::All)?;
                self.execute(conn, &plan, &mut steps).await?;
            }
            Op::Fresh => {
                let tables = drop_all_tables_except(conn, &[self.history.table()])
                    .await
                    .map_err(db_err("dropping all tables"))?;
                (self.observer)(&Event::DroppedTables { tables: &tables });
                // The history must not go on saying they are applied (see `missing_from_ledger`).
                for version in rec.applied.keys().chain(rec.missing.keys()) {
                    let now = history::now();
                    self.history
                        .append(
                            conn,
                            version,
                            Direction::Down.as_str(),
                            None,
                            now,
                            Some(now),
                            Outcome::Succeeded,
                            None,
                            true,
                        )
                        .await
                        .map_err(db_err("recording the dropped migrations in the history"))?;
                }
                self.ledger
                    .ensure(conn)
                    .await
                    .map_err(db_err("creating the migration ledger"))?;
                let rec = self.read_or_empty(conn).await?;
                let plan = self.plan_for(&rec, Direction::Up, &Target::All)?;
                self.execute(conn, &plan, &mut steps).await?;
            }
        }
        Ok(steps)
    }

    /// Refuses a plan that would apply a migration dropping a table or column or truncating,
    /// unless `allow_destructive`; nothing has changed when it does.
    async fn refuse_destructive(&self, plan: &Plan) -> Result<(), MigrateError> {
        let selected: Vec<&dyn MigrationTrait> = plan
            .steps
            .iter()
            .filter_map(|&i| self.migrations.get(i).map(|m| m.as_ref()))
            .collect();
        let findings = crate::plan::finding::destructive_findings(&selected, self.backend()).await;
        let Some(first) = findings.first() else {
            return Ok(());
        };
        if self.options.allow_destructive {
            for f in &findings {
                (self.observer)(&Event::DestructiveAllowed {
                    version: &f.migration,
                    rule: &f.rule,
                    message: &f.message,
                });
            }
            return Ok(());
        }
        let more = match findings.len() {
            1 => String::new(),
            n => format!(" (and {} more destructive change(s))", n - 1),
        };
        Err(MigrateError::DestructiveRefused {
            version: first.migration.clone(),
            rule: first.rule.clone(),
            detail: format!("{}{more}", first.message),
        })
    }

    /// Refuses when the database has an `alembic_version` table (see
    /// [`crate::bookkeeping::alembic`]); called when the ledger records nothing.
    async fn refuse_alembic(&self) -> Result<(), MigrateError> {
        let found = crate::bookkeeping::alembic::revisions(&self.db)
            .await
            .map_err(db_err("reading alembic_version"))?;
        match found {
            None => Ok(()),
            Some(revisions) => Err(MigrateError::AlembicManaged {
                revision: if revisions.is_empty() {
                    "none".into()
                } else {
                    revisions.join(", ")
                },
                ledger_table: self.ledger.table().to_string(),
                advice: crate::bookkeeping::alembic::advice(&self.config),
            }),
        }
    }

    /// Under the lock, an `in-progress` row can only be left by a runner that died: mark it
    /// failed so it blocks until repaired.
    async fn fail_abandoned<C: ConnectionTrait>(
        &self,
        conn: &C,
        rec: &mut Recorded,
    ) -> Result<(), MigrateError> {
        for e in rec
            .entries
            .iter_mut()
            .filter(|e| e.outcome == Outcome::InProgress && e.repaired_at.is_none())
        {
            let why = "the runner stopped before this migration finished (killed or crashed)";
            self.history
                .finish(conn, e.id, e.started_at, Outcome::Failed, Some(why), &[])
                .await
                .map_err(db_err("updating the migration history"))?;
            e.outcome = Outcome::Failed;
            e.error = Some(why.into());
        }
        Ok(())
    }

    async fn execute<C>(
        &self,
        conn: &C,
        plan: &Plan,
        steps: &mut Vec<Step>,
    ) -> Result<(), MigrateError>
    where
        C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
        for<'c> &'c C: IntoSchemaManagerConnection<'c>,
    {
        if plan.steps.is_empty() {
            (self.observer)(&Event::NothingToDo {
                direction: plan.direction,
            });
        }
        for &index in &plan.steps {
            let Some(migration) = self.migrations.get(index) else {
                continue;
            };
            let checksum = self.checksum(index).await?;
            // DDL never waits forever: a lock timeout is retried when nothing was applied.
            let (m, dir, backend) = (migration.as_ref(), plan.direction, self.backend());
            let transactional = m.use_transaction().unwrap_or(backend != DbBackend::MySql);
            let (result, busy) = lock_wait::retrying(
                conn,
                m.name(),
                || lock_wait::busy(m, dir, backend, transactional),
                || self.run_one(conn, m, dir, &checksum),
            )
            .await;
            if let Err(e) = &result
                && busy.is_some_and(|b| b.safe)
                && !transactional
                && lock_wait::is_lock_timeout(e)
            {
                let _ = lock_wait::release_failed(conn, self.history.table(), m.name()).await;
            }
            steps.push(result?);
        }
        Ok(())
    }

    async fn run_one<C>(
        &self,
        conn: &C,
        migration: &dyn MigrationTrait,
        direction: Direction,
        checksum: &str,
    ) -> Result<Step, MigrateError>
    where
        C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
        for<'c> &'c C: IntoSchemaManagerConnection<'c>,
    {
        let version = migration.name();
        (self.observer)(&Event::Started { version, direction });
        // What the migration reports (see context::report), from here on.
        let _ = context::take_reports();
        let mut notes = Vec::new();
        let started = Instant::now();
        let started_at = history::now();
        let backend = self.backend();
        let transactional = migration
            .use_transaction()
            .unwrap_or(backend != DbBackend::MySql);
        let dir = direction.as_str();
        // SQLite rolls a run's whole transaction back by itself after some errors (an
        // interrupted INSERT/UPDATE/DELETE, e.g. at a timeout): then no savepoint is left.
        let mut run_rolled_back = false;
        // PostgreSQL: a replayable migration and its record as ONE simple-query message (captured
        // once). Without time limits the server runs it as one implicit transaction (all or
        // nothing): one round trip instead of BEGIN, the batch, COMMIT; with limits it is sent
        // inside the migration's transaction, after the limits are set.
        let batch = if transactional && backend == DbBackend::Postgres {
            self.replay_batch(migration, direction, checksum, started_at, started)
                .await
        } else {
            None
        };
        let (one_message, batch_in_txn) = if self.limits().is_set() {
            (None, batch)
        } else {
            (batch, None)
        };
        let result: Result<(), DbErr> = if let Some(batch) = one_message {
            match conn.execute_unprepared(&batch).await {
                Ok(_) => Ok(()),
                Err(e) => {
                    self.record_failure(conn, version, dir, checksum, started_at, &e)
                        .await;
                    Err(e)
                }
            }
        } else if transactional {
            let txn = conn
                .begin()
                .await
                .map_err(db_err("starting a transaction"))?;
            let body = timeout::guard(&txn, true, self.limits(), &self.deadline, async {
                if let Some(batch) = batch_in_txn.as_deref() {
                    return txn.execute_unprepared(batch).await.map(|_| ());
                }
                if backend == DbBackend::Postgres {
                    run_migration::<DatabaseTransaction>(&txn, migration, direction).await?;
                    return self
                        .history
                        .record_with_ledger_pg(
                            &txn,
                            self.ledger.table(),
                            version,
                            dir,
                            checksum,
                            started_at,
                            history::now(),
                        )
                        .await;
                }
                apply::<DatabaseTransaction>(&txn, &self.ledger, migration, direction).await?;
                // SQLite with enforcement off (see ForeignKeysOff): no orphan may commit.
                check_foreign_keys(&txn, &format!("migration {version}")).await?;
                self.history
                    .append(
                        &txn,
                        version,
                        dir,
                        Some(checksum),
                        started_at,
                        Some(history::now()),
                        Outcome::Succeeded,
                        None,
                        true,
                    )
                    .await
                    .map(|_| ())
            })
            .await;
            match body {
                Ok(()) => txn.commit().await,
                Err(e) => {
                    // A failing rollback would hide the migration's error; the transaction is
                    // discarded either way.
                    run_rolled_back = txn.rollback().await.is_err() && backend == DbBackend::Sqlite;
                    self.record_failure(conn, version, dir, checksum, started_at, &e)
                        .await;
                    Err(e)
                }
            }
        } else {
            let id = self
                .history
                .append(
                    conn,
                    version,
                    dir,
                    Some(checksum),
                    started_at,
                    None,
                    Outcome::InProgress,
                    None,
                    false,
                )
                .await
                .map_err(db_err("recording the start in the migration history"))?;
            let body = timeout::guard(
                conn,
                false,
                self.limits(),
                &self.deadline,
                apply(conn, &self.ledger, migration, direction),
            )
            .await;
            let (outcome, error) = match &body {
                Ok(()) => (Outcome::Succeeded, None),
                Err(e) => (Outcome::Failed, Some(timeout::error_text(e))),
            };
            notes = context::take_reports();
            self.history
                .finish(conn, id, started_at, outcome, error.as_deref(), &notes)
                .await
                .map_err(db_err("recording the end in the migration history"))?;
            body
        };
        notes.extend(context::take_reports());
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
                    notes,
                })
            }
            Err(err) => {
                let cause = timeout::error_text(&err);
                (self.observer)(&Event::Failed {
                    version,
                    direction,
                    error: &cause,
                });
                let consequence = if !transactional && self.resumable(version).await {
                    "It is safe to run again: the next run resumes after its last committed batch, or cleans up \
                     what this attempt left (e.g. an INVALID index) and retries."
                        .to_string()
                } else if run_rolled_back {
                    "SQLite rolled back the run's whole transaction, so this migration and every migration this run \
                     applied before it were undone (the ledger agrees). Fix the migration and run the command again."
                        .to_string()
                } else if transactional {
                    "Its changes were rolled back, so the database is as it was before it; migrations before it \
                     stay applied. Fix the migration and run the command again."
                        .to_string()
                } else {
                    format!(
                        "{} cannot roll back schema changes, so part of this migration may be applied; it is marked \
                         failed and every later run refuses until you compare the schema with the migration, fix it \
                         by hand and run `migration repair`.",
                        backend_name(backend)
                    )
                };
                Err(MigrateError::MigrationFailed {
                    version: version.to_string(),
                    direction: direction.as_str(),
                    cause,
                    consequence,
                    source: Some(Box::new(err)),
                })
            }
        }
    }
}

/// Safe-window gates and time limits (see [`gates`], [`timeout`]).
impl Runner {
    /// Evaluates the gates for this run's environment ([`gates::check`]): refuses when one
    /// fails; notes the skipped ones in every history row the run writes.
    async fn check_gates<C: ConnectionTrait>(&self, conn: &C) -> Result<(), MigrateError> {
        let note = gates::check(
            conn,
            &self.config,
            self.options.environment,
            &self.options.skip_gates,
        )
        .await?;
        self.history.set_notes(note);
        Ok(())
    }

    /// The statement and migration time limits of this run.
    fn limits(&self) -> timeout::Limits {
        timeout::Limits {
            statement: self.options.statement_timeout,
            migration: self.options.migration_timeout,
        }
    }
}

fn refuse(problems: Vec<Problem>) -> Result<(), MigrateError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::Refused { problems })
    }
}

/// Releases `lock` whatever `result` is; a release failure is reported only when the run
/// itself succeeded.
async fn finish_locked<T>(
    lock: MigrationLock,
    db: &DatabaseConnection,
    result: Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let released = lock.release(db).await;
    match (result, released) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(db_err("releasing the migration lock")(e)),
        (Err(e), _) => Err(e),
    }
}

async fn apply<'c, C>(
    conn: &'c C,
    ledger: &Ledger,
    migration: &dyn MigrationTrait,
    direction: Direction,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    &'c C: IntoSchemaManagerConnection<'c>,
{
    run_migration(conn, migration, direction).await?;
    match direction {
        Direction::Up => ledger.insert(conn, migration.name()).await,
        Direction::Down => ledger.delete(conn, migration.name()).await,
    }
}

/// Runs the migration's `up` or `down`, without recording it.
async fn run_migration<'c, C>(
    conn: &'c C,
    migration: &dyn MigrationTrait,
    direction: Direction,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    &'c C: IntoSchemaManagerConnection<'c>,
{
    // Bounded lock waits for every statement (see lock_wait).
    let previous = lock_wait::bound(conn).await?;
    let manager = SchemaManager::new(conn);
    let result = match direction {
        Direction::Up => migration.up(&manager).await,
        Direction::Down => migration.down(&manager).await,
    };
    lock_wait::restore(conn, previous).await;
    result
}

fn db_err(action: &'static str) -> impl Fn(DbErr) -> MigrateError {
    MigrateError::database(action)
}

/// Versions the rows of `rec` show as applied (their latest row is not a `down`, and their
/// latest success is an `up` or a `repair`) that `ledger` lacks and `is_known` knows, with when
/// they were applied; and whether the rows may be too few to tell (a failed run after the
/// latest success: a `down` may lie between them).
fn applied_by_history(
    rec: &Recorded,
    ledger: &BTreeMap<String, i64>,
    is_known: impl Fn(&str) -> bool,
) -> (BTreeMap<String, i64>, bool) {
    let down = Direction::Down.as_str();
    let mut missing = BTreeMap::new();
    let mut unsure = false;
    for d in &rec.decisive {
        let last = &rec.entries[d.latest];
        let version = last.version.as_str();
        if ledger.contains_key(version) || last.direction == down {
            continue;
        }
        let Some(ok) = d
            .success
            .map(|i| &rec.entries[i])
            .filter(|ok| ok.direction != down)
        else {
            continue;
        };
        if !is_known(version) {
            continue;
        }
        unsure |= ok.id != last.id;
        missing.insert(version.to_string(), ok.started_at.and_utc().timestamp());
    }
    (missing, unsure)
}

#[cfg(test)]
mod missing_from_ledger_tests {
    use super::*;
    use std::collections::BTreeSet;

    fn row(id: i64, version: &str, direction: &str, outcome: Outcome) -> history::Entry {
        history::Entry {
            id,
            version: version.into(),
            direction: direction.into(),
            checksum: None,
            started_at: chrono::DateTime::from_timestamp(1_000 + id, 0)
                .map(|t| t.naive_utc())
                .unwrap_or_default(),
            finished_at: None,
            duration_ms: None,
            outcome,
            error: None,
            transactional: true,
            repaired_at: None,
            tool_version: String::new(),
            host: String::new(),
            os_user: String::new(),
            notes: None,
        }
    }

    fn applied_by_history(
        rows: &[history::Entry],
        ledger: &BTreeMap<String, i64>,
        names: &BTreeSet<&str>,
    ) -> (BTreeMap<String, i64>, bool) {
        let rec = Recorded::new(BTreeMap::new(), rows.to_vec());
        super::applied_by_history(&rec, ledger, |v| names.contains(v))
    }

    #[test]
    fn the_decisive_rows_of_each_version_are_found_in_any_order() {
        use Outcome::{Failed, Succeeded};
        let with = |mut e: history::Entry, checksum: &str, ms: i64| {
            e.checksum = Some(checksum.into());
            e.duration_ms = Some(ms);
            e
        };
        let rows = vec![
            with(row(7, "b", "up", Failed), "b-failed", 70),
            with(row(1, "a", "up", Succeeded), "a1", 10),
            with(row(3, "a", "repair", Succeeded), "a2", 30),
            with(row(2, "b", "up", Succeeded), "b1", 20),
            with(row(5, "a", "down", Succeeded), "a-down", 50),
            with(row(4, "a", "up", Succeeded), "a3", 40),
            with(row(6, "c", "up", Succeeded), "c1", 60),
        ];
        let rec = Recorded::new(BTreeMap::new(), rows);
        // a: the latest success other than a down is the up of row 4.
        assert_eq!(rec.checksum("a"), Some("a3"));
        assert_eq!(rec.duration("a"), Some(40));
        assert_eq!(rec.latest_id("a"), Some(5));
        // b: a later failure neither records a checksum nor a duration.
        assert_eq!(rec.checksum("b"), Some("b1"));
        assert_eq!(rec.duration("b"), Some(20));
        assert_eq!(rec.latest_id("b"), Some(7));
        assert_eq!(rec.checksum("c"), Some("c1"));
        assert_eq!(rec.latest_id("zz"), None);
        assert_eq!(rec.checksum("zz"), None);
        // A repair records a checksum but no duration.
        let rows = vec![
            with(row(1, "a", "up", Failed), "x", 1),
            with(row(2, "a", "repair", Succeeded), "r", 2),
        ];
        let rec = Recorded::new(BTreeMap::new(), rows);
        assert_eq!(rec.checksum("a"), Some("r"));
        assert_eq!(rec.duration("a"), None);
    }

    #[test]
    fn latest_success_decides_and_a_later_failure_makes_it_unsure() {
        use Outcome::{Failed, Succeeded};
        let names: BTreeSet<&str> = ["a", "b", "c", "d", "e"].into();
        let ledger: BTreeMap<String, i64> = [("a".to_string(), 1)].into();
        let rows = vec![
            row(1, "a", "up", Succeeded),
            // b: applied, ledger row deleted.
            row(2, "b", "up", Succeeded),
            // c: applied, then reverted.
            row(3, "c", "up", Succeeded),
            row(4, "c", "down", Succeeded),
            // d: applied, checksum repaired, ledger row deleted.
            row(5, "d", "up", Succeeded),
            row(6, "d", "repair", Succeeded),
            // e: never applied.
            row(7, "e", "up", Failed),
        ];
        let (missing, unsure) = applied_by_history(&rows, &ledger, &names);
        assert_eq!(missing.keys().collect::<Vec<_>>(), ["b", "d"]);
        assert_eq!(missing.get("b"), Some(&1_002));
        assert!(!unsure);

        // Reverted, then a failed re-apply: the subset the state query reads may lack the
        // `down`, so the answer is unsure; over every row it is exact.
        let all = vec![
            row(1, "a", "up", Succeeded),
            row(2, "c", "up", Succeeded),
            row(3, "c", "down", Succeeded),
            row(4, "c", "up", Failed),
        ];
        let subset = [all[0].clone(), all[1].clone(), all[3].clone()];
        let (missing, unsure) = applied_by_history(&subset, &ledger, &names);
        assert!(unsure && missing.contains_key("c"));
        assert!(applied_by_history(&all, &ledger, &names).0.is_empty());

        // A `down` that did not finish is for `repair` (Unrepaired), not "missing".
        let rows = vec![row(1, "b", "up", Succeeded), row(2, "b", "down", Failed)];
        assert!(applied_by_history(&rows, &ledger, &names).0.is_empty());
        // Versions this build does not know are left to UnknownApplied.
        let rows = vec![row(1, "zz", "up", Succeeded)];
        assert!(applied_by_history(&rows, &ledger, &names).0.is_empty());
    }
}
