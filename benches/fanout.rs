//! Fan-out: many viewers on one server. The real server on the embedded
//! store, in a process of its own; a client process signs in, starts
//! `FANOUT_CALLS` live calls through the developer API, opens
//! `FANOUT_VIEWERS` call sockets spread evenly over them (from several
//! loopback source addresses), and writes every call as real calls are
//! written: a growing partial every 250 ms, the line's final every 2 s.
//! Each written text starts with its write time (wall-clock µs), so every
//! viewer measures write → frame latency for each frame it receives.
//!
//!     cargo bench --features ssr --bench fanout
//!
//! Knobs: `FANOUT_VIEWERS` (10,000), `FANOUT_CALLS` (100), `FANOUT_SECS`
//! (the measurement window, 15), `FANOUT_SWEEP` (other sizes run first,
//! each with a fresh server: "1000,2500,5000,7500"; empty for none),
//! `FANOUT_STORM` (sockets dropped at once and reconnected in the
//! `FANOUT_VIEWERS` run: 5,000, at most half the viewers),
//! `FANOUT_CLIENT_THREADS` (the client's tokio workers, 1).
//!
//! Prints a table per size: deliveries a second, latency percentiles, the
//! server's resident memory and CPU, the time to connect every socket;
//! then the reconnect storm. Every viewer checks that each final line
//! written on its call reached it exactly once, across the storm too; the
//! run fails if one was lost or doubled. Latency is printed, not checked.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{stream, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use travoiq_monitor::protocol::ServerMsg;

/// Which part this process plays (unset: the one that prints the tables).
const ROLE: &str = "FANOUT_ROLE";
/// Given to the client process by the one that prints.
const PORT: &str = "FANOUT_PORT";
const SERVER_PID: &str = "FANOUT_SERVER_PID";
const RUN_VIEWERS: &str = "FANOUT_RUN_VIEWERS";
const RUN_STORM: &str = "FANOUT_RUN_STORM";

/// A call's writes: a partial every `STEP`, `PARTIALS` of them growing,
/// then the line's final; a line every 2 s.
const STEP: Duration = Duration::from_millis(250);
const PARTIALS: u32 = 7;
/// The latency a size must keep (p99) to count as held.
const HELD_P99_MS: f64 = 250.0;
/// Sockets being opened at once when the run starts.
const CONNECTING: usize = 256;
/// Loopback source addresses the viewers connect from (127.0.0.2, …).
const SOURCES: u8 = 8;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => server(),
        Ok("client") => client(),
        _ => report(),
    }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

fn viewers() -> usize {
    knob("FANOUT_VIEWERS", 10_000).max(1)
}

fn calls() -> usize {
    knob("FANOUT_CALLS", 100).max(1)
}

fn window() -> Duration {
    Duration::from_secs(knob("FANOUT_SECS", 15).max(1) as u64)
}

/// Sizes other than `FANOUT_VIEWERS` to run, smallest first.
fn sweep() -> Vec<usize> {
    let raw = std::env::var("FANOUT_SWEEP").unwrap_or_else(|_| "1000,2500,5000,7500".into());
    let mut sizes: Vec<usize> = raw
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    sizes.push(viewers());
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn storm_size(viewers: usize) -> usize {
    knob("FANOUT_STORM", 5_000).min(viewers / 2)
}

/// Raises this process's open-file limit to its hard limit; (soft, hard).
fn raise_nofile() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, which lives here.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit");
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit reads the struct it is given.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(set, 0, "setrlimit");
    (limit.rlim_cur, limit.rlim_max)
}

// ---------------------------------------------------------------- report

/// Runs each size with a server of its own and prints the tables.
fn report() {
    let (soft, hard) = raise_nofile();
    let viewers = viewers();
    let calls = calls();
    let sizes = sweep();
    println!(
        "Fan-out: {calls} live calls, each written every {} ms (a line every {} s); \
         viewers spread evenly over them; {} s window; open files {soft} (hard {hard})",
        STEP.as_millis(),
        (STEP * (PARTIALS + 1)).as_secs_f64(),
        window().as_secs()
    );
    for &n in &sizes {
        if n as u64 + 100 > hard {
            println!("  (note: {n} viewers need more open files than the limit of {hard})");
        }
    }
    let mut rows = Vec::new();
    for &n in &sizes {
        let storm = if n == viewers { storm_size(n) } else { 0 };
        eprintln!("-- {n} viewers on {calls} calls");
        rows.push(run(n, storm));
    }

    println!();
    println!(
        "{:>8} {:>6} {:>9} {:>12} {:>7} {:>7} {:>7} {:>8} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} {:>7} {:>5} {:>7}",
        "viewers",
        "calls",
        "writes/s",
        "deliveries/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "connect s",
        "RSS before",
        "RSS after",
        "KB/conn",
        "srv CPU%",
        "cli CPU%",
        "other%",
        "lost",
        "doubled"
    );
    for r in &rows {
        let lat = &r["latency"];
        println!(
            "{:>8} {:>6} {:>9.0} {:>12.0} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>9.2} {:>7} KB {:>7} KB {:>8.1} {:>8.0} {:>8.0} {:>7.0} {:>5} {:>7}",
            r["viewers"].as_u64().unwrap_or(0),
            r["calls"].as_u64().unwrap_or(0),
            r["writes_per_s"].as_f64().unwrap_or(0.0),
            r["deliveries_per_s"].as_f64().unwrap_or(0.0),
            lat["p50"].as_f64().unwrap_or(0.0),
            lat["p90"].as_f64().unwrap_or(0.0),
            lat["p99"].as_f64().unwrap_or(0.0),
            lat["max"].as_f64().unwrap_or(0.0),
            r["connect_s"].as_f64().unwrap_or(0.0),
            r["rss_before_kb"].as_u64().unwrap_or(0),
            r["rss_after_kb"].as_u64().unwrap_or(0),
            r["kb_per_conn"].as_f64().unwrap_or(0.0),
            r["server_cpu_pct"].as_f64().unwrap_or(0.0),
            r["client_cpu_pct"].as_f64().unwrap_or(0.0),
            r["other_cpu_pct"].as_f64().unwrap_or(0.0),
            r["lost"].as_u64().unwrap_or(0),
            r["doubled"].as_u64().unwrap_or(0),
        );
    }
    println!(
        "  (CPU % of one core, over the window; the machine has {} cores; other%: \
         every other process on the machine)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for r in &rows {
        let problems = ["write_errors", "stale", "replays", "unexpected_closes"]
            .iter()
            .filter_map(|k| {
                let v = r[*k].as_u64().unwrap_or(0);
                (v > 0).then(|| format!("{k} {v}"))
            })
            .collect::<Vec<_>>();
        if !problems.is_empty() {
            println!(
                "  {} viewers: {}",
                r["viewers"].as_u64().unwrap_or(0),
                problems.join(", ")
            );
        }
    }
    if let Some(storm) = rows.iter().find_map(|r| r.get("storm")) {
        let lat = &storm["others_latency"];
        println!();
        println!(
            "Reconnect storm ({} viewers): {} sockets dropped at once, all reconnected \
             at once with their positions (?after=&epoch=)",
            storm["viewers"], storm["dropped"]
        );
        println!(
            "  all live again (caughtUp) in {:.0} ms; first {:.0} ms, median {:.0} ms; \
             {} connection attempts (failures retried after 100 ms: {}); server CPU {:.0}%",
            storm["all_live_ms"].as_f64().unwrap_or(0.0),
            storm["first_live_ms"].as_f64().unwrap_or(0.0),
            storm["median_live_ms"].as_f64().unwrap_or(0.0),
            storm["attempts"],
            storm["failed_attempts"],
            storm["server_cpu_pct"].as_f64().unwrap_or(0.0)
        );
        println!(
            "  meanwhile, live frames to every viewer (from the drop until 1 s after all \
             were back): p50 {:.1} / p99 {:.1} / max {:.1} ms",
            lat["p50"].as_f64().unwrap_or(0.0),
            lat["p99"].as_f64().unwrap_or(0.0),
            lat["max"].as_f64().unwrap_or(0.0)
        );
        println!(
            "  after the writers stopped: final lines lost {}, doubled {}, positions \
             repeated or out of order {}, resumes answered with a replay {}",
            storm["lost"], storm["doubled"], storm["stale"], storm["replays"]
        );
    }
    let held = rows
        .iter()
        .filter(|r| {
            r["latency"]["p99"].as_f64().unwrap_or(f64::MAX) <= HELD_P99_MS
                && r["lost"].as_u64() == Some(0)
                && r["doubled"].as_u64() == Some(0)
        })
        .filter_map(|r| r["viewers"].as_u64())
        .max();
    println!();
    match held {
        Some(n) => println!(
            "Most viewers held with p99 <= {HELD_P99_MS} ms and nothing lost: {n} \
             (of the sizes tried: {sizes:?})"
        ),
        None => println!("No size tried held p99 <= {HELD_P99_MS} ms: {sizes:?}"),
    }
    let broken = rows
        .iter()
        .any(|r| r["lost"].as_u64() != Some(0) || r["doubled"].as_u64() != Some(0));
    assert!(!broken, "a final line was lost or doubled (see the table)");
}

/// One size: a server process, a client process; the client's figures.
fn run(viewers: usize, storm: usize) -> Value {
    let exe = std::env::current_exe().expect("this binary");
    let mut server = Command::new(&exe)
        .env(ROLE, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("server stdout"))
        .read_line(&mut line)
        .expect("the server's port");
    let port = line
        .trim()
        .strip_prefix("port ")
        .expect("the server says its port")
        .to_string();
    eprintln!("   server pid {} on port {port}", server.id());
    let out = Command::new(&exe)
        .env(ROLE, "client")
        .env(PORT, &port)
        .env(SERVER_PID, server.id().to_string())
        .env(RUN_VIEWERS, viewers.to_string())
        .env(RUN_STORM, storm.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("client process");
    // Closing its stdin ends the server.
    drop(server.stdin.take());
    let _ = server.wait();
    assert!(out.status.success(), "the client process failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let result = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("the client's figures");
    serde_json::from_str(result).expect("figures as JSON")
}

// ---------------------------------------------------------------- server

/// The real server on the embedded store; says its port, serves until its
/// stdin closes.
fn server() {
    raise_nofile();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let accounts_file = common::temp_accounts_file();
        let retain = (calls() + 10).max(200).to_string();
        // Thousands of sockets opened at once from a few addresses: a
        // request budget they can't use up.
        let settings = common::embedded_settings(
            &accounts_file,
            &[
                ("retain_calls", &retain),
                ("requests_per_minute", "100000000"),
            ],
        );
        let app = common::loopback_app(settings).await;
        println!("port {}", app.port());
        std::io::stdout().flush().expect("stdout");
        tokio::spawn(app.run_until_stopped());
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await
        .expect("stdin");
        let _ = std::fs::remove_file(&accounts_file);
    });
    // Not a graceful shutdown of thousands of tasks: the figures are in.
    runtime.shutdown_background();
}

// ---------------------------------------------------------------- client

/// Latencies in 0.1 ms buckets up to 10 s, shared by every viewer.
struct Histogram {
    buckets: Vec<AtomicU64>,
    max_us: AtomicU64,
}

const BUCKET_US: u64 = 100;
const BUCKETS: usize = 100_000;

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
        }
    }

    fn record(&self, us: u64) {
        let i = ((us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.max_us.store(0, Ordering::Relaxed);
    }

    /// Count, and p50/p90/p99/max in ms (a bucket's upper edge).
    fn summary(&self) -> (u64, Value) {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let at = |q: f64| {
            let want = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= want {
                    return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
                }
            }
            0.0
        };
        let max = self.max_us.load(Ordering::Relaxed) as f64 / 1000.0;
        (
            total,
            json!({ "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": max }),
        )
    }
}

/// What every viewer and writer of the client share.
struct Shared {
    addr: SocketAddr,
    cookie: String,
    latency: Histogram,
    /// Viewers that have caught up since they (re)connected.
    live: AtomicUsize,
    /// Stormed viewers back (caught up) after the drop.
    back: AtomicUsize,
    back_ms: std::sync::Mutex<Vec<f64>>,
    storm_began: std::sync::Mutex<Option<Instant>>,
    changed: Notify,
    attempts: AtomicU64,
    failed_attempts: AtomicU64,
    storm: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    stop_writing: AtomicBool,
    /// Finals each call's writer had acknowledged.
    finals_written: Vec<AtomicU64>,
    writes: AtomicU64,
    write_errors: AtomicU64,
}

/// What one viewer saw, returned when it stops.
#[derive(Default)]
struct Tally {
    call: usize,
    /// Times each line's final arrived, by line number.
    finals: Vec<u8>,
    /// Transcript frames at a position not after the last one.
    stale: u64,
    /// Resumes the server answered by replaying the call.
    replays: u64,
    /// Sockets the server ended unasked.
    unexpected_closes: u64,
}

type Ws = WebSocketStream<TcpStream>;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The whole machine's busy CPU time (every core), in seconds, from
/// /proc/stat: to see what else ran during a window.
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpu = stat.lines().next().expect("cpu line");
    // user nice system idle iowait irq softirq steal
    let f: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().expect("ticks"))
        .collect();
    let busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    busy as f64 / per_sec
}

fn client() {
    raise_nofile();
    let threads = knob("FANOUT_CLIENT_THREADS", 1).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(drive());
    println!("RESULT {result}");
    std::io::stdout().flush().expect("stdout");
    runtime.shutdown_background();
}

async fn drive() -> Value {
    let port: u16 = std::env::var(PORT).expect("port").parse().expect("port");
    let server = std::env::var(SERVER_PID).expect("server pid");
    let viewers = knob(RUN_VIEWERS, 1);
    let storm = knob(RUN_STORM, 0);
    let calls = calls();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(calls)
        .build()
        .expect("http client");
    let cookie = common::sign_in(&base).await;
    let ids: Vec<String> = stream::iter(0..calls)
        .map(|_| common::create_call(&http, &base))
        .buffered(16)
        .collect()
        .await;
    let (storm_tx, _) = watch::channel(false);
    let (stop_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        cookie,
        latency: Histogram::new(),
        live: AtomicUsize::new(0),
        back: AtomicUsize::new(0),
        back_ms: std::sync::Mutex::new(Vec::new()),
        storm_began: std::sync::Mutex::new(None),
        changed: Notify::new(),
        attempts: AtomicU64::new(0),
        failed_attempts: AtomicU64::new(0),
        storm: storm_tx,
        stop: stop_tx,
        stop_writing: AtomicBool::new(false),
        finals_written: (0..calls).map(|_| AtomicU64::new(0)).collect(),
        writes: AtomicU64::new(0),
        write_errors: AtomicU64::new(0),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = common::rss_kb(&server);

    // Every viewer, a few hundred connecting at a time.
    let begun = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECTING));
    let mut tasks = Vec::with_capacity(viewers);
    for i in 0..viewers {
        let call = i % calls;
        let path = format!("/ws/{}", ids[call]);
        // The first `storm` viewers cover every call evenly too.
        let stormed = i < storm;
        let permit = gate.clone().acquire_owned().await.expect("gate");
        tasks.push(tokio::spawn(viewer(
            shared.clone(),
            call,
            i,
            path,
            stormed,
            permit,
        )));
    }
    wait_until(&shared, || shared.live.load(Ordering::Relaxed) >= viewers).await;
    let connect = begun.elapsed();
    eprintln!("   {viewers} sockets open and caught up in {connect:.1?}");

    // The writers, spread over the first step so writes come evenly.
    let writers: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let offset = STEP * i as u32 / calls as u32;
            tokio::spawn(write_call(
                http.clone(),
                base.clone(),
                id.clone(),
                i,
                offset,
                shared.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The window.
    shared.latency.reset();
    let writes_before = shared.writes.load(Ordering::Relaxed);
    let (server_cpu, client_cpu) = (common::cpu_secs(&server), common::cpu_secs("self"));
    let machine_cpu = machine_busy_secs();
    let started = Instant::now();
    tokio::time::sleep(window()).await;
    let secs = started.elapsed().as_secs_f64();
    let server_cpu = (common::cpu_secs(&server) - server_cpu) / secs * 100.0;
    let client_cpu = (common::cpu_secs("self") - client_cpu) / secs * 100.0;
    // Everything else on the machine (another build skews the figures).
    let other_cpu =
        ((machine_busy_secs() - machine_cpu) / secs * 100.0 - server_cpu - client_cpu).max(0.0);
    let writes = (shared.writes.load(Ordering::Relaxed) - writes_before) as f64 / secs;
    let (delivered, latency) = shared.latency.summary();
    let rss_after = common::rss_kb(&server);
    eprintln!(
        "   window: {:.0} deliveries/s, p99 {} ms, server CPU {server_cpu:.0}%, client CPU \
         {client_cpu:.0}%, others {other_cpu:.0}%",
        delivered as f64 / secs,
        latency["p99"]
    );

    let storm_figures = if storm > 0 {
        Some(reconnect_storm(&shared, &server, storm).await)
    } else {
        None
    };

    // Stop writing, let the last frames arrive, then stop the viewers and
    // check what each received against what was written on its call.
    shared.stop_writing.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = shared.stop.send(true);
    let mut lost = 0u64;
    let mut doubled = 0u64;
    let (mut stale, mut replays, mut closes) = (0, 0, 0);
    for t in tasks {
        let tally = t.await.expect("viewer");
        let written = shared.finals_written[tally.call].load(Ordering::Relaxed) as usize;
        let mut finals = tally.finals;
        finals.resize(written.max(finals.len()), 0);
        lost += finals[..written].iter().filter(|&&n| n == 0).count() as u64;
        doubled += finals.iter().filter(|&&n| n > 1).count() as u64;
        stale += tally.stale;
        replays += tally.replays;
        closes += tally.unexpected_closes;
    }
    let lines: u64 = shared
        .finals_written
        .iter()
        .map(|f| f.load(Ordering::Relaxed))
        .sum();
    eprintln!("   {lines} final lines written; lost {lost}, doubled {doubled}");
    let mut result = json!({
        "viewers": viewers,
        "calls": calls,
        "writes_per_s": writes,
        "deliveries_per_s": delivered as f64 / secs,
        "latency": latency,
        "connect_s": connect.as_secs_f64(),
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "kb_per_conn": rss_after.saturating_sub(rss_before) as f64 / viewers as f64,
        "server_cpu_pct": server_cpu,
        "client_cpu_pct": client_cpu,
        "other_cpu_pct": other_cpu,
        "final_lines": lines,
        "lost": lost,
        "doubled": doubled,
        "stale": stale,
        "replays": replays,
        "unexpected_closes": closes,
        "write_errors": shared.write_errors.load(Ordering::Relaxed),
    });
    if let Some(mut storm) = storm_figures {
        storm["viewers"] = json!(viewers);
        storm["lost"] = json!(lost);
        storm["doubled"] = json!(doubled);
        storm["stale"] = json!(stale);
        storm["replays"] = json!(replays);
        result["storm"] = storm;
    }
    result
}

/// Drops the first `n` viewers' sockets at once; they reconnect at once
/// with their positions. Times until all have caught up again.
async fn reconnect_storm(shared: &Arc<Shared>, server: &str, n: usize) -> Value {
    shared.latency.reset();
    let attempts = shared.attempts.load(Ordering::Relaxed);
    let failed = shared.failed_attempts.load(Ordering::Relaxed);
    let cpu = common::cpu_secs(server);
    let began = Instant::now();
    *shared.storm_began.lock().expect("lock") = Some(began);
    let _ = shared.storm.send(true);
    wait_until(shared, || shared.back.load(Ordering::Relaxed) >= n).await;
    let all = began.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = (common::cpu_secs(server) - cpu) / began.elapsed().as_secs_f64() * 100.0;
    let (_, latency) = shared.latency.summary();
    let mut back = shared.back_ms.lock().expect("lock").clone();
    back.sort_by(f64::total_cmp);
    eprintln!("   storm: {n} back in {all:.1?}");
    json!({
        "dropped": n,
        "all_live_ms": all.as_secs_f64() * 1000.0,
        "first_live_ms": back.first().copied().unwrap_or(0.0),
        "median_live_ms": back.get(back.len() / 2).copied().unwrap_or(0.0),
        "attempts": shared.attempts.load(Ordering::Relaxed) - attempts,
        "failed_attempts": shared.failed_attempts.load(Ordering::Relaxed) - failed,
        "server_cpu_pct": cpu,
        "others_latency": latency,
    })
}

/// Waits (checking at every viewer change, and every 100 ms) until `done`,
/// at most two minutes.
async fn wait_until(shared: &Shared, done: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < give_up, "viewers did not all connect");
        let _ = tokio::time::timeout(Duration::from_millis(100), shared.changed.notified()).await;
    }
}

/// Opens a call socket from `source`, with small buffers of its own (as
/// idle_sockets does).
async fn open(shared: &Shared, source: IpAddr, path: &str) -> Result<Ws, String> {
    shared.attempts.fetch_add(1, Ordering::Relaxed);
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    let stream = socket
        .connect(shared.addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{}{path}", shared.addr)
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "cookie",
        shared.cookie.parse().map_err(|_| "cookie".to_string())?,
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Opens a socket, retrying every 100 ms; `None` once told to stop.
async fn open_retrying(shared: &Shared, source: IpAddr, path: &str) -> Option<Ws> {
    let mut stop = shared.stop.subscribe();
    loop {
        if *stop.borrow_and_update() {
            return None;
        }
        match open(shared, source, path).await {
            Ok(ws) => return Some(ws),
            Err(_) => {
                shared.failed_attempts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One viewer: follows its call as the page does, times every live frame,
/// counts each line's finals; when stormed, drops its socket and resumes
/// from its position at once.
async fn viewer(
    shared: Arc<Shared>,
    call: usize,
    index: usize,
    path: String,
    stormed: bool,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Tally {
    let source = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        2 + (index % SOURCES as usize) as u8,
    ));
    let mut tally = Tally {
        call,
        ..Tally::default()
    };
    let mut storm = shared.storm.subscribe();
    let mut stop = shared.stop.subscribe();
    let mut permit = Some(permit);
    let mut dropped = false;
    // Dropped by the storm and not caught up since.
    let mut coming_back = false;
    let mut first = true;
    // Where this viewer stands: (epoch, last position).
    let mut at: Option<(u64, u64)> = None;
    loop {
        let url = match at {
            Some((epoch, after)) => format!("{path}?after={after}&epoch={epoch}"),
            None => path.clone(),
        };
        let Some(mut ws) = open_retrying(&shared, source, &url).await else {
            return tally;
        };
        let asked = at;
        let mut live = false;
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(_)) => continue,
                        None | Some(Err(_)) => {
                            tally.unexpected_closes += 1;
                            break;
                        }
                    };
                    let Ok(msg) = serde_json::from_str::<ServerMsg>(&text) else {
                        continue;
                    };
                    match msg {
                        ServerMsg::Hello { after, epoch, .. } => {
                            if asked.is_some_and(|(e, a)| e != epoch || a != after.0) {
                                // The page starts its transcript afresh.
                                tally.replays += 1;
                                tally.finals.clear();
                            }
                            at = Some((epoch, after.0));
                        }
                        ServerMsg::Transcript(seg) => {
                            let (epoch, last) = at.unwrap_or_default();
                            if seg.seq.0 <= last {
                                tally.stale += 1;
                            }
                            at = Some((epoch, last.max(seg.seq.0)));
                            if live {
                                let written: u64 = seg
                                    .text
                                    .split(' ')
                                    .next()
                                    .and_then(|s| s.parse().ok())
                                    .unwrap_or(0);
                                shared.latency.record(now_us().saturating_sub(written));
                            }
                            if !seg.partial {
                                if let Some(line) = seg
                                    .segment_id
                                    .strip_prefix('L')
                                    .and_then(|n| n.parse::<usize>().ok())
                                {
                                    if tally.finals.len() <= line {
                                        tally.finals.resize(line + 1, 0);
                                    }
                                    tally.finals[line] = tally.finals[line].saturating_add(1);
                                }
                            }
                        }
                        ServerMsg::CaughtUp { .. } => {
                            live = true;
                            permit = None;
                            if first {
                                first = false;
                                shared.live.fetch_add(1, Ordering::Relaxed);
                            }
                            if coming_back {
                                coming_back = false;
                                count_back(&shared);
                            }
                            shared.changed.notify_waiters();
                        }
                        _ => {}
                    }
                }
                _ = storm.changed(), if stormed && !dropped => {
                    // The network drops the socket: no close frame.
                    dropped = true;
                    coming_back = true;
                    drop(permit.take());
                    break;
                }
                _ = stop.changed() => return tally,
            }
        }
        drop(ws);
    }
}

/// Counts a stormed viewer back, and when.
fn count_back(shared: &Shared) {
    let began = *shared.storm_began.lock().expect("lock");
    if let Some(began) = began {
        let ms = began.elapsed().as_secs_f64() * 1000.0;
        shared.back_ms.lock().expect("lock").push(ms);
    }
    shared.back.fetch_add(1, Ordering::Relaxed);
}

/// Writes one call as a call is written: each line grows through
/// `PARTIALS` partials, one every `STEP`, then its final; every text
/// starts with its write time in µs.
async fn write_call(
    http: reqwest::Client,
    base: String,
    id: String,
    index: usize,
    offset: Duration,
    shared: Arc<Shared>,
) {
    const WORDS: &[&str] = &[
        "thanks", "for", "calling", "how", "can", "I", "help", "you", "today",
    ];
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(STEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let url = format!("{base}/api/dev/calls/{id}/segments");
    for line in 0u64.. {
        let speaker = if line % 2 == 0 { "Customer" } else { "Agent" };
        for step in 0..=PARTIALS {
            tick.tick().await;
            if shared.stop_writing.load(Ordering::Relaxed) {
                return;
            }
            let partial = step < PARTIALS;
            let words = WORDS[..(step as usize + 1).min(WORDS.len())].join(" ");
            let body = json!({
                "speaker": speaker,
                "startMs": line * 2000,
                "endMs": line * 2000 + 1500,
                "text": format!("{} {words}", now_us()),
                "partial": partial,
                "segmentId": format!("L{line}"),
            });
            let sent = http
                .post(&url)
                .header("x-dev-token", common::DEV_TOKEN)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => {
                    shared.writes.fetch_add(1, Ordering::Relaxed);
                    if !partial {
                        shared.finals_written[index].fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ => {
                    shared.write_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
