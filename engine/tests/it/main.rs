#[macro_use]
extern crate test_support;

mod backups;
mod batch;
mod example;
mod rebuild;
mod replay;
mod state;
