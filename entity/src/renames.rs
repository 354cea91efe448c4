//! Declared renames, for `generate --autogenerate`: a table or column that disappears while
//! another appears is otherwise generated as a drop plus an add (losing its data). Declare the
//! rename here before generating; entries whose old name no longer exists are ignored, so they
//! can stay after the migration is generated.

/// One declared rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rename {
    /// Table `from` is now called `to`.
    Table {
        /// Old name.
        from: &'static str,
        /// New name.
        to: &'static str,
    },
    /// Column `from` of `table` (its new table name) is now called `to`.
    Column {
        /// The table, under its current name.
        table: &'static str,
        /// Old column name.
        from: &'static str,
        /// New column name.
        to: &'static str,
    },
}

/// Every declared rename, oldest first.
pub const RENAMES: &[Rename] = &[];
