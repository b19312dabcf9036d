//! The rule pack's judgement of a drift: the findings of both scans matched by fingerprint,
//! with the states `scan --since` gives them (new, updated, unchanged; fixed = absent).
//!
//! One difference from `--since`, which only has this run's rule statuses: a finding whose
//! rule could not be evaluated on the other side (a source in error or unlicensed there)
//! is neither new nor fixed but `not_compared`, so a partial snapshot never makes every
//! finding look new.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::{Change, RuleHit, Subject};
use crate::findings::{Finding, RuleStatus, ScanResult};

/// Which snapshot a finding is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    New,
}

/// A finding of one scan whose rule was not evaluated in the other.
#[derive(Debug, Clone, Serialize)]
pub struct NotCompared {
    /// The scan that has the finding.
    pub side: Side,
    /// Why the other scan did not evaluate the rule.
    pub reason: String,
    pub finding: Finding,
}

/// The findings of both scans, by fingerprint. Each list is ordered by severity (highest
/// first), then rule id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FindingChanges {
    /// In the new scan only, from a rule evaluated on both (`--since`: new).
    pub new: Vec<Finding>,
    /// In the old scan only, from a rule evaluated on both (`--since`: absent).
    pub fixed: Vec<Finding>,
    /// In both, with another message (e.g. forwarding to another address); the new finding.
    pub updated: Vec<Finding>,
    /// In both, same message; the new finding.
    pub unchanged: Vec<Finding>,
    /// In one scan only, from a rule the other could not evaluate.
    pub not_compared: Vec<NotCompared>,
}

/// Rule ids evaluated in `result` (passed or failed), and why the others were not.
fn evaluated(result: &ScanResult) -> (HashSet<&str>, HashMap<&str, &str>) {
    let mut yes = HashSet::new();
    let mut no = HashMap::new();
    for outcome in &result.outcomes {
        match &outcome.status {
            RuleStatus::Passed | RuleStatus::Failed => {
                yes.insert(outcome.rule.id.as_str());
            }
            RuleStatus::NotEvaluated { reason } | RuleStatus::NotApplicable { reason } => {
                no.insert(outcome.rule.id.as_str(), reason.as_str());
            }
        }
    }
    (yes, no)
}

fn all(result: &ScanResult) -> impl Iterator<Item = &Finding> {
    result.outcomes.iter().flat_map(|o| o.findings.iter())
}

/// Match the findings of the old and new scan.
pub(super) fn classify(old: &ScanResult, new: &ScanResult) -> FindingChanges {
    let old_by_fp: HashMap<&str, &Finding> =
        all(old).map(|f| (f.fingerprint.as_str(), f)).collect();
    let new_fps: HashSet<&str> = all(new).map(|f| f.fingerprint.as_str()).collect();
    let (old_evaluated, old_skipped) = evaluated(old);
    let (new_evaluated, new_skipped) = evaluated(new);
    let not_evaluated = |skipped: &HashMap<&str, &str>, rule: &str| {
        skipped
            .get(rule)
            .map_or_else(|| "rule not selected".to_owned(), |r| (*r).to_owned())
    };

    let mut out = FindingChanges::default();
    for finding in all(new) {
        match old_by_fp.get(finding.fingerprint.as_str()) {
            Some(o) if o.message == finding.message => out.unchanged.push(finding.clone()),
            Some(_) => out.updated.push(finding.clone()),
            None if old_evaluated.contains(finding.rule_id.as_str()) => {
                out.new.push(finding.clone());
            }
            None => out.not_compared.push(NotCompared {
                side: Side::New,
                reason: not_evaluated(&old_skipped, &finding.rule_id),
                finding: finding.clone(),
            }),
        }
    }
    for finding in all(old) {
        if new_fps.contains(finding.fingerprint.as_str()) {
            continue;
        }
        if new_evaluated.contains(finding.rule_id.as_str()) {
            out.fixed.push(finding.clone());
        } else {
            out.not_compared.push(NotCompared {
                side: Side::Old,
                reason: not_evaluated(&new_skipped, &finding.rule_id),
                finding: finding.clone(),
            });
        }
    }
    for list in [
        &mut out.new,
        &mut out.fixed,
        &mut out.updated,
        &mut out.unchanged,
    ] {
        list.sort_by(|a, b| rank(a).cmp(&rank(b)));
    }
    out.not_compared
        .sort_by(|a, b| rank(&a.finding).cmp(&rank(&b.finding)));
    out
}

fn rank(f: &Finding) -> (Reverse<crate::findings::Severity>, &str, &str) {
    (Reverse(f.severity), &f.rule_id, &f.fingerprint)
}

/// Mark each resource change with the rules that newly find it or no longer do.
pub(super) fn attach(changes: &mut [Change], findings: &FindingChanges) {
    fn index(list: &[Finding]) -> HashMap<(Subject, &str), Vec<RuleHit>> {
        let mut map: HashMap<(Subject, &str), Vec<RuleHit>> = HashMap::new();
        for f in list {
            map.entry((Subject::Resource(f.resource.kind), f.resource.id.as_str()))
                .or_default()
                .push(RuleHit {
                    rule_id: f.rule_id.clone(),
                    severity: f.severity,
                });
        }
        map
    }
    let (new, fixed) = (index(&findings.new), index(&findings.fixed));
    for change in changes {
        let key = (change.kind, change.id.as_str());
        if let Some(hits) = new.get(&key) {
            change.new_findings = hits.clone();
        }
        if let Some(hits) = fixed.get(&key) {
            change.fixed_findings = hits.clone();
        }
    }
}
