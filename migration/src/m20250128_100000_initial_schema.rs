//! Spec 001 "Initial database schema": `users`, `robots`, `telemetry` and their indexes.

use sea_orm_migration::prelude::*;

use migration_engine::author::columns::{
    boolean, float, foreign_key, index, integer, pk, string, timestamp,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk(Users::Id))
                    .col(string(Users::Username, 50, false).unique_key())
                    .col(string(Users::Email, 120, false).unique_key())
                    .col(string(Users::PasswordHash, 255, false))
                    .col(string(Users::Role, 20, false))
                    .col(boolean(Users::IsActive, true))
                    .col(timestamp(db, Users::CreatedAt, false))
                    .col(timestamp(db, Users::UpdatedAt, false))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Robots::Table)
                    .col(pk(Robots::Id))
                    .col(string(Robots::Name, 100, false))
                    .col(string(Robots::RobotType, 50, false))
                    .col(string(Robots::Status, 20, false))
                    .col(string(Robots::Mode, 20, false))
                    .col(float(Robots::PositionX, true))
                    .col(float(Robots::PositionY, true))
                    .col(float(Robots::PositionZ, true))
                    .col(float(Robots::Orientation, true))
                    .col(float(Robots::Speed, true))
                    .col(integer(Robots::BatteryLevel, true))
                    .col(float(Robots::Temperature, true))
                    .col(timestamp(db, Robots::CreatedAt, false))
                    .col(timestamp(db, Robots::UpdatedAt, false))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Telemetry::Table)
                    .col(pk(Telemetry::Id))
                    .col(integer(Telemetry::RobotId, false))
                    .col(timestamp(db, Telemetry::Timestamp, false))
                    .col(float(Telemetry::Speed, true))
                    .col(float(Telemetry::Temperature, true))
                    .col(float(Telemetry::BatteryVoltage, true))
                    .col(float(Telemetry::MotorCurrent, true))
                    .col(float(Telemetry::PositionX, true))
                    .col(float(Telemetry::PositionY, true))
                    .col(float(Telemetry::PositionZ, true))
                    .col(float(Telemetry::Orientation, true))
                    .foreign_key(&mut foreign_key(
                        Telemetry::Table,
                        Telemetry::RobotId,
                        Robots::Table,
                        Robots::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_telemetry_robot_timestamp",
                Telemetry::Table,
                [Telemetry::RobotId, Telemetry::Timestamp],
            ))
            .await?;
        manager
            .create_index(index("idx_robots_status", Robots::Table, [Robots::Status]))
            .await?;
        manager
            .create_index(index("idx_users_username", Users::Table, [Users::Username]))
            .await?;
        Ok(())
    }

    /// Drops the tables, children first; their indexes, keys and constraints go with them
    /// (dropping `idx_telemetry_robot_timestamp` on its own would fail on MySQL, where it backs
    /// the foreign key).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Telemetry::Table.into_iden(),
            Robots::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    Role,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Robots {
    Table,
    Id,
    Name,
    RobotType,
    Status,
    Mode,
    PositionX,
    PositionY,
    PositionZ,
    Orientation,
    Speed,
    BatteryLevel,
    Temperature,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Telemetry {
    Table,
    Id,
    RobotId,
    Timestamp,
    Speed,
    Temperature,
    BatteryVoltage,
    MotorCurrent,
    PositionX,
    PositionY,
    PositionZ,
    Orientation,
}
