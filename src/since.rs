//! `scan --since OLD`: compare this scan's findings with an earlier run, for SARIF's
//! `baselineState` (new / unchanged / updated / absent).
//!
//! The earlier run is either a SARIF file m365guard wrote (its results carry the stable
//! `partialFingerprints`) or a snapshot, which the scan pipeline judges with the same rules,
//! config and waivers (`scan::pipeline`); this module only reads SARIF and compares.
//! Findings are matched by fingerprint (tenant + rule + resource); a match whose message
//! differs (e.g. forwarding to another address) is `updated`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::findings::{BaselineState, Finding, ResourceKind, ResourceRef, ScanResult, Severity};

/// The key m365guard's SARIF uses in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "m365guard/v1";

#[derive(Debug, thiserror::Error)]
pub enum SinceError {
    #[error("{path}: not an m365guard SARIF log or snapshot: {message}")]
    Format { path: PathBuf, message: String },
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("{path} is for tenant {previous}, this scan is for tenant {current}: compare runs of the same tenant")]
    OtherTenant {
        path: PathBuf,
        previous: String,
        current: String,
    },
}

/// The findings of an earlier run, keyed by fingerprint.
pub struct Previous {
    pub tenant_id: Option<String>,
    pub findings: HashMap<String, Finding>,
}

/// An earlier run, read once.
pub enum Earlier {
    /// An m365guard SARIF log, already turned into its findings.
    Sarif(Previous),
    /// Snapshot text: the scan pipeline judges it exactly like the current snapshot (same
    /// rules, config and waivers) and turns the result into [`Previous::from_result`].
    Snapshot(String),
}

/// Read `--since`'s file with the snapshot reader's checks (a regular file, bounded size),
/// once: a snapshot's text is handed on, not read again.
pub fn read(path: &Path) -> Result<Earlier, SinceError> {
    let text = crate::snapshot::io::read_text(path)?;
    // A cheap look at the top-level keys first: a snapshot can be gigabytes, and building a
    // `Value` of it only to find it is not SARIF would cost as much as the scan. Text that
    // is not even JSON goes to the snapshot parser, whose error names line and column.
    #[derive(serde::Deserialize)]
    struct TopLevel {
        runs: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_str::<TopLevel>(&text) {
        Ok(TopLevel { runs: Some(_) }) => {}
        _ => return Ok(Earlier::Snapshot(text)),
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| SinceError::Format {
            path: path.to_owned(),
            message: err.to_string(),
        })?;
    from_sarif(path, &value).map(Earlier::Sarif)
}

impl Previous {
    /// The findings of an earlier scan's result.
    pub fn from_result(result: ScanResult) -> Previous {
        Previous {
            tenant_id: Some(result.info.tenant_id),
            findings: result
                .outcomes
                .into_iter()
                .flat_map(|o| o.findings)
                .map(|f| (f.fingerprint.clone(), f))
                .collect(),
        }
    }
}

fn from_sarif(path: &Path, log: &serde_json::Value) -> Result<Previous, SinceError> {
    let bad = |message: &str| SinceError::Format {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let run = log["runs"]
        .get(0)
        .ok_or_else(|| bad("the log has no runs"))?;
    if run["tool"]["driver"]["name"] != "m365guard" {
        return Err(bad("the log was not written by m365guard"));
    }
    let tenant_id = run["properties"]["tenantId"].as_str().map(str::to_owned);
    let mut findings = HashMap::new();
    for result in run["results"].as_array().into_iter().flatten() {
        // An alert that was already absent last time is not a finding of that run.
        if result["baselineState"] == "absent" {
            continue;
        }
        let Some(fingerprint) = result["partialFingerprints"][FINGERPRINT_KEY].as_str() else {
            return Err(bad("a result has no m365guard/v1 partialFingerprint"));
        };
        let location = &result["locations"][0]["logicalLocations"][0];
        let fqn = location["fullyQualifiedName"].as_str().unwrap_or_default();
        // fullyQualifiedName is "<tenant>/<kind>/<resource id>"; the id may contain '/'.
        let id = fqn.splitn(3, '/').nth(2).unwrap_or_default();
        let severity = result["properties"]["severity"]
            .as_str()
            .and_then(Severity::parse)
            .unwrap_or(Severity::Medium);
        let kind_name = location["kind"].as_str().unwrap_or_default();
        let Some(kind) = ResourceKind::parse(kind_name) else {
            return Err(bad(&format!(
                "a result names an unknown resource kind {kind_name:?}"
            )));
        };
        let finding = Finding {
            rule_id: result["ruleId"].as_str().unwrap_or_default().to_owned(),
            severity,
            resource: ResourceRef {
                kind,
                id: id.to_owned(),
                name: location["name"].as_str().unwrap_or_default().to_owned(),
            },
            message: result["message"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            details: serde_json::Value::Null,
            fingerprint: fingerprint.to_owned(),
            line: None,
            waiver: None,
            baseline_state: None,
            exception_keys: None,
            activity: None,
        };
        findings.insert(fingerprint.to_owned(), finding);
    }
    Ok(Previous {
        tenant_id,
        findings,
    })
}

/// Set `baseline_state` on every finding and list the earlier findings now gone.
pub fn compare(result: &mut ScanResult, previous: Previous, path: &Path) -> Result<(), SinceError> {
    if let Some(previous_tenant) = &previous.tenant_id {
        if previous_tenant != &result.info.tenant_id {
            return Err(SinceError::OtherTenant {
                path: path.to_owned(),
                previous: previous_tenant.clone(),
                current: result.info.tenant_id.clone(),
            });
        }
    }
    let mut seen = HashSet::new();
    for finding in result
        .outcomes
        .iter_mut()
        .flat_map(|o| o.findings.iter_mut())
    {
        finding.baseline_state = Some(match previous.findings.get(&finding.fingerprint) {
            None => BaselineState::New,
            Some(old) if old.message == finding.message => BaselineState::Unchanged,
            Some(_) => BaselineState::Updated,
        });
        seen.insert(finding.fingerprint.clone());
    }
    // Only rules evaluated in this run can say a finding is gone; a rule that was not
    // evaluated (or not selected) says nothing about it.
    let evaluated: HashSet<&str> = result
        .outcomes
        .iter()
        .filter(|o| {
            matches!(
                o.status,
                crate::findings::RuleStatus::Passed | crate::findings::RuleStatus::Failed
            )
        })
        .map(|o| o.rule.id.as_str())
        .collect();
    let mut absent: Vec<Finding> = previous
        .findings
        .into_values()
        .filter(|f| !seen.contains(&f.fingerprint) && evaluated.contains(f.rule_id.as_str()))
        .map(|mut f| {
            f.baseline_state = Some(BaselineState::Absent);
            f.line = None;
            f
        })
        .collect();
    absent.sort_by(|a, b| (&a.rule_id, &a.fingerprint).cmp(&(&b.rule_id, &b.fingerprint)));
    result.absent = absent;
    Ok(())
}
