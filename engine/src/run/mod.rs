//! Running migrations: the [`runner`] (lock, checks, backups, one transaction per migration)
//! and the application [`startup`] helper.

pub mod runner;
pub mod startup;
