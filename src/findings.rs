//! The result model every reporter reads: per rule an outcome (passed, failed, not
//! evaluated, not applicable) with its findings, plus what was scanned.
//!
//! Reporters never re-evaluate anything; the exit code is derived here, in one place.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::metadata::RuleMeta;
pub use crate::severity::Severity;
pub use crate::snapshot::source::ResourceKind;

/// What a finding points at: a resource in one of the snapshot's arrays, or the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub id: String,
    /// Human-readable name (UPN, rule name, policy name).
    pub name: String,
}

impl ResourceRef {
    /// The snapshot array holding this kind (`None` for the tenant).
    pub fn snapshot_path(&self) -> Option<&'static str> {
        self.kind.snapshot_path()
    }
}

/// A waiver from `m365guard.toml` that matched a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub reason: String,
    pub expires: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Drift against an earlier scan (`scan --since`), SARIF's `baselineState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineState {
    New,
    Unchanged,
    Updated,
    Absent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    /// The rule's severity, or the finding's own when the rule raises it (combined signals).
    pub severity: Severity,
    pub resource: ResourceRef,
    pub message: String,
    /// Extra facts the rule returned (addresses, folder names, keywords).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    /// Stable across runs: sha256 of tenant id, rule id, resource kind and id.
    pub fingerprint: String,
    /// 1-based line of the resource in the scanned snapshot file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_state: Option<BaselineState>,
    /// What an `[[exception]]` in m365guard.toml may name to waive this finding (filled by
    /// `config::annotate`, from the same function exception matching uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_keys: Option<ExceptionKeys>,
    /// With `scan --with-activity`: the change events of the window that created or
    /// changed the resource (who, when, from where); `None` without the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Vec<crate::activity::Activity>>,
}

/// The values an `[[exception]]` table may use to match one finding: its `rule`, and any
/// one of `resource` (the resource's id and name, and the id, UPN and address of the
/// person it belongs to where the snapshot knows the owner). A glob over these matches
/// too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionKeys {
    pub rule: String,
    pub resource: Vec<String>,
}

impl Finding {
    pub fn is_waived(&self) -> bool {
        self.waiver.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RuleStatus {
    /// Evaluated and compliant (or every finding waived).
    Passed,
    /// Evaluated with at least one unwaived finding.
    Failed,
    /// A source it reads failed to collect: unknown, never a pass.
    NotEvaluated { reason: String },
    /// The tenant cannot provide what it reads (no licence).
    NotApplicable { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    pub rule: Arc<RuleMeta>,
    #[serde(flatten)]
    pub status: RuleStatus,
    pub findings: Vec<Finding>,
}

impl RuleOutcome {
    pub fn active_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_waived())
    }
}

/// An account exempt from rules (break-glass), shown in reports with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemption {
    pub account: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanInfo {
    pub tool_version: String,
    pub tenant_id: String,
    pub tenant_name: Option<String>,
    /// Path of the snapshot as given on the command line (SARIF artifact location).
    pub snapshot_path: String,
    /// sha256 of the snapshot bytes: evidence of exactly what was evaluated.
    pub snapshot_digest: String,
    pub collected_at: DateTime<Utc>,
    pub scanned_at: DateTime<Utc>,
    pub baseline: Option<String>,
    pub fail_on: Severity,
    /// The m365guard.toml the scan applied, as given (or found in the working directory):
    /// every command a report suggests repeats it, so a fix plan honours the same
    /// break-glass accounts and exceptions.
    pub config_path: Option<String>,
    /// Whether `--rule`/`--baseline` narrowed the scan to a selection of the rules (the
    /// suggested fix command then names the rules, so it plans nothing the scan did not show).
    pub rule_selection: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    pub info: ScanInfo,
    /// Sorted by rule id.
    pub outcomes: Vec<RuleOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemptions: Vec<Exemption>,
    /// Non-fatal problems (an exception that matched nothing, an expired exception).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// With `scan --since`: findings of the earlier run that are gone now (fixed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<Finding>,
    /// Why the scan as a whole is incomplete beyond its not-evaluated rules (a live
    /// collection with a failed source, no rule evaluated at all). Non-empty means exit 3.
    /// Each reason is also in `warnings`, so every report that lists warnings says why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    /// Framework controls (ScubaGear, CIS) each rule is mapped to, by rule id, from the
    /// loaded baselines; rules without a mapping are absent. Reports show them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub controls: std::collections::BTreeMap<String, Vec<crate::baseline::ControlRef>>,
    /// With `scan --with-activity`: what the activity read covered (per source ok /
    /// unavailable / error); `None` without the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<crate::activity::ActivitySummary>,
}

/// Process exit codes (see README): 3 wins over 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Compliant = 0,
    Findings = 1,
    Error = 2,
    Incomplete = 3,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub rules: usize,
    pub passed: usize,
    pub failed: usize,
    pub not_evaluated: usize,
    pub not_applicable: usize,
    pub findings: usize,
    pub waived: usize,
}

impl ScanResult {
    /// The process exit status, derived from the result alone, so a report rendered from
    /// it states the code the process returns: 3 (a rule not evaluated, or the scan marked
    /// incomplete) wins over 1 (an unwaived finding at or above `fail_on`).
    pub fn exit_status(&self) -> ExitStatus {
        let incomplete = !self.incomplete.is_empty()
            || self
                .outcomes
                .iter()
                .any(|o| matches!(o.status, RuleStatus::NotEvaluated { .. }));
        if incomplete {
            return ExitStatus::Incomplete;
        }
        let failing = self
            .outcomes
            .iter()
            .flat_map(|o| o.active_findings())
            .any(|f| f.severity >= self.info.fail_on);
        if failing {
            ExitStatus::Findings
        } else {
            ExitStatus::Compliant
        }
    }

    /// Mark the whole scan incomplete (exit 3) for `reason`, shown as a warning too.
    pub fn mark_incomplete(&mut self, reason: String) {
        self.warnings.push(format!("scan incomplete: {reason}"));
        self.incomplete.push(reason);
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            rules: self.outcomes.len(),
            ..Totals::default()
        };
        for o in &self.outcomes {
            match o.status {
                RuleStatus::Passed => t.passed += 1,
                RuleStatus::Failed => t.failed += 1,
                RuleStatus::NotEvaluated { .. } => t.not_evaluated += 1,
                RuleStatus::NotApplicable { .. } => t.not_applicable += 1,
            }
            for f in &o.findings {
                if f.is_waived() {
                    t.waived += 1;
                } else {
                    t.findings += 1;
                }
            }
        }
        t
    }
}
