//! A real DynamoDB-compatible server for tests: moto's server from PyPI,
//! installed into .tools/moto if missing, started once per test binary on a
//! free port, and stopped when the test process ends. Also a TCP proxy that
//! can be cut (an endpoint that goes down and comes back) and an endpoint
//! that accepts connections and never answers.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

pub const MOTO_VERSION: &str = "5.2.5";

pub struct Moto {
    pub endpoint: String,
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The shared server, and the AWS environment pointing at it.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let endpoint = match std::env::var("TRAVOIQ_TEST_DYNAMODB_ENDPOINT") {
            Ok(endpoint) => endpoint,
            Err(_) => start_moto(),
        };
        // Read by aws-config (both the DynamoDB and the Streams clients).
        std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        Moto { endpoint }
    })
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

/// A TCP proxy to `target` that can be cut and restored.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
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
        let generation = Arc::new(AtomicUsize::new(0));
        let (u, g) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(inbound); // refused, as a down endpoint would
                    continue;
                }
                let born = g.load(Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, _ = cut => {} }
                });
            }
        });
        Proxy {
            addr,
            up,
            generation,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
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
