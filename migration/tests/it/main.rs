//! The integration tests of this crate, as one test binary (one link).

#[macro_use]
extern crate test_support;

mod autogen;
mod autogen_e2e;
mod cli;
mod deploy;
mod offline;
mod review_cli;
mod scale;
mod messages;
mod pipes;
mod redaction;
mod support;
