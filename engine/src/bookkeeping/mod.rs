//! What the engine records in the database: the [`ledger`] sea-orm-migration reads, the run
//! [`history`], and the [`lock`] that serialises runners.

pub mod alembic;
pub mod history;
pub mod ledger;
pub mod lock;
mod state_row;
