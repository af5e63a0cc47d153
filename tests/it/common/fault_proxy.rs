//! An HTTP proxy in front of moto for the DynamoDB and DynamoDB Streams
//! APIs: forwards every request as is, logs each one (operation, shard,
//! arrival time, delay), and answers faults a test scripts: "the next N
//! GetRecords fail with CODE", "every request waits D first", "requests
//! whose body contains S wait D first" (e.g. one call's Queries).
//!
//! moto's iterators do not name their shard, so the proxy learns which
//! shard an iterator reads from the GetShardIterator that returned it and
//! from GetRecords' `NextShardIterator`. moto gives every table's stream the
//! same shard id: use one proxy per stream reader.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// One request the proxy answered. A request its client gave up on while
/// the proxy held it (the client's timeout) is not logged.
#[derive(Clone, Debug)]
pub struct Logged {
    /// When it reached the proxy (before any delay).
    pub at: Instant,
    /// `GetRecords`, `GetShardIterator`, `DescribeStream`, `ListStreams`…
    pub operation: String,
    /// The shard read (GetRecords, GetShardIterator), when known.
    pub shard: Option<String>,
    /// GetShardIterator's `ShardIteratorType`.
    pub iterator_type: Option<String>,
    /// The error code answered instead of forwarding, if a fault was.
    pub injected: Option<String>,
    /// How long the proxy held it before forwarding (or failing) it.
    pub delayed: Duration,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    target: String,
    http: reqwest::Client,
    state: Mutex<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    log: Vec<Logged>,
    /// Iterator → the shard it reads.
    shard_of: HashMap<String, String>,
    /// Error codes for the next GetRecords, in order.
    faults: VecDeque<String>,
    delay: Duration,
    /// Extra delay for requests whose body contains the needle.
    matching: Vec<(String, Duration)>,
}

impl FaultProxy {
    /// A proxy on 127.0.0.1 to `target` (`http://host:port`).
    pub async fn start(target: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            target: target.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            state: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("proxy serves");
        });
        FaultProxy { addr, shared }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, ProxyState> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the next `n` GetRecords with `code` (HTTP 400), after any
    /// faults already scripted.
    pub fn fail_get_records(&self, code: &str, n: usize) {
        let mut state = self.state();
        state
            .faults
            .extend(std::iter::repeat_n(code.to_string(), n));
    }

    /// Scripted faults not answered yet (a GetRecords takes its fault when
    /// it arrives, before any delay).
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }

    /// Every request waits `delay` before it is answered (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Requests whose body contains `needle` wait `by` first (on top of
    /// `set_delay`; the longest of several matching needles applies).
    /// `Duration::ZERO` removes the needle.
    pub fn delay_matching(&self, needle: &str, by: Duration) {
        let mut state = self.state();
        state.matching.retain(|(n, _)| n != needle);
        if !by.is_zero() {
            state.matching.push((needle.to_string(), by));
        }
    }

    /// Every request answered so far, in the order they were answered.
    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    /// Requests of `operation` answered so far.
    pub fn count(&self, operation: &str) -> usize {
        self.state()
            .log
            .iter()
            .filter(|l| l.operation == operation)
            .count()
    }

    /// GetRecords arrival times, per shard, sorted.
    pub fn get_records_by_shard(&self) -> HashMap<String, Vec<Instant>> {
        let mut by_shard: HashMap<String, Vec<Instant>> = HashMap::new();
        for l in self
            .state()
            .log
            .iter()
            .filter(|l| l.operation == "GetRecords")
        {
            let shard = l.shard.clone().unwrap_or_else(|| "unknown".into());
            by_shard.entry(shard).or_default().push(l.at);
        }
        for times in by_shard.values_mut() {
            times.sort();
        }
        by_shard
    }
}

/// The error DynamoDB Streams answers with `code`.
fn injected(code: &str) -> (StatusCode, HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        "application/x-amz-json-1.0".parse().expect("header"),
    );
    let body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
        "message": "injected",
    });
    (StatusCode::BAD_REQUEST, headers, body.to_string().into())
}

/// `headers` without those of one connection or set by the HTTP layer
/// (host, length, transfer encoding, connection).
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let per_hop = [
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ];
    headers
        .iter()
        .filter(|(name, _)| !per_hop.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (shard, fault, delay) = {
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let (shard, fault) = match operation.as_str() {
            "GetRecords" => (
                asked["ShardIterator"]
                    .as_str()
                    .and_then(|it| state.shard_of.get(it).cloned()),
                state.faults.pop_front(),
            ),
            "GetShardIterator" => (asked["ShardId"].as_str().map(str::to_string), None),
            _ => (None, None),
        };
        let text = String::from_utf8_lossy(&body);
        let matched = state
            .matching
            .iter()
            .filter(|(needle, _)| text.contains(needle.as_str()))
            .map(|(_, by)| *by)
            .max()
            .unwrap_or_default();
        (shard, fault, state.delay + matched)
    };
    if !delay.is_zero() {
        // The delay the test scripted: the fault itself.
        tokio::time::sleep(delay).await;
    }

    let (status, headers, answer) = match &fault {
        Some(code) => injected(code),
        None => {
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let forwarded = shared
                .http
                .request(parts.method.clone(), format!("{}{path}", shared.target))
                .headers(end_to_end(&parts.headers))
                .body(body)
                .send()
                .await;
            match forwarded {
                Ok(res) => {
                    let status = res.status();
                    let headers = res.headers().clone();
                    (status, headers, res.bytes().await.unwrap_or_default())
                }
                Err(e) => (
                    StatusCode::BAD_GATEWAY,
                    HeaderMap::new(),
                    e.to_string().into(),
                ),
            }
        }
    };

    {
        let answered: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shard) = &shard {
            for key in ["ShardIterator", "NextShardIterator"] {
                if let Some(it) = answered[key].as_str() {
                    state.shard_of.insert(it.to_string(), shard.clone());
                }
            }
        }
        state.log.push(Logged {
            at,
            operation,
            shard,
            iterator_type: asked["ShardIteratorType"].as_str().map(str::to_string),
            injected: fault,
            delayed: delay,
        });
    }

    let mut response = Response::new(Body::from(answer));
    *response.status_mut() = status;
    *response.headers_mut() = end_to_end(&headers);
    response
}
