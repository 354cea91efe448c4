//! Passwords of the default users: where they come from, how they are generated and hashed.
//!
//! No password is built into the code. A password comes from a file, from an environment
//! variable, or is generated from the operating system's CSPRNG; it is stored only as an
//! Argon2id PHC string with at least OWASP's minimum parameters and a fresh random salt.

use std::fmt;
use std::path::PathBuf;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroize;

use crate::SeedError;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// Length of generated passwords.
pub const GENERATED_LENGTH: usize = 24;
/// Argon2 memory cost in KiB (OWASP minimum for Argon2id).
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2 iterations (OWASP minimum for that memory).
pub const ITERATIONS: u32 = 2;
/// Argon2 lanes.
pub const PARALLELISM: u32 = 1;

/// Characters of generated passwords: letters and digits without look-alikes (0 O 1 l I).
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// A password in memory: wiped on drop, never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The password itself, to hash it or show it once on a terminal.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in characters.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a default user's password comes from.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// Given directly; `origin` names where from (e.g. the environment variable).
    Given { secret: Secret, origin: String },
    /// Read from this file (one line; a trailing newline is ignored).
    File(PathBuf),
    /// Generated, and shown once.
    Generate,
}

impl PasswordSource {
    /// `file` when given, else the non-empty value of environment variable `env_var`, else
    /// [`PasswordSource::Generate`].
    pub fn from_file_or_env(file: Option<PathBuf>, env_var: &str) -> Self {
        if let Some(path) = file {
            return Self::File(path);
        }
        match std::env::var(env_var) {
            Ok(v) if !v.is_empty() => Self::Given {
                secret: Secret::new(v),
                origin: format!("environment variable {env_var}"),
            },
            _ => Self::Generate,
        }
    }

    /// Whether a password will have to be generated.
    pub fn needs_generating(&self) -> bool {
        matches!(self, Self::Generate)
    }

    /// The password, checked for length; `None` when it must be generated.
    pub fn read(&self, user: &str) -> Result<Option<Secret>, SeedError> {
        let (secret, origin) = match self {
            Self::Generate => return Ok(None),
            Self::Given { secret, origin } => (secret.clone(), origin.clone()),
            Self::File(path) => {
                let mut raw =
                    std::fs::read_to_string(path).map_err(|e| SeedError::PasswordFile {
                        user: user.to_string(),
                        path: path.display().to_string(),
                        cause: e.to_string(),
                    })?;
                let trimmed = raw.trim_end_matches(['\n', '\r']).to_string();
                raw.zeroize();
                (Secret::new(trimmed), format!("file {}", path.display()))
            }
        };
        check_length(user, &origin, &secret)?;
        Ok(Some(secret))
    }
}

/// Refuses passwords shorter than [`MIN_LENGTH`] characters.
pub fn check_length(user: &str, origin: &str, secret: &Secret) -> Result<(), SeedError> {
    if secret.len() < MIN_LENGTH {
        return Err(SeedError::PasswordTooShort {
            user: user.to_string(),
            origin: origin.to_string(),
            len: secret.len(),
            min: MIN_LENGTH,
        });
    }
    Ok(())
}

/// A new random password of [`GENERATED_LENGTH`] characters (about 140 bits) from the
/// operating system's CSPRNG.
pub fn generate() -> Result<Secret, SeedError> {
    let mut out = String::with_capacity(GENERATED_LENGTH);
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - (256 % ALPHABET.len());
    let mut buf = [0u8; 64];
    while out.len() < GENERATED_LENGTH {
        getrandom::fill(&mut buf)
            .map_err(|e| SeedError::Crypto(format!("random generator: {e}")))?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < GENERATED_LENGTH {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    buf.zeroize();
    Ok(Secret(out))
}

fn hasher() -> Result<Argon2<'static>, SeedError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| SeedError::Crypto(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `secret` to an Argon2id PHC string with a fresh random salt.
pub fn hash(secret: &Secret) -> Result<String, SeedError> {
    hasher()?
        .hash_password(secret.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| SeedError::Crypto(format!("argon2: {e}")))
}

/// Whether `secret` matches the PHC string `phc`.
pub fn verify(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The parameters of a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashParams {
    /// Algorithm identifier, e.g. `argon2id`.
    pub algorithm: String,
    /// Argon2 version (19 = 0x13).
    pub version: Option<u32>,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Salt length in bytes.
    pub salt_len: usize,
}

impl HashParams {
    /// Whether these are Argon2id with at least the OWASP minimum (m=19456, t=2, p=1).
    pub fn meets_minimum(&self) -> bool {
        self.algorithm == "argon2id"
            && self.memory_kib >= MEMORY_KIB
            && self.iterations >= ITERATIONS
            && self.parallelism >= PARALLELISM
            && self.salt_len >= 16
    }
}

/// Parses an Argon2 PHC string; `None` when it is not one.
pub fn inspect(phc: &str) -> Option<HashParams> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = parsed.algorithm.as_str().to_string();
    if !algorithm.starts_with("argon2") {
        return None;
    }
    Some(HashParams {
        algorithm,
        version: parsed.version,
        memory_kib: parsed.params.get_decimal("m")?,
        iterations: parsed.params.get_decimal("t")?,
        parallelism: parsed.params.get_decimal("p")?,
        salt_len: parsed.salt.map(|s| s.len()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_random_and_hash_with_owasp_parameters() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), GENERATED_LENGTH);
        assert_ne!(a, b);
        let h1 = hash(&a).unwrap();
        let h2 = hash(&a).unwrap();
        assert_ne!(h1, h2, "random salt");
        let p = inspect(&h1).unwrap();
        assert!(p.meets_minimum(), "{p:?}");
        assert_eq!(p.version, Some(19));
        assert!(verify(a.expose(), &h1));
        assert!(!verify(b.expose(), &h1));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn short_passwords_are_refused() {
        let src = PasswordSource::Given {
            secret: Secret::new("short"),
            origin: "test".into(),
        };
        let err = src.read("admin").unwrap_err();
        assert!(matches!(err, SeedError::PasswordTooShort { len: 5, .. }));
        assert!(!err.to_string().contains("short\""));
    }
}
