//! Alembic's bookkeeping, read only: the `alembic_version` table ([`ALEMBIC_VERSION_TABLE`])
//! a database managed by Alembic has. The engine never writes it: `adopt alembic` leaves it in
//! place so the Python stack can still read it during a rollback window.

use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DbErr};

pub use crate::config::ALEMBIC_VERSION_TABLE;
use crate::db::list_tables;

/// The revisions recorded in `alembic_version` (usually one; several for a branched history),
/// sorted; `None` when the table does not exist.
pub async fn revisions<C: ConnectionTrait>(db: &C) -> Result<Option<Vec<String>>, DbErr> {
    let tables = list_tables(db).await?;
    if !tables.iter().any(|t| t == ALEMBIC_VERSION_TABLE) {
        return Ok(None);
    }
    let stmt = Query::select()
        .column(Alias::new("version_num"))
        .from(Alias::new(ALEMBIC_VERSION_TABLE))
        .to_owned();
    let mut out = db
        .query_all(&stmt)
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "version_num"))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(Some(out))
}

/// The migration `revision` maps to in `mapping` (see [`crate::Config::alembic_revisions`]).
pub fn mapped<'a>(mapping: &'a [(String, String)], revision: &str) -> Option<&'a str> {
    mapping
        .iter()
        .find(|(r, _)| r == revision)
        .map(|(_, v)| v.as_str())
}

/// What to run on an Alembic database this tool has recorded nothing in, for messages.
pub fn advice(config: &crate::config::Config) -> String {
    if config.alembic_revisions.is_empty() {
        format!(
            "Run `{0} baseline --to VERSION` with the migration its schema matches, then `{0} up`.",
            config.bin_name
        )
    } else {
        format!(
            "Run `{0} adopt alembic` to take it over (it checks the schema, records the matching \
             migrations as applied and leaves alembic_version untouched), then `{0} up`.",
            config.bin_name
        )
    }
}
