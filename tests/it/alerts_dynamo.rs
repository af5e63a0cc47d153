//! Alerts on DynamoDB (moto on loopback) with two server instances on the
//! same tables: a rule changed on one applies on the other (it reads the
//! rules again at most a second later), every instance pushes the alerts
//! its feeds raise, and an alert is kept once with its call however many
//! instances judged the line.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::access::{rule_form, rules_fn};
use crate::common::dynamo::{line, moto_client, start_call, unique_prefix, writer};
use crate::common::{pump, spawn_dynamo_app, until, Frames, TestApp};
use travoiq_monitor::model::{Alert, CallId, Speaker};
use travoiq_monitor::protocol::ServerMsg;
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::CallSink;

/// Past the time an instance keeps the rules it read (one second).
const RULES_SETTLE: Duration = Duration::from_millis(1_300);

/// A supervisor's socket on `app` for the call, past its hello: the alerts
/// the hello carried, and the frames that follow.
async fn watch(app: &TestApp, id: &CallId) -> (Vec<Alert>, Frames) {
    let mut rx = pump(app.connect(&format!("/ws/{id}")).await);
    let kept = until(&mut rx, "hello", Duration::from_secs(15), |m| match m {
        ServerMsg::Hello { alerts, .. } => Some(alerts),
        _ => None,
    })
    .await;
    (kept, rx)
}

/// The next alert pushed on `rx`.
async fn next_alert(rx: &mut Frames, what: &str) -> Alert {
    until(rx, what, Duration::from_secs(15), |m| match m {
        ServerMsg::Alert { alert } => Some(alert),
        _ => None,
    })
    .await
}

/// The alerts kept for a call in the alerts table.
async fn kept_items(table: &str, id: &CallId) -> usize {
    let out = moto_client()
        .await
        .query()
        .table_name(table)
        .key_condition_expression("contactId = :c")
        .expression_attribute_values(":c", AttributeValue::S(id.to_string()))
        .send()
        .await
        .expect("the alerts table answers");
    out.items().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_changed_on_one_instance_applies_on_the_other_and_alerts_are_kept_once() {
    let prefix = unique_prefix("alerts");
    let writer = writer(&prefix, WriterFormat::ConnectRt, true).await;
    let a = spawn_dynamo_app(&prefix, &[]).await;
    let b = spawn_dynamo_app(&prefix, &[]).await;
    let id = start_call(&writer, true).await;
    let (kept, mut on_b) = watch(&b, &id).await;
    assert!(kept.is_empty(), "{kept:?}");

    // A rule added on A; the next final after B reads the rules again
    // raises it on B.
    let (status, body) = rules_fn(
        &a,
        Some(&a.cookie),
        "rules/save",
        &rule_form("", "zebra crossing", "phrase"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rule: Value = serde_json::from_str(&body).expect("the saved rule");
    tokio::time::sleep(RULES_SETTLE).await;
    writer
        .write_segment(
            &id,
            line(Speaker::Customer, 0, "Is there a Zebra Crossing near you?"),
        )
        .await
        .unwrap();
    let alert = next_alert(&mut on_b, "the new rule's alert on B").await;
    assert_eq!(alert.label, "Chargeback");
    assert_eq!(alert.rule_id.as_str(), rule["id"].as_str().unwrap());
    assert_eq!(alert.start_ms, 0);

    // Kept with the call: a socket opened later on A has it in its hello.
    let (kept, mut on_a) = watch(&a, &id).await;
    assert_eq!(
        kept.iter().map(|k| k.label.as_str()).collect::<Vec<_>>(),
        ["Chargeback"]
    );

    // Deleted on B: A stops raising it; a shipped rule still fires.
    let (status, body) = rules_fn(
        &b,
        Some(&b.cookie),
        "rules/delete",
        &[("id", rule["id"].as_str().unwrap())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(RULES_SETTLE).await;
    writer
        .write_segment(&id, line(Speaker::Customer, 2_000, "That zebra crossing."))
        .await
        .unwrap();
    writer
        .write_segment(&id, line(Speaker::Customer, 4_000, "And I want a refund."))
        .await
        .unwrap();
    // A judges the first line too, so it may announce that alert again
    // (the same key: kept once, counted once by the page); past it, the
    // next alert is the refund, not the deleted rule's.
    let alert = until(
        &mut on_a,
        "the refund alert on A",
        Duration::from_secs(15),
        |m| match m {
            ServerMsg::Alert { alert } if alert.start_ms != 0 => Some(alert),
            _ => None,
        },
    )
    .await;
    assert_eq!((alert.label.as_str(), alert.start_ms), ("Refund", 4_000));

    // Both instances judged every line; each alert is kept once.
    let table = format!("{prefix}monitorAlerts");
    assert_eq!(kept_items(&table, &id).await, 2);
}
