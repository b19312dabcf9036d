//! Junit report (placeholder until implemented).

use super::{RenderOptions, ReportError, Reporter};
use crate::findings::ScanResult;

pub struct JunitReporter;

impl Reporter for JunitReporter {
    fn render(&self, _result: &ScanResult, _options: &RenderOptions) -> Result<Vec<u8>, ReportError> {
        Err(ReportError::Render { format: "junit", message: "not implemented yet".into() })
    }
}
