//! The shop's migrations, written the usual sea-orm-migration way, and its engine
//! configuration.
//!
//! In a real project this is the `migration` crate's `lib.rs` and the entities are a crate of
//! their own; here the entities are included below so that the example binary and the
//! engine's tests (`engine/tests/it/example.rs`) share one copy of everything.

use migration_engine::{Config, Entities};
pub use sea_orm_migration::prelude::*;

#[path = "../entity/mod.rs"]
pub mod entity;

mod m20240601_000001_create_customer;
mod m20240601_000002_create_order;
mod m20240601_000003_seed_customers;

/// The seed data (the engine's tests compare the seeded rows with it).
#[allow(unused_imports)]
pub use m20240601_000003_seed_customers::CUSTOMERS;

/// The shop's migrations, oldest first. A stock `MigratorTrait`: sea-orm-cli and
/// `sea_orm_migration::cli` can run it too, on the same `seaql_migrations` ledger.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20240601_000001_create_customer::Migration),
            Box::new(m20240601_000002_create_order::Migration),
            Box::new(m20240601_000003_seed_customers::Migration),
        ]
    }
}

/// The shop's configuration of the engine: tables `shop_migration_history` and
/// `shop_migration_batches`, lock `shop_migrations`, variables `SHOP_*`, default file
/// `shop.db`, and the entity schema for `drift` and `generate --autogenerate`.
pub fn config() -> Config {
    Config::new("shop")
        .with_display_name("Shop")
        .with_entities(entities())
}

/// The schema the entities declare. Entities carry no named indexes, so the one the
/// migrations create is declared here.
pub fn entities() -> Entities {
    Entities::new()
        .entity::<entity::customer::Entity>()
        .entity::<entity::order::Entity>()
        .index("order", "idx_order_customer_id", &["customer_id"], false)
}
