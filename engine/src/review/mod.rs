//! Reviewing migrations and databases before and after a run: [`lint`], [`drift`], offline
//! SQL [`script`]s, the CI [`check`] and the [`doctor`].

pub mod adopt;
pub mod check;
pub mod doctor;
pub mod drift;
pub mod erd;
pub mod lint;
pub mod script;
pub mod verify;
