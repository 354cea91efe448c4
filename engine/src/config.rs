//! [`Config`]: everything project-specific the engine needs, passed in by the caller. The
//! engine itself knows no project: table names, lock key, environment-variable prefix, the
//! default SQLite file, the command's name and the entity schema all come from here.

use std::fmt;
use std::sync::{Arc, LazyLock};

use sha2::{Digest, Sha256};

use crate::schema::entities::Entities;

/// An entity schema built on first use.
type LazyEntities = LazyLock<Entities, Box<dyn FnOnce() -> Entities + Send>>;

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
    /// The entity schema, for `drift`, `verify`, `erd` and `generate --autogenerate` (none:
    /// those commands say so), built when first asked for: see [`Config::entities`].
    entities: Option<Arc<LazyEntities>>,
    /// Alembic revision → migration name (full or unique prefix), for `adopt alembic`; empty:
    /// not configured.
    pub alembic_revisions: Vec<(String, String)>,
    /// Safe-window gates: checks a run makes before it changes anything (see [`Gate`]).
    pub gates: Vec<Gate>,
    /// Lint rules switched off for the project (see [`Config::with_lint_rule_off`]).
    pub lint_rules_off: Vec<LintRuleOff>,
}

/// A lint rule switched off project-wide, or up to a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintRuleOff {
    /// The rule (see `migration_engine::review::lint::rules`).
    pub rule: String,
    /// Why, shown by `lint` when it leaves a finding out.
    pub reason: String,
    /// Off only for the migrations named up to and including this one (`None`: all).
    pub through: Option<String>,
}

impl LintRuleOff {
    /// Whether it switches `rule` off for migration `version`.
    pub fn covers(&self, rule: &str, version: &str) -> bool {
        self.rule == rule && self.through.as_deref().is_none_or(|t| version <= t)
    }
}

/// The table Alembic records its revision in. Never application data nor drift.
pub const ALEMBIC_VERSION_TABLE: &str = "alembic_version";

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
            alembic_revisions: Vec::new(),
            gates: Vec::new(),
            lint_rules_off: Vec::new(),
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

    /// Sets the entity schema used by `drift`, `verify`, `erd` and `generate --autogenerate`.
    pub fn with_entities(self, entities: Entities) -> Self {
        self.with_entities_from(move || entities)
    }

    /// Sets the entity schema to what `build` returns, called the first time a command needs
    /// it: building it from the entities costs every other command (a no-op `up`, `status`)
    /// start-up time for nothing.
    pub fn with_entities_from(mut self, build: impl FnOnce() -> Entities + Send + 'static) -> Self {
        self.entities = Some(Arc::new(LazyLock::new(Box::new(build))));
        self
    }

    /// The entity schema, if one was configured (built on first use).
    pub fn entities(&self) -> Option<&Entities> {
        self.entities.as_deref().map(|lazy| &**lazy)
    }

    /// Maps Alembic revisions to migrations, for `adopt alembic`: pairs of (revision as in
    /// `alembic_version`, migration name or unique prefix), e.g. `[("001", "m20250128_100000")]`.
    pub fn with_alembic_revisions(mut self, revisions: &[(&str, &str)]) -> Self {
        self.alembic_revisions = revisions
            .iter()
            .map(|(r, v)| (r.to_string(), v.to_string()))
            .collect();
        self
    }

    /// Adds a safe-window gate (pre-migration check), see [`Gate`].
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.gates.push(gate);
        self
    }

    /// Adds a precondition: the gate `name` whose `sql` must return no rows before a run in
    /// any of `environments` (empty: every environment) changes anything.
    pub fn with_precondition(self, name: &str, sql: &str, environments: &[Environment]) -> Self {
        self.with_gate(Gate::new(name, sql).in_environments(environments))
    }

    /// Switches lint rule `rule` off for the project, because of `reason`; with `through`, only
    /// for the migrations up to and including that one (e.g. advice that a finished schema
    /// follows deliberately, while new tables still get it).
    pub fn with_lint_rule_off(mut self, rule: &str, reason: &str, through: Option<&str>) -> Self {
        self.lint_rules_off.push(LintRuleOff {
            rule: rule.into(),
            reason: reason.into(),
            through: through.map(Into::into),
        });
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

    /// Tables the migration tooling owns (ledger, history, batch progress, and Alembic's
    /// `alembic_version` left behind by `adopt alembic`), never compared with the entities nor
    /// backed up as application data.
    pub fn is_tooling_table(&self, name: &str) -> bool {
        name == self.ledger_table
            || name == self.history_table
            || name == self.batch_table
            || name == ALEMBIC_VERSION_TABLE
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
            .field("entities", &self.entities.is_some())
            .finish()
    }
}

/// A safe-window gate (spec section 9, "pre-migration checks"): a named SQL query that must
/// return no rows before a migration run changes anything, e.g. "no robot is moving". Each row
/// it returns is a reason not to migrate now. A gate whose table does not exist yet (a fresh
/// database) passes with a note. Evaluated by [`crate::run::gates`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Gate {
    /// Short name, used by `--skip-gate NAME` (e.g. `no-moving-robots`).
    pub name: String,
    /// What it ensures, in words (shown by `doctor` and in refusals).
    pub description: String,
    /// The query; the gate passes when it returns no row. Portable SQL, or the same query for
    /// every backend the project uses.
    pub sql: String,
    /// The environments it applies to; empty: all.
    pub environments: Vec<Environment>,
}

impl Gate {
    /// The gate `name` that passes when `sql` returns no row, in every environment.
    pub fn new(name: &str, sql: &str) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            sql: sql.trim().trim_end_matches(';').trim().into(),
            environments: Vec::new(),
        }
    }

    /// Limits the gate to `environments` (empty: all).
    pub fn in_environments(mut self, environments: &[Environment]) -> Self {
        self.environments = environments.to_vec();
        self
    }

    /// Describes what the gate ensures.
    pub fn described(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }

    /// Whether the gate applies in `env`.
    pub fn applies_in(&self, env: Environment) -> bool {
        self.environments.is_empty() || self.environments.contains(&env)
    }
}

/// Deployment environment.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine.
    #[default]
    Development,
    /// A staging system.
    Staging,
    /// Production: destructive commands need --yes.
    Production,
}

impl Environment {
    /// `development`, `staging` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
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
        assert!(c.is_tooling_table("alembic_version"));
        assert!(!c.is_tooling_table("orders"));
        assert_eq!(Config::new("shop").lock_key, c.lock_key);
        assert_ne!(Config::new("other").lock_key, c.lock_key);
    }
}
