//! The errors a user of the migration engine can see. Every message says what went wrong and
//! what to do next; none contains a password (see [`crate::DatabaseUrl::scrub`]).

use std::fmt;

use sea_orm::{DbErr, RuntimeErr};

/// Why a migration command failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database URL could not be parsed.
    #[error(
        "invalid database URL `{url}`: {reason}. Use a URL such as \
         postgres://user:password@host:5432/dbname, mysql://user:password@host:3306/dbname \
         or sqlite://path/to/file.db (flag -u/--database-url or env DATABASE_URL)."
    )]
    InvalidUrl { url: String, reason: String },

    /// The URL names a database kind we do not support.
    #[error(
        "unsupported database scheme `{scheme}` in `{url}`: use postgres:// (or postgresql://), \
         mysql:// (or mariadb://) or sqlite://."
    )]
    UnsupportedScheme { scheme: String, url: String },

    /// A command that needs an existing database (a read-only one, or adoption) named a SQLite
    /// file that does not exist.
    #[error(
        "the SQLite database {path} does not exist (this command works on an existing database, \
         so it was not created). Check the path in -u/DATABASE_URL, or create and migrate it \
         with `up`."
    )]
    NoDatabaseFile { path: String },

    /// `drift`/`check`/`generate --autogenerate` need the entity schema and none was given.
    #[error(
        "`{command}` compares with the entity schema, and this migration tool was built without \
         one: pass the entities with Config::with_entities (see the engine's README)."
    )]
    NoEntities { command: &'static str },

    /// A file could not be written.
    #[error("cannot write {}: {source}. Check that the directory exists and is writable.", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The server could not be reached or refused us.
    #[error("could not connect to {url}: {cause}. {hint}")]
    Connect {
        url: String,
        cause: String,
        hint: String,
        /// The driver's or the network's error ([`MigrateError::db_code`] reads its code).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// A version given on the command line matches no migration of this build.
    #[error(
        "unknown migration `{given}`: {detail}. Run `migration status` to list the migrations \
         this build knows."
    )]
    UnknownVersion { given: String, detail: String },

    /// `up --to` named a migration that is already applied.
    #[error(
        "`up --to {version}`: {version} is already applied, so there is nothing ahead of the \
         database to apply up to. Run `migration status` to see what is pending, or use \
         `migration down --to` to go back."
    )]
    TargetNotAhead { version: String },

    /// `down --to` named a migration that is not applied.
    #[error(
        "`down --to {version}`: {version} is not applied, so the database cannot be reverted \
         down to it. Run `migration status` to see what is applied, or use `down --to base` \
         to revert everything."
    )]
    TargetNotApplied { version: String },

    /// The database records migrations this build does not have.
    #[error(
        "the database has applied migration(s) this build does not know: {versions}. A newer \
         build has probably migrated it: deploy that build, or one that contains these \
         migrations, instead of this one."
    )]
    UnknownApplied { versions: Versions },

    /// A migration's `up` or `down` failed.
    #[error("migration {version} failed during {direction}: {cause}. {consequence}")]
    MigrationFailed {
        /// The migration.
        version: String,
        /// `up` or `down`.
        direction: &'static str,
        /// The driver's message.
        cause: String,
        /// What state the database is in now, and what to do.
        consequence: String,
        /// The driver's error, for matching on its code ([`db_code`]).
        #[source]
        source: Option<Box<DbErr>>,
    },

    /// Any other database error.
    #[error("database error while {action}: {cause}")]
    Database {
        /// What the engine was doing.
        action: String,
        /// The driver's message, credentials removed.
        cause: String,
        /// The driver's error, for matching on its code ([`MigrateError::db_code`]).
        #[source]
        source: Option<Box<DbErr>>,
    },

    /// `generate` could not write the new migration.
    #[error("generate: {0}")]
    Generate(String),

    /// Another runner held the migration lock for longer than `--lock-timeout`.
    #[error(
        "timed out after {seconds} s waiting for the migration lock, held by {holder}. Wait for \
         that run to finish (or stop it), or raise --lock-timeout."
    )]
    LockTimeout { seconds: u64, holder: String },

    /// The checks before a run found problems; nothing was changed.
    #[error("refusing to run: {}. Nothing was changed.", describe_all(problems))]
    Refused {
        /// What stops the run, typed so callers can match on it.
        problems: Vec<Problem>,
    },

    /// A backup or restore failed.
    #[error("backup: {what}: {cause}. To go on: {fix}.")]
    Backup {
        what: String,
        cause: String,
        fix: String,
    },

    /// The dump tool a backup needs is not installed.
    #[error(
        "backup: `{tool}` is not installed, so the database cannot be backed up before it is \
         changed. Install it (Debian/Ubuntu: apt-get install {package}), or pass --no-backup to \
         run without a backup."
    )]
    BackupToolMissing { tool: String, package: String },

    /// A destructive command in production without `--yes`.
    #[error(
        "`{command}` changes or removes data and the environment is production: add --yes to \
         confirm (and check that a backup exists)."
    )]
    NeedsConfirmation { command: String },

    /// `doctor` found failures.
    #[error("doctor found {} problem(s): {}", failures.0.len(), failures)]
    Unhealthy { failures: Problems },

    /// `status --check`: migrations are pending.
    #[error("{count} migration(s) pending: {versions}. Run `migration up`.")]
    Pending { count: usize, versions: Versions },

    /// `fleet`: the targets file or glob cannot be used; no target was touched.
    #[error("{source}. No target was touched.")]
    FleetTargets {
        /// Why, typed (`fleet::TargetsError`).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// `fleet`: some targets failed, could not be reached or did not run.
    #[error(
        "fleet {command}: {count} of {total} target(s) did not succeed: {names}. The others were \
         not affected; fix these (see the summary) and run the fleet again: only targets that are \
         behind change."
    )]
    FleetIncomplete {
        /// `up`, `status`, `check` or `doctor`.
        command: &'static str,
        /// How many did not succeed.
        count: usize,
        /// How many targets ran or were meant to.
        total: usize,
        /// Their names.
        names: Versions,
    },

    /// `up` would apply a migration that loses data, and `--allow-destructive` was not given.
    #[error(
        "refusing to apply {version}: {rule}: {detail}. Nothing was changed. Review it with \
         `migration lint` and `migration up --dry-run`; if the data loss is intended, run \
         `migration up --allow-destructive`."
    )]
    DestructiveRefused {
        version: String,
        rule: String,
        detail: String,
    },

    /// A migration's SQL cannot be rendered without a database (e.g. `down` not implemented).
    #[error(
        "cannot render the {direction} SQL of {version} without a database: {cause}. Fix the \
         migration (run `migration lint`), or leave it out with --to."
    )]
    Unrenderable {
        version: String,
        direction: &'static str,
        cause: String,
    },

    /// Online DDL could not get its table lock within the lock timeout, on every attempt.
    #[error(
        "table {table} is busy: the schema change could not get its lock within {lock_timeout_ms} ms in \
         {attempts} attempt(s); held by {holders}. The application's writes were not held up longer than \
         the timeout and the change is safe to retry: run the command again when the table is quieter, \
         end the blocking session, or raise --ddl-lock-timeout-ms / --ddl-retries."
    )]
    TableBusy {
        table: String,
        attempts: u32,
        lock_timeout_ms: u64,
        holders: String,
    },

    /// `lint`, `drift` or `check` found problems; they are listed on stdout.
    #[error(
        "{command} found {summary}: see the findings listed above, fix them and run `migration {command}` again."
    )]
    ReviewFailed {
        command: &'static str,
        summary: String,
    },

    /// `verify` or `erd` cannot do what was asked (`detail` says what to do instead).
    #[error("{command}: {detail}")]
    Review {
        command: &'static str,
        detail: String,
    },

    /// A program a command needs is not installed.
    #[error(
        "{command} needs the `{tool}` program, which was not found on PATH: install it (Debian/Ubuntu:          `apt-get install {package}`, macOS: `brew install {package}`), or {instead}."
    )]
    ToolMissing {
        command: &'static str,
        tool: &'static str,
        package: &'static str,
        instead: &'static str,
    },

    /// `generate --autogenerate` could not derive or write the migration.
    #[error("generate --autogenerate: {0}")]
    Autogenerate(String),

    /// A backup file failed verification (`backup --verify`).
    #[error("backup {} failed verification: {problem}. {}.", file.display(), problem.fix())]
    BackupInvalid {
        /// The backup file.
        file: std::path::PathBuf,
        /// What is wrong with it.
        #[source]
        problem: BackupProblem,
    },

    /// `restore` refused a backup before touching the target.
    #[error(
        "refusing to restore {}: {problem}. The target database was not touched. {}.",
        file.display(),
        problem.fix()
    )]
    RestoreRefused {
        /// The backup file.
        file: std::path::PathBuf,
        /// What is wrong with it.
        #[source]
        problem: BackupProblem,
    },

    /// `restore` without `--overwrite` into a database that has tables.
    #[error(
        "the target database is not empty ({tables} table(s)) and restoring replaces everything \
         in it. Nothing was changed. Pass --overwrite to replace its contents (a safety backup of \
         it is taken first unless --no-backup)."
    )]
    RestoreNeedsOverwrite {
        /// How many tables the target has.
        tables: usize,
    },

    /// A restore of a verified backup failed part-way.
    #[error("restoring {} failed while {step}: {cause}. {outcome}", file.display())]
    RestoreFailed {
        /// The backup file.
        file: std::path::PathBuf,
        /// What the restore was doing.
        step: String,
        /// Why it failed (one line; never the backup's contents, never a password).
        cause: String,
        /// What became of the target.
        outcome: RestoreOutcome,
    },

    /// `status --check`: the ledger and history have problems that stop `up`.
    #[error(
        "the migration records need attention: {}. `migration up` refuses to run until this is resolved.",
        describe_all(problems)
    )]
    Inconsistent {
        /// What is wrong, typed.
        problems: Vec<Problem>,
    },

    /// `up` on a database Alembic manages and this tool has recorded nothing in.
    #[error(
        "refusing to run `up`: this database is managed by Alembic (alembic_version at revision \
         {revision}) and no migration is recorded in {ledger_table}, so `up` would try to create \
         tables that already exist. Nothing was changed. {advice}"
    )]
    AlembicManaged {
        /// The revision(s) in `alembic_version`.
        revision: String,
        /// The ledger table.
        ledger_table: String,
        /// What to run instead (`adopt alembic`, or `baseline --to` without a mapping).
        advice: String,
    },

    /// `baseline` or `adopt alembic` refused; nothing was changed.
    #[error("`{command}` refused: {reason}. Nothing was changed.")]
    AdoptRefused {
        /// `baseline` or `adopt alembic`.
        command: &'static str,
        /// Why, typed.
        reason: AdoptRefusal,
    },

    /// A safe-window gate (pre-migration check) failed: the plant is not in a state to migrate.
    #[error(
        "refusing to run: {}. Nothing was changed. Wait until the plant is in a safe state and run \
         the command again (`migration doctor` shows every gate), or, if you are sure, skip a gate \
         with --skip-gate NAME (the skip is recorded in the history).",
        describe_gates(failures)
    )]
    GateClosed {
        /// Every gate that failed, with what it saw.
        failures: Vec<GateFailure>,
    },

    /// `--skip-gate` named a gate the configuration does not have.
    #[error(
        "unknown safe-window gate `{given}` in --skip-gate: the gates are: {known}. Nothing was \
         changed. Run `migration doctor` to list them."
    )]
    UnknownGate {
        /// The name given.
        given: String,
        /// The configured gates, comma-separated.
        known: String,
    },

    /// Standard output could not be written (other than a closed pipe, which is not an error).
    #[error(
        "cannot write to {stream}: {source}. The output is incomplete: check where it is \
         redirected (a full disk?) and run the command again."
    )]
    Output {
        /// `stdout`.
        stream: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Why a backup file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackupProblem {
    /// Its name ends in `.partial`: a backup that was never finished.
    #[error(
        "its name ends in .partial: it is an unfinished backup (the backup that wrote it failed \
         or was interrupted)"
    )]
    Partial,
    /// The file cannot be read.
    #[error("it cannot be read ({source})")]
    Unreadable {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The sidecar manifest (`<file>.json`) is missing.
    #[error(
        "its manifest {} is missing, so its size and checksum cannot be checked",
        manifest.display()
    )]
    NoManifest {
        /// Where the manifest should be.
        manifest: std::path::PathBuf,
    },
    /// The sidecar manifest cannot be read or parsed.
    #[error("its manifest {} cannot be read ({cause})", manifest.display())]
    BadManifest {
        /// The manifest.
        manifest: std::path::PathBuf,
        /// Why.
        cause: String,
    },
    /// The file's size differs from the size recorded when it was written.
    #[error(
        "it is {actual} bytes but was {recorded} bytes when it was written: it was truncated or \
         changed"
    )]
    SizeMismatch {
        /// Size in the manifest.
        recorded: u64,
        /// Size on disk.
        actual: u64,
    },
    /// The file's SHA-256 differs from the one recorded when it was written.
    #[error(
        "its SHA-256 ({actual}) differs from the one recorded when it was written ({recorded}): \
         it was corrupted or changed"
    )]
    ChecksumMismatch {
        /// SHA-256 in the manifest (hex).
        recorded: String,
        /// SHA-256 of the file (hex).
        actual: String,
    },
    /// The file is no backup this tool writes.
    #[error(
        "it is neither a SQLite database, a pg_dump custom-format archive nor a mysqldump file"
    )]
    NotABackup,
    /// The manifest and the file disagree about the backend.
    #[error("its manifest says it is a {manifest} backup but the file is a {file} backup")]
    BackendDisagrees {
        /// Backend in the manifest.
        manifest: &'static str,
        /// Backend the file's first bytes show.
        file: &'static str,
    },
    /// The backup is of another backend than the target.
    #[error(
        "it is a {backup} backup and the target is {target}: a backup can only be restored into \
         the same kind of database"
    )]
    OtherBackend {
        /// The backup's backend.
        backup: &'static str,
        /// The target's backend.
        target: &'static str,
    },
    /// The backend's own tool rejects the file.
    #[error("{tool} rejects it ({detail})")]
    ToolRejected {
        /// The check that failed.
        tool: String,
        /// Its first line of output, without any of the backup's contents.
        detail: String,
    },
    /// The tool that checks this kind of backup is not installed.
    #[error("it cannot be checked because `{tool}` is not installed")]
    CannotCheck {
        /// The tool.
        tool: String,
        /// The package that has it.
        package: String,
    },
}

impl BackupProblem {
    /// What to do about it (one sentence, no final period).
    pub fn fix(&self) -> String {
        match self {
            Self::Partial => "Use a complete backup (`backup --list` shows them) and delete the \
                              .partial file"
                .into(),
            Self::Unreadable { .. } => {
                "Check the path of the backup file and its permissions".into()
            }
            Self::NoManifest { .. } | Self::BadManifest { .. } => {
                "Use a backup taken by this version of the tool, with its manifest next to it \
                 (`backup --list` shows them)"
                    .into()
            }
            Self::OtherBackend { backup, .. } => {
                format!(
                    "Restore it into a {backup} database, or pick a backup of the target's kind"
                )
            }
            Self::CannotCheck { tool, package } => {
                format!("Install `{tool}` (Debian/Ubuntu: apt-get install {package}) and try again")
            }
            _ => {
                "Use another backup (`backup --list` shows them, `backup --verify FILE` checks one)"
                    .into()
            }
        }
    }
}

/// Why `baseline` or `adopt alembic` refused to record anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdoptRefusal {
    /// The ledger already records migrations.
    LedgerNotEmpty {
        /// The ledger table.
        ledger_table: String,
        /// How many rows it has.
        applied: usize,
        /// The newest recorded version.
        newest: String,
    },
    /// The database has no table outside the migration bookkeeping.
    EmptyDatabase,
    /// The live schema is not what the migrations up to `version` create.
    SchemaDiffers {
        /// The baseline version.
        version: String,
        /// Every difference, one sentence each.
        differences: Vec<String>,
    },
    /// The expected schema could not be built in a scratch database.
    NoScratch {
        /// Why.
        cause: String,
    },
    /// No Alembic mapping is configured (`Config::with_alembic_revisions`).
    NoAlembicMapping,
    /// There is no `alembic_version` table.
    NoAlembicTable,
    /// `alembic_version` has no row, or more than one.
    AlembicRows {
        /// The revisions found (empty: none).
        revisions: Vec<String>,
    },
    /// The Alembic revision is not in the mapping.
    UnknownRevision {
        /// The revision found.
        revision: String,
        /// The revisions the mapping knows.
        known: Vec<String>,
    },
}

impl fmt::Display for AdoptRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LedgerNotEmpty {
                ledger_table,
                applied,
                newest,
            } => write!(
                f,
                "the ledger {ledger_table} already records {applied} applied migration(s) (newest: {newest}), \
                 so this tool already manages this database; `migration status` shows what is applied and \
                 pending: run `migration up` to apply the rest (a baseline is only for a database with no \
                 recorded migration)"
            ),
            Self::EmptyDatabase => f.write_str(
                "the database has no tables, so there is nothing to adopt: run `migration up` to create the schema",
            ),
            Self::SchemaDiffers {
                version,
                differences,
            } => write!(
                f,
                "the live schema is not what the migrations up to {version} create on this backend; {} \
                 difference(s): {}. Make the database match (or choose the VERSION it matches), or pass \
                 --accept-differences (with --yes in production) to record the baseline anyway, the \
                 differences written into the history",
                differences.len(),
                differences.join("; ")
            ),
            Self::NoScratch { cause } => write!(
                f,
                "the schema those migrations create could not be built in a scratch database ({cause}); \
                 the check needs the right to create a database (CREATE DATABASE) on this server"
            ),
            Self::NoAlembicMapping => f.write_str(
                "this tool has no mapping from Alembic revisions to its migrations \
                 (Config::with_alembic_revisions): use `migration baseline --to VERSION` with the migration \
                 the database's schema matches",
            ),
            Self::NoAlembicTable => f.write_str(
                "the database has no alembic_version table, so it is not managed by Alembic: use \
                 `migration baseline --to VERSION` with the migration its schema matches",
            ),
            Self::AlembicRows { revisions } if revisions.is_empty() => f.write_str(
                "alembic_version has no row, so Alembic applied no revision here: if the schema is \
                 empty run `migration up`, else use `migration baseline --to VERSION`",
            ),
            Self::AlembicRows { revisions } => write!(
                f,
                "alembic_version has {} rows ({}): a branched Alembic history maps to no single version; \
                 merge the heads with Alembic first (`alembic merge`, `alembic upgrade head`), or use \
                 `migration baseline --to VERSION`",
                revisions.len(),
                revisions.join(", ")
            ),
            Self::UnknownRevision { revision, known } => write!(
                f,
                "Alembic revision {revision} (from alembic_version) is not one this tool maps (known: {}): \
                 upgrade or downgrade the database with Alembic to a known revision, or use `migration \
                 baseline --to VERSION`",
                known.join(", ")
            ),
        }
    }
}

/// What became of the target of a failed restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// Nothing in the target changed.
    Unchanged,
    /// The target may be partly restored; its previous contents are in the safety backup, if
    /// one was taken.
    Changed {
        /// The safety backup taken before the restore.
        safety_backup: Option<std::path::PathBuf>,
    },
}

impl fmt::Display for RestoreOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged => f.write_str(
                "The target database is unchanged: fix the cause and run the restore again.",
            ),
            Self::Changed {
                safety_backup: Some(p),
            } => write!(
                f,
                "The target database may be partly restored: its previous contents are in the \
                 safety backup {p}; put them back with `restore {p} --overwrite`.",
                p = p.display()
            ),
            Self::Changed {
                safety_backup: None,
            } => f.write_str(
                "The target database may be partly restored and no safety backup was taken \
                 (--no-backup): restore a good backup into it.",
            ),
        }
    }
}

/// Problems found before a run, printed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl MigrateError {
    /// Wraps a database error met while doing `action`, keeping it as the source.
    pub fn database(action: &str) -> impl Fn(DbErr) -> MigrateError + Copy + '_ {
        move |e| MigrateError::Database {
            action: action.to_string(),
            cause: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    /// The driver's error code (SQLSTATE, MySQL error number, SQLite extended code) of a
    /// database error, when it has one.
    pub fn db_code(&self) -> Option<String> {
        match self {
            MigrateError::Database {
                source: Some(e), ..
            }
            | MigrateError::MigrationFailed {
                source: Some(e), ..
            } => db_code(e),
            MigrateError::Connect {
                source: Some(e), ..
            } => e.downcast_ref::<DbErr>().and_then(db_code),
            _ => None,
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 for failures at run time.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::InvalidUrl { .. }
            | Self::UnsupportedScheme { .. }
            | Self::UnknownVersion { .. }
            | Self::TargetNotAhead { .. }
            | Self::TargetNotApplied { .. }
            | Self::NeedsConfirmation { .. }
            | Self::UnknownGate { .. }
            | Self::FleetTargets { .. } => 2,
            Self::Pending { .. } => 3,
            _ => 1,
        }
    }
}

/// A safe-window gate that stopped a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GateFailure {
    /// The gate's name (for `--skip-gate`).
    pub gate: String,
    /// What it ensures.
    pub description: String,
    /// What it saw: the number of rows and the first of them, or the query's error.
    pub saw: String,
}

fn describe_gates(failures: &[GateFailure]) -> String {
    failures
        .iter()
        .map(|f| {
            let what = if f.description.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.description)
            };
            format!("safe-window gate `{}` failed{what}: {}", f.gate, f.saw)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A list of migration versions, printed comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions(pub Vec<String>);

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

fn describe_all(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Something that stops a run (or that `status`/`check` reports).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Problem {
    /// An applied migration now does something else than when it was applied.
    ChecksumChanged {
        version: String,
        recorded: String,
        current: String,
    },
    /// An applied version this build does not have.
    UnknownApplied { version: String },
    /// A pending migration is ordered before one that is applied.
    OutOfOrder {
        version: String,
        applied_after: String,
    },
    /// A failed or unfinished run that could not be rolled back.
    Unrepaired {
        version: String,
        direction: String,
        outcome: String,
        error: Option<String>,
    },
    /// The history records `version` as applied (its latest successful run is an `up`), but its
    /// ledger row is gone (deleted by hand or by another tool). `repair` re-adds the row.
    MissingFromLedger {
        version: String,
        /// The ledger table.
        ledger_table: String,
    },
}

impl Problem {
    /// One sentence: what is wrong and the way out.
    pub fn describe(&self) -> String {
        match self {
            Problem::ChecksumChanged { version, .. } => format!(
                "{version} was changed after it was applied (its checksum differs): restore its original code \
                 and put the change in a new migration, or, if the change is harmless, run `migration repair` \
                 to record the new checksum"
            ),
            Problem::UnknownApplied { version } => format!(
                "{version} is applied but this build does not know it (a newer build migrated this database): \
                 deploy that build instead"
            ),
            Problem::OutOfOrder {
                version,
                applied_after,
            } => format!(
                "{version} is pending but the later {applied_after} is already applied (merged out of order): \
                 regenerate it with a newer timestamp, or pass --allow-out-of-order to apply it anyway"
            ),
            Problem::Unrepaired {
                version,
                direction,
                outcome,
                error,
            } => format!(
                "the last {direction} of {version} is {outcome}{} and could not be rolled back, so the schema may \
                 be half-changed: compare it with the migration and fix it by hand, then run `migration repair`",
                error
                    .as_deref()
                    .map(|e| format!(" ({})", first_line(e)))
                    .unwrap_or_default()
            ),
            Problem::MissingFromLedger {
                version,
                ledger_table,
            } => format!(
                "{version} is recorded as applied in the history but its row is missing from the ledger table \
                 {ledger_table} (deleted by hand or by another tool), so it looks pending and applying it again \
                 would fail: check that its changes are in the schema, then run `migration repair` to re-add the \
                 ledger row from the history (or re-insert the row yourself)"
            ),
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The driver's error code of `e` (SQLSTATE on PostgreSQL, the error number on MySQL/MariaDB,
/// the extended result code on SQLite), read from sqlx's `DatabaseError`, never from text.
pub fn db_code(e: &DbErr) -> Option<String> {
    let runtime = match e {
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return None,
    };
    let RuntimeErr::SqlxError(err) = runtime else {
        return None;
    };
    let db = err.as_database_error()?;
    // MySQL/MariaDB: the server's error number (sqlx's `code()` there is the coarser SQLSTATE).
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return Some(my.number().to_string());
    }
    db.code().map(|c| c.into_owned())
}

/// What a database error means, classified by its driver code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A table (or view) does not exist.
    MissingTable,
    /// A lock could not be had in time (lock timeout, busy database file).
    LockTimeout,
    /// A statement was cancelled by a time limit (statement timeout, interrupt).
    StatementTimeout,
    /// The database named in the URL does not exist.
    UnknownDatabase,
    /// The user (role) does not exist (PostgreSQL's 28000 also means pg_hba.conf rejects it).
    UnknownRole,
    /// Wrong password or refused authentication.
    AuthFailed,
    /// The user is known but may not use this database (or this object).
    PermissionDenied,
    /// Anything else.
    Other,
}

/// Classifies `e` by its driver code.
pub fn classify(e: &DbErr) -> DbErrorKind {
    let Some(code) = db_code(e) else {
        return DbErrorKind::Other;
    };
    match code.as_str() {
        // PostgreSQL SQLSTATEs.
        "42P01" => DbErrorKind::MissingTable,
        "55P03" => DbErrorKind::LockTimeout,
        "57014" => DbErrorKind::StatementTimeout,
        "3D000" => DbErrorKind::UnknownDatabase,
        "28000" => DbErrorKind::UnknownRole,
        "28P01" => DbErrorKind::AuthFailed,
        "42501" => DbErrorKind::PermissionDenied,
        // MySQL/MariaDB error numbers.
        "1146" => DbErrorKind::MissingTable,
        "1205" | "3572" => DbErrorKind::LockTimeout,
        // MariaDB ER_STATEMENT_TIMEOUT, MySQL ER_QUERY_TIMEOUT.
        "1969" | "3024" => DbErrorKind::StatementTimeout,
        "1049" => DbErrorKind::UnknownDatabase,
        "1045" | "1698" => DbErrorKind::AuthFailed,
        "1044" | "1142" => DbErrorKind::PermissionDenied,
        // SQLite: SQLITE_BUSY (5) and its extended codes (261, 517, 773), SQLITE_LOCKED (6, 262).
        "5" | "261" | "517" | "773" | "6" | "262" => DbErrorKind::LockTimeout,
        // SQLITE_INTERRUPT: the progress handler stopped a statement at its deadline.
        "9" => DbErrorKind::StatementTimeout,
        _ => DbErrorKind::Other,
    }
}

/// The database's own words for `e`, for users: the server's message without driver-internal
/// detail (PostgreSQL's "at line N" of its own source code, the driver's "error returned from
/// database" wrapper), with PostgreSQL's DETAIL and HINT, and the error code: SQLSTATE on
/// PostgreSQL, the error number on MySQL/MariaDB, the result code on SQLite. `None` when `e`
/// is not an error the server returned.
pub fn user_message(e: &DbErr) -> Option<String> {
    let runtime = match e {
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return None,
    };
    let RuntimeErr::SqlxError(err) = runtime else {
        return None;
    };
    let db = err.as_database_error()?;
    let mut text = db.message().trim_end_matches('.').to_string();
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        if let Some(detail) = pg.detail() {
            text.push_str(&format!(" ({})", detail.trim_end_matches('.')));
        }
        if let Some(hint) = pg.hint() {
            text.push_str(&format!("; hint: {}", hint.trim_end_matches('.')));
        }
        text.push_str(&format!(" [SQLSTATE {}]", pg.code()));
    } else if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        text.push_str(&format!(" [MySQL/MariaDB error {}]", my.number()));
    } else if let Some(code) = db.code() {
        text.push_str(&format!(" [SQLite code {code}]"));
    }
    Some(text)
}
