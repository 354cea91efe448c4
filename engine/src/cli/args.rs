//! The command-line arguments: the sea-orm-migration command set with its flag names (so
//! `sea-orm-cli migrate ...` keeps working), plus `--to`, JSON output, history, repair,
//! backups, doctor, review and production guards; environment variables named from the
//! project's [`Config`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sea_orm::DbBackend;

pub use crate::cli::output::Format;
pub use crate::config::{Config, Environment};
pub use crate::db::SecretUrl;

/// Command-line arguments of `migration`: the connection flags and the migration commands.
#[derive(Debug, Parser)]
#[command(name = "migration", version)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub migrate: MigrateArgs,
}

/// The flags every binary of a project shares, accepted before or after the subcommand:
/// `-u/--database-url`, `-s/--database-schema` and `--env`. Flatten them into another
/// binary's arguments (with `migration_engine::cli::with_env_vars` for the `<PREFIX>_ENV`
/// variable).
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Database URL, e.g. postgres://user:password@host:5432/db, mysql://..., sqlite://file.db
    #[arg(
        short = 'u',
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<SecretUrl>,

    /// PostgreSQL schema to work in (search_path); ignored by MySQL and SQLite
    #[arg(
        short = 's',
        long,
        env = "DATABASE_SCHEMA",
        global = true,
        hide_env_values = true
    )]
    pub database_schema: Option<String>,

    /// Environment: production requires --yes for commands that change or remove data
    #[arg(long = "env", global = true, value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,
}

impl ConnectionArgs {
    /// The URL given, or the SQLite default of `config`.
    pub fn url(&self, config: &Config) -> Result<crate::db::DatabaseUrl, crate::MigrateError> {
        crate::db::DatabaseUrl::resolve(
            self.database_url.as_ref().map(|u| u.0.as_str()),
            &config.default_sqlite_file,
        )
    }
}

/// The migration commands and their flags (everything of [`Cli`] but the connection).
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Log every SQL statement to stderr
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,

    #[command(flatten)]
    pub safety: Safety,

    #[command(flatten)]
    pub scale: crate::author::tuning::ScaleArgs,

    /// What to do (default: up)
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags shared by every command that changes the database.
#[derive(Debug, Clone, Args)]
pub struct Safety {
    /// Confirm a destructive command in production
    #[arg(long, global = true)]
    pub yes: bool,

    /// Seconds to wait for another runner's migration lock
    #[arg(long, global = true, default_value_t = 300, value_name = "SECS")]
    pub lock_timeout: u64,

    /// Directory for the backups taken before changing a database that holds data
    #[arg(long, global = true, default_value = "backups", value_name = "DIR")]
    pub backup_dir: PathBuf,

    /// How many backups to keep per database
    #[arg(long, global = true, default_value_t = 10, value_name = "N")]
    pub keep_backups: usize,

    /// Do not back up before changing the database
    #[arg(long, global = true)]
    pub no_backup: bool,

    /// Also append the event log to this file
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Skip the safe-window gate NAME for this run (repeatable; recorded in the history)
    #[arg(long = "skip-gate", global = true, value_name = "NAME")]
    pub skip_gates: Vec<String>,

    /// Longest one statement of a migration may run, e.g. 30s or 5m (PostgreSQL
    /// statement_timeout, MariaDB max_statement_time; SQLite: per migration)
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub statement_timeout: Option<std::time::Duration>,

    /// Longest one migration may run, e.g. 10m
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub migration_timeout: Option<std::time::Duration>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (all, -n N of them, or up to --to VERSION)
    Up {
        /// Number of pending migrations to apply
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Apply up to and including this migration (full name or unique prefix)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Apply pending migrations even when a later one is already applied
        #[arg(long)]
        allow_out_of_order: bool,
        /// Print the SQL each migration would run, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Apply migrations that drop tables or columns, truncate or narrow types
        #[arg(long)]
        allow_destructive: bool,
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revert applied migrations (the last one, -n N of them, or down to --to VERSION)
    Down {
        /// Number of applied migrations to revert
        #[arg(short = 'n', long = "num", conflicts_with = "to")]
        num: Option<u32>,
        /// Revert every migration applied after this one (`base` reverts all)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Print the SQL each migration would run, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show every migration: applied or pending, when, how long it took, checksum state
    Status {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 3 while migrations are pending, 1 when `up` would refuse (changed checksum,
        /// unknown version, unrepaired run, a migration missing from the ledger)
        #[arg(long)]
        check: bool,
    },
    /// Show the history of every migration run, newest first
    History {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Show at most this many runs
        #[arg(long)]
        limit: Option<u64>,
    },
    /// After review: record current checksums, mark failed runs as repaired, and re-add ledger
    /// rows the history shows applied
    Repair,
    /// Drop every table of the database, then apply all migrations
    Fresh {
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revert all applied migrations, then apply all migrations
    Refresh {
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revert all applied migrations
    Reset {
        /// Event log format on stderr
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a backup of the database into the backup directory (with --list or --verify:
    /// inspect backups instead)
    Backup {
        /// List the backups in the backup directory with their manifests
        #[arg(long, conflicts_with = "verify")]
        list: bool,
        /// Check one backup file (manifest, size, SHA-256, the backend's own tool) without
        /// restoring it
        #[arg(long, value_name = "FILE")]
        verify: Option<PathBuf>,
        /// Output format of --list and --verify
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Replace the database's contents with a verified backup file (a safety backup of the
    /// target is taken first unless --no-backup)
    Restore {
        /// The backup file
        file: PathBuf,
        /// Replace a database that is not empty
        #[arg(long)]
        overwrite: bool,
    },
    /// Pre-flight checks: connectivity, pending and failed migrations, checksums, lock, disk
    Doctor {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a new migration file into migration/src and register it
    Generate {
        /// Short description, e.g. add_robot_firmware
        name: String,
        /// Name the file with the UTC time (default)
        #[arg(long, conflicts_with = "local_time")]
        universal_time: bool,
        /// Name the file with the local time
        #[arg(long)]
        local_time: bool,
        /// Write up/down from the difference between the entities and the schema at the latest
        /// migration (its snapshot, or the database given with -u)
        #[arg(long)]
        autogenerate: bool,
        /// With --autogenerate: print the Mermaid diagram of the touched tables before and after
        #[arg(long, requires = "autogenerate")]
        erd: bool,
    },
    /// Print the SQL script of up or down for a backend, without a database
    Sql(SqlArgs),
    /// Check migrations for destructive changes, lock hazards, bad downs and naming
    Lint(LintArgs),
    /// List every difference between the database and the entity schema
    Drift(DriftArgs),
    /// For CI: fail on drift, unknown versions and lint errors
    Check(CheckArgs),
    /// Record VERSION and every migration before it as applied without running them, after
    /// checking that the schema is what they create
    Baseline {
        /// The newest migration the database's schema already has (full name or unique prefix)
        #[arg(long, value_name = "VERSION")]
        to: String,
        /// Record it even though the schema differs (the differences go into the history;
        /// production also needs --yes)
        #[arg(long)]
        accept_differences: bool,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Take over a database another migration tool manages (Alembic): map its revision to a
    /// migration and baseline there
    Adopt {
        /// The tool that manages the database now
        #[arg(value_enum)]
        tool: crate::cli::adopt::AdoptTool,
        /// Record it even though the schema differs (the differences go into the history;
        /// production also needs --yes)
        #[arg(long)]
        accept_differences: bool,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Read every table in batches and report rows that do not fit the entity model
    Verify(VerifyArgs),
    /// Draw the entity-relationship diagram of the entities, a migration's snapshot or a
    /// live database
    Erd(ErdArgs),
    /// Run up, status, check or doctor on many databases at once (a targets file or a glob)
    Fleet(FleetArgs),
}

impl Command {
    /// The subcommand's name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Up { .. } => "up",
            Command::Down { .. } => "down",
            Command::Status { .. } => "status",
            Command::History { .. } => "history",
            Command::Repair => "repair",
            Command::Fresh { .. } => "fresh",
            Command::Refresh { .. } => "refresh",
            Command::Reset { .. } => "reset",
            Command::Backup { .. } => "backup",
            Command::Restore { .. } => "restore",
            Command::Doctor { .. } => "doctor",
            Command::Generate { .. } => "generate",
            Command::Sql(_) => "sql",
            Command::Lint(_) => "lint",
            Command::Drift(_) => "drift",
            Command::Check(_) => "check",
            Command::Baseline { .. } => "baseline",
            Command::Adopt { .. } => "adopt",
            Command::Verify(_) => "verify",
            Command::Erd(_) => "erd",
            Command::Fleet(_) => "fleet",
        }
    }

    /// Commands that only read: they never create a database that does not exist.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Command::Status { .. }
                | Command::History { .. }
                | Command::Doctor { .. }
                | Command::Drift(_)
                | Command::Lint(_)
                | Command::Check(_)
                | Command::Verify(_)
                | Command::Erd(_)
                | Command::Up { dry_run: true, .. }
                | Command::Down { dry_run: true, .. }
        )
    }

    /// Commands that need a database that already exists: the read-only ones, and those that
    /// adopt a database built elsewhere (a missing one has nothing to adopt).
    pub fn needs_existing_database(&self) -> bool {
        self.is_read_only() || matches!(self, Command::Baseline { .. } | Command::Adopt { .. })
    }

    /// The format of the event log this command asks for.
    pub fn event_format(&self) -> Format {
        match self {
            Command::Up { format, .. }
            | Command::Down { format, .. }
            | Command::Fresh { format }
            | Command::Refresh { format }
            | Command::Reset { format } => *format,
            _ => Format::Text,
        }
    }
}

/// Environment variables of the flags that take one, as `(flag id, suffix)`: the variable is
/// `<Config::env_prefix>_<suffix>`.
const PREFIXED_ENV: &[(&str, &str)] = &[
    ("environment", "ENV"),
    ("lock_timeout", "LOCK_TIMEOUT"),
    ("backup_dir", "BACKUP_DIR"),
    ("keep_backups", "BACKUP_KEEP"),
    ("log_file", "LOG_FILE"),
    ("statement_timeout", "STATEMENT_TIMEOUT"),
    ("migration_timeout", "MIGRATION_TIMEOUT"),
    ("batch_size", "BATCH_SIZE"),
    ("batch_target_ms", "BATCH_TARGET_MS"),
    ("max_batch_size", "MAX_BATCH_SIZE"),
    ("max_rows_per_sec", "MAX_ROWS_PER_SEC"),
    ("batch_pause_ms", "BATCH_PAUSE_MS"),
    ("ddl_lock_timeout_ms", "DDL_LOCK_TIMEOUT_MS"),
    ("ddl_retries", "DDL_RETRIES"),
    ("progress", "PROGRESS"),
];

/// The command-line definition for `config`: its binary name, help text and environment
/// variables (`<PREFIX>_ENV`, `<PREFIX>_BACKUP_DIR`, ...).
pub fn command(config: &Config) -> clap::Command {
    with_env_vars(bare_command(config), config)
}

/// [`command`] without the project's environment variables.
fn bare_command(config: &Config) -> clap::Command {
    let about = format!(
        "Apply, revert and inspect the {} database migrations",
        config.display_name
    );
    let long_about = format!(
        "{about}.\n\nWithout a database URL the SQLite file ./{} is used (created if missing).\n\
         With no command, `up` runs.",
        config.default_sqlite_file
    );
    <Cli as clap::CommandFactory>::command()
        .name(config.bin_name.clone())
        .about(about)
        .long_about(long_about)
}

/// Gives every flag of `cmd` (and its subcommands) that has a project environment variable
/// that variable (`<PREFIX>_ENV`, `<PREFIX>_LOCK_TIMEOUT`, ...). For binaries that flatten
/// [`ConnectionArgs`] or [`MigrateArgs`] into their own arguments.
pub fn with_env_vars(mut cmd: clap::Command, config: &Config) -> clap::Command {
    for (id, suffix) in PREFIXED_ENV {
        if cmd.get_arguments().any(|a| a.get_id() == *id) {
            let var = config.env_var(suffix);
            cmd = cmd.mut_arg(*id, |a| a.env(var));
        }
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| with_env_vars(sub, config));
    }
    cmd
}

/// Parses the process arguments for `config`; prints help, version or a usage error and exits
/// the way clap does.
pub fn parse(config: &Config) -> Cli {
    parse_from(config, std::env::args_os())
}

/// Parses `args` (the first is the program name) for `config`; exits on help or a usage error.
pub fn parse_from<I, T>(config: &Config, args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // Environment variables after pruning: giving them to every subcommand is most of the cost.
    let cmd = with_env_vars(only_named(bare_command(config), &args), config);
    let matches = cmd.get_matches_from(args);
    match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

/// `full` with only the subcommands some argument of `args` names (by name or alias), or
/// `full` itself when none does (no subcommand: `up`; `help`; a misspelt one, which clap
/// answers with suggestions). Parsing is the same: the subcommand clap would enter is kept,
/// and so is every other one an argument names (a value that happens to be a subcommand's
/// name). It is cheaper: clap copies every global flag (about twenty) into every subcommand
/// before parsing, which made parsing the costliest step of a no-op `up`.
fn only_named(full: clap::Command, args: &[std::ffi::OsString]) -> clap::Command {
    let named = |sub: &clap::Command| {
        args.iter().skip(1).any(|a| {
            a.to_str().is_some_and(|a| {
                sub.get_name() == a || sub.get_all_aliases().any(|alias| alias == a)
            })
        })
    };
    let mentions_help = args.iter().skip(1).any(|a| a == "help");
    let keep: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|s| named(s))
        .cloned()
        .collect();
    if keep.is_empty() || mentions_help {
        return full;
    }
    let mut root = clap::Command::new(full.get_name().to_string())
        .args(full.get_arguments().cloned())
        .groups(full.get_groups().cloned())
        .subcommands(keep);
    if let Some(version) = full.get_version() {
        root = root.version(version.to_string());
    }
    if let Some(about) = full.get_about() {
        root = root.about(about.clone());
    }
    if let Some(about) = full.get_long_about() {
        root = root.long_about(about.clone());
    }
    root
}

/// A backend named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// PostgreSQL
    #[value(alias = "postgresql", alias = "pg")]
    Postgres,
    /// MySQL / MariaDB
    #[value(alias = "mariadb")]
    Mysql,
    /// SQLite
    Sqlite,
}

impl BackendArg {
    /// The SeaORM backend.
    pub fn db_backend(self) -> DbBackend {
        match self {
            Self::Postgres => DbBackend::Postgres,
            Self::Mysql => DbBackend::MySql,
            Self::Sqlite => DbBackend::Sqlite,
        }
    }
}

/// `up` or `down`, for `sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptDirection {
    /// Apply, from an empty database.
    Up,
    /// Revert, from a fully migrated database.
    Down,
}

/// `sql up|down --backend B [--to VERSION | -n N] [-o FILE]`.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// Which way the script goes
    #[arg(value_enum)]
    pub direction: ScriptDirection,
    /// Database kind the script is written for (no database is contacted)
    #[arg(long, value_enum)]
    pub backend: BackendArg,
    /// Only the first (up) or last (down) N migrations
    #[arg(short = 'n', long = "num", conflicts_with = "to")]
    pub num: Option<u32>,
    /// up: up to and including VERSION; down: revert everything after VERSION (`base`: all)
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Write the script to FILE instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `lint [--all] [--format text|json]`.
#[derive(Debug, Clone, Args)]
pub struct LintArgs {
    /// Lint every migration, not only the pending ones
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `drift [--format text|json]`.
#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `check [--all] [--allow-destructive] [--format text|json]`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Lint every migration, not only the pending ones
    #[arg(long)]
    pub all: bool,
    /// Destructive changes are intended: report them as warnings
    #[arg(long)]
    pub allow_destructive: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `verify [--examples N] [--batch-size N] [--table T]... [--format text|json]`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Example primary keys shown per problem
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub examples: usize,
    /// Rows read per query
    #[arg(long, value_name = "ROWS", default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Only this table (repeatable; default: every entity table)
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
    /// Key ranges of a table read in parallel, each on its own connection
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The output of `erd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErdFormat {
    /// Mermaid `erDiagram` text (GitHub renders it in Markdown)
    Mermaid,
    /// Graphviz DOT
    Dot,
    /// SVG, drawn by Graphviz `dot`
    Svg,
    /// Markdown: the Mermaid diagram and a column table per table (docs/schema.md)
    Markdown,
}

/// `erd [--format mermaid|dot|svg] [--output FILE] [--at VERSION | --live]`.
#[derive(Debug, Clone, Args)]
pub struct ErdArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ErdFormat::Mermaid)]
    pub format: ErdFormat,
    /// Write to FILE instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The schema at this migration (its snapshot in the migration crate's snapshots/)
    #[arg(long, value_name = "VERSION", conflicts_with = "live")]
    pub at: Option<String>,
    /// The schema of the live database given with -u (as `drift` reads it)
    #[arg(long)]
    pub live: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_parsed_arguments_hides_the_password() {
        let cli = Cli::try_parse_from(["migration", "-u", "postgres://u:Hunter2@h/db", "status"])
            .unwrap();
        let text = format!("{cli:?}");
        assert!(!text.contains("Hunter2"), "{text}");
    }

    /// What parsing `argv` gives with `cmd`: the arguments, or the kind of error and its text.
    fn outcome(cmd: clap::Command, argv: &[&str]) -> String {
        match cmd.try_get_matches_from(argv) {
            Ok(m) => match <Cli as clap::FromArgMatches>::from_arg_matches(&m) {
                Ok(cli) => format!("{cli:?}"),
                Err(e) => format!("{:?}: {e}", e.kind()),
            },
            Err(e) => format!("{:?}: {e}", e.kind()),
        }
    }

    /// The whole definition, every subcommand built, passes clap's own consistency checks
    /// (unique names: a subcommand flag may shadow a global one of the same id).
    #[test]
    fn the_definition_passes_clap_checks() {
        command(&Config::new("shop")).debug_assert();
        let args: Vec<std::ffi::OsString> =
            ["migration", "verify"].iter().map(Into::into).collect();
        only_named(command(&Config::new("shop")), &args).debug_assert();
    }

    /// Keeping only the named subcommands parses every command line as the whole definition
    /// does: flags before and after the subcommand, values that name a subcommand, nested
    /// subcommands, help of a subcommand, usage errors.
    #[test]
    fn the_pruned_definition_parses_like_the_whole_one() {
        let config = Config::new("shop");
        let lines: &[&[&str]] = &[
            &["migration", "up"],
            &[
                "migration",
                "up",
                "--no-backup",
                "-u",
                "sqlite://x.db",
                "-n",
                "2",
            ],
            &[
                "migration",
                "--no-backup",
                "--lock-timeout",
                "5",
                "up",
                "--to",
                "m1",
            ],
            &[
                "migration",
                "-u",
                "sqlite://x.db",
                "status",
                "--format",
                "json",
            ],
            &["migration", "--log-file", "status", "up"],
            &["migration", "--log-file", "status", "down", "-n", "1"],
            &[
                "migration",
                "down",
                "--batch-target-ms",
                "50",
                "--env",
                "production",
            ],
            &[
                "migration",
                "fleet",
                "up",
                "--targets",
                "rigs/*.db",
                "--canary",
                "1",
            ],
            &[
                "migration",
                "fleet",
                "status",
                "--targets",
                "t.toml",
                "--format",
                "json",
            ],
            &["migration", "history", "--limit", "3"],
            &["migration", "verify", "--batch-size", "500"],
            &["migration", "--batch-size", "7", "verify"],
            &["migration", "up", "--batch-size", "7"],
            &["migration", "up", "--nope"],
            &["migration", "up", "-n", "x"],
            &["migration", "up", "--help"],
            &["migration", "status", "-h"],
            &["migration", "fleet"],
            &["migration", "restore"],
            &["migration", "generate"],
        ];
        for argv in lines {
            let full = outcome(command(&config), argv);
            let args: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
            let pruned = outcome(only_named(command(&config), &args), argv);
            assert_eq!(full, pruned, "{argv:?}");
        }
        // With no subcommand named, nothing is pruned.
        let args: Vec<std::ffi::OsString> =
            ["migration", "-u", "x"].iter().map(Into::into).collect();
        assert_eq!(
            only_named(command(&config), &args)
                .get_subcommands()
                .count(),
            command(&config).get_subcommands().count()
        );
        assert!(
            only_named(command(&config), &[args[0].clone(), "up".into()])
                .get_subcommands()
                .count()
                == 1
        );
    }
}

/// `fleet`: one command on every target of a targets file.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// What to run on each target
    #[command(subcommand)]
    pub action: FleetAction,
}

/// The fleet commands.
#[derive(Debug, Subcommand)]
pub enum FleetAction {
    /// Apply pending migrations on every target (each as a single `up`: lock, checksums, backups)
    Up(FleetFlags),
    /// Show where every target stands (current, behind, needs attention); changes nothing
    Status(FleetFlags),
    /// Run `check` (integrity, unknown versions, lint, drift) on every target
    Check(FleetFlags),
    /// Run `doctor` (pre-flight checks) on every target
    Doctor(FleetFlags),
}

/// The flags of every fleet command.
#[derive(Debug, Args)]
pub struct FleetFlags {
    /// The targets: a TOML targets file, or a quoted glob of SQLite files ('rigs/*.db')
    #[arg(long, value_name = "FILE|GLOB")]
    pub targets: String,
    /// Targets at most at once (default: twice the cores, 2 to 16)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub parallel: Option<u64>,
    /// Run the first N targets first, and the others only when all N succeeded
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub canary: usize,
    /// Only targets with this label (repeatable, or comma-separated)
    #[arg(long, value_name = "LABEL", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave out the target of this name (repeatable, or comma-separated)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub except: Vec<String>,
    /// Seconds to wait for a target's server to answer
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// `up`: apply migrations that drop tables or columns, truncate or narrow types
    #[arg(long)]
    pub allow_destructive: bool,
    /// Output format of the summary (json: one document on stdout)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
