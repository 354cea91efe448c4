//! Runs a migration against a recording connection instead of a database, to learn the exact
//! SQL it would issue on a given backend. One mechanism serves dry runs, offline SQL scripts,
//! lint and checksums.
//!
//! Nothing is executed. Queries a migration makes (for example `has_table`) get no rows back;
//! such a migration is marked [`Capture::data_dependent`], because on a real database its SQL
//! may differ from what is captured here.

use std::sync::{Arc, Mutex};

use sea_orm::{
    DatabaseConnection, DatabaseConnectionType, DatabaseExecutor, DatabaseTransaction, DbBackend,
    DbErr, ExecResult, MockDatabaseConnection, MockDatabaseTrait, QueryResult, Statement,
    Transaction, TransactionTrait,
};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use sha2::{Digest, Sha256};

use crate::plan::Direction;

/// What a migration would run, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capture {
    /// Every statement it would execute, values inlined, without a trailing `;`.
    pub statements: Vec<String>,
    /// Every query it made while deciding what to execute.
    pub queries: Vec<String>,
    /// Whether its SQL depends on what the database holds (it ran queries).
    pub data_dependent: bool,
    /// Set when the migration returned an error under capture (often because a query of it
    /// got no rows); the statements are those captured up to that point.
    pub incomplete: Option<String>,
    /// Whether the migration declared itself resumable (see [`RESUMABLE_MARKER`]).
    pub resumable: bool,
    /// Whether the migration declared it must run with SQLite's foreign-key enforcement off
    /// (see [`FOREIGN_KEYS_OFF_MARKER`]).
    pub foreign_keys_off: bool,
    /// Lint rules the migration switched off, with its reasons (see [`LINT_ALLOW_MARKER`]).
    pub lint_allowed: Vec<(String, String)>,
    /// Whether some statement it executed had bound values (inlined in [`Capture::statements`]).
    pub bound_values: bool,
}

/// What a resumable migration executes under capture to declare itself (see
/// [`crate::author::batch::declare_resumable`]). The recorder takes it as a flag, not as a
/// statement, so it never shows in dry runs, scripts or checksums.
pub const RESUMABLE_MARKER: &str = "/* migration-engine: resumable */ SELECT 1";

/// What a migration executes under capture to declare that, on SQLite, it must run with
/// foreign-key enforcement off (a table rebuild, see
/// [`crate::author::rebuild::declare_foreign_keys_off`]). A flag like [`RESUMABLE_MARKER`].
pub const FOREIGN_KEYS_OFF_MARKER: &str = "/* migration-engine: foreign keys off */ SELECT 1";

/// What a migration executes under capture to switch a lint rule off for itself, followed by
/// `["rule", "reason"]` as JSON (see `crate::author::lint_allow::allow`). A flag like
/// [`RESUMABLE_MARKER`]: never a statement, never in a checksum.
pub const LINT_ALLOW_MARKER: &str = "/* migration-engine: lint-allow */ ";

impl Capture {
    /// SHA-256 (hex) of the statements with whitespace normalised. Data-dependent migrations
    /// hash their queries too, so a changed decision logic changes the checksum.
    pub fn checksum(&self) -> String {
        let mut hasher = Sha256::new();
        // `normalize(s)` into one reused buffer: a no-op `up` hashes every applied migration.
        let longest = self.statements.iter().chain(&self.queries).map(String::len);
        let mut normal = String::with_capacity(longest.max().unwrap_or(0) + 2);
        for s in self.statements.iter().chain(&self.queries) {
            normal.clear();
            normalize_into(&mut normal, s);
            normal.push_str(";\n");
            hasher.update(normal.as_bytes());
        }
        to_hex(&hasher.finalize())
    }

    /// Whether executing [`Capture::statements`] in order, as they are, does exactly what running
    /// the migration does, so a runner may send them to the database in one batch: it completed,
    /// made no queries (its SQL cannot depend on the data), bound no values (inlining could
    /// change a value's type), declared nothing (resumable, foreign keys off), and every
    /// statement is schema DDL (`CREATE`, `ALTER`, `DROP`, `COMMENT`), whose "rows affected"
    /// the migration cannot have acted on.
    pub fn replayable(&self) -> bool {
        self.incomplete.is_none()
            && self.queries.is_empty()
            && !self.bound_values
            && !self.resumable
            && !self.foreign_keys_off
            && !self.statements.is_empty()
            && self.statements.iter().all(|s| is_ddl(s))
    }
}

/// Lower-case hex of `bytes`, as `hex::encode` writes it, without its per-character iterator.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Whether `sql` starts with a schema-changing keyword.
fn is_ddl(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    ["CREATE", "ALTER", "DROP", "COMMENT"]
        .iter()
        .any(|k| first.eq_ignore_ascii_case(k))
}

/// Collapses runs of whitespace to one space and trims.
pub fn normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    normalize_into(&mut out, sql);
    out
}

/// Appends [`normalize`]`(sql)` to `out`: the words of `sql` as `str::split_whitespace` finds
/// them, one space apart. ASCII text (nearly every statement) is split byte by byte, on the
/// ASCII characters Unicode calls white space; other text by `split_whitespace` itself.
fn normalize_into(out: &mut String, sql: &str) {
    if !sql.is_ascii() {
        for (i, word) in sql.split_whitespace().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        return;
    }
    // `char::is_whitespace` on ASCII: tab, line feed, vertical tab, form feed, carriage
    // return and space (`u8::is_ascii_whitespace` leaves out the vertical tab).
    let space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut first = true;
    while i < bytes.len() {
        while i < bytes.len() && space(bytes[i]) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !space(bytes[i]) {
            i += 1;
        }
        if start < i {
            if !first {
                out.push(' ');
            }
            // ASCII: every byte offset is a character boundary.
            out.push_str(&sql[start..i]);
            first = false;
        }
    }
}

#[derive(Debug, Default)]
struct Log {
    statements: Vec<String>,
    queries: Vec<String>,
    resumable: bool,
    foreign_keys_off: bool,
    lint_allowed: Vec<(String, String)>,
    bound_values: bool,
}

/// A connection that executes nothing: it records every statement, answers every execute
/// with "0 rows affected" and every query with no rows.
#[derive(Debug)]
struct Recorder {
    backend: DbBackend,
    log: Arc<Mutex<Log>>,
}

impl MockDatabaseTrait for Recorder {
    fn execute(&mut self, _counter: usize, stmt: Statement) -> Result<ExecResult, DbErr> {
        if let Ok(mut log) = self.log.lock() {
            // Values inlined by the statement's `Display`; without values that is its text
            // as is, taken without copying (checksums capture every applied migration on
            // every run).
            let has_values = stmt.values.as_ref().is_some_and(|v| !v.0.is_empty());
            let sql = if stmt.values.is_none() {
                stmt.sql
            } else {
                stmt.to_string()
            };
            if sql == RESUMABLE_MARKER {
                log.resumable = true;
            } else if sql == FOREIGN_KEYS_OFF_MARKER {
                log.foreign_keys_off = true;
            } else if let Some(json) = sql.strip_prefix(LINT_ALLOW_MARKER) {
                if let Ok((rule, reason)) = serde_json::from_str::<(String, String)>(json) {
                    log.lint_allowed.push((rule, reason));
                }
            } else {
                log.bound_values |= has_values;
                let bare = sql.trim().trim_end_matches(';');
                let statement = if bare.len() == sql.len() {
                    sql
                } else {
                    bare.to_string()
                };
                log.statements.push(statement);
            }
        }
        Ok(no_rows_affected(self.backend))
    }

    fn query(&mut self, _counter: usize, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if let Ok(mut log) = self.log.lock() {
            log.queries.push(stmt.to_string());
        }
        Ok(Vec::new())
    }

    fn begin(&mut self) {}

    fn commit(&mut self) {}

    fn rollback(&mut self) {}

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    fn ping(&self) -> Result<(), DbErr> {
        Ok(())
    }
}

/// What executing a statement returns under capture: no rows affected, no id inserted (the
/// driver's own empty result, which is what a real database returns for DDL).
fn no_rows_affected(backend: DbBackend) -> ExecResult {
    match backend {
        DbBackend::Postgres => sqlx::postgres::PgQueryResult::default().into(),
        DbBackend::MySql => sqlx::mysql::MySqlQueryResult::default().into(),
        _ => sqlx::sqlite::SqliteQueryResult::default().into(),
    }
}

tokio::task_local! {
    /// Set while a migration runs under [`Recording::capture`]: the address of the transaction
    /// handed to it in place of a connection.
    static CAPTURING: usize;
}

/// Whether the calling code runs inside [`Recording::capture`], where nothing really runs.
/// Migration code asks through [`crate::author::batch::capturing`].
pub fn active() -> bool {
    CAPTURING.try_with(|_| ()).is_ok()
}

/// Whether `executor` is what a capture hands a migration in place of the connection a runner
/// would pass: a transaction of the recording connection, which code asking whether it runs
/// inside a transaction must take for a connection (as it took the recording connection itself).
/// A transaction the migration begins itself is a transaction.
pub fn is_stand_in(executor: &DatabaseExecutor<'_>) -> bool {
    match executor {
        DatabaseExecutor::Transaction(t) => CAPTURING
            .try_with(|stand_in| *stand_in == address(t))
            .unwrap_or(false),
        _ => false,
    }
}

fn address(txn: &DatabaseTransaction) -> usize {
    std::ptr::from_ref(txn) as usize
}

/// A recording connection, kept open across captures: a caller capturing many migrations (a
/// no-op `up` verifies the checksum of every applied one) sets it up once.
///
/// Migrations get a [`SchemaManager`] on one transaction of the recording connection, begun at
/// the first capture and never committed (it records nothing of its own): SeaORM's transaction
/// path costs a third of its connection path per statement. Migration code learns that it is
/// being captured from [`crate::author::batch::capturing`] (a transaction's
/// `is_mock_connection` answers `false`), and that the transaction stands in for a connection
/// from [`is_stand_in`].
pub struct Recording {
    conn: DatabaseConnection,
    txn: Option<DatabaseTransaction>,
    log: Arc<Mutex<Log>>,
}

impl Recording {
    /// A recording connection for `backend`.
    pub fn open(backend: DbBackend) -> Self {
        let log = Arc::new(Mutex::new(Log::default()));
        let recorder = Recorder {
            backend,
            log: log.clone(),
        };
        let conn = DatabaseConnectionType::MockDatabaseConnection(Arc::new(
            MockDatabaseConnection::new(recorder),
        ))
        .into();
        Self {
            conn,
            txn: None,
            log,
        }
    }

    /// Captures what `migration` would run in `direction`.
    pub async fn capture(
        &mut self,
        migration: &dyn MigrationTrait,
        direction: Direction,
    ) -> Result<Capture, DbErr> {
        // A capture cancelled half-way (its future dropped) leaves its statements behind.
        self.take_log()?;
        let txn = match &mut self.txn {
            Some(txn) => txn,
            none => none.insert(self.conn.begin().await?),
        };
        let txn: &DatabaseTransaction = txn;
        let manager = SchemaManager::new(txn);
        let outcome = CAPTURING
            .scope(address(txn), async {
                match direction {
                    Direction::Up => migration.up(&manager).await,
                    Direction::Down => migration.down(&manager).await,
                }
            })
            .await;
        drop(manager);
        let log = self.take_log()?;
        Ok(Capture {
            data_dependent: !log.queries.is_empty(),
            statements: log.statements,
            queries: log.queries,
            incomplete: outcome.err().map(|e| e.to_string()),
            resumable: log.resumable,
            foreign_keys_off: log.foreign_keys_off,
            lint_allowed: log.lint_allowed,
            bound_values: log.bound_values,
        })
    }

    fn take_log(&self) -> Result<Log, DbErr> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .map_err(|_| DbErr::Custom("capture log poisoned".into()))
    }
}

/// Captures what `migration` would run in `direction` on `backend` (one [`Recording`]).
pub async fn capture(
    migration: &dyn MigrationTrait,
    direction: Direction,
    backend: DbBackend,
) -> Result<Capture, DbErr> {
    Recording::open(backend).capture(migration, direction).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checksum recorded by every earlier version: SHA-256 over each statement, then each
    /// query, whitespace-normalised, each followed by `;\n`. Databases migrated before must
    /// keep verifying.
    #[test]
    fn checksum_is_the_hash_of_the_normalised_statements() {
        let c = Capture {
            statements: vec![
                "  CREATE TABLE \"a\"\n  (\t\"id\" integer )".into(),
                "DROP TABLE b".into(),
            ],
            queries: vec!["SELECT  1".into()],
            ..Capture::default()
        };
        let mut hasher = Sha256::new();
        for s in c.statements.iter().chain(&c.queries) {
            // The normalisation of every earlier version, written out (not `normalize`, which
            // shares the checksum's code).
            hasher.update(
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .as_bytes(),
            );
            hasher.update(b";\n");
        }
        assert_eq!(c.checksum(), hex::encode(hasher.finalize()));
        assert_eq!(
            Capture::default().checksum(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// A migration managing its own transactions (`use_transaction() -> Some(false)`) learns it
    /// is being captured also on the transaction it began; outside a capture it is not.
    #[tokio::test]
    async fn capture_is_known_inside_a_transaction_the_migration_began() {
        struct OwnTransaction;
        impl sea_orm_migration::MigrationName for OwnTransaction {
            fn name(&self) -> &str {
                "m20300101_000000_own_transaction"
            }
        }
        #[sea_orm_migration::async_trait::async_trait]
        impl MigrationTrait for OwnTransaction {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                if !is_stand_in(manager.get_connection()) {
                    return Err(DbErr::Custom(
                        "expected the capture's connection to be a stand-in".into(),
                    ));
                }
                let txn = manager.begin().await?;
                if is_stand_in(txn.get_connection()) {
                    return Err(DbErr::Custom(
                        "expected a transaction the migration began not to be a stand-in".into(),
                    ));
                }
                crate::author::batch::declare_resumable(&txn).await?;
                sea_orm::ConnectionTrait::execute_unprepared(
                    txn.get_connection(),
                    "CREATE TABLE t (id INTEGER)",
                )
                .await?;
                txn.commit().await
            }
        }
        let mut recording = Recording::open(DbBackend::Sqlite);
        for _ in 0..2 {
            let c = recording
                .capture(&OwnTransaction, Direction::Up)
                .await
                .unwrap();
            assert_eq!(c.incomplete, None);
            assert!(c.resumable, "{c:?}");
            assert_eq!(c.statements, ["CREATE TABLE t (id INTEGER)"]);
        }
        assert!(!active());
    }

    /// The byte-wise normalisation of ASCII text is `split_whitespace`'s, whatever the white
    /// space (every ASCII control character, Unicode spaces that are not ASCII).
    #[test]
    fn normalize_splits_as_split_whitespace_does() {
        let reference = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut samples: Vec<String> = [
            "",
            " ",
            "a",
            "  CREATE TABLE \"a\"\n  (\t\"id\" integer )  ",
            "x\u{0b}y\u{0c}z\r\nw",
            "a\u{1c}b\u{1f}c\u{85}d\u{a0}e\u{2003}f\u{3000}g",
            "'text  with   spaces' \t\t -- comment\n",
            "élan  vital\u{2028}x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every ASCII byte between two words, alone and doubled.
        for b in 0u8..128 {
            let c = char::from(b);
            samples.push(format!("a{c}b"));
            samples.push(format!("{c}a{c}{c}b{c}"));
        }
        for s in &samples {
            assert_eq!(normalize(s), reference(s), "{s:?}");
        }
    }

    #[test]
    fn only_complete_value_free_ddl_is_replayable() {
        let ddl = Capture {
            statements: vec![
                "CREATE TABLE a (id int)".into(),
                "alter table a add b int".into(),
            ],
            ..Capture::default()
        };
        assert!(ddl.replayable());
        for c in [
            Capture {
                statements: vec!["UPDATE a SET b = 1".into()],
                ..Capture::default()
            },
            Capture {
                queries: vec!["SELECT 1".into()],
                ..ddl.clone()
            },
            Capture {
                bound_values: true,
                ..ddl.clone()
            },
            Capture {
                incomplete: Some("error".into()),
                ..ddl.clone()
            },
            Capture {
                resumable: true,
                ..ddl.clone()
            },
            Capture::default(),
        ] {
            assert!(!c.replayable(), "{c:?}");
        }
    }
}
