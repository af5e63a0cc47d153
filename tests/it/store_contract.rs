//! One store contract, run against the embedded store and against DynamoDB
//! (moto's server on loopback, in both upstream writer formats).

use std::sync::Arc;
use std::time::Duration;

use crate::common::dynamo::{
    contact, hung_endpoint, moto, moto_client, new_call_id, segment, tables, unique_prefix, writer,
    Proxy,
};
use crate::common::eventually;
use aws_sdk_dynamodb::types::AttributeValue;
use travoiq_monitor::model::{conversation_order, CallId, Segment, Seq, Speaker};
use travoiq_monitor::server::config::{TableNames, WriterFormat};
use travoiq_monitor::server::store::dynamo::{DynamoSettings, DynamoStore};
use travoiq_monitor::server::store::memory::MemoryStore;
use travoiq_monitor::server::store::sources::{ReadFrom, TableRole};
use travoiq_monitor::server::store::{
    CallSink, CallStore, NewContact, SegmentWrite, StoreError, StoreNotice,
};
use travoiq_monitor::server::timestamp::format_js_date_string;

struct Backend {
    store: Arc<dyn CallStore>,
    sink: Arc<dyn CallSink>,
    dynamo: Option<(aws_sdk_dynamodb::Client, TableNames)>,
}

/// The store's settings: its tables, on `endpoint`.
fn settings(tables: TableNames, endpoint: String, timeout: Duration) -> DynamoSettings {
    let endpoint = Some(endpoint);
    DynamoSettings {
        tables,
        poll: Duration::from_millis(100),
        latest_poll: Duration::from_secs(1),
        timeout,
        idle_end: Duration::from_secs(300),
        audio_stream_prefix: None,
        page_limit: Some(5),
        // The same endpoint for both clients: cutting it cuts both.
        streams_endpoint: endpoint.clone(),
        endpoint,
        stream_pace: Default::default(),
        full_read_every: Duration::from_secs(10),
        partial_bound: Duration::from_secs(30),
        owner_attribute: "agentUsername".into(),
    }
}

async fn memory() -> Backend {
    let store = Arc::new(MemoryStore::new(1000).with_owner_attribute("agentUsername"));
    Backend {
        store: store.clone(),
        sink: store,
        dynamo: None,
    }
}

/// A writer in `format` and a store reading its tables, on moto.
async fn on_moto(
    prefix: &str,
    format: WriterFormat,
) -> (
    travoiq_monitor::server::store::dynamo::writer::DynamoWriter,
    Arc<DynamoStore>,
) {
    let writer = writer(prefix, format, true).await;
    let store = DynamoStore::connect(settings(
        tables(prefix),
        moto().endpoint.clone(),
        Duration::from_secs(5),
    ))
    .await
    .unwrap();
    (writer, store)
}

async fn dynamo(format: WriterFormat) -> Backend {
    let prefix = unique_prefix("contract");
    let (writer, store) = on_moto(&prefix, format).await;
    Backend {
        store,
        sink: Arc::new(writer),
        dynamo: Some((moto_client().await, tables(&prefix))),
    }
}

/// A new call started at `ts`: its id and contact item.
fn new_call(ts: &str) -> (CallId, NewContact) {
    let id = new_call_id();
    let contact = contact(&id, Some(ts.into()));
    (id, contact)
}

/// A line 750 ms long.
fn say(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
    segment(speaker, start_ms, 750, text, partial)
}

/// Everything changed after `after`, read in pages of 4, once the store has
/// settled: a backend may answer from a copy a moment old (a poll, or a
/// stream's delay), so this reads until the answer has not changed for
/// 600 ms (at most 10 s).
async fn all_after(store: &dyn CallStore, id: &CallId, after: Seq) -> Vec<Segment> {
    let started = tokio::time::Instant::now();
    let mut settled_since = started;
    let mut previous: Option<Vec<Segment>> = None;
    loop {
        // Not a wait for something known: the poll interval of reading
        // until nothing more changes (which is what is looked for).
        tokio::time::sleep(Duration::from_millis(120)).await;
        let now = read_after(store, id, after).await;
        if previous.as_ref() != Some(&now) {
            settled_since = tokio::time::Instant::now();
        } else if settled_since.elapsed() >= Duration::from_millis(600)
            || started.elapsed() > Duration::from_secs(10)
        {
            return now;
        }
        previous = Some(now);
    }
}

async fn read_after(store: &dyn CallStore, id: &CallId, after: Seq) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut last = after;
    loop {
        let page = store.segments_after(id, last, 4).await.unwrap();
        if let Some(s) = page.segments.last() {
            last = s.seq;
        }
        out.extend(page.segments);
        if !page.more {
            return out;
        }
    }
}

// ---- the contract ----------------------------------------------------------

async fn partials_settle_in_place_and_resume_is_exact(b: Backend) {
    let (id, contact) = new_call("2023-01-05T17:28:53Z");
    b.sink.start_call(contact).await.unwrap();
    b.sink
        .write_segment(&id, say(Speaker::Customer, 1210, "Hi", true))
        .await
        .unwrap();
    let first = all_after(b.store.as_ref(), &id, Seq::ZERO).await;
    assert_eq!(first.len(), 1);
    assert!(first[0].partial);
    let seen = first[0].seq;

    // Overwritten several times between two reads: one segment, final text.
    b.sink
        .write_segment(&id, say(Speaker::Customer, 1210, "Hi there", true))
        .await
        .unwrap();
    b.sink
        .write_segment(&id, say(Speaker::Customer, 1210, "Hi there, I", true))
        .await
        .unwrap();
    b.sink
        .write_segment(
            &id,
            say(Speaker::Customer, 1210, "Hi there, I need help", false),
        )
        .await
        .unwrap();
    b.sink
        .write_segment(&id, say(Speaker::Agent, 4500, "Of course", false))
        .await
        .unwrap();
    let after = all_after(b.store.as_ref(), &id, seen).await;
    let texts: Vec<_> = after
        .iter()
        .map(|s| (s.speaker, s.text.as_str(), s.partial))
        .collect();
    assert!(
        texts.contains(&(Speaker::Customer, "Hi there, I need help", false)),
        "{texts:?}"
    );
    assert!(
        texts.contains(&(Speaker::Agent, "Of course", false)),
        "{texts:?}"
    );
    assert_eq!(after.len(), 2, "nothing twice: {texts:?}");
    assert!(after.iter().all(|s| s.seq > seen));
    assert!(after.windows(2).all(|w| w[0].seq < w[1].seq));

    // Nothing new: nothing more.
    let last = after.iter().map(|s| s.seq).max().unwrap();
    assert!(all_after(b.store.as_ref(), &id, last).await.is_empty());
    assert_eq!(b.store.last_seq(&id).await.unwrap(), last);
}

async fn both_speakers_merge_in_start_order_at_millisecond_precision(b: Backend) {
    let (id, contact) = new_call("2023-01-05T17:28:53Z");
    b.sink.start_call(contact).await.unwrap();
    let lines = [
        (Speaker::Agent, 0, "Thank you for calling"),
        (Speaker::Customer, 3210, "Hello"),
        (Speaker::Agent, 5005, "How can I help?"),
        (Speaker::Customer, 7999, "My flight"),
        (Speaker::Agent, 12_340, "Let me look"),
    ];
    // Written out of order across the two tables.
    for (speaker, start, text) in lines.iter().rev() {
        b.sink
            .write_segment(&id, say(*speaker, *start, text, false))
            .await
            .unwrap();
    }
    let mut got = all_after(b.store.as_ref(), &id, Seq::ZERO).await;
    got.sort_by(conversation_order);
    let got: Vec<_> = got
        .iter()
        .map(|s| (s.speaker, s.start_ms, s.text.as_str()))
        .collect();
    assert_eq!(got, lines);
}

async fn pages_beyond_one_page(b: Backend) {
    let (id, contact) = new_call("2023-01-05T17:28:53Z");
    b.sink.start_call(contact).await.unwrap();
    for i in 0..23 {
        let speaker = if i % 2 == 0 {
            Speaker::Customer
        } else {
            Speaker::Agent
        };
        b.sink
            .write_segment(&id, say(speaker, i * 1000, &format!("line {i}"), false))
            .await
            .unwrap();
    }
    let got = all_after(b.store.as_ref(), &id, Seq::ZERO).await;
    assert_eq!(got.len(), 23);
    let page = b.store.segments_after(&id, Seq::ZERO, 10).await.unwrap();
    assert_eq!(page.segments.len(), 10);
    assert!(page.more);
}

async fn the_latest_call_is_the_newest_by_time_among_hundreds(b: Backend) {
    // Date.toString() strings whose string order is not time order.
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut newest: Option<(i64, CallId)> = None;
    for i in 0..250u32 {
        let ms = 1_672_531_200_000 + ((i as i64 * 7_919) % 250) * 86_400_000 + i as i64 * 1000;
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap();
        let offset = time::UtcOffset::from_hms(-5, 0, 0).unwrap();
        let local = t.to_offset(offset);
        let ts = format!(
            "{} {} {:02} {} {:02}:{:02}:{:02} GMT-0500 (Eastern Standard Time)",
            days[local.weekday().number_days_from_sunday() as usize],
            months[local.month() as usize - 1],
            local.day(),
            local.year(),
            local.hour(),
            local.minute(),
            local.second()
        );
        let (id, contact) = new_call(&ts);
        if newest.as_ref().is_none_or(|(n, _)| ms > *n) {
            newest = Some((ms, id.clone()));
        }
        b.sink.start_call(contact).await.unwrap();
    }
    let latest = b.store.latest_call().await.unwrap().unwrap();
    assert_eq!(latest.call_id, newest.unwrap().1);
}

async fn new_calls_are_announced(b: Backend) {
    let mut notices = b.store.notices();
    // The store must be watching before the call starts: on DynamoDB its
    // contact table read from the stream (from now on), not polled.
    let _ = b.store.latest_call().await.unwrap();
    eventually(Duration::from_secs(15), || async {
        b.store
            .sources()
            .iter()
            .filter(|s| s.role == TableRole::Contact)
            .all(|s| s.read_from == ReadFrom::Stream)
            .then_some(())
    })
    .await
    .expect("the contact table read from its stream");
    let (id, contact) = new_call(&format_js_date_string(time::OffsetDateTime::now_utc()));
    b.sink.start_call(contact).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let notice = tokio::time::timeout_at(deadline, notices.recv())
            .await
            .expect("a new-call notice within 15 s")
            .expect("notices open");
        if notice == StoreNotice::CallStarted(id.clone()) {
            break;
        }
    }
    assert_eq!(b.store.latest_call().await.unwrap().unwrap().call_id, id);
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$case(super::memory().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb_connect_rt() {
                super::$case(super::dynamo(super::WriterFormat::ConnectRt).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb_kvs_ms() {
                super::$case(super::dynamo(super::WriterFormat::KvsMs).await).await
            }
        }
    )*};
}

contract!(
    partials_settle_in_place_and_resume_is_exact,
    both_speakers_merge_in_start_order_at_millisecond_precision,
    pages_beyond_one_page,
    the_latest_call_is_the_newest_by_time_among_hundreds,
    new_calls_are_announced,
);

// ---- DynamoDB only ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_items_are_skipped_and_the_rest_is_read() {
    let b = dynamo(WriterFormat::ConnectRt).await;
    let (client, tables) = b.dynamo.clone().unwrap();
    let (id, contact) = new_call("2023-01-05T17:28:53Z");
    b.sink.start_call(contact).await.unwrap();
    b.sink
        .write_segment(&id, say(Speaker::Agent, 1000, "good", false))
        .await
        .unwrap();
    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: &str| AttributeValue::N(v.into());
    let bad_items = [
        vec![("StartTime", n("2")), ("Transcript", n("12"))],
        vec![
            ("StartTime", n("3")),
            ("IsPartial", s("perhaps")),
            ("Transcript", s("x")),
        ],
        vec![("StartTime", n("4"))],
        vec![
            ("StartTime", n("5")),
            ("Transcript", AttributeValue::L(vec![s("<script>")])),
        ],
    ];
    for bad in bad_items {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            bad.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        item.insert("ContactId".into(), s(id.as_str()));
        client
            .put_item()
            .table_name(&tables.agent)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    b.sink
        .write_segment(&id, say(Speaker::Agent, 9000, "also good", false))
        .await
        .unwrap();
    let got = all_after(b.store.as_ref(), &id, Seq::ZERO).await;
    let texts: Vec<_> = got.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"good") && texts.contains(&"also good"));

    // A contact item with a malformed id does not hide the others.
    let mut odd = std::collections::HashMap::new();
    odd.insert("contactId".to_string(), s("<img src=x>"));
    odd.insert(
        "callTimestamp".to_string(),
        s("Sun Dec 31 2090 00:00:00 GMT+0000"),
    );
    client
        .put_item()
        .table_name(&tables.contact)
        .set_item(Some(odd))
        .send()
        .await
        .unwrap();
    assert_eq!(b.store.latest_call().await.unwrap().unwrap().call_id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_named_as_such() {
    let store = DynamoStore::connect(settings(
        tables("no-such-"),
        moto().endpoint.clone(),
        Duration::from_secs(3),
    ))
    .await
    .unwrap();
    let id = new_call_id();
    match store.segments_after(&id, Seq::ZERO, 10).await {
        Err(StoreError::MissingTable(m)) => {
            assert!(m.contains("no-such-contactTranscriptSegments"), "{m}")
        }
        other => panic!("expected a missing table, got {other:?}"),
    }
    assert!(matches!(
        store.latest_call().await,
        Err(StoreError::MissingTable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_goes_down_and_comes_back_loses_nothing() {
    let moto = moto();
    let proxy = Proxy::start(&moto.endpoint).await;
    let direct = dynamo(WriterFormat::KvsMs).await; // writes straight to moto
    let (_, tables) = direct.dynamo.clone().unwrap();
    let store = DynamoStore::connect(settings(tables, proxy.endpoint(), Duration::from_secs(2)))
        .await
        .unwrap();
    let (id, contact) = new_call("2023-01-05T17:28:53Z");
    direct.sink.start_call(contact).await.unwrap();
    direct
        .sink
        .write_segment(&id, say(Speaker::Customer, 0, "before", false))
        .await
        .unwrap();
    let before = all_after(store.as_ref(), &id, Seq::ZERO).await;
    assert_eq!(before.len(), 1);
    let seen = before[0].seq;

    proxy.cut();
    direct
        .sink
        .write_segment(&id, say(Speaker::Agent, 1000, "during", true))
        .await
        .unwrap();
    direct
        .sink
        .write_segment(&id, say(Speaker::Agent, 1000, "during the outage", false))
        .await
        .unwrap();
    // Answers may come from memory until the stream reader and the next
    // due read notice; then the outage is reported, not hidden.
    eventually(Duration::from_secs(10), || async {
        match store.segments_after(&id, seen, 10).await {
            Err(StoreError::Unavailable(_)) => Some(()),
            Err(other) => panic!("expected unavailable, got {other:?}"),
            Ok(_) => None,
        }
    })
    .await
    .expect("the outage is reported");

    proxy.restore();
    direct
        .sink
        .write_segment(&id, say(Speaker::Customer, 2000, "after", false))
        .await
        .unwrap();
    let resumed = eventually(Duration::from_secs(5), || async {
        store.segments_after(&id, seen, 10).await.ok()
    })
    .await
    .expect("the store recovers by itself")
    .segments;
    let texts: Vec<_> = resumed.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"during the outage") && texts.contains(&"after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_endpoint_times_out_instead_of_hanging() {
    moto(); // the AWS environment (region, credentials)
    let hung = hung_endpoint().await;
    let store = DynamoStore::connect(settings(tables("hung-"), hung, Duration::from_millis(900)))
        .await
        .unwrap();
    let id = new_call_id();
    // The guard only keeps a broken build from hanging the suite.
    let answer = tokio::time::timeout(Duration::from_secs(30), store.call_details(&id))
        .await
        .expect("the store answers instead of hanging");
    assert!(
        matches!(answer, Err(StoreError::Unavailable(_))),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_ids_that_name_no_call_caches_nothing() {
    let (writer, store) = on_moto(&unique_prefix("cache"), WriterFormat::ConnectRt).await;
    let (id, contact) = new_call(&format_js_date_string(time::OffsetDateTime::now_utc()));
    writer.start_call(contact).await.unwrap();
    // As someone trying random ids would.
    for _ in 0..300 {
        assert_eq!(store.call_details(&new_call_id()).await.unwrap(), None);
    }
    assert_eq!(
        store.cached_calls(),
        0,
        "no entry for a call that isn't there"
    );
    assert!(store.call_details(&id).await.unwrap().is_some());
    assert_eq!(store.cached_calls(), 1, "the call that is there is cached");
    store.call_details(&id).await.unwrap();
    assert_eq!(store.cached_calls(), 1);
}
