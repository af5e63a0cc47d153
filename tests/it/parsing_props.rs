//! Property tests of what comes from outside: socket frames from browsers,
//! call ids, timestamps and DynamoDB items of any shape. Nothing panics;
//! what parses is sane; what we write reads back the same.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use proptest::prelude::*;
use travoiq_monitor::model::{CallId, Segment, Seq, Speaker};
use travoiq_monitor::protocol::{ClientMsg, ServerMsg};
use travoiq_monitor::server::config::WriterFormat;
use travoiq_monitor::server::store::dynamo::items::{parse_segment, segment_item};
use travoiq_monitor::server::store::SegmentWrite;
use travoiq_monitor::server::timestamp::parse_call_timestamp;

fn attribute() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        any::<String>().prop_map(AttributeValue::S),
        any::<f64>().prop_map(|n| AttributeValue::N(n.to_string())),
        "[-+0-9.eE]{0,12}".prop_map(AttributeValue::N),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null(true)),
        prop::collection::vec(any::<String>(), 0..3).prop_map(AttributeValue::Ss),
    ]
}

fn item() -> impl Strategy<Value = HashMap<String, AttributeValue>> {
    let names = prop_oneof![
        Just("StartTime".to_string()),
        Just("EndTime".to_string()),
        Just("Transcript".to_string()),
        Just("IsPartial".to_string()),
        Just("SegmentId".to_string()),
        Just("segmentId".to_string()),
        Just("LoggedOn".to_string()),
        "[a-zA-Z]{1,10}",
    ];
    prop::collection::hash_map(names, attribute(), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn client_frames_of_any_text_never_panic(text in any::<String>()) {
        let _ = serde_json::from_str::<ClientMsg>(&text);
    }

    #[test]
    fn client_frames_of_any_json_shape_never_panic(
        kind in "[a-zA-Z]{0,8}",
        extra in any::<String>(),
    ) {
        let frame = serde_json::json!({ "type": kind, "x": extra }).to_string();
        let parsed = serde_json::from_str::<ClientMsg>(&frame);
        prop_assert_eq!(parsed.is_ok(), kind == "ping");
    }

    #[test]
    fn call_ids_parse_only_canonical_uuids(raw in any::<String>()) {
        if let Ok(id) = CallId::parse(&raw) {
            prop_assert_eq!(id.as_str().len(), 36);
            prop_assert_eq!(CallId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(id.as_str().to_lowercase(), id.as_str());
        }
    }

    #[test]
    fn timestamps_of_any_text_never_panic(raw in any::<String>()) {
        let _ = parse_call_timestamp(&raw);
    }

    #[test]
    fn transcript_items_of_any_shape_never_panic_and_parse_sanely(it in item()) {
        if let Ok(p) = parse_segment(&it) {
            prop_assert!(p.start_ms >= 0);
            prop_assert!(p.end_ms >= p.start_ms);
        }
    }

    #[test]
    fn written_items_read_back_in_both_formats(
        start_ms in 0i64..86_400_000,
        length in 0i64..60_000,
        text in any::<String>(),
        partial in any::<bool>(),
        customer in any::<bool>(),
    ) {
        let write = SegmentWrite {
            speaker: if customer { Speaker::Customer } else { Speaker::Agent },
            segment_id: "s".into(),
            start_ms,
            end_ms: start_ms + length,
            text: text.clone(),
            partial,
        };
        for format in [WriterFormat::ConnectRt, WriterFormat::KvsMs] {
            let parsed = parse_segment(&segment_item(format, "id", &write, 1_700_000_000_000)).unwrap();
            prop_assert_eq!(parsed.start_ms, start_ms);
            prop_assert_eq!(parsed.end_ms, start_ms + length);
            prop_assert_eq!(&parsed.text, &text);
            prop_assert_eq!(parsed.partial, partial);
        }
    }

    #[test]
    fn server_frames_round_trip(text in any::<String>(), seq in any::<u64>(), start in any::<i64>(), partial in any::<bool>()) {
        let msg = ServerMsg::Transcript(Segment {
            seq: Seq(seq),
            segment_id: "id".into(),
            speaker: Speaker::Customer,
            start_ms: start,
            end_ms: start,
            text,
            partial,
        });
        let back: ServerMsg = serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap();
        prop_assert_eq!(back, msg);
    }
}
