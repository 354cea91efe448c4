//! Running migrations: the [`runner`] (lock, checks, backups, one transaction per migration)
//! and the application [`startup`] helper.

pub mod gates;
pub mod lock_wait;
pub mod report;
pub mod runner;
pub mod startup;
pub mod timeout;
