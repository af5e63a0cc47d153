//! What an idle live socket costs the server in memory: the real server on
//! the embedded store with one call, and N sockets open on that call doing
//! nothing; once with the socket library's 128 KiB read buffer and once
//! with `socket_read_buffer_bytes` (Leptos.toml). Prints the server's
//! resident memory (VmRSS) growth per socket for each, and their ratio.
//!
//!     cargo bench --features ssr --bench idle_sockets
//!
//! `IDLE_SOCKETS_N` sets N (2,000). Each run is a server process of its own
//! (this binary again), so memory one run freed cannot flatter the next, and
//! the sockets' client end is a third process, so only the server's side is
//! counted. No limits are checked: it prints figures.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use travoiq_monitor::server::config::Settings;

/// Which part this process plays (unset: the one that prints the table).
const ROLE: &str = "IDLE_SOCKETS_ROLE";
/// The server process's read buffer.
const READ_BUFFER: &str = "IDLE_SOCKETS_READ_BUFFER";
/// The client process's target and count.
const URL: &str = "IDLE_SOCKETS_URL";
const COOKIE: &str = "IDLE_SOCKETS_COOKIE";
const COUNT: &str = "IDLE_SOCKETS_N";

/// tungstenite's default read buffer (what axum's upgrade uses unless told).
const LIBRARY_DEFAULT: usize = 128 * 1024;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("server") => server(),
        Ok("client") => client(),
        _ => report(),
    }
}

fn count() -> usize {
    std::env::var(COUNT)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000)
}

/// Runs the two servers one after the other and prints their figures.
fn report() {
    let n = count();
    let ours = Settings::load_with(&[])
        .expect("settings")
        .socket_read_buffer_bytes;
    println!("Server memory per idle call socket, {n} sockets (VmRSS growth / N)");
    println!(
        "{:<34} {:>12} {:>14} {:>12}",
        "read buffer", "RSS before", "RSS with N", "KB / socket"
    );
    let mut per = Vec::new();
    for (label, bytes) in [
        ("library default", LIBRARY_DEFAULT),
        ("socket_read_buffer_bytes", ours),
    ] {
        let (before, after) = run_server(bytes, n);
        let kb = (after.saturating_sub(before)) as f64 / n as f64;
        println!(
            "{:<34} {:>9} KB {:>11} KB {:>12.1}",
            format!("{label} ({} KiB)", bytes / 1024),
            before,
            after,
            kb
        );
        per.push(kb);
    }
    println!(
        "  ratio library default / socket_read_buffer_bytes: {:.1}",
        per[0] / per[1]
    );
}

/// One server process; its VmRSS (KB) before and with the N sockets open.
fn run_server(read_buffer: usize, n: usize) -> (u64, u64) {
    let exe = std::env::current_exe().expect("this binary");
    let out = Command::new(exe)
        .env(ROLE, "server")
        .env(READ_BUFFER, read_buffer.to_string())
        .env(COUNT, n.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("server process");
    assert!(out.status.success(), "the server process failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RSS "))
        .expect("the server process's figures");
    let mut kb = line.split(' ').map(|v| v.parse::<u64>().expect("KB"));
    (kb.next().expect("before"), kb.next().expect("after"))
}

#[tokio::main]
async fn server() {
    let read_buffer = std::env::var(READ_BUFFER).expect("read buffer");
    let n = count();
    let accounts_file = common::temp_accounts_file();
    // N sockets from one address, all opened within the minute.
    let settings = common::embedded_settings(
        &accounts_file,
        &[
            ("socket_read_buffer_bytes", &read_buffer),
            ("requests_per_minute", "1000000"),
        ],
    );
    let app = common::loopback_app(settings).await;
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let cookie = common::sign_in(&base).await;
    let call = common::create_call(&reqwest::Client::new(), &base).await;

    // Settle, then measure, open the sockets from another process, measure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = common::rss_kb("self");
    let mut client = Command::new(std::env::current_exe().expect("this binary"))
        .env(ROLE, "client")
        .env(URL, format!("ws://127.0.0.1:{port}/ws/{call}"))
        .env(COOKIE, &cookie)
        .env(COUNT, n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("client process");
    let mut ready = String::new();
    BufReader::new(client.stdout.take().expect("client stdout"))
        .read_line(&mut ready)
        .expect("client says it is ready");
    assert_eq!(ready.trim(), "open", "the client opened its sockets");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = common::rss_kb("self");
    // Closing its stdin ends the client.
    drop(client.stdin.take());
    let _ = client.wait();
    let _ = std::fs::remove_file(&accounts_file);
    println!("RSS {before} {after}");
    std::io::stdout().flush().expect("stdout");
}

/// Opens N sockets (with small buffers of its own), reads whatever comes,
/// says "open", and holds them until its stdin closes.
#[tokio::main]
async fn client() {
    let url = std::env::var(URL).expect("url");
    let cookie = std::env::var(COOKIE).expect("cookie");
    let n = count();
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let begun = Instant::now();
    let sockets: Vec<_> = stream::iter(0..n)
        .map(|_| {
            let mut request = url.as_str().into_client_request().expect("request");
            request
                .headers_mut()
                .insert("cookie", cookie.parse().expect("cookie"));
            async move {
                let (ws, _) =
                    tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                        .await
                        .expect("socket");
                ws
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }))
        .collect();
    eprintln!("  {n} sockets open in {:.1?}", begun.elapsed());
    // Let the first frames (the call's snapshot) arrive before saying so.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("open");
    std::io::stdout().flush().expect("stdout");
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    })
    .await
    .expect("stdin");
    for r in readers {
        r.abort();
    }
}
