//! Where rules and alerts are kept: the [`AlertBook`] interface, and the
//! embedded store's book (rules in a file every instance on the machine
//! reads, alerts in memory beside the embedded store's calls).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{Alert, AlertSet, CallId, Rule, RuleId};
use crate::server::store::StoreError;

use super::engine::default_rules;

#[async_trait]
pub trait AlertBook: Send + Sync {
    /// Every rule, in the order they were added (the shipped ones the
    /// first time the book is read).
    async fn rules(&self) -> Result<Vec<Rule>, StoreError>;
    /// Adds a rule, or replaces the one with its id.
    async fn save_rule(&self, rule: &Rule) -> Result<(), StoreError>;
    /// Removes a rule; whether there was one.
    async fn delete_rule(&self, id: &RuleId) -> Result<bool, StoreError>;
    /// A call's alerts, in the order they were raised.
    async fn alerts(&self, call: &CallId) -> Result<Vec<Alert>, StoreError>;
    /// Keeps an alert with its call (replacing the same rule's alert on
    /// the same line: judging a line twice keeps one).
    async fn keep(&self, call: &CallId, alert: &Alert) -> Result<(), StoreError>;
}

/// The rules file's contents.
#[derive(Default, Serialize, Deserialize)]
struct RulesFile {
    rules: Vec<Rule>,
}

/// Calls whose alerts the embedded book keeps (the oldest call's go
/// first, as the embedded store forgets old calls too).
const KEPT_CALLS: usize = 5_000;

/// The embedded store's book.
pub struct LocalBook {
    path: PathBuf,
    /// One writer of the file at a time in this process.
    file: tokio::sync::Mutex<()>,
    alerts: std::sync::Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    by_call: HashMap<CallId, AlertSet>,
    order: VecDeque<CallId>,
}

impl LocalBook {
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            file: tokio::sync::Mutex::new(()),
            alerts: std::sync::Mutex::new(Kept::default()),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.alerts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file's rules; the shipped ones (written to the file) when there
    /// is no file yet.
    async fn read(&self) -> Result<Vec<Rule>, StoreError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice::<RulesFile>(&bytes)
                .map(|f| f.rules)
                .map_err(|e| {
                    StoreError::Misconfigured(format!(
                        "rules file {} is not valid: {e}",
                        self.path.display()
                    ))
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rules = default_rules();
                self.write(&rules).await?;
                tracing::info!(file = %self.path.display(), "rules file made with the shipped rules");
                Ok(rules)
            }
            Err(e) => Err(StoreError::Unavailable(format!(
                "rules file {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Writes the whole file anew, atomically (a reader on another
    /// instance never sees half a file).
    async fn write(&self, rules: &[Rule]) -> Result<(), StoreError> {
        let failed = |e: std::io::Error| {
            StoreError::Unavailable(format!("rules file {}: {e}", self.path.display()))
        };
        let body = serde_json::to_vec_pretty(&RulesFile {
            rules: rules.to_vec(),
        })
        .map_err(|e| StoreError::Misconfigured(e.to_string()))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(failed)?;
        }
        let temp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        tokio::fs::write(&temp, body).await.map_err(failed)?;
        tokio::fs::rename(&temp, &self.path).await.map_err(failed)
    }
}

#[async_trait]
impl AlertBook for LocalBook {
    async fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        let _one = self.file.lock().await;
        self.read().await
    }

    async fn save_rule(&self, rule: &Rule) -> Result<(), StoreError> {
        let _one = self.file.lock().await;
        let mut rules = self.read().await?;
        match rules.iter_mut().find(|r| r.id == rule.id) {
            Some(same) => *same = rule.clone(),
            None => rules.push(rule.clone()),
        }
        self.write(&rules).await
    }

    async fn delete_rule(&self, id: &RuleId) -> Result<bool, StoreError> {
        let _one = self.file.lock().await;
        let mut rules = self.read().await?;
        let before = rules.len();
        rules.retain(|r| &r.id != id);
        if rules.len() == before {
            return Ok(false);
        }
        self.write(&rules).await?;
        Ok(true)
    }

    async fn alerts(&self, call: &CallId) -> Result<Vec<Alert>, StoreError> {
        Ok(self
            .kept()
            .by_call
            .get(call)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn keep(&self, call: &CallId, alert: &Alert) -> Result<(), StoreError> {
        let mut kept = self.kept();
        if !kept.by_call.contains_key(call) {
            kept.order.push_back(call.clone());
            while kept.order.len() > KEPT_CALLS {
                if let Some(gone) = kept.order.pop_front() {
                    kept.by_call.remove(&gone);
                }
            }
        }
        kept.by_call
            .entry(call.clone())
            .or_default()
            .add(alert.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PatternKind, Severity, Speaker, Watches};

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("travoiq-rules-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join("rules.json")
    }

    #[tokio::test]
    async fn the_file_starts_with_the_shipped_rules_and_keeps_changes() {
        let path = temp_file("keeps");
        let book = LocalBook::new(&path);
        let rules = book.rules().await.unwrap();
        assert_eq!(rules, default_rules());
        assert!(path.exists(), "the shipped rules are written down");
        let mine = Rule {
            id: RuleId::parse("mine").unwrap(),
            kind: PatternKind::Phrase,
            pattern: "chargeback".into(),
            speaker: Watches::Either,
            severity: Severity::Info,
            label: "Chargeback".into(),
        };
        book.save_rule(&mine).await.unwrap();
        assert!(book.delete_rule(&default_rules()[1].id).await.unwrap());
        assert!(!book.delete_rule(&default_rules()[1].id).await.unwrap());
        // Another instance on this machine reads the same file.
        let other = LocalBook::new(&path);
        let ids: Vec<String> = other
            .rules()
            .await
            .unwrap()
            .iter()
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(ids, ["escalation", "refund", "mine"]);
        // Deleting every rule leaves none (the shipped ones don't return).
        for id in ["escalation", "refund", "mine"] {
            other
                .delete_rule(&RuleId::parse(id).unwrap())
                .await
                .unwrap();
        }
        assert!(book.rules().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_broken_rules_file_is_an_error_that_names_the_file() {
        let path = temp_file("broken");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{ not json").unwrap();
        let err = LocalBook::new(&path).rules().await.unwrap_err();
        assert!(err.to_string().contains("rules.json"), "{err}");
    }

    #[tokio::test]
    async fn alerts_are_kept_once_per_rule_and_line() {
        let book = LocalBook::new(temp_file("alerts"));
        let call = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        let alert = Alert {
            rule_id: RuleId::parse("refund").unwrap(),
            label: "Refund".into(),
            severity: Severity::Warning,
            speaker: Speaker::Customer,
            start_ms: 10,
            hits: vec![(0, 6)],
            raised_at_ms: 1,
        };
        book.keep(&call, &alert).await.unwrap();
        book.keep(
            &call,
            &Alert {
                raised_at_ms: 2,
                ..alert.clone()
            },
        )
        .await
        .unwrap();
        book.keep(
            &call,
            &Alert {
                start_ms: 20,
                ..alert.clone()
            },
        )
        .await
        .unwrap();
        assert_eq!(book.alerts(&call).await.unwrap().len(), 2);
    }
}
