//! Switching a `lint` rule off for one migration, with the reason recorded in the migration:
//!
//! ```ignore
//! async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
//!     lint_allow::allow(manager, "rename-column", "no application reads robots.code yet").await?;
//!     // ...
//! }
//! ```
//!
//! Under capture (what `lint`, dry runs and checksums use) the call is recorded as a flag of
//! the migration ([`crate::plan::capture::Capture::lint_allowed`]), never as a statement, so it
//! changes neither the SQL a deploy runs nor the checksum. On a real database it does nothing.
//! `lint` then leaves that rule's findings about this migration out; a rule name that does not
//! exist is reported (`unknown-lint-allow`). Rules are listed in
//! [`crate::plan::finding::rules`]; the project-wide switch is
//! [`crate::Config::with_lint_rule_off`].

use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::SchemaManager;

use crate::author::batch::capturing;
use crate::plan::capture::LINT_ALLOW_MARKER;

/// Switches lint rule `rule` off for the calling migration, because of `reason` (shown by
/// `lint`). Call it at the start of `up` (or `down`); it runs nothing on a database.
pub async fn allow(manager: &SchemaManager<'_>, rule: &str, reason: &str) -> Result<(), DbErr> {
    if !capturing(manager) {
        return Ok(());
    }
    let json = serde_json::to_string(&(rule, reason))
        .map_err(|e| DbErr::Custom(format!("lint allow: {e}")))?;
    manager
        .get_connection()
        .execute_unprepared(&format!("{LINT_ALLOW_MARKER}{json}"))
        .await
        .map(|_| ())
}
