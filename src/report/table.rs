//! Terminal report: a table of the failing findings, then one line per rule that could
//! not be judged (not evaluated, not applicable), the waived findings, exempt accounts,
//! warnings and the totals line.
//!
//! comfy-table is built without its `tty` feature (no crossterm), so colour is plain ANSI
//! added here after layout, and only when `RenderOptions::color` says the output is a
//! terminal.
//!
//! Also home of the small helpers the other human-readable reporters share (finding
//! order, fix command, waiver wording), so every format lists things the same way.

use comfy_table::{presets, ColumnConstraint, Table, Width};

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::{Finding, RuleOutcome, RuleStatus, ScanResult, Severity, Waiver};
use crate::policy::metadata::RuleMeta;

pub struct TableReporter;

/// Every finding with its rule, most severe first, then by rule id and resource name.
pub(crate) fn findings_by_severity(
    result: &ScanResult,
    waived: bool,
) -> Vec<(&RuleOutcome, &Finding)> {
    let mut rows: Vec<(&RuleOutcome, &Finding)> = result
        .outcomes
        .iter()
        .flat_map(|o| o.findings.iter().map(move |f| (o, f)))
        .filter(|(_, f)| f.is_waived() == waived)
        .collect();
    rows.sort_by(|(_, a), (_, b)| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.resource.name.cmp(&b.resource.name))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
    });
    rows
}

/// The command that plans the fix for a rule's findings, when the rule has a fix action.
/// `snapshot` is the scanned snapshot's path (or a placeholder where none applies).
pub(crate) fn fix_command(rule: &RuleMeta, snapshot: &str) -> Option<String> {
    rule.fix_action.map(|_| {
        format!(
            "m365guard fix plan --snapshot {snapshot} --rule {} -o plan.json",
            rule.id
        )
    })
}

/// "reason (expires 2026-12-31, ticket SEC-42)": one wording for waivers everywhere.
pub(crate) fn waiver_text(waiver: &Waiver) -> String {
    match &waiver.ticket {
        Some(ticket) => format!(
            "{} (expires {}, ticket {})",
            waiver.reason, waiver.expires, ticket
        ),
        None => format!("{} (expires {})", waiver.reason, waiver.expires),
    }
}

/// "N rules: P passed, F failed, E not evaluated, A not applicable; X findings (W waived)".
pub(crate) fn totals_line(result: &ScanResult) -> String {
    let t = result.totals();
    format!(
        "{} rules: {} passed, {} failed, {} not evaluated, {} not applicable; {} findings ({} waived)",
        t.rules, t.passed, t.failed, t.not_evaluated, t.not_applicable, t.findings, t.waived
    )
}

const RESOURCE_WIDTH: u16 = 36;
const MESSAGE_WIDTH: u16 = 64;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
    }
}

fn paint(text: &str, code: &str) -> String {
    format!("{code}{text}{RESET}")
}

/// Tenant data (display names, inbox rule names) is attacker controlled: control
/// characters are shown escaped so they cannot drive the terminal. Line breaks are kept
/// inside table cells and folded elsewhere.
fn clean(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' | '\t' => out.push(' '),
            '\r' => {}
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

fn one_line(text: &str) -> String {
    clean(text, false)
}

const SECTION_TITLES: [&str; 5] = [
    "Not evaluated (a source failed to collect):",
    "Not applicable:",
    "Waived:",
    "Exempt accounts:",
    "Warnings:",
];

/// Colour is a pass over the finished plain text. comfy-table without its
/// `custom_styling` feature counts escape bytes as width, so colour added before layout
/// would push the borders out of line; added afterwards it cannot.
fn colourise(plain: &str) -> String {
    let lines: Vec<&str> = plain.lines().collect();
    let mut out = String::with_capacity(plain.len() + 256);
    for (i, line) in lines.iter().enumerate() {
        let severity_cell = line.strip_prefix("│ ").and_then(|rest| {
            let word = rest.split(' ').next().unwrap_or("");
            let code = match word {
                "Severity" => BOLD,
                _ => severity_colour(Severity::parse(word)?),
            };
            Some(format!("│ {}{}", paint(word, code), &rest[word.len()..]))
        });
        if let Some(coloured) = severity_cell {
            out.push_str(&coloured);
        } else if SECTION_TITLES.contains(line) || i + 1 == lines.len() {
            out.push_str(&paint(line, BOLD));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

impl Reporter for TableReporter {
    fn render(&self, result: &ScanResult, options: &RenderOptions) -> Result<Vec<u8>, ReportError> {
        let info = &result.info;
        let mut out = String::new();

        let tenant = match &info.tenant_name {
            Some(name) => format!("{name} ({})", info.tenant_id),
            None => info.tenant_id.clone(),
        };
        out.push_str(&one_line(&format!(
            "m365guard {} scan of {tenant}, snapshot {}",
            info.tool_version, info.snapshot_path
        )));
        out.push_str("\n\n");

        let failing = findings_by_severity(result, false);
        if failing.is_empty() {
            out.push_str("No findings.\n");
        } else {
            let mut table = Table::new();
            table.load_preset(presets::UTF8_FULL_CONDENSED);
            table.set_header(vec!["Severity", "Rule", "Resource", "Message"]);
            for (_, finding) in &failing {
                table.add_row(vec![
                    finding.severity.as_str().to_string(),
                    one_line(&finding.rule_id),
                    one_line(&finding.resource.name),
                    clean(&finding.message, true),
                ]);
            }
            // Without the `tty` feature comfy-table cannot see the terminal width, so long
            // names and messages wrap inside fixed column bounds instead of the terminal
            // wrapping whole rows.
            for (index, max) in [(2, RESOURCE_WIDTH), (3, MESSAGE_WIDTH)] {
                if let Some(column) = table.column_mut(index) {
                    column.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(max)));
                }
            }
            out.push_str(&table.to_string());
            out.push('\n');
        }

        let mut section = |title: &str, lines: Vec<String>| {
            if lines.is_empty() {
                return;
            }
            out.push('\n');
            out.push_str(title);
            out.push('\n');
            for line in lines {
                out.push_str("  ");
                out.push_str(&one_line(&line));
                out.push('\n');
            }
        };
        let status_lines = |wanted: fn(&RuleStatus) -> Option<&str>| {
            result
                .outcomes
                .iter()
                .filter_map(|o| wanted(&o.status).map(|reason| format!("{}: {reason}", o.rule.id)))
                .collect::<Vec<_>>()
        };
        section(
            SECTION_TITLES[0],
            status_lines(|s| match s {
                RuleStatus::NotEvaluated { reason } => Some(reason),
                _ => None,
            }),
        );
        section(
            SECTION_TITLES[1],
            status_lines(|s| match s {
                RuleStatus::NotApplicable { reason } => Some(reason),
                _ => None,
            }),
        );
        section(
            SECTION_TITLES[2],
            findings_by_severity(result, true)
                .into_iter()
                .filter_map(|(_, f)| {
                    f.waiver.as_ref().map(|w| {
                        format!(
                            "[waived] {} {} {}: {}",
                            f.severity,
                            f.rule_id,
                            f.resource.name,
                            waiver_text(w)
                        )
                    })
                })
                .collect(),
        );
        section(
            SECTION_TITLES[3],
            result
                .exemptions
                .iter()
                .map(|e| format!("{}: {}", e.account, e.reason))
                .collect(),
        );
        section(
            SECTION_TITLES[4],
            result
                .warnings
                .iter()
                .map(|w| format!("warning: {w}"))
                .collect(),
        );

        let fixable = findings_by_severity(result, false)
            .iter()
            .filter(|(o, _)| o.rule.fix_action.is_some())
            .count();
        if fixable > 0 {
            out.push_str(&format!(
                "\n{fixable} finding(s) have an automatic fix: m365guard fix plan --snapshot {} -o plan.json (then review and `m365guard fix apply plan.json`)\n",
                result.info.snapshot_path
            ));
        }
        out.push('\n');
        out.push_str(&totals_line(result));
        out.push('\n');
        let out = if options.color { colourise(&out) } else { out };
        Ok(out.into_bytes())
    }
}
