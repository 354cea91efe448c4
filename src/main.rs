//! `oht50-db`: the operator-facing command. `oht50-db migrate <command>` is the same as
//! `cargo run -p migration -- <command>`; `-u`, `-s` and `--env` go before or after the
//! subcommand.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use migration_engine::cli::{Cli, ConnectionArgs, MigrateArgs, with_env_vars};

/// Operator tools for the OHT-50 database.
#[derive(Debug, Parser)]
#[command(
    name = "oht50-db",
    version,
    about = "Operator tools for the OHT-50 database"
)]
struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply, revert and inspect migrations (same commands as the `migration` binary)
    Migrate(MigrateArgs),
    /// Delete old telemetry, LiDAR scans and safety events in bounded batches (spec 5.2)
    Retention(oht50_db::retention::RetentionArgs),
    /// Serve migration status, history, probes and metrics over HTTP (and, with a token, migrate/rollback)
    Serve(oht50_db::serve::ServeArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = dotenvy::dotenv();
    let config = migration::config();
    let matches = with_env_vars(Args::command(), &config).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let code = match args.command {
        Command::Migrate(migrate) => {
            let cli = Cli {
                connection: args.connection,
                migrate,
            };
            migration_engine::cli::run::<migration::Migrator>(cli, &config).await
        }
        Command::Serve(serve) => {
            let options = serve.options(
                &args.connection,
                &config,
                <migration::Migrator as sea_orm_migration::MigratorTrait>::migrations,
            );
            match options.and_then(|o| oht50_db::serve::run_blocking(o, serve.workers)) {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Retention(retention) => {
            match oht50_db::retention::run_cli(retention, &args.connection, &config).await {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    e.exit_code()
                }
            }
        }
    };
    std::process::exit(code);
}
