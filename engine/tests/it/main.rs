#[macro_use]
extern crate test_support;

mod backups;
mod example;
