//! JUnit XML report for CI test-result views: one testsuite per rule area, one testcase
//! per rule.
//!
//! A failed rule is a `failure` whose body lists the offending resources; a rule that was
//! not evaluated is an `error` (the scan is incomplete, not the tenant non-compliant); a
//! rule that is not applicable is `skipped`, and so is a rule whose findings are all waived.
//! Waived findings never fail a testcase and are listed in its `system-out`, so a waiver
//! stays visible in the CI test view.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::table::waiver_text;
use super::{RenderOptions, ReportError, Reporter};
use crate::findings::{Finding, RuleOutcome, RuleStatus, ScanResult};
use crate::policy::metadata::Area;

/// Offending resources listed in one failure body; the rest are counted.
pub const MAX_FAILURE_LINES: usize = 50;

pub struct JunitReporter;

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn failure_body(findings: &[&Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .take(MAX_FAILURE_LINES)
        .map(|f| format!("{}: {}", f.resource.name, f.message))
        .collect();
    if findings.len() > MAX_FAILURE_LINES {
        lines.push(format!(
            "... and {} more",
            findings.len() - MAX_FAILURE_LINES
        ));
    }
    lines.join("\n")
}

fn test_case(outcome: &RuleOutcome, timestamp: DateTime<FixedOffset>) -> TestCase {
    let rule = &outcome.rule;
    let mut active: Vec<&Finding> = outcome.active_findings().collect();
    active.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.resource.name.cmp(&b.resource.name))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
    });

    let waived_count = outcome.findings.iter().filter(|f| f.is_waived()).count();
    let status = match &outcome.status {
        // Every finding waived: not a pass, not a failure. Skipped keeps it visible.
        RuleStatus::Passed if waived_count > 0 => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_type("waived")
                .set_message(format!("{} waived", plural(waived_count, "finding")));
            status
        }
        RuleStatus::Passed => TestCaseStatus::success(),
        RuleStatus::Failed => {
            let severity = active
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(rule.severity);
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_type(severity.as_str())
                .set_message(plural(active.len(), "finding"))
                .set_description(failure_body(&active));
            status
        }
        RuleStatus::NotEvaluated { reason } => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_type("not_evaluated")
                .set_message(reason.as_str());
            status
        }
        RuleStatus::NotApplicable { reason } => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_type("not_applicable")
                .set_message(reason.as_str());
            status
        }
    };

    let mut case = TestCase::new(rule.id.as_str(), status);
    case.set_classname(format!("m365guard.{}", rule.area.as_str()))
        .set_timestamp(timestamp)
        .add_property(Property::new("title", rule.title.as_str()))
        .add_property(Property::new("severity", rule.severity.as_str()))
        .add_property(Property::new("roadmap_phase", rule.roadmap_phase.as_str()));

    let waived: Vec<String> = outcome
        .findings
        .iter()
        .filter_map(|f| {
            f.waiver.as_ref().map(|w| {
                format!(
                    "waived: {}: {}: {}",
                    f.resource.name,
                    f.message,
                    waiver_text(w)
                )
            })
        })
        .collect();
    if !waived.is_empty() {
        case.set_system_out(format!(
            "{} waived:\n{}",
            plural(waived.len(), "finding"),
            waived.join("\n")
        ));
    }
    case
}

impl Reporter for JunitReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let info = &result.info;
        let timestamp: DateTime<FixedOffset> = info.scanned_at.fixed_offset();

        let mut by_area: BTreeMap<Area, Vec<&RuleOutcome>> = BTreeMap::new();
        for outcome in &result.outcomes {
            by_area.entry(outcome.rule.area).or_default().push(outcome);
        }

        let mut report = Report::new("m365guard");
        report.set_timestamp(timestamp);
        for (area, outcomes) in by_area {
            let mut suite = TestSuite::new(area.as_str());
            suite.set_timestamp(timestamp);
            suite.add_properties([
                Property::new("tenant_id", info.tenant_id.as_str()),
                Property::new("snapshot", info.snapshot_path.as_str()),
                Property::new("snapshot_digest", info.snapshot_digest.as_str()),
                Property::new("tool_version", info.tool_version.as_str()),
            ]);
            if let Some(baseline) = &info.baseline {
                suite.add_property(Property::new("baseline", baseline.as_str()));
            }
            suite.add_test_cases(outcomes.into_iter().map(|o| test_case(o, timestamp)));
            // quick-junit counts skipped cases as `disabled`; most readers (Jenkins,
            // junitparser, GitHub test reporters) look for `skipped`.
            let skipped = suite.disabled;
            suite
                .extra
                .insert("skipped".into(), skipped.to_string().into());
            report.add_test_suite(suite);
        }
        // A scan incomplete for a reason no rule carries (a failed source of a live
        // collection, no rule evaluated) is an error too, so the CI view matches exit 3.
        if !result.incomplete.is_empty() {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(result.incomplete.join("; "))
                .set_type("incomplete");
            let mut case = TestCase::new("scan_complete", status);
            case.set_classname("m365guard.scan")
                .set_timestamp(timestamp);
            let mut suite = TestSuite::new("scan");
            suite.set_timestamp(timestamp);
            suite.add_test_case(case);
            suite.extra.insert("skipped".into(), "0".into());
            report.add_test_suite(suite);
        }

        let mut bytes = Vec::new();
        report
            .serialize(&mut bytes)
            .map_err(|e| ReportError::Render {
                format: "junit",
                message: e.to_string(),
            })?;
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        Ok(bytes)
    }
}
