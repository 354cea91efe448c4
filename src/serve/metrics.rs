//! `GET /metrics`: the migration state as Prometheus metrics (OpenMetrics text), read from the
//! database at each scrape. Names are prefixed with the project's name (`oht50_`):
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `oht50_database_up` | gauge | 1 when the database answered this scrape |
//! | `oht50_migrations_applied` | gauge | migrations of this build recorded as applied |
//! | `oht50_migrations_pending` | gauge | migrations of this build not applied |
//! | `oht50_migrations_unknown` | gauge | applied versions this build does not know |
//! | `oht50_migration_last_duration_seconds{version}` | gauge | last successful `up` of each applied migration |
//! | `oht50_migration_failed_runs` | gauge | migrations whose latest run failed or did not finish |
//! | `oht50_migration_unrepaired_runs` | gauge | of those, runs that block `up` until repaired |
//! | `oht50_migration_checksum_problems` | gauge | applied migrations whose checksum changed |
//! | `oht50_migration_lock_held` | gauge | 1 while a runner (any process) holds the migration lock |
//! | `oht50_migration_run_in_progress` | gauge | 1 while this server runs a migration request |
//! | `oht50_migration_build_info{newest_version,version}` | info | the build's newest migration |

use migration_engine::bookkeeping::history::{Entry, Outcome};
use migration_engine::bookkeeping::lock::{LockId, is_held};
use migration_engine::{ChecksumState, MigrateError, Problem, State};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::serve::state::AppState;

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The metrics text of one scrape. A database that cannot be read gives
/// `<prefix>_database_up 0` and the metrics that need no database.
pub async fn render(state: &AppState) -> String {
    let options = state.options();
    let mut registry = Registry::with_prefix(options.config.name.clone());
    let names = (options.migrations)()
        .iter()
        .map(|m| m.name().to_string())
        .collect::<Vec<_>>();
    registry.register(
        "migration_build",
        "The build's newest migration",
        Info::new(vec![
            (
                "newest_version".to_string(),
                names.last().cloned().unwrap_or_default(),
            ),
            ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ]),
    );
    let running = gauge(state.running().is_some() as i64);
    registry.register(
        "migration_run_in_progress",
        "1 while this server runs a migration request",
        running,
    );
    let up = match read(state).await {
        Ok(read) => {
            read.register(&mut registry);
            1
        }
        Err(_) => 0,
    };
    registry.register(
        "database_up",
        "1 when the database answered this scrape",
        gauge(up),
    );
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

fn gauge(v: i64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

/// What one scrape read from the database.
struct Read {
    applied: i64,
    pending: i64,
    unknown: i64,
    durations: Vec<(String, f64)>,
    failed_runs: i64,
    unrepaired: i64,
    checksum_problems: i64,
    lock_held: i64,
}

async fn read(state: &AppState) -> Result<Read, MigrateError> {
    let runner = state.read_runner().await?;
    let states = runner.status().await?;
    let problems = runner.verify().await?;
    let history = runner.history(None).await?;
    let count = |s: State| states.iter().filter(|m| m.status == s).count() as i64;
    let lock_held = {
        let probe = state.probe().await?.lock().await;
        is_held(&probe, &LockId::of(&state.options().config))
            .await
            .map_err(|e| MigrateError::Database {
                action: "checking the migration lock".into(),
                cause: e.to_string(),
                source: Some(Box::new(e)),
            })?
    };
    Ok(Read {
        applied: count(State::Applied),
        pending: count(State::Pending),
        unknown: count(State::Unknown),
        durations: states
            .iter()
            .filter(|m| m.status == State::Applied)
            .filter_map(|m| Some((m.version.clone(), m.duration_ms? as f64 / 1000.0)))
            .collect(),
        failed_runs: latest_failed(&history),
        unrepaired: problems
            .iter()
            .filter(|p| matches!(p, Problem::Unrepaired { .. }))
            .count() as i64,
        checksum_problems: states
            .iter()
            .filter(|m| m.checksum == ChecksumState::Changed)
            .count() as i64,
        lock_held: lock_held as i64,
    })
}

/// Versions whose latest run (the history is newest first) failed or did not finish and was
/// not marked repaired.
fn latest_failed(history: &[Entry]) -> i64 {
    let mut seen = std::collections::HashSet::new();
    history
        .iter()
        .filter(|e| seen.insert(e.version.as_str()))
        .filter(|e| e.outcome != Outcome::Succeeded && e.repaired_at.is_none())
        .count() as i64
}

impl Read {
    fn register(self, registry: &mut Registry) {
        registry.register(
            "migrations_applied",
            "Migrations of this build recorded as applied",
            gauge(self.applied),
        );
        registry.register(
            "migrations_pending",
            "Migrations of this build not applied yet",
            gauge(self.pending),
        );
        registry.register(
            "migrations_unknown",
            "Applied versions this build does not know",
            gauge(self.unknown),
        );
        let durations = Family::<Vec<(String, String)>, FloatGauge>::default();
        for (version, seconds) in self.durations {
            durations
                .get_or_create(&vec![("version".to_string(), version)])
                .set(seconds);
        }
        registry.register(
            "migration_last_duration_seconds",
            "Wall time of the last successful up of each applied migration",
            durations,
        );
        registry.register(
            "migration_failed_runs",
            "Migrations whose latest run failed or did not finish (not marked repaired)",
            gauge(self.failed_runs),
        );
        registry.register(
            "migration_unrepaired_runs",
            "Failed runs that could not be rolled back and block up until repaired",
            gauge(self.unrepaired),
        );
        registry.register(
            "migration_checksum_problems",
            "Applied migrations whose code changed after they were applied",
            gauge(self.checksum_problems),
        );
        registry.register(
            "migration_lock_held",
            "1 while a runner holds the migration lock",
            gauge(self.lock_held),
        );
    }
}
