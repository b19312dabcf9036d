//! JSON report: a stable document for scripts and dashboards.
//!
//! Layout (`report_version` 1; fields are only ever added, never renamed or removed):
//!
//! ```text
//! {
//!   "report_version": 1,
//!   "tool":     { "name": "m365guard", "version": "0.1.0" },
//!   "tenant":   { "id": "…", "name": "…" | null },
//!   "snapshot": { "path": "…", "digest": "…", "collected_at": RFC 3339 },
//!   "scanned_at": RFC 3339, "baseline": "roadmap-30d" | null, "fail_on": "high",
//!   "exit":     { "code": 0 | 1 | 3, "status": "compliant" | "findings" | "incomplete" },
//!   "totals":   { "rules", "passed", "failed", "not_evaluated", "not_applicable",
//!                 "findings" (unwaived), "waived" },
//!   "rules": [ {                               // sorted by id
//!     "id", "title", "severity", "area", "roadmap_phase",
//!     "status": "passed" | "failed" | "not_evaluated" | "not_applicable",
//!     "reason": "…" (not_evaluated / not_applicable only),
//!     "fix_action": "…" (when the rule has one),
//!     "controls": [ { "framework": "ScubaGear" | "CIS M365", "baseline", "control",
//!                     "title", "coverage": "full" | "partial", "note"? } ] (when mapped),
//!     "findings": [ { "rule_id", "severity", "resource": { "kind", "id", "name" },
//!                     "message", "details"?, "fingerprint", "line"?,
//!                     "waiver"?: { "reason", "expires", "ticket"? }, "baseline_state"?,
//!                     "exception_keys"?: { "rule", "resource": [ "…" ] } } ]
//!                     // exception_keys: what an [[exception]] may name to waive it
//!                     // (`rule`, and any one `resource` value: id, name, owner's UPN…)
//!   } ],
//!   "since"?:  { "new", "fixed", "still_failing", "updated" } (with `scan --since`),
//!   "fixed"?:  [ finding ] (with `scan --since`: the earlier run's findings now gone),
//!   "exemptions": [ { "account", "reason" } ],
//!   "warnings": [ "…" ]
//! }
//! ```
//!
//! Findings are serialised from `findings::Finding` as they are, so the JSON report and
//! the in-memory model cannot drift apart.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{RenderOptions, ReportError, Reporter};
use crate::baseline::ControlRef;
use crate::findings::{Exemption, ExitStatus, Finding, RuleStatus, ScanResult, Severity, Totals};
use crate::policy::metadata::{Area, FixAction, RoadmapPhase};

/// Bumped only on an incompatible change of the layout above.
pub const REPORT_VERSION: u32 = 1;

pub struct JsonReporter;

#[derive(Serialize)]
struct JsonReport<'a> {
    report_version: u32,
    tool: Tool<'a>,
    tenant: Tenant<'a>,
    snapshot: Snapshot<'a>,
    scanned_at: String,
    baseline: Option<&'a str>,
    fail_on: Severity,
    exit: Exit,
    totals: Totals,
    rules: Vec<Rule<'a>>,
    /// With `scan --since`: counts of new, fixed and still-failing findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<SinceCounts>,
    /// With `scan --since`: the earlier run's findings that are gone (fixed).
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    fixed: &'a [Finding],
    exemptions: &'a [Exemption],
    warnings: &'a [String],
    /// `scan --with-activity`: what the activity read covered (each finding's events are
    /// in its `activity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    activity: Option<&'a crate::activity::ActivitySummary>,
}

#[derive(Serialize)]
struct SinceCounts {
    new: usize,
    fixed: usize,
    still_failing: usize,
    /// Of still_failing, those whose message changed.
    updated: usize,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Tenant<'a> {
    id: &'a str,
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct Snapshot<'a> {
    path: &'a str,
    digest: &'a str,
    collected_at: String,
}

#[derive(Serialize)]
struct Exit {
    code: i32,
    status: &'static str,
}

#[derive(Serialize)]
struct Rule<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    area: Area,
    roadmap_phase: RoadmapPhase,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix_action: Option<FixAction>,
    /// Framework controls the rule checks (ScubaGear, CIS), with coverage.
    #[serde(skip_serializing_if = "<[ControlRef]>::is_empty")]
    controls: &'a [ControlRef],
    findings: &'a [Finding],
}

/// RFC 3339 in UTC with a `Z`, second precision: the same text in every report.
pub(crate) fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn exit_name(status: ExitStatus) -> &'static str {
    match status {
        ExitStatus::Compliant => "compliant",
        ExitStatus::Findings => "findings",
        ExitStatus::Error => "error",
        ExitStatus::Incomplete => "incomplete",
    }
}

pub(crate) fn status_name(status: &RuleStatus) -> (&'static str, Option<&str>) {
    match status {
        RuleStatus::Passed => ("passed", None),
        RuleStatus::Failed => ("failed", None),
        RuleStatus::NotEvaluated { reason } => ("not_evaluated", Some(reason)),
        RuleStatus::NotApplicable { reason } => ("not_applicable", Some(reason)),
    }
}

impl Reporter for JsonReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let info = &result.info;
        let exit = result.exit_status();
        let report = JsonReport {
            report_version: REPORT_VERSION,
            tool: Tool {
                name: "m365guard",
                version: &info.tool_version,
            },
            tenant: Tenant {
                id: &info.tenant_id,
                name: info.tenant_name.as_deref(),
            },
            snapshot: Snapshot {
                path: &info.snapshot_path,
                digest: &info.snapshot_digest,
                collected_at: timestamp(&info.collected_at),
            },
            scanned_at: timestamp(&info.scanned_at),
            baseline: info.baseline.as_deref(),
            fail_on: info.fail_on,
            exit: Exit {
                code: exit as i32,
                status: exit_name(exit),
            },
            totals: result.totals(),
            rules: result
                .outcomes
                .iter()
                .map(|o| {
                    let (status, reason) = status_name(&o.status);
                    Rule {
                        id: &o.rule.id,
                        title: &o.rule.title,
                        severity: o.rule.severity,
                        area: o.rule.area,
                        roadmap_phase: o.rule.roadmap_phase,
                        status,
                        reason,
                        fix_action: o.rule.fix_action,
                        controls: result
                            .controls
                            .get(&o.rule.id)
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                        findings: &o.findings,
                    }
                })
                .collect(),
            since: super::changes::changes(result).map(|c| SinceCounts {
                new: c.new.len(),
                fixed: c.fixed.len(),
                still_failing: c.still_failing.len(),
                updated: c.updated,
            }),
            fixed: &result.absent,
            exemptions: &result.exemptions,
            warnings: &result.warnings,
            activity: result.activity.as_ref(),
        };
        let mut bytes = serde_json::to_vec_pretty(&report).map_err(|e| ReportError::Render {
            format: "json",
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
