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
use super::store::{CallSink, NewContact, SegmentWrite};

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
/// takes the first call (signing in as them shows a call at once) and
/// every sixth after it, which at the default pace is about one call at a
/// time, as a real agent's.
pub const SIMULATED_AGENTS: [&str; 6] = ["agent", "maria", "tom", "priya", "sam", "lena"];

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
                Ok((id, started_ms)) => {
                    let span =
                        tracing::info_span!("simulated_call", call_id = %id, script = script.title);
                    players.retain(|p| !p.is_finished());
                    players.push(tokio::spawn(
                        play(
                            sink.clone(),
                            id,
                            started_ms,
                            plan,
                            settings.pace,
                            shutdown.clone(),
                        )
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

/// Starts a call for `agent`: (attribute, agent id). Its id, and its start
/// as written (`callTimestamp` has whole seconds), in ms since the epoch.
async fn start_call(
    sink: &dyn CallSink,
    phone: &str,
    agent: (&str, &str),
    late_timestamp: bool,
) -> Result<(CallId, i64), super::store::StoreError> {
    let id = CallId::parse(&random_call_id_string())
        .map_err(|e| super::store::StoreError::Misconfigured(e.to_string()))?;
    let now = OffsetDateTime::now_utc();
    let started = now.replace_nanosecond(0).unwrap_or(now);
    let attributes = new_contact_attributes(
        &id,
        started,
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
    Ok((id, started.unix_timestamp() * 1000))
}

/// A call time (ms into the call as planned, at pace 1) as played at `pace`.
fn scaled_ms(ms: i64, pace: f64) -> i64 {
    (ms as f64 / pace).round() as i64
}

/// Plays `plan` into call `id`, started at `started_ms`. At any pace the
/// lines' times and the call's end are on one clock (the wall clock): at
/// pace 4 a line planned 100 s in is said 25 s in, and the call ends, and
/// its duration reads, just after its last line.
async fn play(
    sink: Arc<dyn CallSink>,
    id: CallId,
    started_ms: i64,
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
        let mut write = planned.write;
        write.start_ms = scaled_ms(write.start_ms, pace);
        write.end_ms = scaled_ms(write.end_ms, pace);
        if let Err(e) = sink.write_segment(&id, write).await {
            tracing::warn!(error = %e, "simulated write failed");
        }
    }
    tokio::select! {
        _ = tokio::time::sleep_until(begun + scaled(plan.ends_at_ms, pace)) => {}
        _ = shutdown.changed() => return,
    }
    let ended_ms = started_ms + scaled_ms(plan.ends_at_ms as i64, pace);
    match sink.end_call(&id, ended_ms).await {
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

    /// What a sink was asked: each call's start attributes, lines, end.
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<(CallId, Recorded)>>);

    #[derive(Debug)]
    enum Recorded {
        Started(BTreeMap<String, String>),
        Line(SegmentWrite),
        Ended(i64),
    }

    #[async_trait::async_trait]
    impl CallSink for Recorder {
        async fn start_call(
            &self,
            contact: NewContact,
        ) -> Result<(), super::super::store::StoreError> {
            let event = Recorded::Started(contact.attributes);
            self.0.lock().unwrap().push((contact.call_id, event));
            Ok(())
        }
        async fn write_segment(
            &self,
            id: &CallId,
            write: SegmentWrite,
        ) -> Result<(), super::super::store::StoreError> {
            self.0
                .lock()
                .unwrap()
                .push((id.clone(), Recorded::Line(write)));
            Ok(())
        }
        async fn end_call(
            &self,
            id: &CallId,
            ended_at_ms: i64,
        ) -> Result<(), super::super::store::StoreError> {
            self.0
                .lock()
                .unwrap()
                .push((id.clone(), Recorded::Ended(ended_at_ms)));
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_ended_calls_duration_matches_its_last_line_at_any_pace() {
        for pace in [1.0, 4.0, 50.0] {
            let sink = Arc::new(Recorder::default());
            let (_stop, stopped) = watch::channel(false);
            let plan = plan_call(&SCRIPTS[0], &mut StdRng::seed_from_u64(5));
            let (id, _) = start_call(
                sink.as_ref(),
                "+14155550100",
                ("agentUsername", "agent"),
                false,
            )
            .await
            .unwrap();
            let started_ms = {
                let recorded = sink.0.lock().unwrap();
                let Some((_, Recorded::Started(attributes))) = recorded.first() else {
                    panic!("no start")
                };
                crate::server::timestamp::parse_call_timestamp(&attributes[ATTR_TIMESTAMP])
                    .expect("a callTimestamp the monitor reads")
            };
            play(sink.clone(), id, started_ms, plan, pace, stopped).await;
            let recorded = sink.0.lock().unwrap();
            let last_line_end = recorded
                .iter()
                .filter_map(|(_, r)| match r {
                    Recorded::Line(w) => Some(w.end_ms),
                    _ => None,
                })
                .max()
                .unwrap();
            let Some((_, Recorded::Ended(ended_ms))) = recorded.last() else {
                panic!("the call did not end: {recorded:?}")
            };
            let duration = ended_ms - started_ms;
            // After its last line, by the closing pause (1.5 to 2.8 s of
            // call time), never before it.
            assert!(
                duration >= last_line_end && duration <= last_line_end + scaled_ms(3000, pace),
                "pace {pace}: the call lasted {duration} ms, its last line ended at {last_line_end} ms"
            );
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
