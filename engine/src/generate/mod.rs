//! `generate NAME`: writes a new migration file into the migration crate and registers it in
//! the migrator's list, whichever directory it is run from.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};

use crate::error::MigrateError;

/// A migration file `generate` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedMigration {
    /// The new file.
    pub path: PathBuf,
    /// Its module name, `mYYYYMMDD_HHMMSS_name`.
    pub module: String,
    /// The `lib.rs` it was registered in.
    pub registered_in: PathBuf,
}

/// Which clock names the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// UTC (the default, as in sea-orm-cli).
    #[default]
    Utc,
    /// The local time zone.
    Local,
}

/// Finds the migration crate's `src/` from `start`: `start` itself when it is the crate (or its
/// `src/`), else `migration/` in `start` or any of its parents.
pub fn locate_source_dir(start: &Path, migration_dir: &str) -> Option<PathBuf> {
    let package = Path::new(migration_dir)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(migration_dir);
    let wanted = format!("name=\"{package}\"");
    let is_crate = |dir: &Path| {
        fs::read_to_string(dir.join("Cargo.toml"))
            .map(|t| t.lines().any(|l| l.trim().replace(' ', "") == wanted))
            .unwrap_or(false)
            && dir.join("src/lib.rs").is_file()
    };
    for dir in start.ancestors() {
        if is_crate(dir) {
            return Some(dir.join("src"));
        }
        let child = dir.join(migration_dir);
        if is_crate(&child) {
            return Some(child.join("src"));
        }
    }
    None
}

/// Turns a free-form name into a module suffix: lowercase ASCII letters, digits and `_`.
pub fn normalize_name(name: &str) -> Result<String, MigrateError> {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c == '_' || c == '-' || c == ' ') && !out.ends_with('_') {
            out.push('_');
        } else if c != '_' && c != '-' && c != ' ' {
            return Err(MigrateError::Generate(format!(
                "the name `{name}` contains `{c}`: use letters, digits, `_`, `-` or spaces"
            )));
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        return Err(MigrateError::Generate(
            "the migration name is empty: give a short description such as add_robot_firmware"
                .into(),
        ));
    }
    Ok(out)
}

/// The module name for `name` created at `now`.
pub fn module_name(name: &str, now: DateTime<Utc>, clock: Clock) -> Result<String, MigrateError> {
    let stamp = match clock {
        Clock::Utc => now.format("%Y%m%d_%H%M%S").to_string(),
        Clock::Local => now
            .with_timezone(&Local)
            .format("%Y%m%d_%H%M%S")
            .to_string(),
    };
    Ok(format!("m{stamp}_{}", normalize_name(name)?))
}

/// Writes `src_dir/<module>.rs` with `body` and registers it in `src_dir/lib.rs`. Nothing is
/// written when the registration points cannot be found or the file exists.
pub fn write_migration(
    src_dir: &Path,
    module: &str,
    body: &str,
) -> Result<GeneratedMigration, MigrateError> {
    let path = src_dir.join(format!("{module}.rs"));
    if path.exists() {
        return Err(MigrateError::Generate(format!(
            "{} already exists: wait a second or choose another name",
            path.display()
        )));
    }
    let lib = src_dir.join("lib.rs");
    let lib_text = fs::read_to_string(&lib)
        .map_err(|e| MigrateError::Generate(format!("cannot read {}: {e}", lib.display())))?;
    let registered = register(&lib_text, module).ok_or_else(|| {
        MigrateError::Generate(format!(
            "cannot find where to register the migration in {}: it needs `mod mYYYYMMDD_HHMMSS_name;` \
             lines and `Box::new(mYYYYMMDD_HHMMSS_name::Migration),` entries in `fn migrations()`",
            lib.display()
        ))
    })?;
    fs::write(&path, body)
        .map_err(|e| MigrateError::Generate(format!("cannot write {}: {e}", path.display())))?;
    if let Err(e) = fs::write(&lib, registered) {
        let _ = fs::remove_file(&path);
        return Err(MigrateError::Generate(format!(
            "cannot update {}: {e}",
            lib.display()
        )));
    }
    Ok(GeneratedMigration {
        path,
        module: module.to_string(),
        registered_in: lib,
    })
}

/// `generate NAME`: a new empty migration, registered last in the list.
pub fn generate(
    start: &Path,
    name: &str,
    now: DateTime<Utc>,
    clock: Clock,
    config: &crate::config::Config,
) -> Result<GeneratedMigration, MigrateError> {
    let src_dir = locate_source_dir(start, &config.migration_dir).ok_or_else(|| {
        MigrateError::Generate(format!(
            "no migration crate found from {}: run this inside the workspace (a directory with \
             {}/Cargo.toml, or below it)",
            start.display(),
            config.migration_dir
        ))
    })?;
    let module = module_name(name, now, clock)?;
    write_migration(&src_dir, &module, &template(&module))
}

/// Adds `mod module;` after the last migration module and `Box::new(module::Migration),` after
/// the last entry of the list. `None` when either anchor is missing.
pub fn register(lib: &str, module: &str) -> Option<String> {
    let is_mod = |l: &str| {
        let t = l.trim();
        (t.starts_with("mod m") || t.starts_with("pub mod m"))
            && t.ends_with(';')
            && is_migration_module(
                t.trim_start_matches("pub ")
                    .trim_start_matches("mod ")
                    .trim_end_matches(';'),
            )
    };
    let is_entry = |l: &str| {
        let t = l.trim();
        t.starts_with("Box::new(m") && t.ends_with("::Migration),")
    };
    let lines: Vec<&str> = lib.lines().collect();
    let last_mod = lines.iter().rposition(|l| is_mod(l))?;
    let last_entry = lines.iter().rposition(|l| is_entry(l))?;
    let mod_line = {
        let l = lines[last_mod];
        let indent = &l[..l.len() - l.trim_start().len()];
        let vis = if l.trim_start().starts_with("pub ") {
            "pub "
        } else {
            ""
        };
        format!("{indent}{vis}mod {module};")
    };
    let entry_line = {
        let l = lines[last_entry];
        let indent = &l[..l.len() - l.trim_start().len()];
        format!("{indent}Box::new({module}::Migration),")
    };
    let mut out = Vec::with_capacity(lines.len() + 2);
    for (i, l) in lines.iter().enumerate() {
        out.push(l.to_string());
        if i == last_mod {
            out.push(mod_line.clone());
        }
        if i == last_entry {
            out.push(entry_line.clone());
        }
    }
    let mut text = out.join("\n");
    if lib.ends_with('\n') {
        text.push('\n');
    }
    Some(text)
}

/// Whether `name` has the `mYYYYMMDD_HHMMSS_name` form (the rule lint checks names with).
pub fn is_migration_module(name: &str) -> bool {
    crate::plan::finding::is_valid_name(name)
}

fn template(module: &str) -> String {
    format!(
        r#"//! TODO: say what this migration changes and why.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, _manager: &SchemaManager) -> Result<(), DbErr> {{
        Err(DbErr::Migration(
            "{module} has no up() yet: write it in migration/src/{module}.rs".to_owned(),
        ))
    }}

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {{
        Err(DbErr::Migration(
            "{module} has no down() yet: write it in migration/src/{module}.rs".to_owned(),
        ))
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "mod columns;\nmod m20250101_000000_a;\n\nfn migrations() -> Vec<Box<dyn MigrationTrait>> {\n    vec![\n        Box::new(m20250101_000000_a::Migration),\n    ]\n}\n";

    #[test]
    fn registers_after_the_last_migration() {
        let out = register(LIB, "m20260101_000000_b").unwrap();
        assert!(out.contains("mod m20250101_000000_a;\nmod m20260101_000000_b;\n"));
        assert!(out.contains(
            "Box::new(m20250101_000000_a::Migration),\n        Box::new(m20260101_000000_b::Migration),\n"
        ));
        assert!(register("fn x() {}", "m20260101_000000_b").is_none());
    }

    #[test]
    fn names() {
        assert_eq!(
            normalize_name("Add robot-firmware").unwrap(),
            "add_robot_firmware"
        );
        assert!(normalize_name("drop;table").is_err());
        assert!(normalize_name("  ").is_err());
        assert!(is_migration_module("m20250128_100000_initial_schema"));
        assert!(!is_migration_module("columns"));
    }
}

pub mod autogen;
pub mod codegen;
pub mod diff;
