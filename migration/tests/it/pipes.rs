//! A closed stdout or stderr (the reader of a pipe gone: `| head -n1`, `| true`) never makes
//! the binary panic: read-only commands end with their usual status, and `up` applies and
//! records every migration; what it could not write still reaches the log file. Output to a
//! pipe has no colour codes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use sea_orm_migration::MigratorTrait;
use test_support::wait_for;

use crate::support::{BIN, command, ok, run, stderr, stdout};

fn names() -> Vec<String> {
    migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// How a child's reader goes away.
#[derive(Debug, Clone, Copy)]
enum Reader {
    /// `| true`: closed before the child writes anything.
    Gone,
    /// `| head -n1`: closed after the first line.
    FirstLine,
}

/// Spawns `args` with stdout and stderr into one pipe (`2>&1 |`), or stdout only when
/// `both` is false (stderr then captured apart), and closes the pipe's reader as `reader`
/// says. Returns the child's output once it has exited.
fn spawn_into_pipe(
    dir: &Path,
    url: &str,
    args: &[&str],
    both: bool,
    reader: Reader,
) -> (Option<String>, Output) {
    let (pipe_reader, pipe_writer) = std::io::pipe().expect("pipe");
    let mut cmd = command(Path::new(BIN), dir, Some(url), args, &[]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(pipe_writer.try_clone().expect("clone pipe")));
    if both {
        cmd.stderr(Stdio::from(pipe_writer));
    } else {
        drop(pipe_writer);
        cmd.stderr(Stdio::piped());
    }
    let child: Child = cmd.spawn().expect("spawn the migration binary");
    // The parent's copies of the write end must go, or the pipe never breaks.
    drop(cmd);
    let first = match reader {
        Reader::Gone => {
            drop(pipe_reader);
            None
        }
        Reader::FirstLine => {
            let mut line = String::new();
            let mut r = BufReader::new(pipe_reader);
            let _ = r.read_line(&mut line);
            drop(r);
            Some(line)
        }
    };
    let mut child = child;
    // Drain a separate stderr while waiting, so the child never blocks on it.
    let drain = child.stderr.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut err = Vec::new();
            let _ = std::io::Read::read_to_end(&mut s, &mut err);
            err
        })
    });
    let status = wait_for(
        "the migration binary to exit",
        Duration::from_secs(120),
        || child.try_wait().ok().flatten(),
    );
    let err = drain.and_then(|t| t.join().ok()).unwrap_or_default();
    (
        first,
        Output {
            status,
            stdout: Vec::new(),
            stderr: err,
        },
    )
}

fn assert_no_panic(what: &str, o: &Output) {
    let err = stderr(o);
    assert_ne!(o.status.code(), Some(101), "{what}: exit 101: {err}");
    assert!(
        o.status.code().is_some(),
        "{what}: killed by a signal: {:?}",
        o.status
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: {err}"
    );
}

#[tokio::test]
async fn up_into_a_closed_pipe_applies_and_records_everything() {
    let all = names();
    let last = all.last().expect("migrations");
    each_backend!("pipes_up", |db| {
        let b = db.backend;
        for (n, reader) in [Reader::Gone, Reader::FirstLine].into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let url = db.url.clone();
            if n > 0 {
                ok(run(d, Some(&url), &["--no-backup", "reset"]));
            }
            let log = d.join("migration.log");
            let log_arg = log.to_string_lossy().to_string();
            // `-v` as well: the statement log writes to the closed stderr too.
            let (_, o) =
                spawn_into_pipe(d, &url, &["-v", "--log-file", &log_arg, "up"], true, reader);
            assert_no_panic(&format!("{b:?} up {reader:?}"), &o);
            assert_eq!(o.status.code(), Some(0), "{b:?} up {reader:?}");

            let status = ok(run(d, Some(&url), &["status", "--format", "json"]));
            let doc: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
            let applied: Vec<&str> = doc["migrations"]
                .as_array()
                .expect("migrations")
                .iter()
                .filter(|m| m["status"] == "applied")
                .filter_map(|m| m["version"].as_str())
                .collect();
            assert_eq!(applied, all, "{b:?} {reader:?}: every migration applied");

            let history = ok(run(d, Some(&url), &["history", "--format", "json"]));
            let doc: serde_json::Value = serde_json::from_slice(&history.stdout).expect("JSON");
            let rows = doc["history"].as_array().expect("history");
            for name in &all {
                assert!(
                    rows.iter().any(|r| r["version"] == name.as_str()
                        && r["direction"] == "up"
                        && r["outcome"] == "succeeded"),
                    "{b:?} {reader:?}: no succeeded up of {name}: {rows:?}"
                );
            }
            assert!(
                rows.iter().all(|r| r["outcome"] == "succeeded"),
                "{b:?} {reader:?}: {rows:?}"
            );
            // What stderr could not take went to the log file.
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                logged.contains(&format!("Applied {last}")),
                "{b:?} {reader:?}: {logged}"
            );
        }
    });
}

#[tokio::test]
async fn read_only_commands_end_quietly_on_a_closed_pipe() {
    each_backend!("pipes_read_only", |db| {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = db.url.as_str();
        ok(run(d, Some(url), &["up"]));
        for args in [
            &["status"][..],
            &["history"],
            &["doctor"],
            &["status", "--format", "json"],
            &["-v", "history", "--format", "json"],
        ] {
            // Without a pipe, for the expected status (doctor may report unhealthy).
            let expected = run(d, Some(url), args).status.code();
            assert_ne!(expected, Some(101), "{b:?} {args:?}");
            for reader in [Reader::Gone, Reader::FirstLine] {
                // `cmd | …`: stdout only; `cmd 2>&1 | …`: both.
                for both in [false, true] {
                    let what = format!("{b:?} {args:?} {reader:?} both={both}");
                    let (first, o) = spawn_into_pipe(d, url, args, both, reader);
                    assert_no_panic(&what, &o);
                    assert_eq!(o.status.code(), expected, "{what}: {}", stderr(&o));
                    if let Some(line) = first {
                        assert!(!line.is_empty(), "{what}: a first line");
                    }
                }
            }
        }
    });
}

#[tokio::test]
async fn no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("pipes_colour", |db| {
        let b = db.backend;
        let url = db.url.as_str();
        let o = ok(run(d, Some(url), &["-v", "up"]));
        let o2 = ok(run(d, Some(url), &["-v", "status"]));
        for out in [stdout(&o), stderr(&o), stdout(&o2), stderr(&o2)] {
            assert!(!out.contains('\u{1b}'), "{b:?}: colour codes in: {out}");
        }
        assert!(
            stderr(&o).contains("sqlx") || stderr(&o).contains("sea_orm"),
            "{b:?}: -v logs statements: {}",
            stderr(&o)
        );
    });
}
