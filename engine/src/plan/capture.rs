//! Runs a migration against a recording connection instead of a database, to learn the exact
//! SQL it would issue on a given backend. One mechanism serves dry runs, offline SQL scripts,
//! lint and checksums.
//!
//! Nothing is executed. Queries a migration makes (for example `has_table`) get no rows back;
//! such a migration is marked [`Capture::data_dependent`], because on a real database its SQL
//! may differ from what is captured here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sea_orm::{
    DatabaseConnection, DatabaseConnectionType, DbBackend, DbErr, ExecResult, MockDatabase,
    MockDatabaseConnection, MockDatabaseTrait, MockExecResult, QueryResult, Statement, Transaction,
    Value,
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
}

/// What a resumable migration executes under capture to declare itself (see
/// [`crate::author::batch::declare_resumable`]). The recorder takes it as a flag, not as a
/// statement, so it never shows in dry runs, scripts or checksums.
pub const RESUMABLE_MARKER: &str = "/* migration-engine: resumable */ SELECT 1";

impl Capture {
    /// SHA-256 (hex) of the statements with whitespace normalised. Data-dependent migrations
    /// hash their queries too, so a changed decision logic changes the checksum.
    pub fn checksum(&self) -> String {
        let mut hasher = Sha256::new();
        for s in self.statements.iter().chain(&self.queries) {
            hasher.update(normalize(s).as_bytes());
            hasher.update(b";\n");
        }
        hex::encode(hasher.finalize())
    }
}

/// Collapses runs of whitespace to one space and trims.
pub fn normalize(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Default)]
struct Log {
    statements: Vec<String>,
    queries: Vec<String>,
    resumable: bool,
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
            let sql = stmt.to_string();
            if sql == RESUMABLE_MARKER {
                log.resumable = true;
            } else {
                log.statements
                    .push(sql.trim().trim_end_matches(';').to_string());
            }
        }
        MockDatabase::new(self.backend)
            .append_exec_results([MockExecResult::default()])
            .execute(0, stmt)
    }

    fn query(&mut self, _counter: usize, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if let Ok(mut log) = self.log.lock() {
            log.queries.push(stmt.to_string());
        }
        MockDatabase::new(self.backend)
            .append_query_results([Vec::<BTreeMap<String, Value>>::new()])
            .query(0, stmt)
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

fn recording_connection(backend: DbBackend) -> (DatabaseConnection, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let recorder = Recorder {
        backend,
        log: log.clone(),
    };
    let conn = DatabaseConnectionType::MockDatabaseConnection(Arc::new(
        MockDatabaseConnection::new(recorder),
    ))
    .into();
    (conn, log)
}

/// Captures what `migration` would run in `direction` on `backend`.
pub async fn capture(
    migration: &dyn MigrationTrait,
    direction: Direction,
    backend: DbBackend,
) -> Result<Capture, DbErr> {
    let (conn, log) = recording_connection(backend);
    let manager = SchemaManager::new(&conn);
    let outcome = match direction {
        Direction::Up => migration.up(&manager).await,
        Direction::Down => migration.down(&manager).await,
    };
    drop(manager);
    let log = log
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .map_err(|_| DbErr::Custom("capture log poisoned".into()))?;
    Ok(Capture {
        data_dependent: !log.queries.is_empty(),
        statements: log.statements,
        queries: log.queries,
        incomplete: outcome.err().map(|e| e.to_string()),
        resumable: log.resumable,
    })
}
