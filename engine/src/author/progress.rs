//! Progress of a long job (a batched data migration, a retention run): a bar when stderr is a
//! terminal, otherwise a notice (see [`crate::author::context::notice`]) every few seconds;
//! both with rows/s and an ETA.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub use crate::author::tuning::ProgressMode;

/// How often a line is printed in [`ProgressMode::Lines`].
pub const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Reports the progress of one job.
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
    mode: ProgressMode,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Starts reporting `label` with `total` rows expected (an estimate is fine).
    pub fn new(label: impl Into<String>, total: u64, mode: ProgressMode) -> Self {
        let label = label.into();
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            m => m,
        };
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.clone());
            bar
        });
        let now = Instant::now();
        Self {
            label,
            total,
            done: 0,
            started: now,
            last_line: now,
            mode,
            bar,
        }
    }

    /// Rows handled so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Rows per second so far.
    pub fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        }
    }

    /// Adds `rows` handled rows.
    pub fn advance(&mut self, rows: u64) {
        self.done += rows;
        if self.done > self.total {
            self.total = self.done;
            if let Some(bar) = &self.bar {
                bar.set_length(self.total);
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        } else if self.mode == ProgressMode::Lines && self.last_line.elapsed() >= LINE_INTERVAL {
            self.last_line = Instant::now();
            crate::author::context::notice(&self.line());
        }
    }

    /// The current state in one line.
    pub fn line(&self) -> String {
        let rate = self.rate();
        let left = self.total.saturating_sub(self.done);
        let eta = if rate > 0.0 {
            format!("{:.0} s", left as f64 / rate)
        } else {
            "unknown".into()
        };
        let pct = if self.total > 0 {
            self.done as f64 * 100.0 / self.total as f64
        } else {
            100.0
        };
        format!(
            "{}: {}/{} rows ({pct:.1}%), {rate:.0} rows/s, ETA {eta}",
            self.label, self.done, self.total
        )
    }

    /// Clears the bar and prints `summary` (always, whatever the mode).
    pub fn finish(self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        crate::author::context::notice(&format!("{}: {summary}", self.label));
    }
}
