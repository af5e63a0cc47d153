//! A real DynamoDB-compatible server for tests: moto's server from PyPI,
//! installed into .tools/moto if missing, started once per process on a
//! free port, and stopped when the process ends. Also a TCP proxy that
//! can be cut (an endpoint that goes down and comes back) and an endpoint
//! that accepts connections and never answers; and the tables, writer,
//! calls and lines the DynamoDB tests write through.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use travoiq_monitor::model::{CallId, Speaker};
use travoiq_monitor::server::config::{TableNames, WriterFormat};
use travoiq_monitor::server::simulator::random_call_id_string;
use travoiq_monitor::server::store::dynamo::client::table_client;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::{CallSink, NewContact, SegmentWrite};

pub const MOTO_VERSION: &str = "5.2.5";

pub struct Moto {
    pub endpoint: String,
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The shared server, started (or found) once for the whole process.
/// Everything a test builds on DynamoDB is given `endpoint` explicitly.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let endpoint = match std::env::var("TRAVOIQ_TEST_DYNAMODB_ENDPOINT") {
            Ok(endpoint) => endpoint,
            Err(_) => start_moto(),
        };
        aws_environment(&endpoint);
        Moto { endpoint }
    })
}

/// The AWS SDK takes its region and credentials from the environment, and
/// so does every server a test builds, so they are set once for the whole
/// process, the same for all (no test wants others).
///
/// The endpoint is not: the tests share one process, and an endpoint in
/// the environment would silently send anything built without one to moto
/// and change how every server resolves its Streams endpoint. Tests name
/// theirs, and endpoints in the environment (a developer's shell) are
/// ignored. A bench is a process of its own, and `benches/read_cost.rs`
/// builds its server from the environment: there it is set.
fn aws_environment(endpoint: &str) {
    let mut vars = vec![
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    // This file is the test binary's `common::dynamo`, and each bench's own
    // `dynamo` (by `#[path]`). `cfg!(test)` can't tell them apart: cargo
    // compiles benches with `--cfg test` too.
    if module_path!().ends_with("::common::dynamo") {
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
    } else {
        vars.push(("AWS_ENDPOINT_URL", endpoint));
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

fn start_moto() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join(".tools/moto");
    let server = venv.join("bin/moto_server");
    if !server.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!(
                    "moto[dynamodb,dynamodbstreams,server]=={MOTO_VERSION}"
                ))
                .args(["flask", "flask-cors"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "could not install moto into {}", venv.display());
    }
    let port = free_port();
    // A shell that stops moto once this test process is gone.
    let script = format!(
        "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {} 2>/dev/null; do sleep 1; done; kill $m",
        server.display(),
        std::process::id()
    );
    // The watcher shell outlives this function by design; it reaps moto.
    let watcher = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("moto starts");
    std::mem::forget(watcher);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not start on port {port}"
        );
        // The poll interval of waiting for moto's port to open. A blocking
        // sleep: `moto()` is synchronous (the benches call it so), runs
        // once per process, and every caller waits for it anyway.
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

/// A unique table prefix per test, so tests share one server safely.
pub fn unique_prefix(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}-{}-{name}-",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The three tables under `prefix`, named as upstream names them.
pub fn tables(prefix: &str) -> TableNames {
    TableNames {
        contact: format!("{prefix}contactDetails"),
        customer: format!("{prefix}contactTranscriptSegments"),
        agent: format!("{prefix}contactTranscriptSegmentsToCustomer"),
    }
}

/// A DynamoDB client straight to moto (5 s timeout).
pub async fn moto_client() -> aws_sdk_dynamodb::Client {
    table_client(Duration::from_secs(5), Some(&moto().endpoint))
        .await
        .expect("DynamoDB client")
}

/// A writer in `format` straight to moto, its tables under `prefix`
/// created (with or without streams).
pub async fn writer(prefix: &str, format: WriterFormat, streams: bool) -> DynamoWriter {
    let writer = DynamoWriter::new(moto_client().await, tables(prefix), format);
    writer
        .create_tables_with(streams)
        .await
        .expect("tables created");
    writer
}

/// Now, as RFC 3339 (a `callTimestamp` as the contact flow writes it).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 time")
}

/// Call `id`'s contact item: its id, a customer phone number and, if
/// given, its `callTimestamp`.
pub fn contact(id: &CallId, call_timestamp: Option<String>) -> NewContact {
    let mut attributes: std::collections::BTreeMap<String, String> = [
        ("contactId".to_string(), id.to_string()),
        ("customerPhoneNumber".to_string(), "+14155550123".into()),
    ]
    .into_iter()
    .collect();
    if let Some(timestamp) = call_timestamp {
        attributes.insert("callTimestamp".into(), timestamp);
    }
    NewContact {
        call_id: id.clone(),
        attributes,
    }
}

/// A new random call id.
pub fn new_call_id() -> CallId {
    CallId::parse(&random_call_id_string()).expect("call id")
}

/// Writes a new call's contact item, with a `callTimestamp` of now or
/// none (completed later, as some contact flows do); its id.
pub async fn start_call(writer: &DynamoWriter, with_timestamp: bool) -> CallId {
    start_call_at(writer, with_timestamp.then(now_rfc3339)).await
}

/// Writes a new call's contact item with `call_timestamp` (if any); its id.
pub async fn start_call_at(writer: &DynamoWriter, call_timestamp: Option<String>) -> CallId {
    let id = new_call_id();
    writer
        .start_call(contact(&id, call_timestamp))
        .await
        .expect("contact item written");
    id
}

/// Line `n` of a conversation taking turns: the customer's when `n` is
/// even, the agent's when odd.
pub fn in_turn(n: i64) -> Speaker {
    if n % 2 == 0 {
        Speaker::Customer
    } else {
        Speaker::Agent
    }
}

/// A transcript write: id `seg-{start_ms}`, `len_ms` long, partial or final.
pub fn segment(
    speaker: Speaker,
    start_ms: i64,
    len_ms: i64,
    text: &str,
    partial: bool,
) -> SegmentWrite {
    SegmentWrite {
        speaker,
        segment_id: format!("seg-{start_ms}"),
        start_ms,
        end_ms: start_ms + len_ms,
        text: text.into(),
        partial,
    }
}

/// A final line 800 ms long (see `segment`).
pub fn line(speaker: Speaker, start_ms: i64, text: &str) -> SegmentWrite {
    segment(speaker, start_ms, 800, text, false)
}

/// A TCP proxy to `target` that can be cut and restored.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped by each cut: every connection open ends when it changes.
    cuts: tokio::sync::watch::Sender<usize>,
    refused: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let target: SocketAddr = target
            .trim_start_matches("http://")
            .parse()
            .expect("target address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let refused = Arc::new(AtomicUsize::new(0));
        let (cuts, _) = tokio::sync::watch::channel(0);
        let (u, r, c) = (up.clone(), refused.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(inbound); // refused, as a down endpoint would
                    r.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let mut cut = c.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    tokio::select! { _ = copy => {}, _ = cut.changed() => {} }
                });
            }
        });
        Proxy {
            addr,
            up,
            cuts,
            refused,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Connections refused so far (made while cut).
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

/// An endpoint that accepts connections and never answers.
pub async fn hung_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}
