//! `cargo run -p seed -- [COMMAND]`: see `seed --help`. Parses arguments, calls the library,
//! prints, and maps errors to exit codes.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use migration_engine::cli::{ConnectionArgs, with_env_vars};
use migration_engine::config::Environment;
use migration_engine::{ConnectSettings, DatabaseUrl};
use seed::defaults::{self, DefaultsOptions};
use seed::dev::{self, DevOptions};
use seed::fixtures::{self, DumpOptions};
use seed::passwords::PasswordSource;
use seed::{Profile, SeedError, TableCount};

/// Command-line arguments of `seed`.
#[derive(Debug, Parser)]
#[command(
    name = "seed",
    version,
    about = "Seed the OHT-50 database: default data, JSON fixtures, synthetic development volumes",
    long_about = "Seed the OHT-50 database: default data, JSON fixtures, synthetic development volumes.\n\n\
                  Without a database URL the SQLite file ./oht50.db is used. The schema must be at the \
                  latest migration (run `cargo run -p migration up` first).\n\
                  With no command, `defaults` runs. Default passwords come from OHT50_ADMIN_PASSWORD / \
                  OHT50_OPERATOR_PASSWORD or the --*-password-file options; otherwise they are generated \
                  and shown once, on a terminal only."
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,

    /// development: everything allowed; production (also implied by --env production): default
    /// data only, secrets never leave a terminal
    #[arg(long, value_enum, env = "OHT50_SEED_PROFILE", default_value_t = ProfileArg::Development, global = true)]
    profile: ProfileArg,

    /// Only list what would be created; write nothing
    #[arg(long, global = true)]
    dry_run: bool,

    /// File holding the admin password (default: $OHT50_ADMIN_PASSWORD, else generated)
    #[arg(long, value_name = "FILE", global = true)]
    admin_password_file: Option<PathBuf>,

    /// File holding the operator password (default: $OHT50_OPERATOR_PASSWORD, else generated)
    #[arg(long, value_name = "FILE", global = true)]
    operator_password_file: Option<PathBuf>,

    /// What to do (default: defaults)
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProfileArg {
    Development,
    Production,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the default users, robot and safety zone (spec 5.1) when missing
    Defaults,
    /// Validate and upsert a JSON fixture ({"table": [{column: value, ...}], ...})
    Load {
        /// The fixture file
        file: PathBuf,
    },
    /// Write every table as a JSON fixture (to stdout without FILE)
    Dump {
        /// Where to write (created with mode 0600)
        file: Option<PathBuf>,
        /// Include users.password_hash (needed to load users into an empty database)
        #[arg(long)]
        include_password_hashes: bool,
    },
    /// Generate deterministic synthetic development data
    Dev {
        /// Robots to create
        #[arg(long, default_value_t = 3)]
        robots: u32,
        /// Days of history
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Telemetry samples per robot per hour
        #[arg(long, default_value_t = 60)]
        telemetry_per_robot_hour: u32,
        /// LiDAR scans (with 0 to 4 obstacles each)
        #[arg(long, default_value_t = 100)]
        lidar_scans: u32,
        /// Safety events
        #[arg(long, default_value_t = 50)]
        safety_events: u32,
        /// Emergency stops
        #[arg(long, default_value_t = 10)]
        emergency_stops: u32,
        /// Random seed: the same seed gives the same rows
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// First timestamp (UTC), e.g. 2025-01-28T00:00:00
        #[arg(long, value_parser = parse_start)]
        start: Option<chrono::NaiveDateTime>,
    },
}

fn parse_start(s: &str) -> Result<chrono::NaiveDateTime, String> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| format!("`{s}` is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"))
}

#[tokio::main]
async fn main() {
    let _ = dotenvy::dotenv();
    let config = migration::config();
    let matches = with_env_vars(Cli::command(), &config).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let code = match run(cli, &config).await {
        Ok(()) => 0,
        Err((err, url)) => {
            let text = err.to_string();
            let text = url.map(|u| u.scrub(&text)).unwrap_or(text);
            eprintln!("error: {text}");
            err.exit_code()
        }
    };
    std::process::exit(code);
}

/// `println!` that ignores a closed stdout (e.g. `seed dump | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

type Failure = (SeedError, Option<DatabaseUrl>);

async fn run(mut cli: Cli, config: &migration_engine::Config) -> Result<(), Failure> {
    let profile = match (cli.profile, cli.connection.environment) {
        (ProfileArg::Production, _) | (_, Environment::Production) => Profile::Production,
        (ProfileArg::Development, _) => Profile::Development,
    };
    let command = cli.command.take().unwrap_or(Command::Defaults);
    match &command {
        Command::Load { .. } => profile.allow("load").map_err(|e| (e, None))?,
        Command::Dev { .. } => profile.allow("dev").map_err(|e| (e, None))?,
        Command::Dump {
            file: None,
            include_password_hashes: true,
        } if profile == Profile::Production && !std::io::stdout().is_terminal() => {
            return Err((
                SeedError::InvalidArgument(
                    "--profile production never writes password hashes to a pipe: give dump a \
                     FILE (created with mode 0600) or leave out --include-password-hashes"
                        .into(),
                ),
                None,
            ));
        }
        _ => {}
    }
    let url = cli.connection.url(config).map_err(|e| (e.into(), None))?;
    if url.is_default() {
        eprintln!(
            "No DATABASE_URL given: using the SQLite database ./{}. \
             Set DATABASE_URL or pass -u to use PostgreSQL or MySQL.",
            config.default_sqlite_file
        );
    }
    let settings = ConnectSettings {
        schema: cli.connection.database_schema.clone(),
        ..ConnectSettings::default()
    };
    let db = migration_engine::connect(&url, &settings)
        .await
        .map_err(|e| (e.into(), Some(url.clone())))?;
    let result = dispatch(&db, command, &cli, profile).await;
    let _ = db.close().await;
    result.map_err(|e| (e, Some(url)))
}

async fn dispatch(
    db: &sea_orm::DatabaseConnection,
    command: Command,
    cli: &Cli,
    profile: Profile,
) -> Result<(), SeedError> {
    match command {
        Command::Defaults => {
            let opts = DefaultsOptions {
                dry_run: cli.dry_run,
                admin_password: PasswordSource::from_file_or_env(
                    cli.admin_password_file.clone(),
                    "OHT50_ADMIN_PASSWORD",
                ),
                operator_password: PasswordSource::from_file_or_env(
                    cli.operator_password_file.clone(),
                    "OHT50_OPERATOR_PASSWORD",
                ),
                may_generate: std::io::stdout().is_terminal(),
            };
            let report = defaults::seed_defaults(db, &opts).await?;
            let verb = if report.dry_run {
                "Would create"
            } else {
                "Created"
            };
            for line in &report.created {
                say!("{verb} {line}");
            }
            print_counts(&report.tables, report.dry_run);
            if report.total_created() == 0 {
                say!(
                    "Nothing to do: the default data ({} profile) is already present.",
                    profile.as_str()
                );
            }
            if !report.generated.is_empty() {
                // Only reached when stdout is a terminal (`may_generate`).
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "\nGenerated passwords, shown only this once and stored nowhere but as \
                     Argon2id hashes. Keep them now:"
                );
                for g in &report.generated {
                    let _ = writeln!(out, "  {:<10} {}", g.username, g.password.expose());
                }
            }
        }
        Command::Load { file } => {
            let report = fixtures::load_file(db, &file, cli.dry_run).await?;
            print_counts(&report.tables, report.dry_run);
            if report.dry_run {
                say!("Dry run: the fixture is valid; nothing was written.");
            }
        }
        Command::Dump {
            file,
            include_password_hashes,
        } => {
            let doc = fixtures::dump(
                db,
                DumpOptions {
                    include_password_hashes,
                },
            )
            .await?;
            match file {
                Some(path) => {
                    fixtures::write_file(&path, &doc)?;
                    eprintln!("Wrote {}", path.display());
                }
                None => {
                    let text = serde_json::to_string_pretty(&doc).map_err(|e| SeedError::Io {
                        action: "serialize dump for",
                        path: "stdout".into(),
                        cause: e.to_string(),
                    })?;
                    say!("{text}");
                }
            }
        }
        Command::Dev {
            robots,
            days,
            telemetry_per_robot_hour,
            lidar_scans,
            safety_events,
            emergency_stops,
            seed,
            start,
        } => {
            let opts = DevOptions {
                robots,
                days,
                telemetry_per_robot_hour,
                lidar_scans,
                safety_events,
                emergency_stops,
                seed,
                start: start.unwrap_or_else(dev::default_start),
                dry_run: cli.dry_run,
            };
            let mut progress = ProgressPrinter::new();
            let report = dev::generate(db, &opts, &mut |t, d, n| progress.update(t, d, n)).await?;
            progress.finish();
            print_counts(&report.tables, report.dry_run);
            if report.dry_run {
                say!(
                    "Dry run: nothing was written (obstacles are generated with the scans: 0 to 4 each)."
                );
            } else {
                let secs = report.elapsed.as_secs_f64().max(1e-9);
                say!(
                    "Wrote {} rows in {:.2} s ({:.0} rows/s), seed {}.",
                    report.total(),
                    secs,
                    report.total() as f64 / secs,
                    opts.seed
                );
                if report.users_referenced == 0 {
                    say!(
                        "Note: the users table is empty, so events and e-stops reference no user; \
                         run `seed defaults` first to have them reference admin and operator."
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_counts(tables: &[TableCount], dry_run: bool) {
    for t in tables {
        if dry_run {
            say!("{} (dry run)", t);
        } else {
            say!("{t}");
        }
    }
}

/// Progress on stderr: a bar on a terminal, otherwise a plain line every 2 seconds.
struct ProgressPrinter {
    bar: Option<indicatif::ProgressBar>,
    table: String,
    started: Instant,
    last: Instant,
    terminal: bool,
}

impl ProgressPrinter {
    fn new() -> Self {
        Self {
            bar: None,
            table: String::new(),
            started: Instant::now(),
            last: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, table: &str, done: u64, total: u64) {
        if table != self.table {
            self.finish();
            self.table = table.to_string();
            self.started = Instant::now();
            self.last = Instant::now();
            if self.terminal {
                let bar = indicatif::ProgressBar::new(total);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix:>16} [{bar:30}] {pos}/{len} rows {per_sec} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(table.to_string());
                self.bar = Some(bar);
            }
        }
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                if self.last.elapsed() >= Duration::from_secs(2) {
                    self.last = Instant::now();
                    eprintln!("{}", self.line(done, total));
                }
            }
        }
    }

    fn line(&self, done: u64, total: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let pct = if total > 0 {
            done as f64 * 100.0 / total as f64
        } else {
            100.0
        };
        format!(
            "{}: {done}/{total} rows ({pct:.0}%), {:.0} rows/s",
            self.table,
            done as f64 / secs
        )
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}
