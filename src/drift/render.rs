//! Renderers for `Changes`: an aligned plain-text table for terminals, JSON for tools, and
//! Markdown sized for a CI job summary (long lists are cut, with a pointer to JSON).

use std::fmt::Write as _;

use chrono::SecondsFormat;
use serde_json::Value;

use super::{Change, Changes};

/// Longest value shown in table and Markdown output; JSON always has the full value.
const MAX_VALUE_CHARS: usize = 80;
/// Rows per Markdown section: GitHub job summaries are capped at 1 MiB.
const MAX_MARKDOWN_ROWS: usize = 300;
/// Field changes shown per Markdown row.
const MAX_MARKDOWN_FIELDS: usize = 6;
/// The resource column of the table stops growing here; longer labels push their row.
const MAX_RESOURCE_WIDTH: usize = 48;

fn timestamp(changes: &Changes, new: bool) -> String {
    let info = if new { &changes.new } else { &changes.old };
    info.collected_at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn headline(changes: &Changes) -> String {
    let relevant = changes.security_relevant().count();
    format!(
        "{} change{}, {relevant} security-relevant",
        changes.changes.len(),
        if changes.changes.len() == 1 { "" } else { "s" }
    )
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

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(out: &mut String, s: &str, w: usize) {
    out.push_str(s);
    for _ in width(s)..w {
        out.push(' ');
    }
}

/// Plain text, aligned columns; each change's fields follow on indented lines.
pub fn table(changes: &Changes) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Drift for tenant {}: {} → {}",
        changes.new.tenant_id,
        timestamp(changes, false),
        timestamp(changes, true)
    );
    let _ = writeln!(out, "{}", headline(changes));
    if changes.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }

    out.push('\n');
    let kind_w = changes
        .summary
        .iter()
        .map(|s| width(s.kind.as_str()))
        .chain([width("KIND")])
        .max()
        .unwrap_or(0);
    pad(&mut out, "KIND", kind_w);
    out.push_str("    ADDED  REMOVED  CHANGED\n");
    for s in &changes.summary {
        pad(&mut out, s.kind.as_str(), kind_w);
        let _ = writeln!(out, "  {:>7}  {:>7}  {:>7}", s.added, s.removed, s.changed);
    }

    out.push('\n');
    let kind_w = changes
        .changes
        .iter()
        .map(|c| width(c.kind.as_str()))
        .chain([width("KIND")])
        .max()
        .unwrap_or(0);
    let resource_w = changes
        .changes
        .iter()
        .map(|c| width(&c.label).min(MAX_RESOURCE_WIDTH))
        .chain([width("RESOURCE")])
        .max()
        .unwrap_or(0);
    const RELEVANCE_W: usize = 9; // "critical" + 1
    const CHANGE_W: usize = 8; // "removed" + 1
    let row = |out: &mut String, cells: [&str; 5]| {
        pad(out, cells[0], RELEVANCE_W);
        out.push(' ');
        pad(out, cells[1], CHANGE_W);
        out.push(' ');
        pad(out, cells[2], kind_w);
        out.push_str("  ");
        if cells[4].is_empty() {
            out.push_str(cells[3]);
        } else {
            pad(out, cells[3], resource_w);
            out.push_str("  ");
            out.push_str(cells[4]);
        }
        out.push('\n');
    };
    row(
        &mut out,
        ["RELEVANCE", "CHANGE", "KIND", "RESOURCE", "WHY IT MATTERS"],
    );
    let indent = RELEVANCE_W + 1 + CHANGE_W + 1 + kind_w + 2;
    for c in &changes.changes {
        row(
            &mut out,
            [
                c.relevance.as_str(),
                c.change.as_str(),
                c.kind.as_str(),
                &c.label,
                c.why.as_deref().unwrap_or(""),
            ],
        );
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

/// Pretty JSON of the whole `Changes`, newline-terminated.
pub fn json(changes: &Changes) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(changes)?;
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

/// Markdown for a CI job summary or a pull-request comment.
pub fn markdown(changes: &Changes) -> String {
    let mut out = String::new();
    out.push_str("## m365guard drift\n\n");
    let _ = writeln!(
        out,
        "Tenant {} · {} → {} · {}\n",
        md_code(&changes.new.tenant_id),
        timestamp(changes, false),
        timestamp(changes, true),
        headline(changes)
    );
    if changes.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }

    out.push_str("| Resource | Added | Removed | Changed |\n|---|---:|---:|---:|\n");
    for s in &changes.summary {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            s.kind, s.added, s.removed, s.changed
        );
    }

    let relevant: Vec<&Change> = changes.security_relevant().collect();
    if !relevant.is_empty() {
        let _ = writeln!(
            out,
            "\n### Security-relevant changes ({})\n",
            relevant.len()
        );
        out.push_str(
            "| Relevance | Change | Resource | Why it matters | Fields |\n|---|---|---|---|---|\n",
        );
        for c in relevant.iter().take(MAX_MARKDOWN_ROWS) {
            let _ = writeln!(
                out,
                "| **{}** | {} | {}: {} | {} | {} |",
                c.relevance.as_str(),
                c.change.as_str(),
                c.kind,
                md_text(&c.label),
                md_text(c.why.as_deref().unwrap_or("")),
                md_fields(c)
            );
        }
        md_more(&mut out, relevant.len());
    }

    let other: Vec<&Change> = changes.other().collect();
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
