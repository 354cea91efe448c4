//! Settings of batched data migrations and online DDL: batch size (adaptive to a target batch
//! duration by default), throttling, DDL lock timeout and retries. The CLI sets them from its
//! flags ([`ScaleArgs`], also read from `<PREFIX>_BATCH_SIZE`, `<PREFIX>_BATCH_TARGET_MS`,
//! `<PREFIX>_MAX_BATCH_SIZE`, `<PREFIX>_MAX_ROWS_PER_SEC`, `<PREFIX>_BATCH_PAUSE_MS`,
//! `<PREFIX>_DDL_LOCK_TIMEOUT_MS`, `<PREFIX>_DDL_RETRIES`, `<PREFIX>_PROGRESS`); library
//! users pass them in [`crate::RunOptions`] or read them with [`Tuning::from_env`]. The
//! runner hands them to each migration through [`crate::author::context`].
//!
//! Batch sizing: with a target duration (the default, [`DEFAULT_BATCH_TARGET_MS`]), the first
//! batch spans `batch_size` keys and each next one is resized from how long the last took
//! (see [`crate::author::batch::BatchSizer`]), so fast backends take big batches and every
//! batch holds its locks about the target time. An explicit `--batch-size` without
//! `--batch-target-ms` fixes the size instead; `--batch-target-ms 0` also does.
//!
//! None of these settings changes the SQL a migration issues under capture, so they never
//! change a checksum.

use std::time::Duration;

use clap::Args;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, periodic lines otherwise.
    #[default]
    Auto,
    /// Always a bar.
    Bar,
    /// Always periodic lines.
    Lines,
    /// Only the final summary line.
    Off,
}

/// Default rows per batch (the first batch's size when sizes adapt).
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;
/// Default target duration of one batch, begin to commit.
pub const DEFAULT_BATCH_TARGET_MS: u64 = 100;
/// Default upper bound of an adaptive batch, in keys.
pub const DEFAULT_MAX_BATCH_SIZE: u64 = 1_000_000;
/// Default DDL lock timeout.
pub const DEFAULT_DDL_LOCK_TIMEOUT_MS: u64 = 2_000;
/// Default number of retries of DDL that timed out waiting for its lock.
pub const DEFAULT_DDL_RETRIES: u32 = 5;

/// How batched data migrations and online DDL behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// Rows (keys) per batch, each batch one transaction: the first batch's size when
    /// `batch_target` is set, every batch's otherwise.
    pub batch_size: u64,
    /// Adapt batch sizes so each batch takes about this long, begin to commit (`None`: every
    /// batch spans `batch_size` keys).
    pub batch_target: Option<Duration>,
    /// Upper bound of an adaptive batch, in keys.
    pub max_batch_size: u64,
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
            batch_target: Some(Duration::from_millis(DEFAULT_BATCH_TARGET_MS)),
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            max_rows_per_sec: None,
            batch_pause: Duration::ZERO,
            ddl_lock_timeout: Duration::from_millis(DEFAULT_DDL_LOCK_TIMEOUT_MS),
            ddl_retries: DEFAULT_DDL_RETRIES,
            progress: ProgressMode::Auto,
        }
    }
}

impl Tuning {
    /// The defaults, overridden by the `<prefix>_*` environment variables that parse (a batch
    /// size without a target duration fixes the size, as the flags do).
    pub fn from_env(config: &crate::config::Config) -> Self {
        let var_name = |suffix: &str| config.env_var(suffix);
        let var = |suffix: &str| -> Option<u64> {
            std::env::var(var_name(suffix))
                .ok()
                .and_then(|v| v.trim().parse().ok())
        };
        let d = Self::default();
        let size = var("BATCH_SIZE").filter(|&n| n > 0);
        Self {
            batch_size: size.unwrap_or(d.batch_size),
            batch_target: batch_target(size, var("BATCH_TARGET_MS")),
            max_batch_size: var("MAX_BATCH_SIZE")
                .filter(|&n| n > 0)
                .unwrap_or(d.max_batch_size),
            max_rows_per_sec: var("MAX_ROWS_PER_SEC").filter(|&n| n > 0),
            batch_pause: var("BATCH_PAUSE_MS")
                .map(Duration::from_millis)
                .unwrap_or(d.batch_pause),
            ddl_lock_timeout: var("DDL_LOCK_TIMEOUT_MS")
                .filter(|&n| n > 0)
                .map(Duration::from_millis)
                .unwrap_or(d.ddl_lock_timeout),
            ddl_retries: var("DDL_RETRIES")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(d.ddl_retries),
            progress: std::env::var(var_name("PROGRESS"))
                .ok()
                .and_then(|v| <ProgressMode as clap::ValueEnum>::from_str(&v, true).ok())
                .unwrap_or(d.progress),
        }
    }
}

/// The target duration for an explicit batch size `size` and target `target_ms` (either
/// `None` when not given): adaptive unless a size alone is given or the target is 0.
fn batch_target(size: Option<u64>, target_ms: Option<u64>) -> Option<Duration> {
    match (size, target_ms) {
        (_, Some(0)) | (Some(_), None) => None,
        (_, Some(ms)) => Some(Duration::from_millis(ms)),
        (None, None) => Some(Duration::from_millis(DEFAULT_BATCH_TARGET_MS)),
    }
}

/// Command-line flags for [`Tuning`] (global flags of `migration`).
#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    /// Keys per batch of a batched data migration (one transaction each): a fixed size, or the
    /// first batch's size with --batch-target-ms [default: 10000, then adaptive]
    #[arg(long, global = true, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,

    /// Size batches so each takes about this long, begin to commit; 0: fixed --batch-size
    /// [default: 100]
    #[arg(long, global = true, value_name = "MS")]
    pub batch_target_ms: Option<u64>,

    /// Largest adaptive batch, in keys
    #[arg(long, global = true, default_value_t = DEFAULT_MAX_BATCH_SIZE, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch_size: u64,

    /// Throttle batched data migrations to at most this many rows per second
    #[arg(long, global = true, value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows_per_sec: Option<u64>,

    /// Pause between two batches of a batched data migration
    #[arg(long, global = true, default_value_t = 0, value_name = "MS")]
    pub batch_pause_ms: u64,

    /// How long online DDL may wait for a table lock before it gives up and retries
    #[arg(long, global = true, default_value_t = DEFAULT_DDL_LOCK_TIMEOUT_MS,
          value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ddl_lock_timeout_ms: u64,

    /// Retries of online DDL after a lock timeout
    #[arg(long, global = true, default_value_t = DEFAULT_DDL_RETRIES, value_name = "N")]
    pub ddl_retries: u32,

    /// Progress of long data migrations on stderr
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

impl ScaleArgs {
    /// The settings these flags describe.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            batch_size: self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            batch_target: batch_target(self.batch_size, self.batch_target_ms),
            max_batch_size: self.max_batch_size,
            max_rows_per_sec: self.max_rows_per_sec,
            batch_pause: Duration::from_millis(self.batch_pause_ms),
            ddl_lock_timeout: Duration::from_millis(self.ddl_lock_timeout_ms),
            ddl_retries: self.ddl_retries,
            progress: self.progress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_size_alone_fixes_the_size_and_a_target_makes_it_adaptive() {
        let ms = Duration::from_millis;
        assert_eq!(batch_target(None, None), Some(ms(DEFAULT_BATCH_TARGET_MS)));
        assert_eq!(batch_target(Some(64), None), None);
        assert_eq!(batch_target(Some(64), Some(250)), Some(ms(250)));
        assert_eq!(batch_target(None, Some(40)), Some(ms(40)));
        assert_eq!(batch_target(None, Some(0)), None);
        assert_eq!(batch_target(Some(64), Some(0)), None);
    }
}
