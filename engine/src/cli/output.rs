//! What the command line writes: the output [`Format`] and the [`EventLog`] (stderr, text or
//! one JSON object per line, and optionally a log file), through `outln!`/`out!` (stdout)
//! and `errln!` (stderr).
//!
//! A closed stream is not an error and never a panic (Rust ignores `SIGPIPE`, so writing to a
//! pipe whose reader has gone returns `EPIPE`, on which `println!` panics): what cannot be
//! written is dropped (events still go to the log file), the command goes on (a running
//! migration finishes and is recorded), and the exit status is the command's own: 0 when it
//! succeeds, e.g. `migration status | head -n1`. Any other failure to write stdout (a full
//! disk) makes the command fail with [`MigrateError::Output`]. Nothing written here has colour.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use clap::ValueEnum;

use crate::error::MigrateError;
use crate::plan::Direction;
use crate::run::runner::Event;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to stdout; after a failed write (a closed pipe, a full disk) writes nothing more.
/// Use [`outln!`] and [`out!`].
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe
            && let Ok(mut first) = STDOUT_ERROR.lock()
        {
            first.get_or_insert(e);
        }
    }
}

/// Writes to stderr, dropping what cannot be written (there is nowhere left to report it).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    if STDERR_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut err = std::io::stderr().lock();
    if err.write_fmt(args).and_then(|()| err.flush()).is_err() {
        STDERR_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// The first failure to write stdout other than a closed pipe, once.
pub fn take_stdout_error() -> Option<MigrateError> {
    let source = STDOUT_ERROR.lock().ok()?.take()?;
    Some(MigrateError::Output {
        stream: "stdout",
        source,
    })
}

/// Whether `stream` may be coloured: a terminal, and `NO_COLOR` unset or empty.
pub fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `print!` that never panics: see the [module](self).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that never panics: see the [module](self).
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics: see the [module](self).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Text,
    /// JSON for programs (events: one object per line on stderr).
    Json,
}

/// Where events go: stderr (text or one JSON object per line) and optionally a log file.
#[derive(Clone)]
pub struct EventLog {
    format: Format,
    file: Option<Arc<Mutex<std::fs::File>>>,
}

impl EventLog {
    /// Events in `format` on stderr, and appended to `file` when given (a file that cannot be
    /// opened is reported once on stderr and skipped).
    pub fn new(format: Format, file: Option<PathBuf>) -> Self {
        let file = file.and_then(|p| {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
            {
                Ok(f) => Some(Arc::new(Mutex::new(f))),
                Err(e) => {
                    errln!(
                        "warning: cannot open the log file {}: {e}; logging to stderr only",
                        p.display()
                    );
                    None
                }
            }
        });
        Self { format, file }
    }

    fn emit(&self, level: &str, text: String, json: serde_json::Value) {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut obj = json;
        if let Some(map) = obj.as_object_mut() {
            map.insert("ts".into(), ts.clone().into());
            map.insert("level".into(), level.into());
        }
        match self.format {
            Format::Json => errln!("{obj}"),
            Format::Text if level == "error" => errln!("error: {text}"),
            Format::Text => errln!("{text}"),
        }
        if let Some(file) = &self.file
            && let Ok(mut f) = file.lock()
        {
            let _ = match self.format {
                Format::Json => writeln!(f, "{obj}"),
                Format::Text => {
                    writeln!(f, "{ts} - migration - {} - {text}", level.to_uppercase())
                }
            };
        }
    }

    /// Reports a notice (one line) that is not a runner event.
    pub fn notice(&self, text: &str) {
        self.emit(
            "info",
            text.to_string(),
            serde_json::json!({"event": "notice", "message": text}),
        );
    }

    /// Reports a failed command.
    pub fn error(&self, err: &MigrateError) {
        self.emit(
            "error",
            err.to_string(),
            serde_json::json!({"event": "error", "message": err.to_string(), "exit_code": err.exit_code()}),
        );
    }

    /// Reports a runner event.
    pub fn event(&self, event: &Event<'_>) {
        let (level, text, json) = describe(event);
        self.emit(level, text, json);
    }
}

/// A runner event as the event log writes it: its level (`info`, `warn`, `error`), its text
/// line, and its JSON object (without `ts` and `level`).
pub fn describe(event: &Event<'_>) -> (&'static str, String, serde_json::Value) {
    use serde_json::json;
    let verb = |d: Direction, up: &'static str, down: &'static str| {
        if d == Direction::Up { up } else { down }
    };
    match event {
        Event::Started { version, direction } => (
            "info",
            format!(
                "{} {version} ...",
                verb(*direction, "Applying", "Reverting")
            ),
            json!({"event": "started", "version": version, "direction": direction}),
        ),
        Event::Finished {
            version,
            direction,
            duration,
        } => (
            "info",
            format!(
                "{} {version} in {} ms",
                verb(*direction, "Applied", "Reverted"),
                duration.as_millis()
            ),
            json!({"event": "finished", "version": version, "direction": direction, "duration_ms": duration.as_millis() as u64}),
        ),
        Event::Failed {
            version,
            direction,
            error,
        } => (
            "error",
            format!("Failed {} of {version}: {error}", direction.as_str()),
            json!({"event": "failed", "version": version, "direction": direction, "error": error}),
        ),
        Event::NothingToDo { direction } => (
            "info",
            verb(
                *direction,
                "Nothing to apply: the database is up to date.",
                "Nothing to revert.",
            )
            .into(),
            json!({"event": "nothing-to-do", "direction": direction}),
        ),
        Event::DroppedTables { tables } => (
            "info",
            format!("Dropped {} table(s): {}", tables.len(), tables.join(", ")),
            json!({"event": "dropped-tables", "tables": tables}),
        ),
        Event::LockWaiting { holder } => (
            "warn",
            format!("Waiting for the migration lock, held by {holder} ..."),
            json!({"event": "lock-waiting", "holder": holder}),
        ),
        Event::DestructiveAllowed {
            version,
            rule,
            message,
        } => (
            "warn",
            format!("Allowed destructive change in {version} ({rule}): {message}"),
            json!({"event": "destructive-allowed", "version": version, "rule": rule, "message": message}),
        ),
        Event::Notice { text } => (
            "info",
            text.to_string(),
            json!({"event": "notice", "message": text}),
        ),
        Event::BackupTaken { backup } => (
            "info",
            format!(
                "Backup written: {} ({} bytes)",
                backup.path.display(),
                backup.bytes
            ),
            json!({"event": "backup", "path": backup.path, "bytes": backup.bytes}),
        ),
    }
}

/// `err` with every driver message in it scrubbed of `url`'s credentials, and a cause taken
/// straight from a database error put in the database's own words
/// ([`crate::error::user_message`]: no driver-internal source lines, with the SQLSTATE/code).
pub(crate) fn scrub_error(url: &crate::db::DatabaseUrl, err: MigrateError) -> MigrateError {
    let err = in_database_words(err);
    match err {
        MigrateError::Database {
            action,
            cause,
            source,
        } => MigrateError::Database {
            action,
            cause: url.scrub(&cause),
            source,
        },
        MigrateError::MigrationFailed {
            version,
            direction,
            cause,
            consequence,
            source,
        } => MigrateError::MigrationFailed {
            version,
            direction,
            cause: url.scrub(&cause),
            consequence,
            source,
        },
        MigrateError::Backup { what, cause, fix } => MigrateError::Backup {
            what,
            cause: url.scrub(&cause),
            fix,
        },
        other => other,
    }
}

/// Replaces a `cause` that is the database error's own `to_string()` by
/// [`crate::error::user_message`]; causes the engine wrote itself stay.
fn in_database_words(err: MigrateError) -> MigrateError {
    let words = |cause: &str, source: &Option<Box<sea_orm::DbErr>>| {
        source
            .as_deref()
            .filter(|e| e.to_string() == cause)
            .and_then(crate::error::user_message)
    };
    match err {
        MigrateError::Database {
            action,
            cause,
            source,
        } => MigrateError::Database {
            cause: words(&cause, &source).unwrap_or(cause),
            action,
            source,
        },
        MigrateError::MigrationFailed {
            version,
            direction,
            cause,
            consequence,
            source,
        } => MigrateError::MigrationFailed {
            cause: words(&cause, &source).unwrap_or(cause),
            version,
            direction,
            consequence,
            source,
        },
        other => other,
    }
}
