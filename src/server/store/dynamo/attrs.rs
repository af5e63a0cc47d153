//! Attribute values as the monitor reads them.

use aws_sdk_dynamodb::types::AttributeValue;

/// A scalar attribute as text (strings, numbers, booleans); `None` for
/// lists, maps, sets, binary and null.
pub fn scalar_string(value: &AttributeValue) -> Option<String> {
    match value {
        AttributeValue::S(s) => Some(s.clone()),
        AttributeValue::N(n) => Some(n.clone()),
        AttributeValue::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
