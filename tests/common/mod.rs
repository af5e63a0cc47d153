//! `spawn_app()`: the real server on a free port, with the embedded store,
//! no simulator and the developer API, plus small HTTP/WebSocket helpers.

#![allow(dead_code)]

pub mod dynamo;

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::Settings;
use travoiq_monitor::server::hub::Hub;
use travoiq_monitor::server::security::SocketLimiter;
use travoiq_monitor::server::startup::Application;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestApp {
    pub base: String,
    pub ws_base: String,
    pub hub: Arc<Hub>,
    pub sockets: SocketLimiter,
    pub http: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![
        ("simulator", "off"),
        ("dev_api", "on"),
        ("heartbeat_secs", "1"),
        ("feed_linger_secs", "1"),
    ];
    overrides.extend_from_slice(extra);
    let settings = Settings::load_with(&overrides).expect("settings");
    let mut options = leptos::config::get_configuration(None)
        .expect("leptos options")
        .leptos_options;
    options.site_addr = "127.0.0.1:0".parse().expect("addr");
    let app = Application::build(settings, options)
        .await
        .expect("app builds");
    let port = app.port();
    let hub = app.hub();
    let sockets = app.sockets();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        ws_base: format!("ws://127.0.0.1:{port}"),
        hub,
        sockets,
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    pub async fn create_call(&self, phone: &str) -> String {
        self.create_call_with(json!({ "customerPhoneNumber": phone }))
            .await
    }

    pub async fn create_call_with(&self, body: Value) -> String {
        let res = self
            .http
            .post(format!("{}/api/dev/calls", self.base))
            .json(&body)
            .send()
            .await
            .expect("create call");
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let v: Value = res.json().await.expect("json");
        v["contactId"].as_str().expect("id").to_string()
    }

    pub async fn say(&self, id: &str, speaker: &str, start_ms: i64, text: &str, partial: bool) {
        let res = self
            .http
            .post(format!("{}/api/dev/calls/{id}/segments", self.base))
            .json(&json!({ "speaker": speaker, "startMs": start_ms, "text": text, "partial": partial }))
            .send()
            .await
            .expect("write");
        assert_eq!(res.status(), 204);
    }

    pub async fn end(&self, id: &str) {
        let res = self
            .http
            .post(format!("{}/api/dev/calls/{id}/end", self.base))
            .send()
            .await
            .expect("end");
        assert_eq!(res.status(), 204);
    }

    pub async fn connect(&self, path: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(format!("{}{path}", self.ws_base))
            .await
            .expect("socket connects");
        ws
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
