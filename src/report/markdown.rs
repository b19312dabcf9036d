//! Markdown report sized for a CI job summary (GitHub's `$GITHUB_STEP_SUMMARY`): status
//! heading, totals, findings with the keys an `[[exception]]` may name and their fix
//! command (with the scan's `--config`), rules that could not be judged,
//! waivers, exemptions and the snapshot digest.
//!
//! Every piece of tenant data is escaped: a display name or inbox rule name is attacker
//! controlled, and must not break a table or inject links or HTML into the summary.

use super::json::timestamp;
use super::table::{findings_by_severity, fix_command};
use super::{RenderOptions, ReportError, Reporter};
use crate::findings::{ExitStatus, Finding, RuleStatus, ScanResult};

/// Findings listed before the table is cut (GitHub caps a step summary at 1 MiB).
pub const MAX_FINDING_ROWS: usize = 1000;

/// New and fixed findings listed in "Since the last run" before the list is cut (the
/// findings table below has them all).
const MAX_CHANGE_ROWS: usize = 50;

pub struct MarkdownReporter;

/// Escape text for a Markdown table cell or list item: no `|` column breaks, no line
/// breaks, no emphasis, code, links or inline HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// A rule id or command in a code span (they come from the rule pack, not the tenant,
/// but a backtick would still end the span early).
fn code(text: &str) -> String {
    format!(
        "`{}`",
        text.replace('`', "'").replace(['\n', '\r', '|'], " ")
    )
}

/// The `resource` values an `[[exception]]` may use for `finding`, other than the name
/// already in the Resource column (compact: the object id and the owner's UPN/address).
fn exception_keys(finding: &Finding) -> String {
    finding
        .exception_keys
        .iter()
        .flat_map(|k| &k.resource)
        .filter(|key| **key != finding.resource.name)
        .map(|key| escape(key))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn status_word(result: &ScanResult, status: ExitStatus) -> &'static str {
    match status {
        ExitStatus::Compliant => "compliant",
        ExitStatus::Findings => "findings",
        ExitStatus::Error => "error",
        ExitStatus::Incomplete if result.incomplete.is_empty() => {
            "incomplete (some rules not evaluated)"
        }
        ExitStatus::Incomplete => "incomplete (see warnings)",
    }
}

impl Reporter for MarkdownReporter {
    fn render(
        &self,
        result: &ScanResult,
        _options: &RenderOptions,
    ) -> Result<Vec<u8>, ReportError> {
        let info = &result.info;
        let totals = result.totals();
        let exit = result.exit_status();
        let mut md = String::new();
        let mut line = |s: &str| {
            md.push_str(s);
            md.push('\n');
        };

        let tenant = match &info.tenant_name {
            Some(name) => format!("{} ({})", escape(name), escape(&info.tenant_id)),
            None => escape(&info.tenant_id),
        };
        line(&format!(
            "## m365guard: {tenant}: {}",
            status_word(result, exit)
        ));
        line("");
        let mut facts = vec![
            format!("Scanned {}", timestamp(&info.scanned_at)),
            format!("snapshot collected {}", timestamp(&info.collected_at)),
        ];
        if let Some(baseline) = &info.baseline {
            facts.push(format!("baseline {}", escape(baseline)));
        }
        facts.push(format!("fail on {} and above", info.fail_on));
        facts.push(format!("m365guard {}", escape(&info.tool_version)));
        line(&format!("{}.", facts.join(", ")));
        line("");

        line("| Rules | Passed | Failed | Not evaluated | Not applicable | Findings | Waived |");
        line("|---:|---:|---:|---:|---:|---:|---:|");
        line(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            totals.rules,
            totals.passed,
            totals.failed,
            totals.not_evaluated,
            totals.not_applicable,
            totals.findings,
            totals.waived
        ));

        if let Some(changes) = super::changes::changes(result) {
            line("");
            line("### Since the last run");
            line("");
            line(&format!("**{}**.", changes.headline()));
            let list = |title: &str, rows: Vec<(&str, &Finding)>, line: &mut dyn FnMut(&str)| {
                if rows.is_empty() {
                    return;
                }
                line("");
                line(&format!("{title}:"));
                line("");
                for (severity, f) in rows.iter().take(MAX_CHANGE_ROWS) {
                    line(&format!(
                        "- {severity} {} {}: {}",
                        code(&f.rule_id),
                        escape(&f.resource.name),
                        escape(&f.message)
                    ));
                }
                if rows.len() > MAX_CHANGE_ROWS {
                    line(&format!("- ... and {} more", rows.len() - MAX_CHANGE_ROWS));
                }
            };
            list(
                "New",
                changes
                    .new
                    .iter()
                    .map(|(_, f)| (f.severity.as_str(), *f))
                    .collect(),
                &mut line,
            );
            list(
                "Fixed",
                changes
                    .fixed
                    .iter()
                    .map(|f| (f.severity.as_str(), *f))
                    .collect(),
                &mut line,
            );
            let still = changes.still_failing_by_rule();
            if !still.is_empty() {
                line("");
                line(&format!(
                    "Still failing: {}.",
                    still
                        .iter()
                        .map(|(rule, n)| format!("{} ({n})", code(rule)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }

        let failing = findings_by_severity(result, false);
        if !failing.is_empty() {
            line("");
            line("### Findings");
            line("");
            line("| Severity | Rule | Controls | Resource | Message | Exception keys | Fix |");
            line("|---|---|---|---|---|---|---|");
            for (outcome, finding) in failing.iter().take(MAX_FINDING_ROWS) {
                let fix = fix_command(&outcome.rule, info, Some(&info.snapshot_path))
                    .map(|cmd| code(&cmd))
                    .unwrap_or_default();
                let controls = super::control_labels(result, &finding.rule_id)
                    .iter()
                    .map(|c| escape(c))
                    .collect::<Vec<_>>()
                    .join("<br>");
                line(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    finding.severity,
                    code(&finding.rule_id),
                    controls,
                    escape(&finding.resource.name),
                    escape(&finding.message),
                    exception_keys(finding),
                    fix
                ));
            }
            if failing.iter().any(|(o, _)| o.rule.fix_action.is_some()) {
                line("");
                line(&format!(
                    "Fix: run the command in the Fix column, review `plan.json`, then {}.",
                    code(&super::commands::fix_apply(
                        "plan.json",
                        info.config_path.as_deref()
                    ))
                ));
            }
            if failing.len() > MAX_FINDING_ROWS {
                line("");
                line(&format!(
                    "... and {} more findings (see the JSON or SARIF report).",
                    failing.len() - MAX_FINDING_ROWS
                ));
            }
        }

        // `scan --with-activity`: who changed each finding's object, and what was not read.
        if let Some(activity) = &result.activity {
            line("");
            line("### Activity");
            line("");
            line(&escape(&activity.headline()));
            for (rule, name, events) in super::findings_with_activity(result) {
                for event in events {
                    line(&format!(
                        "- {} {}: {}",
                        code(rule),
                        escape(name),
                        escape(&event)
                    ));
                }
            }
        }

        let by_status = |not_evaluated: bool| {
            result
                .outcomes
                .iter()
                .filter_map(|o| match (&o.status, not_evaluated) {
                    (RuleStatus::NotEvaluated { reason }, true)
                    | (RuleStatus::NotApplicable { reason }, false) => Some(format!(
                        "- {} ({}): {}",
                        code(&o.rule.id),
                        escape(&o.rule.title),
                        escape(reason)
                    )),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        for (title, items) in [
            ("### Not evaluated", by_status(true)),
            ("### Not applicable", by_status(false)),
        ] {
            if !items.is_empty() {
                line("");
                line(title);
                line("");
                for item in items {
                    line(&item);
                }
            }
        }

        let waived = findings_by_severity(result, true);
        if !waived.is_empty() {
            line("");
            line("### Waivers");
            line("");
            line("| Rule | Resource | Reason | Expires | Ticket |");
            line("|---|---|---|---|---|");
            for (_, finding) in waived {
                if let Some(w) = &finding.waiver {
                    line(&format!(
                        "| {} | {} | {} | {} | {} |",
                        code(&finding.rule_id),
                        escape(&finding.resource.name),
                        escape(&w.reason),
                        w.expires,
                        escape(w.ticket.as_deref().unwrap_or(""))
                    ));
                }
            }
        }

        if !result.exemptions.is_empty() {
            line("");
            line("### Exempt accounts");
            line("");
            line("| Account | Reason |");
            line("|---|---|");
            for e in &result.exemptions {
                line(&format!(
                    "| {} | {} |",
                    escape(&e.account),
                    escape(&e.reason)
                ));
            }
        }

        if !result.warnings.is_empty() {
            line("");
            line("### Warnings");
            line("");
            for w in &result.warnings {
                line(&format!("- {}", escape(w)));
            }
        }

        line("");
        line(&format!(
            "Snapshot {}, digest {}.",
            code(&info.snapshot_path),
            code(&info.snapshot_digest)
        ));
        Ok(md.into_bytes())
    }
}
