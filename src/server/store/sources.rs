//! Where each table is read from right now: its stream, or polling (and
//! why). A table whose stream can't be read behaves exactly as a table
//! without one, until the stream is readable again; each switch is logged
//! once, and `/healthz` shows the current state.

use std::sync::Mutex;

use serde::Serialize;

/// The three tables, by the part they play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableRole {
    Contact,
    Customer,
    Agent,
}

impl TableRole {
    pub const ALL: [TableRole; 3] = [TableRole::Contact, TableRole::Customer, TableRole::Agent];

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadFrom {
    Stream,
    Polling,
}

/// One table's current source, as `/healthz` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableSource {
    pub role: TableRole,
    pub table: String,
    #[serde(rename = "readFrom")]
    pub read_from: ReadFrom,
    /// Why it is polled (absent while the stream is read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How it is polled: for the contact table how often it is scanned for
    /// new calls, for the transcript tables how often a watched call is
    /// re-read.
    #[serde(rename = "pollMs", skip_serializing_if = "Option::is_none")]
    pub poll_ms: Option<u64>,
}

/// The sources of the three tables.
pub struct Sources {
    tables: Mutex<[TableSource; 3]>,
}

impl Sources {
    /// Every table starts polled until its stream has been read once.
    pub fn new(names: [String; 3], poll_ms: [u64; 3]) -> Self {
        let tables = std::array::from_fn(|i| TableSource {
            role: TableRole::ALL[i],
            table: names[i].clone(),
            read_from: ReadFrom::Polling,
            reason: Some("stream not read yet".into()),
            poll_ms: Some(poll_ms[i]),
        });
        Self {
            tables: Mutex::new(tables),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [TableSource; 3]> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_streamed(&self, role: TableRole) -> bool {
        self.lock()[role.index()].read_from == ReadFrom::Stream
    }

    pub fn snapshot(&self) -> Vec<TableSource> {
        self.lock().to_vec()
    }

    /// The stream is readable. True if that is a change (logged once).
    pub fn set_stream(&self, role: TableRole) -> bool {
        let mut tables = self.lock();
        let t = &mut tables[role.index()];
        if t.read_from == ReadFrom::Stream {
            return false;
        }
        let was = t.reason.take();
        t.read_from = ReadFrom::Stream;
        let poll_ms = t.poll_ms.take();
        tracing::info!(
            table = %t.table,
            was_polled_because = was.as_deref().unwrap_or_default(),
            was_polled_every_ms = poll_ms,
            "reading the table from its stream"
        );
        true
    }

    /// The table is to be polled, and why. True if that is a change from
    /// the stream (logged once); a new reason while already polling is
    /// recorded quietly.
    pub fn set_polling(&self, role: TableRole, reason: String, poll_ms: u64) -> bool {
        let mut tables = self.lock();
        let t = &mut tables[role.index()];
        let changed = t.read_from == ReadFrom::Stream;
        if changed || t.reason.as_deref() == Some("stream not read yet") {
            tracing::warn!(
                table = %t.table,
                reason = %reason,
                poll_every_ms = poll_ms,
                "polling the table: its stream can't be read (see reason); back to the stream as soon as it can be"
            );
        }
        t.read_from = ReadFrom::Polling;
        t.reason = Some(reason);
        t.poll_ms = Some(poll_ms);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        Sources::new(["c".into(), "f".into(), "t".into()], [10_000, 500, 500])
    }

    #[test]
    fn tables_are_polled_until_their_stream_is_read() {
        let s = sources();
        assert!(TableRole::ALL.iter().all(|r| !s.is_streamed(*r)));
        assert!(s.set_stream(TableRole::Customer));
        assert!(!s.set_stream(TableRole::Customer), "reported once");
        assert!(s.is_streamed(TableRole::Customer));
        assert!(!s.is_streamed(TableRole::Agent));
    }

    #[test]
    fn a_stream_that_fails_switches_back_to_polling_once_with_its_reason() {
        let s = sources();
        s.set_stream(TableRole::Contact);
        assert!(s.set_polling(TableRole::Contact, "denied".into(), 10_000));
        assert!(!s.set_polling(TableRole::Contact, "throttled".into(), 10_000));
        let contact = &s.snapshot()[0];
        assert_eq!(contact.read_from, ReadFrom::Polling);
        assert_eq!(contact.reason.as_deref(), Some("throttled"));
        let json = serde_json::to_value(contact).unwrap();
        assert_eq!(json["readFrom"], "polling");
        assert_eq!(json["role"], "contact");
        assert_eq!(json["pollMs"], 10_000);
    }
}
