//! The investigation rules: `policies/investigation/<rule>/` (rule.rego, rule.toml,
//! rule_test.rego) plus shared `.rego` libraries there, evaluated with the same regorus
//! engine as the scan pack but on the evidence document, so they are a pack of their own:
//! the scan pack skips `policies/investigation` (it takes a snapshot as input), and `rules
//! list` / the README rule table list scan rules only.
//!
//! A rule's package is `m365guard.investigation.<id>`; `deny` is a set of
//! `{event_id, message, details?, severity?}`. A rule whose source is `unavailable` is not
//! applicable, one whose source is in `error` not evaluated — never an empty pass.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use regorus::{Engine, Value};
use serde::Deserialize;

use super::{Evidence, EvidenceFinding, RuleVerdict, SourceState, VerdictStatus};
use crate::diagnostic::Diagnostic;
use crate::policy::pack::PolicyFile;
use crate::policy::PolicyError;
use crate::severity::Severity;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/policies/investigation");

/// Display prefix of the built-in investigation files.
pub const PREFIX: &str = "<builtin>/policies/investigation";

/// The evidence sources a rule can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    SignIns,
    DirectoryAudits,
    AuditEvents,
    MessagesSent,
}

impl EvidenceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceSource::SignIns => "sign_ins",
            EvidenceSource::DirectoryAudits => "directory_audits",
            EvidenceSource::AuditEvents => "audit_events",
            EvidenceSource::MessagesSent => "messages_sent",
        }
    }
}

/// `rule.toml` of an investigation rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub sources: Vec<EvidenceSource>,
    pub description: String,
    pub rationale: String,
    pub remediation: String,
    /// What the rule cannot see (required for every investigation rule).
    pub limits: String,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: RuleMeta,
    pub rego: PolicyFile,
    pub test: Option<PolicyFile>,
}

#[derive(Debug, Clone, Default)]
pub struct Pack {
    pub rules: Vec<Rule>,
    pub libraries: Vec<PolicyFile>,
}

/// Load the built-in investigation pack: folders with a rule.toml are rules, other `.rego`
/// files libraries.
pub fn load() -> Result<Pack, PolicyError> {
    let mut files = Vec::new();
    collect(&BUILTIN, &mut files);
    let mut pack = Pack::default();
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.path.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let in_dir: Vec<&PolicyFile> = files
            .iter()
            .filter(|f| f.path.parent() == Some(dir.as_path()))
            .collect();
        let named = |name: &str| {
            in_dir
                .iter()
                .find(|f| f.path.file_name().and_then(|n| n.to_str()) == Some(name))
                .map(|f| (*f).clone())
        };
        let Some(toml_file) = named("rule.toml") else {
            pack.libraries
                .extend(in_dir.iter().map(|f| (*f).clone()).filter(is_rego));
            continue;
        };
        let meta: RuleMeta = toml::from_str(&toml_file.text).map_err(|err| {
            Diagnostic::from_span(
                &toml_file.path,
                &toml_file.text,
                err.span(),
                format!("invalid rule.toml: {}", err.message()),
            )
        })?;
        let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let rego = named("rule.rego").ok_or_else(|| {
            Diagnostic::whole_file(&dir, format!("rule `{}` has no rule.rego", meta.id))
        })?;
        let expected = format!("m365guard.investigation.{}", meta.id);
        if folder != meta.id
            || crate::policy::pack::package_of(&rego.text).map(|(_, p)| p) != Some(&expected)
        {
            return Err(Diagnostic::whole_file(
                &rego.path,
                format!("folder, rule.toml id and package must all be `{expected}`"),
            )
            .into());
        }
        pack.rules.push(Rule {
            meta,
            rego,
            test: named("rule_test.rego"),
        });
    }
    pack.rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    Ok(pack)
}

fn is_rego(f: &PolicyFile) -> bool {
    f.path.extension().is_some_and(|e| e == "rego")
}

fn collect(dir: &Dir<'static>, out: &mut Vec<PolicyFile>) {
    for file in dir.files() {
        let wanted = matches!(
            file.path().extension().and_then(|e| e.to_str()),
            Some("rego") | Some("toml")
        );
        if let (true, Some(text)) = (wanted, file.contents_utf8()) {
            out.push(PolicyFile {
                path: Path::new(PREFIX).join(file.path()),
                text: text.to_owned(),
            });
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

/// Great-circle distance in km between two `{latitude, longitude}` objects (haversine on a
/// 6371 km sphere); regorus has no trigonometry, so the rules call this native builtin.
fn distance_km(args: Vec<Value>) -> anyhow::Result<Value> {
    let [a, b] = <[Value; 2]>::try_from(args)
        .map_err(|_| anyhow::anyhow!("m365guard.distance_km expects 2 arguments"))?;
    let coord = |v: &Value, k: &str| -> anyhow::Result<f64> {
        v[&Value::from(k)]
            .as_f64()
            .map_err(|_| anyhow::anyhow!("m365guard.distance_km: `{k}` is not a number"))
    };
    let (lat1, lon1) = (coord(&a, "latitude")?, coord(&a, "longitude")?);
    let (lat2, lon2) = (coord(&b, "latitude")?, coord(&b, "longitude")?);
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    Ok(Value::from(2.0 * 6371.0 * h.sqrt().min(1.0).asin()))
}

fn rego_error(err: impl std::fmt::Display) -> PolicyError {
    PolicyError::Rego {
        message: err.to_string(),
    }
}

/// An engine with the pack's libraries, rules (and tests) and the native builtin.
pub fn engine(pack: &Pack, with_tests: bool) -> Result<Engine, PolicyError> {
    let mut engine = Engine::new();
    engine
        .add_extension("m365guard.distance_km".into(), 2, Box::new(distance_km))
        .map_err(rego_error)?;
    let tests = pack.rules.iter().filter_map(|r| r.test.as_ref());
    let rules = pack.rules.iter().map(|r| &r.rego);
    let all: Vec<&PolicyFile> = pack
        .libraries
        .iter()
        .chain(rules)
        .chain(tests.filter(|_| with_tests))
        .collect();
    for file in all {
        engine
            .add_policy(file.path.display().to_string(), file.text.clone())
            .map_err(rego_error)?;
    }
    Ok(engine)
}

/// Why a rule cannot be judged on this evidence, if it cannot.
fn gate(rule: &Rule, evidence: &Evidence) -> Option<(VerdictStatus, String)> {
    let mut unavailable = Vec::new();
    for source in &rule.meta.sources {
        let name = source.as_str();
        match evidence.sources.get(name) {
            None => {
                return Some((
                    VerdictStatus::NotEvaluated,
                    format!("source `{name}` was not collected"),
                ))
            }
            Some(s) if s.status == SourceState::Error => {
                return Some((
                    VerdictStatus::NotEvaluated,
                    format!(
                        "source `{name}` failed to collect: {}",
                        s.reason.as_deref().unwrap_or("no reason recorded")
                    ),
                ))
            }
            Some(s) if s.status == SourceState::Unavailable => unavailable.push(format!(
                "source `{name}` is unavailable: {}",
                s.reason.as_deref().unwrap_or("no reason recorded")
            )),
            Some(_) => {}
        }
    }
    (!unavailable.is_empty()).then(|| (VerdictStatus::NotApplicable, unavailable.join("; ")))
}

/// Judge the evidence: fills `evidence.rules` and `evidence.findings` (sorted by event
/// time, then rule).
pub fn evaluate(pack: &Pack, evidence: &mut Evidence) -> Result<(), PolicyError> {
    let mut engine = engine(pack, false)?;
    let mut input = serde_json::to_value(&*evidence).map_err(rego_error)?;
    if let Some(o) = input.as_object_mut() {
        o.remove("rules");
        o.remove("findings");
    }
    engine.set_input(Value::from(input));
    let mut verdicts = Vec::new();
    let mut findings = Vec::new();
    for rule in &pack.rules {
        let id = &rule.meta.id;
        let (status, reason, found) = match gate(rule, evidence) {
            Some((status, reason)) => (status, Some(reason), Vec::new()),
            None => {
                let value = engine
                    .eval_rule(format!("data.m365guard.investigation.{id}.deny"))
                    .map_err(|e| PolicyError::Eval {
                        rule: id.clone(),
                        message: e.to_string(),
                    })?;
                let found = to_findings(rule, evidence, &value)?;
                let status = if found.is_empty() {
                    VerdictStatus::Passed
                } else {
                    VerdictStatus::Failed
                };
                (status, None, found)
            }
        };
        verdicts.push(RuleVerdict {
            rule_id: id.clone(),
            title: rule.meta.title.clone(),
            severity: rule.meta.severity,
            status,
            reason,
            findings: found.len(),
        });
        findings.extend(found);
    }
    findings.sort_by(|a, b| {
        (&a.event_time, &a.rule_id, &a.event_id).cmp(&(&b.event_time, &b.rule_id, &b.event_id))
    });
    evidence.rules = verdicts;
    evidence.findings = findings;
    Ok(())
}

fn to_findings(
    rule: &Rule,
    evidence: &Evidence,
    value: &Value,
) -> Result<Vec<EvidenceFinding>, PolicyError> {
    let id = &rule.meta.id;
    let bad = |message: String| PolicyError::BadFinding {
        rule: id.clone(),
        message,
    };
    let Value::Set(set) = value else {
        return Err(bad(format!("`deny` must be a set, got {value}")));
    };
    let mut out = Vec::new();
    for item in set.iter() {
        let text = |k: &str| {
            item[&Value::from(k)]
                .as_string()
                .ok()
                .map(|s| s.to_string())
        };
        let event_id = text("event_id").ok_or_else(|| bad(format!("no `event_id` in {item}")))?;
        let message = text("message").ok_or_else(|| bad(format!("no `message` in {item}")))?;
        let severity = match text("severity") {
            None => rule.meta.severity,
            Some(s) => Severity::parse(&s).ok_or_else(|| bad(format!("unknown severity {s:?}")))?,
        };
        let event_time = evidence
            .sign_ins
            .iter()
            .find(|s| s.id == event_id)
            .map(|s| s.time.clone())
            .or_else(|| {
                evidence
                    .directory_audits
                    .iter()
                    .find(|a| a.id == event_id)
                    .map(|a| a.time.clone())
            })
            .or_else(|| {
                evidence
                    .audit_events
                    .iter()
                    .find(|a| a.id == event_id)
                    .map(|a| a.time.clone())
            })
            .or_else(|| {
                evidence
                    .messages_sent
                    .rows
                    .iter()
                    .find(|m| m.id == event_id)
                    .map(|m| m.time.clone())
            })
            .ok_or_else(|| bad(format!("`event_id` {event_id:?} names no event")))?;
        let details = match &item[&Value::from("details")] {
            Value::Undefined | Value::Null => serde_json::Value::Null,
            v => serde_json::to_value(v).map_err(|e| bad(format!("`details`: {e}")))?,
        };
        out.push(EvidenceFinding {
            rule_id: id.clone(),
            severity,
            event_id,
            event_time,
            message,
            details,
        });
    }
    Ok(out)
}

/// Run every `test_*` of the pack's rule_test.rego files: `(rule, test, passed)`.
pub fn run_tests(pack: &Pack) -> Result<Vec<(String, String, bool)>, PolicyError> {
    let mut engine = engine(pack, true)?;
    let mut out = Vec::new();
    for rule in &pack.rules {
        let Some(test) = &rule.test else {
            out.push((rule.meta.id.clone(), "(rule_test.rego)".into(), false));
            continue;
        };
        let package = format!("m365guard.investigation.{}", rule.meta.id);
        for name in crate::policy::testing::test_names(&test.text) {
            match engine.eval_rule(format!("data.{package}.{name}")) {
                Ok(v) => out.push((rule.meta.id.clone(), name, v == Value::Bool(true))),
                // The error text goes with the name, so a failing run says why.
                Err(e) => out.push((rule.meta.id.clone(), format!("{name}: {e}"), false)),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pack_loads_with_complete_metadata() {
        let pack = load().unwrap();
        let ids: Vec<&str> = pack.rules.iter().map(|r| r.meta.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "bulk_external_sending",
                "consent_after_suspicious_signin",
                "impossible_travel",
                "inbox_rule_from_suspicious_ip",
                "mfa_method_registered_after_risky_signin",
                "signin_legacy_protocol",
                "signin_new_country",
            ]
        );
        for r in &pack.rules {
            assert!(r.meta.limits.trim().len() > 20, "{}: limits", r.meta.id);
            assert!(!r.meta.references.is_empty(), "{}: references", r.meta.id);
            assert!(r.test.is_some(), "{}: rule_test.rego", r.meta.id);
        }
    }

    #[test]
    fn rego_tests_pass_with_compliant_and_violation_cases() {
        let pack = load().unwrap();
        let results = run_tests(&pack).unwrap();
        let failed: Vec<String> = results
            .iter()
            .filter(|(_, _, ok)| !ok)
            .map(|(r, t, _)| format!("{r}::{t}"))
            .collect();
        assert!(failed.is_empty(), "failing: {failed:?}");
        for rule in &pack.rules {
            let names: Vec<&str> = results
                .iter()
                .filter(|(r, _, _)| *r == rule.meta.id)
                .map(|(_, t, _)| t.as_str())
                .collect();
            assert!(
                names.iter().any(|n| n.ends_with("_compliant")),
                "{}",
                rule.meta.id
            );
            assert!(
                names.iter().any(|n| n.ends_with("_violation")),
                "{}",
                rule.meta.id
            );
        }
    }

    #[test]
    fn distance_berlin_amsterdam_is_about_577_km() {
        let at = |lat: f64, lon: f64| {
            Value::from(serde_json::json!({"latitude": lat, "longitude": lon}))
        };
        let d = distance_km(vec![at(52.52, 13.405), at(52.3676, 4.9041)])
            .unwrap()
            .as_f64()
            .unwrap();
        assert!((570.0..585.0).contains(&d), "{d}");
        assert!(distance_km(vec![at(1.0, 1.0)]).is_err());
    }
}
