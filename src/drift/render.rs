//! Renderers for a [`Drift`]: an aligned plain-text report for terminals, JSON for tools,
//! and Markdown sized for a CI job summary (long lists are cut, with a pointer to JSON).
//!
//! Every format has the same sections in the same order: unknown sources, new findings,
//! fixed findings, findings not compared, then the resource changes (those with new or
//! fixed findings first).

use std::fmt::Write as _;

use chrono::SecondsFormat;
use serde_json::Value;

use super::{Change, Drift, RuleHit, SourceSide, UnknownSource};
use crate::findings::Finding;

/// Longest value shown in table and Markdown output; JSON always has the full value.
const MAX_VALUE_CHARS: usize = 80;
/// Rows per Markdown section: GitHub job summaries are capped at 1 MiB.
const MAX_MARKDOWN_ROWS: usize = 300;
/// Field changes shown per Markdown row.
const MAX_MARKDOWN_FIELDS: usize = 6;
/// A text column stops growing here; longer cells push their row.
const MAX_COLUMN_WIDTH: usize = 48;

fn timestamp(drift: &Drift, new: bool) -> String {
    let info = if new { &drift.new } else { &drift.old };
    info.collected_at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn headline(drift: &Drift) -> String {
    let f = &drift.findings;
    let mut text = format!(
        "findings: {} new, {} fixed, {} still open; {}, {} with new or fixed findings",
        f.new.len(),
        f.fixed.len(),
        f.unchanged.len() + f.updated.len(),
        plural(drift.changes.len(), "change", "changes"),
        drift.security_relevant().count(),
    );
    if !drift.unknown.is_empty() {
        let _ = write!(
            text,
            "; {} unknown",
            plural(drift.unknown.len(), "source", "sources")
        );
    }
    text
}

/// Compact JSON, cut to `MAX_VALUE_CHARS`.
fn short_value(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn side_text(side: &SourceSide) -> String {
    let status = side.status.map_or("missing", |s| match s {
        crate::snapshot::SourceState::Ok => "ok",
        crate::snapshot::SourceState::Unavailable => "unavailable",
        crate::snapshot::SourceState::Error => "error",
    });
    match &side.reason {
        Some(reason) => format!("{status} ({reason})"),
        None => status.to_owned(),
    }
}

/// "mailboxes: old ok, new error (403 …); not compared: mailbox".
fn unknown_text(u: &UnknownSource) -> String {
    format!(
        "{}: old {}, new {}; not compared: {}",
        u.source,
        side_text(&u.old),
        side_text(&u.new),
        u.not_compared.join(", ")
    )
}

fn hits(list: &[RuleHit], rule: fn(&str) -> String) -> String {
    list.iter()
        .map(|h| format!("{} ({})", rule(&h.rule_id), h.severity))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "new: rule (critical); fixed: rule (high)", rule ids formatted by `rule`.
fn rules_with(c: &Change, rule: fn(&str) -> String) -> String {
    let mut parts = Vec::new();
    if !c.new_findings.is_empty() {
        parts.push(format!("new: {}", hits(&c.new_findings, rule)));
    }
    if !c.fixed_findings.is_empty() {
        parts.push(format!("fixed: {}", hits(&c.fixed_findings, rule)));
    }
    parts.join("; ")
}

fn rules_text(c: &Change) -> String {
    rules_with(c, str::to_owned)
}

fn severity_text(c: &Change) -> &'static str {
    match c.severity() {
        Some(s) => s.as_str(),
        None if !c.fixed_findings.is_empty() => "fixed",
        None => "-",
    }
}

fn resource_text(f: &Finding) -> String {
    format!("{} {}", f.resource.kind, f.resource.name)
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Column widths for `rows` under `header`, each capped at `MAX_COLUMN_WIDTH`; the last
/// column is never padded.
fn widths<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> [usize; N] {
    let mut w = header.map(width);
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            w[i] = w[i].max(width(cell).min(MAX_COLUMN_WIDTH));
        }
    }
    w
}

fn row<const N: usize>(out: &mut String, w: &[usize; N], cells: [&str; N]) {
    for (i, cell) in cells.iter().enumerate() {
        if i + 1 == N {
            out.push_str(cell);
        } else {
            out.push_str(cell);
            for _ in width(cell)..w[i] {
                out.push(' ');
            }
            out.push_str("  ");
        }
    }
    // Trailing blanks of an empty last cell are noise.
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
}

fn finding_table(out: &mut String, title: &str, findings: &[&Finding]) {
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}):", findings.len());
    let header = ["SEVERITY", "RULE", "RESOURCE", "MESSAGE"];
    let rows: Vec<[String; 4]> = findings
        .iter()
        .map(|f| {
            [
                f.severity.as_str().to_owned(),
                f.rule_id.clone(),
                resource_text(f),
                f.message.clone(),
            ]
        })
        .collect();
    let w = widths(header, &rows);
    row(out, &w, header);
    for r in &rows {
        row(out, &w, [&r[0], &r[1], &r[2], &r[3]]);
    }
}

/// Plain text, aligned columns; each change's fields follow on indented lines.
pub fn table(drift: &Drift) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Drift for tenant {}: {} → {}",
        drift.new.tenant_id,
        timestamp(drift, false),
        timestamp(drift, true)
    );
    let _ = writeln!(out, "{}", headline(drift));
    if !drift.unknown.is_empty() {
        out.push_str("\nUnknown sources (their data is not compared):\n");
        for u in &drift.unknown {
            let _ = writeln!(out, "  {}", unknown_text(u));
        }
    }
    let f = &drift.findings;
    finding_table(&mut out, "New findings", &f.new.iter().collect::<Vec<_>>());
    finding_table(
        &mut out,
        "Fixed findings",
        &f.fixed.iter().collect::<Vec<_>>(),
    );
    let not_compared: Vec<&Finding> = f.not_compared.iter().map(|n| &n.finding).collect();
    finding_table(
        &mut out,
        "Findings not compared (the rule could not run on the other snapshot)",
        &not_compared,
    );
    if drift.changes.is_empty() {
        out.push_str("\nNo changes.\n");
        return out;
    }

    out.push('\n');
    let header = ["KIND", "ADDED", "REMOVED", "CHANGED"];
    let rows: Vec<[String; 4]> = drift
        .summary
        .iter()
        .map(|s| {
            [
                s.kind.to_string(),
                s.added.to_string(),
                s.removed.to_string(),
                s.changed.to_string(),
            ]
        })
        .collect();
    let w = widths(header, &rows);
    row(&mut out, &w, header);
    for r in &rows {
        row(&mut out, &w, [&r[0], &r[1], &r[2], &r[3]]);
    }

    out.push('\n');
    let header = ["SEVERITY", "CHANGE", "KIND", "RESOURCE", "FINDINGS"];
    let rows: Vec<[String; 5]> = drift
        .changes
        .iter()
        .map(|c| {
            [
                severity_text(c).to_owned(),
                c.change.as_str().to_owned(),
                c.kind.to_string(),
                c.label.clone(),
                rules_text(c),
            ]
        })
        .collect();
    let w = widths(header, &rows);
    row(&mut out, &w, header);
    let indent = w[0] + w[1] + w[2] + 6;
    for (c, r) in drift.changes.iter().zip(&rows) {
        row(&mut out, &w, [&r[0], &r[1], &r[2], &r[3], &r[4]]);
        for f in &c.fields {
            let _ = writeln!(
                out,
                "{:indent$}· {}: {} → {}",
                "",
                f.path,
                short_value(&f.old),
                short_value(&f.new)
            );
        }
    }
    out
}

/// Pretty JSON of the whole `Drift`, newline-terminated.
pub fn json(drift: &Drift) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(drift)?;
    text.push('\n');
    Ok(text)
}

/// Escape text for a Markdown table cell: no line breaks, no pipes, no inline markup.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// A code span holding `s` (any backticks inside are fenced by longer runs).
fn md_code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest == 0 {
        format!("{fence}{s}{fence}")
    } else {
        format!("{fence} {s} {fence}")
    }
}

fn md_fields(c: &Change) -> String {
    let mut parts: Vec<String> = c
        .fields
        .iter()
        .take(MAX_MARKDOWN_FIELDS)
        .map(|f| {
            format!(
                "{}: {} → {}",
                md_code(&f.path),
                md_code(&short_value(&f.old)),
                md_code(&short_value(&f.new))
            )
        })
        .collect();
    if c.fields.len() > MAX_MARKDOWN_FIELDS {
        parts.push(format!("and {} more", c.fields.len() - MAX_MARKDOWN_FIELDS));
    }
    parts.join("<br>")
}

fn md_more(out: &mut String, total: usize) {
    if total > MAX_MARKDOWN_ROWS {
        let _ = writeln!(
            out,
            "\n…and {} more; run `m365guard diff --format json` for the full list.",
            total - MAX_MARKDOWN_ROWS
        );
    }
}

fn md_findings(out: &mut String, title: &str, findings: &[&Finding]) {
    if findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {title} ({})\n", findings.len());
    out.push_str("| Severity | Rule | Resource | Message |\n|---|---|---|---|\n");
    for f in findings.iter().take(MAX_MARKDOWN_ROWS) {
        let _ = writeln!(
            out,
            "| **{}** | {} | {} | {} |",
            f.severity,
            md_code(&f.rule_id),
            md_text(&resource_text(f)),
            md_text(&f.message)
        );
    }
    md_more(out, findings.len());
}

/// Markdown for a CI job summary or a pull-request comment.
pub fn markdown(drift: &Drift) -> String {
    let mut out = String::new();
    out.push_str("## m365guard drift\n\n");
    let _ = writeln!(
        out,
        "Tenant {} · {} → {} · {}",
        md_code(&drift.new.tenant_id),
        timestamp(drift, false),
        timestamp(drift, true),
        headline(drift)
    );
    if !drift.unknown.is_empty() {
        out.push_str("\n**Unknown sources** (their data is not compared):\n\n");
        for u in &drift.unknown {
            let _ = writeln!(out, "- {}", md_text(&unknown_text(u)));
        }
    }
    let f = &drift.findings;
    md_findings(&mut out, "New findings", &f.new.iter().collect::<Vec<_>>());
    md_findings(
        &mut out,
        "Fixed findings",
        &f.fixed.iter().collect::<Vec<_>>(),
    );
    let not_compared: Vec<&Finding> = f.not_compared.iter().map(|n| &n.finding).collect();
    md_findings(
        &mut out,
        "Findings not compared (the rule could not run on the other snapshot)",
        &not_compared,
    );
    if drift.changes.is_empty() {
        out.push_str("\nNo changes.\n");
        return out;
    }

    out.push_str("\n### Changes\n\n");
    out.push_str("| Resource | Added | Removed | Changed |\n|---|---:|---:|---:|\n");
    for s in &drift.summary {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            s.kind, s.added, s.removed, s.changed
        );
    }

    let relevant: Vec<&Change> = drift.security_relevant().collect();
    if !relevant.is_empty() {
        let _ = writeln!(
            out,
            "\n### Changes with new or fixed findings ({})\n",
            relevant.len()
        );
        out.push_str(
            "| Severity | Change | Resource | Findings | Fields |\n|---|---|---|---|---|\n",
        );
        for c in relevant.iter().take(MAX_MARKDOWN_ROWS) {
            let _ = writeln!(
                out,
                "| **{}** | {} | {}: {} | {} | {} |",
                severity_text(c),
                c.change.as_str(),
                c.kind,
                md_text(&c.label),
                rules_with(c, md_code),
                md_fields(c)
            );
        }
        md_more(&mut out, relevant.len());
    }

    let other: Vec<&Change> = drift.other().collect();
    if !other.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Other changes ({})</summary>\n",
            other.len()
        );
        out.push_str("| Change | Resource | Fields |\n|---|---|---|\n");
        for c in other.iter().take(MAX_MARKDOWN_ROWS) {
            let _ = writeln!(
                out,
                "| {} | {}: {} | {} |",
                c.change.as_str(),
                c.kind,
                md_text(&c.label),
                md_fields(c)
            );
        }
        md_more(&mut out, other.len());
        out.push_str("\n</details>\n");
    }
    out
}
