//! An error located in a user-supplied file: `path:line:col: message`, then the offending
//! source line with a caret under the column. Used for rule.toml, Rego, baselines and
//! m365guard.toml so every bad input names exactly where to look.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based; `None` when the problem is about the file as a whole.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub message: String,
    /// The source line, for the caret display.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn whole_file(path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: path.to_owned(),
            line: None,
            column: None,
            message: message.into(),
            source_line: None,
        }
    }

    pub fn at(
        path: &Path,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            path: path.to_owned(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
            source_line: text.lines().nth(line.saturating_sub(1)).map(str::to_owned),
        }
    }

    /// Locate a byte span (as TOML and JSON parsers report) in `text`.
    pub fn from_span(
        path: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Diagnostic {
        match span {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                Diagnostic::at(path, text, line, column, message)
            }
            None => Diagnostic::whole_file(path, message),
        }
    }
}

/// 1-based line and column (in chars) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let (Some(src), Some(col)) = (&self.source_line, self.column) {
            let gutter = self.line.map_or(0, |l| l.to_string().len());
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {:>col$}",
                "",
                self.line.unwrap_or(0),
                src,
                "",
                "^"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_maps_to_line_and_column_with_caret() {
        let text = "a = 1\nseverity = \"severe\"\n";
        let d = Diagnostic::from_span(Path::new("r.toml"), text, Some(17..25), "bad");
        assert_eq!((d.line, d.column), (Some(2), Some(12)));
        assert_eq!(
            d.to_string(),
            "r.toml:2:12: bad\n  |\n2 | severity = \"severe\"\n  |            ^"
        );
    }
}
