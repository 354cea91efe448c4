//! Which migrations a command will run, in order: pure functions of the migrations this build
//! knows and the versions the database has applied.

use std::collections::BTreeSet;

use crate::error::{MigrateError, Versions};

/// The direction a migration runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Apply (`up`).
    Up,
    /// Revert (`down`).
    Down,
}

impl Direction {
    /// `"up"` or `"down"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// How far a command goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// As far as possible (`up`: every pending migration; `down`: every applied one).
    #[default]
    All,
    /// At most this many migrations (`-n N`).
    Steps(u32),
    /// `up --to V`: up to and including V. `down --to V`: revert everything after V.
    Version(String),
    /// `down --to base`: revert everything.
    Base,
}

/// The ordered list of migrations a command will run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Up or down.
    pub direction: Direction,
    /// Indexes into the migration list, in execution order.
    pub steps: Vec<usize>,
}

/// Finds a migration by full name or unique prefix.
pub fn resolve_version(names: &[&str], given: &str) -> Result<usize, MigrateError> {
    if let Some(i) = names.iter().position(|n| *n == given) {
        return Ok(i);
    }
    let matches: Vec<usize> = (0..names.len())
        .filter(|&i| !given.is_empty() && names[i].starts_with(given))
        .collect();
    match matches.as_slice() {
        [i] => Ok(*i),
        [] => Err(MigrateError::UnknownVersion {
            given: given.to_string(),
            detail: "no migration has that name or starts with it".into(),
        }),
        many => Err(MigrateError::UnknownVersion {
            given: given.to_string(),
            detail: format!(
                "it is a prefix of {} migrations ({}); give more of the name",
                many.len(),
                many.iter()
                    .map(|&i| names[i])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// The versions a database has applied, as the planner reads them: a set of names, or the
/// ledger's map of names to when they were applied.
pub trait Applied {
    /// Whether `version` is applied.
    fn contains(&self, version: &str) -> bool;
    /// Every applied version, in ascending order ([`unknown_applied`] walks it alongside the
    /// build's sorted names).
    fn versions(&self) -> impl Iterator<Item = &str>;
}

impl Applied for BTreeSet<String> {
    fn contains(&self, version: &str) -> bool {
        BTreeSet::contains(self, version)
    }
    fn versions(&self) -> impl Iterator<Item = &str> {
        self.iter().map(String::as_str)
    }
}

impl<V> Applied for std::collections::BTreeMap<String, V> {
    fn contains(&self, version: &str) -> bool {
        self.contains_key(version)
    }
    fn versions(&self) -> impl Iterator<Item = &str> {
        self.keys().map(String::as_str)
    }
}

/// Applied versions this build does not know, oldest name first.
pub fn unknown_applied(names: &[&str], applied: &impl Applied) -> Vec<String> {
    // Names in version order (the usual list): one walk along both sorted lists.
    if names.is_sorted() {
        let mut known = names.iter().copied().peekable();
        return applied
            .versions()
            .filter(|v| {
                while known.next_if(|n| n < v).is_some() {}
                known.peek() != Some(v)
            })
            .map(str::to_string)
            .collect();
    }
    // Otherwise a set, not `names.contains`: a no-op `up` of a long chain would be quadratic.
    let known: std::collections::HashSet<&str> = names.iter().copied().collect();
    applied
        .versions()
        .filter(|v| !known.contains(v))
        .map(str::to_string)
        .collect()
}

/// Plans `up`: the pending migrations in list order, limited by `target`.
pub fn plan_up(
    names: &[&str],
    applied: &impl Applied,
    target: &Target,
) -> Result<Plan, MigrateError> {
    refuse_unknown(names, applied)?;
    let pending: Vec<usize> = (0..names.len())
        .filter(|&i| !applied.contains(names[i]))
        .collect();
    let steps = match target {
        Target::All => pending,
        Target::Steps(n) => pending.into_iter().take(*n as usize).collect(),
        Target::Version(v) => {
            let idx = resolve_version(names, v)?;
            if applied.contains(names[idx]) {
                return Err(MigrateError::TargetNotAhead {
                    version: names[idx].to_string(),
                });
            }
            pending.into_iter().filter(|&i| i <= idx).collect()
        }
        Target::Base => {
            return Err(MigrateError::UnknownVersion {
                given: "base".into(),
                detail: "`base` only makes sense for `down --to`".into(),
            });
        }
    };
    Ok(Plan {
        direction: crate::plan::Direction::Up,
        steps,
    })
}

/// Plans `down`: applied migrations in reverse list order, limited by `target`.
pub fn plan_down(
    names: &[&str],
    applied: &impl Applied,
    target: &Target,
) -> Result<Plan, MigrateError> {
    refuse_unknown(names, applied)?;
    let applied_rev: Vec<usize> = (0..names.len())
        .rev()
        .filter(|&i| applied.contains(names[i]))
        .collect();
    let steps = match target {
        Target::All | Target::Base => applied_rev,
        Target::Steps(n) => applied_rev.into_iter().take(*n as usize).collect(),
        Target::Version(v) => {
            let idx = resolve_version(names, v)?;
            if !applied.contains(names[idx]) {
                return Err(MigrateError::TargetNotApplied {
                    version: names[idx].to_string(),
                });
            }
            applied_rev.into_iter().filter(|&i| i > idx).collect()
        }
    };
    Ok(Plan {
        direction: Direction::Down,
        steps,
    })
}

fn refuse_unknown(names: &[&str], applied: &impl Applied) -> Result<(), MigrateError> {
    let unknown = unknown_applied(names, applied);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::UnknownApplied {
            versions: Versions(unknown),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["m1_a", "m2_b", "m3_c"];

    fn applied(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn up_targets() {
        let a = applied(&["m1_a"]);
        assert_eq!(plan_up(&NAMES, &a, &Target::All).unwrap().steps, vec![1, 2]);
        assert_eq!(
            plan_up(&NAMES, &a, &Target::Steps(1)).unwrap().steps,
            vec![1]
        );
        assert_eq!(
            plan_up(&NAMES, &a, &Target::Version("m2".into()))
                .unwrap()
                .steps,
            vec![1]
        );
        assert!(matches!(
            plan_up(&NAMES, &a, &Target::Version("m1_a".into())),
            Err(MigrateError::TargetNotAhead { .. })
        ));
        assert!(matches!(
            plan_up(&NAMES, &a, &Target::Version("m".into())),
            Err(MigrateError::UnknownVersion { .. })
        ));
    }

    #[test]
    fn down_targets() {
        let a = applied(&["m1_a", "m2_b", "m3_c"]);
        assert_eq!(
            plan_down(&NAMES, &a, &Target::Steps(1)).unwrap().steps,
            vec![2]
        );
        assert_eq!(
            plan_down(&NAMES, &a, &Target::Version("m1_a".into()))
                .unwrap()
                .steps,
            vec![2, 1]
        );
        assert_eq!(
            plan_down(&NAMES, &a, &Target::Base).unwrap().steps,
            vec![2, 1, 0]
        );
        let a = applied(&["m1_a"]);
        assert!(matches!(
            plan_down(&NAMES, &a, &Target::Version("m3".into())),
            Err(MigrateError::TargetNotApplied { .. })
        ));
    }

    #[test]
    fn unknown_applied_versions_are_found_in_sorted_and_unsorted_lists() {
        let a = applied(&["m0_before", "m2_b", "m2_c", "m9_z"]);
        let expected = ["m0_before", "m2_c", "m9_z"];
        assert_eq!(unknown_applied(&NAMES, &a), expected);
        assert_eq!(unknown_applied(&["m3_c", "m1_a", "m2_b"], &a), expected);
        assert_eq!(unknown_applied(&["m1_a", "m2_b", "m2_b"], &a), expected);
        assert!(unknown_applied(&NAMES, &applied(&["m1_a", "m3_c"])).is_empty());
        assert!(unknown_applied(&[], &applied(&[])).is_empty());
        assert_eq!(unknown_applied(&[], &applied(&["m1_a"])), ["m1_a"]);
    }

    #[test]
    fn unknown_applied_versions_are_refused() {
        let a = applied(&["m1_a", "m9_z"]);
        assert!(matches!(
            plan_up(&NAMES, &a, &Target::All),
            Err(MigrateError::UnknownApplied { .. })
        ));
    }
}

pub mod capture;
pub mod finding;
