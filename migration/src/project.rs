//! OHT-50's configuration of the migration engine: the bookkeeping table names, lock and
//! environment-variable prefix OHT-50 databases have always used, and the entity schema of the
//! `entity` crate (models, named indexes, declared renames) for `drift` and autogenerate.

use migration_engine::{Config, Entities, Rename};

/// PostgreSQL advisory lock key of OHT-50 runners ("OHT50MIG" in ASCII), unchanged so that old
/// and new runners exclude each other.
const LOCK_KEY: i64 = 0x4F48_5435_304D_4947;

/// The OHT-50 configuration.
pub fn config() -> Config {
    Config::new("oht50")
        .with_display_name("OHT-50")
        .with_history_table("oht50_migration_history")
        .with_batch_table("oht50_migration_batches")
        .with_lock("oht50_migrations", LOCK_KEY)
        .with_env_prefix("OHT50")
        .with_default_sqlite_file("oht50.db")
        .with_migration_dir("migration")
        .with_entities(entities())
}

/// The schema the `entity` crate declares.
pub fn entities() -> Entities {
    struct Collect(Entities);
    impl entity::registry::EntityVisitor for Collect {
        fn visit<E: sea_orm::EntityTrait + Default>(&mut self) {
            self.0.add_entity::<E>();
        }
    }
    let mut collect = Collect(Entities::new());
    entity::registry::visit_entities(&mut collect);
    let mut entities = collect.0;
    for ix in entity::indexes::INDEXES {
        entities = entities.index(ix.table, ix.name, ix.columns, ix.unique);
    }
    for rename in entity::renames::RENAMES {
        entities = entities.rename(match *rename {
            entity::renames::Rename::Table { from, to } => Rename::Table {
                from: from.into(),
                to: to.into(),
            },
            entity::renames::Rename::Column { table, from, to } => Rename::Column {
                table: table.into(),
                from: from.into(),
                to: to.into(),
            },
        });
    }
    entities
}
