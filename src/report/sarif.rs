//! Sarif report (placeholder until implemented).

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::ScanResult;

pub struct SarifReporter;

impl Reporter for SarifReporter {
    fn render(&self, _result: &ScanResult, _options: &RenderOptions) -> Result<Vec<u8>, ReportError> {
        Err(ReportError::Render { format: "sarif", message: "not implemented yet".into() })
    }
}
