//! The built-in call simulator: plays travel-booking calls into a
//! [`CallSink`] the way the real pipeline writes them. Each utterance is
//! written as a growing partial several times, then as a final on the same
//! key, with natural pauses between turns. The read path cannot tell it from
//! the real thing.

mod faults;
mod scripts;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::model::CallId;

use super::contact::{new_contact_attributes, ATTR_TIMESTAMP};
use super::store::{now_ms, CallSink, NewContact, SegmentWrite};

pub use faults::UpstreamFaults;
pub use scripts::{Script, SCRIPTS};

/// A random version-4 contact id, as Amazon Connect makes them.
pub fn random_call_id_string() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// One write, `at_ms` after the call started (at real-time pace).
#[derive(Clone, Debug)]
pub struct PlannedWrite {
    pub at_ms: u64,
    pub write: SegmentWrite,
}

#[derive(Clone, Debug)]
pub struct CallPlan {
    pub writes: Vec<PlannedWrite>,
    pub ends_at_ms: u64,
}

/// Plans a call: when each partial and final of each line is written.
pub fn plan_call(script: &Script, rng: &mut impl Rng) -> CallPlan {
    let mut writes = Vec::new();
    // The first words come a moment after the call connects.
    let mut cursor: u64 = rng.random_range(800..1600);
    for (speaker, line) in script.lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let per_word: u64 = rng.random_range(260..380);
        let start = cursor;
        let spoken = per_word * words.len() as u64;
        let segment_id = random_call_id_string();
        // Partials: Transcribe revises every couple of words, shortly after
        // they are spoken.
        let mut said = 0;
        while said + 1 < words.len() {
            said = (said + rng.random_range(2..=4)).min(words.len() - 1);
            let at = start + per_word * said as u64 + rng.random_range(150..350);
            writes.push(PlannedWrite {
                at_ms: at,
                write: SegmentWrite {
                    speaker: *speaker,
                    segment_id: segment_id.clone(),
                    start_ms: start as i64,
                    end_ms: (start + per_word * said as u64) as i64,
                    text: words[..said].join(" "),
                    partial: true,
                },
            });
        }
        let end = start + spoken;
        writes.push(PlannedWrite {
            at_ms: end + rng.random_range(300..600),
            write: SegmentWrite {
                speaker: *speaker,
                segment_id,
                start_ms: start as i64,
                end_ms: end as i64,
                text: (*line).to_string(),
                partial: false,
            },
        });
        // Turn-taking pause.
        cursor = end + rng.random_range(500..1800);
    }
    writes.sort_by_key(|w| w.at_ms);
    CallPlan {
        ends_at_ms: cursor + 1000,
        writes,
    }
}

#[derive(Clone, Debug)]
pub struct SimulatorSettings {
    /// 1.0 is real time; 4.0 plays four times faster.
    pub pace: f64,
    /// A new call starts about this often (at pace 1.0).
    pub call_every: Duration,
    /// Stop starting calls after this many (the calls under way finish).
    pub max_calls: Option<usize>,
    /// The contactDetails attribute naming each call's agent.
    pub agent_attribute: String,
    /// Misbehaviour of the real upstream writers to imitate (none by default).
    pub faults: UpstreamFaults,
}

/// The agents simulated calls are handled by, in turn: the demo `agent`
/// takes every other call, so signing in as them shows calls soon.
pub const SIMULATED_AGENTS: [&str; 4] = ["agent", "maria", "agent", "tom"];

fn scaled(ms: u64, pace: f64) -> Duration {
    Duration::from_secs_f64(ms as f64 / 1000.0 / pace)
}

/// Starts the simulator: a first call at once, then one about every
/// `call_every`, until `shutdown` turns true.
pub fn spawn(
    sink: Arc<dyn CallSink>,
    settings: SimulatorSettings,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = StdRng::from_os_rng();
        let mut next_script = rng.random_range(0..SCRIPTS.len());
        tracing::info!(pace = settings.pace, every = ?settings.call_every, "simulator started");
        let mut started = 0usize;
        let mut players: Vec<JoinHandle<()>> = Vec::new();
        loop {
            if settings.max_calls.is_some_and(|max| started >= max) {
                for player in players {
                    let _ = tokio::join!(player);
                }
                return;
            }
            started += 1;
            let script = &SCRIPTS[next_script % SCRIPTS.len()];
            next_script += 1;
            let plan = settings.faults.apply(plan_call(script, &mut rng));
            let phone = format!("+1415555{:04}", rng.random_range(100..10000));
            let agent = (
                settings.agent_attribute.as_str(),
                SIMULATED_AGENTS[(started - 1) % SIMULATED_AGENTS.len()],
            );
            match start_call(sink.as_ref(), &phone, agent, settings.faults.late_timestamp).await {
                Ok(id) => {
                    let span =
                        tracing::info_span!("simulated_call", call_id = %id, script = script.title);
                    players.retain(|p| !p.is_finished());
                    players.push(tokio::spawn(
                        play(sink.clone(), id, plan, settings.pace, shutdown.clone())
                            .instrument(span),
                    ));
                }
                Err(e) => tracing::warn!(error = %e, "simulator could not start a call"),
            }
            if settings.max_calls.is_some_and(|max| started >= max) {
                continue;
            }
            let jitter = rng.random_range(0.8..1.2);
            let wait = settings.call_every.mul_f64(jitter / settings.pace);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// Starts a call for `agent`: (attribute, agent id).
async fn start_call(
    sink: &dyn CallSink,
    phone: &str,
    agent: (&str, &str),
    late_timestamp: bool,
) -> Result<CallId, super::store::StoreError> {
    let id = CallId::parse(&random_call_id_string())
        .map_err(|e| super::store::StoreError::Misconfigured(e.to_string()))?;
    let attributes = new_contact_attributes(
        &id,
        OffsetDateTime::now_utc(),
        Some(phone.to_string()),
        BTreeMap::from([(agent.0.to_string(), agent.1.to_string())]),
    );
    if late_timestamp {
        // Written first without its time, completed a second later.
        let mut first = attributes.clone();
        first.remove(ATTR_TIMESTAMP);
        sink.start_call(NewContact {
            call_id: id.clone(),
            attributes: first,
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    sink.start_call(NewContact {
        call_id: id.clone(),
        attributes,
    })
    .await?;
    Ok(id)
}

async fn play(
    sink: Arc<dyn CallSink>,
    id: CallId,
    plan: CallPlan,
    pace: f64,
    mut shutdown: watch::Receiver<bool>,
) {
    let begun = tokio::time::Instant::now();
    for planned in plan.writes {
        tokio::select! {
            _ = tokio::time::sleep_until(begun + scaled(planned.at_ms, pace)) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sink.write_segment(&id, planned.write).await {
            tracing::warn!(error = %e, "simulated write failed");
        }
    }
    tokio::select! {
        _ = tokio::time::sleep_until(begun + scaled(plan.ends_at_ms, pace)) => {}
        _ = shutdown.changed() => return,
    }
    match sink.end_call(&id, now_ms()).await {
        Ok(()) => tracing::info!("simulated call ended"),
        Err(e) => tracing::warn!(error = %e, "simulated call could not end"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Speaker;
    use std::collections::HashMap;

    #[test]
    fn every_script_has_both_speakers_and_plans_growing_partials_then_a_final() {
        let mut rng = StdRng::seed_from_u64(7);
        assert!(SCRIPTS.len() >= 5);
        for script in SCRIPTS {
            let speakers: std::collections::HashSet<_> = script.lines.iter().map(|l| l.0).collect();
            assert_eq!(speakers.len(), 2, "{}", script.title);

            let plan = plan_call(script, &mut rng);
            let mut by_key: HashMap<(Speaker, i64), Vec<&SegmentWrite>> = HashMap::new();
            for w in &plan.writes {
                by_key
                    .entry((w.write.speaker, w.write.start_ms))
                    .or_default()
                    .push(&w.write);
            }
            // One key per line: partials overwrite, never add.
            assert_eq!(by_key.len(), script.lines.len(), "{}", script.title);
            let mut partial_counts = Vec::new();
            for writes in by_key.values() {
                let (last, partials) = writes.split_last().unwrap();
                assert!(!last.partial, "the last write of an utterance is final");
                assert!(partials.iter().all(|w| w.partial));
                assert!(writes.iter().all(|w| w.segment_id == last.segment_id));
                for pair in writes.windows(2) {
                    assert!(pair[1].text.starts_with(&pair[0].text), "partials grow");
                }
                partial_counts.push(partials.len());
            }
            assert!(partial_counts.iter().filter(|&&n| n >= 2).count() > script.lines.len() / 2);
            assert!(plan.writes.windows(2).all(|p| p[0].at_ms <= p[1].at_ms));
            assert!(plan.ends_at_ms > plan.writes.last().unwrap().at_ms);
        }
    }

    #[test]
    fn utterances_do_not_overlap_and_pace_scales_time() {
        let mut rng = StdRng::seed_from_u64(1);
        let plan = plan_call(&SCRIPTS[0], &mut rng);
        let finals: Vec<_> = plan.writes.iter().filter(|w| !w.write.partial).collect();
        for pair in finals.windows(2) {
            assert!(pair[0].write.end_ms < pair[1].write.start_ms);
        }
        assert_eq!(scaled(4000, 4.0), Duration::from_secs(1));
    }
}
