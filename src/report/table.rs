//! Terminal report: a table of the failing findings, then one line per rule that could
//! not be judged (not evaluated, not applicable), the waived findings, exempt accounts,
//! warnings and the totals line.
//!
//! comfy-table is built without its `tty` feature (no crossterm), so colour is plain ANSI
//! added here after layout, and only when `RenderOptions::color` says the output is a
//! terminal.
//!
//! Every piece of tenant data is cut to a bounded length (with an ellipsis) before layout:
//! names and messages are attacker controlled, and comfy-table's wrapping is quadratic in a
//! cell's length (a 1 MB inbox-rule name never finished rendering). The table's size and
//! rendering time depend on the number of findings, never on the length of a value.
//!
//! Also home of the small helpers the other human-readable reporters share (finding
//! order, fix command, waiver wording), so every format lists things the same way.

use comfy_table::{presets, ColumnConstraint, ContentArrangement, Table, Width};

use super::{commands, RenderOptions, ReportError, Reporter};
use crate::findings::{Finding, RuleOutcome, RuleStatus, ScanInfo, ScanResult, Severity, Waiver};
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

/// The command that plans the fix for a rule's findings, when the rule has a fix action,
/// with the scan's `--config`. `snapshot` is the scanned snapshot's path (`None`: a
/// placeholder, where none applies).
pub(crate) fn fix_command(
    rule: &RuleMeta,
    info: &ScanInfo,
    snapshot: Option<&str>,
) -> Option<String> {
    rule.fix_action
        .map(|action| commands::fix_plan_for_rule(info, snapshot, &rule.id, action))
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

/// Findings of one rule listed in the table; the rest are counted in one row ("… 15 more":
/// "mfa_not_enforced: 20 users — first 5 listed"), and are all in the JSON report.
pub const GROUP_LISTED: usize = 5;

/// Narrowest layout attempted: below it the table keeps this width (the terminal wraps).
const MIN_WIDTH: usize = 60;
/// The rule column's bound on a narrow terminal (rule ids are short, messages matter).
const RULE_WIDTH: u16 = 30;

/// Consecutive findings of the same rule (the rows are ordered by severity, then rule).
fn group_by_rule<'a>(
    rows: &[(&'a RuleOutcome, &'a Finding)],
) -> Vec<Vec<(&'a RuleOutcome, &'a Finding)>> {
    let mut groups: Vec<Vec<(&RuleOutcome, &Finding)>> = Vec::new();
    for row in rows {
        match groups.last_mut() {
            Some(group) if group[0].1.rule_id == row.1.rule_id => group.push(*row),
            _ => groups.push(vec![*row]),
        }
    }
    groups
}

/// "mfa_not_enforced: 20 users — first 5 listed (all in the JSON report)".
fn group_summary(group: &[(&RuleOutcome, &Finding)]) -> String {
    let first = group[0].1;
    let same_kind = group
        .iter()
        .all(|(_, f)| f.resource.kind == first.resource.kind);
    let what = if same_kind {
        plural(&first.resource.kind.as_str().replace('_', " "))
    } else {
        "findings".to_owned()
    };
    format!(
        "{}: {} {what} — first {GROUP_LISTED} listed (all in the JSON report)",
        bounded(&first.rule_id, RULE_MAX_CHARS, 1, false),
        group.len()
    )
}

fn plural(noun: &str) -> String {
    if let Some(stem) = noun.strip_suffix('y') {
        format!("{stem}ies")
    } else if noun.ends_with('x') || noun.ends_with('s') {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

const RESOURCE_WIDTH: u16 = 36;
const MESSAGE_WIDTH: u16 = 64;

/// Longest cell content handed to comfy-table, in characters: a few wrapped lines of the
/// column. Longer values are cut, with an ellipsis; the full text is in the JSON/SARIF
/// reports.
const RESOURCE_MAX_CHARS: usize = 4 * RESOURCE_WIDTH as usize;
const MESSAGE_MAX_CHARS: usize = 8 * MESSAGE_WIDTH as usize;
/// Rule ids come from the pack, not the tenant, but a custom pack's ids are no less bounded.
const RULE_MAX_CHARS: usize = 64;
/// Lines kept inside one cell (a message may carry line breaks).
const CELL_MAX_LINES: usize = 8;
/// Longest line outside the table (header, waived findings, warnings), in characters.
const LINE_MAX_CHARS: usize = 400;

const ELLIPSIS: char = '…';

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

/// `text` cut to at most `max_chars` characters and `max_lines` lines, ending with an
/// ellipsis when anything was cut. Cheap on any length: it stops reading at the cut.
fn truncate(text: &str, max_chars: usize, max_lines: usize) -> &str {
    let mut lines = 1;
    for (count, (at, c)) in text.char_indices().enumerate() {
        if c == '\n' {
            lines += 1;
        }
        if count == max_chars || lines > max_lines {
            return &text[..at];
        }
    }
    text
}

/// A bounded, cleaned single line (header lines, section lines).
fn one_line(text: &str) -> String {
    bounded(text, LINE_MAX_CHARS, 1, false)
}

/// `text` cut to `max_chars` characters and `max_lines` lines (ellipsis if cut), then
/// cleaned. The cut comes first so that cleaning never reads more than the bound (an
/// escaped control character grows, so the cleaned text is cut again).
fn bounded(text: &str, max_chars: usize, max_lines: usize, keep_newlines: bool) -> String {
    let head = truncate(text, max_chars, max_lines);
    let mut out = clean(head, keep_newlines);
    let cut = head.len() < text.len();
    let cleaned = truncate(&out, max_chars, max_lines).len();
    if cut || cleaned < out.len() {
        out.truncate(cleaned);
        // The ellipsis replaces the last character so the cell stays within its bound.
        out.pop();
        out.push(ELLIPSIS);
    }
    out
}

/// Word-wrap every line outside the table to `width` characters (continuation lines
/// indented); a word longer than a line is cut across lines. Table lines are already laid
/// out to the width.
fn wrap_lines(text: &str, width: usize) -> String {
    const INDENT: &str = "    ";
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let is_table = line.starts_with(['┌', '│', '╞', '├', '└']);
        if is_table || line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // `current` holds the line being filled; `empty`: no word on it yet.
        let mut current = String::new();
        let mut current_len = 0;
        let mut empty = true;
        let mut flush = |current: &mut String, current_len: &mut usize, empty: &mut bool| {
            out.push_str(current.trim_end());
            out.push('\n');
            current.clear();
            current.push_str(INDENT);
            *current_len = INDENT.len();
            *empty = true;
        };
        for word in line.split(' ') {
            let word_len = word.chars().count();
            if !empty && current_len + 1 + word_len > width {
                flush(&mut current, &mut current_len, &mut empty);
            } else if !empty {
                current.push(' ');
                current_len += 1;
            }
            let mut rest = word;
            while current_len + rest.chars().count() > width {
                let room = width.saturating_sub(current_len).max(1);
                let cut = rest
                    .char_indices()
                    .nth(room)
                    .map_or(rest.len(), |(at, _)| at);
                current.push_str(&rest[..cut]);
                current_len += room;
                rest = &rest[cut..];
                flush(&mut current, &mut current_len, &mut empty);
            }
            current.push_str(rest);
            current_len += rest.chars().count();
            empty = false;
        }
        if !current.trim().is_empty() {
            out.push_str(current.trim_end());
            out.push('\n');
        }
    }
    out
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
            Some(name) => format!("{} ({})", one_line(name), one_line(&info.tenant_id)),
            None => one_line(&info.tenant_id),
        };
        out.push_str(&format!(
            "m365guard {} scan of {}, snapshot {}",
            info.tool_version,
            tenant,
            one_line(&info.snapshot_path)
        ));
        out.push_str("\n\n");

        let failing = findings_by_severity(result, false);
        if failing.is_empty() {
            out.push_str("No findings.\n");
        } else {
            let mut table = Table::new();
            table.load_preset(presets::UTF8_FULL_CONDENSED);
            table.set_header(vec!["Severity", "Rule", "Resource", "Message"]);
            for group in group_by_rule(&failing) {
                for (_, finding) in group.iter().take(GROUP_LISTED) {
                    // The rule's framework ids under its id, compact ("MS.EXO.1.1v1~, CIS 6.2.1~").
                    let mut rule = bounded(&finding.rule_id, RULE_MAX_CHARS, 1, false);
                    let controls = super::control_labels_compact(result, &finding.rule_id);
                    if !controls.is_empty() {
                        rule.push('\n');
                        rule.push_str(&bounded(&controls.join(", "), RULE_MAX_CHARS, 1, false));
                    }
                    table.add_row(vec![
                        finding.severity.as_str().to_string(),
                        rule,
                        bounded(&finding.resource.name, RESOURCE_MAX_CHARS, 1, false),
                        bounded(&finding.message, MESSAGE_MAX_CHARS, CELL_MAX_LINES, true),
                    ]);
                }
                if group.len() > GROUP_LISTED {
                    table.add_row(vec![
                        String::new(),
                        String::new(),
                        format!("… {} more", group.len() - GROUP_LISTED),
                        group_summary(&group),
                    ]);
                }
            }
            match options.width {
                // A known terminal width: the table is laid out to fit it, wrapping the
                // message and resource columns (the full text is in the JSON report).
                Some(width) => {
                    table.set_content_arrangement(ContentArrangement::Dynamic);
                    table.set_width(u16::try_from(width.max(MIN_WIDTH)).unwrap_or(u16::MAX));
                    // Rule (3/10) and resource (2/10) get a share each, the message the rest.
                    for (index, tenths, max) in [(1, 3, RULE_WIDTH), (2, 2, RESOURCE_WIDTH)] {
                        let bound = u16::try_from(width.max(MIN_WIDTH) * tenths / 10)
                            .unwrap_or(max)
                            .min(max);
                        if let Some(column) = table.column_mut(index) {
                            column.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(
                                bound,
                            )));
                        }
                    }
                }
                // Without the `tty` feature comfy-table cannot see the terminal width, so
                // long names and messages wrap inside fixed column bounds instead of the
                // terminal wrapping whole rows.
                None => {
                    for (index, max) in [(2, RESOURCE_WIDTH), (3, MESSAGE_WIDTH)] {
                        if let Some(column) = table.column_mut(index) {
                            column
                                .set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(max)));
                        }
                    }
                }
            }
            out.push_str(&table.to_string());
            out.push('\n');
            if failing.iter().any(|(_, f)| {
                super::control_labels_compact(result, &f.rule_id)
                    .iter()
                    .any(|c| c.ends_with('~'))
            }) {
                out.push_str(
                    "Framework ids under each rule (ScubaGear MS.*, CIS); ~ = checked partially.\n",
                );
            }
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

        let fixable: Vec<&RuleOutcome> = findings_by_severity(result, false)
            .into_iter()
            .filter(|(o, _)| o.rule.fix_action.is_some())
            .map(|(o, _)| o)
            .collect();
        if !fixable.is_empty() {
            let mut rules: Vec<&str> = fixable.iter().map(|o| o.rule.id.as_str()).collect();
            rules.sort_unstable();
            rules.dedup();
            out.push_str(&format!(
                "\n{} finding(s) have an automatic fix: {} (then review and `{}`)\n",
                fixable.len(),
                commands::fix_plan(&result.info, &result.info.snapshot_path, &rules),
                commands::fix_apply("plan.json", result.info.config_path.as_deref())
            ));
        }
        out.push('\n');
        out.push_str(&totals_line(result));
        out.push('\n');
        let out = match options.width {
            Some(width) => wrap_lines(&out, width.max(MIN_WIDTH)),
            None => out,
        };
        let out = if options.color { colourise(&out) } else { out };
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_and_wrap() {
        assert_eq!(plural("user"), "users");
        assert_eq!(plural("mailbox"), "mailboxes");
        assert_eq!(
            plural("conditional access policy"),
            "conditional access policies"
        );
        let wrapped = wrap_lines(&format!("alpha beta gamma {}\n", "x".repeat(25)), 12);
        assert_eq!(
            wrapped,
            "alpha beta\n    gamma\n    xxxxxxxx\n    xxxxxxxx\n    xxxxxxxx\n    x\n"
        );
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 12, "{line}");
        }
        // Table lines are left alone (comfy-table laid them out).
        let table_line = format!("│ {} │\n", "y".repeat(30));
        assert_eq!(wrap_lines(&table_line, 12), table_line);
    }

    /// On an 80-column terminal every line fits, and a rule with many findings lists the
    /// first few and counts the rest.
    #[test]
    fn narrow_terminal_fits_and_groups_many_findings() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join("contoso-compromised.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let pack = crate::policy::pack::load(&[], crate::policy::pack::Builtin::All).unwrap();
        let result =
            crate::scan::scan_text(&path, &text, &pack, &crate::scan::ScanSettings::default())
                .unwrap()
                .result;
        let mfa = result
            .outcomes
            .iter()
            .find(|o| o.rule.id == "mfa_not_enforced")
            .unwrap()
            .findings
            .len();
        assert!(
            mfa > GROUP_LISTED,
            "the example must have many mfa findings"
        );
        for width in [80, 100] {
            let rendered = TableReporter
                .render(
                    &result,
                    &RenderOptions {
                        color: false,
                        width: Some(width),
                    },
                )
                .unwrap();
            let rendered = String::from_utf8(rendered).unwrap();
            for line in rendered.lines() {
                assert!(line.chars().count() <= width, "{width}: {line}");
            }
            let rows = rendered
                .lines()
                .filter(|l| l.starts_with("│ high") && l.contains("mfa_not_enforc"))
                .count();
            assert_eq!(rows, GROUP_LISTED, "{rendered}");
            assert!(
                rendered.contains(&format!("… {} more", mfa - GROUP_LISTED)),
                "{rendered}"
            );
            let flat = rendered.replace(['│', '┆'], " ");
            let flat: Vec<&str> = flat.split_whitespace().collect();
            assert!(
                flat.join(" ").contains(&format!(
                    "mfa_not_enforced: {mfa} users — first {GROUP_LISTED} listed"
                )),
                "{rendered}"
            );
        }
    }

    #[test]
    fn truncate_cuts_by_characters_and_lines() {
        assert_eq!(truncate("abcdef", 3, 1), "abc");
        assert_eq!(truncate("abc", 3, 1), "abc");
        assert_eq!(truncate("ééé", 2, 1), "éé");
        assert_eq!(truncate("a\nb\nc", 10, 2), "a\nb");
        assert_eq!(bounded("abcdef", 4, 1, false), "abc…");
        assert_eq!(bounded("abcd", 4, 1, false), "abcd");
        assert_eq!(bounded("a\nb\nc", 100, 2, true), "a\n…");
        // An escaped control character grows; the cleaned text is still bounded.
        assert_eq!(bounded(&"\u{7}".repeat(10), 8, 1, false).chars().count(), 8);
    }

    /// A tenant whose display name and an inbox-rule name are 1 MB each (attacker
    /// controlled) renders a table whose size does not depend on those lengths.
    #[test]
    fn megabyte_names_render_a_bounded_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join("contoso-compromised.json");
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let huge = "Ω".repeat(1 << 19) + "\n\t\u{1b}[31m" + &"x".repeat(1 << 19);
        doc["tenant"]["display_name"] = serde_json::Value::from(huge.clone());
        let rules = doc["inbox_rules"].as_array_mut().unwrap();
        for rule in rules.iter_mut() {
            rule["name"] = serde_json::Value::from(huge.clone());
        }
        let text = serde_json::to_string(&doc).unwrap();
        let pack = crate::policy::pack::load(&[], crate::policy::pack::Builtin::All).unwrap();
        let output =
            crate::scan::scan_text(&path, &text, &pack, &crate::scan::ScanSettings::default())
                .unwrap();
        let long_names = output
            .result
            .outcomes
            .iter()
            .flat_map(|o| &o.findings)
            .filter(|f| f.resource.name.len() > 1 << 20)
            .count();
        assert!(
            long_names > 0,
            "the test must produce findings on the 1 MB names"
        );

        for color in [false, true] {
            let rendered = TableReporter
                .render(&output.result, &RenderOptions { color, width: None })
                .unwrap();
            let rendered = String::from_utf8(rendered).unwrap();
            let findings = output.result.totals().findings;
            // Header, borders and sections: a small constant plus a bounded row per finding.
            let bound = 4096 + findings * 64 * 1024;
            assert!(
                rendered.len() < bound,
                "{} bytes for {findings} findings",
                rendered.len()
            );
            for line in rendered.lines() {
                assert!(line.len() < 4096, "line of {} bytes", line.len());
            }
            assert!(
                rendered.contains('…'),
                "long values are cut with an ellipsis"
            );
            assert!(!rendered.contains('\u{1b}') || color);
        }
    }
}
