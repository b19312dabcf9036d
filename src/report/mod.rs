//! Reporters: one file per output format behind one trait. They only render a
//! `ScanResult`; they never evaluate rules.

use crate::findings::ScanResult;

pub mod commands;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
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
        }
    }
}

/// Rendering options that are not part of the result.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// ANSI colours (terminal table on a TTY only).
    pub color: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render {format} report: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
}

pub trait Reporter: Sync {
    fn render(&self, result: &ScanResult, options: &RenderOptions) -> Result<Vec<u8>, ReportError>;
}
