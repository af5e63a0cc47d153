//! What a new viewer's backlog costs: the real server on the embedded store
//! with one call of N lines, and viewers opening it. Once with every frame
//! written alone (`socket_write_buffer_bytes = 0`) and once with the
//! shipped setting (Leptos.toml), which gathers a page of the backlog into
//! a few large writes. For each it prints:
//!
//! - one viewer's time from connecting to the last line of the backlog,
//!   median of five;
//! - V viewers connecting at once: time until all of them have every line,
//!   and the server's CPU time for them;
//! - the server's memory growth per socket once they are all caught up
//!   (what a write buffer left behind costs).
//!
//!     cargo bench --features ssr --bench backlog
//!
//! `BACKLOG_LINES` (5,000) and `BACKLOG_VIEWERS` (200) set N and V. Each
//! setting runs in a server process of its own (this binary again), and
//! the viewers are a third process, so the server's counts (from
//! /proc/self: CPU time, VmRSS) are its own. (The server's write calls
//! can't be counted from /proc: `syscw` leaves out socket sends.) It prints figures
//! and checks only that every viewer got every line.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use travoiq_monitor::server::config::Settings;

/// Which part this process plays (unset: the one that prints the table).
const ROLE: &str = "BACKLOG_ROLE";
/// The server process's write buffer.
const WRITE_BUFFER: &str = "BACKLOG_WRITE_BUFFER";
/// The viewers' target.
const URL: &str = "BACKLOG_URL";
const COOKIE: &str = "BACKLOG_COOKIE";
const LINES: &str = "BACKLOG_LINES";
const VIEWERS: &str = "BACKLOG_VIEWERS";

/// One viewer alone, this many times.
const ALONE: usize = 5;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => server(),
        Ok("viewers") => viewers(),
        _ => report(),
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn lines() -> usize {
    env_count(LINES, 5_000)
}

fn viewer_count() -> usize {
    env_count(VIEWERS, 200)
}

/// Runs the server once per setting and prints their figures side by side.
fn report() {
    let (n, v) = (lines(), viewer_count());
    let ours = Settings::load_with(&[])
        .expect("settings")
        .socket_write_buffer_bytes;
    println!("A new viewer's backlog: a call of {n} lines (embedded store)");
    println!(
        "{:<30} {:>14} {:>16} {:>14} {:>14}",
        "write buffer",
        "1 viewer (ms)",
        format!("{v} at once (ms)"),
        "their CPU (ms)",
        "KB / socket"
    );
    let mut rows = Vec::new();
    for (label, bytes) in [
        ("0 (a write a frame)".to_string(), 0),
        (format!("{} KiB (shipped)", ours / 1024), ours),
    ] {
        let r = run_server(bytes);
        println!(
            "{:<30} {:>14.1} {:>16.0} {:>14.0} {:>14.1}",
            label,
            r["alone_ms"].as_f64().unwrap_or(f64::NAN),
            r["all_ms"].as_f64().unwrap_or(f64::NAN),
            r["all_cpu_ms"].as_f64().unwrap_or(f64::NAN),
            r["kb_per_socket"].as_f64().unwrap_or(f64::NAN),
        );
        rows.push(r);
    }
    let ratio = |k: &str| {
        let (a, b) = (rows[0][k].as_f64(), rows[1][k].as_f64());
        a.zip(b)
            .map_or(f64::NAN, |(a, b)| a / b.max(f64::MIN_POSITIVE))
    };
    println!(
        "  frame by frame / batched: 1 viewer ×{:.2} time; {v} at once ×{:.2} time, ×{:.2} CPU",
        ratio("alone_ms"),
        ratio("all_ms"),
        ratio("all_cpu_ms"),
    );
}

/// One server process with `write_buffer`; its figures.
fn run_server(write_buffer: usize) -> Value {
    let exe = std::env::current_exe().expect("this binary");
    let out = Command::new(exe)
        .env(ROLE, "server")
        .env(WRITE_BUFFER, write_buffer.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("server process");
    assert!(out.status.success(), "the server process failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("the server process's figures");
    serde_json::from_str(line).expect("figures as JSON")
}

#[tokio::main]
async fn server() {
    let write_buffer = std::env::var(WRITE_BUFFER).expect("write buffer");
    let (n, v) = (lines(), viewer_count());
    let accounts_file = common::temp_accounts_file();
    let settings = common::embedded_settings(
        &accounts_file,
        &[
            ("socket_write_buffer_bytes", &write_buffer),
            ("requests_per_minute", "100000000"),
        ],
    );
    let app = common::loopback_app(settings).await;
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let cookie = common::sign_in(&base).await;
    let call = write_call(&base, n).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut viewers = Command::new(std::env::current_exe().expect("this binary"))
        .env(ROLE, "viewers")
        .env(URL, format!("ws://127.0.0.1:{port}/ws/{call}"))
        .env(COOKIE, &cookie)
        .env(LINES, n.to_string())
        .env(VIEWERS, v.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("viewers process");
    let stdin = viewers.stdin.as_mut().expect("viewers' stdin");
    let mut said = BufReader::new(viewers.stdout.take().expect("viewers' stdout")).lines();
    let mut next = move || said.next().expect("a line").expect("text");

    // One viewer at a time (the process says when each is done).
    for _ in 0..ALONE {
        writeln!(stdin, "one").expect("ask");
        assert_eq!(next(), "done");
    }
    let alone: Value = serde_json::from_str(&next()).expect("alone figures");

    // Then all of them at once.
    let (cpu_before, rss_before) = (common::cpu_secs("self"), common::rss_kb("self"));
    writeln!(stdin, "all").expect("ask");
    let all: Value = serde_json::from_str(&next()).expect("all figures");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cpu_after, rss_after) = (common::cpu_secs("self"), common::rss_kb("self"));
    drop(viewers.stdin.take());
    let _ = viewers.wait();
    let _ = std::fs::remove_file(&accounts_file);
    let result = json!({
        "alone_ms": alone["median_ms"],
        "all_ms": all["all_ms"],
        "all_cpu_ms": (cpu_after - cpu_before) * 1000.0,
        "kb_per_socket": rss_after.saturating_sub(rss_before) as f64 / v as f64,
    });
    println!("RESULT {result}");
    std::io::stdout().flush().expect("stdout");
}

/// A call of `n` lines, through the developer API; its id.
async fn write_call(base: &str, n: usize) -> String {
    let client = reqwest::Client::new();
    let id = common::create_call(&client, base).await;
    let url = format!("{base}/api/dev/calls/{id}/segments");
    stream::iter(0..n)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let speaker = if i % 2 == 0 { "Customer" } else { "Agent" };
                let res = client
                    .post(url)
                    .header("x-dev-token", common::DEV_TOKEN)
                    .json(&json!({
                        "speaker": speaker,
                        "startMs": i * 1400,
                        "text": format!("{i}: so I was wondering whether the later flight still has a window seat available"),
                    }))
                    .send()
                    .await
                    .expect("a line written");
                assert!(res.status().is_success(), "line {i}: {}", res.status());
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    id
}

/// Opens a viewer and reads until its backlog is in (every line, then
/// `caughtUp`); the socket, still open.
async fn catch_up(
    url: &str,
    cookie: &str,
    n: usize,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie"));
    let config = WebSocketConfig::default().read_buffer_size(64 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), false)
        .await
        .expect("socket");
    let mut lines = 0;
    while let Some(frame) = ws.next().await {
        let Ok(Message::Text(text)) = frame else {
            continue;
        };
        // Cheaper than parsing every frame whole.
        if text.starts_with(r#"{"type":"transcript""#) {
            lines += 1;
        } else if text.contains(r#""type":"caughtUp""#) {
            break;
        }
    }
    assert_eq!(lines, n, "every line of the backlog");
    ws
}

/// Takes orders on stdin: "one" opens a viewer alone and closes it; after
/// the last of those it prints their median; "all" opens every viewer at
/// once, prints how long until all were caught up, and holds them open
/// until stdin closes.
#[tokio::main]
async fn viewers() {
    let url = std::env::var(URL).expect("url");
    let cookie = std::env::var(COOKIE).expect("cookie");
    let (n, v) = (lines(), viewer_count());
    let mut orders = BufReader::new(std::io::stdin()).lines();
    let mut alone = Vec::new();
    loop {
        let order = tokio::task::block_in_place(|| orders.next())
            .and_then(Result::ok)
            .unwrap_or_default();
        match order.as_str() {
            "one" => {
                let begun = Instant::now();
                let mut ws = catch_up(&url, &cookie, n).await;
                alone.push(begun.elapsed().as_secs_f64() * 1000.0);
                let _ = ws.close(None).await;
                say("done");
                if alone.len() == ALONE {
                    alone.sort_by(f64::total_cmp);
                    say(&json!({ "median_ms": alone[ALONE / 2] }).to_string());
                }
            }
            "all" => {
                let begun = Instant::now();
                let open: Vec<_> = stream::iter(0..v)
                    .map(|_| catch_up(&url, &cookie, n))
                    .buffer_unordered(v)
                    .collect()
                    .await;
                let all_ms = begun.elapsed().as_secs_f64() * 1000.0;
                say(&json!({ "all_ms": all_ms }).to_string());
                // Held open (and read) until the server has its figures.
                let readers: Vec<_> = open
                    .into_iter()
                    .map(|mut ws| {
                        tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} })
                    })
                    .collect();
                let _ = tokio::task::block_in_place(|| orders.next());
                for r in readers {
                    r.abort();
                }
                return;
            }
            _ => return,
        }
    }
}

fn say(line: &str) {
    println!("{line}");
    std::io::stdout().flush().expect("stdout");
}
