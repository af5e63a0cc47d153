//! What finding new calls costs without a stream on contactDetails: one
//! Scan of the whole table (as the server makes every `latest_poll_secs`),
//! on 10,000 and on 100,000 contact items shaped as upstream writes them
//! (moto on loopback). Prints the pages, the bytes and read units one Scan
//! costs, how long it took, and what that is per hour at 10 s and at 2 s.
//! With a stream, finding a new call costs no table reads at all.
//!
//! Then what reading a two-hour call whole costs (5,000 lines as the
//! connect-rt writer stores them): what the reader does every
//! `dynamodb_full_read_secs` for a live call while its tables have no
//! readable stream.
//!
//!     cargo bench --features ssr --bench scan_cost

#[path = "../tests/it/common/dynamo.rs"]
mod dynamo;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::simulator::random_call_id_string;
use travoiq_monitor::server::store::dynamo::client::table_client;
use travoiq_monitor::server::store::dynamo::tables::scan_read_units;
use travoiq_monitor::server::store::dynamo::writer::DynamoWriter;
use travoiq_monitor::server::store::dynamo::{DynamoSettings, DynamoStore};
use travoiq_monitor::server::store::CallStore;

const RUNS: usize = 3;

/// A contact item as the contact flow and recording pipeline leave it.
fn contact(n: usize) -> HashMap<String, AttributeValue> {
    let id = random_call_id_string();
    let s = |v: String| AttributeValue::S(v);
    let day = 1 + n % 28;
    HashMap::from([
        ("contactId".to_string(), s(id.clone())),
        (
            "customerPhoneNumber".into(),
            s(format!("+1415555{:04}", n % 10_000)),
        ),
        ("callDate".into(), s(format!("1/{day}/2023"))),
        (
            "callTimestamp".into(),
            s(format!(
                "Thu Jan {day:02} 2023 {:02}:{:02}:{:02} GMT-0500 (Eastern Standard Time)",
                n / 3600 % 24,
                n / 60 % 60,
                n % 60
            )),
        ),
        ("agentUsername".into(), s(format!("agent{}", n % 50))),
        (
            "audioFromCustomer".into(),
            s(format!("s3://travoiq-recordings/{id}/from-customer.wav")),
        ),
    ])
}

/// DynamoDB's item size: attribute names plus values (UTF-8 bytes).
fn item_bytes(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    _ => 1,
                }
        })
        .sum::<usize>() as u64
}

#[tokio::main]
async fn main() {
    let moto = dynamo::moto();
    println!("One Scan of contactDetails (eventually consistent), {RUNS} runs each");
    println!(
        "{:>8} {:>6} {:>10} {:>11} {:>12} {:>14} {:>13}",
        "items", "pages", "bytes", "read units", "time p50", "units/h @10 s", "units/h @2 s"
    );
    for items in [10_000usize, 100_000] {
        let prefix = dynamo::unique_prefix("scan");
        let tables = dynamo::tables(&prefix);
        let client = table_client(Duration::from_secs(30), Some(&moto.endpoint))
            .await
            .expect("client");
        DynamoWriter::new(client.clone(), tables.clone(), WriterFormat::ConnectRt)
            .create_tables_with(false)
            .await
            .expect("tables");
        let bytes = fill(&client, &tables.contact, items).await;

        let store = DynamoStore::connect(DynamoSettings {
            tables,
            poll: Duration::from_millis(500),
            latest_poll: Duration::from_secs(3600),
            timeout: Duration::from_secs(60),
            idle_end: Duration::from_secs(300),
            audio_stream_prefix: None,
            page_limit: None,
            endpoint: Some(moto.endpoint.clone()),
            streams_endpoint: None,
            stream_pace: Default::default(),
            full_read_every: Duration::from_secs(10),
            partial_bound: Duration::from_secs(30),
            owner_attribute: "agentUsername".into(),
        })
        .await
        .expect("store");
        let mut times = Vec::new();
        let mut pages = 0;
        for _ in 0..RUNS {
            store.forget_all().await;
            let before = store.request_counts().scan;
            let started = Instant::now();
            let newest = store.latest_call().await.expect("scan");
            times.push(started.elapsed());
            assert!(newest.is_some());
            pages = store.request_counts().scan - before;
        }
        times.sort();
        // Each 1 MB page is charged on its own: half a unit per 4 KB.
        let per_page = bytes.div_ceil(pages.max(1));
        let units = scan_read_units(per_page) * pages as f64;
        println!(
            "{:>8} {:>6} {:>10} {:>11.0} {:>12.2?} {:>14.0} {:>13.0}",
            items,
            pages,
            bytes,
            units,
            times[RUNS / 2],
            units * 360.0,
            units * 1800.0
        );
    }
    println!("(on-demand, at $0.25 per million read request units: units/h ÷ 4,000,000 dollars)");
    whole_call(&moto.endpoint).await;
}

/// One full read of a two-hour call (both tables, all pages).
async fn whole_call(endpoint: &str) {
    use travoiq_monitor::model::{CallId, Speaker};
    use travoiq_monitor::server::store::dynamo::items::segment_item;
    use travoiq_monitor::server::store::SegmentWrite;
    const LINES: i64 = 5_000;
    let prefix = dynamo::unique_prefix("twohours");
    let tables = dynamo::tables(&prefix);
    let client = table_client(Duration::from_secs(30), Some(endpoint))
        .await
        .expect("client");
    DynamoWriter::new(client.clone(), tables.clone(), WriterFormat::ConnectRt)
        .create_tables_with(false)
        .await
        .expect("tables");
    let id = CallId::parse(&random_call_id_string()).expect("id");
    let mut bytes = 0;
    let mut per_table: HashMap<String, Vec<HashMap<String, AttributeValue>>> = HashMap::new();
    for i in 0..LINES {
        let speaker = if i % 2 == 0 {
            Speaker::Customer
        } else {
            Speaker::Agent
        };
        let write = SegmentWrite {
            speaker,
            segment_id: random_call_id_string(),
            start_ms: i * 1440,
            end_ms: i * 1440 + 1200,
            text: "I would like to move my flight to Thursday morning, please.".into(),
            partial: false,
        };
        let item = segment_item(
            WriterFormat::ConnectRt,
            id.as_str(),
            &write,
            1_700_000_000_000 + i,
        );
        bytes += item_bytes(&item);
        let table = match speaker {
            Speaker::Customer => &tables.customer,
            Speaker::Agent => &tables.agent,
        };
        per_table.entry(table.clone()).or_default().push(item);
    }
    for (table, items) in per_table {
        put_all(&client, &table, items).await;
    }
    let mut times = Vec::new();
    let mut pages = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        pages = 0;
        for table in [&tables.customer, &tables.agent] {
            let mut stream = client
                .query()
                .table_name(table)
                .key_condition_expression("#c = :id")
                .expression_attribute_names("#c", "ContactId")
                .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
                .into_paginator()
                .send();
            while let Some(page) = stream.next().await {
                page.expect("query");
                pages += 1;
            }
        }
        times.push(started.elapsed());
    }
    times.sort();
    let units = scan_read_units(bytes.div_ceil(pages.max(1))) * pages as f64;
    println!();
    println!("Reading a two-hour call whole ({LINES} lines, both tables), {RUNS} runs");
    println!(
        "{:>6} {:>10} {:>11} {:>12} {:>15} {:>15}",
        "pages", "bytes", "read units", "time p50", "units/h @10 s", "units/h @60 s"
    );
    println!(
        "{:>6} {:>10} {:>11.0} {:>12.2?} {:>15.0} {:>15.0}",
        pages,
        bytes,
        units,
        times[RUNS / 2],
        units * 360.0,
        units * 60.0
    );
}

/// Writes `n` contact items; their total size.
async fn fill(client: &aws_sdk_dynamodb::Client, table: &str, n: usize) -> u64 {
    let started = Instant::now();
    let items: Vec<_> = (0..n).map(contact).collect();
    let bytes = items.iter().map(item_bytes).sum();
    put_all(client, table, items).await;
    eprintln!("  wrote {n} items in {:.1?}", started.elapsed());
    bytes
}

/// Writes items, 25 a request, 8 requests at a time.
async fn put_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    for item in items {
        batch.push(
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("put"),
                )
                .build(),
        );
        if batch.len() == 25 {
            batches.push(std::mem::take(&mut batch));
        }
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    let writes = futures::stream::iter(batches.into_iter().map(|batch| {
        let client = client.clone();
        let table = table.to_string();
        async move {
            let mut pending = HashMap::from([(table, batch)]);
            while !pending.is_empty() {
                let out = client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .expect("batch write");
                pending = out.unprocessed_items().cloned().unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
            }
        }
    }));
    use futures::StreamExt;
    writes.buffer_unordered(8).collect::<Vec<()>>().await;
}
