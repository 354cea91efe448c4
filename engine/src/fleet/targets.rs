//! The targets of a fleet: a TOML targets file (named targets, each a URL that may refer to
//! environment variables, with an optional schema, environment and labels, plus globs of
//! SQLite files), or a glob of SQLite files given directly. Everything is checked when it is
//! loaded, so a bad file stops the fleet before any database is touched.
//!
//! ```toml
//! [targets.site-a]
//! url = "postgres://migrator:${SITE_A_PASSWORD}@db-a:5432/oht50"
//! env = "production"
//! labels = ["site"]
//!
//! [targets.rig-7]
//! url = "sqlite:///var/lib/oht50/rig7.db"
//! labels = ["rig"]
//!
//! [globs.rigs]
//! pattern = "/var/lib/oht50/rigs/*.db"
//! labels = ["rig"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::Deserialize;

use crate::config::Environment;
use crate::db::DatabaseUrl;
use crate::error::MigrateError;

/// One database of a fleet.
#[derive(Debug, Clone)]
pub struct FleetTarget {
    /// Its name in the targets file (for a glob: `GLOB/FILE_STEM`, or `FILE_STEM` for a glob
    /// given on the command line).
    pub name: String,
    /// Where it is, environment references expanded (its `Display` hides the password).
    pub url: DatabaseUrl,
    /// PostgreSQL schema to work in.
    pub schema: Option<String>,
    /// Its environment.
    pub env: Environment,
    /// Its labels, for `--only`.
    pub labels: Vec<String>,
}

impl FleetTarget {
    /// The environment's name (`development`, `staging`, `production`).
    pub fn env_name(&self) -> String {
        env_name(self.env)
    }
}

/// The name of `env` as written in a targets file.
pub fn env_name(env: Environment) -> String {
    env.to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// The targets of a fleet, in the order of the file (globs: by path), which is the order
/// they start in and the order `--canary` counts.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Every target.
    pub targets: Vec<FleetTarget>,
}

/// Why the targets cannot be used. Nothing has run when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// The targets file cannot be read.
    #[error("cannot read the targets file {}: {source}. Check the path given to --targets", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or not in the targets shape.
    #[error(
        "the targets file {} is not valid: {message}. See the README's \"Fleets\" section for its shape ([targets.NAME] tables with url, and optional schema, env and labels)",
        path.display()
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with the line).
        message: String,
    },
    /// The same target name is defined twice.
    #[error(
        "the targets file {} defines target `{name}` twice (lines {first} and {second}): give every target its own name",
        path.display()
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
        /// Line of the first definition.
        first: usize,
        /// Line of the second.
        second: usize,
    },
    /// A URL refers to an environment variable that is not set.
    #[error(
        "target `{target}`: its url refers to ${{{var}}}, which is not set in the environment: export {var} (or fix the name) and run again"
    )]
    UnknownVar {
        /// The target.
        target: String,
        /// The variable.
        var: String,
    },
    /// A URL has an unterminated or empty `${...}`.
    #[error(
        "target `{target}`: its url has a malformed environment reference ({detail}); write ${{NAME}} with NAME made of letters, digits and _"
    )]
    BadReference {
        /// The target.
        target: String,
        /// What is wrong.
        detail: String,
    },
    /// A target's URL is not usable (unknown scheme, no host, ...).
    #[error("target `{target}`: {source}")]
    Url {
        /// The target.
        target: String,
        /// Why.
        #[source]
        source: Box<MigrateError>,
    },
    /// A target's `env` is not a known environment.
    #[error(
        "target `{target}`: env = \"{given}\" is not an environment: use development, staging or production"
    )]
    BadEnv {
        /// The target.
        target: String,
        /// What was written.
        given: String,
    },
    /// A glob pattern is invalid or cannot be listed.
    #[error("glob `{pattern}`: {detail}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        detail: String,
    },
    /// A glob matched no file.
    #[error(
        "glob `{pattern}` matches no file: check the pattern (quote it so the shell does not expand it, e.g. --targets 'dir/*.db')"
    )]
    EmptyGlob {
        /// The pattern.
        pattern: String,
    },
    /// Two targets (e.g. from globs) got the same name.
    #[error(
        "two targets are named `{name}` ({first} and {second}): rename one, or move the files of a glob into separate directories"
    )]
    NameClash {
        /// The name.
        name: String,
        /// The first target's database.
        first: String,
        /// The second's.
        second: String,
    },
    /// The file defines no target, or the selection leaves none.
    #[error("{0}")]
    Empty(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: String,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlob {
    pattern: String,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    targets: toml::Table,
    #[serde(default)]
    globs: toml::Table,
}

impl Targets {
    /// Loads `spec`: a glob of SQLite files when it contains `*`, `?` or `[`, else a TOML
    /// targets file. Environment references are expanded from the process environment.
    pub fn load(spec: &str) -> Result<Self, TargetsError> {
        if is_glob(spec) {
            return Self::from_glob(spec, None, Environment::default(), &[]);
        }
        let path = Path::new(spec);
        let text = std::fs::read_to_string(path).map_err(|source| TargetsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path, |name| std::env::var(name).ok())
    }

    /// Parses targets-file `text` (read from `path`, for messages), expanding `${NAME}` in
    /// URLs with `var`.
    pub fn from_toml(
        text: &str,
        path: &Path,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TargetsError> {
        // TOML rejects a table defined twice too, but says only "duplicate key": name the
        // target and both lines.
        duplicates(text, path)?;
        let raw: RawFile = toml::from_str(text).map_err(|e| TargetsError::Syntax {
            path: path.to_path_buf(),
            message: one_line(&e.to_string()),
        })?;
        let syntax = |message: String| TargetsError::Syntax {
            path: path.to_path_buf(),
            message,
        };
        let mut targets = Vec::new();
        for (name, value) in raw.targets {
            let t: RawTarget = value.try_into().map_err(|e: toml::de::Error| {
                syntax(format!("[targets.{name}]: {}", one_line(&e.to_string())))
            })?;
            check_name(&name).map_err(|m| syntax(format!("[targets.{name}]: {m}")))?;
            let expanded = expand(&t.url, &name, &var)?;
            let url = DatabaseUrl::parse(&expanded).map_err(|source| TargetsError::Url {
                target: name.clone(),
                source: Box::new(source),
            })?;
            targets.push(FleetTarget {
                env: parse_env(&name, t.env.as_deref())?,
                name,
                url,
                schema: t.schema.filter(|s| !s.is_empty()),
                labels: t.labels,
            });
        }
        for (name, value) in raw.globs {
            let g: RawGlob = value.try_into().map_err(|e: toml::de::Error| {
                syntax(format!("[globs.{name}]: {}", one_line(&e.to_string())))
            })?;
            check_name(&name).map_err(|m| syntax(format!("[globs.{name}]: {m}")))?;
            let env = parse_env(&name, g.env.as_deref())?;
            targets.extend(Self::from_glob(&g.pattern, Some(&name), env, &g.labels)?.targets);
        }
        if targets.is_empty() {
            return Err(TargetsError::Empty(format!(
                "the targets file {} defines no target: add [targets.NAME] tables with a url (or [globs.NAME] with a pattern)",
                path.display()
            )));
        }
        let out = Self { targets };
        out.unique()?;
        Ok(out)
    }

    /// The SQLite files matching `pattern` (sorted by path), named by their file stem
    /// (prefixed `GROUP/` when `group` is given), with `env` and `labels`.
    pub fn from_glob(
        pattern: &str,
        group: Option<&str>,
        env: Environment,
        labels: &[String],
    ) -> Result<Self, TargetsError> {
        let pattern = pattern.strip_prefix("sqlite://").unwrap_or(pattern);
        let paths = glob::glob(pattern).map_err(|e| TargetsError::Glob {
            pattern: pattern.to_string(),
            detail: format!("{e}; write e.g. 'dir/*.db'"),
        })?;
        let mut targets = Vec::new();
        for entry in paths {
            let path = entry.map_err(|e| TargetsError::Glob {
                pattern: pattern.to_string(),
                detail: e.to_string(),
            })?;
            if !path.is_file() {
                continue;
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = match group {
                Some(g) => format!("{g}/{stem}"),
                None => stem,
            };
            let url =
                DatabaseUrl::parse(&format!("sqlite://{}", path.display())).map_err(|source| {
                    TargetsError::Url {
                        target: name.clone(),
                        source: Box::new(source),
                    }
                })?;
            targets.push(FleetTarget {
                name,
                url,
                schema: None,
                env,
                labels: labels.to_vec(),
            });
        }
        if targets.is_empty() {
            return Err(TargetsError::EmptyGlob {
                pattern: pattern.to_string(),
            });
        }
        let out = Self { targets };
        out.unique()?;
        Ok(out)
    }

    /// Keeps the targets that carry one of `only` (all when empty) and are not named in
    /// `except`. Fails when nothing is left, or when `except` names no target (a typo would
    /// otherwise migrate the database meant to be left out).
    pub fn select(self, only: &[String], except: &[String]) -> Result<Self, TargetsError> {
        if let Some(unknown) = except
            .iter()
            .find(|n| !self.targets.iter().any(|t| &t.name == *n))
        {
            return Err(TargetsError::Empty(format!(
                "--except {unknown}: no target has that name (targets: {})",
                self.names_preview()
            )));
        }
        let total = self.targets.len();
        let preview = self.names_preview();
        let targets: Vec<FleetTarget> = self
            .targets
            .into_iter()
            .filter(|t| only.is_empty() || t.labels.iter().any(|l| only.contains(l)))
            .filter(|t| !except.contains(&t.name))
            .collect();
        if targets.is_empty() {
            return Err(TargetsError::Empty(format!(
                "the selection (--only {} --except {}) leaves none of the {total} target(s) ({preview}): check the labels",
                only.join(","),
                except.join(",")
            )));
        }
        Ok(Self { targets })
    }

    /// How many targets there are.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    fn names_preview(&self) -> String {
        let mut names: Vec<&str> = self
            .targets
            .iter()
            .take(5)
            .map(|t| t.name.as_str())
            .collect();
        if self.targets.len() > 5 {
            names.push("...");
        }
        names.join(", ")
    }

    fn unique(&self) -> Result<(), TargetsError> {
        let mut seen: BTreeMap<&str, &FleetTarget> = BTreeMap::new();
        for t in &self.targets {
            if let Some(first) = seen.insert(&t.name, t) {
                return Err(TargetsError::NameClash {
                    name: t.name.clone(),
                    first: first.url.to_string(),
                    second: t.url.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Whether `spec` is a glob rather than a file name.
pub fn is_glob(spec: &str) -> bool {
    spec.contains(['*', '?', '['])
}

fn parse_env(target: &str, given: Option<&str>) -> Result<Environment, TargetsError> {
    match given {
        None => Ok(Environment::default()),
        Some(s) => Environment::from_str(s, true).map_err(|_| TargetsError::BadEnv {
            target: target.to_string(),
            given: s.to_string(),
        }),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("a target name must be non-empty, without spaces".into());
    }
    Ok(())
}

/// `url` with every `${NAME}` replaced by `var(NAME)`.
fn expand(
    url: &str,
    target: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<String, TargetsError> {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(TargetsError::BadReference {
                target: target.to_string(),
                detail: "a ${ without its closing }".into(),
            });
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TargetsError::BadReference {
                target: target.to_string(),
                detail: format!("`{}` is not a variable name", name.escape_default()),
            });
        }
        let value = var(name).ok_or_else(|| TargetsError::UnknownVar {
            target: target.to_string(),
            var: name.to_string(),
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Finds a `[targets.NAME]` or `[globs.NAME]` header written twice, by line.
fn duplicates(text: &str, path: &Path) -> Result<(), TargetsError> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let Some(inner) = line.strip_prefix('[').and_then(|l| l.split(']').next()) else {
            continue;
        };
        if line.starts_with("[[") {
            continue;
        }
        let key: String = inner
            .split('.')
            .map(|p| p.trim().trim_matches(['"', '\'']))
            .collect::<Vec<_>>()
            .join(".");
        if !(key.starts_with("targets.") || key.starts_with("globs.")) {
            continue;
        }
        if let Some(first) = seen.insert(key.clone(), i + 1) {
            let name = key
                .split_once('.')
                .map(|(_, n)| n)
                .unwrap_or(&key)
                .to_string();
            return Err(TargetsError::Duplicate {
                path: path.to_path_buf(),
                name,
                first,
                second: i + 1,
            });
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Targets, TargetsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Targets::from_toml(text, Path::new("fleet.toml"), |n| {
            vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn parses_the_documented_shape_in_file_order() {
        let t = load(
            r#"
[targets.site-a]
url = "postgres://migrator:${SITE_A_PASSWORD}@db-a:5432/oht50"
env = "production"
labels = ["site"]

[targets.rig-7]
url = "sqlite:///var/lib/oht50/rig7.db"
labels = ["rig"]

[targets.aaa]
url = "mariadb://root@db:3306/oht50"
schema = "ignored"
"#,
            &[("SITE_A_PASSWORD", "s3cr3t!")],
        )
        .unwrap();
        let names: Vec<&str> = t.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["site-a", "rig-7", "aaa"]);
        assert_eq!(t.targets[0].env, Environment::Production);
        assert_eq!(
            t.targets[0].url.to_string(),
            "postgres://migrator:***@db-a:5432/oht50"
        );
        assert_eq!(t.targets[0].url.password().as_deref(), Some("s3cr3t!"));
        assert_eq!(t.targets[1].labels, ["rig"]);
        let only = t.clone().select(&["rig".into()], &[]).unwrap();
        assert_eq!(only.len(), 1);
        let except = t.select(&[], &["aaa".into()]).unwrap();
        assert_eq!(except.len(), 2);
    }

    #[test]
    fn bad_files_are_one_clear_error() {
        let err = load(
            "[targets.a]\nurl = \"sqlite://a.db\"\n\n[targets.a]\nurl = \"sqlite://b.db\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("defines target `a` twice (lines 1 and 4)"),
            "{err}"
        );
        let err = load("[targets.a\nurl = 1", &[]).unwrap_err();
        assert!(matches!(err, TargetsError::Syntax { .. }), "{err}");
        let err = load("[targets.a]\nurl = \"postgres://u:${NOPE}@h/db\"\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("${NOPE}, which is not set"),
            "{err}"
        );
        let err = load("[targets.a]\nurl = \"oracle://u:pw@h/db\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("oracle"), "{err}");
        assert!(!err.to_string().contains("pw@"), "{err}");
        let err = load(
            "[targets.a]\nurl = \"sqlite://a.db\"\nlabel = [\"x\"]\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("label"), "{err}");
        let err = load(
            "[targets.a]\nurl = \"sqlite://a.db\"\nenv = \"prod\"\n",
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, TargetsError::BadEnv { .. }), "{err}");
        let err = load("", &[]).unwrap_err();
        assert!(matches!(err, TargetsError::Empty(_)), "{err}");
        let err = load("[targets.a]\nurl = \"postgres://u:${X@h/db\"\n", &[]).unwrap_err();
        assert!(matches!(err, TargetsError::BadReference { .. }), "{err}");
    }

    #[test]
    fn globs_name_files_by_stem() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b", "a", "c"] {
            std::fs::write(dir.path().join(format!("{n}.db")), b"").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        let pattern = format!("{}/*.db", dir.path().display());
        let t = Targets::from_glob(&pattern, None, Environment::default(), &[]).unwrap();
        let names: Vec<&str> = t.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let text = format!("[globs.rigs]\npattern = \"{pattern}\"\nlabels = [\"rig\"]\n");
        let t = load(&text, &[]).unwrap();
        assert_eq!(t.targets[0].name, "rigs/a");
        assert_eq!(t.targets[0].labels, ["rig"]);
        let none = format!("{}/*.nothing", dir.path().display());
        assert!(matches!(
            Targets::from_glob(&none, None, Environment::default(), &[]),
            Err(TargetsError::EmptyGlob { .. })
        ));
    }
}
