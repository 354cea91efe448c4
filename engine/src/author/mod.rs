//! Helpers that migrations call: portable [`columns`], resumable [`batch`] data migrations,
//! [`online`] index builds, SQLite table [`rebuild`]s, and their [`tuning`] and [`progress`].
//! [`context`] carries what the runner hands them while a migration runs.

pub mod batch;
pub mod columns;
pub mod context;
pub mod lint_allow;
pub mod online;
pub mod progress;
pub mod rebuild;
pub mod tuning;
