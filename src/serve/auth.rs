//! Bearer-token authorisation of the mutation endpoints. The token comes from an environment
//! variable or a file, never from the command line (where `ps` would show it); only its SHA-256
//! digest is kept, and a presented token is compared digest to digest in constant time.

use std::path::Path;

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::serve::error::{ApiError, ServeError};

/// Fewest characters a token may have.
pub const MIN_TOKEN_LEN: usize = 16;

/// The secret that enables `POST /api/v1/migrations/...`: only its digest is kept.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// A token from its text (surrounding whitespace and a trailing newline ignored);
    /// `origin` names where it came from, for the error.
    pub fn new(secret: &str, origin: &str) -> Result<Self, ServeError> {
        let secret = secret.trim();
        let len = secret.chars().count();
        if len < MIN_TOKEN_LEN {
            return Err(ServeError::WeakToken {
                origin: origin.into(),
                len,
                min: MIN_TOKEN_LEN,
            });
        }
        Ok(Self {
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// The token of the environment variable `env_var` or of `file` (exactly one may be
    /// given); `None` when neither is: the mutation endpoints stay off.
    pub fn load(env_var: &str, file: Option<&Path>) -> Result<Option<Self>, ServeError> {
        let from_env = std::env::var(env_var).ok().filter(|v| !v.is_empty());
        match (from_env, file) {
            (Some(_), Some(_)) => Err(ServeError::TwoTokens {
                env_var: env_var.into(),
            }),
            (Some(secret), None) => Self::new(&secret, env_var).map(Some),
            (None, Some(path)) => {
                let secret =
                    std::fs::read_to_string(path).map_err(|source| ServeError::TokenFile {
                        path: path.to_path_buf(),
                        env_var: env_var.into(),
                        source,
                    })?;
                Self::new(&secret, &path.display().to_string()).map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    /// Whether `presented` is this token (constant time in its content).
    pub fn verify(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

/// Lets a mutation request through, or says why not: 403 while the endpoints are off (and how
/// to turn them on), 401 without or with a wrong `Authorization: Bearer` token.
pub fn authorize(
    token: Option<&Token>,
    headers: &HeaderMap,
    env_var: &str,
) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the migration endpoints are off: start `oht50-db serve` with a token in the \
                 environment variable {env_var} or in a file given with --token-file, then send \
                 it as `Authorization: Bearer <token>`"
            ),
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing credentials: send the server's token as `Authorization: Bearer <token>`",
        )),
        Some(p) if token.verify(p) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong token: send the token the server was started with (its environment variable \
             or --token-file) as `Authorization: Bearer <token>`",
        )),
    }
}
