use sea_orm_migration::{prelude::*, schema::*};

use super::m20240601_000001_create_customer::Customer;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Order::Table)
                    .if_not_exists()
                    .col(pk_auto(Order::Id))
                    .col(integer(Order::CustomerId))
                    .col(integer(Order::TotalCents))
                    .col(string(Order::Status))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_customer")
                            .from(Order::Table, Order::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_customer_id")
                    .table(Order::Table)
                    .col(Order::CustomerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Order::Table).to_owned())
            .await
    }
}

/// `order` is an SQL keyword: sea-query quotes every identifier, so it is a fine table name.
#[derive(DeriveIden)]
enum Order {
    Table,
    Id,
    CustomerId,
    TotalCents,
    Status,
}
