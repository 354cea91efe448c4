//! The shop's SeaORM entities (in a real project: the `entity` crate).

pub mod customer;
pub mod order;
