//! Settings of batched data migrations and online DDL: batch size, throttling, DDL lock
//! timeout and retries. The CLI sets them from its flags ([`ScaleArgs`]); library users get
//! them from the environment (`OHT50_BATCH_SIZE`, `OHT50_MAX_ROWS_PER_SEC`,
//! `OHT50_BATCH_PAUSE_MS`, `OHT50_DDL_LOCK_TIMEOUT_MS`, `OHT50_DDL_RETRIES`, `OHT50_PROGRESS`)
//! or from [`set`].
//!
//! None of these settings changes the SQL a migration issues under capture, so they never
//! change a checksum.

use std::sync::RwLock;
use std::time::Duration;

use clap::Args;

use crate::progress::ProgressMode;

/// Default rows per batch.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;
/// Default DDL lock timeout.
pub const DEFAULT_DDL_LOCK_TIMEOUT_MS: u64 = 2_000;
/// Default number of retries of DDL that timed out waiting for its lock.
pub const DEFAULT_DDL_RETRIES: u32 = 5;

/// How batched data migrations and online DDL behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// Rows per batch (each batch is one transaction).
    pub batch_size: u64,
    /// Throttle: at most this many rows per second (`None`: as fast as possible).
    pub max_rows_per_sec: Option<u64>,
    /// Pause after each batch.
    pub batch_pause: Duration,
    /// How long one DDL statement may wait for its table lock before it gives up and retries.
    pub ddl_lock_timeout: Duration,
    /// Retries after a DDL lock timeout (so `ddl_retries + 1` attempts in all).
    pub ddl_retries: u32,
    /// How progress is shown.
    pub progress: ProgressMode,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            max_rows_per_sec: None,
            batch_pause: Duration::ZERO,
            ddl_lock_timeout: Duration::from_millis(DEFAULT_DDL_LOCK_TIMEOUT_MS),
            ddl_retries: DEFAULT_DDL_RETRIES,
            progress: ProgressMode::Auto,
        }
    }
}

impl Tuning {
    /// The defaults, overridden by the `OHT50_*` environment variables that parse.
    pub fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
        }
        let d = Self::default();
        Self {
            batch_size: var::<u64>("OHT50_BATCH_SIZE")
                .filter(|&n| n > 0)
                .unwrap_or(d.batch_size),
            max_rows_per_sec: var::<u64>("OHT50_MAX_ROWS_PER_SEC").filter(|&n| n > 0),
            batch_pause: var::<u64>("OHT50_BATCH_PAUSE_MS")
                .map(Duration::from_millis)
                .unwrap_or(d.batch_pause),
            ddl_lock_timeout: var::<u64>("OHT50_DDL_LOCK_TIMEOUT_MS")
                .filter(|&n| n > 0)
                .map(Duration::from_millis)
                .unwrap_or(d.ddl_lock_timeout),
            ddl_retries: var::<u32>("OHT50_DDL_RETRIES").unwrap_or(d.ddl_retries),
            progress: std::env::var("OHT50_PROGRESS")
                .ok()
                .and_then(|v| <ProgressMode as clap::ValueEnum>::from_str(&v, true).ok())
                .unwrap_or(d.progress),
        }
    }
}

static CURRENT: RwLock<Option<Tuning>> = RwLock::new(None);

/// The settings in force: those given to [`set`], else [`Tuning::from_env`].
pub fn current() -> Tuning {
    CURRENT
        .read()
        .ok()
        .and_then(|t| t.clone())
        .unwrap_or_else(Tuning::from_env)
}

/// Sets the settings for this process.
pub fn set(tuning: Tuning) {
    if let Ok(mut t) = CURRENT.write() {
        *t = Some(tuning);
    }
}

/// Command-line flags for [`Tuning`] (global flags of `migration`).
#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    /// Rows per batch of a batched data migration (one transaction each)
    #[arg(long, env = "OHT50_BATCH_SIZE", global = true, default_value_t = DEFAULT_BATCH_SIZE, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,

    /// Throttle batched data migrations to at most this many rows per second
    #[arg(long, env = "OHT50_MAX_ROWS_PER_SEC", global = true, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows_per_sec: Option<u64>,

    /// Pause between two batches of a batched data migration
    #[arg(
        long,
        env = "OHT50_BATCH_PAUSE_MS",
        global = true,
        default_value_t = 0,
        value_name = "MS"
    )]
    pub batch_pause_ms: u64,

    /// How long online DDL may wait for a table lock before it gives up and retries
    #[arg(long, env = "OHT50_DDL_LOCK_TIMEOUT_MS", global = true, default_value_t = DEFAULT_DDL_LOCK_TIMEOUT_MS,
          value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ddl_lock_timeout_ms: u64,

    /// Retries of online DDL after a lock timeout
    #[arg(long, env = "OHT50_DDL_RETRIES", global = true, default_value_t = DEFAULT_DDL_RETRIES, value_name = "N")]
    pub ddl_retries: u32,

    /// Progress of long data migrations on stderr
    #[arg(long, env = "OHT50_PROGRESS", global = true, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

impl ScaleArgs {
    /// The settings these flags describe.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            batch_size: self.batch_size,
            max_rows_per_sec: self.max_rows_per_sec,
            batch_pause: Duration::from_millis(self.batch_pause_ms),
            ddl_lock_timeout: Duration::from_millis(self.ddl_lock_timeout_ms),
            ddl_retries: self.ddl_retries,
            progress: self.progress,
        }
    }
}
