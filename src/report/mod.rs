//! Reporters: one file per output format behind one trait. They only render a
//! `ScanResult`; they never evaluate rules.

use crate::findings::ScanResult;

mod changes;
pub mod commands;
pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod ocsf;
pub mod sarif;
pub mod table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    Markdown,
    Html,
    /// One row per finding (spreadsheets, ticket imports).
    Csv,
    /// OCSF "Compliance Finding" events (class 2003) for SIEMs.
    Ocsf,
}

impl Format {
    /// File name under `--out DIR`.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Table => "m365guard.txt",
            Format::Json => "m365guard.json",
            Format::Sarif => "m365guard.sarif",
            Format::Junit => "m365guard.junit.xml",
            Format::Markdown => "m365guard.md",
            Format::Html => "m365guard.html",
            Format::Csv => "m365guard.csv",
            Format::Ocsf => "m365guard.ocsf.json",
        }
    }

    pub fn reporter(self) -> &'static dyn Reporter {
        match self {
            Format::Table => &table::TableReporter,
            Format::Json => &json::JsonReporter,
            Format::Sarif => &sarif::SarifReporter,
            Format::Junit => &junit::JunitReporter,
            Format::Markdown => &markdown::MarkdownReporter,
            Format::Html => &html::HtmlReporter,
            Format::Csv => &csv::CsvReporter,
            Format::Ocsf => &ocsf::OcsfReporter,
        }
    }
}

/// Rendering options that are not part of the result.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// ANSI colours (terminal table on a TTY only).
    pub color: bool,
    /// Width the terminal table must fit in, in columns (the terminal's, or `COLUMNS`);
    /// `None`: fixed column bounds (files, pipes).
    pub width: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render {format} report: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
}

/// "ScubaGear MS.AAD.3.6v1 (full)": a rule's framework controls, one label each, in the
/// order the baselines list them (ScubaGear and CIS ids live only in baselines/*.toml).
pub(crate) fn control_labels(result: &ScanResult, rule_id: &str) -> Vec<String> {
    result
        .controls
        .get(rule_id)
        .into_iter()
        .flatten()
        .map(|c| format!("{} {} ({})", c.framework, c.control, c.coverage.as_str()))
        .collect()
}

/// The compact form for the terminal table: "MS.AAD.3.6v1, CIS 6.2.1~" — ScubaGear ids
/// carry their framework in their shape, other frameworks are prefixed; `~` marks partial.
pub(crate) fn control_labels_compact(result: &ScanResult, rule_id: &str) -> Vec<String> {
    result
        .controls
        .get(rule_id)
        .into_iter()
        .flatten()
        .map(|c| {
            let partial = match c.coverage {
                crate::baseline::Coverage::Full => "",
                crate::baseline::Coverage::Partial => "~",
            };
            if c.control.starts_with("MS.") {
                format!("{}{partial}", c.control)
            } else {
                format!(
                    "{} {}{partial}",
                    c.framework.split(' ').next().unwrap_or(""),
                    c.control
                )
            }
        })
        .collect()
}

pub trait Reporter: Sync {
    fn render(&self, result: &ScanResult, options: &RenderOptions) -> Result<Vec<u8>, ReportError>;
}

/// The findings that carry activity, with their events as one line each
/// (`activity::describe`), in report order: (rule id, resource name, lines).
pub(crate) fn findings_with_activity(result: &ScanResult) -> Vec<(&str, &str, Vec<String>)> {
    result
        .outcomes
        .iter()
        .flat_map(|o| o.findings.iter())
        .filter_map(|f| {
            let events = f.activity.as_ref().filter(|a| !a.is_empty())?;
            Some((
                f.rule_id.as_str(),
                f.resource.name.as_str(),
                events.iter().map(crate::activity::describe).collect(),
            ))
        })
        .collect()
}

/// The terminal summary's activity block (`scan --with-activity`): the headline (with
/// any source that could not be read) and every finding's events.
pub fn activity_lines(result: &ScanResult, summary: &crate::activity::ActivitySummary) -> String {
    let mut out = format!("{}\n", summary.headline());
    for (rule, name, events) in findings_with_activity(result) {
        for event in events {
            out.push_str(&format!("  {rule} {name}: {event}\n"));
        }
    }
    out
}
