use super::*;
use crate::model::Speaker;
use std::collections::BTreeMap;

fn id(n: u8) -> CallId {
    CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02x}")).unwrap()
}

fn contact(n: u8, ts: &str) -> NewContact {
    let mut attributes = BTreeMap::new();
    attributes.insert("contactId".to_string(), id(n).to_string());
    attributes.insert("callTimestamp".to_string(), ts.to_string());
    NewContact {
        call_id: id(n),
        attributes,
    }
}

fn write(speaker: Speaker, start_ms: i64, text: &str, partial: bool) -> SegmentWrite {
    SegmentWrite {
        speaker,
        segment_id: format!("seg-{start_ms}"),
        start_ms,
        end_ms: start_ms + 500,
        text: text.into(),
        partial,
    }
}

#[tokio::test]
async fn partials_update_in_place_and_changes_after_a_position_are_exact() {
    let store = MemoryStore::new(10);
    store
        .start_call(contact(1, "2023-01-05T17:28:53Z"))
        .await
        .unwrap();
    let c = id(1);
    store
        .write_segment(&c, write(Speaker::Customer, 0, "Hi", true))
        .await
        .unwrap();
    store
        .write_segment(&c, write(Speaker::Customer, 0, "Hi there", true))
        .await
        .unwrap();
    store
        .write_segment(&c, write(Speaker::Agent, 900, "Hello", false))
        .await
        .unwrap();
    store
        .write_segment(&c, write(Speaker::Customer, 0, "Hi there!", false))
        .await
        .unwrap();

    let all = store.segments_after(&c, Seq::ZERO, 100).await.unwrap();
    let texts: Vec<_> = all
        .segments
        .iter()
        .map(|s| (s.seq.0, s.text.as_str(), s.partial))
        .collect();
    assert_eq!(texts, [(3, "Hello", false), (4, "Hi there!", false)]);

    // A viewer that saw up to 2 gets both segments in their latest state.
    let after2 = store.segments_after(&c, Seq(2), 100).await.unwrap();
    assert_eq!(after2.segments.len(), 2);
    let after3 = store.segments_after(&c, Seq(3), 100).await.unwrap();
    assert_eq!(after3.segments.len(), 1);
    assert_eq!(after3.segments[0].text, "Hi there!");
    assert!(store
        .segments_after(&c, Seq(4), 100)
        .await
        .unwrap()
        .segments
        .is_empty());
    assert_eq!(store.last_seq(&c).await.unwrap(), Seq(4));
}

#[tokio::test]
async fn pages_say_when_more_follow() {
    let store = MemoryStore::new(10);
    store
        .start_call(contact(1, "2023-01-05T17:28:53Z"))
        .await
        .unwrap();
    for i in 0..5 {
        store
            .write_segment(&id(1), write(Speaker::Agent, i * 1000, "x", false))
            .await
            .unwrap();
    }
    let p = store.segments_after(&id(1), Seq::ZERO, 2).await.unwrap();
    assert_eq!(p.segments.len(), 2);
    assert!(p.more);
    let p = store.segments_after(&id(1), Seq(4), 2).await.unwrap();
    assert_eq!(p.segments.len(), 1);
    assert!(!p.more);
}

#[tokio::test]
async fn latest_is_by_parsed_time_not_insertion_or_string_order() {
    let store = MemoryStore::new(10);
    store
        .start_call(contact(1, "Wed Feb 01 2023 09:00:00 GMT+0000"))
        .await
        .unwrap();
    store
        .start_call(contact(2, "Thu Jan 05 2023 12:28:53 GMT-0500"))
        .await
        .unwrap();
    assert_eq!(store.latest_call().await.unwrap().unwrap().call_id, id(1));
}

#[tokio::test]
async fn retention_drops_the_oldest_ended_call_first() {
    let store = MemoryStore::new(2);
    store
        .start_call(contact(1, "2023-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .start_call(contact(2, "2023-01-02T00:00:00Z"))
        .await
        .unwrap();
    store.end_call(&id(2), 1).await.unwrap();
    store
        .start_call(contact(3, "2023-01-03T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(store.call_count(), 2);
    assert!(store.call_details(&id(2)).await.unwrap().is_none());
    assert!(store.call_details(&id(1)).await.unwrap().is_some());
}

#[tokio::test]
async fn writes_announce_themselves() {
    let store = MemoryStore::new(10);
    let mut rx = store.notices();
    store
        .start_call(contact(1, "2023-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .write_segment(&id(1), write(Speaker::Agent, 0, "x", true))
        .await
        .unwrap();
    store.end_call(&id(1), 5).await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), StoreNotice::CallStarted(id(1)));
    assert_eq!(
        rx.recv().await.unwrap(),
        StoreNotice::SegmentsChanged(id(1))
    );
    assert_eq!(rx.recv().await.unwrap(), StoreNotice::DetailsChanged(id(1)));
}

#[tokio::test]
async fn transcript_for_an_unknown_call_is_refused_not_stored() {
    let store = MemoryStore::new(10);
    let err = store
        .write_segment(&id(9), write(Speaker::Agent, 0, "x", true))
        .await;
    assert!(err.is_err());
    assert_eq!(store.call_count(), 0);
}
