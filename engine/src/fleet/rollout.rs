//! Running one command on every target of a fleet: each target through its own [`Runner`]
//! (the lock, checksums, backups and refusals of a single run), at most `parallel` at once as
//! tokio tasks of this process, each with its own one-connection pool that is closed when the
//! target is done. A target that fails or cannot be reached is reported and never stops the
//! others; `canary` targets go first, and the rest only when all of them succeeded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::author::tuning::Tuning;
use crate::backup::BackupConfig;
use crate::config::Config;
use crate::db::{ConnectSettings, DatabaseUrl, backend_name, connect};
use crate::error::MigrateError;
use crate::fleet::targets::{FleetTarget, Targets};
use crate::plan::Target;
use crate::review::{check, doctor};
use crate::run::runner::{Event, MigrationState, Migrations, Problem, RunOptions, Runner, State};

/// What a fleet does on each target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Apply every pending migration (`migration up`).
    Up,
    /// Read the migration state (`migration status`), changing nothing.
    Status,
    /// The CI verdict (`migration check`): integrity, unknown versions, lint, drift.
    Check,
    /// The pre-flight checks (`migration doctor`).
    Doctor,
}

impl Action {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Status => "status",
            Action::Check => "check",
            Action::Doctor => "doctor",
        }
    }

    fn read_only(self) -> bool {
        self != Action::Up
    }
}

/// How one target came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `up` applied at least one migration.
    Applied,
    /// Nothing pending (`up` had nothing to do; `status` found it current).
    Current,
    /// `status`: migrations are pending.
    Behind,
    /// `check` or `doctor` passed.
    Passed,
    /// `status`: readable, but `up` would refuse (a changed checksum, an unknown version, an
    /// unrepaired run, a ledger row missing).
    Attention,
    /// The command failed on this target.
    Failed,
    /// The database could not be reached (connection refused, timeout, no such file).
    Unreachable,
    /// Not run: the canary targets did not all succeed.
    NotRun,
}

impl Outcome {
    /// Whether this target counts as a success (a canary may go on, the exit code stays 0).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Applied | Outcome::Current | Outcome::Behind | Outcome::Passed
        )
    }

    /// The word shown in the summary.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Current => "current",
            Outcome::Behind => "behind",
            Outcome::Passed => "passed",
            Outcome::Attention => "ATTENTION",
            Outcome::Failed => "FAILED",
            Outcome::Unreachable => "UNREACHABLE",
            Outcome::NotRun => "not run",
        }
    }
}

/// What happened on one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target's name.
    pub name: String,
    /// Its URL, password redacted.
    pub url: String,
    /// `postgres`, `mysql` or `sqlite`.
    pub backend: String,
    /// Its environment.
    pub env: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// How it came out.
    pub outcome: Outcome,
    /// The latest applied migration before the command (`None`: none, or not known).
    pub before: Option<String>,
    /// The latest applied migration after it.
    pub after: Option<String>,
    /// Migrations `up` applied, in order.
    pub applied: Vec<String>,
    /// Migrations pending afterwards (when known).
    pub pending: Option<usize>,
    /// Why it failed, did not run or needs attention (password-free).
    pub error: Option<String>,
    /// Further findings: problems, failed checks, lint and drift errors.
    pub details: Vec<String>,
    /// When work on it started (UTC; `None` when it did not run).
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

/// Counts per outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Targets selected.
    pub total: usize,
    /// `up` applied migrations.
    pub applied: usize,
    /// Nothing pending.
    pub current: usize,
    /// Migrations pending (`status`).
    pub behind: usize,
    /// `check`/`doctor` passed.
    pub passed: usize,
    /// `up` would refuse (`status`).
    pub attention: usize,
    /// The command failed.
    pub failed: usize,
    /// Not reachable.
    pub unreachable: usize,
    /// Not run (canary).
    pub not_run: usize,
}

/// The outcome of a fleet command: one [`TargetReport`] per target, in the targets' order.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// `up`, `status`, `check` or `doctor`.
    pub command: Action,
    /// Targets run at most at once.
    pub parallel: usize,
    /// Canary targets run first (0: none).
    pub canary: usize,
    /// When the fleet started (UTC).
    pub started_at: DateTime<Utc>,
    /// Wall time of the whole fleet in milliseconds.
    pub duration_ms: u64,
    /// Counts per outcome.
    pub summary: Summary,
    /// Every target.
    pub targets: Vec<TargetReport>,
}

impl FleetReport {
    /// Whether every target succeeded.
    pub fn succeeded(&self) -> bool {
        self.targets.iter().all(|t| t.outcome.is_success())
    }

    /// The targets that did not succeed.
    pub fn unsuccessful(&self) -> Vec<&TargetReport> {
        self.targets
            .iter()
            .filter(|t| !t.outcome.is_success())
            .collect()
    }
}

/// What a fleet reports while it works (for a progress display).
#[derive(Debug)]
pub enum FleetEvent<'a> {
    /// Work on target `index` started.
    Started {
        /// Position in the targets.
        index: usize,
        /// The target.
        target: &'a FleetTarget,
    },
    /// A migration started on target `index`.
    Migrating {
        /// Position in the targets.
        index: usize,
        /// The migration.
        version: &'a str,
    },
    /// Target `index` is done.
    Finished {
        /// Position in the targets.
        index: usize,
        /// What happened.
        report: &'a TargetReport,
    },
    /// The canary targets did not all succeed: the others will not run.
    CanaryStopped {
        /// The canary targets that did not succeed.
        failed: Vec<String>,
        /// How many targets will not run.
        skipped: usize,
    },
}

type Observer = Arc<dyn Fn(&FleetEvent<'_>) + Send + Sync>;

/// How a fleet runs.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Targets at most at once (at least 1).
    pub parallel: usize,
    /// Run the first this many targets first; the rest only when all of them succeeded.
    pub canary: usize,
    /// How long to wait for a server to answer.
    pub connect_timeout: Duration,
    /// How long to wait for another runner's lock on a target.
    pub lock_timeout: Duration,
    /// Back up before changing a target that holds data: each target's backups go to a
    /// subdirectory named after it (`None`: no backups).
    pub backup: Option<BackupConfig>,
    /// Apply destructive migrations (`up --allow-destructive`).
    pub allow_destructive: bool,
    /// Batching and DDL tuning handed to the migrations.
    pub tuning: Tuning,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            parallel: default_parallelism(),
            canary: 0,
            connect_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(300),
            backup: None,
            allow_destructive: false,
            tuning: Tuning::default(),
        }
    }
}

/// The default number of targets at once: twice the machine's cores (the work is mostly
/// waiting on databases), between 2 and 16.
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
        .clamp(2, 16)
}

/// Runs commands on many databases: the project's migrations (`migrations`, e.g.
/// `Migrator::migrations`) and [`Config`], and [`FleetOptions`].
#[derive(Clone)]
pub struct Fleet {
    config: Config,
    migrations: fn() -> Migrations,
    options: FleetOptions,
}

impl Fleet {
    /// A fleet for the project `config` whose migrations `migrations` returns.
    pub fn new(config: Config, migrations: fn() -> Migrations) -> Self {
        Self {
            config,
            migrations,
            options: FleetOptions::default(),
        }
    }

    /// Sets parallelism, canary, timeouts and backups.
    pub fn with_options(mut self, options: FleetOptions) -> Self {
        self.options = options;
        self
    }

    /// The options.
    pub fn options(&self) -> &FleetOptions {
        &self.options
    }

    /// Runs `action` on every target and reports on each; never fails as a whole (a target
    /// that fails is a failed [`TargetReport`]). `observer` sees progress.
    pub async fn run(
        &self,
        action: Action,
        targets: &Targets,
        observer: impl Fn(&FleetEvent<'_>) + Send + Sync + 'static,
    ) -> FleetReport {
        let observer: Observer = Arc::new(observer);
        let started_at = Utc::now();
        let clock = Instant::now();
        let parallel = self.options.parallel.max(1);
        let canary = self.options.canary.min(targets.len());
        let all: Vec<(usize, FleetTarget)> = targets.targets.iter().cloned().enumerate().collect();
        let (first, rest) = all.split_at(canary);
        let mut reports = self.batch(action, first.to_vec(), &observer).await;
        let failed: Vec<String> = reports
            .iter()
            .filter(|(_, r)| !r.outcome.is_success())
            .map(|(_, r)| r.name.clone())
            .collect();
        if canary > 0 && !failed.is_empty() {
            observer(&FleetEvent::CanaryStopped {
                failed: failed.clone(),
                skipped: rest.len(),
            });
            let reason = format!(
                "not run: the canary target(s) {} did not succeed; fix them and run the fleet again",
                failed.join(", ")
            );
            for (i, t) in rest {
                let mut r = blank(t);
                r.outcome = Outcome::NotRun;
                r.error = Some(reason.clone());
                reports.push((*i, r));
            }
        } else {
            reports.extend(self.batch(action, rest.to_vec(), &observer).await);
        }
        reports.sort_by_key(|(i, _)| *i);
        let targets: Vec<TargetReport> = reports.into_iter().map(|(_, r)| r).collect();
        let mut summary = Summary {
            total: targets.len(),
            ..Summary::default()
        };
        for t in &targets {
            *match t.outcome {
                Outcome::Applied => &mut summary.applied,
                Outcome::Current => &mut summary.current,
                Outcome::Behind => &mut summary.behind,
                Outcome::Passed => &mut summary.passed,
                Outcome::Attention => &mut summary.attention,
                Outcome::Failed => &mut summary.failed,
                Outcome::Unreachable => &mut summary.unreachable,
                Outcome::NotRun => &mut summary.not_run,
            } += 1;
        }
        FleetReport {
            command: action,
            parallel,
            canary,
            started_at,
            duration_ms: millis(clock.elapsed()),
            summary,
            targets,
        }
    }

    /// Runs `batch` with at most `parallel` targets at once, starting them in order.
    async fn batch(
        &self,
        action: Action,
        batch: Vec<(usize, FleetTarget)>,
        observer: &Observer,
    ) -> Vec<(usize, TargetReport)> {
        let permits = Arc::new(Semaphore::new(self.options.parallel.max(1)));
        let mut tasks = JoinSet::new();
        let mut ids = HashMap::new();
        let mut names: HashMap<usize, FleetTarget> = HashMap::new();
        let mut out = Vec::with_capacity(batch.len());
        for (index, target) in batch {
            // Taken before spawning: targets start in order, and never more than `parallel`.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            while let Some(done) = tasks.try_join_next_with_id() {
                out.push(collect(done, &ids, &names));
            }
            let fleet = self.clone();
            let observer = observer.clone();
            names.insert(index, target.clone());
            let handle = tasks.spawn(async move {
                let report = fleet.one(action, index, &target, &observer).await;
                observer(&FleetEvent::Finished {
                    index,
                    report: &report,
                });
                drop(permit);
                report
            });
            ids.insert(handle.id(), index);
        }
        while let Some(done) = tasks.join_next_with_id().await {
            out.push(collect(done, &ids, &names));
        }
        out
    }

    /// Runs `action` on one target; every error becomes its report.
    async fn one(
        &self,
        action: Action,
        index: usize,
        target: &FleetTarget,
        observer: &Observer,
    ) -> TargetReport {
        observer(&FleetEvent::Started { index, target });
        let mut report = blank(target);
        report.started_at = Some(Utc::now());
        let clock = Instant::now();
        if let Err(err) = self
            .work(action, index, target, observer, &mut report)
            .await
        {
            report.outcome = match err {
                MigrateError::Connect { .. } | MigrateError::NoDatabaseFile { .. } => {
                    Outcome::Unreachable
                }
                _ => Outcome::Failed,
            };
            report.error = Some(target.url.scrub(&err.to_string()));
        }
        report.finished_at = Some(Utc::now());
        report.duration_ms = millis(clock.elapsed());
        report
    }

    async fn work(
        &self,
        action: Action,
        index: usize,
        target: &FleetTarget,
        observer: &Observer,
        report: &mut TargetReport,
    ) -> Result<(), MigrateError> {
        let url = &target.url;
        if action.read_only() {
            url.require_existing()?;
        }
        let settings = ConnectSettings {
            schema: target.schema.clone(),
            log_statements: false,
            connect_timeout: self.options.connect_timeout,
        };
        let db = connect(url, &settings).await?;
        let backup = self.options.backup.as_ref().map(|b| {
            (
                BackupConfig {
                    dir: b.dir.join(safe_dir_name(&target.name)),
                    keep: b.keep,
                },
                url.clone(),
            )
        });
        let options = RunOptions {
            lock_timeout: self.options.lock_timeout,
            allow_out_of_order: false,
            backup: backup.clone(),
            allow_destructive: self.options.allow_destructive,
            tuning: self.options.tuning.clone(),
            // The target's own environment: the gates of a single `up` in it apply.
            environment: target.env,
            ..RunOptions::default()
        };
        let progress = observer.clone();
        let runner = Runner::with_config(db, (self.migrations)(), self.config.clone())
            .with_options(options)
            .on_event(move |e| {
                if let Event::Started { version, .. } = e {
                    progress(&FleetEvent::Migrating { index, version });
                }
            });
        let result = self
            .act(action, &runner, url, backup.map(|(b, _)| b), report)
            .await;
        let _ = runner.connection().clone().close().await;
        result
    }

    async fn act(
        &self,
        action: Action,
        runner: &Runner,
        url: &DatabaseUrl,
        backup: Option<BackupConfig>,
        report: &mut TargetReport,
    ) -> Result<(), MigrateError> {
        match action {
            Action::Up => {
                let before = runner.status().await?;
                report.before = latest(&before);
                report.after = report.before.clone();
                let steps = runner.up(&Target::All).await?;
                report.applied = steps.into_iter().map(|s| s.version).collect();
                if let Some(last) = report.applied.last() {
                    report.after = Some(last.clone());
                }
                let pending = before.iter().filter(|s| s.status == State::Pending).count();
                report.pending = Some(pending.saturating_sub(report.applied.len()));
                report.outcome = if report.applied.is_empty() {
                    Outcome::Current
                } else {
                    Outcome::Applied
                };
            }
            Action::Status => {
                let states = runner.status().await?;
                report.before = latest(&states);
                report.after = report.before.clone();
                let pending = states.iter().filter(|s| s.status == State::Pending).count();
                report.pending = Some(pending);
                // What `status --check` reports: everything that would stop `up`.
                report.details = runner
                    .verify()
                    .await?
                    .iter()
                    .map(Problem::describe)
                    .collect();
                report.outcome = if !report.details.is_empty() {
                    report.error =
                        Some(format!("`up` would refuse: {}", report.details.join("; ")));
                    Outcome::Attention
                } else if pending > 0 {
                    Outcome::Behind
                } else {
                    Outcome::Current
                };
            }
            Action::Check => {
                let migrations = (self.migrations)();
                let done = check::check(
                    runner,
                    url,
                    &migrations,
                    &check::CheckOptions {
                        allow_destructive: self.options.allow_destructive,
                        all: false,
                    },
                )
                .await?;
                report.pending = Some(done.pending);
                report.details = done
                    .findings
                    .iter()
                    .filter(|f| f.severity == crate::review::lint::Severity::Error)
                    .map(|f| {
                        let m = if f.migration.is_empty() {
                            String::new()
                        } else {
                            format!("{}: ", f.migration)
                        };
                        format!("[{}] {m}{}", f.rule, f.message)
                    })
                    .collect();
                if done.passed() {
                    report.outcome = Outcome::Passed;
                } else {
                    report.outcome = Outcome::Failed;
                    report.error = Some(format!(
                        "{} error finding(s): {}",
                        done.errors(),
                        report.details.first().cloned().unwrap_or_default()
                    ));
                }
                let states = runner.status().await?;
                report.before = latest(&states);
                report.after = report.before.clone();
            }
            Action::Doctor => {
                let done = doctor::run(runner, url, backup.as_ref()).await;
                report.details = done.failures().0;
                if done.healthy() {
                    report.outcome = Outcome::Passed;
                } else {
                    report.outcome = Outcome::Failed;
                    report.error = Some(format!(
                        "doctor found {} problem(s): {}",
                        report.details.len(),
                        report.details.join("; ")
                    ));
                }
            }
        }
        report.error = report.error.take().map(|e| url.scrub(&e));
        report.details = report.details.iter().map(|d| url.scrub(d)).collect();
        Ok(())
    }
}

/// The report of a target before it runs.
fn blank(target: &FleetTarget) -> TargetReport {
    TargetReport {
        name: target.name.clone(),
        url: target.url.redacted().to_string(),
        backend: backend_name(target.url.backend()).to_string(),
        env: target.env_name(),
        labels: target.labels.clone(),
        outcome: Outcome::Failed,
        before: None,
        after: None,
        applied: Vec::new(),
        pending: None,
        error: None,
        details: Vec::new(),
        started_at: None,
        finished_at: None,
        duration_ms: 0,
    }
}

/// A finished task's report; a task that panicked becomes a failed report.
fn collect(
    done: Result<(tokio::task::Id, TargetReport), tokio::task::JoinError>,
    ids: &HashMap<tokio::task::Id, usize>,
    targets: &HashMap<usize, FleetTarget>,
) -> (usize, TargetReport) {
    match done {
        Ok((id, report)) => (ids.get(&id).copied().unwrap_or(usize::MAX), report),
        Err(e) => {
            let index = ids.get(&e.id()).copied().unwrap_or(usize::MAX);
            let mut report = match targets.get(&index) {
                Some(t) => blank(t),
                None => TargetReport {
                    name: format!("#{index}"),
                    ..blank_unknown()
                },
            };
            report.error = Some(
                "the task running this target stopped unexpectedly (a bug: please report it); the other targets were not affected"
                    .into(),
            );
            (index, report)
        }
    }
}

fn blank_unknown() -> TargetReport {
    TargetReport {
        name: String::new(),
        url: String::new(),
        backend: String::new(),
        env: String::new(),
        labels: Vec::new(),
        outcome: Outcome::Failed,
        before: None,
        after: None,
        applied: Vec::new(),
        pending: None,
        error: None,
        details: Vec::new(),
        started_at: None,
        finished_at: None,
        duration_ms: 0,
    }
}

/// The latest applied migration: the last applied one of this build, or an applied version
/// this build does not know (those are newer).
fn latest(states: &[MigrationState]) -> Option<String> {
    states
        .iter()
        .rev()
        .find(|s| s.status != State::Pending)
        .map(|s| s.version.clone())
}

/// A target name as a directory name: anything but letters, digits, `-`, `_` and `.`
/// becomes `_`.
fn safe_dir_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
