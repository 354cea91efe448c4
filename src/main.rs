//! `oht50-db`: the operator-facing command. `oht50-db migrate <command>` is the same as
//! `cargo run -p migration -- <command>`.

use clap::{Parser, Subcommand};

/// Operator tools for the OHT-50 database.
#[derive(Debug, Parser)]
#[command(
    name = "oht50-db",
    version,
    about = "Operator tools for the OHT-50 database"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply, revert and inspect migrations (same commands as the `migration` binary)
    Migrate(oht50_db::migration::cli::Cli),
    /// Delete old telemetry, LiDAR scans and safety events in bounded batches (spec 5.2)
    Retention(oht50_db::retention::RetentionArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = dotenvy::dotenv();
    let code = match Args::parse().command {
        Command::Migrate(cli) => {
            oht50_db::migration::cli::run::<oht50_db::migration::Migrator>(cli).await
        }
        Command::Retention(args) => match oht50_db::retention::run_cli(args).await {
            Ok(_) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        },
    };
    std::process::exit(code);
}
