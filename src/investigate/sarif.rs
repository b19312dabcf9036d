//! `evidence.sarif`: the investigation rules' findings as a SARIF 2.1.0 log, so the same
//! code-scanning and SIEM tooling that reads `scan --format sarif` reads an investigation.
//!
//! One run; one `reportingDescriptor` per investigation rule (from its rule.toml); one
//! result per finding, whose physical location is the flagged event's line in
//! `evidence.json` (the line of its `"id"`) and whose logical location is the event. Rules
//! that were not evaluated or are not applicable become tool execution notifications, and
//! an incomplete investigation (a source not `ok`, a rule without a verdict) marks the
//! invocation unsuccessful, as in `report::sarif`, whose building blocks this reuses.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use serde_sarif::sarif::{
    Artifact, ArtifactLocation, Invocation, Location, LogicalLocation, Message,
    MultiformatMessageString, Notification, PhysicalLocation, PropertyBag, Region,
    ReportingConfiguration, ReportingDescriptor, ReportingDescriptorReference,
    Result as SarifResult, Run, Sarif, Tool, ToolComponent,
};

use super::rules::Pack;
use super::{Evidence, SourceState, VerdictStatus};
use crate::report::sarif::{level, text, INFORMATION_URI, SCHEMA_URI};

/// The file name `investigate` writes it to.
pub const FILE: &str = "evidence.sarif";

/// True when a source was not collected or a rule could not be judged.
pub fn incomplete(evidence: &Evidence) -> bool {
    evidence
        .sources
        .values()
        .any(|s| s.status != SourceState::Ok)
        || evidence.rules.iter().any(|r| {
            matches!(
                r.status,
                VerdictStatus::NotEvaluated | VerdictStatus::NotApplicable
            )
        })
}

/// The 1-based line of each event's `"id": "…"` in the evidence document's text.
fn id_lines(evidence_json: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (n, line) in evidence_json.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("\"id\": ") else {
            continue;
        };
        let literal = rest.trim_end_matches(',');
        if let Ok(Value::String(id)) = serde_json::from_str::<Value>(literal) {
            // The first occurrence is the event (events come before findings).
            out.entry(id).or_insert(n + 1);
        }
    }
    out
}

fn descriptor(rule: &super::rules::RuleMeta) -> ReportingDescriptor {
    let mut plain = format!(
        "Why it matters: {}\n\nRemediation: {}\n\nLimits: {}",
        rule.rationale.trim(),
        rule.remediation.trim(),
        rule.limits.trim()
    );
    let mut markdown = format!(
        "## Why it matters\n\n{}\n\n## Remediation\n\n{}\n\n## Limits\n\n{}",
        rule.rationale.trim(),
        rule.remediation.trim(),
        rule.limits.trim()
    );
    if !rule.references.is_empty() {
        plain.push_str("\n\nReferences:");
        markdown.push_str("\n\n## References\n");
        for r in &rule.references {
            plain.push_str(&format!("\n- {r}"));
            markdown.push_str(&format!("\n- <{r}>"));
        }
    }
    let mut tags = vec!["security".to_owned(), "investigation".to_owned()];
    for t in &rule.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut extra = BTreeMap::new();
    extra.insert(
        "security-severity".to_owned(),
        json!(rule.severity.security_severity()),
    );
    extra.insert("severity".to_owned(), json!(rule.severity.as_str()));
    let builder = ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(rule.title.clone())
        .short_description(text(rule.title.clone()))
        .full_description(text(rule.description.trim()))
        .help(
            MultiformatMessageString::builder()
                .text(plain)
                .markdown(markdown)
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level(rule.severity).to_string()))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(tags)
                .additional_properties(extra)
                .build(),
        );
    match rule.references.first() {
        Some(uri) => builder.help_uri(uri.clone()).build(),
        None => builder.build(),
    }
}

/// The SARIF log of `evidence`, whose JSON text (as written to `evidence_uri`) is
/// `evidence_json`. Deterministic: the only time is the evidence's `generated_at`.
pub fn log(pack: &Pack, evidence: &Evidence, evidence_uri: &str, evidence_json: &str) -> Sarif {
    let lines = id_lines(evidence_json);
    let index_of = |id: &str| pack.rules.iter().position(|r| r.meta.id == id);
    let rules: Vec<ReportingDescriptor> = pack.rules.iter().map(|r| descriptor(&r.meta)).collect();

    let mut results = Vec::new();
    for f in &evidence.findings {
        let artifact = ArtifactLocation::builder()
            .uri(evidence_uri.to_owned())
            .index(0_i64)
            .build();
        let physical = match lines.get(&f.event_id) {
            Some(line) => PhysicalLocation::builder()
                .artifact_location(artifact)
                .region(Region::builder().start_line(*line as i64).build())
                .build(),
            None => PhysicalLocation::builder()
                .artifact_location(artifact)
                .build(),
        };
        let logical = LogicalLocation::builder()
            .name(f.event_id.clone())
            .fully_qualified_name(format!(
                "{}/{}/{}",
                evidence.tenant_id, evidence.user.user_principal_name, f.event_id
            ))
            .kind("event".to_owned())
            .build();
        let mut extra = BTreeMap::new();
        extra.insert("severity".to_owned(), json!(f.severity.as_str()));
        extra.insert("eventTime".to_owned(), json!(f.event_time));
        if !f.details.is_null() {
            extra.insert("details".to_owned(), f.details.clone());
        }
        let mut fingerprints = BTreeMap::new();
        fingerprints.insert(
            crate::report::sarif::FINGERPRINT_KEY.to_owned(),
            super::manifest::sha256_hex(
                format!("{}|{}|{}", evidence.tenant_id, f.rule_id, f.event_id).as_bytes(),
            ),
        );
        let builder = SarifResult::builder()
            .rule_id(f.rule_id.clone())
            .level(level(f.severity))
            .message(Message::from(f.message.as_str()))
            .locations(vec![Location::builder()
                .physical_location(physical)
                .logical_locations(vec![logical])
                .build()])
            .partial_fingerprints(fingerprints)
            .properties(PropertyBag::builder().additional_properties(extra).build());
        results.push(match index_of(&f.rule_id) {
            Some(i) => builder.rule_index(i as i64).build(),
            None => builder.build(),
        });
    }

    let mut notifications = Vec::new();
    for v in &evidence.rules {
        let (level, what) = match v.status {
            VerdictStatus::NotEvaluated => ("error", "was not evaluated"),
            VerdictStatus::NotApplicable => ("note", "is not applicable"),
            VerdictStatus::Passed | VerdictStatus::Failed => continue,
        };
        let message = format!(
            "Rule {} {what}: {}",
            v.rule_id,
            v.reason.as_deref().unwrap_or("no reason recorded")
        );
        let mut reference = ReportingDescriptorReference::builder()
            .id(v.rule_id.clone())
            .build();
        reference.index = index_of(&v.rule_id).map(|i| i as i64);
        notifications.push(
            Notification::builder()
                .level(json!(level))
                .message(Message::from(message.as_str()))
                .associated_rule(reference)
                .build(),
        );
    }
    for (name, s) in &evidence.sources {
        if s.status != SourceState::Ok {
            let message = format!(
                "Evidence source {name} is {}: {}",
                if s.status == SourceState::Unavailable {
                    "unavailable"
                } else {
                    "in error"
                },
                s.reason.as_deref().unwrap_or("no reason recorded")
            );
            notifications.push(
                Notification::builder()
                    .level(json!("warning"))
                    .message(Message::from(message.as_str()))
                    .build(),
            );
        }
    }

    let mut invocation = Invocation::builder()
        .execution_successful(!incomplete(evidence))
        .start_time_utc(crate::report::json::timestamp(&evidence.generated_at))
        .build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }
    let driver = ToolComponent::builder()
        .name("m365guard investigate")
        .version(evidence.tool_version.clone())
        .semantic_version(evidence.tool_version.clone())
        .information_uri(INFORMATION_URI)
        .rules(rules)
        .build();
    let mut artifact = Artifact::builder()
        .location(
            ArtifactLocation::builder()
                .uri(evidence_uri.to_owned())
                .build(),
        )
        .roles(vec![json!("analysisTarget")])
        .mime_type("application/json")
        .build();
    let mut hashes = BTreeMap::new();
    hashes.insert(
        "sha-256".to_owned(),
        super::manifest::sha256_hex(evidence_json.as_bytes()),
    );
    artifact.hashes = Some(hashes);
    let mut props = BTreeMap::new();
    props.insert("tenantId".to_owned(), json!(evidence.tenant_id));
    props.insert("user".to_owned(), json!(evidence.user.user_principal_name));
    props.insert(
        "window".to_owned(),
        json!({"since": evidence.window.since, "until": evidence.window.until}),
    );
    let run = Run::builder()
        .tool(Tool::from(driver))
        .artifacts(vec![artifact])
        .invocations(vec![invocation])
        .results(results)
        .column_kind(json!("unicodeCodePoints"))
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build();
    Sarif::builder()
        .schema(SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lines_find_the_first_id_line_of_each_event() {
        let text = "{\n  \"sign_ins\": [\n    {\n      \"id\": \"s1\",\n      \"x\": 1\n    }\n  ],\n  \"findings\": [{\"event_id\": \"s1\"}],\n  \"y\": {\n    \"id\": \"s1\"\n  }\n}\n";
        let lines = id_lines(text);
        assert_eq!(lines.get("s1"), Some(&4));
        assert_eq!(lines.len(), 1);
    }
}
