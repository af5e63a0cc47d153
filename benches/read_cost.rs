//! What one watched call costs in DynamoDB requests, and that it does not
//! grow with the number of viewers: the real server on the DynamoDB backend
//! (moto on loopback), one simulated call written by the writer, and 1 then
//! 50 WebSocket viewers on it; once with streams on the tables (as upstream
//! creates them) and once without; then, with streams, 1 and 50 viewers of
//! the floor (`/ws/floor`) instead. Prints requests per second by kind.
//!
//!     cargo bench --features ssr --bench read_cost
//!
//! `READ_COST_WINDOW_SECS` shortens the counting window (15 s): the test
//! command runs this bench in a debug build with 2 s, as
//! `cargo test --features ssr --bench read_cost`, to prove it still runs.

#[path = "../tests/it/common/dynamo.rs"]
mod dynamo;

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use travoiq_monitor::model::CallId;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::simulator::{self, plan_call, random_call_id_string, SCRIPTS};
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::dynamo::{sdk_config, DynamoStore, RequestCounts};
use travoiq_monitor::server::store::CallSink;

/// How long requests are counted in each run: 15 s, or
/// `READ_COST_WINDOW_SECS`.
fn window() -> Duration {
    let secs = std::env::var("READ_COST_WINDOW_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(secs)
}

#[tokio::main]
async fn main() {
    dynamo::moto();
    let window = window();
    println!("DynamoDB requests per second while one call is watched ({window:?} per run)");
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8}",
        "tables", "viewers", "Query", "GetItem", "Scan", "GetRecords", "total"
    );
    for (streams, on) in [
        (true, Watching::Call),
        (false, Watching::Call),
        (true, Watching::Floor),
    ] {
        let mut totals = Vec::new();
        for viewers in [1usize, 50] {
            let c = run(streams, on, viewers, window).await;
            let per_s = |n: u64| n as f64 / window.as_secs_f64();
            let total = c.query + c.get_item + c.scan + c.get_records;
            println!(
                "{:<14} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {:>8.2}",
                match (streams, on) {
                    (true, Watching::Call) => "with streams",
                    (false, Watching::Call) => "no streams",
                    (_, Watching::Floor) => "floor viewers",
                },
                viewers,
                per_s(c.query),
                per_s(c.get_item),
                per_s(c.scan),
                per_s(c.get_records),
                per_s(total)
            );
            totals.push(per_s(total));
        }
        println!(
            "  ratio 50 viewers / 1 viewer: {:.2}",
            totals[1] / totals[0]
        );
    }
}

/// What the viewers open: the call's socket, or the floor's.
#[derive(Clone, Copy)]
enum Watching {
    Call,
    Floor,
}

async fn run(streams: bool, on: Watching, viewers: usize, window: Duration) -> RequestCounts {
    let prefix = dynamo::unique_prefix("bench");
    let tables = dynamo::tables(&prefix);
    let sdk = sdk_config(Duration::from_secs(5), None).await.expect("sdk");
    let writer = Arc::new(DynamoWriter::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        tables.clone(),
        WriterFormat::ConnectRt,
    ));
    writer.create_tables_with(streams).await.expect("tables");

    // Fifty viewers from one address: past the per-address socket limit.
    let settings = common::dynamo_settings(&prefix, &sdk, &[("max_sockets_per_client", "0")]).await;
    let app = common::loopback_app(settings).await;
    let port = app.port();
    let hub = app.hub();
    tokio::spawn(app.run_until_stopped());
    let cookie = common::sign_in(&format!("http://127.0.0.1:{port}")).await;

    // A call, played in real time by the writer.
    let id = CallId::parse(&random_call_id_string()).expect("id");
    common::start_call(writer.as_ref(), &id).await;
    let plan = plan_call(&SCRIPTS[0], &mut rand::rng());
    let player = {
        let writer = writer.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let begun = Instant::now();
            for w in plan.writes {
                let at = Duration::from_millis(w.at_ms);
                if let Some(wait) = at.checked_sub(begun.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                let _ = writer.write_segment(&id, w.write).await;
            }
        })
    };

    let mut sockets = Vec::new();
    for _ in 0..viewers {
        let path = match on {
            Watching::Call => format!("/ws/{id}"),
            Watching::Floor => "/ws/floor".to_string(),
        };
        let mut request = format!("ws://127.0.0.1:{port}{path}")
            .into_client_request()
            .expect("request");
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("cookie"));
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("socket");
        sockets.push(tokio::spawn(async move {
            let mut ws = ws;
            while let Some(Ok(_)) = ws.next().await {}
        }));
    }
    // Let connecting settle, then count over the window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = DynamoStore::downcast(hub.store())
        .map(|s| s.request_counts())
        .unwrap_or_default();
    tokio::time::sleep(window).await;
    let after = DynamoStore::downcast(hub.store())
        .map(|s| s.request_counts())
        .unwrap_or_default();
    player.abort();
    for s in sockets {
        s.abort();
    }
    let _ = simulator::SCRIPTS.len();
    after.since(&before)
}
