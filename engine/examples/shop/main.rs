//! A shop's migration binary: the whole `main` of a sea-orm-migration 2.x crate that uses the
//! engine. Try it:
//!
//! ```text
//! cargo run -p migration-engine --example shop -- --help
//! cargo run -p migration-engine --example shop -- up            # ./shop.db
//! cargo run -p migration-engine --example shop -- -u postgres://postgres@localhost/shop status
//! ```

mod migrator;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    migration_engine::cli::main::<migrator::Migrator>(migrator::config()).await
}
