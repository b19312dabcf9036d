//! Json report (placeholder until implemented).

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::ScanResult;

pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn render(&self, _result: &ScanResult, _options: &RenderOptions) -> Result<Vec<u8>, ReportError> {
        Err(ReportError::Render { format: "json", message: "not implemented yet".into() })
    }
}
