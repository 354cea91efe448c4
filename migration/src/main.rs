//! `cargo run -p migration -- <command>`: see `migration --help`.

use clap::Parser;
use migration::{Migrator, cli};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = dotenvy::dotenv();
    let args = cli::Cli::parse();
    std::process::exit(cli::run::<Migrator>(args).await);
}
