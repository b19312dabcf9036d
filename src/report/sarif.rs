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
    log(result, true)
}

/// The SARIF log; without `with_results`, its `results` are an empty array (`render` writes
/// them from the findings directly, see `render_log`).
fn log(result: &ScanResult, with_results: bool) -> Sarif {
    let info = &result.info;
    let uri = artifact_uri(&info.snapshot_path);

    let rules: Vec<ReportingDescriptor> = result
        .outcomes
        .iter()
        .map(|o| {
            let controls = result.controls.get(&o.rule.id).map(Vec::as_slice);
            descriptor(&o.rule, info, controls.unwrap_or_default())
        })
        .collect();

    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for (index, outcome) in result.outcomes.iter().enumerate() {
        if with_results {
            for finding in &outcome.findings {
                results.push(result_for(info, &uri, index, finding));
            }
        }
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
        .location(ArtifactLocation::builder().uri(uri.clone()).build())
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
        let mut bytes = render_log(result).map_err(|e| ReportError::Render {
            format: "sarif",
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// `sarif_log(result)` as pretty JSON, byte for byte, without building its results: the
/// log is built with an empty `results` array, and the results are serialized from the
/// findings as they are (borrowed, in `ResultOut`, which mirrors what `result_for` builds)
/// into that array's place. Building a serde-sarif `Result` per finding (its strings and
/// maps copied, then freed) was most of the report's cost (~0.2 s of 0.3 s at 100k users).
fn render_log(result: &ScanResult) -> serde_json::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(&log(result, false))?;
    if result.outcomes.iter().all(|o| o.findings.is_empty()) {
        return Ok(bytes);
    }
    // The run's `results`: the only key `results` of the log without findings (a quote
    // inside a string is escaped, so the pattern cannot match inside one), at the depth
    // of `Wrapper`'s.
    const EMPTY: &[u8] = b"\n      \"results\": []";
    let found: Vec<usize> = bytes
        .windows(EMPTY.len())
        .enumerate()
        .filter(|(_, w)| *w == EMPTY)
        .map(|(i, _)| i)
        .collect();
    let [at] = found[..] else {
        return serde_json::to_vec_pretty(&sarif_log(result));
    };
    let info = &result.info;
    let uri = artifact_uri(&info.snapshot_path);
    let results = ResultsOut { result, uri: &uri };
    let wrapped = serde_json::to_vec_pretty(&Wrapper {
        runs: [RunWrapper { results }],
    })?;
    // `{\n  "runs": [\n    {\n      "results": [ … ]\n    }\n  ]\n}`: the array as it
    // sits in the log.
    const HEAD: &[u8] = b"{\n  \"runs\": [\n    {\n      \"results\": ";
    const TAIL: &[u8] = b"\n    }\n  ]\n}";
    let array = wrapped
        .strip_prefix(HEAD)
        .and_then(|rest| rest.strip_suffix(TAIL))
        .ok_or_else(|| serde::ser::Error::custom("unexpected layout of the SARIF results"))?;
    let start = at + EMPTY.len() - 2;
    bytes.splice(start..start + 2, array.iter().copied());
    Ok(bytes)
}

/// `{"runs": [{"results": …}]}`: puts the results at the depth they have in the log, so
/// the pretty printer indents them as it does there.
#[derive(serde::Serialize)]
struct Wrapper<'a> {
    runs: [RunWrapper<'a>; 1],
}

#[derive(serde::Serialize)]
struct RunWrapper<'a> {
    results: ResultsOut<'a>,
}

/// Every finding's result, in the order `log` lists them.
struct ResultsOut<'a> {
    result: &'a ScanResult,
    uri: &'a str,
}

impl serde::Serialize for ResultsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let count = self.result.outcomes.iter().map(|o| o.findings.len()).sum();
        let mut seq = serializer.serialize_seq(Some(count))?;
        for (index, outcome) in self.result.outcomes.iter().enumerate() {
            for finding in &outcome.findings {
                seq.serialize_element(&result_out(&self.result.info, self.uri, index, finding))?;
            }
        }
        seq.end()
    }
}

/// What `result_for` builds, borrowed; fields and keys in serde-sarif's order (its
/// structs list their fields alphabetically, `BTreeMap` keys are sorted), absent ones
/// skipped as serde-sarif skips `None`. `render_log`'s test compares the two byte for byte.
#[derive(serde::Serialize)]
struct ResultOut<'a> {
    #[serde(rename = "baselineState", skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    level: ResultLevel,
    locations: [LocationOut<'a>; 1],
    message: TextOut<'a>,
    #[serde(rename = "partialFingerprints")]
    partial_fingerprints: FingerprintsOut<'a>,
    properties: PropertiesOut<'a>,
    #[serde(rename = "ruleId")]
    rule_id: &'a str,
    #[serde(rename = "ruleIndex")]
    rule_index: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[SuppressionOut; 1]>,
}

#[derive(serde::Serialize)]
struct LocationOut<'a> {
    #[serde(rename = "logicalLocations")]
    logical_locations: [LogicalOut<'a>; 1],
    #[serde(rename = "physicalLocation")]
    physical_location: PhysicalOut<'a>,
}

#[derive(serde::Serialize)]
struct LogicalOut<'a> {
    #[serde(rename = "fullyQualifiedName")]
    fully_qualified_name: QualifiedName<'a>,
    kind: &'a str,
    name: &'a str,
}

/// `<tenant id>/<kind>/<resource id>`, written without building the string.
struct QualifiedName<'a>(&'a str, &'a crate::findings::ResourceRef);

impl serde::Serialize for QualifiedName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}/{}/{}", self.0, self.1.kind, self.1.id))
    }
}

#[derive(serde::Serialize)]
struct PhysicalOut<'a> {
    #[serde(rename = "artifactLocation")]
    artifact_location: ArtifactOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<RegionOut>,
}

#[derive(serde::Serialize)]
struct ArtifactOut<'a> {
    index: i64,
    uri: &'a str,
}

#[derive(serde::Serialize)]
struct RegionOut {
    #[serde(rename = "startLine")]
    start_line: i64,
}

#[derive(serde::Serialize)]
struct TextOut<'a> {
    text: &'a str,
}

#[derive(serde::Serialize)]
struct FingerprintsOut<'a> {
    #[serde(rename = "m365guard/v1")]
    fingerprint: &'a str,
}

#[derive(serde::Serialize)]
struct PropertiesOut<'a> {
    /// `json!(activity)`: as a `Value`, whose object keys are sorted (rare: only with
    /// `--with-activity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    activity: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
    #[serde(rename = "exceptionKeys", skip_serializing_if = "Option::is_none")]
    exception_keys: Option<KeysOut<'a>>,
    severity: &'static str,
}

#[derive(serde::Serialize)]
struct KeysOut<'a> {
    resource: &'a [String],
    rule: &'a str,
}

#[derive(serde::Serialize)]
struct SuppressionOut {
    justification: String,
    kind: &'static str,
    status: &'static str,
}

fn result_out<'a>(
    info: &'a ScanInfo,
    uri: &'a str,
    rule_index: usize,
    finding: &'a Finding,
) -> ResultOut<'a> {
    ResultOut {
        baseline_state: finding.baseline_state.map(|state| match state {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
            BaselineState::Updated => "updated",
            BaselineState::Absent => "absent",
        }),
        level: level(finding.severity),
        locations: [LocationOut {
            logical_locations: [LogicalOut {
                fully_qualified_name: QualifiedName(&info.tenant_id, &finding.resource),
                kind: finding.resource.kind.as_str(),
                name: &finding.resource.name,
            }],
            physical_location: PhysicalOut {
                artifact_location: ArtifactOut { index: 0, uri },
                region: finding.line.map(|line| RegionOut {
                    start_line: line as i64,
                }),
            },
        }],
        message: TextOut {
            text: &finding.message,
        },
        partial_fingerprints: FingerprintsOut {
            fingerprint: &finding.fingerprint,
        },
        properties: PropertiesOut {
            activity: finding.activity.as_ref().map(|activity| json!(activity)),
            details: (!finding.details.is_null()).then_some(&finding.details),
            exception_keys: finding.exception_keys.as_ref().map(|keys| KeysOut {
                resource: &keys.resource,
                rule: &keys.rule,
            }),
            severity: finding.severity.as_str(),
        },
        rule_id: &finding.rule_id,
        rule_index: rule_index as i64,
        suppressions: finding.waiver.as_ref().map(|waiver| {
            [SuppressionOut {
                justification: waiver_text(waiver),
                kind: "external",
                status: "accepted",
            }]
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Waiver;
    use crate::policy::pack::{self, Builtin};
    use crate::scan::{self, Input};

    fn scanned(name: &str) -> ScanResult {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        scan::run(&scan::Settings::new(Input::File(path), &pack, None))
            .unwrap()
            .result
    }

    fn built(result: &ScanResult) -> Vec<u8> {
        serde_json::to_vec_pretty(&sarif_log(result)).unwrap()
    }

    /// The report writes the results from the findings directly; its bytes are those of
    /// the serde-sarif log `sarif_log` builds, for every optional part of a result (waiver,
    /// baseline state, activity, no line, no details, no exception keys) and for a scan
    /// without findings.
    #[test]
    fn rendered_results_are_the_built_logs_byte_for_byte() {
        for name in [
            "contoso-compromised.json",
            "contoso-clean.json",
            "contoso-partial.json",
        ] {
            let result = scanned(name);
            assert_eq!(render_log(&result).unwrap(), built(&result), "{name}");
        }
        let mut result = scanned("contoso-compromised.json");
        // The results are spliced in, not built (the fallback): the log without them has
        // the one empty `results` array `render_log` looks for.
        let skeleton = serde_json::to_vec_pretty(&log(&result, false)).unwrap();
        let empty = b"\n      \"results\": []";
        assert_eq!(
            skeleton.windows(empty.len()).filter(|w| w == empty).count(),
            1
        );
        let activity: Vec<crate::activity::Activity> = serde_json::from_value(json!([{
            "time": "2026-01-02T03:04:05Z",
            "operation": "New-InboxRule",
            "actor": "mallory@contoso.com",
            "ip": "203.0.113.9",
            "source": "unified_audit_log"
        }]))
        .unwrap();
        let states = [
            BaselineState::New,
            BaselineState::Unchanged,
            BaselineState::Updated,
            BaselineState::Absent,
        ];
        let findings = result
            .outcomes
            .iter_mut()
            .flat_map(|o| o.findings.iter_mut());
        let mut changed = 0;
        for (i, finding) in findings.enumerate() {
            changed += 1;
            match i % 6 {
                0 => {
                    finding.waiver = Some(Waiver {
                        reason: "accepted \"risk\"".into(),
                        expires: chrono::NaiveDate::from_ymd_opt(2999, 1, 1).unwrap(),
                        ticket: (i % 4 == 0).then(|| "SEC-1".into()),
                    })
                }
                1 => finding.baseline_state = Some(states[i % 4]),
                2 => finding.activity = Some(activity.clone()),
                3 => finding.line = None,
                4 => finding.details = Value::Null,
                _ => finding.exception_keys = None,
            }
        }
        assert!(changed > 12, "{changed}");
        assert_eq!(render_log(&result).unwrap(), built(&result));
        for outcome in &mut result.outcomes {
            outcome.findings.clear();
        }
        assert_eq!(render_log(&result).unwrap(), built(&result));
    }
}
