//! Fast bulk writes inside one transaction: `COPY ... FROM STDIN` (text format) on
//! PostgreSQL, large multi-row `INSERT`s on MySQL/MariaDB and SQLite.
//!
//! [`BulkWriter`] owns the transaction. On PostgreSQL it works on the pool's raw sqlx
//! connection (the pool [`migration_engine::connect`] opens has exactly one connection, so nothing
//! else may use the `DatabaseConnection` until the writer is committed or rolled back).

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, Timelike};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;

use crate::SeedError;

/// One value of a generated row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// Any integer column.
    Int(i64),
    /// A double-precision column.
    Float(f64),
    /// A boolean column.
    Bool(bool),
    /// A string column.
    Text(String),
    /// A JSON column, already serialized.
    Json(String),
    /// A timestamp without time zone.
    Ts(NaiveDateTime),
}

/// A table and the columns rows are given for, in order.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// Table name.
    pub table: &'static str,
    /// Column names.
    pub columns: &'static [&'static str],
}

/// Rows per multi-row `INSERT` on MySQL and SQLite.
pub const INSERT_BATCH_ROWS: usize = 2_000;
/// Largest `INSERT` statement (bytes) before it is sent, well under MySQL's default
/// `max_allowed_packet` of 16 MiB.
pub const INSERT_BATCH_BYTES: usize = 4 << 20;
/// Bytes buffered before a `COPY` chunk is sent.
pub const COPY_CHUNK_BYTES: usize = 1 << 20;

enum Conn {
    Pg(PoolConnection<Postgres>),
    Txn(DatabaseTransaction),
}

/// A transaction for bulk writes.
pub struct BulkWriter {
    conn: Conn,
    backend: DbBackend,
}

fn pg_err(action: &str) -> impl FnOnce(sqlx::Error) -> SeedError + '_ {
    move |e| SeedError::RolledBack {
        action: action.to_string(),
        cause: e.to_string(),
    }
}

impl BulkWriter {
    /// Starts the transaction.
    pub async fn begin(db: &DatabaseConnection) -> Result<Self, SeedError> {
        let backend = db.get_database_backend();
        let conn = if backend == DbBackend::Postgres {
            let mut conn = db
                .get_postgres_connection_pool()
                .acquire()
                .await
                .map_err(|e| SeedError::Database {
                    action: "acquiring the PostgreSQL connection".into(),
                    cause: e.to_string(),
                })?;
            sqlx::raw_sql("BEGIN")
                .execute(&mut *conn)
                .await
                .map_err(pg_err("starting a transaction"))?;
            Conn::Pg(conn)
        } else {
            Conn::Txn(
                db.begin()
                    .await
                    .map_err(SeedError::db("starting a transaction"))?,
            )
        };
        Ok(Self { conn, backend })
    }

    /// The backend written to.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Runs one statement without results.
    pub async fn execute(&mut self, sql: &str) -> Result<(), SeedError> {
        let action = || format!("running `{}`", short(sql));
        match &mut self.conn {
            Conn::Pg(conn) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut **conn)
                .await
                .map(|_| ())
                .map_err(|e| SeedError::RolledBack {
                    action: action(),
                    cause: e.to_string(),
                }),
            Conn::Txn(txn) => txn
                .execute_unprepared(sql)
                .await
                .map(|_| ())
                .map_err(SeedError::rolled_back(action())),
        }
    }

    /// Runs a query whose single column is a BIGINT; returns its non-null values in order.
    pub async fn query_i64(&mut self, sql: &str) -> Result<Vec<i64>, SeedError> {
        let action = || format!("running `{}`", short(sql));
        match &mut self.conn {
            Conn::Pg(conn) => {
                sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_all(&mut **conn)
                    .await
                    .map(|v| v.into_iter().flatten().collect())
                    .map_err(|e| SeedError::RolledBack {
                        action: action(),
                        cause: e.to_string(),
                    })
            }
            Conn::Txn(txn) => {
                let rows = txn
                    .query_all_raw(Statement::from_string(self.backend, sql.to_string()))
                    .await
                    .map_err(SeedError::rolled_back(action()))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let v: Option<i64> = row
                        .try_get_by_index(0)
                        .map_err(SeedError::rolled_back(action()))?;
                    out.extend(v);
                }
                Ok(out)
            }
        }
    }

    /// The largest `id` of `table`, 0 when empty.
    pub async fn max_id(&mut self, table: &str) -> Result<i64, SeedError> {
        let sql = format!(
            "SELECT {} FROM {}",
            bigint(self.backend, "COALESCE(MAX(id), 0)"),
            quote(self.backend, table)
        );
        Ok(self.query_i64(&sql).await?.first().copied().unwrap_or(0))
    }

    /// After rows were written with explicit ids: moves PostgreSQL's identity sequence of
    /// `table.id` past the largest id (MySQL and SQLite do this by themselves).
    pub async fn sync_id_sequence(&mut self, table: &str) -> Result<(), SeedError> {
        if self.backend != DbBackend::Postgres {
            return Ok(());
        }
        let t = quote(self.backend, table);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {t}), 1), (SELECT COUNT(*) > 0 FROM {t}))"
        );
        self.execute(&sql).await
    }

    /// Writes `rows` into `spec`, calling `progress(rows_so_far)` after every chunk.
    /// Returns the number of rows written.
    pub async fn write<I>(
        &mut self,
        spec: &TableSpec,
        rows: I,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, SeedError>
    where
        I: IntoIterator<Item = Vec<Val>>,
    {
        let backend = self.backend;
        match &mut self.conn {
            Conn::Pg(conn) => copy_in(conn, spec, rows, progress).await,
            Conn::Txn(txn) => insert_batches(txn, backend, spec, rows, progress).await,
        }
    }

    /// Commits everything written.
    pub async fn commit(self) -> Result<(), SeedError> {
        match self.conn {
            Conn::Pg(mut conn) => sqlx::raw_sql("COMMIT")
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(pg_err("committing")),
            Conn::Txn(txn) => txn
                .commit()
                .await
                .map_err(SeedError::rolled_back("committing")),
        }
    }

    /// Discards everything written.
    pub async fn rollback(self) {
        match self.conn {
            Conn::Pg(mut conn) => {
                if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                    // A connection in an unknown state must not go back to the pool.
                    conn.close_on_drop();
                }
            }
            Conn::Txn(txn) => {
                let _ = txn.rollback().await;
            }
        }
    }
}

async fn copy_in<I>(
    conn: &mut PoolConnection<Postgres>,
    spec: &TableSpec,
    rows: I,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, SeedError>
where
    I: IntoIterator<Item = Vec<Val>>,
{
    let columns: Vec<String> = spec
        .columns
        .iter()
        .map(|c| quote(DbBackend::Postgres, c))
        .collect();
    let stmt = format!(
        "COPY {} ({}) FROM STDIN",
        quote(DbBackend::Postgres, spec.table),
        columns.join(", ")
    );
    let action = format!("copying rows into {}", spec.table);
    let mut copy = conn.copy_in_raw(&stmt).await.map_err(pg_err(&action))?;
    let mut buf = String::with_capacity(COPY_CHUNK_BYTES + 4096);
    let mut n = 0u64;
    for row in rows {
        encode_copy_row(&mut buf, &row);
        n += 1;
        if buf.len() >= COPY_CHUNK_BYTES {
            if let Err(e) = copy.send(buf.as_bytes()).await {
                let _ = copy.abort("seed failed").await;
                return Err(pg_err(&action)(e));
            }
            buf.clear();
            progress(n);
        }
    }
    if !buf.is_empty()
        && let Err(e) = copy.send(buf.as_bytes()).await
    {
        let _ = copy.abort("seed failed").await;
        return Err(pg_err(&action)(e));
    }
    copy.finish().await.map_err(pg_err(&action))?;
    progress(n);
    Ok(n)
}

async fn insert_batches<I>(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    spec: &TableSpec,
    rows: I,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, SeedError>
where
    I: IntoIterator<Item = Vec<Val>>,
{
    let columns: Vec<String> = spec.columns.iter().map(|c| quote(backend, c)).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote(backend, spec.table),
        columns.join(", ")
    );
    let mut sql = String::with_capacity(INSERT_BATCH_BYTES + 65536);
    let mut in_batch = 0usize;
    let mut n = 0u64;
    let action = || format!("inserting rows into {}", spec.table);
    for row in rows {
        if in_batch == 0 {
            sql.clear();
            sql.push_str(&head);
        } else {
            sql.push(',');
        }
        encode_sql_row(&mut sql, backend, &row);
        in_batch += 1;
        n += 1;
        if in_batch >= INSERT_BATCH_ROWS || sql.len() >= INSERT_BATCH_BYTES {
            txn.execute_unprepared(&sql)
                .await
                .map_err(SeedError::rolled_back(action()))?;
            in_batch = 0;
            progress(n);
        }
    }
    if in_batch > 0 {
        txn.execute_unprepared(&sql)
            .await
            .map_err(SeedError::rolled_back(action()))?;
    }
    progress(n);
    Ok(n)
}

/// Appends one row in PostgreSQL `COPY` text format.
pub fn encode_copy_row(buf: &mut String, row: &[Val]) {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            buf.push('\t');
        }
        match v {
            Val::Null => buf.push_str("\\N"),
            Val::Int(x) => {
                let _ = write!(buf, "{x}");
            }
            Val::Float(x) => {
                let _ = write!(buf, "{x}");
            }
            Val::Bool(b) => buf.push(if *b { 't' } else { 'f' }),
            Val::Text(s) | Val::Json(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => buf.push_str("\\\\"),
                        '\t' => buf.push_str("\\t"),
                        '\n' => buf.push_str("\\n"),
                        '\r' => buf.push_str("\\r"),
                        c => buf.push(c),
                    }
                }
            }
            Val::Ts(t) => write_ts(buf, t),
        }
    }
    buf.push('\n');
}

/// Appends one parenthesized row of SQL literals for `backend`.
pub fn encode_sql_row(buf: &mut String, backend: DbBackend, row: &[Val]) {
    buf.push('(');
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        match v {
            Val::Null => buf.push_str("NULL"),
            Val::Int(x) => {
                let _ = write!(buf, "{x}");
            }
            Val::Float(x) if x.is_finite() => {
                let _ = write!(buf, "{x}");
            }
            Val::Float(_) => buf.push_str("NULL"),
            Val::Bool(b) => buf.push_str(if *b { "TRUE" } else { "FALSE" }),
            Val::Text(s) | Val::Json(s) => {
                buf.push('\'');
                for c in s.chars() {
                    match c {
                        '\'' => buf.push_str("''"),
                        '\\' if backend == DbBackend::MySql => buf.push_str("\\\\"),
                        '\0' => {}
                        c => buf.push(c),
                    }
                }
                buf.push('\'');
            }
            Val::Ts(t) => {
                buf.push('\'');
                write_ts(buf, t);
                buf.push('\'');
            }
        }
    }
    buf.push(')');
}

/// `YYYY-MM-DD HH:MM:SS[.fff|.ffffff|.fffffffff]`: the text sqlx writes for SQLite, which
/// PostgreSQL and MySQL accept too.
fn write_ts(buf: &mut String, t: &NaiveDateTime) {
    let _ = write!(
        buf,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos == 0 {
    } else if nanos.is_multiple_of(1_000_000) {
        let _ = write!(buf, ".{:03}", nanos / 1_000_000);
    } else if nanos.is_multiple_of(1_000) {
        let _ = write!(buf, ".{:06}", nanos / 1_000);
    } else {
        let _ = write!(buf, ".{nanos:09}");
    }
}

pub use migration_engine::db::quote_ident as quote;

/// `expr` cast to a 64-bit integer.
pub fn bigint(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST({expr} AS BIGINT)"),
        DbBackend::MySql => format!("CAST({expr} AS SIGNED)"),
        _ => expr.to_string(),
    }
}

fn short(sql: &str) -> String {
    let mut s: String = sql.chars().take(80).collect();
    if sql.len() > s.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_copy_text_and_sql_literals() {
        let ts = chrono::NaiveDate::from_ymd_opt(2025, 1, 28)
            .and_then(|d| d.and_hms_micro_opt(10, 0, 1, 250_000))
            .unwrap();
        let row = vec![
            Val::Int(7),
            Val::Float(1.5),
            Val::Null,
            Val::Bool(true),
            Val::Text("a\tb\\c'd".into()),
            Val::Ts(ts),
        ];
        let mut copy = String::new();
        encode_copy_row(&mut copy, &row);
        assert_eq!(
            copy,
            "7\t1.5\t\\N\tt\ta\\tb\\\\c'd\t2025-01-28 10:00:01.250\n"
        );
        let mut sql = String::new();
        encode_sql_row(&mut sql, DbBackend::MySql, &row);
        assert_eq!(
            sql,
            "(7,1.5,NULL,TRUE,'a\tb\\\\c''d','2025-01-28 10:00:01.250')"
        );
        let mut sql = String::new();
        encode_sql_row(&mut sql, DbBackend::Sqlite, &row);
        assert_eq!(
            sql,
            "(7,1.5,NULL,TRUE,'a\tb\\c''d','2025-01-28 10:00:01.250')"
        );
    }
}
