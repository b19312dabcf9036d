//! After apply: re-evaluate the rules on freshly collected state and say, per finding the
//! plan meant to fix, whether it is fixed, still failing, or was skipped.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::apply::ActionResult;
use super::plan::Plan;
use crate::findings::{RuleStatus, ScanResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    Fixed,
    StillFailing,
    /// The action for it did not run (skipped, refused, failed).
    NotAttempted,
    /// The re-scan could not evaluate the rule (a source failed to collect).
    Unknown,
}

impl FindingState {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::Fixed => "fixed",
            FindingState::StillFailing => "still failing",
            FindingState::NotAttempted => "not attempted",
            FindingState::Unknown => "unknown (rule not evaluated)",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub rule_id: String,
    pub resource: String,
    pub state: FindingState,
    /// Why a finding can stay failing after a successful action.
    pub note: Option<String>,
}

/// Rules whose fix starts a process the user has to finish.
fn pending_user_note(rule_id: &str) -> Option<String> {
    match rule_id {
        "admin_without_mfa" | "user_without_mfa" => Some(
            "MFA is now required; the finding clears once the user registers a method at next sign-in".into(),
        ),
        _ => None,
    }
}

pub fn compare(plan: &Plan, results: &[ActionResult], rescan: &ScanResult) -> Vec<Verified> {
    let satisfied: HashSet<&str> = results
        .iter()
        .filter(|r| r.outcome.satisfied())
        .map(|r| r.id.as_str())
        .collect();
    let present: HashSet<&str> = rescan
        .outcomes
        .iter()
        .flat_map(|o| o.findings.iter())
        .map(|f| f.fingerprint.as_str())
        .collect();
    let not_evaluated: HashSet<&str> = rescan
        .outcomes
        .iter()
        .filter(|o| matches!(o.status, RuleStatus::NotEvaluated { .. }))
        .map(|o| o.rule.id.as_str())
        .collect();
    // One line per finding, even when several actions fix it (reset + revoke).
    let mut by_finding: BTreeMap<(String, String, String), Verified> = BTreeMap::new();
    for action in &plan.actions {
        let ran = satisfied.contains(action.id.as_str());
        for f in &action.fixes {
            let state = if !ran {
                FindingState::NotAttempted
            } else if not_evaluated.contains(f.rule_id.as_str()) {
                FindingState::Unknown
            } else if present.contains(f.fingerprint.as_str()) {
                FindingState::StillFailing
            } else {
                FindingState::Fixed
            };
            let entry = Verified {
                rule_id: f.rule_id.clone(),
                resource: f.resource_name.clone(),
                state,
                note: (state == FindingState::StillFailing)
                    .then(|| pending_user_note(&f.rule_id))
                    .flatten(),
            };
            let key = (
                f.rule_id.clone(),
                f.resource_name.to_lowercase(),
                f.fingerprint.clone(),
            );
            // A finding is only as done as the least-done action fixing it: an action that
            // did not run outranks what the re-scan says.
            let slot = by_finding.entry(key).or_insert_with(|| entry.clone());
            if state == FindingState::NotAttempted {
                *slot = entry;
            }
        }
    }
    by_finding.into_values().collect()
}
