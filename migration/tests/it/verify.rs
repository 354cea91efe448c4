//! `migration verify` end to end: a clean database passes (exit 0); each kind of bad row,
//! planted the way it happens on each backend, is reported with its primary key and makes the
//! command fail.
//!
//! What can be planted where (the database refuses the rest):
//!
//! | kind        | SQLite                   | PostgreSQL                    | MariaDB/MySQL                   |
//! |-------------|--------------------------|-------------------------------|---------------------------------|
//! | enum        | plain insert             | plain insert                  | plain insert                    |
//! | foreign-key | `foreign_keys=OFF`       | `DISABLE TRIGGER ALL`         | `foreign_key_checks=0`          |
//! | null        | NOT NULL lost (schema edited) | NOT NULL dropped         | NOT NULL dropped                |
//! | json        | plain insert             | impossible (`jsonb`)          | `check_constraint_checks=0` (MariaDB) |
//! | length      | plain insert (unenforced)| column widened                | column widened                  |
//! | timestamp   | unparseable text         | `infinity`                    | zero date (relaxed `sql_mode`)  |

use std::collections::BTreeMap;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use test_support::{Backend, TestDb, exec};

use crate::support::{ok, run, stderr, stdout};

/// A pool of one connection, so session settings (`PRAGMA foreign_keys`, `SET
/// foreign_key_checks`) apply to the statements that follow.
async fn one_connection(db: &TestDb) -> DatabaseConnection {
    let mut options = ConnectOptions::new(db.url.clone());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(options).await.expect("connect")
}

const T: &str = "'2025-01-28 12:00:00'";

/// Good rows in every table the bad rows need: user 1, robot 1.
async fn seed_good_rows(conn: &DatabaseConnection) {
    exec(
        conn,
        &format!(
            "INSERT INTO users (username, email, password_hash, role, is_active, created_at, updated_at) \
             VALUES ('ana', 'ana@example.com', 'x', 'admin', TRUE, {T}, {T})"
        ),
    )
    .await;
    exec(
        conn,
        &format!(
            "INSERT INTO robots (name, robot_type, status, mode, created_at, updated_at) \
             VALUES ('r1', 'oht', 'IDLE', 'AUTO', {T}, {T})"
        ),
    )
    .await;
    for i in 0..5 {
        exec(
            conn,
            &format!(
                "INSERT INTO telemetry (robot_id, timestamp, speed) VALUES (1, '2025-01-28 12:00:0{i}', 1.5)"
            ),
        )
        .await;
    }
    exec(
        conn,
        &format!(
            "INSERT INTO safety_zones (zone_name, zone_type, boundary_data, is_active, created_at, updated_at) \
             VALUES ('dock', 'safe', '{{\"points\": []}}', TRUE, {T}, {T})"
        ),
    )
    .await;
}

async fn insert_robot(
    conn: &DatabaseConnection,
    name: &str,
    robot_type: &str,
    status: &str,
    created: &str,
) {
    exec(
        conn,
        &format!(
            "INSERT INTO robots (id, name, robot_type, status, mode, created_at, updated_at) \
             VALUES ({}, {name}, {robot_type}, {status}, 'AUTO', {created}, {T})",
            robot_id(name)
        ),
    )
    .await;
}

/// Planted robots get fixed ids so the test knows the primary keys to expect.
fn robot_id(name: &str) -> i64 {
    match name {
        "'enum1'" => 11,
        "'enum2'" => 12,
        "'enum3'" => 13,
        "'null'" => 20,
        "'time'" => 30,
        _ => 40,
    }
}

/// Plants one or more rows of each kind the backend can hold; returns the expected
/// `(table, kind, column) -> (rows, first primary key)`.
async fn plant(db: &TestDb) -> BTreeMap<(String, String, String), (u64, String)> {
    let b = db.backend;
    let mut want = BTreeMap::new();
    let mut expect = |table: &str, kind: &str, column: &str, rows: u64, pk: i64| {
        want.insert(
            (table.to_string(), kind.to_string(), column.to_string()),
            (rows, pk.to_string()),
        );
    };

    // NULL in a NOT NULL column needs a database that lost the constraint.
    match b {
        Backend::Sqlite => {
            let conn = one_connection(db).await;
            exec(&conn, "PRAGMA writable_schema = ON").await;
            exec(
                &conn,
                "UPDATE sqlite_master SET sql = replace(sql, '\"robot_type\" varchar(50) NOT NULL', \
                 '\"robot_type\" varchar(50) NULL') WHERE name = 'robots'",
            )
            .await;
            exec(&conn, "PRAGMA writable_schema = OFF").await;
            let _ = conn.close().await;
        }
        Backend::Postgres => {
            let conn = db.connect().await;
            exec(
                &conn,
                "ALTER TABLE robots ALTER COLUMN robot_type DROP NOT NULL",
            )
            .await;
            exec(
                &conn,
                "ALTER TABLE robots ALTER COLUMN name TYPE varchar(200)",
            )
            .await;
            let _ = conn.close().await;
        }
        Backend::MySql => {
            let conn = db.connect().await;
            exec(
                &conn,
                "ALTER TABLE robots MODIFY robot_type varchar(50) NULL",
            )
            .await;
            exec(
                &conn,
                "ALTER TABLE robots MODIFY name varchar(200) NOT NULL",
            )
            .await;
            let _ = conn.close().await;
        }
    }

    let conn = one_connection(db).await;
    match b {
        Backend::Sqlite => exec(&conn, "PRAGMA foreign_keys = OFF").await,
        Backend::MySql => {
            exec(&conn, "SET SESSION foreign_key_checks = 0").await;
            exec(&conn, "SET SESSION sql_mode = ''").await;
            exec(&conn, "SET SESSION check_constraint_checks = 0").await;
        }
        Backend::Postgres => exec(&conn, "ALTER TABLE telemetry DISABLE TRIGGER ALL").await,
    }

    // Enum: three rows, to see the example list capped.
    for n in ["'enum1'", "'enum2'", "'enum3'"] {
        insert_robot(&conn, n, "'oht'", "'FLYING'", T).await;
    }
    expect("robots", "enum", "status", 3, 11);

    insert_robot(&conn, "'null'", "NULL", "'IDLE'", T).await;
    expect("robots", "null", "robot_type", 1, 20);

    // Length: robots.name is VARCHAR(100) in the entity.
    let long = format!("'{}'", "n".repeat(150));
    exec(
        &conn,
        &format!(
            "INSERT INTO robots (id, name, robot_type, status, mode, created_at, updated_at) \
             VALUES (40, {long}, 'oht', 'IDLE', 'AUTO', {T}, {T})"
        ),
    )
    .await;
    expect("robots", "length", "name", 1, 40);

    let bad_time = match b {
        Backend::Sqlite => "'yesterday'",
        Backend::Postgres => "'infinity'",
        Backend::MySql => "'0000-00-00 00:00:00'",
    };
    insert_robot(&conn, "'time'", "'oht'", "'IDLE'", bad_time).await;
    expect("robots", "timestamp", "created_at", 1, 30);

    // A telemetry row of a robot that does not exist.
    exec(
        &conn,
        "INSERT INTO telemetry (id, robot_id, timestamp) VALUES (100, 999, '2025-01-28 13:00:00')",
    )
    .await;
    expect("telemetry", "foreign-key", "robot_id", 1, 100);
    if b == Backend::Postgres {
        exec(&conn, "ALTER TABLE telemetry ENABLE TRIGGER ALL").await;
    }

    // JSON that does not parse: impossible in PostgreSQL's jsonb.
    if b != Backend::Postgres {
        exec(
            &conn,
            &format!(
                "INSERT INTO safety_zones (id, zone_name, zone_type, boundary_data, is_active, created_at, updated_at) \
                 VALUES (50, 'broken', 'safe', '{{not json', TRUE, {T}, {T})"
            ),
        )
        .await;
        expect("safety_zones", "json", "boundary_data", 1, 50);
    }
    let _ = conn.close().await;
    want
}

#[tokio::test]
async fn verify_passes_a_clean_database_and_reports_each_planted_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    each_backend!("verify", |db| {
        let b = db.backend;
        let url = Some(db.url.as_str());

        // Behind the entities (here: nothing applied): not a pass; the missing tables named.
        let o = run(d, url, &["up", "-n", "1"]);
        assert!(o.status.success(), "{b:?}: {}", stderr(&o));
        let o = run(d, url, &["verify"]);
        assert_eq!(o.status.code(), Some(1), "{b:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("missing from the database (emergency_stops, lidar_maps")
                && stderr(&o).contains("run `migration up` first"),
            "{b:?}: {}",
            stderr(&o)
        );
        assert!(stdout(&o).contains("missing"), "{b:?}: {}", stdout(&o));
        ok(run(d, url, &["up"]));

        // Clean (empty, then with good rows): exit 0.
        let o = ok(run(d, url, &["verify"]));
        assert!(
            stdout(&o).contains("No problem in 0 row(s)"),
            "{b:?}: {}",
            stdout(&o)
        );
        let conn = db.connect().await;
        seed_good_rows(&conn).await;
        let _ = conn.close().await;
        let o = ok(run(d, url, &["verify", "--batch-size", "2"]));
        assert!(
            stdout(&o).contains("No problem in 8 row(s)"),
            "{b:?}: {}",
            stdout(&o)
        );

        let want = plant(&db).await;

        // Small batches: pagination must read every row exactly once.
        let o = run(
            d,
            url,
            &[
                "verify",
                "--format",
                "json",
                "--examples",
                "2",
                "--batch-size",
                "2",
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "{b:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("verify JSON");
        let mut found = BTreeMap::new();
        for t in doc["tables"].as_array().unwrap() {
            for p in t["problems"].as_array().unwrap() {
                let examples = p["examples"].as_array().unwrap();
                assert!(examples.len() <= 2, "{b:?}: {p}");
                found.insert(
                    (
                        t["table"].as_str().unwrap().to_string(),
                        p["kind"].as_str().unwrap().to_string(),
                        p["column"].as_str().unwrap().to_string(),
                    ),
                    (
                        p["rows"].as_u64().unwrap(),
                        examples[0].as_str().unwrap().to_string(),
                    ),
                );
            }
        }
        assert_eq!(found, want, "{b:?}: {doc}");
        let robots = doc["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == "robots")
            .unwrap();
        assert_eq!(robots["rows_checked"], 7, "{b:?}: {robots}");
        assert!(robots["batches"].as_u64().unwrap() >= 4, "{b:?}: {robots}");
        let enums = robots["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "enum")
            .unwrap();
        assert_eq!(enums["examples"], serde_json::json!(["11", "12"]), "{b:?}");
        let telemetry = doc["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == "telemetry")
            .unwrap();
        assert_eq!(telemetry["rows_checked"], 6, "{b:?}");
        assert_eq!(doc["clean"], false);
        assert_eq!(doc["problems"], want.values().map(|(n, _)| n).sum::<u64>());

        // One connection reading the whole key range finds the same.
        let o = run(
            d,
            url,
            &[
                "verify",
                "--format",
                "json",
                "--examples",
                "2",
                "--batch-size",
                "2",
                "--jobs",
                "1",
            ],
        );
        let serial: serde_json::Value = serde_json::from_slice(&o.stdout).expect("verify JSON");
        let strip = |doc: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value, serde_json::Value)> {
            doc["tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| (t["table"].clone(), t["rows_checked"].clone(), t["problems"].clone()))
                .collect()
        };
        assert_eq!(strip(&serial), strip(&doc), "{b:?}: --jobs 1 vs 2");

        // Text: one line per problem with its column and first key; the summary on stderr.
        let o = run(d, url, &["verify", "--table", "robots"]);
        assert_eq!(o.status.code(), Some(1), "{b:?}");
        let text = stdout(&o);
        assert!(
            text.contains("enum        status: 3 row(s)") && text.contains("11, 12, 13"),
            "{b:?}: {text}"
        );
        assert!(!text.contains("telemetry"), "{b:?}: --table robots: {text}");
        assert!(stderr(&o).contains("verify found"), "{b:?}: {}", stderr(&o));

        let o = run(d, url, &["verify", "--table", "nope"]);
        assert_ne!(o.status.code(), Some(0));
        assert!(
            stderr(&o).contains("no entity defines table nope"),
            "{}",
            stderr(&o)
        );
    });
}
