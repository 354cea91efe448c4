//! Entity–relationship diagrams of a [`Schema`] (the entities', a migration snapshot's or a
//! live database's): every table with its columns, backend-neutral types, PK/FK/UK markers and
//! nullability, and every foreign key as a relation with its cardinality and ON DELETE action.
//! Rendered as Mermaid `erDiagram` text (GitHub draws it), Graphviz DOT, SVG (through the
//! `dot` program) or Markdown (the Mermaid diagram plus a column table per table).
//!
//! Types are shown backend-neutral (`varchar(50)`, `timestamp`, `json`, ...), so the diagram of
//! a live database matches the entity diagram on every backend unless the schema drifted.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::error::MigrateError;
use crate::schema::{ForeignKey, Schema, Table};

/// A key marker of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum KeyMark {
    /// Part of the primary key.
    PK,
    /// Part of a foreign key.
    FK,
    /// Part of a unique constraint.
    UK,
}

/// One column of a diagram table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErdColumn {
    /// Name.
    pub name: String,
    /// Backend-neutral type (see [`neutral_type`]).
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// PK / FK / UK markers, in that order.
    pub keys: Vec<KeyMark>,
}

/// One table of the diagram.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErdTable {
    /// Name.
    pub name: String,
    /// Columns in table order.
    pub columns: Vec<ErdColumn>,
}

/// How many rows on one side of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cardinality {
    /// `1`: exactly one.
    ExactlyOne,
    /// `0..1`.
    ZeroOrOne,
    /// `0..n`.
    ZeroOrMany,
}

impl Cardinality {
    /// `1`, `0..1` or `0..n`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExactlyOne => "1",
            Self::ZeroOrOne => "0..1",
            Self::ZeroOrMany => "0..n",
        }
    }
}

/// One foreign key as a relation: each `child` row refers to `parent` rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Relation {
    /// The referenced table.
    pub parent: String,
    /// The referencing table.
    pub child: String,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced columns.
    pub ref_columns: Vec<String>,
    /// Parents per child row: exactly one (NOT NULL key) or zero or one (nullable key).
    pub parent_side: Cardinality,
    /// Children per parent row: zero or one (the key is unique) or zero or many.
    pub child_side: Cardinality,
    /// ON DELETE action.
    pub on_delete: String,
    /// ON UPDATE action.
    pub on_update: String,
}

impl Relation {
    /// `robots 1 — 0..n telemetry (robot_id, ON DELETE CASCADE)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} — {} {} ({}, ON DELETE {})",
            self.parent,
            self.parent_side.as_str(),
            self.child_side.as_str(),
            self.child,
            self.columns.join(", "),
            self.on_delete
        )
    }
}

/// An entity–relationship diagram.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagram {
    /// Tables by name.
    pub tables: Vec<ErdTable>,
    /// Relations, by child table then columns.
    pub relations: Vec<Relation>,
}

/// The type `data_type` (as any backend spells it in [`crate::schema`]) without backend
/// spelling: `varchar(50)`, `integer`, `bigint`, `boolean`, `timestamp`, `json`, `double`,
/// `float`, `blob`, `text`.
pub fn neutral_type(data_type: &str) -> String {
    let t = data_type.trim().to_ascii_lowercase();
    if let Some(rest) = t.strip_prefix("character varying") {
        return format!("varchar{rest}");
    }
    let base = t.split('(').next().unwrap_or(&t).trim();
    let neutral = match (base, t.as_str()) {
        (_, "tinyint(1)") | ("boolean" | "bool", _) => "boolean",
        ("integer" | "int" | "int4" | "mediumint", _) => "integer",
        ("bigint" | "int8", _) => "bigint",
        ("smallint" | "int2", _) => "smallint",
        ("timestamp without time zone" | "timestamp" | "datetime" | "datetime_text", _) => {
            "timestamp"
        }
        ("timestamp with time zone" | "timestamptz" | "timestamp_with_timezone_text", _) => {
            "timestamptz"
        }
        ("json" | "jsonb" | "json_text", _) => "json",
        ("double precision" | "double", _) => "double",
        ("real" | "float", _) => "float",
        ("bytea" | "blob" | "longblob" | "mediumblob", _) => "blob",
        ("text" | "longtext" | "mediumtext", _) => "text",
        _ => return t.replace(' ', "_"),
    };
    neutral.to_string()
}

fn unique_columns(table: &Table, columns: &[String]) -> bool {
    table.primary_key == columns
        || table.uniques.iter().any(|u| u == columns)
        || table
            .indexes
            .values()
            .any(|i| i.unique && i.columns == columns)
}

fn relation(child: &str, table: &Table, fk: &ForeignKey) -> Relation {
    let nullable = fk
        .columns
        .iter()
        .any(|c| table.column(c).is_none_or(|c| c.nullable));
    Relation {
        parent: fk.ref_table.clone(),
        child: child.to_string(),
        columns: fk.columns.clone(),
        ref_columns: fk.ref_columns.clone(),
        parent_side: if nullable {
            Cardinality::ZeroOrOne
        } else {
            Cardinality::ExactlyOne
        },
        child_side: if unique_columns(table, &fk.columns) {
            Cardinality::ZeroOrOne
        } else {
            Cardinality::ZeroOrMany
        },
        on_delete: fk.on_delete.clone(),
        on_update: fk.on_update.clone(),
    }
}

/// The diagram of every table of `schema`.
pub fn diagram(schema: &Schema) -> Diagram {
    diagram_of(schema, |_| true)
}

/// The diagram of the tables of `schema` that `keep` accepts, with the relations among them.
pub fn diagram_of(schema: &Schema, keep: impl Fn(&str) -> bool) -> Diagram {
    let mut tables = Vec::new();
    let mut relations = Vec::new();
    for (name, table) in schema.tables.iter().filter(|(n, _)| keep(n)) {
        let fk_cols: BTreeSet<&String> =
            table.foreign_keys.iter().flat_map(|f| &f.columns).collect();
        let uk_cols: BTreeSet<&String> = table
            .uniques
            .iter()
            .flatten()
            .chain(
                table
                    .indexes
                    .values()
                    .filter(|i| i.unique)
                    .flat_map(|i| &i.columns),
            )
            .collect();
        let columns = table
            .columns
            .iter()
            .map(|c| {
                let mut keys = Vec::new();
                if table.primary_key.contains(&c.name) {
                    keys.push(KeyMark::PK);
                }
                if fk_cols.contains(&c.name) {
                    keys.push(KeyMark::FK);
                }
                if uk_cols.contains(&c.name) {
                    keys.push(KeyMark::UK);
                }
                ErdColumn {
                    name: c.name.clone(),
                    data_type: neutral_type(&c.data_type),
                    nullable: c.nullable,
                    keys,
                }
            })
            .collect();
        tables.push(ErdTable {
            name: name.clone(),
            columns,
        });
        for fk in &table.foreign_keys {
            if keep(&fk.ref_table) {
                relations.push(relation(name, table, fk));
            }
        }
    }
    Diagram { tables, relations }
}

fn keys_text(keys: &[KeyMark]) -> String {
    keys.iter()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Mermaid's attribute type: a word (letters, digits, `_`, `-`, parentheses).
fn mermaid_type(t: &str) -> String {
    t.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-()[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Diagram {
    /// Whether it has no table.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&ErdTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Mermaid `erDiagram` text.
    pub fn to_mermaid(&self) -> String {
        let mut s = String::from("erDiagram\n");
        for t in &self.tables {
            let _ = writeln!(s, "    {} {{", t.name);
            for c in &t.columns {
                let keys = keys_text(&c.keys);
                let _ = writeln!(
                    s,
                    "        {} {}{}{} \"{}\"",
                    mermaid_type(&c.data_type),
                    c.name,
                    if keys.is_empty() { "" } else { " " },
                    keys,
                    if c.nullable { "NULL" } else { "NOT NULL" }
                );
            }
            let _ = writeln!(s, "    }}");
        }
        for r in &self.relations {
            let left = match r.parent_side {
                Cardinality::ExactlyOne => "||",
                _ => "|o",
            };
            let right = match r.child_side {
                Cardinality::ZeroOrMany => "o{",
                _ => "o|",
            };
            let _ = writeln!(
                s,
                "    {} {left}--{right} {} : \"{} ON DELETE {}\"",
                r.parent,
                r.child,
                r.columns.join(", "),
                r.on_delete
            );
        }
        s
    }

    /// Graphviz DOT: one record-like HTML table per table, one edge per relation (crow's
    /// foot arrows: `teetee` exactly one, `teeodot` zero or one, `crowodot` zero or many).
    pub fn to_dot(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut s = String::from(
            "digraph erd {\n    graph [rankdir=LR, fontname=\"Helvetica\"];\n    \
             node [shape=plaintext, fontname=\"Helvetica\", fontsize=10];\n    \
             edge [fontname=\"Helvetica\", fontsize=9, dir=both];\n",
        );
        for t in &self.tables {
            let _ = write!(
                s,
                "    \"{}\" [label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\">\
                 <TR><TD COLSPAN=\"3\" BGCOLOR=\"lightgrey\"><B>{}</B></TD></TR>",
                t.name,
                esc(&t.name)
            );
            for c in &t.columns {
                let _ = write!(
                    s,
                    "<TR><TD PORT=\"{}\" ALIGN=\"LEFT\">{}{}</TD><TD ALIGN=\"LEFT\">{}</TD><TD ALIGN=\"LEFT\">{}</TD></TR>",
                    esc(&c.name),
                    esc(&c.name),
                    if c.nullable { "" } else { " *" },
                    esc(&c.data_type),
                    esc(&keys_text(&c.keys))
                );
            }
            s.push_str("</TABLE>>];\n");
        }
        for r in &self.relations {
            let tail = match r.child_side {
                Cardinality::ZeroOrMany => "crowodot",
                _ => "teeodot",
            };
            let head = match r.parent_side {
                Cardinality::ExactlyOne => "teetee",
                _ => "teeodot",
            };
            let (from, to) = (
                r.columns.first().cloned().unwrap_or_default(),
                r.ref_columns.first().cloned().unwrap_or_default(),
            );
            let _ = writeln!(
                s,
                "    \"{}\":\"{}\" -> \"{}\":\"{}\" [arrowtail={tail}, arrowhead={head}, label=\"{} ON DELETE {}\"];",
                r.child,
                esc(&from),
                r.parent,
                esc(&to),
                esc(&r.columns.join(", ")),
                r.on_delete
            );
        }
        s.push_str("}\n");
        s
    }

    /// Markdown: the Mermaid diagram, the relations, then a column table per table.
    /// `title` is the first heading, `regenerate` the command that rewrites the document.
    pub fn to_markdown(&self, title: &str, regenerate: &str) -> String {
        let mut s = format!(
            "# {title}\n\n<!-- Generated from the entities: do not edit by hand. Regenerate with\n     {regenerate} -->\n\n\
             {} tables, {} relations. Keys: PK primary key, FK foreign key, UK unique.\n\n```mermaid\n{}```\n\n## Relations\n\n\
             | Parent | | Child | Columns | ON DELETE |\n|---|---|---|---|---|\n",
            self.tables.len(),
            self.relations.len(),
            self.to_mermaid()
        );
        for r in &self.relations {
            let _ = writeln!(
                s,
                "| {} | {} to {} | {} | {} → {}({}) | {} |",
                r.parent,
                r.parent_side.as_str(),
                r.child_side.as_str(),
                r.child,
                r.columns.join(", "),
                r.parent,
                r.ref_columns.join(", "),
                r.on_delete
            );
        }
        for t in &self.tables {
            let _ = write!(
                s,
                "\n## {}\n\n| Column | Type | Null | Keys |\n|---|---|---|---|\n",
                t.name
            );
            for c in &t.columns {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    c.name,
                    c.data_type,
                    if c.nullable { "NULL" } else { "NOT NULL" },
                    keys_text(&c.keys)
                );
            }
        }
        s
    }
}

/// The schema at migration `version` (its full name or a unique prefix) of the migration
/// crate whose `src/` is `src_dir`: that migration's snapshot in `snapshots/`.
pub fn schema_at(
    src_dir: &std::path::Path,
    version: &str,
) -> Result<(Schema, String), MigrateError> {
    use crate::generate::autogen::{read_snapshot, registered_migrations, snapshot_dir};
    let dir = snapshot_dir(src_dir);
    let with_snapshot: Vec<String> = registered_migrations(src_dir)?
        .into_iter()
        .filter(|m| dir.join(format!("{m}.json")).is_file())
        .collect();
    let matching: Vec<&String> = with_snapshot
        .iter()
        .filter(|m| m.as_str() == version || m.starts_with(version))
        .collect();
    match matching.as_slice() {
        [one] => Ok((
            read_snapshot(&dir.join(format!("{one}.json")))?,
            one.to_string(),
        )),
        _ => Err(MigrateError::Review {
            command: "erd",
            detail: format!(
                "{} migration with a schema snapshot matches `{version}`: give one of {} (full name or unique prefix)",
                if matching.is_empty() {
                    "no"
                } else {
                    "more than one"
                },
                with_snapshot.join(", ")
            ),
        }),
    }
}

/// Draws `dot` source as SVG with the Graphviz `dot` program.
pub fn render_svg(dot: &str) -> Result<Vec<u8>, MigrateError> {
    let missing = || MigrateError::ToolMissing {
        command: "erd --format svg",
        tool: "dot",
        package: "graphviz",
        instead: "use `--format mermaid` or `--format dot`",
    };
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing(),
            _ => MigrateError::Review {
                command: "erd",
                detail: format!("cannot run `dot`: {e}; check the Graphviz installation"),
            },
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error shows up as dot's own failure below.
        let _ = stdin.write_all(dot.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| MigrateError::Review {
        command: "erd",
        detail: format!("`dot` did not finish: {e}"),
    })?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(MigrateError::Review {
            command: "erd",
            detail: format!(
                "`dot -Tsvg` failed ({}): {}; write `--format dot` and check it with `dot -Tsvg`",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_spellings_become_one_type() {
        for (a, b) in [
            ("character varying(50)", "varchar(50)"),
            ("varchar(50)", "varchar(50)"),
            ("int(11)", "integer"),
            ("tinyint(1)", "boolean"),
            ("timestamp without time zone", "timestamp"),
            ("datetime(6)", "timestamp"),
            ("datetime_text", "timestamp"),
            ("jsonb", "json"),
            ("double precision", "double"),
            ("bytea", "blob"),
            ("longblob", "blob"),
        ] {
            assert_eq!(neutral_type(a), b, "{a}");
        }
    }
}
