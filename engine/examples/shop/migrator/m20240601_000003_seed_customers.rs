//! Seed data, inserted through the entity's ActiveModel (no hand-written SQL).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::entity::customer;

/// The customers every shop database starts with: (name, email).
pub const CUSTOMERS: &[(&str, &str)] = &[
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Edsger Dijkstra", "edsger@example.com"),
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let rows = CUSTOMERS.iter().map(|(name, email)| customer::ActiveModel {
            name: Set((*name).into()),
            email: Set((*email).into()),
            ..Default::default()
        });
        // Without RETURNING: the SQL is then the same whether or not a database answers, so
        // dry runs, offline scripts and checksums show exactly what runs.
        customer::Entity::insert_many(rows)
            .exec_without_returning(manager.get_connection())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        customer::Entity::delete_many()
            .filter(customer::Column::Email.is_in(CUSTOMERS.iter().map(|(_, email)| *email)))
            .exec(manager.get_connection())
            .await?;
        Ok(())
    }
}
