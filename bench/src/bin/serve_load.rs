//! Load generator for `oht50-db serve`: N keep-alive HTTP/1.1 clients send `GET PATH` back to
//! back for a fixed time; prints requests/s and latency percentiles. Plain HTTP/1.1 over
//! tokio (the server answers with Content-Length), so the generator adds next to nothing.
//!
//! Usage: serve-load --addr 127.0.0.1:8050 [--path /api/v1/migrations/status]
//!                   [--clients 50] [--seconds 10] [--label NAME]

use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// host:port of the server
    #[arg(long)]
    addr: String,
    /// Path to request
    #[arg(long, default_value = "/api/v1/migrations/status")]
    path: String,
    /// Concurrent clients (one keep-alive connection each)
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds to run
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Label printed with the result
    #[arg(long, default_value = "")]
    label: String,
}

/// One client: latencies (µs) of the 200 answers, and the failures.
async fn client(addr: String, path: String, until: Instant) -> (Vec<u64>, u64) {
    let mut latencies = Vec::new();
    let mut failures = 0;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
    let mut conn: Option<TcpStream> = None;
    let mut buf = vec![0u8; 64 * 1024];
    while Instant::now() < until {
        let stream = match conn.as_mut() {
            Some(s) => s,
            None => match TcpStream::connect(&addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn.insert(s)
                }
                Err(_) => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let start = Instant::now();
        match exchange(stream, request.as_bytes(), &mut buf).await {
            Ok(200) => latencies.push(start.elapsed().as_micros() as u64),
            Ok(_) => failures += 1,
            Err(_) => {
                failures += 1;
                conn = None;
            }
        }
    }
    (latencies, failures)
}

/// Sends `request`, reads one response; returns its status.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    let mut filled = 0;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(bad("connection closed"));
        }
        filled += n;
        let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("header not UTF-8"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| bad("no Content-Length"))?;
        let total = end + 4 + length;
        if buf.len() < total {
            buf.resize(total, 0);
        }
        while filled < total {
            let n = stream.read(&mut buf[filled..total]).await?;
            if n == 0 {
                return Err(bad("connection closed in the body"));
            }
            filled += n;
        }
        return Ok(status);
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(client(args.addr.clone(), args.path.clone(), until)))
        .collect();
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        if let Ok((l, f)) = t.await {
            all.extend(l);
            failures += f;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "{:<12} clients {:>3}  {:>6} s  requests {:>7}  failed {:>4}  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
        args.label,
        args.clients,
        args.seconds,
        all.len(),
        failures,
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
    );
}
