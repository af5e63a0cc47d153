//! Attribute values as the monitor reads them.

use std::collections::{BTreeMap, HashMap};

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

/// An item's scalar attributes as text under their names (a contactDetails
/// item's attributes as [`CallDetails`] keeps them); other values are
/// skipped.
///
/// [`CallDetails`]: crate::model::CallDetails
pub fn scalar_strings(item: &HashMap<String, AttributeValue>) -> BTreeMap<String, String> {
    item.iter()
        .filter_map(|(k, v)| Some((k.clone(), scalar_string(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scalars_are_kept() {
        let item: HashMap<String, AttributeValue> = [
            ("contactId", AttributeValue::S("x".into())),
            ("retries", AttributeValue::N("2".into())),
            ("vip", AttributeValue::Bool(true)),
            ("tags", AttributeValue::Ss(vec!["a".into()])),
            ("gone", AttributeValue::Null(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let a = scalar_strings(&item);
        assert_eq!(a.len(), 3);
        assert_eq!(a["retries"], "2");
        assert_eq!(a["vip"], "true");
    }
}
