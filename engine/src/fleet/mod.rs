//! Fleets: one command (`up`, `status`, `check`, `doctor`) on many databases at once.
//! [`targets`] loads and checks the targets (a TOML file or a glob of SQLite files);
//! [`rollout`] runs the command on each through its own [`crate::Runner`], in parallel
//! tasks, with canaries, and reports per target.

pub mod rollout;
pub mod targets;

pub use rollout::{
    Action, Fleet, FleetEvent, FleetOptions, FleetReport, Outcome, Summary, TargetReport,
    default_parallelism,
};
pub use targets::{FleetTarget, Targets, TargetsError};
