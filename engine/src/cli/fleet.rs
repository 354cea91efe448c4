//! `migration fleet up|status|check|doctor --targets FILE`: parses the fleet flags, loads the
//! targets, runs [`crate::fleet::Fleet`], shows progress (a multi-progress display on a
//! terminal, one plain line per target otherwise, both on stderr) and prints the summary
//! table or the JSON document on stdout.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm_migration::MigratorTrait;

use crate::author::tuning::ScaleArgs;
use crate::backup::BackupConfig;
use crate::cli::args::{FleetAction, FleetArgs, FleetFlags, Safety};
use crate::cli::output::{Format, errln, outln};
use crate::config::Config;
use crate::error::{MigrateError, Versions};
use crate::fleet::{
    Action, Fleet, FleetEvent, FleetOptions, FleetReport, Outcome, TargetReport, Targets,
};

/// The fleet action and its flags.
fn split(action: &FleetAction) -> (Action, &FleetFlags) {
    match action {
        FleetAction::Up(f) => (Action::Up, f),
        FleetAction::Status(f) => (Action::Status, f),
        FleetAction::Check(f) => (Action::Check, f),
        FleetAction::Doctor(f) => (Action::Doctor, f),
    }
}

/// Runs `fleet` for migrator `M`: the global `safety` flags (lock timeout, backups) and
/// `scale` tuning apply to every target.
pub async fn run<M: MigratorTrait>(
    args: &FleetArgs,
    safety: &Safety,
    scale: &ScaleArgs,
    config: &Config,
) -> Result<(), MigrateError> {
    let (action, flags) = split(&args.action);
    let targets = Targets::load(&flags.targets)
        .and_then(|t| t.select(&flags.only, &flags.except))
        .map_err(|e| MigrateError::FleetTargets {
            source: Box::new(e),
        })?;
    let options = FleetOptions {
        parallel: flags
            .parallel
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(crate::fleet::default_parallelism),
        canary: flags.canary,
        connect_timeout: Duration::from_secs(flags.connect_timeout.max(1)),
        lock_timeout: Duration::from_secs(safety.lock_timeout),
        backup: (!safety.no_backup).then(|| BackupConfig {
            dir: safety.backup_dir.clone(),
            keep: safety.keep_backups,
        }),
        allow_destructive: flags.allow_destructive,
        tuning: scale.tuning(),
    };
    let fleet = Fleet::new(config.clone(), M::migrations).with_options(options);
    let progress = Progress::new(action, &targets, flags.format);
    let observer = progress.clone();
    let report = fleet
        .run(action, &targets, move |e| observer.event(e))
        .await;
    progress.finish();
    match flags.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Text => print_table(&report),
    }
    let bad = report.unsuccessful();
    if bad.is_empty() {
        return Ok(());
    }
    Err(MigrateError::FleetIncomplete {
        command: action.name(),
        count: bad.len(),
        total: report.targets.len(),
        names: Versions(bad.iter().map(|t| t.name.clone()).collect()),
    })
}

/// Progress on stderr: a multi-progress display on a terminal (an overall bar, a line per
/// running target, a line per finished one), plain lines otherwise (text format only).
#[derive(Clone)]
struct Progress {
    inner: Arc<Mutex<ProgressState>>,
}

struct ProgressState {
    mode: Mode,
    total: usize,
    done: usize,
    running: HashMap<usize, ProgressBar>,
}

enum Mode {
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
    },
    Lines,
    Quiet,
}

impl Progress {
    fn new(action: Action, targets: &Targets, format: Format) -> Self {
        let total = targets.len();
        let mode = if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template(&format!(
                    "fleet {} [{{bar:30}}] {{pos}}/{{len}} {{elapsed}}",
                    action.name()
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            Mode::Bars { multi, overall }
        } else if format == Format::Text {
            Mode::Lines
        } else {
            Mode::Quiet
        };
        Self {
            inner: Arc::new(Mutex::new(ProgressState {
                mode,
                total,
                done: 0,
                running: HashMap::new(),
            })),
        }
    }

    fn event(&self, event: &FleetEvent<'_>) {
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        match event {
            FleetEvent::Started { index, target } => {
                if let Mode::Bars { multi, .. } = &st.mode {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(format!("{}: connecting", target.name));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    st.running.insert(*index, bar);
                }
            }
            FleetEvent::Migrating { index, version } => {
                if let Some(bar) = st.running.get(index) {
                    let name = bar
                        .message()
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    bar.set_message(format!("{name}: applying {version}"));
                }
            }
            FleetEvent::Finished { index, report } => {
                st.done += 1;
                let line = format!("[{}/{}] {}", st.done, st.total, one_line(report));
                if let Some(bar) = st.running.remove(index) {
                    bar.finish_and_clear();
                }
                match &st.mode {
                    Mode::Bars { multi, overall } => {
                        // Printed above the bars, which stay at the bottom.
                        let _ = multi.println(line);
                        overall.inc(1);
                    }
                    Mode::Lines => errln!("{line}"),
                    Mode::Quiet => {}
                }
            }
            FleetEvent::CanaryStopped { failed, skipped } => {
                let line = format!(
                    "canary failed ({}): the other {skipped} target(s) will not run",
                    failed.join(", ")
                );
                match &st.mode {
                    Mode::Bars { multi, .. } => {
                        let _ = multi.println(line);
                    }
                    Mode::Lines => errln!("{line}"),
                    Mode::Quiet => {}
                }
            }
        }
    }

    fn finish(&self) {
        if let Ok(st) = self.inner.lock()
            && let Mode::Bars { multi, overall } = &st.mode
        {
            overall.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

/// One target in one line: outcome, versions, time, error.
fn one_line(r: &TargetReport) -> String {
    let mut line = format!("{}: {}", r.name, r.outcome.label());
    let versions = transition(r);
    if versions != "-" {
        line.push_str(&format!(" {versions}"));
    }
    if !r.applied.is_empty() {
        line.push_str(&format!(" ({} migration(s))", r.applied.len()));
    }
    if let Some(p) = r.pending.filter(|p| *p > 0) {
        line.push_str(&format!(", {p} pending"));
    }
    line.push_str(&format!(" in {} ms", r.duration_ms));
    if let Some(e) = &r.error {
        line.push_str(&format!(" — {}", first_line(e)));
    }
    line
}

/// `before → after` with short versions.
fn transition(r: &TargetReport) -> String {
    let before = short(r.before.as_deref());
    let after = short(r.after.as_deref());
    if matches!(r.outcome, Outcome::NotRun | Outcome::Unreachable) {
        return "-".into();
    }
    if before == after {
        before
    } else {
        format!("{before} → {after}")
    }
}

/// `m20250128_140000_idx_telemetry_timestamp` → `m20250128_140000`; `(none)` when empty.
fn short(version: Option<&str>) -> String {
    match version {
        None => "(none)".into(),
        Some(v) => {
            let mut parts = v.splitn(3, '_');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), Some(_))
                    if a.len() > 1 && b.chars().all(|c| c.is_ascii_digit()) =>
                {
                    format!("{a}_{b}")
                }
                _ => v.to_string(),
            }
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The summary table on stdout, then the totals.
fn print_table(report: &FleetReport) {
    let name_w = report
        .targets
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let rows: Vec<(String, String)> = report
        .targets
        .iter()
        .map(|t| (transition(t), format!("{} ms", t.duration_ms)))
        .collect();
    let backend_w = report
        .targets
        .iter()
        .map(|t| t.backend.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let ver_w = rows
        .iter()
        .map(|(v, _)| v.chars().count())
        .max()
        .unwrap_or(16)
        .max(16);
    outln!(
        "{:<name_w$}  {:<backend_w$}  {:<ver_w$}  {:>9}  {:<11}  Error",
        "Target",
        "Backend",
        "Before → after",
        "Took",
        "Outcome"
    );
    for (t, (versions, took)) in report.targets.iter().zip(rows) {
        let mut outcome = t.outcome.label().to_string();
        if !t.applied.is_empty() {
            outcome = format!("{outcome} {}", t.applied.len());
        }
        let row = format!(
            "{:<name_w$}  {:<backend_w$}  {:<ver_w$}  {:>9}  {:<11}  {}",
            t.name,
            t.backend,
            versions,
            took,
            outcome,
            t.error.as_deref().map(first_line).unwrap_or("")
        );
        outln!("{}", row.trim_end());
    }
    let s = &report.summary;
    let mut parts = Vec::new();
    for (n, word) in [
        (s.applied, "applied"),
        (s.current, "current"),
        (s.behind, "behind"),
        (s.passed, "passed"),
        (s.attention, "need attention"),
        (s.failed, "failed"),
        (s.unreachable, "unreachable"),
        (s.not_run, "not run"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    outln!(
        "fleet {}: {} target(s) in {} ms (at most {} at once): {}.",
        report.command.name(),
        s.total,
        report.duration_ms,
        report.parallel,
        parts.join(", ")
    );
}
