//! The integration tests of this crate, as one test binary (one link).

#[macro_use]
extern crate test_support;

mod entities;
mod flags;
mod retention;
mod review_drift;
mod review_lint;
mod review_script;
mod schema;
