//! `backup`, `backup --list`, `backup --verify FILE` and `restore FILE`: the library's
//! [`crate::backup`] functions, rendered. `--list` and `--verify` need no database.

use std::path::Path;

use crate::backup::{self, BackupConfig, Listed, Manifest, RestoreOptions, Restored};
use crate::cli::args::{Command, Safety};
use crate::cli::output::{Format, outln};
use crate::db::DatabaseUrl;
use crate::error::MigrateError;
use crate::run::runner::{Runner, State};

/// Handles `backup --list` and `backup --verify FILE`, which need no database; `None` for
/// every other command.
pub async fn offline(command: &Command, safety: &Safety) -> Option<Result<(), MigrateError>> {
    match command {
        Command::Backup {
            list: true, format, ..
        } => Some(list(&safety.backup_dir, *format)),
        Command::Backup {
            verify: Some(file),
            format,
            ..
        } => Some(verify(file, *format).await),
        _ => None,
    }
}

/// `backup --list`: the backups in `dir`, oldest first.
pub fn list(dir: &Path, format: Format) -> Result<(), MigrateError> {
    let listed = backup::list(dir)?;
    match format {
        Format::Json => outln!("{}", serde_json::json!({ "dir": dir, "backups": listed })),
        Format::Text => print_list(dir, &listed),
    }
    Ok(())
}

fn print_list(dir: &Path, listed: &[Listed]) {
    if listed.is_empty() {
        outln!("No backups in {}.", dir.display());
        return;
    }
    outln!("Backups in {}:", dir.display());
    let rows: Vec<[String; 7]> = listed
        .iter()
        .map(|l| {
            let m = l.manifest.as_ref();
            [
                l.state.label().to_string(),
                m.map(|m| m.created_at.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "-".into()),
                m.map(|m| m.backend.name().to_string())
                    .unwrap_or_else(|| "-".into()),
                m.map(|m| m.database.clone()).unwrap_or_else(|| "-".into()),
                m.map(|m| m.version.clone()).unwrap_or_else(|| "-".into()),
                l.bytes.to_string(),
                l.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "State",
        "Created (UTC)",
        "Backend",
        "Database",
        "Version",
        "Bytes",
        "File",
    ];
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {:>w5$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4],
            w5 = width[5],
        )
    };
    outln!("{}", line(header));
    for r in &rows {
        outln!("{}", line(r.each_ref().map(String::as_str)));
    }
    let bad = listed
        .iter()
        .filter(|l| l.state != backup::ListedState::Complete)
        .count();
    if bad > 0 {
        outln!(
            "{bad} file(s) are not complete backups: restore refuses them. `backup --verify FILE` \
             checks a backup through."
        );
    }
}

/// `backup --verify FILE`.
pub async fn verify(file: &Path, format: Format) -> Result<(), MigrateError> {
    let manifest = backup::verify(file).await?;
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::json!({ "file": file, "ok": true, "manifest": manifest })
        ),
        Format::Text => outln!("OK: {}", describe(file, &manifest)),
    }
    Ok(())
}

fn describe(file: &Path, m: &Manifest) -> String {
    format!(
        "{} is a complete {} backup of {} at {}, taken {} UTC by {} ({} bytes, SHA-256 {})",
        file.display(),
        m.backend.name(),
        m.database,
        m.version,
        m.created_at.format("%Y-%m-%d %H:%M:%S"),
        m.tool,
        m.bytes,
        m.sha256
    )
}

/// `backup`: takes one, labelled with the newest applied migration.
pub async fn take(
    runner: &Runner,
    url: &DatabaseUrl,
    config: &BackupConfig,
) -> Result<(), MigrateError> {
    let label = runner
        .status()
        .await?
        .iter()
        .filter(|s| s.status != State::Pending)
        .map(|s| s.version.clone())
        .next_back()
        .unwrap_or_else(|| "empty".into());
    let taken = backup::take(runner.connection(), url, config, &label).await?;
    outln!(
        "Backup written: {} ({} bytes, SHA-256 {}; manifest {})",
        taken.path.display(),
        taken.bytes,
        taken.manifest.sha256,
        backup::manifest_path(&taken.path).display()
    );
    Ok(())
}

/// `restore FILE [--overwrite]`: verifies the backup, takes a safety backup of the target
/// (unless `backups` is false), restores. Closes the runner's connection (SQLite needs every
/// connection to the target closed).
pub async fn restore(
    runner: &Runner,
    url: &DatabaseUrl,
    config: &BackupConfig,
    file: &Path,
    overwrite: bool,
    backups: bool,
) -> Result<(), MigrateError> {
    let options = RestoreOptions {
        overwrite,
        safety_backup: backups.then(|| config.clone()),
        ledger_table: runner.config().ledger_table.clone(),
    };
    let done = backup::restore(runner.connection().clone(), url, file, &options).await?;
    print_restored(url, &done);
    Ok(())
}

fn print_restored(url: &DatabaseUrl, done: &Restored) {
    if let Some(safety) = &done.safety_backup {
        outln!(
            "Safety backup of the previous contents: {} ({} bytes)",
            safety.path.display(),
            safety.bytes
        );
    }
    outln!(
        "Restored {} into {} ({}; backup of {} at {}, taken {} UTC).",
        done.file.display(),
        url.redacted(),
        done.method.describe(),
        done.manifest.database,
        done.manifest.version,
        done.manifest.created_at.format("%Y-%m-%d %H:%M:%S")
    );
    for note in &done.notes {
        outln!("Note: {note}.");
    }
}
