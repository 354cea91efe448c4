//! What can go wrong: [`ServeError`] stops the server (start-up, binding, shutdown);
//! [`ApiError`] is one request's failure, answered as a JSON document with an HTTP status.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use migration_engine::{DatabaseUrl, MigrateError};

/// Why `oht50-db serve` could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The token file could not be read.
    #[error(
        "cannot read the token file {path}: {source}. Check the path and its permissions, or \
         set the token in {env_var} instead."
    )]
    TokenFile {
        path: std::path::PathBuf,
        env_var: String,
        source: std::io::Error,
    },
    /// The token is too short to be a secret.
    #[error(
        "the token from {origin} has {len} character(s): use at least {min} random characters \
         (e.g. the output of `openssl rand -hex 32`)."
    )]
    WeakToken {
        origin: String,
        len: usize,
        min: usize,
    },
    /// Both a token file and the token environment variable are set.
    #[error(
        "both --token-file and {env_var} are set: give the token one way only (unset {env_var} \
         or drop --token-file)."
    )]
    TwoTokens { env_var: String },
    /// The listen address is taken or not allowed.
    #[error(
        "cannot listen on {addr}: {source}. Choose another address with --listen, or stop what \
         uses this one."
    )]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The HTTP server itself failed.
    #[error(
        "the HTTP server failed: {0}. Restart it; if it keeps failing, check the host's network."
    )]
    Server(std::io::Error),
    /// Shutdown did not wait for a migration run to finish.
    #[error(
        "shut down while {run} was still running (gave up waiting after {waited_s} s): the \
         database rolls back its open transaction where the backend can (PostgreSQL, SQLite); \
         on MySQL/MariaDB check `oht50-db migrate status` and `history` for an in-progress run \
         before migrating again."
    )]
    RunAbandoned { run: String, waited_s: u64 },
    /// An engine error (the database URL, connecting).
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

impl ServeError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::TokenFile { .. } | Self::WeakToken { .. } | Self::TwoTokens { .. } => 2,
            Self::Migrate(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// A request's failure: an HTTP status and a JSON body `{"error": "...", ...}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body; always has an `error` string.
    pub body: serde_json::Value,
    /// `WWW-Authenticate: Bearer` on 401.
    challenge: bool,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: serde_json::json!({ "error": message.into() }),
            challenge: status == StatusCode::UNAUTHORIZED,
        }
    }

    /// Adds `key: value` to the body.
    pub fn with(mut self, key: &str, value: impl serde::Serialize) -> Self {
        if let Some(map) = self.body.as_object_mut() {
            map.insert(
                key.into(),
                serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            );
        }
        self
    }

    /// An engine error as a response: its status by kind, its message scrubbed of `url`'s
    /// credentials.
    pub fn from_migrate(url: &DatabaseUrl, err: &MigrateError) -> Self {
        let status = match err {
            MigrateError::LockTimeout { .. } => StatusCode::CONFLICT,
            MigrateError::Refused { .. }
            | MigrateError::DestructiveRefused { .. }
            | MigrateError::Pending { .. }
            | MigrateError::Inconsistent { .. }
            | MigrateError::UnknownApplied { .. }
            | MigrateError::GateClosed { .. } => StatusCode::CONFLICT,
            MigrateError::UnknownVersion { .. }
            | MigrateError::TargetNotAhead { .. }
            | MigrateError::TargetNotApplied { .. }
            | MigrateError::UnknownGate { .. } => StatusCode::BAD_REQUEST,
            MigrateError::NeedsConfirmation { .. } => StatusCode::FORBIDDEN,
            MigrateError::Connect { .. } | MigrateError::NoDatabaseFile { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut api = Self::new(status, url.scrub(&err.to_string()));
        if let MigrateError::LockTimeout { holder, .. } = err {
            api = api.with("holder", url.scrub(holder));
        }
        if let MigrateError::Refused { problems } = err {
            api = api.with("problems", problems);
        }
        if let MigrateError::GateClosed { failures } = err {
            api = api.with("gates", failures);
        }
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
