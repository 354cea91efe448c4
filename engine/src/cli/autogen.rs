//! `generate NAME --autogenerate` on the command line: renders what
//! [`crate::generate::autogen::autogenerate`] did.

use std::path::Path;

use chrono::Utc;

use crate::cli::output::scrub_error;
use crate::cli::output::{errln, outln};
use crate::config::Config;
use crate::error::MigrateError;
use crate::generate::Clock;
use crate::generate::autogen::{Baseline, Outcome, autogenerate};

/// The `generate NAME --autogenerate` command: diffs against `url` when given (else the head
/// snapshot), prints what it wrote and the warnings to review, or that nothing changes.
pub async fn run_command(
    cwd: &Path,
    name: &str,
    clock: Clock,
    url: Option<&str>,
    schema: Option<String>,
    config: &Config,
) -> Result<(), MigrateError> {
    let outcome = match url {
        None => {
            autogenerate::<sea_orm::DatabaseConnection>(
                cwd,
                name,
                Utc::now(),
                clock,
                Baseline::Snapshot,
                config,
            )
            .await?
        }
        Some(url) => {
            let url = crate::db::DatabaseUrl::parse(url)?;
            let settings = crate::db::ConnectSettings {
                schema,
                ..crate::db::ConnectSettings::default()
            };
            let db = crate::db::connect(&url, &settings).await?;
            let result = autogenerate(
                cwd,
                name,
                Utc::now(),
                clock,
                Baseline::Database(&db),
                config,
            )
            .await;
            let _ = db.close().await;
            result.map_err(|e| scrub_error(&url, e))?
        }
    };
    match outcome {
        Outcome::NothingToChange {
            compared_with,
            notes,
        } => {
            for note in &notes {
                outln!("{note}");
            }
            outln!(
                "Nothing to change: the entity schema matches {compared_with}. No migration written."
            );
        }
        Outcome::Generated {
            migration,
            snapshot,
            summary,
            warnings,
        } => {
            outln!("Created {}", migration.path.display());
            outln!(
                "Registered {} in {}",
                migration.module,
                migration.registered_in.display()
            );
            outln!("Snapshot {}", snapshot.display());
            for line in &summary {
                outln!("  {line}");
            }
            for w in &warnings {
                errln!("warning: {w}");
            }
            let up = if warnings.iter().any(|w| w.starts_with("destructive")) {
                "up --allow-destructive"
            } else {
                "up"
            };
            outln!(
                "Review the file, then apply it with `{} {up}`.",
                config.bin_name
            );
        }
    }
    Ok(())
}
