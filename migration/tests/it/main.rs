//! The integration tests of this crate, as one test binary (one link).

#[macro_use]
extern crate test_support;

mod adopt;
mod autogen;
mod autogen_e2e;
mod cli;
mod deploy;
mod erd;
mod fleet;
mod gates;
mod messages;
mod offline;
mod pipes;
mod redaction;
mod review_cli;
mod scale;
mod support;
mod verify;
