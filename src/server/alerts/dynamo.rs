//! The DynamoDB book: rules in one table (every instance reads the same
//! ones), alerts in another, keyed by call then line and rule (a call's
//! alerts are one Query; judging a line twice writes the same item).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use aws_sdk_dynamodb::Client;

use crate::model::{Alert, CallId, PatternKind, Rule, RuleId, Severity, Speaker, Watches};
use crate::server::auth::dynamo_items::{get_n, get_s, n, s, Item};
use crate::server::store::dynamo::errors::classify;
use crate::server::store::dynamo::tables::create_if_missing;
use crate::server::store::StoreError;

use super::book::AlertBook;
use super::engine::default_rules;

const RULE_ID: &str = "ruleId";
const CONTACT_ID: &str = "contactId";
const ALERT_KEY: &str = "alertKey";
/// The item that says the shipped rules were written once (not a rule id:
/// rule ids have no `_`), so deleting every rule does not bring them back.
const SEEDED: &str = "_seeded";

pub struct DynamoBook {
    client: Client,
    rules_table: String,
    alerts_table: String,
}

impl DynamoBook {
    pub fn new(client: Client, rules_table: String, alerts_table: String) -> Self {
        Self {
            client,
            rules_table,
            alerts_table,
        }
    }

    /// Creates both tables if missing (the monitor's own tables: it may
    /// make them at start).
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        create_if_missing(
            &self.client,
            &self.rules_table,
            (RULE_ID, ScalarAttributeType::S),
            None,
            false,
        )
        .await?;
        create_if_missing(
            &self.client,
            &self.alerts_table,
            (CONTACT_ID, ScalarAttributeType::S),
            Some((ALERT_KEY, ScalarAttributeType::S)),
            false,
        )
        .await?;
        Ok(())
    }

    async fn put_rule(&self, rule: &Rule, added_ms: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.rules_table)
            .set_item(Some(rule_item(rule, added_ms)))
            .send()
            .await
            .map_err(|e| classify("PutItem", &self.rules_table, e))?;
        Ok(())
    }

    /// Writes the shipped rules once, guarded by the marker item so two
    /// instances starting together write them once.
    async fn seed(&self) -> Result<Vec<Rule>, StoreError> {
        let marked = self
            .client
            .put_item()
            .table_name(&self.rules_table)
            .item(RULE_ID, s(SEEDED))
            .condition_expression("attribute_not_exists(ruleId)")
            .send()
            .await;
        match marked {
            Ok(_) => {
                let rules = default_rules();
                for (i, rule) in rules.iter().enumerate() {
                    self.put_rule(rule, i as i64).await?;
                }
                tracing::info!(table = %self.rules_table, "shipped rules written");
                Ok(rules)
            }
            // Another instance seeded (or is seeding): read what is there.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(classify("PutItem", &self.rules_table, e)),
        }
    }
}

fn rule_item(rule: &Rule, added_ms: i64) -> Item {
    HashMap::from([
        (RULE_ID.to_string(), s(rule.id.as_str())),
        ("kind".to_string(), s(rule.kind.as_str())),
        ("pattern".to_string(), s(rule.pattern.as_str())),
        ("speaker".to_string(), s(rule.speaker.as_str())),
        ("severity".to_string(), s(rule.severity.as_str())),
        ("label".to_string(), s(rule.label.as_str())),
        ("addedMs".to_string(), n(added_ms)),
    ])
}

fn rule_from(item: &Item) -> Option<(i64, Rule)> {
    Some((
        get_n(item, "addedMs").unwrap_or(0),
        Rule {
            id: RuleId::parse(get_s(item, RULE_ID)?)?,
            kind: PatternKind::parse(get_s(item, "kind")?)?,
            pattern: get_s(item, "pattern")?.to_string(),
            speaker: Watches::parse(get_s(item, "speaker")?)?,
            severity: Severity::parse(get_s(item, "severity")?)?,
            label: get_s(item, "label")?.to_string(),
        },
    ))
}

/// Sorts a call's alerts by line, then rule: `000000012345#Customer#refund`.
fn alert_key(alert: &Alert) -> String {
    format!(
        "{:012}#{}#{}",
        alert.start_ms.max(0),
        alert.speaker.label(),
        alert.rule_id
    )
}

fn alert_item(call: &CallId, alert: &Alert) -> Item {
    let hits = serde_json::to_string(&alert.hits).unwrap_or_else(|_| "[]".into());
    HashMap::from([
        (CONTACT_ID.to_string(), s(call.to_string())),
        (ALERT_KEY.to_string(), s(alert_key(alert))),
        (RULE_ID.to_string(), s(alert.rule_id.as_str())),
        ("label".to_string(), s(alert.label.as_str())),
        ("severity".to_string(), s(alert.severity.as_str())),
        ("speaker".to_string(), s(alert.speaker.label())),
        ("startMs".to_string(), n(alert.start_ms)),
        ("hits".to_string(), s(hits)),
        ("raisedMs".to_string(), n(alert.raised_at_ms)),
    ])
}

fn alert_from(item: &Item) -> Option<Alert> {
    Some(Alert {
        rule_id: RuleId::parse(get_s(item, RULE_ID)?)?,
        label: get_s(item, "label")?.to_string(),
        severity: Severity::parse(get_s(item, "severity")?)?,
        speaker: match get_s(item, "speaker")? {
            "Customer" => Speaker::Customer,
            "Agent" => Speaker::Agent,
            _ => return None,
        },
        start_ms: get_n(item, "startMs")?,
        hits: serde_json::from_str(get_s(item, "hits")?).ok()?,
        raised_at_ms: get_n(item, "raisedMs").unwrap_or(0),
    })
}

#[async_trait]
impl AlertBook for DynamoBook {
    async fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        let mut rules = Vec::new();
        let mut seeded = false;
        let mut items = self
            .client
            .scan()
            .table_name(&self.rules_table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| classify("Scan", &self.rules_table, e))?;
            if get_s(&item, RULE_ID) == Some(SEEDED) {
                seeded = true;
                continue;
            }
            match rule_from(&item) {
                Some(rule) => rules.push(rule),
                None => tracing::warn!(table = %self.rules_table, "rule item skipped: not a rule"),
            }
        }
        if !seeded {
            let shipped = self.seed().await?;
            if !shipped.is_empty() {
                return Ok(shipped);
            }
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        Ok(rules.into_iter().map(|(_, r)| r).collect())
    }

    async fn save_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        // A rule edited keeps its place.
        let out = self
            .client
            .get_item()
            .table_name(&self.rules_table)
            .key(RULE_ID, s(rule.id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", &self.rules_table, e))?;
        let added = out
            .item()
            .and_then(|i| get_n(i, "addedMs"))
            .unwrap_or_else(crate::server::store::now_ms);
        self.put_rule(rule, added).await
    }

    async fn delete_rule(&self, id: &RuleId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.rules_table)
            .key(RULE_ID, s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("DeleteItem", &self.rules_table, e))?;
        Ok(out.attributes().is_some())
    }

    async fn alerts(&self, call: &CallId) -> Result<Vec<Alert>, StoreError> {
        let mut alerts = Vec::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.alerts_table)
            .key_condition_expression("contactId = :c")
            .expression_attribute_values(":c", AttributeValue::S(call.to_string()))
            // An alert kept a moment ago is read back.
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| classify("Query", &self.alerts_table, e))?;
            match alert_from(&item) {
                Some(alert) => alerts.push(alert),
                None => {
                    tracing::warn!(table = %self.alerts_table, call_id = %call, "alert item skipped: not an alert")
                }
            }
        }
        alerts.sort_by_key(|a| a.raised_at_ms);
        Ok(alerts)
    }

    async fn keep(&self, call: &CallId, alert: &Alert) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.alerts_table)
            .set_item(Some(alert_item(call, alert)))
            .send()
            .await
            .map_err(|e| classify("PutItem", &self.alerts_table, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_and_odd_items_are_skipped() {
        let rule = default_rules().remove(0);
        assert_eq!(rule_from(&rule_item(&rule, 5)), Some((5, rule.clone())));
        let mut odd = rule_item(&rule, 5);
        odd.insert("severity".into(), s("apocalyptic"));
        assert_eq!(rule_from(&odd), None);
        let call = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        let alert = Alert {
            rule_id: rule.id.clone(),
            label: rule.label.clone(),
            severity: rule.severity,
            speaker: Speaker::Agent,
            start_ms: 61_000,
            hits: vec![(1, 4), (9, 12)],
            raised_at_ms: 99,
        };
        let item = alert_item(&call, &alert);
        assert_eq!(
            get_s(&item, ALERT_KEY),
            Some("000000061000#Agent#escalation")
        );
        assert_eq!(alert_from(&item), Some(alert));
        let mut broken = item.clone();
        broken.insert("hits".into(), s("<script>"));
        assert_eq!(alert_from(&broken), None);
    }
}
