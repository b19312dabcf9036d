//! What changed since the last run (`scan --since`), as the human-readable reports show it
//! at the top: new findings, fixed ones (the earlier run's findings now gone) and the ones
//! still failing. The comparison itself is `since::compare`; this only sorts its result.
//!
//! Waived findings are neither new nor still failing (they do not fail the scan); a
//! finding that disappeared because it was waived is not "fixed" either (`compare` keeps
//! it as seen).

use crate::findings::{BaselineState, Finding, RuleOutcome, ScanResult};

use super::table::findings_by_severity;

/// The changes since the earlier run, most severe first in each list.
pub(crate) struct Changes<'a> {
    pub new: Vec<(&'a RuleOutcome, &'a Finding)>,
    /// Findings of the earlier run that are gone now.
    pub fixed: Vec<&'a Finding>,
    pub still_failing: Vec<(&'a RuleOutcome, &'a Finding)>,
    /// Of `still_failing`, those whose message changed (e.g. forwarding to a new address).
    pub updated: usize,
}

/// `None` when the scan was not compared with an earlier run.
pub(crate) fn changes(result: &ScanResult) -> Option<Changes<'_>> {
    let compared = !result.absent.is_empty()
        || result
            .outcomes
            .iter()
            .flat_map(|o| &o.findings)
            .any(|f| f.baseline_state.is_some());
    if !compared {
        return None;
    }
    let mut changes = Changes {
        new: Vec::new(),
        fixed: Vec::new(),
        still_failing: Vec::new(),
        updated: 0,
    };
    for (outcome, finding) in findings_by_severity(result, false) {
        match finding.baseline_state {
            Some(BaselineState::New) => changes.new.push((outcome, finding)),
            Some(BaselineState::Updated) => {
                changes.updated += 1;
                changes.still_failing.push((outcome, finding));
            }
            Some(BaselineState::Unchanged) => changes.still_failing.push((outcome, finding)),
            // Absent findings are in `result.absent`; an unmarked one was not compared.
            Some(BaselineState::Absent) | None => {}
        }
    }
    changes.fixed = result.absent.iter().collect();
    changes.fixed.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.resource.name.cmp(&b.resource.name))
    });
    Some(changes)
}

impl<'a> Changes<'a> {
    /// "2 new, 1 fixed, 5 still failing (1 changed)".
    pub fn headline(&self) -> String {
        let mut line = format!(
            "{} new, {} fixed, {} still failing",
            self.new.len(),
            self.fixed.len(),
            self.still_failing.len()
        );
        if self.updated > 0 {
            line.push_str(&format!(" ({} changed)", self.updated));
        }
        line
    }

    /// Still-failing findings per rule, most findings first: (rule id, count).
    pub fn still_failing_by_rule(&self) -> Vec<(&'a str, usize)> {
        let mut counts: Vec<(&'a str, usize)> = Vec::new();
        for &(_, f) in &self.still_failing {
            match counts.iter_mut().find(|(id, _)| *id == f.rule_id) {
                Some((_, n)) => *n += 1,
                None => counts.push((&f.rule_id, 1)),
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        counts
    }
}
