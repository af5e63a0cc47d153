//! Alerts: rules that watch what is said, and the alerts a final line
//! raises when a rule matches it. Shared by the server (which judges) and
//! the browser (which shows badges and highlights).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{SegmentKey, Speaker};

/// How urgent an alert is. Ordered: `Critical` is the greatest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Whose lines a rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Watches {
    Customer,
    Agent,
    Either,
}

impl Watches {
    pub const ALL: [Watches; 3] = [Watches::Customer, Watches::Agent, Watches::Either];

    pub fn as_str(self) -> &'static str {
        match self {
            Watches::Customer => "customer",
            Watches::Agent => "agent",
            Watches::Either => "either",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn includes(self, speaker: Speaker) -> bool {
        match self {
            Watches::Either => true,
            Watches::Customer => speaker == Speaker::Customer,
            Watches::Agent => speaker == Speaker::Agent,
        }
    }
}

/// How a rule's pattern is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatternKind {
    /// Words matched as written, ignoring case.
    Phrase,
    /// A regular expression (ignoring case), run by a linear-time engine.
    Regex,
}

impl PatternKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::Phrase => "phrase",
            PatternKind::Regex => "regex",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [PatternKind::Phrase, PatternKind::Regex]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// The most characters a rule's pattern may have.
pub const MAX_PATTERN: usize = 200;
/// The most characters a rule's label may have.
pub const MAX_LABEL: usize = 40;

/// A rule's id: a short token the server makes (letters, digits, `-`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(String);

impl RuleId {
    /// A rule id as the server makes them, or `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 40
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rule as supervisors write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: RuleId,
    pub kind: PatternKind,
    pub pattern: String,
    pub speaker: Watches,
    pub severity: Severity,
    pub label: String,
}

/// An alert a final line raised: which rule, on which line, and where in
/// the line's text the rule matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub rule_id: RuleId,
    pub label: String,
    pub severity: Severity,
    pub speaker: Speaker,
    pub start_ms: i64,
    /// The matched parts of the line's text, as byte ranges `[from, to)`.
    pub hits: Vec<(u32, u32)>,
    /// When the alert was raised (ms since the Unix epoch).
    pub raised_at_ms: i64,
}

impl Alert {
    /// The line it was raised on.
    pub fn line(&self) -> SegmentKey {
        SegmentKey {
            start_ms: self.start_ms,
            speaker: self.speaker,
        }
    }

    /// Its identity: one alert per rule per line.
    pub fn key(&self) -> (SegmentKey, &RuleId) {
        (self.line(), &self.rule_id)
    }
}

/// How many alerts of one label a call has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertCount {
    pub label: String,
    pub severity: Severity,
    pub count: u32,
}

/// The alerts of a call, one per rule per line: what the page and the
/// floor keep of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertSet(Vec<Alert>);

impl AlertSet {
    pub fn new(alerts: Vec<Alert>) -> Self {
        let mut set = Self::default();
        for alert in alerts {
            set.add(alert);
        }
        set
    }

    /// Adds an alert, or replaces the one of the same rule on the same
    /// line. Whether anything changed.
    pub fn add(&mut self, alert: Alert) -> bool {
        match self.0.iter_mut().find(|a| a.key() == alert.key()) {
            Some(same) if *same == alert => false,
            Some(same) => {
                *same = alert;
                true
            }
            None => {
                self.0.push(alert);
                true
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The alerts on one line.
    pub fn on(&self, line: SegmentKey) -> impl Iterator<Item = &Alert> {
        self.0.iter().filter(move |a| a.line() == line)
    }

    /// Counts per label, the most severe first, then by label.
    pub fn counts(&self) -> Vec<AlertCount> {
        let mut counts: Vec<AlertCount> = Vec::new();
        for alert in &self.0 {
            match counts.iter_mut().find(|c| c.label == alert.label) {
                Some(c) => {
                    c.count += 1;
                    c.severity = c.severity.max(alert.severity);
                }
                None => counts.push(AlertCount {
                    label: alert.label.clone(),
                    severity: alert.severity,
                    count: 1,
                }),
            }
        }
        counts.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.label.cmp(&b.label)));
        counts
    }
}

/// A line's text cut into parts, each marked with the most severe alert
/// matching it (`None`: not matched). Hits out of range or not on a
/// character boundary are ignored, so a bad range can never split a
/// character or panic.
pub fn mark_hits<'a>(
    text: &str,
    alerts: impl IntoIterator<Item = &'a Alert>,
) -> Vec<(String, Option<&'a Alert>)> {
    // Per byte, the most severe alert covering it.
    let mut cover: Vec<Option<&Alert>> = vec![None; text.len()];
    for alert in alerts {
        for &(from, to) in &alert.hits {
            let (from, to) = (from as usize, to as usize);
            if from >= to
                || to > text.len()
                || !text.is_char_boundary(from)
                || !text.is_char_boundary(to)
            {
                continue;
            }
            for slot in &mut cover[from..to] {
                if slot.is_none_or(|a| a.severity < alert.severity) {
                    *slot = Some(alert);
                }
            }
        }
    }
    let mut parts: Vec<(String, Option<&Alert>)> = Vec::new();
    for (i, ch) in text.char_indices() {
        let by = cover[i];
        match parts.last_mut() {
            Some((part, last)) if same(*last, by) => part.push(ch),
            _ => parts.push((ch.to_string(), by)),
        }
    }
    parts
}

fn same(a: Option<&Alert>, b: Option<&Alert>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(
        rule: &str,
        label: &str,
        severity: Severity,
        start_ms: i64,
        hits: &[(u32, u32)],
    ) -> Alert {
        Alert {
            rule_id: RuleId::parse(rule).unwrap(),
            label: label.into(),
            severity,
            speaker: Speaker::Customer,
            start_ms,
            hits: hits.to_vec(),
            raised_at_ms: 0,
        }
    }

    #[test]
    fn one_alert_per_rule_per_line_and_counts_by_label_most_severe_first() {
        let mut set = AlertSet::default();
        assert!(set.add(alert("a", "Refund", Severity::Warning, 0, &[(0, 1)])));
        assert!(!set.add(alert("a", "Refund", Severity::Warning, 0, &[(0, 1)])));
        assert!(set.add(alert("a", "Refund", Severity::Warning, 0, &[(0, 2)])));
        assert!(set.add(alert("a", "Refund", Severity::Warning, 900, &[(0, 1)])));
        assert!(set.add(alert("b", "Escalation", Severity::Critical, 900, &[(0, 1)])));
        assert_eq!(set.len(), 3);
        let counts = set.counts();
        assert_eq!(
            counts,
            [
                AlertCount {
                    label: "Escalation".into(),
                    severity: Severity::Critical,
                    count: 1
                },
                AlertCount {
                    label: "Refund".into(),
                    severity: Severity::Warning,
                    count: 2
                },
            ]
        );
        let line = SegmentKey {
            start_ms: 900,
            speaker: Speaker::Customer,
        };
        assert_eq!(set.on(line).count(), 2);
    }

    #[test]
    fn marks_split_text_at_hits_and_ignore_bad_ranges() {
        let text = "I want a refund, café";
        let a = alert(
            "a",
            "Refund",
            Severity::Warning,
            0,
            &[(9, 15), (20, 21), (40, 50)],
        );
        let parts: Vec<(String, bool)> = mark_hits(text, [&a])
            .into_iter()
            .map(|(t, by)| (t, by.is_some()))
            .collect();
        assert_eq!(
            parts,
            [
                ("I want a ".into(), false),
                ("refund".into(), true),
                (", café".into(), false)
            ]
        );
        // The parts always add up to the text.
        let joined: String = mark_hits(text, [&a]).into_iter().map(|(t, _)| t).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn overlapping_hits_show_the_most_severe() {
        let warn = alert("a", "Cancellation", Severity::Warning, 0, &[(0, 6)]);
        let crit = alert("b", "Escalation", Severity::Critical, 0, &[(3, 9)]);
        let parts = mark_hits("cancel it", [&warn, &crit]);
        let labels: Vec<(&str, Option<&str>)> = parts
            .iter()
            .map(|(t, by)| (t.as_str(), by.map(|a| a.label.as_str())))
            .collect();
        assert_eq!(
            labels,
            [
                ("can", Some("Cancellation")),
                ("cel it", Some("Escalation"))
            ]
        );
    }

    #[test]
    fn rule_ids_are_tokens() {
        assert!(RuleId::parse("escalation-1").is_some());
        for bad in ["", "a b", "<x>", &"a".repeat(41)] {
            assert!(RuleId::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
        assert_eq!(Watches::parse("either"), Some(Watches::Either));
        assert!(Watches::Either.includes(Speaker::Agent));
        assert!(!Watches::Customer.includes(Speaker::Agent));
    }
}
