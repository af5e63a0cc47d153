//! `spawn_app()`: the real server on a free port, with the embedded store,
//! no simulator and the developer API (`spawn_dynamo_app()`: on moto's
//! DynamoDB, without it; `spawn_writer()`: the writer server that writes
//! those tables), plus small HTTP/WebSocket helpers (among them `pump`, a
//! socket read all the time into a channel) and `eventually`, which waits
//! for a condition instead of a fixed time.

pub mod dynamo;
pub mod fault_proxy;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use travoiq_monitor::model::{CallId, Segment};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::auth::Auth;
use travoiq_monitor::server::config::{Settings, StoreKind, WriterFormat};
use travoiq_monitor::server::hub::Hub;
use travoiq_monitor::server::security::SocketLimiter;
use travoiq_monitor::server::startup::Application;
use travoiq_monitor::server::writer_server::{WriterServer, WriterServerOptions};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A socket's frames (heartbeats left out), as `pump` hands them over.
pub type Frames = mpsc::UnboundedReceiver<ServerMsg>;

/// The demo accounts' password in every test server.
pub const DEMO_PASSWORD: &str = "test-demo-password";

pub struct TestApp {
    pub port: u16,
    pub base: String,
    pub ws_base: String,
    pub hub: Arc<Hub>,
    pub auth: Arc<Auth>,
    pub sockets: SocketLimiter,
    /// `http://{metrics_addr}`, when the server serves `/metrics`.
    pub metrics_base: Option<String>,
    /// Signed in as the demo supervisor (its cookie on every request).
    pub http: reqwest::Client,
    /// `travoiq_session=…` of that supervisor.
    pub cookie: String,
    /// Starts a graceful shutdown (once).
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    /// The server task: done once the server has stopped.
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A handshake request for `url`, with a session cookie if given.
pub fn ws_request(
    url: &str,
    cookie: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("cookie header"));
    }
    request
}

/// An HTTP client with no session that follows no redirects.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The developer API's token in every test server.
pub const DEV_TOKEN: &str = "test-dev-token";

/// Signs in through the form; the session cookie, or the page the server
/// sent the browser back to (`Err(location)`).
pub async fn sign_in_at(base: &str, user: &str, password: &str) -> Result<String, String> {
    let res = plain_client()
        .post(format!("{base}/signin"))
        .form(&[("username", user), ("password", password), ("next", "/")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 303, "sign-in answers with a redirect");
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .filter(|c| c.starts_with("travoiq_session=") && c.len() > "travoiq_session=".len())
        .map(str::to_string);
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    cookie.ok_or(location)
}

/// A unique accounts file under the system's temp dir.
fn temp_accounts_file() -> String {
    temp_file("accounts")
}

/// A unique file under the system's temp dir, named for `what`.
pub fn temp_file(what: &str) -> String {
    let n: u64 = rand::random();
    std::env::temp_dir()
        .join(format!("travoiq-test-{what}-{n:x}.json"))
        .to_string_lossy()
        .into_owned()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The server on the DynamoDB backend: its tables under `prefix` on moto
/// (`extra` may send it elsewhere, through a proxy: later settings win).
/// Without the developer API (it exists only on the embedded store): tests
/// write through a `DynamoWriter` or the writer server.
pub async fn spawn_dynamo_app(prefix: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = dynamo_settings(prefix);
    settings.push(("dev_api", "off"));
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// The settings that put a server's tables under `prefix` on moto.
pub fn dynamo_settings(prefix: &str) -> Vec<(&str, &str)> {
    vec![
        ("store", "dynamodb"),
        ("table_prefix", prefix),
        ("dynamodb_endpoint", dynamo::moto().endpoint.as_str()),
    ]
}

/// The writer server (`travoiq-monitor writer serve`) on a free loopback
/// port, writing the tables under `prefix` on moto in `format` (creating
/// them), with the test token. Runs until the test's runtime ends.
pub async fn spawn_writer(prefix: &str, format: WriterFormat) -> DevWriter {
    let mut overrides = dynamo_settings(prefix);
    overrides.push(("dev_api_token", DEV_TOKEN));
    let settings = Settings::load_with(&overrides).expect("settings");
    let server = WriterServer::build(
        &settings,
        WriterServerOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            format,
            create_tables: true,
        },
    )
    .await
    .expect("the writer server builds");
    let base = format!("http://127.0.0.1:{}", server.port());
    tokio::spawn(server.run_until(std::future::pending()));
    DevWriter {
        base,
        http: plain_client(),
    }
}

/// A developer API client: the monitor's on the embedded store, or the
/// writer server's. Every request carries the test token.
pub struct DevWriter {
    pub base: String,
    pub http: reqwest::Client,
}

impl DevWriter {
    pub async fn create_call(&self, phone: &str) -> String {
        self.create_call_with(json!({ "customerPhoneNumber": phone }))
            .await
    }

    pub async fn create_call_with(&self, body: Value) -> String {
        let res = self.post("/api/dev/calls", Some(body)).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let v: Value = res.json().await.expect("json");
        v["contactId"].as_str().expect("id").to_string()
    }

    pub async fn say(&self, id: &str, speaker: &str, start_ms: i64, text: &str, partial: bool) {
        let body =
            json!({ "speaker": speaker, "startMs": start_ms, "text": text, "partial": partial });
        let res = self
            .post(&format!("/api/dev/calls/{id}/segments"), Some(body))
            .await;
        assert_eq!(res.status(), 204);
    }

    pub async fn end(&self, id: &str) {
        let res = self.post(&format!("/api/dev/calls/{id}/end"), None).await;
        assert_eq!(res.status(), 204);
    }

    pub async fn reset(&self) {
        let res = self.post("/api/dev/reset", None).await;
        assert_eq!(res.status(), 204);
    }

    /// A POST to the API with the token, and a JSON body if given.
    pub async fn post(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-dev-token", DEV_TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("developer API request")
    }
}

/// The accounts and sessions tables a DynamoDB server's settings name.
pub async fn create_account_tables(settings: &Settings) {
    let endpoint = Some(settings.dynamodb_endpoint.clone()).filter(|e| !e.is_empty());
    let sdk = travoiq_monitor::server::store::dynamo::sdk_config(
        Duration::from_secs(5),
        endpoint.as_deref(),
    )
    .await
    .expect("sdk");
    travoiq_monitor::server::auth::dynamo_store::DynamoAccounts::from_settings(
        settings,
        aws_sdk_dynamodb::Client::new(&sdk),
    )
    .create_tables()
    .await
    .expect("account tables");
}

/// Leptos's options with the server on a free loopback port.
pub fn test_leptos_options() -> leptos::config::LeptosOptions {
    let mut options =
        travoiq_monitor::server::config::site::leptos_options().expect("leptos options");
    options.site_addr = "127.0.0.1:0".parse().expect("addr");
    options
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_at("127.0.0.1:0", extra).await
}

/// The server at `addr` (a port chosen beforehand, when something else,
/// such as an identity provider, must know it first).
pub async fn spawn_app_at(addr: &str, extra: &[(&str, &str)]) -> TestApp {
    let accounts_file = temp_accounts_file();
    let rules_file = temp_file("rules");
    let mut overrides = vec![
        ("rules_file", rules_file.as_str()),
        ("simulator", "off"),
        ("dev_api", "on"),
        ("dev_api_token", DEV_TOKEN),
        ("heartbeat_secs", "1"),
        ("feed_linger_secs", "1"),
        ("demo_users", "on"),
        ("demo_password", DEMO_PASSWORD),
        ("accounts_file", accounts_file.as_str()),
    ];
    overrides.extend_from_slice(extra);
    let settings = Settings::load_with(&overrides).expect("settings");
    if settings.store == StoreKind::Dynamodb {
        create_account_tables(&settings).await;
    }
    let mut options = test_leptos_options();
    options.site_addr = addr.parse().expect("addr");
    let app = Application::build(settings, options)
        .await
        .expect("app builds");
    let port = app.port();
    let hub = app.hub();
    let auth = app.auth();
    let sockets = app.sockets();
    let metrics_base = app.metrics_addr().map(|a| format!("http://{a}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let stop = async move {
            // Dropping the TestApp does not stop the server; only stop() does.
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        app.run_until(stop).await.expect("server ran");
    });
    let base = format!("http://127.0.0.1:{port}");
    let cookie = sign_in_at(&base, "supervisor", DEMO_PASSWORD)
        .await
        .expect("the demo supervisor signs in");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", cookie.parse().expect("cookie"));
    TestApp {
        port,
        ws_base: format!("ws://127.0.0.1:{port}"),
        base,
        hub,
        auth,
        sockets,
        metrics_base,
        http: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client"),
        cookie,
        stop: std::sync::Mutex::new(Some(stop)),
        server: std::sync::Mutex::new(Some(server)),
    }
}

impl TestApp {
    /// Asks the server to stop gracefully and waits (at most `within`) for
    /// it to finish; whether it did.
    pub async fn stop(&self, within: Duration) -> bool {
        if let Some(stop) = self.stop.lock().expect("lock").take() {
            let _ = stop.send(());
        }
        let server = self.server.lock().expect("lock").take();
        match server {
            Some(server) => tokio::time::timeout(within, server).await.is_ok(),
            None => true,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    /// The developer API of this server (embedded store); its requests
    /// carry the supervisor's cookie too, which the API ignores.
    pub fn dev(&self) -> DevWriter {
        DevWriter {
            base: self.base.clone(),
            http: self.http.clone(),
        }
    }

    pub async fn create_call(&self, phone: &str) -> String {
        self.dev().create_call(phone).await
    }

    pub async fn create_call_with(&self, body: Value) -> String {
        self.dev().create_call_with(body).await
    }

    pub async fn say(&self, id: &str, speaker: &str, start_ms: i64, text: &str, partial: bool) {
        self.dev().say(id, speaker, start_ms, text, partial).await
    }

    pub async fn end(&self, id: &str) {
        self.dev().end(id).await
    }

    /// A socket as the signed-in supervisor.
    pub async fn connect(&self, path: &str) -> Ws {
        self.connect_as(path, Some(&self.cookie))
            .await
            .expect("socket connects")
    }

    /// A socket with the given session cookie (or none): the socket, or
    /// the handshake's HTTP status.
    pub async fn connect_as(&self, path: &str, cookie: Option<&str>) -> Result<Ws, u16> {
        let request = ws_request(&format!("{}{path}", self.ws_base), cookie);
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
            Err(e) => panic!("socket failed: {e}"),
        }
    }
}

/// The next frame that is not a heartbeat, as raw JSON.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("frame ok");
        if let Message::Text(text) = frame {
            let v: Value = serde_json::from_str(&text).expect("json frame");
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

pub async fn next_msg(ws: &mut Ws) -> ServerMsg {
    serde_json::from_value(next_json(ws).await).expect("a ServerMsg")
}

/// Reads until the server closes; returns the close code.
pub async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closed within 5 s")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.expect("send");
}

/// Reads a socket all the time (so it answers the server's pings while
/// the test waits), handing its frames over a channel. The channel ends
/// when the socket closes or goes 5 s without a frame (see `next_json`).
pub fn pump(mut ws: Ws) -> Frames {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move { while tx.send(next_msg(&mut ws).await).is_ok() {} });
    rx
}

/// The next frame from `pump`, or `None` if none came within `within`
/// (or the socket is gone).
pub async fn recv_within(rx: &mut Frames, within: Duration) -> Option<ServerMsg> {
    tokio::time::timeout(within, rx.recv()).await.ok().flatten()
}

/// The next frame from `pump`; fails the test if none comes within 15 s
/// (or the socket is gone).
pub async fn next_frame(rx: &mut Frames) -> ServerMsg {
    recv_within(rx, Duration::from_secs(15))
        .await
        .expect("a frame within 15 s, the socket open")
}

/// Reads `rx` until `take` keeps a frame; what it kept. Fails the test,
/// naming `what`, if none is kept within `within` (or the socket closes).
pub async fn until<T>(
    rx: &mut Frames,
    what: &str,
    within: Duration,
    mut take: impl FnMut(ServerMsg) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(msg)) => {
                if let Some(kept) = take(msg) {
                    return kept;
                }
            }
            Ok(None) => panic!("the socket closed before {what}"),
            Err(_) => panic!("no {what} within {within:?}"),
        }
    }
}

/// A call socket's backlog: its transcript frames up to `CaughtUp`.
pub async fn backlog(rx: &mut Frames) -> Vec<Segment> {
    let mut segments = Vec::new();
    until(rx, "CaughtUp", Duration::from_secs(15), |msg| match msg {
        ServerMsg::Transcript(seg) => {
            segments.push(seg);
            None
        }
        ServerMsg::CaughtUp { .. } => Some(()),
        _ => None,
    })
    .await;
    segments
}

/// Reads a lobby (or call) socket until call `id` is announced.
pub async fn announced(rx: &mut Frames, id: &CallId) {
    until(
        rx,
        &format!("NewCall {id}"),
        Duration::from_secs(15),
        |msg| matches!(msg, ServerMsg::NewCall { call } if call.call_id == *id).then_some(()),
    )
    .await
}

/// How often `eventually` looks.
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it gives a value (every 50 ms, at most `within`);
/// the value, or `None` if none came in time. For a test that waits on
/// something it can look at, instead of sleeping a fixed time.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        // The poll interval.
        tokio::time::sleep(POLL).await;
    }
}
