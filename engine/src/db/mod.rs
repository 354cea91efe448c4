//! The database underneath: URLs (with credentials redacted), connecting, dialect helpers.

pub mod dialect;
pub mod url;

pub use dialect::{
    backend_name, drop_all_tables, drop_all_tables_except, is_missing_table, list_tables,
    quote_ident,
};
pub use url::{ConnectSettings, DatabaseUrl, SecretUrl, connect, connect_pool};
