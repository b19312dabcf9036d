//! CSV report: one row per finding (waived ones too, with the waiver), for spreadsheets
//! and ticketing imports. RFC 4180 quoting; the header row names the columns:
//!
//! `severity, rule_id, rule_title, status, resource_kind, resource_id, resource_name,
//! message, controls, since, fingerprint, waiver_reason, waiver_expires, waiver_ticket,
//! fix_action`
//!
//! `status` is `failed` or `waived`; `controls` lists the framework ids
//! (`ScubaGear MS.AAD.1.1v1 (full); CIS M365 5.2.2.3 (partial)`); `since` is the
//! `scan --since` state (`new`, `unchanged`, `updated`; empty without `--since`). Fixed
//! findings of a `--since` comparison follow as `fixed` rows (`since` = `absent`).
//!
//! Tenant data is attacker controlled and spreadsheets evaluate cells that start with
//! `=`, `+`, `-`, `@`, tab or carriage return as formulas (CSV injection): such a cell is
//! prefixed with `'` so it stays text.

use super::table::findings_by_severity;
use super::{RenderOptions, ReportError, Reporter};
use crate::findings::{BaselineState, Finding, ScanResult};

pub struct CsvReporter;

pub const HEADER: [&str; 15] = [
    "severity",
    "rule_id",
    "rule_title",
    "status",
    "resource_kind",
    "resource_id",
    "resource_name",
    "message",
    "controls",
    "since",
    "fingerprint",
    "waiver_reason",
    "waiver_expires",
    "waiver_ticket",
    "fix_action",
];

/// One field, quoted when it holds a separator, quote or line break, and defused when a
/// spreadsheet would read it as a formula.
pub(crate) fn field(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

fn state(state: Option<BaselineState>) -> &'static str {
    match state {
        Some(BaselineState::New) => "new",
        Some(BaselineState::Unchanged) => "unchanged",
        Some(BaselineState::Updated) => "updated",
        Some(BaselineState::Absent) => "absent",
        None => "",
    }
}

fn row(out: &mut String, fields: &[&str]) {
    let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

fn finding_row(
    out: &mut String,
    result: &ScanResult,
    finding: &Finding,
    title: &str,
    status: &str,
    fix: &str,
) {
    let controls = super::control_labels(result, &finding.rule_id).join("; ");
    let waiver = finding.waiver.as_ref();
    let expires = waiver.map(|w| w.expires.to_string()).unwrap_or_default();
    row(
        out,
        &[
            finding.severity.as_str(),
            &finding.rule_id,
            title,
            status,
            finding.resource.kind.as_str(),
            &finding.resource.id,
            &finding.resource.name,
            &finding.message,
            &controls,
            state(finding.baseline_state),
            &finding.fingerprint,
            waiver.map(|w| w.reason.as_str()).unwrap_or(""),
            &expires,
            waiver.and_then(|w| w.ticket.as_deref()).unwrap_or(""),
            fix,
        ],
    );
}

impl Reporter for CsvReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        row(&mut out, &HEADER);
        for waived in [false, true] {
            for (outcome, finding) in findings_by_severity(result, waived) {
                let status = if waived { "waived" } else { "failed" };
                let fix = outcome.rule.fix_action.map(|a| a.as_str()).unwrap_or("");
                finding_row(&mut out, result, finding, &outcome.rule.title, status, fix);
            }
        }
        for finding in &result.absent {
            let title = result
                .outcomes
                .iter()
                .find(|o| o.rule.id == finding.rule_id)
                .map(|o| o.rule.title.as_str())
                .unwrap_or("");
            finding_row(&mut out, result, finding, title, "fixed", "");
        }
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+1"), "'+1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
    }
}
