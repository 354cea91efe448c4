//! A chain of `CHAIN_LEN` (default 300) generated migrations, each creating one small table,
//! run through our CLI (`migration_engine::cli` with the OHT-50 configuration, on a
//! current-thread runtime, as the `migration` binary runs it), or stock sea-orm-migration's with `CHAIN_STOCK=1`: how
//! per-migration overhead grows with the length of the chain.

use migration::sea_orm::DbErr;
use migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use sea_orm_migration::prelude::*;

struct Link(usize, String);

impl MigrationName for Link {
    fn name(&self) -> &str {
        &self.1
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Link {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new(format!("chain_{}", self.0)))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Alias::new("note")).string_len(50).null())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new(format!("chain_{}", self.0)))
                    .take(),
            )
            .await
    }
}

struct Chain;

#[async_trait::async_trait]
impl MigratorTrait for Chain {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let n = std::env::var("CHAIN_LEN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        (0..n)
            .map(|i| {
                Box::new(Link(i, format!("m20300101_{i:06}_chain"))) as Box<dyn MigrationTrait>
            })
            .collect()
    }
}

/// Each CLI on the runtime its own `main` uses: ours a current-thread runtime (as the
/// `migration` binary), stock a multi-threaded one (`#[tokio::main]`, as its template).
fn main() {
    let stock = std::env::var("CHAIN_STOCK").is_ok_and(|v| v == "1");
    let runtime = if stock {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build();
    let Ok(runtime) = runtime else {
        eprintln!("cannot start the tokio runtime");
        std::process::exit(1);
    };
    if stock {
        runtime.block_on(sea_orm_migration::cli::run_cli(Chain));
    } else {
        let config = migration::config();
        let cli = migration_engine::cli::parse(&config);
        let code = runtime.block_on(migration_engine::cli::run::<Chain>(cli, &config));
        std::process::exit(code);
    }
}
