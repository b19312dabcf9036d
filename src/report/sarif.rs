//! SARIF 2.1.0 report for code-scanning services (GitHub, Azure DevOps).
//!
//! One run; one `reportingDescriptor` per rule in the scan; one result per finding. A
//! result's physical location is the resource's line in the snapshot file (committed next
//! to the workflow, so the alert opens on the right line) and its logical location is the
//! tenant object. Waived findings stay in the log as `suppressions`, so code scanning shows
//! them as dismissed rather than fixed. Rules that were not evaluated become error-level
//! tool execution notifications and mark the invocation unsuccessful: an incomplete scan
//! must never look like a clean one.
//!
//! Output is deterministic (no GUIDs, times only from `ScanInfo`), so two scans of the same
//! snapshot give byte-identical logs.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use serde_sarif::sarif::{
    Artifact, ArtifactLocation, Invocation, Location, LogicalLocation, Message,
    MultiformatMessageString, Notification, PhysicalLocation, PropertyBag, Region,
    ReportingConfiguration, ReportingDescriptor, ReportingDescriptorReference,
    Result as SarifResult, ResultLevel, Run, RunAutomationDetails, Sarif, Suppression, Tool,
    ToolComponent,
};

use super::commands::fix_apply;
use super::table::{fix_command, waiver_text};
use super::{RenderOptions, ReportError, Reporter};
use crate::baseline::ControlRef;
use crate::findings::{
    BaselineState, ExitStatus, Finding, RuleStatus, ScanInfo, ScanResult, Severity,
};
use crate::policy::metadata::RuleMeta;

/// The schema location GitHub's documentation and most producers use.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const INFORMATION_URI: &str = "https://github.com/m365guard/m365guard";
/// Key of our fingerprint in `partialFingerprints`; bump the suffix if its recipe changes.
pub const FINGERPRINT_KEY: &str = "m365guard/v1";

pub struct SarifReporter;

pub(crate) fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

fn level_value(severity: Severity) -> Value {
    // `ResultLevel` serialises to the bare camelCase name; the other level fields are
    // typed as plain JSON values in serde-sarif.
    json!(level(severity).to_string())
}

fn bad_uri_byte(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b))
}

fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if bad_uri_byte(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// The snapshot path as a SARIF artifact URI: relative with forward slashes (what code
/// scanning resolves against the repository root), or a `file://` URI when absolute.
pub(crate) fn artifact_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut rel = path.as_str();
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest;
    }
    let bytes = rel.as_bytes();
    let windows_drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if windows_drive {
        format!("file:///{}", percent_encode(rel))
    } else if rel.starts_with('/') {
        format!("file://{}", percent_encode(rel))
    } else {
        // A first segment with a colon would read as a URI scheme.
        let encoded = percent_encode(rel);
        match encoded.split('/').next() {
            Some(first) if first.contains(':') => format!("./{encoded}"),
            _ => encoded,
        }
    }
}

pub(crate) fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

fn rule_help(
    rule: &RuleMeta,
    info: &ScanInfo,
    controls: &[ControlRef],
) -> MultiformatMessageString {
    let mut plain = format!(
        "Why it matters: {}\n\nRemediation: {}",
        rule.rationale.trim(),
        rule.remediation.trim()
    );
    let mut markdown = format!(
        "## Why it matters\n\n{}\n\n## Remediation\n\n{}",
        rule.rationale.trim(),
        rule.remediation.trim()
    );
    if let Some(cmd) = fix_command(rule, info, None) {
        plain.push_str(&format!("\n\nAutomatic fix: {cmd}"));
        markdown.push_str(&format!(
            "\n\n## Automatic fix\n\n```sh\n{cmd}\n{}\n```",
            fix_apply("plan.json", info.config_path.as_deref())
        ));
    }
    if !controls.is_empty() {
        plain.push_str("\n\nFramework controls:");
        markdown.push_str("\n\n## Framework controls\n");
        for c in controls {
            let line = format!(
                "{} {} ({}): {}",
                c.framework,
                c.control,
                c.coverage.as_str(),
                c.title
            );
            plain.push_str(&format!("\n- {line}"));
            markdown.push_str(&format!("\n- {line}"));
        }
    }
    if !rule.references.is_empty() {
        plain.push_str("\n\nReferences:");
        markdown.push_str("\n\n## References\n");
        for reference in &rule.references {
            plain.push_str(&format!("\n- {reference}"));
            markdown.push_str(&format!("\n- <{reference}>"));
        }
    }
    MultiformatMessageString::builder()
        .text(plain)
        .markdown(markdown)
        .build()
}

fn descriptor(rule: &RuleMeta, info: &ScanInfo, controls: &[ControlRef]) -> ReportingDescriptor {
    let mut tags = vec![
        rule.area.as_str().to_string(),
        format!("roadmap-{}", rule.roadmap_phase.as_str()),
        "security".to_string(),
    ];
    for tag in &rule.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let mut extra = BTreeMap::new();
    extra.insert(
        "security-severity".to_string(),
        json!(rule.severity.security_severity()),
    );
    extra.insert("severity".to_string(), json!(rule.severity.as_str()));
    // Framework ids as tags (GitHub code scanning lists and filters by them) and in full,
    // with coverage, under `m365guard/controls`.
    for c in controls {
        let tag = format!("{} {}", c.framework, c.control);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if !controls.is_empty() {
        extra.insert(
            "m365guard/controls".to_string(),
            json!(controls
                .iter()
                .map(|c| json!({
                    "framework": c.framework,
                    "control": c.control,
                    "title": c.title,
                    "coverage": c.coverage.as_str(),
                }))
                .collect::<Vec<_>>()),
        );
    }
    let properties = PropertyBag::builder()
        .tags(tags)
        .additional_properties(extra)
        .build();

    let configuration = ReportingConfiguration::builder()
        .level(level_value(rule.severity))
        .build();
    let builder = ReportingDescriptor::builder()
        .id(rule.id.clone())
        .name(rule.title.clone())
        .short_description(text(rule.title.clone()))
        .full_description(text(rule.description.trim()))
        .help(rule_help(rule, info, controls))
        .default_configuration(configuration)
        .properties(properties);
    match rule.references.first() {
        Some(uri) => builder.help_uri(uri.clone()).build(),
        None => builder.build(),
    }
}

fn baseline_state(state: BaselineState) -> Value {
    json!(match state {
        BaselineState::New => "new",
        BaselineState::Unchanged => "unchanged",
        BaselineState::Updated => "updated",
        BaselineState::Absent => "absent",
    })
}

/// Run property listing the findings of `--since`'s earlier run that are gone (fixed).
pub const ABSENT_KEY: &str = "m365guard/absent";

/// Findings from which `render_log` writes the results in two halves side by side (fewer:
/// not worth a thread).
const PARALLEL_FROM: usize = 10_000;

/// Every finding with the index of its rule, in report order.
fn indexed_findings(result: &ScanResult) -> Vec<(usize, &Finding)> {
    result
        .outcomes
        .iter()
        .enumerate()
        .flat_map(|(index, outcome)| outcome.findings.iter().map(move |f| (index, f)))
        .collect()
}

/// The run's empty `results` array in the pretty log without results (a run's keys are
/// indented by six spaces): `render_log` writes the results in its place.
const RESULTS_PLACEHOLDER: &[u8] = b"\n      \"results\": []";

/// Indentation of a result in the pretty log (`runs[0].results[i]`: four levels).
const RESULT_INDENT: &[u8] = b"\n        ";

/// The pretty-printed log, byte for byte `serde_json::to_vec_pretty(&sarif_log(result))`,
/// without holding every result at once: the log is written without results, and each
/// finding's result is built, written into the placeholder's place and dropped, in two
/// halves side by side from `parallel_from` findings. SARIF is the longest report to
/// render (issue #9: building every result first, then writing them on one thread, was
/// ~0.2 s at 100k users and 2.2 s at 1M, the last step of a scan).
fn render_log(result: &ScanResult, parallel_from: usize) -> serde_json::Result<Vec<u8>> {
    let info = &result.info;
    let uri = artifact_uri(&info.snapshot_path);
    let frame = serde_json::to_vec_pretty(&log_with_results(result, &uri, Vec::new()))?;
    let findings = indexed_findings(result);
    if findings.is_empty() {
        return Ok(frame);
    }
    // The placeholder is the first `results` key at a run's indentation; deeper objects
    // (rules, properties) are indented further, and keys inside strings are escaped.
    let Some(at) = memchr::memmem::find(&frame, RESULTS_PLACEHOLDER) else {
        return serde_json::to_vec_pretty(&sarif_log(result));
    };
    let write = |part: &[(usize, &Finding)], out: &mut Vec<u8>| -> serde_json::Result<()> {
        let mut one = Vec::new();
        for &(index, finding) in part {
            one.clear();
            serde_json::to_writer_pretty(&mut one, &result_for(info, &uri, index, finding))?;
            out.extend_from_slice(RESULT_INDENT);
            // Pretty JSON has a newline only between tokens (a string escapes its own), so
            // indenting each line puts the result at its depth in the log.
            let mut lines = one.split(|b| *b == b'\n');
            out.extend_from_slice(lines.next().unwrap_or_default());
            for line in lines {
                out.extend_from_slice(RESULT_INDENT);
                out.extend_from_slice(line);
            }
            out.push(b',');
        }
        Ok(())
    };
    // A result is ~1.6 KB at 100k users; capacity never written is never touched.
    let mut out = Vec::with_capacity(frame.len() + findings.len() * 2048);
    out.extend_from_slice(&frame[..at]);
    out.extend_from_slice(b"\n      \"results\": [");
    if findings.len() < parallel_from.max(2) {
        write(&findings, &mut out)?;
    } else {
        let (first, second) = findings.split_at(findings.len() / 2);
        let rest = std::thread::scope(|scope| {
            let helper = scope.spawn(|| {
                let mut rest = Vec::with_capacity(second.len() * 2048);
                write(second, &mut rest).map(|()| rest)
            });
            let first = write(first, &mut out);
            // Not expected (writing a result does not panic): written here instead.
            let rest = helper.join().unwrap_or_else(|_| {
                let mut rest = Vec::new();
                write(second, &mut rest).map(|()| rest)
            });
            first.and(rest)
        })?;
        out.extend_from_slice(&rest);
    }
    // The last result's comma.
    out.pop();
    out.extend_from_slice(b"\n      ]");
    out.extend_from_slice(&frame[at + RESULTS_PLACEHOLDER.len()..]);
    Ok(out)
}

fn result_for(info: &ScanInfo, uri: &str, rule_index: usize, finding: &Finding) -> SarifResult {
    let artifact = ArtifactLocation::builder()
        .uri(uri.to_string())
        .index(0_i64)
        .build();
    let physical = match finding.line {
        Some(line) => PhysicalLocation::builder()
            .artifact_location(artifact)
            .region(Region::builder().start_line(line as i64).build())
            .build(),
        None => PhysicalLocation::builder()
            .artifact_location(artifact)
            .build(),
    };
    let resource = &finding.resource;
    let logical = LogicalLocation::builder()
        .name(resource.name.clone())
        .fully_qualified_name(format!(
            "{}/{}/{}",
            info.tenant_id, resource.kind, resource.id
        ))
        .kind(resource.kind.as_str().to_owned())
        .build();
    let location = Location::builder()
        .physical_location(physical)
        .logical_locations(vec![logical])
        .build();

    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_KEY.to_string(), finding.fingerprint.clone());
    let mut extra = BTreeMap::new();
    extra.insert("severity".to_string(), json!(finding.severity.as_str()));
    if !finding.details.is_null() {
        extra.insert("details".to_string(), finding.details.clone());
    }
    // What an `[[exception]]` may name to waive this finding (`rule` and one `resource`).
    if let Some(keys) = &finding.exception_keys {
        extra.insert(
            "exceptionKeys".to_string(),
            json!({"rule": keys.rule, "resource": keys.resource}),
        );
    }
    // `scan --with-activity`: who changed the object, when and from where.
    if let Some(activity) = &finding.activity {
        extra.insert("activity".to_string(), json!(activity));
    }
    let properties = PropertyBag::builder().additional_properties(extra).build();

    let builder = SarifResult::builder()
        .rule_id(finding.rule_id.clone())
        .rule_index(rule_index as i64)
        .level(level(finding.severity))
        .message(Message::from(finding.message.as_str()))
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .properties(properties);
    // The builder's type changes per setter, so the optional parts are set afterwards.
    let mut out = builder.build();
    if let Some(waiver) = &finding.waiver {
        out.suppressions = Some(vec![Suppression::builder()
            .kind(json!("external"))
            .status(json!("accepted"))
            .justification(waiver_text(waiver))
            .build()]);
    }
    out.baseline_state = finding.baseline_state.map(baseline_state);
    out
}

fn notification(rule: &RuleMeta, index: usize, level: &str, message: String) -> Notification {
    Notification::builder()
        .level(json!(level))
        .message(Message::from(message.as_str()))
        .associated_rule(
            ReportingDescriptorReference::builder()
                .id(rule.id.clone())
                .index(index as i64)
                .build(),
        )
        .build()
}

/// The `sha-256` hash of the snapshot, from `ScanInfo::snapshot_digest` (`sha256:` prefix optional).
fn snapshot_sha256(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_lowercase())
}

/// Build the SARIF log (exposed for tests and for tools that post-process it).
pub fn sarif_log(result: &ScanResult) -> Sarif {
    let uri = artifact_uri(&result.info.snapshot_path);
    let results = indexed_findings(result)
        .into_iter()
        .map(|(index, finding)| result_for(&result.info, &uri, index, finding))
        .collect();
    log_with_results(result, &uri, results)
}

/// The SARIF log of `result` with `results` as its run's results.
/// `uri`: the snapshot's (`artifact_uri`), which the results name too.
fn log_with_results(result: &ScanResult, uri: &str, results: Vec<SarifResult>) -> Sarif {
    let info = &result.info;

    let rules: Vec<ReportingDescriptor> = result
        .outcomes
        .iter()
        .map(|o| {
            let controls = result.controls.get(&o.rule.id).map(Vec::as_slice);
            descriptor(&o.rule, info, controls.unwrap_or_default())
        })
        .collect();

    let mut notifications = Vec::new();
    for (index, outcome) in result.outcomes.iter().enumerate() {
        match &outcome.status {
            RuleStatus::NotEvaluated { reason } => notifications.push(notification(
                &outcome.rule,
                index,
                "error",
                format!("Rule {} was not evaluated: {reason}", outcome.rule.id),
            )),
            RuleStatus::NotApplicable { reason } => notifications.push(notification(
                &outcome.rule,
                index,
                "note",
                format!("Rule {} is not applicable: {reason}", outcome.rule.id),
            )),
            RuleStatus::Passed | RuleStatus::Failed => {}
        }
    }
    // `scan --since`: findings of the earlier run that are gone are NOT results. GitHub code
    // scanning opens (or keeps open) an alert for every result it receives, whatever its
    // `baselineState`, and closes an alert when its fingerprint is no longer uploaded; so a
    // fixed finding is listed in the run's properties (`m365guard/absent`) instead.
    // Why the whole scan is incomplete (a failed source of a live collection, no rule
    // evaluated): not tied to one rule.
    for reason in &result.incomplete {
        notifications.push(
            Notification::builder()
                .level(json!("error"))
                .message(Message::from(format!("Scan incomplete: {reason}").as_str()))
                .build(),
        );
    }
    let exit = result.exit_status();

    let mut invocation = Invocation::builder()
        .execution_successful(exit != ExitStatus::Incomplete)
        .start_time_utc(super::json::timestamp(&info.scanned_at))
        .exit_code(exit as i64)
        .build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }

    let driver = ToolComponent::builder()
        .name("m365guard")
        .version(info.tool_version.clone())
        .semantic_version(info.tool_version.clone())
        .information_uri(INFORMATION_URI)
        .rules(rules)
        .build();

    let mut artifact = Artifact::builder()
        .location(ArtifactLocation::builder().uri(uri).build())
        .roles(vec![json!("analysisTarget")])
        .mime_type("application/json")
        .build();
    if let Some(hex) = snapshot_sha256(&info.snapshot_digest) {
        let mut hashes = BTreeMap::new();
        hashes.insert("sha-256".to_string(), hex);
        artifact.hashes = Some(hashes);
    }

    let mut run_props = BTreeMap::new();
    run_props.insert("tenantId".to_string(), json!(info.tenant_id));
    if let Some(name) = &info.tenant_name {
        run_props.insert("tenantName".to_string(), json!(name));
    }
    run_props.insert("snapshotDigest".to_string(), json!(info.snapshot_digest));
    run_props.insert(
        "collectedAt".to_string(),
        json!(super::json::timestamp(&info.collected_at)),
    );
    if let Some(baseline) = &info.baseline {
        run_props.insert("baseline".to_string(), json!(baseline));
    }
    run_props.insert("failOn".to_string(), json!(info.fail_on.as_str()));
    if !result.absent.is_empty() {
        let absent: Vec<_> = result
            .absent
            .iter()
            .map(|f| {
                json!({
                    "ruleId": f.rule_id,
                    "fingerprint": f.fingerprint,
                    "kind": f.resource.kind.as_str(),
                    "resourceId": f.resource.id,
                    "resourceName": f.resource.name,
                    "message": f.message,
                })
            })
            .collect();
        run_props.insert(ABSENT_KEY.to_string(), json!(absent));
    }
    // `scan --with-activity`: the window and what each audit source delivered (a source
    // that could not be read is stated, never shown as "no activity").
    if let Some(activity) = &result.activity {
        run_props.insert("m365guard/activity".to_string(), json!(activity));
    }

    let run = Run::builder()
        .tool(Tool::from(driver))
        .automation_details(
            RunAutomationDetails::builder()
                .id(format!("m365guard/{}/", info.tenant_id))
                .build(),
        )
        .artifacts(vec![artifact])
        .invocations(vec![invocation])
        .results(results)
        .column_kind(json!("unicodeCodePoints"))
        .properties(
            PropertyBag::builder()
                .additional_properties(run_props)
                .build(),
        )
        .build();

    Sarif::builder()
        .schema(SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

impl Reporter for SarifReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let mut bytes = render_log(result, PARALLEL_FROM).map_err(|e| ReportError::Render {
            format: "sarif",
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_result(name: &str) -> ScanResult {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let pack = crate::policy::pack::load(&[], crate::policy::pack::Builtin::All).unwrap();
        crate::scan::scan_file(&path, &pack, &crate::scan::ScanSettings::default())
            .unwrap()
            .result
    }

    /// The rendering writes the results one by one into the frame of the log: it must give
    /// exactly what serializing the whole log gives, in one thread or two, with every
    /// optional part of a result, and without results.
    #[test]
    fn the_log_written_result_by_result_is_the_whole_log() {
        let mut result = example_result("contoso-compromised.json");
        let findings: usize = result.outcomes.iter().map(|o| o.findings.len()).sum();
        assert!(findings > 10, "the example must have findings");
        // Every optional part of a result: no line, no details, a waiver, a baseline
        // state, activity, and a message with a newline and quotes in it.
        let finding = result
            .outcomes
            .iter_mut()
            .flat_map(|o| o.findings.iter_mut())
            .next()
            .unwrap();
        finding.line = None;
        finding.details = serde_json::Value::Null;
        finding.message = "two\nlines with \"quotes\"\n      \"results\": []".to_owned();
        finding.baseline_state = Some(BaselineState::New);
        finding.activity = Some(Vec::new());
        // The frame holds the placeholder once: the results are written into it, not
        // rendered by the whole-log fallback (which would pass the comparisons below too).
        let uri = artifact_uri(&result.info.snapshot_path);
        let frame =
            serde_json::to_vec_pretty(&log_with_results(&result, &uri, Vec::new())).unwrap();
        assert_eq!(
            memchr::memmem::find_iter(&frame, RESULTS_PLACEHOLDER).count(),
            1
        );
        let whole = |result: &ScanResult| serde_json::to_vec_pretty(&sarif_log(result)).unwrap();
        let expected = whole(&result);
        assert_eq!(render_log(&result, usize::MAX).unwrap(), expected);
        assert_eq!(render_log(&result, 1).unwrap(), expected);
        let mut waived = example_result("contoso-compromised.json");
        for outcome in &mut waived.outcomes {
            for finding in &mut outcome.findings {
                finding.waiver = Some(crate::findings::Waiver {
                    reason: "Break-glass account".to_owned(),
                    expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
                    ticket: Some("SEC-1234".to_owned()),
                });
            }
        }
        assert_eq!(render_log(&waived, 1).unwrap(), whole(&waived));
        let mut clean = example_result("contoso-compromised.json");
        for outcome in &mut clean.outcomes {
            outcome.findings.clear();
        }
        assert_eq!(render_log(&clean, 1).unwrap(), whole(&clean));
    }
}
