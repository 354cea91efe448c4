//! The integration tests of this crate, as one test binary (one link).

#[macro_use]
extern crate test_support;

mod cli;
mod defaults;
mod dev;
mod fixtures;
mod flags;
mod support;
