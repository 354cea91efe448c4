//! Spec 003 "Add safety system tables": safety events, zones, emergency stops and their indexes.

use sea_orm_migration::prelude::*;

use crate::m20250128_100000_initial_schema::{Robots, Users};
use migration_engine::author::columns::{
    boolean, float, foreign_key, index, integer, json, pk, string, text, timestamp,
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
                    .table(SafetyEvents::Table)
                    .col(pk(SafetyEvents::Id))
                    .col(string(SafetyEvents::EventType, 50, false))
                    .col(string(SafetyEvents::Severity, 20, false))
                    .col(integer(SafetyEvents::RobotId, true))
                    .col(text(SafetyEvents::Description, true))
                    .col(json(db, SafetyEvents::EventData, true))
                    .col(boolean(SafetyEvents::Resolved, false))
                    .col(timestamp(db, SafetyEvents::ResolvedAt, true))
                    .col(integer(SafetyEvents::ResolvedBy, true))
                    .col(timestamp(db, SafetyEvents::CreatedAt, false))
                    .foreign_key(&mut foreign_key(
                        SafetyEvents::Table,
                        SafetyEvents::RobotId,
                        Robots::Table,
                        Robots::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        SafetyEvents::Table,
                        SafetyEvents::ResolvedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SafetyZones::Table)
                    .col(pk(SafetyZones::Id))
                    .col(string(SafetyZones::ZoneName, 100, false))
                    .col(string(SafetyZones::ZoneType, 20, false))
                    .col(json(db, SafetyZones::BoundaryData, false))
                    .col(float(SafetyZones::Radius, true))
                    .col(boolean(SafetyZones::IsActive, true))
                    .col(timestamp(db, SafetyZones::CreatedAt, false))
                    .col(timestamp(db, SafetyZones::UpdatedAt, false))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmergencyStops::Table)
                    .col(pk(EmergencyStops::Id))
                    .col(integer(EmergencyStops::RobotId, false))
                    .col(integer(EmergencyStops::TriggeredBy, true))
                    .col(string(EmergencyStops::TriggerType, 20, false))
                    .col(json(db, EmergencyStops::TriggerData, true))
                    .col(boolean(EmergencyStops::Resolved, false))
                    .col(timestamp(db, EmergencyStops::ResolvedAt, true))
                    .col(integer(EmergencyStops::ResolvedBy, true))
                    .col(timestamp(db, EmergencyStops::CreatedAt, false))
                    .foreign_key(&mut foreign_key(
                        EmergencyStops::Table,
                        EmergencyStops::RobotId,
                        Robots::Table,
                        Robots::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        EmergencyStops::Table,
                        EmergencyStops::TriggeredBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        EmergencyStops::Table,
                        EmergencyStops::ResolvedBy,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .take(),
            )
            .await?;

        for stmt in [
            index(
                "idx_safety_events_type",
                SafetyEvents::Table,
                [SafetyEvents::EventType],
            ),
            index(
                "idx_safety_events_severity",
                SafetyEvents::Table,
                [SafetyEvents::Severity],
            ),
            index(
                "idx_safety_events_robot",
                SafetyEvents::Table,
                [SafetyEvents::RobotId],
            ),
            index(
                "idx_safety_events_created",
                SafetyEvents::Table,
                [SafetyEvents::CreatedAt],
            ),
            index(
                "idx_safety_zones_type",
                SafetyZones::Table,
                [SafetyZones::ZoneType],
            ),
            index(
                "idx_safety_zones_active",
                SafetyZones::Table,
                [SafetyZones::IsActive],
            ),
            index(
                "idx_emergency_stops_robot",
                EmergencyStops::Table,
                [EmergencyStops::RobotId],
            ),
            index(
                "idx_emergency_stops_resolved",
                EmergencyStops::Table,
                [EmergencyStops::Resolved],
            ),
        ] {
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    /// Drops the tables, children first; their indexes and constraints go with them.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EmergencyStops::Table.into_iden(),
            SafetyZones::Table.into_iden(),
            SafetyEvents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SafetyEvents {
    Table,
    Id,
    EventType,
    Severity,
    RobotId,
    Description,
    EventData,
    Resolved,
    ResolvedAt,
    ResolvedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SafetyZones {
    Table,
    Id,
    ZoneName,
    ZoneType,
    BoundaryData,
    Radius,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EmergencyStops {
    Table,
    Id,
    RobotId,
    TriggeredBy,
    TriggerType,
    TriggerData,
    Resolved,
    ResolvedAt,
    ResolvedBy,
    CreatedAt,
}
