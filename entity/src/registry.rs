//! Every entity of the schema, for tools that derive the schema from the models (drift,
//! autogenerate). A new entity module is added here too, or those tools do not see its table.

use sea_orm::EntityTrait;

/// Receives each entity type of the schema.
pub trait EntityVisitor {
    /// Called once per entity.
    fn visit<E: EntityTrait + Default>(&mut self);
}

/// Calls `visitor` with every entity, referenced tables first.
pub fn visit_entities<V: EntityVisitor>(visitor: &mut V) {
    visitor.visit::<crate::users::Entity>();
    visitor.visit::<crate::robots::Entity>();
    visitor.visit::<crate::telemetry::Entity>();
    visitor.visit::<crate::lidar_scans::Entity>();
    visitor.visit::<crate::lidar_obstacles::Entity>();
    visitor.visit::<crate::lidar_maps::Entity>();
    visitor.visit::<crate::lidar_paths::Entity>();
    visitor.visit::<crate::safety_events::Entity>();
    visitor.visit::<crate::safety_zones::Entity>();
    visitor.visit::<crate::emergency_stops::Entity>();
}
