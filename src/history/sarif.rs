//! Runs from SARIF logs written by m365guard (`scan -f sarif`, `m365guard.sarif`), so the
//! folder a code-scanning workflow commits can be given to `history` as it is.
//!
//! What the writer (`crate::report::sarif`) puts where, and is read back here:
//! - tenant and collection time: the run's properties `tenantId` and `collectedAt`;
//! - a finding's identity: `partialFingerprints["m365guard/v1"]` (the same fingerprint as
//!   the JSON report's, so runs of both kinds follow one finding);
//! - its severity: the result's `properties.severity`, else its rule's
//!   `properties.severity` (the descriptor's); a waived finding has `suppressions` and is
//!   left out, as in the JSON report;
//! - a rule's roadmap phase: its `roadmap-<phase>` tag; its status: not evaluated when a
//!   tool execution notification of level `error` names it, not applicable when one of
//!   level `note` does, else failed with an unsuppressed result, passed without.
//!
//! A SARIF log from another tool (or without those properties) is refused with a reason.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{phase_index, severity_index, Run};
use crate::findings::Severity;
use crate::policy::metadata::RoadmapPhase;
use crate::report::sarif::FINGERPRINT_KEY;

#[derive(Deserialize)]
struct Log {
    version: Option<String>,
    #[serde(default)]
    runs: Vec<SarifRun>,
}

#[derive(Deserialize)]
struct SarifRun {
    tool: Option<Tool>,
    #[serde(default)]
    invocations: Vec<Invocation>,
    #[serde(default)]
    results: Vec<SarifResult>,
    properties: Option<RunProperties>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Option<Driver>,
}

#[derive(Deserialize)]
struct Driver {
    name: Option<String>,
    #[serde(default)]
    rules: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    id: Option<String>,
    properties: Option<Properties>,
}

#[derive(Deserialize, Default)]
struct Properties {
    severity: Option<Severity>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties {
    tenant_id: Option<String>,
    collected_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default)]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    level: Option<String>,
    associated_rule: Option<RuleRef>,
}

#[derive(Deserialize)]
struct RuleRef {
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    #[serde(default)]
    partial_fingerprints: HashMap<String, String>,
    properties: Option<Properties>,
    #[serde(default)]
    suppressions: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    locations: Vec<Location>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(default)]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Deserialize)]
struct LogicalLocation {
    name: Option<String>,
}

/// Whether `text` looks like a SARIF log (a cheap look at the top level: `version` and
/// `runs`); whether m365guard wrote it is [`run_from_sarif`]'s question.
pub fn is_sarif(text: &str) -> bool {
    #[derive(Deserialize)]
    struct TopLevel {
        version: Option<serde::de::IgnoredAny>,
        runs: Option<serde::de::IgnoredAny>,
    }
    matches!(
        serde_json::from_str::<TopLevel>(text),
        Ok(TopLevel {
            version: Some(_),
            runs: Some(_)
        })
    )
}

fn phase_of(tags: &[String]) -> Option<RoadmapPhase> {
    tags.iter().find_map(|t| match t.strip_prefix("roadmap-")? {
        "30d" => Some(RoadmapPhase::Days30),
        "90d" => Some(RoadmapPhase::Days90),
        "beyond" => Some(RoadmapPhase::Beyond),
        _ => None,
    })
}

/// A run from the text of a SARIF log m365guard wrote; `Err` says why it is not one.
pub fn run_from_sarif(file: String, text: &str) -> Result<Run, String> {
    let log: Log = serde_json::from_str(text).map_err(|e| format!("not a SARIF log: {e}"))?;
    if log.version.as_deref() != Some("2.1.0") {
        return Err(format!(
            "SARIF version {} (this m365guard reads 2.1.0)",
            log.version.as_deref().unwrap_or("missing")
        ));
    }
    let [sarif_run] = <[SarifRun; 1]>::try_from(log.runs)
        .map_err(|runs| format!("{} SARIF runs (m365guard writes one)", runs.len()))?;
    let driver = sarif_run.tool.and_then(|t| t.driver);
    let tool = driver.as_ref().and_then(|d| d.name.as_deref());
    if tool != Some("m365guard") {
        return Err(format!(
            "a SARIF log of {}, not of m365guard",
            tool.unwrap_or("an unnamed tool")
        ));
    }
    let props = sarif_run.properties;
    let collected_at = props
        .as_ref()
        .and_then(|p| p.collected_at)
        .ok_or("the SARIF run has no properties.collectedAt")?;
    let mut run = Run {
        file,
        tenant_id: props.and_then(|p| p.tenant_id).unwrap_or_default(),
        collected_at,
        by_severity: [0; 4],
        phases: [(0, 0); 3],
        findings: BTreeMap::new(),
    };

    // Rule id → (phase, default severity), and which rules were not evaluated/applicable.
    let rules: Vec<(String, Option<RoadmapPhase>, Option<Severity>)> = driver
        .map(|d| d.rules)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            let props = r.properties.unwrap_or_default();
            Some((r.id?, phase_of(&props.tags), props.severity))
        })
        .collect();
    let mut notified: HashMap<String, String> = HashMap::new();
    for n in sarif_run
        .invocations
        .into_iter()
        .flat_map(|i| i.tool_execution_notifications)
    {
        if let (Some(id), Some(level)) = (n.associated_rule.and_then(|r| r.id), n.level) {
            // An error outranks a note for the same rule.
            let entry = notified.entry(id).or_insert_with(|| level.clone());
            if level == "error" {
                *entry = level;
            }
        }
    }
    let default_severity: HashMap<&str, Severity> = rules
        .iter()
        .filter_map(|(id, _, s)| Some((id.as_str(), (*s)?)))
        .collect();
    let mut failing: HashMap<String, bool> = HashMap::new();
    for r in sarif_run.results {
        if !r.suppressions.is_empty() {
            continue;
        }
        let rule_id = r.rule_id.unwrap_or_default();
        let Some(fingerprint) = r.partial_fingerprints.get(FINGERPRINT_KEY) else {
            continue;
        };
        let severity = r
            .properties
            .and_then(|p| p.severity)
            .or_else(|| default_severity.get(rule_id.as_str()).copied());
        let Some(severity) = severity else {
            continue;
        };
        let name = r
            .locations
            .into_iter()
            .flat_map(|l| l.logical_locations)
            .find_map(|l| l.name)
            .unwrap_or_default();
        run.by_severity[severity_index(severity)] += 1;
        failing.insert(rule_id.clone(), true);
        run.findings
            .insert(fingerprint.clone(), (rule_id, name, severity));
    }
    for (id, phase, _) in &rules {
        let Some(phase) = phase else { continue };
        let slot = &mut run.phases[phase_index(*phase)];
        match notified.get(id).map(String::as_str) {
            Some("error") => slot.1 += 1,
            Some(_) => {}
            None if failing.contains_key(id) => slot.1 += 1,
            None => {
                slot.0 += 1;
                slot.1 += 1;
            }
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"{"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "m365guard", "rules": [
            {"id": "a", "properties": {"severity": "high", "tags": ["identity", "roadmap-30d"]}},
            {"id": "b", "properties": {"severity": "low", "tags": ["roadmap-90d"]}},
            {"id": "c", "properties": {"severity": "low", "tags": ["roadmap-90d"]}},
            {"id": "d", "properties": {"severity": "low", "tags": ["roadmap-beyond"]}},
            {"id": "e", "properties": {"tags": ["roadmap-beyond"]}}]}},
        "invocations": [{"toolExecutionNotifications": [
            {"level": "error", "associatedRule": {"id": "c"}},
            {"level": "note", "associatedRule": {"id": "d"}},
            {"level": "error", "message": {"text": "Scan incomplete"}}]}],
        "results": [
            {"ruleId": "a", "partialFingerprints": {"m365guard/v1": "f1"},
             "locations": [{"logicalLocations": [{"name": "lena"}]}]},
            {"ruleId": "a", "partialFingerprints": {"m365guard/v1": "f2"},
             "properties": {"severity": "medium"}},
            {"ruleId": "b", "partialFingerprints": {"m365guard/v1": "f3"},
             "suppressions": [{"kind": "external"}]},
            {"ruleId": "a", "partialFingerprints": {"other/v1": "x"}}],
        "properties": {"tenantId": "t1", "collectedAt": "2026-01-01T06:00:00Z"}}]}"#;

    /// Severity from the result, else from its rule; suppressed and unfingerprinted results
    /// left out; phases from tags, status from results and notifications.
    #[test]
    fn a_log_gives_fingerprints_severities_and_phases() {
        assert!(is_sarif(LOG));
        let run = run_from_sarif("x.sarif".into(), LOG).unwrap();
        assert_eq!(run.tenant_id, "t1");
        assert_eq!(run.by_severity, [0, 1, 1, 0]);
        assert_eq!(
            run.findings.get("f1"),
            Some(&("a".to_owned(), "lena".to_owned(), Severity::High))
        );
        assert_eq!(run.findings.get("f2").map(|f| f.2), Some(Severity::Medium));
        assert_eq!(run.findings.len(), 2);
        // a failed (30d); b passed (all suppressed), c not evaluated (90d); d not
        // applicable, e passed (beyond).
        assert_eq!(run.phases, [(0, 1), (1, 2), (1, 1)]);
    }

    #[test]
    fn other_logs_are_refused_with_a_reason() {
        let refused = |text: &str, why: &str| {
            let err = run_from_sarif("x".into(), text).unwrap_err();
            assert!(err.contains(why), "{err}");
        };
        refused(
            &LOG.replace("\"2.1.0\"", "\"2.0.0\""),
            "SARIF version 2.0.0",
        );
        refused(
            &LOG.replace("\"name\": \"m365guard\"", "\"name\": \"Other\""),
            "a SARIF log of Other",
        );
        refused(&LOG.replace("collectedAt", "x"), "properties.collectedAt");
        refused(r#"{"version": "2.1.0", "runs": []}"#, "0 SARIF runs");
        refused("[]", "not a SARIF log");
        assert!(!is_sarif(r#"{"report_version": 1}"#));
    }
}
