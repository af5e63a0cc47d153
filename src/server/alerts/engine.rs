//! The rule engine: a rule checked and compiled once, and a final line
//! judged against every rule. Regular expressions run on the `regex`
//! crate's linear-time engine, with limits on the pattern's length and its
//! compiled size, so no rule can stall the server whatever it says.

use regex::{Regex, RegexBuilder};

use crate::model::{
    Alert, PatternKind, Rule, RuleId, Segment, Severity, Watches, MAX_LABEL, MAX_PATTERN,
};

/// Why a rule was refused; said to the supervisor who wrote it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("The pattern is empty.")]
    EmptyPattern,
    #[error("The pattern is longer than {MAX_PATTERN} characters.")]
    PatternTooLong,
    #[error("The label is empty.")]
    EmptyLabel,
    #[error("The label is longer than {MAX_LABEL} characters.")]
    LabelTooLong,
    #[error("The pattern matches an empty line; it would mark every line.")]
    MatchesNothing,
    #[error("Not a valid regular expression: {0}")]
    BadRegex(String),
    #[error("The regular expression is too large to run quickly; make it simpler.")]
    TooLarge,
}

/// Compiled size limits: far above any sensible phrase rule, far below
/// what would make matching slow or memory-hungry.
const SIZE_LIMIT: usize = 256 * 1024;
const NEST_LIMIT: u32 = 32;
/// The most hits marked in one line.
const MAX_HITS: usize = 16;

/// Checks a rule as written and compiles it.
pub fn compile(rule: &Rule) -> Result<Regex, RuleError> {
    let pattern = rule.pattern.trim();
    if pattern.is_empty() {
        return Err(RuleError::EmptyPattern);
    }
    if pattern.chars().count() > MAX_PATTERN {
        return Err(RuleError::PatternTooLong);
    }
    let label = rule.label.trim();
    if label.is_empty() {
        return Err(RuleError::EmptyLabel);
    }
    if label.chars().count() > MAX_LABEL {
        return Err(RuleError::LabelTooLong);
    }
    let source = match rule.kind {
        // Words as written; any run of spaces between them matches any
        // run of white space.
        PatternKind::Phrase => pattern
            .split_whitespace()
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(r"\s+"),
        PatternKind::Regex => pattern.to_string(),
    };
    let re = RegexBuilder::new(&source)
        .case_insensitive(true)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => RuleError::TooLarge,
            other => RuleError::BadRegex(first_line(&other.to_string())),
        })?;
    if re.is_match("") {
        return Err(RuleError::MatchesNothing);
    }
    Ok(re)
}

/// The regex crate's messages draw the pattern over several lines; the
/// last line says what is wrong.
fn first_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid")
        .trim_start_matches("error: ")
        .to_string()
}

/// The rules a newcomer starts with.
pub fn default_rules() -> Vec<Rule> {
    let rule = |id: &str, kind, pattern: &str, severity, label: &str| Rule {
        id: RuleId::parse(id).expect("a valid built-in id"),
        kind,
        pattern: pattern.into(),
        speaker: Watches::Customer,
        severity,
        label: label.into(),
    };
    vec![
        rule(
            "escalation",
            PatternKind::Regex,
            "speak to (a|your) (manager|supervisor)",
            Severity::Critical,
            "Escalation",
        ),
        rule(
            "cancellation",
            PatternKind::Phrase,
            "cancel",
            Severity::Warning,
            "Cancellation",
        ),
        rule(
            "refund",
            PatternKind::Phrase,
            "refund",
            Severity::Warning,
            "Refund",
        ),
    ]
}

/// Every usable rule, compiled: judges final lines.
#[derive(Default)]
pub struct Judge {
    rules: Vec<(Rule, Regex)>,
}

impl Judge {
    /// Compiles `rules`; one that no longer compiles (stored by an older
    /// version, or edited by hand) is left out, with a warning.
    pub fn new(rules: Vec<Rule>) -> Self {
        let rules = rules
            .into_iter()
            .filter_map(|rule| match compile(&rule) {
                Ok(re) => Some((rule, re)),
                Err(e) => {
                    tracing::warn!(rule = %rule.id, error = %e, "rule left out");
                    None
                }
            })
            .collect();
        Self { rules }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The alerts a line raises: none for a partial (it would flicker as
    /// the words change), one per matching rule for a final.
    pub fn judge(&self, seg: &Segment, now_ms: i64) -> Vec<Alert> {
        if seg.partial {
            return Vec::new();
        }
        self.rules
            .iter()
            .filter(|(rule, _)| rule.speaker.includes(seg.speaker))
            .filter_map(|(rule, re)| {
                let hits: Vec<(u32, u32)> = re
                    .find_iter(&seg.text)
                    .filter(|m| !m.is_empty())
                    .take(MAX_HITS)
                    .filter_map(|m| {
                        Some((u32::try_from(m.start()).ok()?, u32::try_from(m.end()).ok()?))
                    })
                    .collect();
                (!hits.is_empty()).then(|| Alert {
                    rule_id: rule.id.clone(),
                    label: rule.label.trim().to_string(),
                    severity: rule.severity,
                    speaker: seg.speaker,
                    start_ms: seg.start_ms,
                    hits,
                    raised_at_ms: now_ms,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::model::{Seq, Speaker};

    fn seg(speaker: Speaker, text: &str, partial: bool) -> Segment {
        Segment {
            seq: Seq(1),
            segment_id: "s".into(),
            speaker,
            start_ms: 1000,
            end_ms: 2000,
            text: text.into(),
            partial,
        }
    }

    fn rule(kind: PatternKind, pattern: &str, speaker: Watches) -> Rule {
        Rule {
            id: RuleId::parse("r").unwrap(),
            kind,
            pattern: pattern.into(),
            speaker,
            severity: Severity::Info,
            label: "Label".into(),
        }
    }

    #[test]
    fn the_defaults_catch_what_customers_say_and_never_partials_or_agents() {
        let judge = Judge::new(default_rules());
        assert_eq!(judge.len(), 3);
        let said = seg(
            Speaker::Customer,
            "I want to SPEAK TO A manager about my refund",
            false,
        );
        let alerts = judge.judge(&said, 7);
        let labels: Vec<&str> = alerts.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["Escalation", "Refund"]);
        let text = &said.text;
        let (from, to) = alerts[0].hits[0];
        assert_eq!(&text[from as usize..to as usize], "SPEAK TO A manager");
        assert_eq!(alerts[0].severity, Severity::Critical);
        assert_eq!(alerts[0].raised_at_ms, 7);
        // A partial of the same words: nothing (it may still change).
        assert!(judge
            .judge(&seg(Speaker::Customer, text, true), 7)
            .is_empty());
        // The agent saying it: the defaults watch customers only.
        assert!(judge.judge(&seg(Speaker::Agent, text, false), 7).is_empty());
    }

    #[test]
    fn phrases_are_literal_and_rules_watch_their_speaker() {
        let dots = Judge::new(vec![rule(PatternKind::Phrase, "a.b (c)", Watches::Agent)]);
        assert!(dots
            .judge(&seg(Speaker::Agent, "axb c", false), 0)
            .is_empty());
        assert_eq!(
            dots.judge(&seg(Speaker::Agent, "say A.B (C) now", false), 0)
                .len(),
            1
        );
        assert!(dots
            .judge(&seg(Speaker::Customer, "a.b (c)", false), 0)
            .is_empty());
        let either = Judge::new(vec![rule(
            PatternKind::Regex,
            r"\bfraud\w*",
            Watches::Either,
        )]);
        for speaker in [Speaker::Agent, Speaker::Customer] {
            assert_eq!(
                either.judge(&seg(speaker, "Fraudulent!", false), 0).len(),
                1
            );
        }
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let r = |kind, p: &str| compile(&rule(kind, p, Watches::Either)).map(|_| ());
        assert_eq!(r(PatternKind::Phrase, "  "), Err(RuleError::EmptyPattern));
        assert_eq!(
            r(PatternKind::Phrase, &"a".repeat(MAX_PATTERN + 1)),
            Err(RuleError::PatternTooLong)
        );
        assert_eq!(r(PatternKind::Regex, "a*"), Err(RuleError::MatchesNothing));
        match r(PatternKind::Regex, "speak to (a|your") {
            Err(RuleError::BadRegex(why)) => assert!(why.contains("unclosed"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Look-around and back-references need backtracking: refused.
        assert!(matches!(
            r(PatternKind::Regex, r"(a)\1"),
            Err(RuleError::BadRegex(_))
        ));
        // Counted repetition that would compile huge.
        assert_eq!(
            r(PatternKind::Regex, r"(\w{100}){100}"),
            Err(RuleError::TooLarge)
        );
        let mut unlabelled = rule(PatternKind::Phrase, "x", Watches::Either);
        unlabelled.label = " ".into();
        assert_eq!(compile(&unlabelled).map(|_| ()), Err(RuleError::EmptyLabel));
        // A bad rule among good ones is left out, not the end of judging.
        let judge = Judge::new(vec![
            rule(PatternKind::Regex, "(", Watches::Either),
            rule(PatternKind::Phrase, "ok", Watches::Either),
        ]);
        assert_eq!(judge.len(), 1);
    }

    #[test]
    fn a_pathological_pattern_runs_in_linear_time() {
        // Catastrophic for a backtracking engine on this input.
        let judge = Judge::new(vec![rule(PatternKind::Regex, "(a+)+$", Watches::Either)]);
        let text = format!("{}!", "a".repeat(50_000));
        let started = Instant::now();
        let alerts = judge.judge(&seg(Speaker::Customer, &text, false), 0);
        // Figures only, no time limit: printed for the reader.
        println!("(a+)+$ over 50,001 characters: {:?}", started.elapsed());
        assert!(alerts.is_empty(), "the line ends in '!', so no match");
    }

    #[test]
    fn hits_are_capped_and_on_character_boundaries() {
        let judge = Judge::new(vec![rule(PatternKind::Phrase, "é", Watches::Either)]);
        let text = "é".repeat(40);
        let alerts = judge.judge(&seg(Speaker::Agent, &text, false), 0);
        assert_eq!(alerts[0].hits.len(), MAX_HITS);
        for (from, to) in &alerts[0].hits {
            assert!(text.is_char_boundary(*from as usize) && text.is_char_boundary(*to as usize));
        }
    }
}
