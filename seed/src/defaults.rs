//! Spec 5.1 default data: the admin and operator users, robot `OHT-50-001` and the
//! "Default Safety Zone". Idempotent (rows are matched by natural key and never changed) and
//! atomic (one transaction).

use entity::enums::{RobotMode, RobotStatus, UserRole, ZoneType};
use entity::{robots, safety_zones, users};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, TransactionTrait,
};

use crate::passwords::{self, PasswordSource, Secret};
use crate::{SeedError, TableCount};

/// Name of the default robot.
pub const ROBOT_NAME: &str = "OHT-50-001";
/// Name of the default safety zone.
pub const ZONE_NAME: &str = "Default Safety Zone";

/// One of the default users.
#[derive(Debug, Clone, Copy)]
pub struct DefaultUser {
    /// Natural key.
    pub username: &'static str,
    /// Unique e-mail.
    pub email: &'static str,
    /// Role.
    pub role: UserRole,
    /// Environment variable holding its password.
    pub env_var: &'static str,
}

/// The default users, in creation order.
pub const USERS: [DefaultUser; 2] = [
    DefaultUser {
        username: "admin",
        email: "admin@oht50.com",
        role: UserRole::Admin,
        env_var: "OHT50_ADMIN_PASSWORD",
    },
    DefaultUser {
        username: "operator",
        email: "operator@oht50.com",
        role: UserRole::Operator,
        env_var: "OHT50_OPERATOR_PASSWORD",
    },
];

/// How to seed the defaults.
#[derive(Debug, Clone)]
pub struct DefaultsOptions {
    /// Only report what would be created.
    pub dry_run: bool,
    /// Password of `admin`, used only if that user is created.
    pub admin_password: PasswordSource,
    /// Password of `operator`, used only if that user is created.
    pub operator_password: PasswordSource,
    /// Whether generated passwords can be shown to a person (stdout is a terminal). When
    /// false and a password would have to be generated, seeding is refused.
    pub may_generate: bool,
}

/// A password generated for a created user, to be shown once on a terminal.
#[derive(Debug)]
pub struct GeneratedPassword {
    /// The user.
    pub username: String,
    /// The password (its `Debug` shows `***`).
    pub password: Secret,
}

/// What [`seed_defaults`] did.
#[derive(Debug, Default)]
pub struct DefaultsReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Per table: rows created (or, in a dry run, to create) and rows already present.
    pub tables: Vec<TableCount>,
    /// Human descriptions of the rows created (or to create).
    pub created: Vec<String>,
    /// Passwords generated for created users.
    pub generated: Vec<GeneratedPassword>,
}

impl DefaultsReport {
    /// Rows created over all tables.
    pub fn total_created(&self) -> u64 {
        self.tables.iter().map(|t| t.created).sum()
    }
}

/// Creates whichever default rows are missing, in one transaction; existing rows (matched by
/// username, robot name and zone name) are left untouched.
pub async fn seed_defaults(
    db: &DatabaseConnection,
    opts: &DefaultsOptions,
) -> Result<DefaultsReport, SeedError> {
    crate::schema::ensure_migrated(db).await?;
    if opts.dry_run {
        return plan(db, opts, None).await;
    }
    let txn = db
        .begin()
        .await
        .map_err(SeedError::db("starting a transaction"))?;
    match plan(&txn, opts, Some(())).await {
        Ok(report) => {
            txn.commit()
                .await
                .map_err(SeedError::rolled_back("committing the default data"))?;
            Ok(report)
        }
        Err(e) => {
            // Dropping the transaction rolls it back too; an explicit rollback error would
            // hide the cause.
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

async fn plan<C: ConnectionTrait>(
    db: &C,
    opts: &DefaultsOptions,
    write: Option<()>,
) -> Result<DefaultsReport, SeedError> {
    let mut report = DefaultsReport {
        dry_run: write.is_none(),
        ..DefaultsReport::default()
    };

    // Users: work out every missing user and its password before writing anything.
    let mut user_count = TableCount::new("users");
    let mut to_create = Vec::new();
    let mut need_generating = Vec::new();
    for user in USERS {
        let existing = users::Entity::find()
            .filter(users::Column::Username.eq(user.username))
            .one(db)
            .await
            .map_err(SeedError::db(format!(
                "looking up user `{}`",
                user.username
            )))?;
        if existing.is_some() {
            user_count.unchanged += 1;
            continue;
        }
        let source = match user.role {
            UserRole::Admin => &opts.admin_password,
            _ => &opts.operator_password,
        };
        let secret = source.read(user.username)?;
        if secret.is_none() {
            need_generating.push(user.username);
        }
        to_create.push((user, secret));
    }
    if write.is_some() && !need_generating.is_empty() && !opts.may_generate {
        return Err(SeedError::CannotShowGeneratedPassword {
            users: need_generating
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(" and "),
        });
    }
    for (user, secret) in to_create {
        user_count.created += 1;
        let how = if secret.is_some() {
            "given password"
        } else {
            "generated password"
        };
        report.created.push(format!(
            "user `{}` <{}> ({}, {how})",
            user.username,
            user.email,
            role_name(user.role)
        ));
        if write.is_none() {
            continue;
        }
        let secret = match secret {
            Some(s) => s,
            None => {
                let s = passwords::generate()?;
                report.generated.push(GeneratedPassword {
                    username: user.username.to_string(),
                    password: s.clone(),
                });
                s
            }
        };
        let hash = passwords::hash(&secret)?;
        users::ActiveModel {
            username: Set(user.username.to_string()),
            email: Set(user.email.to_string()),
            password_hash: Set(hash),
            role: Set(user.role),
            is_active: Set(true),
            ..Default::default()
        }
        .insert(db)
        .await
        .map_err(SeedError::rolled_back(format!(
            "creating user `{}` <{}> (is another user already using that e-mail?)",
            user.username, user.email
        )))?;
    }
    report.tables.push(user_count);

    let mut robot_count = TableCount::new("robots");
    let robot = robots::Entity::find()
        .filter(robots::Column::Name.eq(ROBOT_NAME))
        .one(db)
        .await
        .map_err(SeedError::db("looking up the default robot"))?;
    if robot.is_some() {
        robot_count.unchanged += 1;
    } else {
        robot_count.created += 1;
        report
            .created
            .push(format!("robot `{ROBOT_NAME}` (OHT-50, IDLE, MANUAL)"));
        if write.is_some() {
            robots::ActiveModel {
                name: Set(ROBOT_NAME.to_string()),
                robot_type: Set("OHT-50".to_string()),
                status: Set(RobotStatus::Idle),
                mode: Set(RobotMode::Manual),
                position_x: Set(Some(0.0)),
                position_y: Set(Some(0.0)),
                position_z: Set(Some(0.0)),
                orientation: Set(Some(0.0)),
                speed: Set(Some(0.0)),
                battery_level: Set(Some(100)),
                temperature: Set(Some(25.0)),
                ..Default::default()
            }
            .insert(db)
            .await
            .map_err(SeedError::rolled_back("creating the default robot"))?;
        }
    }
    report.tables.push(robot_count);

    let mut zone_count = TableCount::new("safety_zones");
    let zone = safety_zones::Entity::find()
        .filter(safety_zones::Column::ZoneName.eq(ZONE_NAME))
        .one(db)
        .await
        .map_err(SeedError::db("looking up the default safety zone"))?;
    if zone.is_some() {
        zone_count.unchanged += 1;
    } else {
        zone_count.created += 1;
        report.created.push(format!(
            "safety zone `{ZONE_NAME}` (warning, 10 x 10 polygon, radius 5)"
        ));
        if write.is_some() {
            safety_zones::ActiveModel {
                zone_name: Set(ZONE_NAME.to_string()),
                zone_type: Set(ZoneType::Warning),
                boundary_data: Set(default_zone_boundary()),
                radius: Set(Some(5.0)),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db)
            .await
            .map_err(SeedError::rolled_back("creating the default safety zone"))?;
        }
    }
    report.tables.push(zone_count);
    Ok(report)
}

/// The default zone's boundary: the 10 x 10 square polygon of spec 5.1.
pub fn default_zone_boundary() -> serde_json::Value {
    serde_json::json!({
        "type": "polygon",
        "coordinates": [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    })
}

fn role_name(role: UserRole) -> &'static str {
    match role {
        UserRole::Admin => "admin",
        UserRole::Operator => "operator",
        UserRole::Viewer => "viewer",
    }
}
