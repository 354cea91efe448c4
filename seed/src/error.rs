//! The errors of every seed command; each message says what went wrong and what to do next.

use migration_engine::MigrateError;

/// Everything that can go wrong while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Connecting or URL parsing failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),

    /// The schema is behind this build.
    #[error(
        "the database schema is not at the latest migration ({pending} pending: {versions}). \
         Run `cargo run -p migration up` against the same database first, then run seed again."
    )]
    NotMigrated { pending: usize, versions: String },

    /// The schema is ahead of this build.
    #[error(
        "the database has applied migration(s) this build does not know ({versions}): a newer \
         build migrated it. Run the seed command of that build instead."
    )]
    UnknownMigrations { versions: String },

    /// A command that production does not allow.
    #[error(
        "`{command}` is not allowed with --profile production, which seeds only the default \
         data. Run it against a development database with --profile development."
    )]
    ForbiddenInProduction { command: &'static str },

    /// A supplied password is too short.
    #[error(
        "the password for `{user}` from {origin} is too short ({len} characters): use at least \
         {min} characters, or unset it to have one generated."
    )]
    PasswordTooShort {
        user: String,
        origin: String,
        len: usize,
        min: usize,
    },

    /// A password file could not be read.
    #[error(
        "cannot read the password file for `{user}` ({path}): {cause}. Check the path and its permissions."
    )]
    PasswordFile {
        user: String,
        path: String,
        cause: String,
    },

    /// Passwords would have to be generated but could not be shown safely.
    #[error(
        "a password must be generated for {users}, but stdout is not a terminal, so it could \
         not be shown to you (secrets are never written to pipes or log files). Set \
         OHT50_ADMIN_PASSWORD / OHT50_OPERATOR_PASSWORD (or pass --admin-password-file / \
         --operator-password-file), or run seed on a terminal. Nothing was written."
    )]
    CannotShowGeneratedPassword { users: String },

    /// The operating system's random generator or the password hasher failed.
    #[error("password handling failed: {0}. Nothing was written; run seed again.")]
    Crypto(String),

    /// A database statement failed; the transaction was rolled back.
    #[error(
        "database error while {action}: {cause}. Nothing was written: the transaction was rolled back."
    )]
    RolledBack { action: String, cause: String },

    /// A read-only database statement failed.
    #[error("database error while {action}: {cause}")]
    Database { action: String, cause: String },

    /// The fixture document as a whole is unusable.
    #[error("fixture {source_name}: {problem}. Nothing was written.")]
    FixtureDocument {
        source_name: String,
        problem: String,
    },

    /// One record of a fixture is invalid.
    #[error("fixture {source_name}: `{table}` record {index}: {problem}. Nothing was written.")]
    FixtureRecord {
        source_name: String,
        table: String,
        index: usize,
        problem: String,
    },

    /// A file could not be read or written.
    #[error("cannot {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: String,
        cause: String,
    },

    /// Development data for this seed is already there.
    #[error(
        "development data for --seed {seed} is already present (robot `{robot}` exists). Use a \
         fresh database (`cargo run -p migration fresh`) or another --seed."
    )]
    DevDataPresent { seed: u64, robot: String },

    /// A command-line value is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl SeedError {
    /// The process exit code: 2 for bad input, 3 when the schema is not migrated, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Migrate(e) => e.exit_code(),
            Self::NotMigrated { .. } | Self::UnknownMigrations { .. } => 3,
            Self::ForbiddenInProduction { .. }
            | Self::PasswordTooShort { .. }
            | Self::PasswordFile { .. }
            | Self::CannotShowGeneratedPassword { .. }
            | Self::FixtureDocument { .. }
            | Self::FixtureRecord { .. }
            | Self::DevDataPresent { .. }
            | Self::InvalidArgument(_) => 2,
            _ => 1,
        }
    }

    pub(crate) fn db(action: impl Into<String>) -> impl FnOnce(sea_orm::DbErr) -> SeedError {
        let action = action.into();
        move |e| SeedError::Database {
            action,
            cause: e.to_string(),
        }
    }

    pub(crate) fn rolled_back(
        action: impl Into<String>,
    ) -> impl FnOnce(sea_orm::DbErr) -> SeedError {
        let action = action.into();
        move |e| SeedError::RolledBack {
            action,
            cause: e.to_string(),
        }
    }
}
