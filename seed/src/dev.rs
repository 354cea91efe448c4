//! Deterministic synthetic development data: robots with telemetry time series (moving along
//! a loop rail, draining and charging batteries, warming up), LiDAR scans with obstacles,
//! safety events and emergency stops referencing those robots and the existing users.
//!
//! The same [`DevOptions`] (same `seed`) on databases in the same state give identical rows:
//! every random number comes from ChaCha8 streams seeded with `seed`, and timestamps start at
//! a fixed instant, never at "now".

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::{DatabaseConnection, DbBackend};

use crate::bulk::{BulkWriter, TableSpec, Val, quote};
use crate::{SeedError, TableCount};

/// `robots` columns written (with explicit ids).
pub const ROBOTS: TableSpec = TableSpec {
    table: "robots",
    columns: &[
        "id",
        "name",
        "robot_type",
        "status",
        "mode",
        "position_x",
        "position_y",
        "position_z",
        "orientation",
        "speed",
        "battery_level",
        "temperature",
        "created_at",
        "updated_at",
    ],
};

/// `telemetry` columns written (ids assigned by the database).
pub const TELEMETRY: TableSpec = TableSpec {
    table: "telemetry",
    columns: &[
        "robot_id",
        "timestamp",
        "speed",
        "temperature",
        "battery_voltage",
        "motor_current",
        "position_x",
        "position_y",
        "position_z",
        "orientation",
    ],
};

/// `lidar_scans` columns written (with explicit ids, which obstacles reference).
pub const LIDAR_SCANS: TableSpec = TableSpec {
    table: "lidar_scans",
    columns: &[
        "id",
        "timestamp",
        "scan_data",
        "quality_score",
        "scan_duration",
        "points_count",
    ],
};

/// `lidar_obstacles` columns written.
pub const LIDAR_OBSTACLES: TableSpec = TableSpec {
    table: "lidar_obstacles",
    columns: &[
        "scan_id",
        "obstacle_id",
        "position_x",
        "position_y",
        "position_z",
        "size_width",
        "size_height",
        "obstacle_type",
        "confidence",
        "detected_at",
    ],
};

/// `safety_events` columns written.
pub const SAFETY_EVENTS: TableSpec = TableSpec {
    table: "safety_events",
    columns: &[
        "event_type",
        "severity",
        "robot_id",
        "description",
        "event_data",
        "resolved",
        "resolved_at",
        "resolved_by",
        "created_at",
    ],
};

/// `emergency_stops` columns written.
pub const EMERGENCY_STOPS: TableSpec = TableSpec {
    table: "emergency_stops",
    columns: &[
        "robot_id",
        "triggered_by",
        "trigger_type",
        "trigger_data",
        "resolved",
        "resolved_at",
        "resolved_by",
        "created_at",
    ],
};

/// How much to generate.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Robots to create (`OHT-50-DEV-<seed>-001`...).
    pub robots: u32,
    /// Days of history.
    pub days: u32,
    /// Telemetry samples per robot per hour.
    pub telemetry_per_robot_hour: u32,
    /// LiDAR scans (each with 0 to 4 obstacles).
    pub lidar_scans: u32,
    /// Safety events.
    pub safety_events: u32,
    /// Emergency stops.
    pub emergency_stops: u32,
    /// The random seed: same seed, same rows.
    pub seed: u64,
    /// First timestamp of the history.
    pub start: NaiveDateTime,
    /// Only report what would be created.
    pub dry_run: bool,
}

impl Default for DevOptions {
    fn default() -> Self {
        Self {
            robots: 3,
            days: 1,
            telemetry_per_robot_hour: 60,
            lidar_scans: 100,
            safety_events: 50,
            emergency_stops: 10,
            seed: 42,
            start: default_start(),
            dry_run: false,
        }
    }
}

/// 2025-01-28 00:00:00, the date of the schema's first migration.
pub fn default_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 1, 28)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

impl DevOptions {
    /// Telemetry rows these options produce.
    pub fn telemetry_rows(&self) -> u64 {
        u64::from(self.robots) * self.samples_per_robot()
    }

    fn samples_per_robot(&self) -> u64 {
        u64::from(self.days) * 24 * u64::from(self.telemetry_per_robot_hour)
    }

    fn validate(&self) -> Result<(), SeedError> {
        let bad = |m: String| Err(SeedError::InvalidArgument(m));
        if !(1..=10_000).contains(&self.robots) {
            return bad(format!(
                "--robots {} must be between 1 and 10000",
                self.robots
            ));
        }
        if !(1..=3_650).contains(&self.days) {
            return bad(format!("--days {} must be between 1 and 3650", self.days));
        }
        if !(1..=3_600).contains(&self.telemetry_per_robot_hour) {
            return bad(format!(
                "--telemetry-per-robot-hour {} must be between 1 and 3600 (one per second)",
                self.telemetry_per_robot_hour
            ));
        }
        if self.telemetry_rows() > 1_000_000_000 {
            return bad(format!(
                "{} telemetry rows is more than 1,000,000,000: lower --robots, --days or \
                 --telemetry-per-robot-hour",
                self.telemetry_rows()
            ));
        }
        for (name, v) in [
            ("--lidar-scans", self.lidar_scans),
            ("--safety-events", self.safety_events),
            ("--emergency-stops", self.emergency_stops),
        ] {
            if v > 10_000_000 {
                return bad(format!("{name} {v} must be at most 10000000"));
            }
        }
        Ok(())
    }
}

/// What [`generate`] wrote (or would write).
#[derive(Debug, Clone, Default)]
pub struct DevReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Rows per table.
    pub tables: Vec<TableCount>,
    /// Wall time.
    pub elapsed: Duration,
    /// Users referenced by events and e-stops (none when the users table is empty).
    pub users_referenced: usize,
}

impl DevReport {
    /// All rows written.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|t| t.created).sum()
    }
}

/// Progress: table, rows written so far, rows to write in that table.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Generates and writes the development data in one transaction (all or nothing).
pub async fn generate(
    db: &DatabaseConnection,
    opts: &DevOptions,
    progress: Progress<'_>,
) -> Result<DevReport, SeedError> {
    opts.validate()?;
    crate::schema::ensure_migrated(db).await?;
    let started = Instant::now();
    let planned = |table: &str, n: u64| TableCount {
        table: table.to_string(),
        created: n,
        ..TableCount::default()
    };
    if opts.dry_run {
        return Ok(DevReport {
            dry_run: true,
            tables: vec![
                planned("robots", u64::from(opts.robots)),
                planned("telemetry", opts.telemetry_rows()),
                planned("lidar_scans", u64::from(opts.lidar_scans)),
                planned("lidar_obstacles", 0),
                planned("safety_events", u64::from(opts.safety_events)),
                planned("emergency_stops", u64::from(opts.emergency_stops)),
            ],
            elapsed: started.elapsed(),
            users_referenced: 0,
        });
    }
    let mut w = BulkWriter::begin(db).await?;
    match write_all(&mut w, opts, progress).await {
        Ok(mut report) => {
            w.commit().await?;
            report.elapsed = started.elapsed();
            Ok(report)
        }
        Err(e) => {
            w.rollback().await;
            Err(e)
        }
    }
}

async fn write_all(
    w: &mut BulkWriter,
    opts: &DevOptions,
    progress: Progress<'_>,
) -> Result<DevReport, SeedError> {
    let backend = w.backend();
    if backend == DbBackend::Postgres {
        // Explicit ids are taken from MAX(id): keep concurrent writers out meanwhile.
        w.execute("LOCK TABLE robots, lidar_scans IN SHARE ROW EXCLUSIVE MODE")
            .await?;
    }
    let first_name = robot_name(opts.seed, 1);
    let present = w
        .query_i64(&format!(
            "SELECT {} FROM {} WHERE name = '{}'",
            crate::bulk::bigint(backend, "COUNT(*)"),
            quote(backend, "robots"),
            first_name.replace('\'', "''")
        ))
        .await?;
    if present.first().copied().unwrap_or(0) > 0 {
        return Err(SeedError::DevDataPresent {
            seed: opts.seed,
            robot: first_name,
        });
    }
    let users = w
        .query_i64(&format!(
            "SELECT {} FROM {} ORDER BY id",
            crate::bulk::bigint(backend, "id"),
            quote(backend, "users")
        ))
        .await?;

    let mut report = DevReport {
        users_referenced: users.len(),
        ..DevReport::default()
    };
    let end = opts.start + TimeDelta::days(i64::from(opts.days));

    // Robots.
    let base = w.max_id("robots").await?;
    let robot_ids: Vec<i64> = (1..=i64::from(opts.robots)).map(|i| base + i).collect();
    let total = robot_ids.len() as u64;
    let rows = robot_rows(opts, &robot_ids, end);
    let n = w
        .write(&ROBOTS, rows, &mut |d| progress("robots", d, total))
        .await?;
    w.sync_id_sequence("robots").await?;
    report.tables.push(created("robots", n));

    // Telemetry.
    let total = opts.telemetry_rows();
    let rows = TelemetryGen::new(
        opts.seed,
        &robot_ids,
        opts.start,
        opts.samples_per_robot(),
        3600.0 / f64::from(opts.telemetry_per_robot_hour),
    );
    let n = w
        .write(&TELEMETRY, rows, &mut |d| progress("telemetry", d, total))
        .await?;
    report.tables.push(created("telemetry", n));

    // LiDAR scans, collecting their obstacles on the way.
    let scan_base = w.max_id("lidar_scans").await?;
    let mut obstacles = Vec::new();
    let total = u64::from(opts.lidar_scans);
    let rows = scan_rows(opts, scan_base, &mut obstacles);
    let n = w
        .write(&LIDAR_SCANS, rows, &mut |d| {
            progress("lidar_scans", d, total)
        })
        .await?;
    w.sync_id_sequence("lidar_scans").await?;
    report.tables.push(created("lidar_scans", n));
    let total = obstacles.len() as u64;
    let n = w
        .write(&LIDAR_OBSTACLES, obstacles, &mut |d| {
            progress("lidar_obstacles", d, total)
        })
        .await?;
    report.tables.push(created("lidar_obstacles", n));

    // Safety events and emergency stops.
    let rows = safety_event_rows(opts, &robot_ids, &users);
    let total = rows.len() as u64;
    let n = w
        .write(&SAFETY_EVENTS, rows, &mut |d| {
            progress("safety_events", d, total)
        })
        .await?;
    report.tables.push(created("safety_events", n));
    let rows = estop_rows(opts, &robot_ids, &users);
    let total = rows.len() as u64;
    let n = w
        .write(&EMERGENCY_STOPS, rows, &mut |d| {
            progress("emergency_stops", d, total)
        })
        .await?;
    report.tables.push(created("emergency_stops", n));
    Ok(report)
}

fn created(table: &str, n: u64) -> TableCount {
    TableCount {
        table: table.to_string(),
        created: n,
        ..TableCount::default()
    }
}

/// Name of development robot `i` (1-based) for `seed`.
pub fn robot_name(seed: u64, i: u32) -> String {
    format!("OHT-50-DEV-{seed}-{i:03}")
}

/// Independent random stream `stream` of `seed`.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

const STREAM_ROBOTS: u64 = 1;
const STREAM_SCANS: u64 = 2;
const STREAM_EVENTS: u64 = 3;
const STREAM_ESTOPS: u64 = 4;
const STREAM_TELEMETRY: u64 = 1_000;

fn unit(r: &mut ChaCha8Rng) -> f64 {
    r.random::<f64>()
}

fn between(r: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(r)
}

fn pick(r: &mut ChaCha8Rng, n: usize) -> usize {
    ((unit(r) * n as f64) as usize).min(n.saturating_sub(1))
}

fn gauss(r: &mut ChaCha8Rng, sd: f64) -> f64 {
    // Box-Muller.
    let u1 = unit(r).max(f64::MIN_POSITIVE);
    let u2 = unit(r);
    sd * (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn at(start: NaiveDateTime, seconds: f64) -> NaiveDateTime {
    // Microsecond precision: what every backend's timestamp column keeps.
    start + TimeDelta::microseconds((seconds * 1e6).round() as i64)
}

fn robot_rows(opts: &DevOptions, ids: &[i64], end: NaiveDateTime) -> Vec<Vec<Val>> {
    let mut r = rng(opts.seed, STREAM_ROBOTS);
    let statuses = ["IDLE", "MOVING", "CHARGING", "IDLE", "MOVING"];
    ids.iter()
        .enumerate()
        .map(|(i, &id)| {
            let s = between(&mut r, 0.0, RAIL.perimeter());
            let (x, y, heading) = RAIL.at(s);
            let status = statuses[pick(&mut r, statuses.len())];
            let speed = if status == "MOVING" {
                round(between(&mut r, 0.6, 1.6), 3)
            } else {
                0.0
            };
            vec![
                Val::Int(id),
                Val::Text(robot_name(opts.seed, i as u32 + 1)),
                Val::Text("OHT-50".into()),
                Val::Text(status.into()),
                Val::Text("AUTO".into()),
                Val::Float(round(x, 3)),
                Val::Float(round(y, 3)),
                Val::Float(0.0),
                Val::Float(round(heading, 4)),
                Val::Float(speed),
                Val::Int(20 + pick(&mut r, 81) as i64),
                Val::Float(round(between(&mut r, 24.0, 38.0), 2)),
                Val::Ts(opts.start),
                Val::Ts(end),
            ]
        })
        .collect()
}

/// The loop rail every robot follows: a 100 m x 30 m rectangle, charger at (0, 0).
struct Rail {
    w: f64,
    h: f64,
}

const RAIL: Rail = Rail { w: 100.0, h: 30.0 };

impl Rail {
    fn perimeter(&self) -> f64 {
        2.0 * (self.w + self.h)
    }

    /// Position and heading at distance `s` along the loop.
    fn at(&self, s: f64) -> (f64, f64, f64) {
        let s = s.rem_euclid(self.perimeter());
        if s < self.w {
            (s, 0.0, 0.0)
        } else if s < self.w + self.h {
            (self.w, s - self.w, PI / 2.0)
        } else if s < 2.0 * self.w + self.h {
            (self.w - (s - self.w - self.h), self.h, PI)
        } else {
            (0.0, self.h - (s - 2.0 * self.w - self.h), -PI / 2.0)
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Moving,
    Dwelling,
    ToCharger,
    Charging,
}

struct RobotSim {
    id: i64,
    rng: ChaCha8Rng,
    s: f64,
    cruise: f64,
    soc: f64,
    temp: f64,
    phase: Phase,
    timer: f64,
    jitter: f64,
}

impl RobotSim {
    fn new(seed: u64, index: usize, id: i64) -> Self {
        let mut rng = rng(seed, STREAM_TELEMETRY + index as u64);
        let s = between(&mut rng, 0.0, RAIL.perimeter());
        let cruise = between(&mut rng, 0.8, 1.5);
        let soc = between(&mut rng, 0.5, 1.0);
        let temp = between(&mut rng, 23.0, 27.0);
        let jitter = between(&mut rng, 0.0, 5.0);
        Self {
            id,
            rng,
            s,
            cruise,
            soc,
            temp,
            phase: Phase::Moving,
            timer: 0.0,
            jitter,
        }
    }

    /// Advances `dt` seconds and returns the sample at the new instant.
    fn step(&mut self, ts: NaiveDateTime, dt: f64, first: bool) -> Vec<Val> {
        if !first {
            self.advance(dt);
        }
        let r = &mut self.rng;
        let (x, y, heading) = RAIL.at(self.s);
        let (speed, current, target_temp) = match self.phase {
            Phase::Moving | Phase::ToCharger => (
                (self.cruise + gauss(r, 0.05)).max(0.0),
                5.0 + 2.5 * self.cruise + gauss(r, 0.4),
                30.0 + 8.0 * self.cruise,
            ),
            Phase::Dwelling => (0.0, 0.4 + gauss(r, 0.05).abs(), 26.0),
            Phase::Charging => (0.0, 0.2 + gauss(r, 0.03).abs(), 33.0),
        };
        // First-order approach to the target temperature (time constant 15 min).
        let k = 1.0 - (-dt / 900.0).exp();
        self.temp += (target_temp - self.temp) * k;
        let voltage = 44.0 + 10.6 * self.soc + gauss(r, 0.05);
        vec![
            Val::Int(self.id),
            Val::Ts(ts),
            Val::Float(round(speed, 3)),
            Val::Float(round(self.temp + gauss(r, 0.15), 2)),
            Val::Float(round(voltage, 3)),
            Val::Float(round(current.max(0.0), 3)),
            Val::Float(round(x, 3)),
            Val::Float(round(y, 3)),
            Val::Float(0.0),
            Val::Float(round(heading, 4)),
        ]
    }

    fn advance(&mut self, mut dt: f64) {
        // Simulate in sub-steps of at most 10 s so phases change at the right time.
        while dt > 0.0 {
            let h = dt.min(10.0);
            dt -= h;
            match self.phase {
                Phase::Moving => {
                    self.s += self.cruise * h;
                    self.soc -= 0.000_045 * h * self.cruise;
                    self.timer -= h;
                    if self.soc < 0.2 {
                        self.phase = Phase::ToCharger;
                    } else if self.timer <= 0.0 {
                        self.phase = Phase::Dwelling;
                        self.timer = between(&mut self.rng, 20.0, 180.0);
                    }
                }
                Phase::Dwelling => {
                    self.soc -= 0.000_002 * h;
                    self.timer -= h;
                    if self.timer <= 0.0 {
                        self.phase = Phase::Moving;
                        self.timer = between(&mut self.rng, 60.0, 600.0);
                    }
                }
                Phase::ToCharger => {
                    let p = RAIL.perimeter();
                    let left = p - self.s.rem_euclid(p);
                    let d = (self.cruise * h).min(left);
                    self.s += d;
                    self.soc -= 0.000_045 * h * self.cruise;
                    if d >= left - 1e-9 {
                        self.s = 0.0;
                        self.phase = Phase::Charging;
                    }
                }
                Phase::Charging => {
                    self.soc += 0.000_25 * h;
                    if self.soc >= 0.95 {
                        self.soc = 0.95;
                        self.phase = Phase::Moving;
                        self.timer = between(&mut self.rng, 60.0, 600.0);
                    }
                }
            }
            self.soc = self.soc.clamp(0.05, 1.0);
        }
    }
}

/// Telemetry rows of several robots, time step by time step (robots interleaved, as they
/// would arrive). Deterministic for a given seed and robot order.
pub struct TelemetryGen {
    sims: Vec<RobotSim>,
    start: NaiveDateTime,
    samples: u64,
    interval: f64,
    step: u64,
    robot: usize,
}

impl TelemetryGen {
    /// `samples` samples per robot, `interval` seconds apart, from `start`.
    pub fn new(
        seed: u64,
        robot_ids: &[i64],
        start: NaiveDateTime,
        samples: u64,
        interval: f64,
    ) -> Self {
        Self {
            sims: robot_ids
                .iter()
                .enumerate()
                .map(|(i, &id)| RobotSim::new(seed, i, id))
                .collect(),
            start,
            samples,
            interval,
            step: 0,
            robot: 0,
        }
    }
}

impl Iterator for TelemetryGen {
    type Item = Vec<Val>;

    fn next(&mut self) -> Option<Vec<Val>> {
        if self.sims.is_empty() || self.step >= self.samples {
            return None;
        }
        let step = self.step;
        let interval = self.interval;
        let start = self.start;
        let sim = self.sims.get_mut(self.robot)?;
        let ts = at(
            start,
            step as f64 * interval + sim.jitter.min(interval / 2.0),
        );
        let row = sim.step(ts, interval, step == 0);
        self.robot += 1;
        if self.robot == self.sims.len() {
            self.robot = 0;
            self.step += 1;
        }
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.samples.saturating_sub(self.step)) as usize * self.sims.len();
        let left = left.saturating_sub(self.robot);
        (left, Some(left))
    }
}

const SCAN_POINTS: usize = 72;
const OBSTACLE_TYPES: [&str; 5] = ["static", "dynamic", "person", "vehicle", "unknown"];

fn scan_rows<'a>(
    opts: &DevOptions,
    base_id: i64,
    obstacles: &'a mut Vec<Vec<Val>>,
) -> impl Iterator<Item = Vec<Val>> + 'a {
    let mut r = rng(opts.seed, STREAM_SCANS);
    let n = u64::from(opts.lidar_scans);
    let span = f64::from(opts.days) * 86_400.0;
    let start = opts.start;
    (0..n).map(move |i| {
        let id = base_id + 1 + i as i64;
        // Evenly spread with jitter, so timestamps increase with ids.
        let t = (i as f64 + between(&mut r, 0.0, 0.9)) * span / n as f64;
        let ts = at(start, t);
        let (rx, ry, heading) = RAIL.at(between(&mut r, 0.0, RAIL.perimeter()));
        let count = [0usize, 1, 1, 2, 2, 3, 4][pick(&mut r, 7)];
        let mut ranges: Vec<f64> = (0..SCAN_POINTS)
            .map(|_| round(between(&mut r, 8.0, 30.0), 3))
            .collect();
        for k in 0..count {
            let bearing = pick(&mut r, SCAN_POINTS);
            let dist = between(&mut r, 0.8, 7.5);
            for b in bearing.saturating_sub(1)..(bearing + 2).min(SCAN_POINTS) {
                if let Some(v) = ranges.get_mut(b) {
                    *v = round(dist + gauss(&mut r, 0.02).abs(), 3);
                }
            }
            let angle = heading - PI + bearing as f64 * 2.0 * PI / SCAN_POINTS as f64;
            let kind = OBSTACLE_TYPES[pick(&mut r, OBSTACLE_TYPES.len())];
            let (w, h) = match kind {
                "person" => (between(&mut r, 0.4, 0.6), between(&mut r, 1.5, 1.9)),
                "vehicle" => (between(&mut r, 1.0, 2.0), between(&mut r, 1.2, 2.5)),
                _ => (between(&mut r, 0.2, 1.5), between(&mut r, 0.2, 2.0)),
            };
            obstacles.push(vec![
                Val::Int(id),
                Val::Text(format!("S{id}-O{}", k + 1)),
                Val::Float(round(rx + dist * angle.cos(), 3)),
                Val::Float(round(ry + dist * angle.sin(), 3)),
                Val::Float(round(between(&mut r, 0.0, 2.0), 3)),
                Val::Float(round(w, 3)),
                Val::Float(round(h, 3)),
                Val::Text(kind.into()),
                Val::Float(round(between(&mut r, 0.55, 0.99), 3)),
                Val::Ts(ts),
            ]);
        }
        let data = serde_json::json!({
            "frame": "laser",
            "pose": {"x": round(rx, 3), "y": round(ry, 3), "theta": round(heading, 4)},
            "angle_min": round(-PI, 6),
            "angle_increment": round(2.0 * PI / SCAN_POINTS as f64, 6),
            "range_max": 30.0,
            "ranges": ranges,
        });
        vec![
            Val::Int(id),
            Val::Ts(ts),
            Val::Json(data.to_string()),
            Val::Float(round(between(&mut r, 0.7, 1.0), 3)),
            Val::Float(round(0.1 + gauss(&mut r, 0.005), 4)),
            Val::Int(SCAN_POINTS as i64),
        ]
    })
}

const EVENT_KINDS: [(&str, &str, &str); 7] = [
    ("zone_violation", "warning", "Robot entered a warning zone"),
    ("obstacle_detected", "info", "Obstacle detected on the path"),
    (
        "speed_limit_exceeded",
        "warning",
        "Speed above the zone limit",
    ),
    (
        "collision_warning",
        "error",
        "Obstacle closer than the stop distance",
    ),
    ("sensor_fault", "error", "LiDAR reported degraded quality"),
    ("emergency_stop", "critical", "Emergency stop engaged"),
    ("battery_low", "warning", "Battery below 20 %"),
];

fn user_ref(r: &mut ChaCha8Rng, users: &[i64]) -> Val {
    if users.is_empty() {
        Val::Null
    } else {
        Val::Int(users[pick(r, users.len())])
    }
}

fn safety_event_rows(opts: &DevOptions, robots: &[i64], users: &[i64]) -> Vec<Vec<Val>> {
    let mut r = rng(opts.seed, STREAM_EVENTS);
    let span = f64::from(opts.days) * 86_400.0;
    let mut rows: Vec<(f64, Vec<Val>)> = (0..opts.safety_events)
        .map(|_| {
            let t = between(&mut r, 0.0, span);
            let (kind, severity, text) = EVENT_KINDS[pick(&mut r, EVENT_KINDS.len())];
            let robot = robots[pick(&mut r, robots.len())];
            let (x, y, _) = RAIL.at(between(&mut r, 0.0, RAIL.perimeter()));
            let data = serde_json::json!({
                "position": {"x": round(x, 3), "y": round(y, 3)},
                "speed": round(between(&mut r, 0.0, 1.6), 3),
                "source": "safety_monitor",
            });
            let resolved = unit(&mut r) < 0.8;
            let (resolved_at, resolved_by) = if resolved {
                (
                    Val::Ts(at(opts.start, t + between(&mut r, 30.0, 7_200.0))),
                    user_ref(&mut r, users),
                )
            } else {
                (Val::Null, Val::Null)
            };
            (
                t,
                vec![
                    Val::Text(kind.into()),
                    Val::Text(severity.into()),
                    Val::Int(robot),
                    Val::Text(format!("{text} (robot {robot})")),
                    Val::Json(data.to_string()),
                    Val::Bool(resolved),
                    resolved_at,
                    resolved_by,
                    Val::Ts(at(opts.start, t)),
                ],
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|(_, row)| row).collect()
}

const TRIGGERS: [(&str, &str); 5] = [
    ("manual", "Operator pressed the e-stop button"),
    ("automatic", "Safety system: obstacle inside the stop field"),
    ("sensor", "Bumper contact"),
    ("remote", "Stop command from the fleet manager"),
    ("software", "Watchdog timeout"),
];

fn estop_rows(opts: &DevOptions, robots: &[i64], users: &[i64]) -> Vec<Vec<Val>> {
    let mut r = rng(opts.seed, STREAM_ESTOPS);
    let span = f64::from(opts.days) * 86_400.0;
    let mut rows: Vec<(f64, Vec<Val>)> = (0..opts.emergency_stops)
        .map(|_| {
            let t = between(&mut r, 0.0, span);
            let (kind, reason) = TRIGGERS[pick(&mut r, TRIGGERS.len())];
            let robot = robots[pick(&mut r, robots.len())];
            let triggered_by = if matches!(kind, "manual" | "remote") {
                user_ref(&mut r, users)
            } else {
                Val::Null
            };
            let (x, y, _) = RAIL.at(between(&mut r, 0.0, RAIL.perimeter()));
            let data = serde_json::json!({
                "reason": reason,
                "position": {"x": round(x, 3), "y": round(y, 3)},
            });
            let resolved = unit(&mut r) < 0.9;
            let (resolved_at, resolved_by) = if resolved {
                (
                    Val::Ts(at(opts.start, t + between(&mut r, 10.0, 1_800.0))),
                    user_ref(&mut r, users),
                )
            } else {
                (Val::Null, Val::Null)
            };
            (
                t,
                vec![
                    Val::Int(robot),
                    triggered_by,
                    Val::Text(kind.into()),
                    Val::Json(data.to_string()),
                    Val::Bool(resolved),
                    resolved_at,
                    resolved_by,
                    Val::Ts(at(opts.start, t)),
                ],
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|(_, row)| row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_is_deterministic_and_physical() {
        let a: Vec<_> = TelemetryGen::new(7, &[1, 2], default_start(), 500, 60.0).collect();
        let b: Vec<_> = TelemetryGen::new(7, &[1, 2], default_start(), 500, 60.0).collect();
        let c: Vec<_> = TelemetryGen::new(8, &[1, 2], default_start(), 500, 60.0).collect();
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for row in &a {
            let Val::Float(v) = row[4] else { panic!() };
            assert!((44.0..=55.0).contains(&v), "voltage {v}");
        }
    }
}
