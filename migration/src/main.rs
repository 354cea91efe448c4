//! `cargo run -p migration -- <command>`: see `migration --help`.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    migration_engine::cli::main::<migration::Migrator>(migration::config()).await
}
