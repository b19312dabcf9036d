//! Table report (placeholder until implemented).

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::ScanResult;

pub struct TableReporter;

impl Reporter for TableReporter {
    fn render(&self, _result: &ScanResult, _options: &RenderOptions) -> Result<Vec<u8>, ReportError> {
        Err(ReportError::Render { format: "table", message: "not implemented yet".into() })
    }
}
