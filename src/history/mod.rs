//! `m365guard history DIR`: the trend over a folder of earlier runs — snapshots (scanned
//! here with the same rules), m365guard JSON reports or m365guard SARIF logs (both read
//! as they are, [`sarif`] for the latter) — as one
//! self-contained HTML page with inline SVG charts (findings per severity, roadmap-phase
//! progress) and a time-to-fix table, plus a CSV with one row per run.
//!
//! Runs are ordered by when their snapshot was collected. A finding is identified across
//! runs by its fingerprint (tenant + rule + resource, as `scan --since` matches them); it
//! is fixed at the first later run that no longer has it. Only unwaived findings count.
//! Files that are neither (other JSON, HTML, CSV) are skipped with a note, so the folder of
//! committed reports can be given as it is.

pub mod render;
pub mod sarif;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::findings::{RuleStatus, ScanResult, Severity};
use crate::policy::metadata::RoadmapPhase;

/// One earlier run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// File name inside DIR.
    pub file: String,
    pub tenant_id: String,
    pub collected_at: DateTime<Utc>,
    /// Unwaived findings per severity: low, medium, high, critical.
    pub by_severity: [usize; 4],
    /// Per roadmap phase (30d, 90d, beyond): (passed rules, applicable rules).
    pub phases: [(usize, usize); 3],
    /// Unwaived findings: fingerprint → (rule id, resource name, severity).
    pub findings: BTreeMap<String, (String, String, Severity)>,
}

impl Run {
    pub fn total(&self) -> usize {
        self.by_severity.iter().sum()
    }
}

/// A finding's life across the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifetime {
    pub rule_id: String,
    pub resource: String,
    pub severity: Severity,
    pub first_seen: DateTime<Utc>,
    /// The first later run without it; `None` while it is still open in the last run.
    pub fixed_at: Option<DateTime<Utc>>,
}

impl Lifetime {
    /// Days from first seen to fixed (or to the last run, while open).
    pub fn days(&self, last: DateTime<Utc>) -> f64 {
        let end = self.fixed_at.unwrap_or(last);
        (end - self.first_seen).num_minutes() as f64 / (24.0 * 60.0)
    }
}

#[derive(Debug, Default)]
pub struct History {
    pub runs: Vec<Run>,
    pub lifetimes: Vec<Lifetime>,
    /// Files skipped, with why.
    pub skipped: Vec<String>,
}

fn phase_index(phase: RoadmapPhase) -> usize {
    match phase {
        RoadmapPhase::Days30 => 0,
        RoadmapPhase::Days90 => 1,
        RoadmapPhase::Beyond => 2,
    }
}

fn severity_index(severity: Severity) -> usize {
    match severity {
        Severity::Low => 0,
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Critical => 3,
    }
}

/// A run from a scan result (a snapshot scanned here).
pub fn run_from_result(file: String, result: &ScanResult) -> Run {
    let mut run = Run {
        file,
        tenant_id: result.info.tenant_id.clone(),
        collected_at: result.info.collected_at,
        by_severity: [0; 4],
        phases: [(0, 0); 3],
        findings: BTreeMap::new(),
    };
    for outcome in &result.outcomes {
        let phase = &mut run.phases[phase_index(outcome.rule.roadmap_phase)];
        match outcome.status {
            RuleStatus::Passed => {
                phase.0 += 1;
                phase.1 += 1;
            }
            RuleStatus::Failed | RuleStatus::NotEvaluated { .. } => phase.1 += 1,
            RuleStatus::NotApplicable { .. } => {}
        }
        for f in outcome.active_findings() {
            run.by_severity[severity_index(f.severity)] += 1;
            run.findings.insert(
                f.fingerprint.clone(),
                (f.rule_id.clone(), f.resource.name.clone(), f.severity),
            );
        }
    }
    run
}

/// The parts of an m365guard JSON report (report_version 1) the history reads; typed,
/// with every field optional where a report could lack it.
#[derive(Deserialize)]
struct JsonReport {
    report_version: u32,
    tenant: Option<JsonTenant>,
    snapshot: Option<JsonSnapshot>,
    #[serde(default)]
    rules: Vec<JsonRule>,
}

#[derive(Deserialize)]
struct JsonTenant {
    id: Option<String>,
}

#[derive(Deserialize)]
struct JsonSnapshot {
    collected_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct JsonRule {
    roadmap_phase: Option<RoadmapPhase>,
    status: Option<String>,
    #[serde(default)]
    findings: Vec<JsonFinding>,
}

#[derive(Deserialize)]
struct JsonFinding {
    rule_id: Option<String>,
    severity: Option<Severity>,
    fingerprint: Option<String>,
    resource: Option<JsonResource>,
    waiver: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct JsonResource {
    name: Option<String>,
}

/// A run from an m365guard JSON report's text; `Err` says why it is not one.
pub fn run_from_report(file: String, text: &str) -> Result<Run, String> {
    let report: JsonReport =
        serde_json::from_str(text).map_err(|e| format!("not an m365guard JSON report: {e}"))?;
    if report.report_version != crate::report::json::REPORT_VERSION {
        return Err(format!(
            "JSON report version {} (this m365guard reads {})",
            report.report_version,
            crate::report::json::REPORT_VERSION
        ));
    }
    let collected_at = report
        .snapshot
        .and_then(|s| s.collected_at)
        .ok_or("the report has no snapshot.collected_at")?;
    let mut run = Run {
        file,
        tenant_id: report.tenant.and_then(|t| t.id).unwrap_or_default(),
        collected_at,
        by_severity: [0; 4],
        phases: [(0, 0); 3],
        findings: BTreeMap::new(),
    };
    for rule in report.rules {
        if let Some(phase) = rule.roadmap_phase {
            let phase = &mut run.phases[phase_index(phase)];
            match rule.status.as_deref() {
                Some("passed") => {
                    phase.0 += 1;
                    phase.1 += 1;
                }
                Some("failed" | "not_evaluated") => phase.1 += 1,
                _ => {}
            }
        }
        for f in rule.findings {
            if f.waiver.is_some() {
                continue;
            }
            let (Some(fingerprint), Some(severity)) = (f.fingerprint, f.severity) else {
                continue;
            };
            run.by_severity[severity_index(severity)] += 1;
            let name = f.resource.and_then(|r| r.name).unwrap_or_default();
            run.findings
                .insert(fingerprint, (f.rule_id.unwrap_or_default(), name, severity));
        }
    }
    Ok(run)
}

/// Order the runs and follow each finding through them.
pub fn build(mut runs: Vec<Run>, skipped: Vec<String>) -> History {
    runs.sort_by(|a, b| (a.collected_at, &a.file).cmp(&(b.collected_at, &b.file)));
    let mut open: BTreeMap<String, Lifetime> = BTreeMap::new();
    let mut lifetimes = Vec::new();
    for run in &runs {
        let gone: Vec<String> = open
            .keys()
            .filter(|fp| !run.findings.contains_key(*fp))
            .cloned()
            .collect();
        for fp in gone {
            if let Some(mut life) = open.remove(&fp) {
                life.fixed_at = Some(run.collected_at);
                lifetimes.push(life);
            }
        }
        for (fp, (rule, resource, severity)) in &run.findings {
            open.entry(fp.clone()).or_insert_with(|| Lifetime {
                rule_id: rule.clone(),
                resource: resource.clone(),
                severity: *severity,
                first_seen: run.collected_at,
                fixed_at: None,
            });
        }
    }
    lifetimes.extend(open.into_values());
    lifetimes.sort_by(|a, b| {
        (a.fixed_at.is_none(), b.severity, &a.rule_id, &a.resource).cmp(&(
            b.fixed_at.is_none(),
            a.severity,
            &b.rule_id,
            &b.resource,
        ))
    });
    History {
        runs,
        lifetimes,
        skipped,
    }
}

/// The `.json` and `.sarif` files of `dir`, sorted by name.
pub fn json_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json" || e == "sarif"))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `text` looks like an m365guard JSON report (a cheap look at the top level).
pub fn is_json_report(text: &str) -> bool {
    #[derive(Deserialize)]
    struct TopLevel {
        report_version: Option<serde::de::IgnoredAny>,
    }
    matches!(
        serde_json::from_str::<TopLevel>(text),
        Ok(TopLevel {
            report_version: Some(_)
        })
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn run(file: &str, hour: u32, findings: &[(&str, Severity)]) -> Run {
        let mut by_severity = [0; 4];
        let mut map = BTreeMap::new();
        for (fp, sev) in findings {
            by_severity[severity_index(*sev)] += 1;
            map.insert(
                (*fp).to_owned(),
                ("rule".to_owned(), format!("res-{fp}"), *sev),
            );
        }
        Run {
            file: file.to_owned(),
            tenant_id: "t".to_owned(),
            collected_at: Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap(),
            by_severity,
            phases: [(1, 2), (0, 0), (0, 0)],
            findings: map,
        }
    }

    /// Runs are ordered by collection time whatever the file order; a finding is fixed at
    /// the first run without it, and one that comes back starts a new life.
    #[test]
    fn lifetimes_follow_fingerprints_through_ordered_runs() {
        let history = build(
            vec![
                run("c.json", 12, &[("b", Severity::Low), ("a", Severity::High)]),
                run("a.json", 0, &[("a", Severity::High), ("b", Severity::Low)]),
                run("b.json", 6, &[("b", Severity::Low)]),
            ],
            vec![],
        );
        let files: Vec<&str> = history.runs.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(files, ["a.json", "b.json", "c.json"]);
        let at = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        let a: Vec<&Lifetime> = history
            .lifetimes
            .iter()
            .filter(|l| l.resource == "res-a")
            .collect();
        assert_eq!(a.len(), 2, "fixed, then back");
        assert_eq!((a[0].first_seen, a[0].fixed_at), (at(0), Some(at(6))));
        assert_eq!((a[1].first_seen, a[1].fixed_at), (at(12), None));
        assert!((a[0].days(at(12)) - 0.25).abs() < 1e-9);
        let b: Vec<&Lifetime> = history
            .lifetimes
            .iter()
            .filter(|l| l.resource == "res-b")
            .collect();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].fixed_at, None);
    }

    #[test]
    fn page_escapes_names_and_draws_one_line_per_severity() {
        let mut first = run("<script>x</script>.json", 0, &[("a", Severity::High)]);
        first.findings.insert(
            "z".to_owned(),
            ("rule".to_owned(), "<img src=x>".to_owned(), Severity::Low),
        );
        first.by_severity[0] += 1;
        let history = build(vec![first, run("b.json", 6, &[])], vec![]);
        let page = render::html(&history);
        assert!(!page.contains("<script") && !page.contains("<img"));
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;.json"));
        assert_eq!(page.matches("<polyline class=\"series\"").count(), 4 + 1);
        let csv = render::csv(&history);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.lines().nth(1).unwrap().contains(",1,0,1,2,"), "{csv}");
    }

    #[test]
    fn a_json_report_is_read_without_waived_findings() {
        let text = r#"{"report_version": 1, "tenant": {"id": "t"},
            "snapshot": {"collected_at": "2026-01-01T00:00:00Z"},
            "rules": [{"roadmap_phase": "30d", "status": "failed", "findings": [
              {"rule_id": "r", "severity": "high", "fingerprint": "f1", "resource": {"name": "n"}},
              {"rule_id": "r", "severity": "low", "fingerprint": "f2", "waiver": {"reason": "x"}}]},
              {"roadmap_phase": "90d", "status": "passed", "findings": []}]}"#;
        assert!(is_json_report(text));
        let run = run_from_report("r.json".to_owned(), text).unwrap();
        assert_eq!(run.by_severity, [0, 0, 1, 0]);
        assert_eq!(run.phases, [(0, 1), (1, 1), (0, 0)]);
        assert!(run_from_report("x".to_owned(), r#"{"report_version": 9}"#).is_err());
        assert!(!is_json_report(r#"{"schema_version": 1}"#));
    }
}
