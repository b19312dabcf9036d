//! The HTML timeline of an investigation (`timeline.html`): self-contained (inline CSS, no
//! script, no external resource), one row per event — sign-ins and directory audits merged
//! and sorted by time — with the events a rule flagged highlighted and the rule's message
//! beside them, a map-free "where from" summary (countries, IP addresses, client apps of
//! the sign-ins), the status of every source and rule, and the steps no API can do with the
//! evidence for each (`checklist`). Unified audit log records and risk detections are rows
//! of their own (medium and high risk detections highlighted, Identity Protection named as
//! what flagged them); sent mail is one row per message, with a summary of the recipients
//! by domain and delivery status.
//! Rendered with minijinja, HTML auto-escaping on: every value from the tenant is text.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::{Evidence, SourceState, VerdictStatus};

const TEMPLATE: &str = include_str!("timeline.html.j2");

#[derive(Serialize)]
struct Row {
    id: String,
    time: String,
    kind: &'static str,
    what: String,
    place: String,
    detail: String,
    suspicious: bool,
    findings: Vec<String>,
}

#[derive(Serialize)]
struct Count {
    key: String,
    sign_ins: usize,
    flagged: usize,
    note: String,
}

#[derive(Serialize)]
struct Line {
    name: String,
    status: String,
    detail: String,
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn place(city: &Option<String>, country: &Option<String>, ip: &Option<String>) -> String {
    [city, country, ip]
        .iter()
        .filter_map(|v| v.as_deref())
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn rows(evidence: &Evidence) -> Vec<(i64, Row)> {
    let findings_of = |id: &str| -> Vec<String> {
        evidence
            .findings
            .iter()
            .filter(|f| f.event_id == id)
            .map(|f| format!("{} [{}]: {}", f.rule_id, f.severity.as_str(), f.message))
            .collect()
    };
    let mut out = Vec::new();
    for s in &evidence.sign_ins {
        let result = match s.error_code {
            Some(0) => "succeeded".to_owned(),
            Some(code) => format!("failed ({code}: {})", text(&s.failure_reason)),
            None => "result unknown".to_owned(),
        };
        let findings = findings_of(&s.id);
        out.push((
            s.epoch,
            Row {
                id: s.id.clone(),
                time: s.time.clone(),
                kind: "sign-in",
                what: format!(
                    "Sign-in {result} via {} to {}",
                    text(&s.client_app),
                    text(&s.app)
                ),
                place: place(&s.city, &s.country, &s.ip_address),
                detail: [
                    text(&s.authentication_requirement).to_owned(),
                    s.authentication_methods.join(" + "),
                    s.risk_level
                        .as_deref()
                        .filter(|r| *r != "none")
                        .map(|r| format!("risk {r}"))
                        .unwrap_or_default(),
                    text(&s.user_agent).to_owned(),
                ]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
                suspicious: !findings.is_empty(),
                findings,
            },
        ));
    }
    for a in &evidence.directory_audits {
        let findings = findings_of(&a.id);
        let by = a
            .initiated_by
            .user_principal_name
            .clone()
            .or_else(|| a.initiated_by.app_display_name.clone())
            .unwrap_or_default();
        let targets: Vec<String> = a
            .targets
            .iter()
            .filter_map(|t| {
                t.user_principal_name
                    .clone()
                    .or_else(|| t.display_name.clone())
            })
            .collect();
        out.push((
            a.epoch,
            Row {
                id: a.id.clone(),
                time: a.time.clone(),
                kind: "directory audit",
                what: format!("{} ({})", a.activity, text(&a.result)),
                place: a.initiated_by.ip_address.clone().unwrap_or_default(),
                detail: [
                    format!("by {by}"),
                    format!("on {}", targets.join(", ")),
                    text(&a.result_reason).to_owned(),
                ]
                .into_iter()
                .filter(|x| x.len() > 3)
                .collect::<Vec<_>>()
                .join(" · "),
                suspicious: !findings.is_empty(),
                findings,
            },
        ));
    }
    out.extend(audit_and_mail_rows(evidence));
    for d in &evidence.risk_detections {
        let mut findings = findings_of(&d.id);
        if let Some(level) = risky_level(d) {
            findings.push(format!(
                "Identity Protection [{level}]: {}",
                text(&d.risk_event_type)
            ));
        }
        out.push((
            d.epoch,
            Row {
                id: d.id.clone(),
                time: d.time.clone(),
                kind: "risk detection",
                what: format!(
                    "Identity Protection: {} ({} risk, {})",
                    text(&d.risk_event_type),
                    text(&d.risk_level),
                    text(&d.risk_state)
                ),
                place: place(&d.city, &d.country, &d.ip_address),
                detail: [
                    d.request_id
                        .as_deref()
                        .map(|r| format!("sign-in {r}"))
                        .unwrap_or_default(),
                    d.detected_time
                        .as_deref()
                        .map(|t| format!("detected {t}"))
                        .unwrap_or_default(),
                    text(&d.detection_timing_type).to_owned(),
                ]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
                suspicious: !findings.is_empty(),
                findings,
            },
        ));
    }
    out.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    out
}

/// The level of a detection the timeline highlights like a flagged event: Identity
/// Protection rated it `medium` or `high`
/// (<https://learn.microsoft.com/graph/api/resources/riskdetection>: `riskLevel` low,
/// medium, high, hidden, none), and no admin has since called it a false positive
/// (`riskState` `dismissed` or `confirmedSafe`). A `remediated` detection stays highlighted:
/// the risky sign-in still happened. `low` is noise at the timeline's scale and `hidden`
/// says nothing.
fn risky_level(d: &super::RiskDetection) -> Option<&str> {
    let level = d.risk_level.as_deref()?;
    let cleared = matches!(d.risk_state.as_deref(), Some("dismissed" | "confirmedSafe"));
    (matches!(level, "medium" | "high") && !cleared).then_some(level)
}

/// The findings on events whose id `matches`, as shown beside a row.
fn findings_where(evidence: &Evidence, matches: impl Fn(&str) -> bool) -> Vec<String> {
    evidence
        .findings
        .iter()
        .filter(|f| matches(&f.event_id))
        .map(|f| format!("{} [{}]: {}", f.rule_id, f.severity.as_str(), f.message))
        .collect()
}

/// Unified audit log records, one row each, and sent mail, one row per message (its
/// recipients counted by domain): a bulk mailing is one line, not hundreds.
fn audit_and_mail_rows(evidence: &Evidence) -> Vec<(i64, Row)> {
    let mut out = Vec::new();
    for e in &evidence.audit_events {
        let findings = findings_where(evidence, |id| id == e.id);
        let parameters: Vec<String> = e
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push((
            e.epoch,
            Row {
                id: e.id.clone(),
                time: e.time.clone(),
                kind: "audit log",
                what: format!(
                    "{} ({}){}",
                    e.operation,
                    text(&e.workload),
                    e.object_id
                        .as_deref()
                        .map(|o| format!(" on {o}"))
                        .unwrap_or_default()
                ),
                place: text(&e.client_ip).to_owned(),
                detail: [text(&e.result).to_owned(), parameters.join(" · ")]
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · "),
                suspicious: !findings.is_empty(),
                findings,
            },
        ));
    }
    let mut messages: BTreeMap<&str, Vec<&super::MessageRow>> = BTreeMap::new();
    for r in &evidence.messages_sent.rows {
        let trace = r.id.split('/').next().unwrap_or(&r.id);
        messages.entry(trace).or_default().push(r);
    }
    for (trace, rows) in messages {
        let Some(first) = rows.iter().min_by_key(|r| r.epoch) else {
            continue;
        };
        let mut domains: BTreeMap<&str, usize> = BTreeMap::new();
        let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &rows {
            *domains.entry(r.recipient_domain.as_str()).or_default() += 1;
            *statuses
                .entry(r.status.as_deref().unwrap_or("Unknown"))
                .or_default() += 1;
        }
        let list = |m: &BTreeMap<&str, usize>| {
            m.iter()
                .map(|(k, n)| format!("{k} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let prefix = format!("{trace}/");
        let findings = findings_where(evidence, |id| id.starts_with(&prefix));
        let external = rows.iter().filter(|r| r.external).count();
        out.push((
            first.epoch,
            Row {
                id: trace.to_owned(),
                time: first.time.clone(),
                kind: "mail sent",
                what: format!(
                    "Mail to {} recipient(s), {external} external: {}",
                    rows.len(),
                    list(&domains)
                ),
                // The trace's FromIP of mail sent from a mailbox is Exchange's own server,
                // not where the sender was: shown in the detail, not as the place.
                place: String::new(),
                detail: [
                    text(&first.subject).to_owned(),
                    list(&statuses),
                    first
                        .from_ip
                        .as_deref()
                        .map(|ip| format!("FromIP {ip}"))
                        .unwrap_or_default(),
                ]
                .into_iter()
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
                suspicious: !findings.is_empty(),
                findings,
            },
        ));
    }
    out
}

/// Sign-ins per key (country, IP or client app), with how many of them a rule flagged.
fn counts(evidence: &Evidence, key: impl Fn(&super::SignIn) -> Option<String>) -> Vec<Count> {
    let mut map: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    for s in &evidence.sign_ins {
        let Some(k) = key(s) else { continue };
        let entry = map.entry(k).or_default();
        entry.0 += 1;
        if evidence.findings.iter().any(|f| f.event_id == s.id) {
            entry.1 += 1;
        }
        if entry.2.is_empty() {
            entry.2 = text(&s.country).to_owned();
        }
    }
    let mut out: Vec<Count> = map
        .into_iter()
        .map(|(key, (sign_ins, flagged, note))| Count {
            key,
            sign_ins,
            flagged,
            note,
        })
        .collect();
    out.sort_by(|a, b| b.sign_ins.cmp(&a.sign_ins).then(a.key.cmp(&b.key)));
    out
}

/// The timeline page.
pub fn render(evidence: &Evidence) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("timeline.html", TEMPLATE)?;
    let sources: Vec<Line> = evidence
        .sources
        .iter()
        .map(|(name, s)| Line {
            name: name.clone(),
            status: match s.status {
                SourceState::Ok => "ok",
                SourceState::Unavailable => "unavailable",
                SourceState::Error => "error",
            }
            .to_owned(),
            detail: format!("{} item(s) {}", s.items, text(&s.reason)),
        })
        .collect();
    let rules: Vec<Line> = evidence
        .rules
        .iter()
        .map(|r| Line {
            name: format!("{} — {}", r.rule_id, r.title),
            status: match r.status {
                VerdictStatus::Passed => "passed",
                VerdictStatus::Failed => "failed",
                VerdictStatus::NotEvaluated => "not evaluated",
                VerdictStatus::NotApplicable => "not applicable",
            }
            .to_owned(),
            detail: match &r.reason {
                Some(reason) => reason.clone(),
                None => format!("{} finding(s)", r.findings),
            },
        })
        .collect();
    let rows: Vec<Row> = rows(evidence).into_iter().map(|(_, r)| r).collect();
    let template = env.get_template("timeline.html")?;
    template.render(minijinja::context! {
        user => &evidence.user.user_principal_name,
        tenant => &evidence.tenant_id,
        since => evidence.window.since.to_rfc3339(),
        until => evidence.window.until.to_rfc3339(),
        generated => evidence.generated_at.to_rfc3339(),
        version => &evidence.tool_version,
        sources => sources,
        rules => rules,
        rows => rows,
        flagged => evidence.findings.len(),
        countries => counts(evidence, |s| s.country.clone()),
        ips => counts(evidence, |s| s.ip_address.clone()),
        apps => counts(evidence, |s| s.client_app.clone()),
        steps => super::checklist::steps(Some(evidence), ""),
        mail => &evidence.messages_sent.by_domain,
        mail_total => evidence.messages_sent.total,
        mail_external => evidence.messages_sent.external,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(level: Option<&str>, state: Option<&str>) -> super::super::RiskDetection {
        serde_json::from_value(serde_json::json!({
            "id": "d1", "time": "2025-12-31T02:14:09Z", "epoch": 0,
            "detected_time": null, "risk_event_type": "unfamiliarFeatures",
            "risk_level": level, "risk_state": state, "risk_detail": null, "activity": null,
            "detection_timing_type": null, "source": null, "ip_address": null, "city": null,
            "country": null, "request_id": null, "correlation_id": null,
        }))
        .unwrap()
    }

    #[test]
    fn medium_and_high_detections_are_highlighted_unless_cleared() {
        assert_eq!(
            risky_level(&detection(Some("high"), Some("atRisk"))),
            Some("high")
        );
        assert_eq!(
            risky_level(&detection(Some("medium"), Some("remediated"))),
            Some("medium")
        );
        assert_eq!(
            risky_level(&detection(Some("medium"), None)),
            Some("medium")
        );
        for (level, state) in [
            (Some("low"), Some("atRisk")),
            (Some("hidden"), Some("atRisk")),
            (Some("none"), None),
            (None, Some("atRisk")),
            (Some("high"), Some("dismissed")),
            (Some("high"), Some("confirmedSafe")),
        ] {
            assert_eq!(
                risky_level(&detection(level, state)),
                None,
                "{level:?} {state:?}"
            );
        }
    }
}
