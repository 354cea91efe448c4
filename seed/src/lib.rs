//! Default, fixture and development data for the OHT-50 database.
//!
//! Every command of the `seed` binary is a plain async function here:
//! [`defaults::seed_defaults`] (spec 5.1 default data), [`fixtures::load`] / [`fixtures::dump`]
//! (JSON fixtures), [`dev::generate`] (deterministic synthetic volumes, written through
//! [`bulk`]). All of them refuse to run on a database that is not at the latest migration
//! ([`schema::ensure_migrated`]) and return [`SeedError`].

pub mod bulk;
pub mod defaults;
pub mod dev;
pub mod error;
pub mod fixtures;
pub mod passwords;
pub mod schema;

use std::fmt;

pub use error::SeedError;

/// What kind of installation is being seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Defaults, fixtures and synthetic volumes are all allowed.
    #[default]
    Development,
    /// Only the default data; secrets are never written to anything but a terminal.
    Production,
}

impl Profile {
    /// `"development"` or `"production"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }

    /// Fails when `command` is not allowed in this profile (production allows only defaults).
    pub fn allow(self, command: &'static str) -> Result<(), SeedError> {
        match self {
            Self::Production => Err(SeedError::ForbiddenInProduction { command }),
            Self::Development => Ok(()),
        }
    }
}

/// What a command did (or, in a dry run, would do) to one table.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Rows inserted.
    pub created: u64,
    /// Existing rows changed.
    pub updated: u64,
    /// Existing rows left as they were.
    pub unchanged: u64,
}

impl TableCount {
    /// An empty count for `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_string(),
            ..Self::default()
        }
    }
}

impl fmt::Display for TableCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: created {}", self.table, self.created)?;
        if self.updated > 0 {
            write!(f, ", updated {}", self.updated)?;
        }
        write!(f, ", unchanged {}", self.unchanged)
    }
}
