//! Two instances of the server binary behind a real load balancer (HAProxy,
//! from Debian), both on the DynamoDB backend (moto), with one secret and
//! one accounts table: a session made through the balancer is valid on
//! both; a viewer's WebSocket is upgraded through it; the instance the
//! viewer is on is killed (SIGKILL) mid-call while lines are written; the
//! viewer reconnects through the balancer as the browser does, lands on
//! the other instance, and ends up with every line once, in order.
//!
//! Processes, not in-process servers: a killed instance must take its
//! sockets, feeds and caches with it, as a crashed machine does. The
//! HAProxy configuration is written at test time with free loopback
//! ports; HAProxy runs in the foreground and is killed at the end.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use travoiq_monitor::live::state::{LiveState, Showing};
use travoiq_monitor::model::{CallId, CallSnapshot, Segment, Seq};
use travoiq_monitor::protocol::{backoff_ms, ServerMsg};
use travoiq_monitor::server::config::{Settings, WriterFormat};
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::CallSink;

use crate::common::dynamo::{free_port, in_turn, line, start_call, unique_prefix, writer};
use crate::common::{
    create_account_tables, dynamo_settings, plain_client, sign_in_at, ws_request, Ws, DEMO_PASSWORD,
};

const SECRET: &str = "a-secret-both-instances-share-0123456789";

/// A child process, killed when the test ends however it ends.
struct Proc {
    name: &'static str,
    child: Option<Child>,
}

impl Proc {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One instance of the monitor: its port, its metrics port, its process.
struct Instance {
    port: u16,
    metrics: u16,
    proc: Proc,
}

/// Instance `name` of the monitor, its tables under `prefix` on moto at
/// `endpoint`, answering for the balancer's address (`lb` its port).
fn start_instance(
    name: &'static str,
    prefix: &str,
    endpoint: &str,
    lb: u16,
    dir: &Path,
) -> Instance {
    let (port, metrics) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_travoiq-monitor"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LEPTOS_") || key.starts_with("TRAVOIQ_") {
            command.env_remove(key);
        }
    }
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
    let child = command
        .current_dir(dir)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TRAVOIQ_STORE", "dynamodb")
        .env("TRAVOIQ_TABLE_PREFIX", prefix)
        .env("TRAVOIQ_DYNAMODB_ENDPOINT", endpoint)
        .env("TRAVOIQ_SECRET", SECRET)
        .env("TRAVOIQ_SIMULATOR", "off")
        .env("TRAVOIQ_DEMO_USERS", "on")
        .env("TRAVOIQ_DEMO_PASSWORD", DEMO_PASSWORD)
        .env("TRAVOIQ_AUDIT_LOG", "off")
        .env("TRAVOIQ_TRUSTED_PROXIES", "127.0.0.1")
        // Users reach it by the balancer's name, not its own.
        .env("TRAVOIQ_ALLOWED_HOSTS", format!("127.0.0.1:{lb}"))
        .env("TRAVOIQ_MAX_SOCKETS_PER_CLIENT", "0")
        .env("TRAVOIQ_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
        .env("RUST_LOG", "warn,travoiq_monitor=info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the server binary");
    Instance {
        port,
        metrics,
        proc: Proc {
            name,
            child: Some(child),
        },
    }
}

/// Waits until `url` answers 200 (at most 60 s: a debug build on moto).
async fn until_up(url: &str) {
    let started = Instant::now();
    loop {
        match plain_client().get(url).send().await {
            Ok(res) if res.status() == 200 => return,
            _ if started.elapsed() > Duration::from_secs(60) => {
                panic!("{url} did not answer 200 within 60 s")
            }
            // The poll interval of waiting for a process to listen.
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// HAProxy's configuration: one frontend on `port`, round robin over the
/// instances with no stickiness; a connection refused by a dead instance
/// is retried on another (`redispatch`); `/healthz` checks take a dead
/// one out.
fn haproxy_config(port: u16, instances: &[(&str, u16)]) -> String {
    let mut cfg = format!(
        "global\n\
         \x20 maxconn 2000\n\
         defaults\n\
         \x20 mode http\n\
         \x20 timeout connect 1s\n\
         \x20 timeout client 30s\n\
         \x20 timeout server 30s\n\
         \x20 timeout tunnel 1h\n\
         \x20 option redispatch 1\n\
         \x20 retries 3\n\
         \x20 option forwardfor\n\
         frontend monitor\n\
         \x20 bind 127.0.0.1:{port}\n\
         \x20 default_backend monitors\n\
         backend monitors\n\
         \x20 balance roundrobin\n\
         \x20 option httpchk\n\
         \x20 http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1:{port}\n\
         \x20 http-check expect status 200\n\
         \x20 default-server check inter 500ms fall 2 rise 2\n"
    );
    for (name, port) in instances {
        cfg.push_str(&format!("  server {name} 127.0.0.1:{port}\n"));
    }
    cfg
}

fn haproxy_installed() -> bool {
    Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Open call sockets on an instance, from its `/metrics`; `None` when it
/// does not answer (killed).
async fn call_sockets(instance: &Instance) -> Option<u64> {
    let url = format!("http://127.0.0.1:{}/metrics", instance.metrics);
    let text = plain_client()
        .get(url)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("travoiq_sockets{kind=\"call\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// How a read of the viewer's socket went.
enum Read {
    Frame(ServerMsg),
    Ended,
}

/// The next frame other than a heartbeat, or the socket's end; fails the
/// test if neither comes within `within`.
async fn read(ws: &mut Ws, within: Duration) -> Read {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no frame and no end within {within:?}"));
        match next {
            Some(Ok(Message::Text(text))) => {
                let msg: ServerMsg = serde_json::from_str(&text).expect("a server frame");
                if msg != ServerMsg::Heartbeat {
                    return Read::Frame(msg);
                }
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Read::Ended,
            Some(Ok(_)) => {}
        }
    }
}

/// The viewer: the browser's own state (`LiveState::apply`, the reducer
/// the page runs), fed every frame; and the segments each socket sent.
struct Viewer {
    state: Option<LiveState>,
    sent_on_this_socket: Vec<Segment>,
}

impl Viewer {
    fn apply(&mut self, msg: ServerMsg) {
        if let ServerMsg::Transcript(seg) = &msg {
            self.sent_on_this_socket.push(seg.clone());
        }
        if self.state.is_none() {
            if let ServerMsg::Hello { call, epoch, .. } = &msg {
                self.state = Some(LiveState::call(
                    CallSnapshot {
                        details: call.clone(),
                        segments: Vec::new(),
                        last_seq: Seq::ZERO,
                        epoch: *epoch,
                        alerts: Vec::new(),
                    },
                    None,
                ));
            }
        }
        if let Some(state) = &mut self.state {
            state.apply(msg, false);
        }
    }

    /// The lines on screen, in order.
    fn shown(&self) -> Vec<String> {
        match self.state.as_ref().map(|s| &s.showing) {
            Some(Showing::Call(feed)) => feed
                .transcript
                .segments()
                .iter()
                .map(|s| s.text.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn path(&self, id: &CallId) -> String {
        match &self.state {
            Some(state) => state.socket_path(None),
            None => format!("/ws/{id}"),
        }
    }
}

/// Reads until CaughtUp (the backlog); fails the test if the socket ends.
async fn catch_up(ws: &mut Ws, viewer: &mut Viewer) {
    loop {
        match read(ws, Duration::from_secs(15)).await {
            Read::Frame(msg @ ServerMsg::CaughtUp { .. }) => {
                viewer.apply(msg);
                return;
            }
            Read::Frame(msg) => viewer.apply(msg),
            Read::Ended => panic!("the socket ended before CaughtUp"),
        }
    }
}

/// Reads until `n` lines are shown; fails the test if the socket ends or
/// they do not come within 20 s.
async fn until_shown(ws: &mut Ws, viewer: &mut Viewer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while viewer.shown().len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "only {:?} shown", viewer.shown());
        match read(ws, left).await {
            Read::Frame(msg) => viewer.apply(msg),
            Read::Ended => panic!("the socket ended with {:?} shown", viewer.shown()),
        }
    }
}

async fn say(writer: &DynamoWriter, id: &CallId, n: i64) {
    writer
        .write_segment(id, line(in_turn(n), n * 1000, &format!("line {n}")))
        .await
        .expect("line written");
}

/// Connects through the balancer, retrying as the browser does (its
/// backoff, with no jitter), for at most 30 s.
async fn reconnect(lb: u16, path: &str, cookie: &str) -> (Ws, u32) {
    let url = format!("ws://127.0.0.1:{lb}{path}");
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match tokio_tungstenite::connect_async(ws_request(&url, Some(cookie))).await {
            Ok((ws, _)) => return (ws, attempt),
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                panic!("no socket through the balancer within 30 s: {e}")
            }
            Err(_) => {
                let wait = backoff_ms(attempt, 0.0);
                tokio::time::sleep(Duration::from_millis(u64::from(wait))).await
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_a_killed_instance_resumes_on_the_other_with_every_line_once() {
    assert!(
        haproxy_installed(),
        "HAProxy is not installed: run `bash scripts/setup --with-browser` (apt-get install haproxy)"
    );
    let prefix = unique_prefix("balancer");
    let writer = writer(&prefix, WriterFormat::ConnectRt, true).await;
    let settings = Settings::load_with(&dynamo_settings(&prefix)).expect("settings");
    create_account_tables(&settings).await;
    let endpoint = settings.dynamodb_endpoint.clone();

    let dir: PathBuf =
        std::env::temp_dir().join(format!("travoiq-balancer-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let lb = free_port();
    // One after the other: each makes the demo accounts at start.
    let mut a = start_instance("a", &prefix, &endpoint, lb, &dir);
    until_up(&format!("http://127.0.0.1:{}/healthz", a.port)).await;
    let mut b = start_instance("b", &prefix, &endpoint, lb, &dir);
    until_up(&format!("http://127.0.0.1:{}/healthz", b.port)).await;

    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(lb, &[("a", a.port), ("b", b.port)])).expect("cfg");
    let haproxy_log = std::fs::File::create(dir.join("haproxy.log")).expect("log");
    let _haproxy = Proc {
        name: "haproxy",
        child: Some(
            Command::new("haproxy")
                .arg("-f")
                .arg(&cfg)
                .arg("-db")
                .stdout(Stdio::null())
                .stderr(haproxy_log)
                .spawn()
                .expect("start haproxy"),
        ),
    };
    let base = format!("http://127.0.0.1:{lb}");
    until_up(&format!("{base}/healthz")).await;

    // A session made through the balancer (valid on each instance: below).
    let cookie = sign_in_at(&base, "supervisor", DEMO_PASSWORD)
        .await
        .expect("the supervisor signs in through the balancer");
    // A live call, and a viewer on it through the balancer.
    let id = start_call(&writer, true).await;
    for n in 0..5 {
        say(&writer, &id, n).await;
    }
    // The session made on one instance opens the call on each.
    for instance in [&a, &b] {
        let res = plain_client()
            .get(format!("http://127.0.0.1:{}/details/{id}", instance.port))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "the session on {}", instance.proc.name);
    }

    let mut viewer = Viewer {
        state: None,
        sent_on_this_socket: Vec::new(),
    };
    let (mut ws, _) = reconnect(lb, &viewer.path(&id), &cookie).await;
    catch_up(&mut ws, &mut viewer).await;
    until_shown(&mut ws, &mut viewer, 5).await;

    // Which instance holds the socket: the one that counts it.
    let (on_a, on_b) = (call_sockets(&a).await, call_sockets(&b).await);
    let (victim, survivor) = match (on_a, on_b) {
        (Some(1), Some(0)) => (&mut a, &b),
        (Some(0), Some(1)) => (&mut b, &a),
        other => panic!("the viewer's socket is not on exactly one instance: {other:?}"),
    };
    println!("viewer on instance {}; killing it", victim.proc.name);

    // Killed mid-call; the call goes on meanwhile.
    let killed = Instant::now();
    victim.proc.kill();
    for n in 5..10 {
        say(&writer, &id, n).await;
    }
    // The old socket ends (HAProxy closes it when its instance dies).
    while let Read::Frame(msg) = read(&mut ws, Duration::from_secs(15)).await {
        viewer.apply(msg);
    }

    // The browser reconnects from its position, through the balancer.
    viewer.sent_on_this_socket.clear();
    let (mut ws, attempts) = reconnect(lb, &viewer.path(&id), &cookie).await;
    catch_up(&mut ws, &mut viewer).await;
    assert_eq!(
        call_sockets(survivor).await,
        Some(1),
        "the viewer resumed on {}",
        survivor.proc.name
    );
    until_shown(&mut ws, &mut viewer, 10).await;
    println!(
        "resumed on instance {} after {attempts} connection attempt(s), all 10 lines shown {} ms after the kill",
        survivor.proc.name,
        killed.elapsed().as_millis()
    );
    // And the call stays live there.
    for n in 10..12 {
        say(&writer, &id, n).await;
    }
    until_shown(&mut ws, &mut viewer, 12).await;

    let written: Vec<String> = (0..12).map(|n| format!("line {n}")).collect();
    assert_eq!(viewer.shown(), written, "every line once, in order");
    // The new socket sent each line once: nothing doubled behind the
    // reducer's keyed transcript.
    let mut seen = HashSet::new();
    for seg in &viewer.sent_on_this_socket {
        assert!(
            seen.insert(seg.segment_id.clone()),
            "{} sent twice on the resumed socket",
            seg.segment_id
        );
    }
    assert_eq!(seen.len(), 12, "the resumed socket sent every line");
    drop(ws);
    let _ = std::fs::remove_dir_all(&dir);
}
