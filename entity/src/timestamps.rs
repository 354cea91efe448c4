//! The clock the models' `ActiveModelBehavior`s use for `created_at`/`updated_at`.

use sea_orm::prelude::DateTime;

/// Current UTC time, truncated to microseconds so the value round-trips unchanged through
/// PostgreSQL `timestamp`, MySQL `datetime(6)` and SQLite text.
pub(crate) fn now() -> DateTime {
    let now = chrono::Utc::now().naive_utc();
    let micros = now.and_utc().timestamp_subsec_micros();
    chrono::Timelike::with_nanosecond(&now, micros * 1_000).unwrap_or(now)
}

/// Implements `ActiveModelBehavior` for an active model that has the listed timestamp columns:
/// `created` sets the column on insert when the caller left it unset, `updated` sets it on
/// every insert and update unless the caller set it explicitly.
macro_rules! timestamps_behavior {
    (created: [$($created:ident),*], updated: [$($updated:ident),*]) => {
        #[sea_orm::prelude::async_trait::async_trait]
        impl sea_orm::ActiveModelBehavior for ActiveModel {
            async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, sea_orm::DbErr>
            where
                C: sea_orm::ConnectionTrait,
            {
                let now = $crate::timestamps::now();
                $(
                    if insert && self.$created.is_not_set() {
                        self.$created = sea_orm::ActiveValue::Set(now);
                    }
                )*
                $(
                    if insert {
                        if self.$updated.is_not_set() {
                            self.$updated = sea_orm::ActiveValue::Set(now);
                        }
                    } else if !self.$updated.is_set() {
                        self.$updated = sea_orm::ActiveValue::Set(now);
                    }
                )*
                Ok(self)
            }
        }
    };
}
pub(crate) use timestamps_behavior;
