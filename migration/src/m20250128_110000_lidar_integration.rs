//! Spec 002 "Add LiDAR integration tables": scans, obstacles, maps, paths and their indexes.

use sea_orm_migration::prelude::*;

use migration_engine::author::columns::{
    bytes, float, foreign_key, index, integer, json, pk, string, timestamp,
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
                    .table(LidarScans::Table)
                    .col(pk(LidarScans::Id))
                    .col(timestamp(db, LidarScans::Timestamp, false))
                    .col(json(db, LidarScans::ScanData, true))
                    .col(float(LidarScans::QualityScore, true))
                    .col(float(LidarScans::ScanDuration, true))
                    .col(integer(LidarScans::PointsCount, true))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LidarObstacles::Table)
                    .col(pk(LidarObstacles::Id))
                    .col(integer(LidarObstacles::ScanId, false))
                    .col(string(LidarObstacles::ObstacleId, 50, false))
                    .col(float(LidarObstacles::PositionX, false))
                    .col(float(LidarObstacles::PositionY, false))
                    .col(float(LidarObstacles::PositionZ, true))
                    .col(float(LidarObstacles::SizeWidth, true))
                    .col(float(LidarObstacles::SizeHeight, true))
                    .col(string(LidarObstacles::ObstacleType, 20, true))
                    .col(float(LidarObstacles::Confidence, true))
                    .col(timestamp(db, LidarObstacles::DetectedAt, false))
                    .foreign_key(&mut foreign_key(
                        LidarObstacles::Table,
                        LidarObstacles::ScanId,
                        LidarScans::Table,
                        LidarScans::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LidarMaps::Table)
                    .col(pk(LidarMaps::Id))
                    .col(timestamp(db, LidarMaps::Timestamp, false))
                    .col(bytes(db, LidarMaps::MapData, true))
                    .col(float(LidarMaps::Resolution, false))
                    .col(integer(LidarMaps::Width, false))
                    .col(integer(LidarMaps::Height, false))
                    .col(float(LidarMaps::OriginX, false))
                    .col(float(LidarMaps::OriginY, false))
                    .col(float(LidarMaps::OriginZ, false))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LidarPaths::Table)
                    .col(pk(LidarPaths::Id))
                    .col(float(LidarPaths::StartX, false))
                    .col(float(LidarPaths::StartY, false))
                    .col(float(LidarPaths::StartZ, true))
                    .col(float(LidarPaths::GoalX, false))
                    .col(float(LidarPaths::GoalY, false))
                    .col(float(LidarPaths::GoalZ, true))
                    .col(json(db, LidarPaths::PathData, true))
                    .col(float(LidarPaths::Distance, true))
                    .col(float(LidarPaths::EstimatedTime, true))
                    .col(float(LidarPaths::SafetyScore, true))
                    .col(string(LidarPaths::Algorithm, 20, true))
                    .col(timestamp(db, LidarPaths::CreatedAt, false))
                    .take(),
            )
            .await?;

        for stmt in [
            index(
                "idx_lidar_scans_timestamp",
                LidarScans::Table,
                [LidarScans::Timestamp],
            ),
            index(
                "idx_lidar_obstacles_scan",
                LidarObstacles::Table,
                [LidarObstacles::ScanId],
            ),
            index(
                "idx_lidar_obstacles_type",
                LidarObstacles::Table,
                [LidarObstacles::ObstacleType],
            ),
            index(
                "idx_lidar_maps_timestamp",
                LidarMaps::Table,
                [LidarMaps::Timestamp],
            ),
            index(
                "idx_lidar_paths_created",
                LidarPaths::Table,
                [LidarPaths::CreatedAt],
            ),
        ] {
            manager.create_index(stmt).await?;
        }
        Ok(())
    }

    /// Drops the tables, children first; their indexes and constraints go with them.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LidarPaths::Table.into_iden(),
            LidarMaps::Table.into_iden(),
            LidarObstacles::Table.into_iden(),
            LidarScans::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum LidarScans {
    Table,
    Id,
    Timestamp,
    ScanData,
    QualityScore,
    ScanDuration,
    PointsCount,
}

#[derive(DeriveIden)]
enum LidarObstacles {
    Table,
    Id,
    ScanId,
    ObstacleId,
    PositionX,
    PositionY,
    PositionZ,
    SizeWidth,
    SizeHeight,
    ObstacleType,
    Confidence,
    DetectedAt,
}

#[derive(DeriveIden)]
enum LidarMaps {
    Table,
    Id,
    Timestamp,
    MapData,
    Resolution,
    Width,
    Height,
    OriginX,
    OriginY,
    OriginZ,
}

#[derive(DeriveIden)]
enum LidarPaths {
    Table,
    Id,
    StartX,
    StartY,
    StartZ,
    GoalX,
    GoalY,
    GoalZ,
    PathData,
    Distance,
    EstimatedTime,
    SafetyScore,
    Algorithm,
    CreatedAt,
}
