//! Alerts: rules judged against every final line as a call's feed reads
//! it, the alerts kept with the call, and the rules supervisors edit.
//!
//! [`Alerts`] holds the rules compiled, read again from the book at most
//! every [`RULES_FRESH`] (a rule changed on another instance applies to
//! that instance's next final within that time; one changed here applies
//! at once).

pub mod book;
pub mod dynamo;
pub mod engine;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::{Alert, CallId, Rule, RuleId, Segment};

use super::store::{now_ms, StoreError};
use book::AlertBook;
use engine::{compile, Judge, RuleError};

/// How long compiled rules are used before the book is read again.
pub const RULES_FRESH: Duration = Duration::from_secs(1);

/// Why a rule change was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleChangeError {
    #[error(transparent)]
    Invalid(#[from] RuleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Alerts {
    book: Arc<dyn AlertBook>,
    judge: tokio::sync::Mutex<Cached>,
}

struct Cached {
    judge: Arc<Judge>,
    read_at: Option<Instant>,
}

impl Alerts {
    pub fn new(book: Arc<dyn AlertBook>) -> Self {
        Self {
            book,
            judge: tokio::sync::Mutex::new(Cached {
                judge: Arc::new(Judge::default()),
                read_at: None,
            }),
        }
    }

    /// The rules compiled, read again when older than [`RULES_FRESH`]. If
    /// the book can't be read, the rules last read are used (and said).
    async fn judge(&self) -> Arc<Judge> {
        let mut cached = self.judge.lock().await;
        if cached.read_at.is_none_or(|at| at.elapsed() >= RULES_FRESH) {
            match self.book.rules().await {
                Ok(rules) => cached.judge = Arc::new(Judge::new(rules)),
                Err(e) => tracing::warn!(error = %e, "rules not read; using the ones read before"),
            }
            cached.read_at = Some(Instant::now());
        }
        cached.judge.clone()
    }

    /// Forgets the compiled rules, so the next final reads them again.
    async fn forget(&self) {
        self.judge.lock().await.read_at = None;
    }

    /// Judges a line and keeps the alerts it raises with the call: the
    /// alerts to announce. A partial raises none. An alert that could not
    /// be kept is still announced (and the failure logged).
    pub async fn raise(&self, call: &CallId, seg: &Segment) -> Vec<Alert> {
        if seg.partial {
            return Vec::new();
        }
        let alerts = self.judge().await.judge(seg, now_ms());
        for alert in &alerts {
            tracing::info!(call_id = %call, rule = %alert.rule_id, label = %alert.label, "alert raised");
            if let Err(e) = self.book.keep(call, alert).await {
                tracing::warn!(call_id = %call, error = %e, "alert not kept");
            }
        }
        alerts
    }

    /// A call's alerts so far.
    pub async fn of_call(&self, call: &CallId) -> Result<Vec<Alert>, StoreError> {
        self.book.alerts(call).await
    }

    pub async fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        self.book.rules().await
    }

    /// Checks a rule and saves it (new, or replacing its id's).
    pub async fn save_rule(&self, rule: Rule) -> Result<Rule, RuleChangeError> {
        compile(&rule)?;
        let rule = Rule {
            pattern: rule.pattern.trim().to_string(),
            label: rule.label.trim().to_string(),
            ..rule
        };
        self.book.save_rule(&rule).await?;
        self.forget().await;
        Ok(rule)
    }

    pub async fn delete_rule(&self, id: &RuleId) -> Result<bool, StoreError> {
        let gone = self.book.delete_rule(id).await?;
        self.forget().await;
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PatternKind, Seq, Severity, Speaker, Watches};

    fn line(text: &str, partial: bool) -> Segment {
        Segment {
            seq: Seq(1),
            segment_id: "s".into(),
            speaker: Speaker::Customer,
            start_ms: 0,
            end_ms: 1,
            text: text.into(),
            partial,
        }
    }

    #[tokio::test]
    async fn a_new_rule_applies_to_the_next_final_and_alerts_are_kept() {
        let path = std::env::temp_dir().join(format!("travoiq-alerts-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let alerts = Alerts::new(Arc::new(book::LocalBook::new(&path)));
        let call = CallId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        assert!(alerts
            .raise(&call, &line("my chargeback", false))
            .await
            .is_empty());
        let rule = Rule {
            id: RuleId::parse("chargeback").unwrap(),
            kind: PatternKind::Phrase,
            pattern: "  chargeback ".into(),
            speaker: Watches::Either,
            severity: Severity::Critical,
            label: "Chargeback".into(),
        };
        let saved = alerts.save_rule(rule).await.unwrap();
        assert_eq!(saved.pattern, "chargeback");
        assert!(alerts
            .raise(&call, &line("my chargeback", true))
            .await
            .is_empty());
        let raised = alerts.raise(&call, &line("my chargeback", false)).await;
        assert_eq!(raised.len(), 1);
        assert_eq!(alerts.of_call(&call).await.unwrap(), raised);
        // A bad regular expression is refused, and says why.
        let bad = Rule {
            id: RuleId::parse("bad").unwrap(),
            kind: PatternKind::Regex,
            pattern: "(".into(),
            speaker: Watches::Either,
            severity: Severity::Info,
            label: "Bad".into(),
        };
        assert!(matches!(
            alerts.save_rule(bad).await,
            Err(RuleChangeError::Invalid(RuleError::BadRegex(_)))
        ));
        assert!(alerts.delete_rule(&saved.id).await.unwrap());
        assert!(alerts
            .raise(&call, &line("another chargeback", false))
            .await
            .is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
