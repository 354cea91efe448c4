//! The integration tests of this crate, as one test binary (one link).

#[macro_use]
extern crate test_support;

mod ddl_lock_wait;
mod entities;
mod flags;
mod lint_corpus;
mod retention;
mod review_drift;
mod review_lint;
mod review_script;
mod schema;
mod serve;
