//! The append-only history of every migration run (table [`crate::Config::history_table`]). One row per run
//! of a migration (up, down, or a `repair` re-recording its checksum), with checksum, timing,
//! outcome, error, tool version, host and OS user. Created by the tool itself.
//!
//! Outcomes: `succeeded`, `failed`, `in-progress` (written before a migration that cannot run
//! in a transaction starts, so a runner that dies leaves it behind). A `failed` or
//! `in-progress` row of a non-transactional run blocks `up` until `repair` marks it repaired.

use chrono::NaiveDateTime;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SimpleExpr, Table};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};

use crate::author::columns;
use crate::bookkeeping::state_row::{self, Failed, Row, Scalar};

/// Outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Finished and recorded.
    Succeeded,
    /// Failed; see `error`.
    Failed,
    /// Started and never finished (the runner died) or still running.
    InProgress,
}

impl Outcome {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::InProgress => "in-progress",
        }
    }

    /// The outcome stored as `s`; `None` for anything else (a malformed row).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "in-progress" => Some(Self::InProgress),
            _ => None,
        }
    }
}

/// One row of the history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// Row id (increasing).
    pub id: i64,
    /// Migration name.
    pub version: String,
    /// `up`, `down` or `repair`.
    pub direction: String,
    /// Checksum of what the migration does on this backend (see [`crate::plan::capture`]).
    pub checksum: Option<String>,
    /// When the run started (UTC).
    pub started_at: NaiveDateTime,
    /// When it ended (UTC).
    pub finished_at: Option<NaiveDateTime>,
    /// Wall time.
    pub duration_ms: Option<i64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The error, for failed runs.
    pub error: Option<String>,
    /// Whether it ran in a transaction (a failed transactional run left nothing behind).
    pub transactional: bool,
    /// When `repair` marked this failed run as dealt with.
    pub repaired_at: Option<NaiveDateTime>,
    /// Version of the tool that ran it.
    pub tool_version: String,
    /// Host it ran on.
    pub host: String,
    /// OS user it ran as.
    pub os_user: String,
    /// Notes on the run, e.g. the safe-window gates skipped with `--skip-gate` and what they saw.
    pub notes: Option<String>,
}

impl Entry {
    /// A failed or unfinished non-transactional run nobody has repaired: the schema may be
    /// half-changed.
    pub fn is_blocking(&self) -> bool {
        self.outcome != Outcome::Succeeded && !self.transactional && self.repaired_at.is_none()
    }
}

/// This machine's host name (`whoami`), or `unknown-host`.
pub fn host_name() -> String {
    // Looked up once per process: every history row records it.
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        whoami::fallible::hostname()
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown-host".into())
    })
    .clone()
}

/// The OS user running this process (`whoami`: the account of the process's uid), or
/// `unknown-user`.
pub fn os_user() -> String {
    // Looked up once per process (a passwd lookup): every history row records it.
    static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        whoami::fallible::username()
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "unknown-user".into())
    })
    .clone()
}

pub use crate::db::dialect::now;

/// Reads and appends to the history table.
#[derive(Debug, Clone)]
pub struct History {
    table: String,
    /// Written into the `notes` column of every row appended while set (see [`History::set_notes`]).
    notes: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl History {
    /// The history kept in `table`.
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            notes: Default::default(),
        }
    }

    /// Sets (or clears) the notes written into every row appended from now on, until changed:
    /// the runner sets them for one run (e.g. the safe-window gates it skipped).
    pub fn set_notes(&self, notes: Option<String>) {
        *self.notes.lock().unwrap_or_else(|p| p.into_inner()) = notes;
    }

    fn notes(&self) -> Option<String> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Brings a history table created by an older version up to date: adds the `notes` column
    /// when it is missing. Run under the migration lock.
    pub async fn upgrade<C: ConnectionTrait>(&self, db: &C) -> Result<(), DbErr> {
        if self.has_column(db, "notes").await? {
            return Ok(());
        }
        let stmt = Table::alter()
            .table(Alias::new(self.table.as_str()))
            .add_column(columns::text(Alias::new("notes"), true))
            .take();
        db.execute(&stmt).await.map(|_| ())
    }

    /// Whether the table has `column` (from the catalogue).
    async fn has_column<C: ConnectionTrait>(&self, db: &C, column: &str) -> Result<bool, DbErr> {
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT 1 AS found FROM information_schema.columns WHERE table_name = $1 \
                 AND column_name = $2 AND table_schema = ANY(current_schemas(false))"
            }
            DbBackend::MySql => {
                "SELECT 1 AS found FROM information_schema.columns WHERE table_name = ? \
                 AND column_name = ? AND table_schema = DATABASE()"
            }
            _ => "SELECT 1 AS found FROM pragma_table_info(?) WHERE name = ?",
        };
        let stmt = sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [self.table.as_str().into(), column.into()],
        );
        Ok(db.query_one_raw(stmt).await?.is_some())
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table when missing.
    pub async fn ensure<C: ConnectionTrait>(&self, db: &C) -> Result<(), DbErr> {
        let b = db.get_database_backend();
        let t = || Alias::new(self.table.as_str());
        let mut id = columns::pk(Alias::new("id"));
        id.big_integer();
        if b == DbBackend::Sqlite {
            // SQLite auto-increments only an `integer` primary key.
            id.integer();
        }
        let stmt = Table::create()
            .table(t())
            .if_not_exists()
            .col(id)
            .col(columns::string(Alias::new("version"), 255, false))
            .col(columns::string(Alias::new("direction"), 8, false))
            .col(columns::string(Alias::new("checksum"), 64, true))
            .col(columns::timestamp(b, Alias::new("started_at"), false))
            .col(columns::timestamp(b, Alias::new("finished_at"), true))
            .col(
                sea_orm::sea_query::ColumnDef::new(Alias::new("duration_ms"))
                    .big_integer()
                    .null()
                    .take(),
            )
            .col(columns::string(Alias::new("outcome"), 16, false))
            .col(columns::text(Alias::new("error"), true))
            .col(columns::boolean(Alias::new("transactional"), true))
            .col(columns::timestamp(b, Alias::new("repaired_at"), true))
            .col(columns::string(Alias::new("tool_version"), 32, false))
            .col(columns::string(Alias::new("host"), 255, false))
            .col(columns::string(Alias::new("os_user"), 255, false))
            .col(columns::text(Alias::new("notes"), true))
            .take();
        db.execute(&stmt).await.map(|_| ())
    }

    /// Appends a row and returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn append<C: ConnectionTrait>(
        &self,
        db: &C,
        version: &str,
        direction: &str,
        checksum: Option<&str>,
        started_at: NaiveDateTime,
        finished_at: Option<NaiveDateTime>,
        outcome: Outcome,
        error: Option<&str>,
        transactional: bool,
    ) -> Result<i64, DbErr> {
        let duration_ms = finished_at.map(|f| (f - started_at).num_milliseconds());
        let mut columns = vec![
            "version",
            "direction",
            "checksum",
            "started_at",
            "finished_at",
            "duration_ms",
            "outcome",
            "error",
            "transactional",
            "tool_version",
            "host",
            "os_user",
        ];
        let mut values: Vec<SimpleExpr> = vec![
            version.into(),
            direction.into(),
            checksum.map(str::to_string).into(),
            started_at.into(),
            finished_at.into(),
            duration_ms.into(),
            outcome.as_str().into(),
            error.map(truncate_error).into(),
            transactional.into(),
            env!("CARGO_PKG_VERSION").into(),
            host_name().into(),
            os_user().into(),
        ];
        if let Some(notes) = self.notes() {
            // Only when set, so a table an older version created keeps working until upgraded.
            columns.push("notes");
            values.push(truncate_error(&notes).into());
        }
        let mut stmt = Query::insert()
            .into_table(Alias::new(self.table.as_str()))
            .columns(columns.into_iter().map(Alias::new))
            .values(values)
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        if db.get_database_backend() == DbBackend::MySql {
            return Ok(db.execute(&stmt).await?.last_insert_id() as i64);
        }
        stmt.returning_col(Alias::new("id"));
        let row = db.query_one(&stmt).await?.ok_or_else(|| {
            DbErr::Custom("inserting into the migration history returned no id".into())
        })?;
        row.try_get_by_index::<i64>(0)
    }

    /// PostgreSQL only: [`History::record_with_ledger_pg`] as one statement with its values
    /// inlined, to end a simple-query batch that also holds the migration's statements (one
    /// round trip per migration). The server computes when it finished: `started_at` plus
    /// `sent_after` (the time from `started_at` until the batch was sent) plus how long the
    /// batch had run when this statement ran, so client and server clocks never mix.
    pub fn record_with_ledger_pg_sql(
        &self,
        ledger: &str,
        version: &str,
        direction: &str,
        checksum: &str,
        started_at: NaiveDateTime,
        sent_after: std::time::Duration,
    ) -> String {
        let lit = |s: &str| format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"));
        let ledger_t = crate::db::quote_ident(DbBackend::Postgres, ledger);
        let ledger_change = if direction == "down" {
            format!("DELETE FROM {ledger_t} WHERE version = {}", lit(version))
        } else {
            format!(
                "INSERT INTO {ledger_t} (version, applied_at) VALUES ({}, {})",
                lit(version),
                chrono::Utc::now().timestamp()
            )
        };
        let started = format!("TIMESTAMP '{}'", started_at.format("%Y-%m-%d %H:%M:%S%.6f"));
        let (notes_col, notes_val) = match self.notes() {
            Some(n) => (", notes", format!(", {}", lit(&truncate_error(&n)))),
            None => ("", String::new()),
        };
        format!(
            "WITH ledger AS ({ledger_change}), \
             t AS (SELECT {started} + (clock_timestamp() - statement_timestamp()) \
                          + INTERVAL '{} microseconds' AS finished) \
             INSERT INTO {} (version, direction, checksum, started_at, finished_at, duration_ms, outcome, \
                             transactional, tool_version, host, os_user{notes_col}) \
             SELECT {}, {}, {}, {started}, t.finished, \
                    CAST(EXTRACT(EPOCH FROM (t.finished - {started})) * 1000 AS BIGINT), 'succeeded', TRUE, \
                    {}, {}, {}{notes_val} FROM t",
            sent_after.as_micros(),
            crate::db::quote_ident(DbBackend::Postgres, &self.table),
            lit(version),
            lit(direction),
            lit(checksum),
            lit(env!("CARGO_PKG_VERSION")),
            lit(&host_name()),
            lit(&os_user()),
        )
    }

    /// PostgreSQL only: the ledger change (`up`: insert, `down`: delete) and a `succeeded`
    /// transactional history row in ONE statement (a data-modifying CTE), saving a round trip
    /// per migration.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_with_ledger_pg<C: ConnectionTrait>(
        &self,
        db: &C,
        ledger: &str,
        version: &str,
        direction: &str,
        checksum: &str,
        started_at: NaiveDateTime,
        finished_at: NaiveDateTime,
    ) -> Result<(), DbErr> {
        let ledger_change = if direction == "down" {
            format!(
                "DELETE FROM \"{}\" WHERE version = $1",
                ledger.replace('"', "\"\"")
            )
        } else {
            format!(
                "INSERT INTO \"{}\" (version, applied_at) VALUES ($1, $2)",
                ledger.replace('"', "\"\"")
            )
        };
        let notes = self.notes();
        let (notes_col, notes_val) = if notes.is_some() {
            (", notes", ", $11")
        } else {
            ("", "")
        };
        let sql = format!(
            "WITH ledger AS ({ledger_change}) INSERT INTO {} \
             (version, direction, checksum, started_at, finished_at, duration_ms, outcome, transactional, \
              tool_version, host, os_user{notes_col}) \
             VALUES ($1, $3, $4, $5, $6, $7, 'succeeded', TRUE, $8, $9, $10{notes_val})",
            crate::db::quote_ident(DbBackend::Postgres, &self.table)
        );
        let mut values: Vec<Value> = vec![
            version.into(),
            chrono::Utc::now().timestamp().into(),
            direction.into(),
            checksum.into(),
            started_at.into(),
            finished_at.into(),
            (finished_at - started_at).num_milliseconds().into(),
            env!("CARGO_PKG_VERSION").into(),
            host_name().into(),
            os_user().into(),
        ];
        if let Some(notes) = notes {
            values.push(truncate_error(&notes).into());
        }
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .map(|_| ())
    }

    /// Marks row `id` finished; the migration's `reports` (see
    /// [`crate::author::context::report`]), if any, join the run's notes.
    pub async fn finish<C: ConnectionTrait>(
        &self,
        db: &C,
        id: i64,
        started_at: NaiveDateTime,
        outcome: Outcome,
        error: Option<&str>,
        reports: &[String],
    ) -> Result<(), DbErr> {
        let finished = now();
        let mut stmt = Query::update()
            .table(Alias::new(self.table.as_str()))
            .values([
                (Alias::new("finished_at"), finished.into()),
                (
                    Alias::new("duration_ms"),
                    (finished - started_at).num_milliseconds().into(),
                ),
                (Alias::new("outcome"), outcome.as_str().into()),
                (Alias::new("error"), error.map(truncate_error).into()),
            ])
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        if !reports.is_empty() {
            let notes: Vec<String> = self
                .notes()
                .into_iter()
                .chain(reports.iter().cloned())
                .collect();
            stmt.value(Alias::new("notes"), truncate_error(&notes.join("; ")));
        }
        db.execute(&stmt).await.map(|_| ())
    }

    /// Marks every blocking row repaired; returns how many.
    pub async fn mark_repaired<C: ConnectionTrait>(&self, db: &C) -> Result<u64, DbErr> {
        let stmt = Query::update()
            .table(Alias::new(self.table.as_str()))
            .value(Alias::new("repaired_at"), Value::from(now()))
            .and_where(Expr::col(Alias::new("outcome")).ne(Outcome::Succeeded.as_str()))
            .and_where(Expr::col(Alias::new("transactional")).eq(false))
            .and_where(Expr::col(Alias::new("repaired_at")).is_null())
            .to_owned();
        Ok(db.execute(&stmt).await?.rows_affected())
    }

    /// The ledger `(version, applied_at)` and the history rows a run needs, in ONE query that
    /// returns one row (two JSON arrays): every row when the history holds at most
    /// `whole_up_to` rows, else per version its latest row, its latest successful non-`down`
    /// row (the recorded checksum) and its latest successful `up` (the duration).
    /// Bounded by the number of migrations however long the history grows, and independent of
    /// per-row driver costs (SQLite's driver hands every row across threads). The wanted ids
    /// are a joined derived table, not `id IN (subquery)`: MariaDB re-evaluates such a
    /// subquery per row (a no-op `up` of 300 migrations took 3.5 s instead of 14 ms).
    ///
    /// The rows carry only the columns a run decides by (this is most of the cost of a no-op
    /// `up`): `finished_at` and `notes` are `None`, `tool_version`, `host` and `os_user`
    /// empty. Read [`History::entries`] for whole rows. Reading no `notes` also keeps the
    /// query valid on a history table of an older version (upgraded under the next run's lock).
    pub async fn state<C: ConnectionTrait>(
        &self,
        db: &C,
        ledger: &str,
        whole_up_to: u64,
    ) -> Result<(Vec<(String, i64)>, Vec<Entry>), DbErr> {
        let backend = db.get_database_backend();
        let (agg, arr, empty, text) = match backend {
            DbBackend::Postgres => ("json_agg", "json_build_array", "'[]'::json", "::text"),
            DbBackend::MySql => ("JSON_ARRAYAGG", "JSON_ARRAY", "JSON_ARRAY()", ""),
            _ => ("json_group_array", "json_array", "json_array()", ""),
        };
        let quote = |t: &str| crate::db::quote_ident(backend, t);
        let (ledger_t, table) = (quote(ledger), quote(&self.table));
        let row = format!(
            "{agg}({arr}(id, version, direction, checksum, outcome, transactional, \
                         repaired_at, error, duration_ms, started_at))"
        );
        // A short history (the usual one: a row or two per migration) is read whole; the
        // grouping costs more than the rows it leaves out. Both branches are scalar
        // subqueries, so the database runs only the one the count selects.
        let sql = format!(
            "SELECT CAST(COALESCE((SELECT {agg}({arr}(version, applied_at)) FROM {ledger_t}), {empty}){text} AS CHAR(1000000)) AS ledger, \
                    CAST(COALESCE(CASE WHEN (SELECT COUNT(*) FROM {table}) <= {whole_up_to} \
                       THEN (SELECT {row} FROM {table}) \
                       ELSE (SELECT {row} \
                       FROM {table} JOIN (\
                         SELECT MAX(id) AS latest_id FROM {table} GROUP BY version \
                         UNION SELECT MAX(id) FROM {table} WHERE outcome = 'succeeded' AND direction <> 'down' GROUP BY version \
                         UNION SELECT MAX(id) FROM {table} WHERE outcome = 'succeeded' AND direction = 'up' GROUP BY version\
                       ) latest ON id = latest.latest_id) END, \
                       {empty}){text} AS CHAR(1000000)) AS history"
        );
        let sql = match backend {
            DbBackend::MySql => sql.replace(" AS CHAR(1000000))", " AS CHAR)"),
            _ => sql.replace(" AS CHAR(1000000))", " AS TEXT)"),
        };
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(backend, sql))
            .await?
            .ok_or_else(|| DbErr::Custom("the migration state query returned no row".into()))?;
        let bad = |what: &str| {
            DbErr::Custom(format!(
                "unexpected migration state from the database: {what}"
            ))
        };
        let ledger_text = row.try_get::<String>("", "ledger")?;
        let failed = |e: Failed<DbErr>| match e {
            Failed::Row(e) => e,
            Failed::Json(e) => bad(&e.to_string()),
        };
        let applied = state_row::parse_each::<2, _, _>(
            &ledger_text,
            whole_up_to as usize / 4,
            |Row([version, applied_at])| {
                Ok((
                    version.into_string().ok_or_else(|| bad("version"))?,
                    applied_at.as_i64().ok_or_else(|| bad("applied_at"))?,
                ))
            },
        )
        .map_err(failed)?;
        let history_text = row.try_get::<String>("", "history")?;
        let time = |v: &Scalar| match v {
            Scalar::Null => Ok(None),
            Scalar::Str(t) => parse_time(t).map(Some).ok_or(()),
            _ => Err(()),
        };
        let mut entries =
            state_row::parse_each::<10, _, _>(&history_text, applied.len(), |Row(r)| {
                let [
                    id,
                    version,
                    direction,
                    checksum,
                    outcome,
                    transactional,
                    repaired_at,
                    error,
                    duration_ms,
                    started_at,
                ] = r;
                let id = id
                    .as_i64()
                    .ok_or_else(|| bad("a history row without an id"))?;
                let field = |name: &str| malformed(&self.table, id, name);
                Ok(Entry {
                    id,
                    direction: direction.into_string().ok_or_else(|| field("direction"))?,
                    checksum: checksum.into_string(),
                    outcome: outcome
                        .as_str()
                        .and_then(Outcome::parse)
                        .ok_or_else(|| field("outcome"))?,
                    transactional: transactional
                        .as_bool()
                        .ok_or_else(|| field("transactional"))?,
                    repaired_at: time(&repaired_at).map_err(|()| field("repaired_at"))?,
                    error: error.into_string(),
                    duration_ms: duration_ms.as_i64(),
                    started_at: time(&started_at)
                        .ok()
                        .flatten()
                        .ok_or_else(|| field("started_at"))?,
                    version: version.into_string().ok_or_else(|| field("version"))?,
                    finished_at: None,
                    tool_version: String::new(),
                    host: String::new(),
                    os_user: String::new(),
                    notes: None,
                })
            })
            .map_err(failed)?;
        entries.sort_by_key(|e| std::cmp::Reverse(e.id));
        Ok((applied, entries))
    }

    /// After `e`: whether the table exists but was created by an older version without the
    /// `notes` column (not yet upgraded: that happens under the lock of the next run). Read
    /// from the catalogue, not from the error's text.
    async fn lacks_notes<C: ConnectionTrait>(&self, db: &C, e: &DbErr) -> bool {
        !crate::db::is_missing_table(e)
            && matches!(self.has_column(db, "id").await, Ok(true))
            && matches!(self.has_column(db, "notes").await, Ok(false))
    }

    /// Every row, newest first (at most `limit`).
    pub async fn entries<C: ConnectionTrait>(
        &self,
        db: &C,
        limit: Option<u64>,
    ) -> Result<Vec<Entry>, DbErr> {
        match self.entries_with(db, limit, true).await {
            Err(e) if self.lacks_notes(db, &e).await => self.entries_with(db, limit, false).await,
            other => other,
        }
    }

    async fn entries_with<C: ConnectionTrait>(
        &self,
        db: &C,
        limit: Option<u64>,
        with_notes: bool,
    ) -> Result<Vec<Entry>, DbErr> {
        let mut q = Query::select();
        q.columns(
            [
                "id",
                "version",
                "direction",
                "checksum",
                "started_at",
                "finished_at",
                "duration_ms",
                "outcome",
                "error",
                "transactional",
                "repaired_at",
                "tool_version",
                "host",
                "os_user",
            ]
            .map(Alias::new),
        )
        .from(Alias::new(self.table.as_str()))
        .order_by(Alias::new("id"), Order::Desc);
        if with_notes {
            q.column(Alias::new("notes"));
        }
        if let Some(limit) = limit {
            q.limit(limit);
        }
        db.query_all(&q).await?.iter().map(entry).collect()
    }
}

/// The error for history row `id` of `table` whose `field` is missing or unreadable.
fn malformed(table: &str, id: i64, field: &str) -> DbErr {
    DbErr::Custom(format!(
        "row {id} of the migration history ({table}) has a missing or malformed `{field}`: fix \
         or delete that row by hand (it is only a record), then run the command again"
    ))
}

fn parse_time(t: &str) -> Option<NaiveDateTime> {
    parse_time_fast(t).or_else(|| {
        let t = t.replace('T', " ");
        NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f").ok()
    })
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.fraction]`, as every backend renders a timestamp in JSON, without
/// interpreting a format string (a no-op `up` reads two per migration).
fn parse_time_fast(t: &str) -> Option<NaiveDateTime> {
    let b = t.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        t.get(from..to)
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let nanos = match b.get(19) {
        None => 0,
        Some(b'.') => {
            let frac = t.get(20..).filter(|f| {
                !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit())
            })?;
            frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
        }
        Some(_) => return None,
    };
    chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_nano_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        nanos,
    )
}

fn truncate_error(e: &str) -> String {
    e.chars().take(4000).collect()
}

fn entry(r: &QueryResult) -> Result<Entry, DbErr> {
    let id = match r.try_get::<i64>("", "id") {
        Ok(v) => v,
        Err(_) => i64::from(r.try_get::<i32>("", "id")?),
    };
    let outcome = r.try_get::<String>("", "outcome")?;
    Ok(Entry {
        id,
        version: r.try_get("", "version")?,
        direction: r.try_get("", "direction")?,
        checksum: r.try_get("", "checksum")?,
        started_at: r.try_get("", "started_at")?,
        finished_at: r.try_get("", "finished_at")?,
        duration_ms: r.try_get("", "duration_ms")?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| malformed("history", id, "outcome"))?,
        error: r.try_get("", "error")?,
        transactional: r.try_get("", "transactional")?,
        repaired_at: r.try_get("", "repaired_at")?,
        tool_version: r.try_get("", "tool_version")?,
        host: r.try_get("", "host")?,
        os_user: r.try_get("", "os_user")?,
        // Absent from a table an older version created and nobody upgraded yet.
        notes: r.try_get("", "notes").unwrap_or(None),
    })
}

#[cfg(test)]
mod parse_time_tests {
    use super::*;

    /// The fast path reads what the format string reads, as each backend renders timestamps.
    #[test]
    fn fast_timestamp_parsing_matches_the_format_string() {
        for t in [
            "2025-01-28 13:00:00",
            "2025-01-28T13:00:00.5",
            "2025-01-28 13:00:00.123456",
            "2025-12-31T23:59:59.123456789",
        ] {
            let slow = NaiveDateTime::parse_from_str(&t.replace('T', " "), "%Y-%m-%d %H:%M:%S%.f");
            assert_eq!(parse_time_fast(t), slow.ok(), "{t}");
        }
        for bad in [
            "2025-01-28",
            "2025-13-01 00:00:00",
            "2025-01-28 13:00:00+00",
            "x",
        ] {
            assert_eq!(parse_time_fast(bad), None, "{bad}");
        }
        assert!(parse_time("2025-01-28 13:00:00").is_some());
    }
}
