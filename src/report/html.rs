//! HTML report for security reviews: one self-contained file (inline CSS, no scripts, no
//! external assets, a Content-Security-Policy that forbids both), rendered with minijinja
//! from `templates/report.html` with HTML auto-escaping forced on — every name in it comes
//! from the tenant and some are attacker controlled.
//!
//! Findings are filterable by severity and by rule with CSS alone (`:has()`, `:target`),
//! so the CSP still forbids every script. Rule remediation texts get a tiny Markdown subset
//! (`inline_markdown`: code spans and web links, everything else escaped).
//!
//! This module prepares plain data (progress per roadmap phase and per area, findings
//! grouped by rule, waivers with days left counted from the scan date); the template only
//! lays it out.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::json::{exit_name, timestamp};
use super::table::{findings_by_severity, fix_command};
use super::{RenderOptions, ReportError, Reporter};
use crate::findings::{Finding, RuleOutcome, RuleStatus, ScanResult, Severity, Totals};
use crate::policy::metadata::RoadmapPhase;

const TEMPLATE: &str = include_str!("templates/report.html");

pub struct HtmlReporter;

#[derive(Serialize)]
struct Page<'a> {
    tool_version: &'a str,
    tenant_id: &'a str,
    tenant_name: Option<&'a str>,
    scanned_at: String,
    collected_at: String,
    baseline: Option<&'a str>,
    fail_on: Severity,
    status: &'static str,
    exit_code: i32,
    totals: Totals,
    /// With `scan --since`: new, fixed and still-failing findings.
    since: Option<Since<'a>>,
    phases: Vec<Progress>,
    areas: Vec<Progress>,
    failed_rules: Vec<FailedRule<'a>>,
    /// Severities present among the unwaived findings, most severe first (the filter).
    severities: Vec<Severity>,
    passed_rules: Vec<PassedRule<'a>>,
    waivers: Vec<WaiverRow<'a>>,
    not_evaluated: Vec<RuleReason<'a>>,
    not_applicable: Vec<RuleReason<'a>>,
    exemptions: &'a [crate::findings::Exemption],
    warnings: &'a [String],
    /// `scan --with-activity`: the headline and one row per finding event.
    activity: Option<ActivityView<'a>>,
    snapshot_path: &'a str,
    snapshot_digest: &'a str,
    /// `m365guard fix apply plan.json`, with the scan's `--config`.
    apply_command: String,
}

#[derive(Serialize)]
struct ActivityView<'a> {
    headline: String,
    rows: Vec<ActivityRow<'a>>,
}

#[derive(Serialize)]
struct ActivityRow<'a> {
    rule: &'a str,
    resource: &'a str,
    event: String,
}

#[derive(Serialize, Default)]
struct Progress {
    name: &'static str,
    total: usize,
    passed: usize,
    failed: usize,
    not_evaluated: usize,
    not_applicable: usize,
    /// Rules that apply to this tenant (total less not applicable).
    applicable: usize,
    /// Passed share of the applicable rules, 0–100.
    percent: usize,
}

#[derive(Serialize)]
struct FailedRule<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    /// The remediation text rendered by `inline_markdown` (escaped; code spans and links).
    remediation_html: String,
    /// The rule's references that are web links.
    references: Vec<&'a str>,
    fix_command: Option<String>,
    /// The remediation action the rule maps to, shown even before fix mode exists.
    fix_action: Option<&'static str>,
    /// "ScubaGear MS.AAD.3.6v1 (full)" for each framework control the rule checks.
    controls: Vec<String>,
    findings: Vec<FindingRow<'a>>,
}

#[derive(Serialize)]
struct PassedRule<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    controls: Vec<String>,
    /// Findings waived on this rule (it passed because of them).
    waived: usize,
}

#[derive(Serialize)]
struct FindingRow<'a> {
    severity: Severity,
    resource_name: &'a str,
    resource_kind: &'a str,
    message: &'a str,
    line: Option<usize>,
    /// Values an `[[exception]]` `resource` may name to waive this finding.
    exception_keys: Vec<&'a str>,
}

#[derive(Serialize)]
struct Since<'a> {
    headline: String,
    new: Vec<ChangeRow<'a>>,
    fixed: Vec<ChangeRow<'a>>,
    /// (rule id, findings still failing).
    still_failing: Vec<(&'a str, usize)>,
    counts: [usize; 3],
}

#[derive(Serialize)]
struct ChangeRow<'a> {
    severity: Severity,
    rule_id: &'a str,
    resource_name: &'a str,
    message: &'a str,
}

fn row(f: &Finding) -> ChangeRow<'_> {
    ChangeRow {
        severity: f.severity,
        rule_id: &f.rule_id,
        resource_name: &f.resource.name,
        message: &f.message,
    }
}

fn since(result: &ScanResult) -> Option<Since<'_>> {
    let changes = super::changes::changes(result)?;
    Some(Since {
        headline: changes.headline(),
        counts: [
            changes.new.len(),
            changes.fixed.len(),
            changes.still_failing.len(),
        ],
        new: changes.new.iter().map(|(_, f)| row(f)).collect(),
        fixed: changes.fixed.iter().map(|f| row(f)).collect(),
        still_failing: changes.still_failing_by_rule(),
    })
}

#[derive(Serialize)]
struct WaiverRow<'a> {
    rule_id: &'a str,
    resource_name: &'a str,
    message: &'a str,
    reason: &'a str,
    expires: String,
    /// Days from the scan date to expiry; negative once expired.
    days_left: i64,
    ticket: Option<&'a str>,
}

#[derive(Serialize)]
struct RuleReason<'a> {
    id: &'a str,
    title: &'a str,
    reason: &'a str,
}

fn progress<'a, K: Ord>(
    result: &'a ScanResult,
    key: impl Fn(&'a RuleOutcome) -> K,
    name: impl Fn(&K) -> &'static str,
) -> Vec<Progress> {
    let mut groups: BTreeMap<K, Progress> = BTreeMap::new();
    for outcome in &result.outcomes {
        let k = key(outcome);
        let entry = groups.entry(k).or_default();
        entry.total += 1;
        match outcome.status {
            RuleStatus::Passed => entry.passed += 1,
            RuleStatus::Failed => entry.failed += 1,
            RuleStatus::NotEvaluated { .. } => entry.not_evaluated += 1,
            RuleStatus::NotApplicable { .. } => entry.not_applicable += 1,
        }
    }
    groups
        .into_iter()
        .map(|(k, mut p)| {
            p.name = name(&k);
            p.applicable = p.total - p.not_applicable;
            p.percent = (p.passed * 100).checked_div(p.applicable).unwrap_or(0);
            p
        })
        .collect()
}

fn failed_rules(result: &ScanResult) -> Vec<FailedRule<'_>> {
    // `findings_by_severity` orders by severity, rule and resource; grouping it keeps the
    // rule with the most severe finding first.
    let mut rules: Vec<FailedRule<'_>> = Vec::new();
    for (outcome, finding) in findings_by_severity(result, false) {
        let row = FindingRow {
            severity: finding.severity,
            resource_name: &finding.resource.name,
            resource_kind: finding.resource.kind.as_str(),
            message: &finding.message,
            line: finding.line,
            exception_keys: finding
                .exception_keys
                .iter()
                .flat_map(|k| k.resource.iter().map(String::as_str))
                .collect(),
        };
        match rules.iter_mut().find(|r| r.id == outcome.rule.id) {
            Some(rule) => rule.findings.push(row),
            None => rules.push(FailedRule {
                id: &outcome.rule.id,
                title: &outcome.rule.title,
                severity: finding.severity,
                remediation_html: inline_markdown(outcome.rule.remediation.trim()),
                references: web_links(&outcome.rule.references),
                fix_command: fix_command(
                    &outcome.rule,
                    &result.info,
                    Some(&result.info.snapshot_path),
                ),
                fix_action: outcome.rule.fix_action.map(|a| a.as_str()),
                controls: super::control_labels(result, &outcome.rule.id),
                findings: vec![row],
            }),
        }
    }
    rules
}

/// The `http(s)://` entries of a rule's references (anything else is not linked).
fn web_links(references: &[String]) -> Vec<&str> {
    references
        .iter()
        .map(String::as_str)
        .filter(|r| is_web_link(r))
        .collect()
}

fn is_web_link(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// HTML-escape `text` (the five characters that matter in text and attributes).
fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A tiny, safe Markdown subset for rule texts: everything is HTML-escaped; `code spans`
/// become `<code>`, `[text](https://…)` and `<https://…>` become links. Nothing else is
/// interpreted, so no input can produce markup beyond those three.
pub(crate) fn inline_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(at) = rest.find(['`', '[', '<']) {
        escape_html(&rest[..at], &mut out);
        let tail = &rest[at..];
        let consumed = match tail.as_bytes()[0] {
            b'`' => tail[1..].find('`').map(|end| {
                out.push_str("<code>");
                escape_html(&tail[1..1 + end], &mut out);
                out.push_str("</code>");
                end + 2
            }),
            b'[' => markdown_link(tail).map(|(label, url, len)| {
                link(label, url, &mut out);
                len
            }),
            _ => tail[1..].find('>').and_then(|end| {
                let url = &tail[1..1 + end];
                is_web_link(url).then(|| {
                    link(url, url, &mut out);
                    end + 2
                })
            }),
        };
        match consumed {
            Some(len) => rest = &tail[len..],
            None => {
                escape_html(&tail[..1], &mut out);
                rest = &tail[1..];
            }
        }
    }
    escape_html(rest, &mut out);
    out
}

/// `[label](url)` at the start of `text`: (label, url, bytes consumed).
fn markdown_link(text: &str) -> Option<(&str, &str, usize)> {
    let close = text.find("](")?;
    let label = &text[1..close];
    if label.contains(['[', ']', '\n']) {
        return None;
    }
    let url_start = close + 2;
    let url_len = text[url_start..].find(')')?;
    let url = &text[url_start..url_start + url_len];
    is_web_link(url).then_some((label, url, url_start + url_len + 1))
}

fn link(label: &str, url: &str, out: &mut String) {
    out.push_str("<a href=\"");
    escape_html(url, out);
    out.push_str("\" rel=\"noreferrer\">");
    escape_html(label, out);
    out.push_str("</a>");
}

fn reasons(result: &ScanResult, not_evaluated: bool) -> Vec<RuleReason<'_>> {
    result
        .outcomes
        .iter()
        .filter_map(|o| match (&o.status, not_evaluated) {
            (RuleStatus::NotEvaluated { reason }, true)
            | (RuleStatus::NotApplicable { reason }, false) => Some(RuleReason {
                id: &o.rule.id,
                title: &o.rule.title,
                reason,
            }),
            _ => None,
        })
        .collect()
}

fn page(result: &ScanResult) -> Page<'_> {
    let info = &result.info;
    let exit = result.exit_status();
    let scan_date = info.scanned_at.date_naive();
    let waivers = findings_by_severity(result, true)
        .into_iter()
        .filter_map(|(_, f)| {
            f.waiver.as_ref().map(|w| WaiverRow {
                rule_id: &f.rule_id,
                resource_name: &f.resource.name,
                message: &f.message,
                reason: &w.reason,
                expires: w.expires.to_string(),
                days_left: (w.expires - scan_date).num_days(),
                ticket: w.ticket.as_deref(),
            })
        })
        .collect();
    Page {
        tool_version: &info.tool_version,
        tenant_id: &info.tenant_id,
        tenant_name: info.tenant_name.as_deref(),
        scanned_at: timestamp(&info.scanned_at),
        collected_at: timestamp(&info.collected_at),
        baseline: info.baseline.as_deref(),
        fail_on: info.fail_on,
        status: exit_name(exit),
        exit_code: exit as i32,
        totals: result.totals(),
        since: since(result),
        phases: progress(
            result,
            |o| o.rule.roadmap_phase,
            |p| match p {
                RoadmapPhase::Days30 => "30 days",
                RoadmapPhase::Days90 => "90 days",
                RoadmapPhase::Beyond => "Beyond 90 days",
            },
        ),
        areas: progress(result, |o| o.rule.area, |a| a.as_str()),
        failed_rules: failed_rules(result),
        severities: {
            let mut present: Vec<Severity> = findings_by_severity(result, false)
                .iter()
                .map(|(_, f)| f.severity)
                .collect();
            present.dedup();
            present
        },
        passed_rules: result
            .outcomes
            .iter()
            .filter(|o| o.status == RuleStatus::Passed)
            .map(|o| PassedRule {
                id: &o.rule.id,
                title: &o.rule.title,
                severity: o.rule.severity,
                controls: super::control_labels(result, &o.rule.id),
                waived: o.findings.iter().filter(|f| f.is_waived()).count(),
            })
            .collect(),
        waivers,
        not_evaluated: reasons(result, true),
        not_applicable: reasons(result, false),
        exemptions: &result.exemptions,
        warnings: &result.warnings,
        activity: result.activity.as_ref().map(|a| ActivityView {
            headline: a.headline(),
            rows: super::findings_with_activity(result)
                .into_iter()
                .flat_map(|(rule, resource, events)| {
                    events.into_iter().map(move |event| ActivityRow {
                        rule,
                        resource,
                        event,
                    })
                })
                .collect(),
        }),
        snapshot_path: &info.snapshot_path,
        snapshot_digest: &info.snapshot_digest,
        apply_command: super::commands::fix_apply("plan.json", info.config_path.as_deref()),
    }
}

fn render_error(e: minijinja::Error) -> ReportError {
    ReportError::Render {
        format: "html",
        message: format!("{e:#}"),
    }
}

impl Reporter for HtmlReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let mut env = Environment::new();
        // Forced rather than inferred from the template name: escaping must not depend on
        // what the file happens to be called.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_template("report.html", TEMPLATE)
            .map_err(render_error)?;
        let html = env
            .get_template("report.html")
            .and_then(|t| t.render(page(result)))
            .map_err(render_error)?;
        Ok(html.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::inline_markdown;

    #[test]
    fn inline_markdown_renders_code_and_links_and_escapes_the_rest() {
        assert_eq!(
            inline_markdown("run `fix plan <x>` & see [docs](https://learn.microsoft.com/a_b)"),
            "run <code>fix plan &lt;x&gt;</code> &amp; see \
             <a href=\"https://learn.microsoft.com/a_b\" rel=\"noreferrer\">docs</a>"
        );
        assert_eq!(
            inline_markdown("<https://example.com/x?a=1&b=2>"),
            "<a href=\"https://example.com/x?a=1&amp;b=2\" rel=\"noreferrer\">\
             https://example.com/x?a=1&amp;b=2</a>"
        );
        // Nothing else becomes markup: raw HTML, script links, unclosed spans.
        assert_eq!(
            inline_markdown("<b>x</b> [y](javascript:alert(1)) `open \"q\""),
            "&lt;b&gt;x&lt;/b&gt; [y](javascript:alert(1)) `open &quot;q&quot;"
        );
        assert_eq!(
            inline_markdown("[a](https://x.example/\" onmouseover=\"e)"),
            "[a](https://x.example/&quot; onmouseover=&quot;e)"
        );
    }
}
