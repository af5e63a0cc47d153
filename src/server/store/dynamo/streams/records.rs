//! Stream records as the store reads them: the Streams SDK's attribute
//! values turned into the DynamoDB SDK's, so the same readers serve items
//! read from the table and images read from its stream.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record};

use super::super::attrs::scalar_strings;
use super::super::items::Item;
use super::{Change, ChangeKind};

/// A record's item (its keys or an image) in the DynamoDB SDK's values.
fn image(map: Option<&HashMap<String, AttributeValue>>) -> Option<Item> {
    let map = map?;
    Some(
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), to_table_value(v)?)))
            .collect(),
    )
}

/// The Streams SDK's attribute value as the DynamoDB SDK's (scalars only:
/// the transcript and contact items hold nothing else that is read).
fn to_table_value(v: &AttributeValue) -> Option<aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue as T;
    Some(match v {
        AttributeValue::S(s) => T::S(s.clone()),
        AttributeValue::N(n) => T::N(n.clone()),
        AttributeValue::Bool(b) => T::Bool(*b),
        AttributeValue::Null(b) => T::Null(*b),
        _ => return None,
    })
}

pub(super) fn change_of(record: &Record) -> Option<Change> {
    let kind = match record.event_name()? {
        OperationType::Insert => ChangeKind::Insert,
        OperationType::Modify => ChangeKind::Modify,
        OperationType::Remove => ChangeKind::Remove,
        _ => return None,
    };
    let data = record.dynamodb()?;
    let raw_image = image(data.new_image());
    Some(Change {
        kind,
        keys: image(data.keys())
            .as_ref()
            .map(scalar_strings)
            .unwrap_or_default(),
        new_image: raw_image.as_ref().map(scalar_strings).unwrap_or_default(),
        raw_image,
    })
}
