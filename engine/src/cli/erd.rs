//! `migration erd`: the entity–relationship diagram of the entities (default), of a
//! migration's snapshot (`--at`) or of the live database (`--live -u URL`), as Mermaid, DOT,
//! SVG or Markdown, on stdout or into `--output`. The work is done by [`crate::review::erd`].

use sea_orm::DbBackend;

use crate::cli::args::{ConnectionArgs, ErdArgs, ErdFormat};
use crate::cli::output::scrub_error;
use crate::cli::output::{errln, out};
use crate::config::Config;
use crate::error::MigrateError;
use crate::review::erd::{self, Diagram};

/// The command that rewrites the project's `docs/schema.md`.
pub fn regenerate_command(config: &Config) -> String {
    format!(
        "cargo run -p {} -- erd --format markdown --output docs/schema.md",
        config.migration_dir
    )
}

/// Runs `erd`.
pub async fn run(
    args: &ErdArgs,
    connection: &ConnectionArgs,
    config: &Config,
) -> Result<(), MigrateError> {
    let (schema, source) = if args.live {
        let url = connection.url(config)?;
        url.require_existing()?;
        let settings = crate::db::ConnectSettings {
            schema: connection.database_schema.clone(),
            ..crate::db::ConnectSettings::default()
        };
        let db = crate::db::connect(&url, &settings).await?;
        let live = crate::schema::inspect(&db)
            .await
            .map_err(MigrateError::database("reading the database schema"));
        let _ = db.close().await;
        let mut live = live.map_err(|e| scrub_error(&url, e))?;
        live.tables.retain(|name, _| !config.is_tooling_table(name));
        (live, format!("the database {}", url.redacted()))
    } else if let Some(version) = &args.at {
        let cwd = std::env::current_dir().map_err(|e| MigrateError::Review {
            command: "erd",
            detail: format!("cannot read the current directory: {e}"),
        })?;
        let src = crate::generate::locate_source_dir(&cwd, &config.migration_dir).ok_or_else(
            || MigrateError::Review {
                command: "erd",
                detail: format!(
                    "--at reads the snapshots of the migration crate `{}`, which was not found from {}: run it inside the workspace",
                    config.migration_dir,
                    cwd.display()
                ),
            },
        )?;
        let (schema, name) = erd::schema_at(&src, version)?;
        (schema, format!("the snapshot of {name}"))
    } else {
        let entities = config
            .entities()
            .ok_or(MigrateError::NoEntities { command: "erd" })?;
        (entities.schema(DbBackend::Postgres), "the entities".into())
    };
    let diagram = erd::diagram(&schema);
    let bytes = render(&diagram, args.format, config)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).map_err(|e| MigrateError::Write {
                path: path.clone(),
                source: e,
            })?;
            errln!(
                "Wrote the diagram of {source} ({} tables, {} relations) to {}",
                diagram.tables.len(),
                diagram.relations.len(),
                path.display()
            );
        }
        None => out!("{}", String::from_utf8_lossy(&bytes)),
    }
    Ok(())
}

/// `diagram` in `format`.
pub fn render(
    diagram: &Diagram,
    format: ErdFormat,
    config: &Config,
) -> Result<Vec<u8>, MigrateError> {
    Ok(match format {
        ErdFormat::Mermaid => diagram.to_mermaid().into_bytes(),
        ErdFormat::Dot => diagram.to_dot().into_bytes(),
        ErdFormat::Svg => erd::render_svg(&diagram.to_dot())?,
        ErdFormat::Markdown => diagram
            .to_markdown(
                &format!("The {} schema", config.display_name),
                &regenerate_command(config),
            )
            .into_bytes(),
    })
}

/// The latest registered migration of the migration crate found from `cwd`.
pub fn head_migration(cwd: &std::path::Path, config: &Config) -> Option<String> {
    let src = crate::generate::locate_source_dir(cwd, &config.migration_dir)?;
    crate::generate::autogen::registered_migrations(&src)
        .ok()?
        .pop()
}

/// `generate --autogenerate --erd`: when a migration was written after `before_head`, prints
/// the Mermaid diagram of the tables it touches, before (the previous snapshot) and after (the
/// new one).
pub fn print_autogen_change(
    cwd: &std::path::Path,
    config: &Config,
    before_head: Option<&str>,
) -> Result<(), MigrateError> {
    use crate::cli::output::outln;
    use crate::generate::autogen::{read_snapshot, snapshot_dir};
    let Some(src) = crate::generate::locate_source_dir(cwd, &config.migration_dir) else {
        return Ok(());
    };
    let Some(new) = head_migration(cwd, config) else {
        return Ok(());
    };
    if before_head == Some(new.as_str()) {
        return Ok(());
    }
    let dir = snapshot_dir(&src);
    let after = read_snapshot(&dir.join(format!("{new}.json")))?;
    let before = match before_head {
        Some(head) if dir.join(format!("{head}.json")).is_file() => {
            read_snapshot(&dir.join(format!("{head}.json")))?
        }
        _ => crate::schema::Schema::default(),
    };
    let touched: Vec<&String> = before
        .tables
        .keys()
        .chain(after.tables.keys())
        .filter(|t| before.tables.get(*t) != after.tables.get(*t))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let names: Vec<&str> = touched.iter().map(|t| t.as_str()).collect();
    outln!("Tables {new} touches: {}", names.join(", "));
    let keep = |t: &str| names.contains(&t);
    let before_diagram = erd::diagram_of(&before, keep);
    let after_diagram = erd::diagram_of(&after, keep);
    outln!(
        "Before ({}):\n```mermaid\n{}```",
        before_head.unwrap_or("an empty database"),
        before_diagram.to_mermaid()
    );
    outln!(
        "After ({new}):\n```mermaid\n{}```",
        after_diagram.to_mermaid()
    );
    Ok(())
}
