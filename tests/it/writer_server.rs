//! The developer API and DynamoDB: a monitor on DynamoDB never writes for
//! it (it refuses to start with it on), and the writer server (`writer
//! serve`) writes exact calls into the tables, which a monitor then shows
//! as it shows the upstream pipeline's. The writer server shows nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use travoiq_monitor::model::Speaker;
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::{Settings, WriterFormat};
use travoiq_monitor::server::startup::{Application, StartupError};
use travoiq_monitor::server::writer_server::{WriterServer, WriterServerOptions};

use crate::common::dynamo::{unique_prefix, writer};
use crate::common::{
    create_account_tables, dynamo_settings, eventually, plain_client, pump, spawn_dynamo_app,
    spawn_writer, test_leptos_options, until, DEV_TOKEN,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_on_dynamodb_refuses_to_start_with_the_developer_api() {
    let prefix = unique_prefix("dev-refused");
    // Everything it needs is there: the call tables, the account tables,
    // and a format it could write in.
    writer(&prefix, WriterFormat::ConnectRt, true).await;
    let mut overrides = dynamo_settings(&prefix);
    overrides.extend([
        ("simulator", "off"),
        ("simulator_format", "connect-rt"),
        ("dev_api", "on"),
        ("dev_api_token", DEV_TOKEN),
    ]);
    let settings = Settings::load_with(&overrides).expect("settings");
    create_account_tables(&settings).await;
    match Application::build(settings, test_leptos_options()).await {
        Err(e @ StartupError::DevApiNeedsEmbeddedStore) => {
            let said = e.to_string();
            assert!(said.contains("TRAVOIQ_DEV_API"), "{said}");
            assert!(said.contains("writer serve"), "names the way out: {said}");
        }
        Err(e) => panic!("refused, but for another reason: {e}"),
        Ok(_) => panic!("a monitor on DynamoDB started with the developer API on"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_server_listens_on_loopback_only() {
    let settings = Settings::load_with(&[("dev_api_token", DEV_TOKEN)]).expect("settings");
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let built = WriterServer::build(
            &settings,
            WriterServerOptions {
                listen: listen.parse().expect("addr"),
                format: WriterFormat::ConnectRt,
                create_tables: false,
            },
        )
        .await;
        assert!(
            matches!(built, Err(StartupError::DevApi(_))),
            "{listen} refused"
        );
    }
}

/// The writer server writes a call in `format`; a monitor on the same
/// tables shows it whole, ended; the writer refuses writes without its
/// token or to a call it did not start, answers no read, and its reset
/// empties the tables (the monitor hears of it on their streams).
async fn the_writer_server_writes_a_call_a_dynamodb_monitor_shows(format: WriterFormat) {
    let prefix = unique_prefix("writer");
    let writer = spawn_writer(&prefix, format).await;
    let app = spawn_dynamo_app(&prefix, &[]).await;
    let status = |res: reqwest::Response| res.status().as_u16();

    // The monitor has no developer API on DynamoDB.
    assert_eq!(
        status(app.dev().post("/api/dev/calls", Some(json!({}))).await),
        404
    );

    let id = writer.create_call("+14155550199").await;
    writer.say(&id, "Customer", 0, "Hello", true).await;
    writer
        .say(
            &id,
            "Customer",
            0,
            "Hello, I need to change my flight",
            false,
        )
        .await;
    writer
        .say(&id, "Agent", 1500, "Of course, which one?", false)
        .await;
    writer.end(&id).await;

    // The monitor follows the call from its start (its floor does): the
    // end reaches it on the stream, a moment after the write.
    let details: Value = eventually(Duration::from_secs(10), || async {
        let res = app.get(&format!("/details/{id}")).await;
        match res.status().as_u16() {
            200 => res
                .json::<Value>()
                .await
                .ok()
                .filter(|d| d["audioFromCustomer"].is_string()),
            _ => None,
        }
    })
    .await
    .expect("the monitor shows the writer's ended call");
    assert_eq!(details["customerPhoneNumber"], "+14155550199");
    assert!(details["audioFromCustomer"].is_string(), "ended: {details}");

    // The call's lines, each in its latest state (the stream may bring
    // some after the backlog).
    let expected = vec![
        (
            Speaker::Customer,
            "Hello, I need to change my flight".to_string(),
            false,
        ),
        (Speaker::Agent, "Of course, which one?".to_string(), false),
    ];
    let mut frames = pump(app.connect(&format!("/ws/{id}")).await);
    let mut shown = BTreeMap::new();
    until(
        &mut frames,
        "both lines, final",
        Duration::from_secs(15),
        |msg| {
            if let ServerMsg::Transcript(s) = msg {
                shown.insert(s.start_ms, (s.speaker, s.text, s.partial));
            }
            (shown.values().cloned().collect::<Vec<_>>() == expected).then_some(())
        },
    )
    .await;

    // Writes only, with the token, to calls it started.
    let unknown = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let line = json!({ "speaker": "Agent", "startMs": 9000, "text": "x" });
    let path = format!("/api/dev/calls/{unknown}/segments");
    assert_eq!(status(writer.post(&path, Some(line.clone())).await), 404);
    let bare = plain_client();
    let without_token = bare
        .post(format!("{}/api/dev/calls/{id}/segments", writer.base))
        .json(&line)
        .send()
        .await
        .expect("request");
    assert_eq!(status(without_token), 403);
    for read in [
        format!("/details/{id}"),
        "/latest-call".into(),
        format!("/ws/{id}"),
    ] {
        let res = bare
            .get(format!("{}{read}", writer.base))
            .send()
            .await
            .expect("request");
        assert_eq!(status(res), 404, "{read} is not served");
    }

    // Reset empties the tables; the monitor forgets the call.
    writer.reset().await;
    let gone = eventually(Duration::from_secs(10), || async {
        (status(app.get("/latest-call").await) == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the monitor heard the tables were emptied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_server_writes_connect_rt_calls_a_monitor_shows() {
    the_writer_server_writes_a_call_a_dynamodb_monitor_shows(WriterFormat::ConnectRt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_server_writes_kvs_ms_calls_a_monitor_shows() {
    the_writer_server_writes_a_call_a_dynamodb_monitor_shows(WriterFormat::KvsMs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_polling_tables_without_streams_forgets_the_calls_of_emptied_tables() {
    let prefix = unique_prefix("writer-polled");
    // Tables without streams: the monitor Scans contactDetails every second.
    writer(&prefix, WriterFormat::ConnectRt, false).await;
    let calls = spawn_writer(&prefix, WriterFormat::ConnectRt).await;
    let app = spawn_dynamo_app(&prefix, &[("latest_poll_secs", "1")]).await;

    let id = calls.create_call("+14155550142").await;
    let latest = eventually(Duration::from_secs(10), || async {
        let res = app.get("/latest-call").await;
        let v = res.json::<Value>().await.ok()?;
        (v["contactId"] == id.as_str()).then_some(())
    })
    .await;
    assert!(latest.is_some(), "the new call found by a Scan");

    calls.reset().await;
    let gone = eventually(Duration::from_secs(10), || async {
        (app.get("/latest-call").await.status() == 404).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "a call deleted from the table is no longer the newest"
    );
}
