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

    /// A read-only command named a SQLite file that does not exist.
    #[error(
        "the SQLite database {path} does not exist (this command only reads, so it was not \
         created). Check the path in -u/DATABASE_URL, or create and migrate it with `up`."
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
        version: String,
        direction: &'static str,
        cause: String,
        consequence: String,
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
        source: Option<DbErr>,
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

    /// `generate --autogenerate` could not derive or write the migration.
    #[error("generate --autogenerate: {0}")]
    Autogenerate(String),
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
            source: Some(e),
        }
    }

    /// The driver's error code (SQLSTATE, MySQL error number, SQLite extended code) of a
    /// database error, when it has one.
    pub fn db_code(&self) -> Option<String> {
        match self {
            MigrateError::Database {
                source: Some(e), ..
            } => db_code(e),
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
            | Self::NeedsConfirmation { .. } => 2,
            Self::Pending { .. } => 3,
            _ => 1,
        }
    }
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
    match runtime {
        RuntimeErr::SqlxError(err) => err
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned()),
        _ => None,
    }
}

/// What a database error means, classified by its driver code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A table (or view) does not exist.
    MissingTable,
    /// A lock could not be had in time (lock timeout, busy database file).
    LockTimeout,
    /// The database named in the URL does not exist.
    UnknownDatabase,
    /// The user (role) does not exist.
    UnknownRole,
    /// Wrong password or refused authentication.
    AuthFailed,
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
        "3D000" => DbErrorKind::UnknownDatabase,
        "28000" => DbErrorKind::UnknownRole,
        "28P01" => DbErrorKind::AuthFailed,
        // MySQL/MariaDB error numbers.
        "1146" => DbErrorKind::MissingTable,
        "1205" | "3572" => DbErrorKind::LockTimeout,
        "1049" => DbErrorKind::UnknownDatabase,
        "1045" | "1044" | "1698" => DbErrorKind::AuthFailed,
        // SQLite: SQLITE_BUSY (5) and its extended codes (261, 517, 773), SQLITE_LOCKED (6, 262).
        "5" | "261" | "517" | "773" | "6" | "262" => DbErrorKind::LockTimeout,
        _ => DbErrorKind::Other,
    }
}
