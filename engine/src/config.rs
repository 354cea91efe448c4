//! [`Config`]: everything project-specific the engine needs, passed in by the caller. The
//! engine itself knows no project: table names, lock key, environment-variable prefix, the
//! default SQLite file, the command's name and the entity schema all come from here.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::schema::entities::Entities;

/// One project's settings for the engine. Build it with [`Config::new`] and the `with_*`
/// methods; every value has a default derived from the project's short name.
#[derive(Clone)]
pub struct Config {
    /// Short name, lowercase (e.g. `shop`): prefixes the bookkeeping tables and the lock.
    pub name: String,
    /// Human name shown in help texts (e.g. `Shop`).
    pub display_name: String,
    /// Name of the migration binary, as users type it (default `migration`).
    pub bin_name: String,
    /// The ledger table sea-orm-migration reads (default `seaql_migrations`).
    pub ledger_table: String,
    /// The run history (default `<name>_migration_history`).
    pub history_table: String,
    /// Progress of resumable batch migrations (default `<name>_migration_batches`).
    pub batch_table: String,
    /// The lock's name (MySQL `GET_LOCK`, default `<name>_migrations`).
    pub lock_name: String,
    /// PostgreSQL advisory lock key (default: derived from `lock_name`).
    pub lock_key: i64,
    /// Prefix of the environment variables (default: `name` in upper case), e.g. `SHOP` for
    /// `SHOP_ENV`, `SHOP_BACKUP_DIR`.
    pub env_prefix: String,
    /// SQLite file used when no database URL is given (default `<name>.db`).
    pub default_sqlite_file: String,
    /// Directory of the migration crate, relative to the workspace root (default `migration`).
    pub migration_dir: String,
    /// The entity schema, for `drift` and `generate --autogenerate` (none: those commands say so).
    pub entities: Option<Arc<Entities>>,
}

impl Config {
    /// Defaults for the project called `name` (lowercase letters, digits, `_`).
    pub fn new(name: &str) -> Self {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        let lock_name = format!("{name}_migrations");
        Self {
            display_name: name.clone(),
            bin_name: "migration".into(),
            ledger_table: "seaql_migrations".into(),
            history_table: format!("{name}_migration_history"),
            batch_table: format!("{name}_migration_batches"),
            lock_key: key_of(&lock_name),
            lock_name,
            env_prefix: name.to_ascii_uppercase(),
            default_sqlite_file: format!("{name}.db"),
            migration_dir: "migration".into(),
            entities: None,
            name,
        }
    }

    /// Sets the human name shown in help texts.
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.display_name = name.into();
        self
    }

    /// Sets the history table.
    pub fn with_history_table(mut self, table: &str) -> Self {
        self.history_table = table.into();
        self
    }

    /// Sets the batch-progress table.
    pub fn with_batch_table(mut self, table: &str) -> Self {
        self.batch_table = table.into();
        self
    }

    /// Sets the ledger table.
    pub fn with_ledger_table(mut self, table: &str) -> Self {
        self.ledger_table = table.into();
        self
    }

    /// Sets the lock name and PostgreSQL advisory key.
    pub fn with_lock(mut self, name: &str, key: i64) -> Self {
        self.lock_name = name.into();
        self.lock_key = key;
        self
    }

    /// Sets the environment-variable prefix (without the trailing `_`).
    pub fn with_env_prefix(mut self, prefix: &str) -> Self {
        self.env_prefix = prefix.into();
        self
    }

    /// Sets the SQLite file used when no URL is given.
    pub fn with_default_sqlite_file(mut self, file: &str) -> Self {
        self.default_sqlite_file = file.into();
        self
    }

    /// Sets the migration crate's directory (relative to the workspace root).
    pub fn with_migration_dir(mut self, dir: &str) -> Self {
        self.migration_dir = dir.into();
        self
    }

    /// Sets the entity schema used by `drift` and `generate --autogenerate`.
    pub fn with_entities(mut self, entities: Entities) -> Self {
        self.entities = Some(Arc::new(entities));
        self
    }

    /// The environment variable `<PREFIX>_<suffix>`.
    pub fn env_var(&self, suffix: &str) -> String {
        if self.env_prefix.is_empty() {
            suffix.to_string()
        } else {
            format!("{}_{suffix}", self.env_prefix)
        }
    }

    /// Tables the migration tooling owns (ledger, history, batch progress), never compared
    /// with the entities nor backed up as application data.
    pub fn is_tooling_table(&self, name: &str) -> bool {
        name == self.ledger_table
            || name == self.history_table
            || name == self.batch_table
            || name.starts_with("seaql_")
    }
}

impl Default for Config {
    /// The defaults of a project called `app`.
    fn default() -> Self {
        Self::new("app")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("ledger_table", &self.ledger_table)
            .field("history_table", &self.history_table)
            .field("batch_table", &self.batch_table)
            .field("lock_name", &self.lock_name)
            .field("env_prefix", &self.env_prefix)
            .field("default_sqlite_file", &self.default_sqlite_file)
            .field("entities", &self.entities.as_ref().map(|e| e.len()))
            .finish()
    }
}

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Environment {
    /// A developer's machine.
    #[default]
    Development,
    /// A staging system.
    Staging,
    /// Production: destructive commands need --yes.
    Production,
}

/// A stable advisory-lock key from a name: the first 8 bytes of its SHA-256.
fn key_of(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_name() {
        let c = Config::new("Shop");
        assert_eq!(c.history_table, "shop_migration_history");
        assert_eq!(c.env_var("ENV"), "SHOP_ENV");
        assert_eq!(c.default_sqlite_file, "shop.db");
        assert!(c.is_tooling_table("seaql_migrations"));
        assert!(c.is_tooling_table("shop_migration_batches"));
        assert!(!c.is_tooling_table("orders"));
        assert_eq!(Config::new("shop").lock_key, c.lock_key);
        assert_ne!(Config::new("other").lock_key, c.lock_key);
    }
}
