//! The shared watchers: one stream reader per table, each with a consumer
//! that applies its events in stream order (`streams` reads, this applies),
//! and the poller that looks for new calls while contactDetails can't be
//! followed on its stream (`latest`).

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::model::{CallId, Speaker};
use crate::server::contact::{details_from_attributes, ATTR_CONTACT_ID};
use crate::server::store::sources::TableRole;
use crate::server::store::StoreNotice;

use super::items;
use super::latest::poll_latest;
use super::streams;
use super::DynamoStore;

impl DynamoStore {
    /// One stream reader per table, each with a consumer that applies its
    /// events in stream order; and the poller that looks for new calls
    /// while contactDetails can't be followed on its stream.
    pub(super) fn start_watchers(self: &Arc<Self>, streams: aws_sdk_dynamodbstreams::Client) {
        for role in TableRole::ALL {
            let (tx, mut rx) = mpsc::channel(256);
            let follower = streams::Follower {
                tables: self.client.clone(),
                streams: streams.clone(),
                table: self.table(role).to_string(),
                pace: self.settings.stream_pace,
                requests: self.counters.get_records.clone(),
                per_shard: self.counters.per_shard.clone(),
            };
            tokio::spawn(follower.run(tx));
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    let Some(store) = weak.upgrade() else { return };
                    store.on_stream_event(role, event).await;
                }
            });
        }
        tokio::spawn(poll_latest(Arc::downgrade(self), self.settings.latest_poll));
    }

    async fn on_stream_event(&self, role: TableRole, event: streams::Event) {
        let poll_ms = match role {
            TableRole::Contact => self.settings.latest_poll,
            _ => self.settings.poll,
        }
        .as_millis() as u64;
        match event {
            streams::Event::Change(change) => match role {
                TableRole::Contact => self.on_contact_change(change).await,
                TableRole::Customer | TableRole::Agent => self.on_transcript_change(role, change),
            },
            streams::Event::Readable => match role {
                // Catch up on new calls missed while the stream was not
                // read, then say so: `/healthz` shows the stream only once
                // the catch-up Scan is done.
                TableRole::Contact => {
                    self.look_for_new_calls().await;
                    self.sources.set_stream(role);
                }
                TableRole::Customer | TableRole::Agent => {
                    self.sources.set_stream(role);
                    self.resync_calls();
                }
            },
            streams::Event::Unreadable(why) => {
                if self
                    .sources
                    .set_polling(role, format!("stream unreadable: {why}"), poll_ms)
                    && role != TableRole::Contact
                {
                    self.resync_calls();
                }
            }
            streams::Event::NoStream => {
                if self
                    .sources
                    .set_polling(role, "no stream on this table".into(), poll_ms)
                    && role != TableRole::Contact
                {
                    self.resync_calls();
                }
            }
        }
    }

    async fn on_contact_change(&self, change: streams::Change) {
        if change.kind == streams::ChangeKind::Remove {
            let removed = change.keys.get(ATTR_CONTACT_ID).map(String::as_str);
            self.latest.on_remove(removed);
            if let Some(id) = removed.and_then(|raw| CallId::parse(raw).ok()) {
                self.notify(StoreNotice::CallRemoved(id));
            }
            return;
        }
        let details = match details_from_attributes(
            change.new_image,
            None,
            self.settings.audio_stream_prefix.as_deref(),
        ) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "contact item on the stream skipped");
                return;
            }
        };
        let id = details.call_id.clone();
        if let Some(reader) = self.existing_reader(&id) {
            reader.state().details = None;
        }
        // Inserted or completed by an update: a call that becomes the
        // newest is announced either way.
        if self.latest.on_change(details) {
            self.notify(StoreNotice::CallStarted(id));
        } else {
            self.notify(StoreNotice::DetailsChanged(id));
        }
    }

    /// A transcript table's change: applied from its image when the stream
    /// carries images and the call is watched; otherwise the call's next
    /// read is told to look.
    fn on_transcript_change(&self, role: TableRole, change: streams::Change) {
        let Some(id) = change
            .keys
            .get(items::TRANSCRIPT_CONTACT_ID)
            .and_then(|raw| CallId::parse(raw).ok())
        else {
            return;
        };
        let speaker = match role {
            TableRole::Agent => Speaker::Agent,
            _ => Speaker::Customer,
        };
        if let Some(reader) = self.existing_reader(&id) {
            let mut state = reader.state();
            match (&change.kind, &change.raw_image) {
                (streams::ChangeKind::Remove, _) => return,
                (_, Some(image)) => {
                    if !state.absorb(speaker, self.table(role), image) {
                        return;
                    }
                }
                (_, None) => state.mark_dirty(),
            }
        }
        self.notify(StoreNotice::SegmentsChanged(id));
    }
}
