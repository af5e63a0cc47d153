//! The floor view's state in the browser, as plain Rust: the rows the
//! server pushed, the link, and the view a query asks for (search, filter,
//! sort), which lives in the page's address so it can be bookmarked.

use std::collections::HashMap;

use crate::model::{CallId, CallStatus, FloorRow};
use crate::protocol::{ErrorCode, ServerMsg};

use super::status::{Flow, Link};

#[derive(Clone, Debug, PartialEq)]
pub struct FloorState {
    rows: HashMap<CallId, FloorRow>,
    pub link: Link,
}

impl FloorState {
    pub fn new(rows: Vec<FloorRow>) -> Self {
        Self {
            rows: rows
                .into_iter()
                .map(|r| (r.call.call_id.clone(), r))
                .collect(),
            link: Link::Connecting,
        }
    }

    /// Applies one server frame; whether to go on listening.
    pub fn apply(&mut self, msg: ServerMsg) -> Flow {
        match msg {
            ServerMsg::Floor { rows } => {
                *self = Self {
                    link: self.link,
                    ..Self::new(rows)
                }
            }
            ServerMsg::FloorRow { row } => {
                self.rows.insert(row.call.call_id.clone(), *row);
            }
            ServerMsg::Error {
                code: ErrorCode::SignedOut,
                ..
            } => {
                self.link = Link::SignedOut;
                return Flow::Stop;
            }
            ServerMsg::Error {
                code: ErrorCode::Unavailable,
                ..
            } => self.link = Link::Unavailable,
            _ => {}
        }
        Flow::Continue
    }

    /// The agents on the floor, sorted (for the agent filter).
    pub fn agents(&self) -> Vec<String> {
        let mut agents: Vec<String> = self.rows.values().filter_map(|r| r.agent.clone()).collect();
        agents.sort();
        agents.dedup();
        agents
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Critical alerts on every call of the floor (a rise is a new one).
    pub fn critical_alerts(&self) -> u32 {
        self.rows
            .values()
            .flat_map(|r| &r.alerts)
            .filter(|c| c.severity == crate::model::Severity::Critical)
            .map(|c| c.count)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows `query` asks for, in its order; `now_ms` for durations.
    pub fn view(&self, query: &FloorQuery, now_ms: Option<i64>) -> Vec<FloorRow> {
        let mut rows: Vec<FloorRow> = self
            .rows
            .values()
            .filter(|r| query.admits(r))
            .cloned()
            .collect();
        match query.sort {
            Sort::Newest => rows.sort_by_key(|r| std::cmp::Reverse(started(r))),
            Sort::Longest => rows.sort_by_key(|r| {
                (
                    std::cmp::Reverse(duration_ms(r, now_ms)),
                    std::cmp::Reverse(started(r)),
                )
            }),
            // The most alerts, the most severe breaking a tie, then newest.
            Sort::Alerts => rows.sort_by_key(|r| {
                (
                    std::cmp::Reverse(r.alert_total()),
                    std::cmp::Reverse(r.alerts.iter().map(|c| c.severity).max()),
                    std::cmp::Reverse(started(r)),
                )
            }),
        }
        rows
    }
}

fn started(row: &FloorRow) -> i64 {
    row.call.started_at_ms.unwrap_or(i64::MIN)
}

/// How long a call has lasted (to its end, or to `now_ms` while live).
pub fn duration_ms(row: &FloorRow, now_ms: Option<i64>) -> i64 {
    let Some(start) = row.call.started_at_ms else {
        return 0;
    };
    row.call
        .ended_at_ms
        .or(now_ms)
        .map_or(0, |end| (end - start).max(0))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Longest,
    Alerts,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Longest => "longest",
            Sort::Alerts => "alerts",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "longest" => Sort::Longest,
            "alerts" => Sort::Alerts,
            _ => Sort::Newest,
        }
    }
}

/// What the floor shows, as the address says (`?q=…&live=1&agent=…&sort=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FloorQuery {
    /// A contact id (or its start) or a phone number; a number's digits
    /// match whatever its formatting.
    pub search: String,
    pub live_only: bool,
    /// Only calls that raised an alert.
    pub with_alerts: bool,
    pub agent: Option<String>,
    pub sort: Sort,
}

impl FloorQuery {
    /// From the address's query parameters; anything unknown is ignored.
    pub fn from_params<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            search: get("q").unwrap_or_default().trim().to_string(),
            live_only: get("live") == Some("1"),
            with_alerts: get("alerts") == Some("1"),
            agent: get("agent").filter(|a| !a.is_empty()).map(str::to_string),
            sort: Sort::parse(get("sort").unwrap_or_default()),
        }
    }

    /// The address's query for this view (empty for the default view).
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.search.is_empty() {
            parts.push(format!("q={}", crate::url::percent_encode(&self.search)));
        }
        if self.live_only {
            parts.push("live=1".into());
        }
        if self.with_alerts {
            parts.push("alerts=1".into());
        }
        if let Some(agent) = &self.agent {
            parts.push(format!("agent={}", crate::url::percent_encode(agent)));
        }
        if self.sort != Sort::Newest {
            parts.push(format!("sort={}", self.sort.as_str()));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    fn admits(&self, row: &FloorRow) -> bool {
        if self.live_only && row.call.status() != CallStatus::Live {
            return false;
        }
        if self.with_alerts && row.alerts.is_empty() {
            return false;
        }
        if let Some(agent) = &self.agent {
            if row.agent.as_ref() != Some(agent) {
                return false;
            }
        }
        self.matches_search(row)
    }

    fn matches_search(&self, row: &FloorRow) -> bool {
        let search = self.search.to_lowercase();
        if search.is_empty() || row.call.call_id.as_str().contains(&search) {
            return true;
        }
        let digits: String = search.chars().filter(char::is_ascii_digit).collect();
        !digits.is_empty()
            && row.call.customer_phone.as_deref().is_some_and(|phone| {
                let phone_digits: String = phone.chars().filter(char::is_ascii_digit).collect();
                phone_digits.contains(&digits)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallDetails;
    use std::collections::BTreeMap;

    fn row(n: u8, started: i64, ended: Option<i64>, phone: &str, agent: &str) -> FloorRow {
        FloorRow {
            call: CallDetails {
                call_id: CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}"))
                    .unwrap(),
                customer_phone: Some(phone.into()),
                started_at_ms: Some(started),
                ended_at_ms: ended,
                audio_stream: None,
                attributes: BTreeMap::new(),
            },
            agent: Some(agent.into()),
            alerts: Vec::new(),
            last_line: None,
        }
    }

    fn ids(rows: &[FloorRow]) -> Vec<String> {
        rows.iter()
            .map(|r| r.call.call_id.as_str()[34..].to_string())
            .collect()
    }

    fn floor() -> FloorState {
        FloorState::new(vec![
            row(1, 1_000, Some(500_000), "+1 (415) 555-0101", "amy"),
            row(2, 2_000, None, "+14155550102", "bob"),
            row(3, 3_000, None, "+442071838750", "amy"),
        ])
    }

    #[test]
    fn newest_first_by_default_and_longest_first_when_asked() {
        let f = floor();
        assert_eq!(
            ids(&f.view(&FloorQuery::default(), Some(10_000))),
            ["01", "02", "03"]
                .map(String::from)
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
        );
        let longest = FloorQuery {
            sort: Sort::Longest,
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&longest, Some(10_000))), ["01", "02", "03"]);
    }

    #[test]
    fn filters_by_state_and_agent_and_searches_digits_whatever_the_formatting() {
        let f = floor();
        let live = FloorQuery {
            live_only: true,
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&live, None)), ["03", "02"]);
        let amy = FloorQuery {
            agent: Some("amy".into()),
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&amy, None)), ["03", "01"]);
        let digits = FloorQuery {
            search: "415-555-0101".into(),
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&digits, None)), ["01"]);
        let formatted = FloorQuery {
            search: "(415) 5550102".into(),
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&formatted, None)), ["02"]);
        let by_id = FloorQuery {
            search: "0000000003".into(),
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&by_id, None)), ["03"]);
        let nothing = FloorQuery {
            search: "zzz".into(),
            ..Default::default()
        };
        assert!(f.view(&nothing, None).is_empty());
        assert_eq!(f.agents(), ["amy", "bob"]);
    }

    /// As the router decodes a query value.
    fn decode(v: &str) -> String {
        let bytes = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_query_round_trips_through_the_address() {
        let q = FloorQuery {
            search: "+1 415".into(),
            live_only: true,
            with_alerts: true,
            agent: Some("amy".into()),
            sort: Sort::Alerts,
        };
        let s = q.to_query_string();
        let params: HashMap<String, String> = s
            .trim_start_matches('?')
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        assert_eq!(
            FloorQuery::from_params(|k| params.get(k).map(String::as_str)),
            q
        );
        assert_eq!(FloorQuery::default().to_query_string(), "");
    }

    #[test]
    fn most_alerts_first_and_only_calls_with_alerts_when_asked() {
        use crate::model::{AlertCount, Severity};
        let count = |label: &str, severity, count| AlertCount {
            label: label.into(),
            severity,
            count,
        };
        let mut rows = vec![
            row(1, 1_000, None, "+1", "amy"),
            row(2, 2_000, None, "+2", "bob"),
            row(3, 3_000, None, "+3", "amy"),
            row(4, 4_000, None, "+4", "cy"),
        ];
        rows[0].alerts = vec![count("Refund", Severity::Warning, 2)];
        rows[1].alerts = vec![count("Escalation", Severity::Critical, 2)];
        rows[2].alerts = vec![
            count("Escalation", Severity::Critical, 1),
            count("Refund", Severity::Warning, 2),
        ];
        let f = FloorState::new(rows);
        let most = FloorQuery {
            sort: Sort::Alerts,
            ..Default::default()
        };
        // 3 has three; 2 and 1 have two each, 2's more severe; 4 none.
        assert_eq!(ids(&f.view(&most, None)), ["03", "02", "01", "04"]);
        let with = FloorQuery {
            with_alerts: true,
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&with, None)), ["03", "02", "01"]);
        // Critical ones counted over the floor, for notifications.
        assert_eq!(f.critical_alerts(), 3);
    }

    #[test]
    fn pushed_rows_replace_their_call_and_a_new_table_replaces_all() {
        let mut f = floor();
        let mut ended = row(2, 2_000, Some(9_000), "+14155550102", "bob");
        ended.agent = Some("bob".into());
        assert_eq!(
            f.apply(ServerMsg::FloorRow {
                row: Box::new(ended)
            }),
            Flow::Continue
        );
        assert_eq!(f.len(), 3);
        let live = FloorQuery {
            live_only: true,
            ..Default::default()
        };
        assert_eq!(ids(&f.view(&live, None)), ["03"]);
        f.apply(ServerMsg::Floor {
            rows: vec![row(4, 4_000, None, "+1", "cy")],
        });
        assert_eq!(f.len(), 1);
        let signed_out = ServerMsg::Error {
            code: ErrorCode::SignedOut,
            message: String::new(),
        };
        assert_eq!(f.apply(signed_out), Flow::Stop);
        assert_eq!(f.link, Link::SignedOut);
    }
}
