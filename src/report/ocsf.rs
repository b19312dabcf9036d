//! OCSF report: a JSON array of "Compliance Finding" events (OCSF 1.3.0, class_uid 2003,
//! category Findings) for SIEMs, as Prowler and Monkey365 write them.
//!
//! One event per rule check result: each finding (compliance `Fail`; finding status `New`,
//! or `Suppressed` when waived), each passed rule (`Pass`, the tenant as resource), each
//! rule not evaluated (`Warning`, with the reason), and with `scan --since` each fixed
//! finding (`Pass`, activity `Close`, status `Resolved`). Not-applicable rules are left
//! out: nothing was checked.
//!
//! Schema: https://schema.ocsf.io/1.3.0/classes/compliance_finding (attributes from
//! github.com/ocsf/ocsf-schema: events/findings/compliance_finding.json, finding.json,
//! base_event.json; objects compliance.json, finding_info.json, metadata.json). Required
//! there: `class_uid`, `category_uid`, `activity_id`, `type_uid`, `severity_id`, `time`,
//! `metadata` (`version`, `product`), `finding_info` (`uid`, `title`), `compliance`
//! (`standards`).

use serde_json::{json, Value};

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::{Finding, RuleOutcome, RuleStatus, ScanResult, Severity};

pub struct OcsfReporter;

pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2003;
pub const CATEGORY_UID: u32 = 2;

/// OCSF `severity_id`: 1 Informational … 5 Critical.
fn severity_id(severity: Severity) -> (u32, &'static str) {
    match severity {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// compliance.status_id: 1 Pass, 2 Warning (no result: missing information), 3 Fail.
#[derive(Clone, Copy)]
enum Check {
    Pass,
    Warning,
    Fail,
}

/// finding status_id: 1 New, 3 Suppressed, 4 Resolved.
#[derive(Clone, Copy)]
enum Lifecycle {
    New,
    Suppressed,
    Resolved,
}

struct Event<'a> {
    outcome: Option<&'a RuleOutcome>,
    rule_id: &'a str,
    severity: Severity,
    check: Check,
    lifecycle: Lifecycle,
    /// The finding's fingerprint, or a rule-level uid.
    uid: String,
    message: String,
    resource: Value,
    status_detail: Option<String>,
}

fn event(result: &ScanResult, e: Event<'_>) -> Value {
    let info = &result.info;
    let time = info.scanned_at.timestamp_millis();
    let (activity_id, activity_name) = match e.lifecycle {
        Lifecycle::Resolved => (3, "Close"),
        _ => (1, "Create"),
    };
    let (status_id, status) = match e.lifecycle {
        Lifecycle::New => (1, "New"),
        Lifecycle::Suppressed => (3, "Suppressed"),
        Lifecycle::Resolved => (4, "Resolved"),
    };
    let (check_id, check) = match e.check {
        Check::Pass => (1, "Pass"),
        Check::Warning => (2, "Warning"),
        Check::Fail => (3, "Fail"),
    };
    let (severity_id, severity) = severity_id(e.severity);
    let controls = result
        .controls
        .get(e.rule_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut standards: Vec<&str> = Vec::new();
    for c in controls {
        if !standards.contains(&c.framework.as_str()) {
            standards.push(&c.framework);
        }
    }
    if standards.is_empty() {
        // `standards` is required: a rule no framework maps is checked against
        // m365guard's own rule pack.
        standards.push("m365guard");
    }
    let mut compliance = json!({
        "standards": standards,
        "control": controls.first().map_or(e.rule_id, |c| c.control.as_str()),
        "requirements": super::control_labels(result, e.rule_id),
        "status_id": check_id,
        "status": check,
    });
    if let Some(detail) = e.status_detail {
        compliance["status_detail"] = json!(detail);
    }
    let rule = e.outcome.map(|o| &o.rule);
    let mut finding_info = json!({
        "uid": e.uid,
        "title": rule.map_or(e.rule_id, |r| r.title.as_str()),
        "types": [rule.map_or("", |r| r.area.as_str())],
        "product_uid": e.rule_id,
    });
    if let Some(rule) = rule {
        finding_info["desc"] = json!(rule.description.trim());
        if let Some(first) = rule.references.first() {
            finding_info["src_url"] = json!(first);
        }
    }
    let mut event = json!({
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("Compliance Finding: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "time": time,
        "message": e.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "m365guard",
                "vendor_name": "m365guard",
                "version": info.tool_version,
            },
            "profiles": ["cloud"],
            "event_code": e.rule_id,
        },
        "cloud": {
            "provider": "Microsoft 365",
            "account": { "uid": info.tenant_id, "name": info.tenant_name },
        },
        "finding_info": finding_info,
        "compliance": compliance,
        "resources": [e.resource],
    });
    if let Some(rule) = rule {
        event["remediation"] = json!({
            "desc": rule.remediation.trim(),
            "references": rule.references,
        });
    }
    event
}

fn finding_resource(f: &Finding) -> Value {
    json!({ "uid": f.resource.id, "name": f.resource.name, "type": f.resource.kind.as_str() })
}

fn tenant_resource(result: &ScanResult) -> Value {
    json!({
        "uid": result.info.tenant_id,
        "name": result.info.tenant_name.as_deref().unwrap_or(&result.info.tenant_id),
        "type": "tenant",
    })
}

/// The events of a scan, in rule order (exposed for tests).
pub fn events(result: &ScanResult) -> Vec<Value> {
    let mut events = Vec::new();
    for outcome in &result.outcomes {
        let rule = &outcome.rule;
        let rule_level = |check, detail: Option<String>, message: String| Event {
            outcome: Some(outcome),
            rule_id: &rule.id,
            severity: rule.severity,
            check,
            lifecycle: Lifecycle::New,
            uid: format!("{}/{}", result.info.tenant_id, rule.id),
            message,
            resource: tenant_resource(result),
            status_detail: detail,
        };
        match &outcome.status {
            RuleStatus::NotApplicable { .. } => continue,
            RuleStatus::NotEvaluated { reason } => events.push(event(
                result,
                rule_level(
                    Check::Warning,
                    Some(reason.clone()),
                    format!("{}: not evaluated", rule.title),
                ),
            )),
            RuleStatus::Passed if outcome.findings.is_empty() => events.push(event(
                result,
                rule_level(Check::Pass, None, format!("{}: passed", rule.title)),
            )),
            RuleStatus::Passed | RuleStatus::Failed => {}
        }
        for finding in &outcome.findings {
            let waiver = finding.waiver.as_ref().map(|w| w.reason.clone());
            events.push(event(
                result,
                Event {
                    outcome: Some(outcome),
                    rule_id: &rule.id,
                    severity: finding.severity,
                    check: Check::Fail,
                    lifecycle: if waiver.is_some() {
                        Lifecycle::Suppressed
                    } else {
                        Lifecycle::New
                    },
                    uid: finding.fingerprint.clone(),
                    message: finding.message.clone(),
                    resource: finding_resource(finding),
                    status_detail: waiver,
                },
            ));
        }
    }
    for finding in &result.absent {
        let outcome = result
            .outcomes
            .iter()
            .find(|o| o.rule.id == finding.rule_id);
        events.push(event(
            result,
            Event {
                outcome,
                rule_id: &finding.rule_id,
                severity: finding.severity,
                check: Check::Pass,
                lifecycle: Lifecycle::Resolved,
                uid: finding.fingerprint.clone(),
                message: format!("fixed since the last run: {}", finding.message),
                resource: finding_resource(finding),
                status_detail: None,
            },
        ));
    }
    events
}

impl Reporter for OcsfReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let mut bytes =
            serde_json::to_vec_pretty(&events(result)).map_err(|e| ReportError::Render {
                format: "ocsf",
                message: e.to_string(),
            })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
