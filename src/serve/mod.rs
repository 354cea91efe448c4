//! `oht50-db serve`: the migration state of one database over HTTP, for operators and
//! orchestrators without shell access.
//!
//! | endpoint | what |
//! | --- | --- |
//! | `GET /api/v1/migrations/status` | the document of `migrate status --format json` |
//! | `GET /api/v1/migrations/history?limit=N` | the document of `migrate history --format json` |
//! | `GET /health` | liveness; whether the database answers |
//! | `GET /ready` | 200 when the schema is this build's, else 503 with the reasons |
//! | `GET /metrics` | Prometheus metrics ([`metrics`]) |
//! | `POST /api/v1/migrations/migrate` | `up` (token required; off without one) |
//! | `POST /api/v1/migrations/rollback/{version}` | `down --to VERSION` (token required) |
//!
//! [`router`] builds the service (tests drive it on an ephemeral port); [`run`] listens, and
//! on SIGTERM/SIGINT stops taking requests and lets a running migration finish.

pub mod args;
pub mod auth;
pub mod error;
pub mod gates;
pub mod handlers;
pub mod metrics;
pub mod mutate;
pub mod probes;
pub mod state;

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

pub use crate::serve::args::ServeArgs;
pub use crate::serve::error::{ApiError, ServeError};
pub use crate::serve::state::{AppState, RunInfo, ServeOptions};

/// The HTTP service over `state`: every endpoint, the body-size limit on all of them, and
/// the per-request timeout on the read endpoints (a migration request lasts as long as its
/// run, which a timeout must not cut).
pub fn router(state: AppState) -> Router {
    let options = state.options();
    let reads = Router::new()
        .route("/api/v1/migrations/status", get(handlers::status))
        .route("/api/v1/migrations/history", get(handlers::history))
        .route("/health", get(handlers::health))
        .route("/ready", get(handlers::ready))
        .route("/metrics", get(handlers::metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            options.request_timeout,
        ));
    let writes = Router::new()
        .route("/api/v1/migrations/migrate", post(mutate::migrate))
        .route(
            "/api/v1/migrations/rollback/{version}",
            post(mutate::rollback),
        );
    Router::new()
        .merge(reads)
        .merge(writes)
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then stops accepting and
/// finishes the requests in flight. For tests and [`run`].
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// How the server stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The signal that stopped it.
    pub signal: &'static str,
    /// The run that was in progress when the signal came and that shutdown waited for.
    pub waited_for: Option<RunInfo>,
}

/// Runs the server until SIGTERM or SIGINT: binds `options.listen`, serves, and on the signal
/// refuses new runs, finishes the requests in flight and waits up to
/// `options.shutdown_timeout` (or until a second signal) for a running migration.
pub async fn run(options: ServeOptions) -> Result<Stopped, ServeError> {
    let addr = options.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let mut signals = Signals::new().map_err(ServeError::Server)?;
    let state = AppState::new(options);
    let o = state.options();
    o.log.notice(&format!(
        "Serving {} ({}) on http://{local}; migration endpoints {}.",
        o.url.redacted(),
        migration_engine::db::backend_name(o.url.backend()),
        if o.token.is_some() {
            "on (bearer token)".to_string()
        } else {
            format!(
                "off (set {} or --token-file to enable)",
                state.token_env_var()
            )
        }
    ));
    if let Err(e) = state.reader().await {
        o.log.notice(&format!(
            "The database is not reachable yet ({}); /health reports it and requests retry.",
            o.url.scrub(&e.to_string())
        ));
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None::<&'static str>);
    let signals = tokio::spawn(async move {
        let first = signals.next().await;
        let _ = stop_tx.send(Some(first));
        signals.next().await
    });
    let mut graceful_rx = stop_rx.clone();
    let server = serve_on(listener, state.clone(), async move {
        let _ = graceful_rx.wait_for(Option::is_some).await;
    });
    tokio::pin!(server);
    let mut signal_rx = stop_rx;
    tokio::select! {
        result = &mut server => {
            // Stopped without a signal: only an I/O failure does that.
            result.map_err(ServeError::Server)?;
            state.close().await;
            return Ok(Stopped { signal: "none", waited_for: None });
        }
        _ = signal_rx.wait_for(Option::is_some) => {}
    }
    let signal = signal_rx.borrow().unwrap_or("a signal");
    state.begin_shutdown();
    let waited_for = state.running();
    let started = Instant::now();
    let timeout = state.options().shutdown_timeout;
    match &waited_for {
        Some(run) => o.log.notice(&format!(
            "{signal}: shutting down, no new requests; waiting up to {} s for {run} to finish (a second signal stops waiting).",
            timeout.as_secs()
        )),
        None => o.log.notice(&format!(
            "{signal}: shutting down, no new requests; finishing those in flight."
        )),
    }
    let drained = async {
        let served = server.await;
        state.idle().await;
        served
    };
    let signals_abort = signals.abort_handle();
    let outcome = tokio::select! {
        served = drained => Some(served),
        _ = tokio::time::sleep(timeout) => None,
        _ = second_signal(signals) => None,
    };
    signals_abort.abort();
    match outcome {
        Some(served) => {
            served.map_err(ServeError::Server)?;
            if let Some(run) = &waited_for {
                o.log
                    .notice(&format!("The running migration finished ({run}); stopped."));
            } else {
                o.log.notice("Stopped.");
            }
            state.close().await;
            Ok(Stopped { signal, waited_for })
        }
        None => match state.running() {
            Some(run) => Err(ServeError::RunAbandoned {
                run: run.to_string(),
                waited_s: started.elapsed().as_secs(),
            }),
            None => {
                o.log
                    .notice("Stopped (requests still in flight were dropped).");
                Ok(Stopped { signal, waited_for })
            }
        },
    }
}

async fn second_signal(signals: tokio::task::JoinHandle<&'static str>) {
    let _ = signals.await;
}

/// SIGTERM and SIGINT, registered before the server says it is up.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next SIGTERM or SIGINT, by name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Runs [`run`] on its own multi-threaded runtime with `workers` threads (0: one per CPU),
/// blocking the calling thread; for a binary whose `main` runtime is single-threaded.
pub fn run_blocking(options: ServeOptions, workers: usize) -> Result<Stopped, ServeError> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.enable_all();
                if workers > 0 {
                    builder.worker_threads(workers);
                }
                let runtime = builder.build().map_err(ServeError::Server)?;
                runtime.block_on(run(options))
            })
            .join()
            .unwrap_or_else(|_| {
                Err(ServeError::Server(std::io::Error::other(
                    "the server thread panicked",
                )))
            })
    })
}

/// Default per-request timeout of the read endpoints.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
