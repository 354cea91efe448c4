//! What the runner hands a migration while it runs: tuning, the batch-progress table and a
//! sink for notices. Carried in a tokio task-local set around each migration call (no
//! process-wide state); a migration run by other tools (stock sea-orm-migration) sees the
//! defaults and its notices go to `tracing`.

use std::future::Future;
use std::sync::Arc;

use crate::author::tuning::Tuning;

/// A sink for notices (one line each): the CLI's event log, a test's buffer.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a migration's results go (see [`report`]): the runner writes them into the
/// migration's history row.
pub type Reports = Arc<std::sync::Mutex<Vec<String>>>;

/// The context of one migration run.
#[derive(Clone)]
pub struct RunContext {
    /// Batch sizes, throttling, DDL lock timeout and retries, progress display.
    pub tuning: Tuning,
    /// The table where resumable batch migrations record their progress.
    pub batch_table: String,
    /// Where notices go (`None`: `tracing` at info level).
    pub notify: Option<Notify>,
    /// Where results go (`None`: nowhere beyond the notice).
    pub reports: Option<Reports>,
}

impl Default for RunContext {
    fn default() -> Self {
        Self {
            tuning: Tuning::default(),
            batch_table: crate::config::Config::default().batch_table,
            notify: None,
            reports: None,
        }
    }
}

tokio::task_local! {
    static CONTEXT: RunContext;
}

/// The context of the migration running on this task, or the defaults.
pub fn current() -> RunContext {
    CONTEXT.try_with(RunContext::clone).unwrap_or_default()
}

/// Runs `f` with `ctx` as its context.
pub async fn scope<F: Future>(ctx: RunContext, f: F) -> F::Output {
    CONTEXT.scope(ctx, f).await
}

/// Records `text` as a result of the running migration (e.g. a batched data migration's
/// batches, rows and longest batch): the runner writes it into the migration's history row
/// (`notes`) and its [`crate::Step`]. Say it with [`notice`] too, to show it now.
pub fn report(text: &str) {
    if let Ok(Some(reports)) = CONTEXT.try_with(|c| c.reports.clone())
        && let Ok(mut r) = reports.lock()
    {
        r.push(text.to_string());
    }
}

/// Takes the results recorded so far (see [`report`]).
pub fn take_reports() -> Vec<String> {
    match CONTEXT.try_with(|c| c.reports.clone()) {
        Ok(Some(reports)) => reports
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Reports `text` through the current context's sink.
pub fn notice(text: &str) {
    match CONTEXT.try_with(|c| c.notify.clone()).ok().flatten() {
        Some(notify) => notify(text),
        None => tracing::info!("{text}"),
    }
}
