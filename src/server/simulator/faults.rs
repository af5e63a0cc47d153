//! What the real upstream writers do that a well-behaved simulator would
//! not, for trying the monitor as it meets them (`travoiq-monitor writer
//! --restart-session-after N --drop-final-every K --late-timestamp`).

use std::collections::BTreeSet;

use crate::model::Speaker;

use super::CallPlan;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamFaults {
    /// The transcription session restarts before this line (counted from
    /// 0, both speakers, in spoken order): later lines' times start again
    /// near zero, as a retried Amazon Transcribe stream's do.
    pub restart_after: Option<usize>,
    /// Every this-many-th line's final write is dropped (a throttled write
    /// the writer gave up on): the line stays a partial.
    pub drop_final_every: Option<usize>,
    /// The contact item is first written without `callTimestamp` and
    /// completed a second later.
    pub late_timestamp: bool,
}

impl UpstreamFaults {
    /// The plan as the faulty writer would carry it out.
    pub fn apply(&self, mut plan: CallPlan) -> CallPlan {
        // The lines in spoken order, by their (speaker, start).
        let lines: Vec<(Speaker, i64)> = plan
            .writes
            .iter()
            .map(|w| (w.write.speaker, w.write.start_ms))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>();
        let mut spoken = lines.clone();
        spoken.sort_by_key(|(speaker, start)| (*start, *speaker));
        if let Some(every) = self.drop_final_every.filter(|e| *e > 0) {
            let dropped: BTreeSet<(Speaker, i64)> = spoken
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == every - 1)
                .map(|(_, l)| *l)
                .collect();
            plan.writes.retain(|w| {
                w.write.partial || !dropped.contains(&(w.write.speaker, w.write.start_ms))
            });
        }
        if let Some(&(_, restart_at)) = self.restart_after.and_then(|n| spoken.get(n)) {
            // The new session began just before that line.
            let cut = (restart_at - 300).max(0);
            for w in &mut plan.writes {
                if w.write.start_ms >= restart_at {
                    w.write.start_ms -= cut;
                    w.write.end_ms -= cut;
                }
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::simulator::{plan_call, SCRIPTS};
    use rand::SeedableRng;

    fn plan() -> CallPlan {
        plan_call(&SCRIPTS[0], &mut rand::rngs::StdRng::seed_from_u64(3))
    }

    #[test]
    fn a_restart_sends_later_lines_back_to_near_zero() {
        let before = plan();
        let after = UpstreamFaults {
            restart_after: Some(3),
            ..Default::default()
        }
        .apply(before.clone());
        let mut starts: Vec<i64> = before.writes.iter().map(|w| w.write.start_ms).collect();
        starts.sort();
        starts.dedup();
        let fourth = starts[3];
        for (b, a) in before.writes.iter().zip(&after.writes) {
            if b.write.start_ms < fourth {
                assert_eq!(a.write.start_ms, b.write.start_ms);
            } else {
                assert_eq!(a.write.start_ms, b.write.start_ms - (fourth - 300));
                assert_eq!(a.at_ms, b.at_ms, "written when it was");
            }
        }
        assert!(after.writes.iter().any(|w| w.write.start_ms == 300));
    }

    #[test]
    fn dropped_finals_leave_their_lines_partial() {
        let before = plan();
        let after = UpstreamFaults {
            drop_final_every: Some(2),
            ..Default::default()
        }
        .apply(before.clone());
        let finals = |p: &CallPlan| p.writes.iter().filter(|w| !w.write.partial).count();
        assert_eq!(finals(&after), finals(&before) - finals(&before) / 2);
        assert_eq!(
            after.writes.iter().filter(|w| w.write.partial).count(),
            before.writes.iter().filter(|w| w.write.partial).count()
        );
    }
}
