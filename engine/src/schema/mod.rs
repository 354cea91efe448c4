//! Schemas as data: what a live database has ([`inspect`]) and what the entities declare
//! ([`entities`]), in one comparable shape.

pub mod default_value;
pub mod entities;
pub mod inspect;

pub use inspect::*;
