//! What the runner hands a migration while it runs: tuning, the batch-progress table and a
//! sink for notices. Carried in a tokio task-local set around each migration call (no
//! process-wide state); a migration run by other tools (stock sea-orm-migration) sees the
//! defaults and its notices go to `tracing`.

use std::future::Future;
use std::sync::Arc;

use crate::author::tuning::Tuning;

/// A sink for notices (one line each): the CLI's event log, a test's buffer.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// The context of one migration run.
#[derive(Clone)]
pub struct RunContext {
    /// Batch sizes, throttling, DDL lock timeout and retries, progress display.
    pub tuning: Tuning,
    /// The table where resumable batch migrations record their progress.
    pub batch_table: String,
    /// Where notices go (`None`: `tracing` at info level).
    pub notify: Option<Notify>,
}

impl Default for RunContext {
    fn default() -> Self {
        Self {
            tuning: Tuning::default(),
            batch_table: crate::config::Config::default().batch_table,
            notify: None,
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

/// Reports `text` through the current context's sink.
pub fn notice(text: &str) {
    match CONTEXT.try_with(|c| c.notify.clone()).ok().flatten() {
        Some(notify) => notify(text),
        None => tracing::info!("{text}"),
    }
}
