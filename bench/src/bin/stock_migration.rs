//! Stock sea-orm-migration's CLI over the very same migrations: the reference the speed
//! targets are measured against.

#[tokio::main]
async fn main() {
    sea_orm_migration::cli::run_cli(migration::Migrator).await;
}
