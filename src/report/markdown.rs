//! Markdown report (placeholder until implemented).

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::ScanResult;

pub struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn render(&self, _result: &ScanResult, _options: &RenderOptions) -> Result<Vec<u8>, ReportError> {
        Err(ReportError::Render { format: "markdown", message: "not implemented yet".into() })
    }
}
