//! An error located in a user-supplied file: `path:line:col: message`, then the offending
//! source line with a caret under the column. Used for rule.toml, Rego, baselines and
//! m365guard.toml so every bad input names exactly where to look.
//!
//! A diagnostic never shows a value whose key looks like a secret (`client_secret`,
//! `"client_secret"`, `connection.client_secret`, `secret`, `clientSecret`, `CLIENT-SECRET`,
//! `AZURE_CLIENT_SECRET`, passwords, tokens, …), wherever the key sits (a table, a dotted
//! key, an inline table) and however the value continues (multi-line strings, arrays): the
//! caret line shows the key and `"***"`, and the message has the value replaced. Files
//! end up in CI logs; a secret pasted into the wrong file must not follow it there.

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
            message: redact_message(text, message.into()),
            source_line: text
                .lines()
                .nth(line.saturating_sub(1))
                .map(|src| redact_line(text, line, src)),
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

/// Whether a key (one segment of a possibly dotted, possibly quoted TOML key) names a
/// secret. Separators and case are ignored, so `clientSecret`, `client-secret` and
/// `AZURE_CLIENT_SECRET` all count.
pub fn is_secret_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        "secret",
        "password",
        "passwd",
        "token",
        "apikey",
        "privatekey",
        "assertion",
        "credential",
    ]
    .iter()
    .any(|word| k.contains(word))
}

/// Byte index of the `=` that follows a secret-looking key on `line`, if any: the text
/// before each `=` is read back to its last key segment (quotes and dots stripped).
fn secret_assignment(line: &str) -> Option<usize> {
    line.match_indices('=').map(|(i, _)| i).find(|&i| {
        let before = line[..i].trim_end().trim_end_matches(['"', '\'']);
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .map_or(0, |j| j + 1);
        is_secret_key(&before[start..])
    })
}

/// Lines (0-based, inclusive ranges) that hold the value of a secret-looking key: the
/// assignment line and, for a value that continues (a multi-line string, an array or
/// inline table left open), every line up to where it closes — or to the end of the file
/// when it never closes (the syntax error such files produce must not show it either).
fn secret_lines(text: &str) -> Vec<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut regions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(eq) = secret_assignment(lines[i]) else {
            i += 1;
            continue;
        };
        let value = lines[i][eq + 1..].trim_start();
        let closer = if let Some(q) = ["\"\"\"", "'''"].into_iter().find(|q| value.starts_with(q)) {
            (!value[3..].contains(q)).then_some(q)
        } else if value.starts_with('[') && !value.contains(']') {
            Some("]")
        } else if value.starts_with('{') && !value.contains('}') {
            Some("}")
        } else {
            None
        };
        let end = match closer {
            Some(q) => (i + 1..lines.len())
                .find(|&j| lines[j].contains(q))
                .unwrap_or(lines.len().saturating_sub(1)),
            None => i,
        };
        regions.push((i, end));
        i = end + 1;
    }
    regions
}

/// Line `number` (1-based) of `text` as it may be shown.
fn redact_line(text: &str, number: usize, line: &str) -> String {
    let index = number.saturating_sub(1);
    let Some(&(first, _)) = secret_lines(text)
        .iter()
        .find(|(a, b)| (*a..=*b).contains(&index))
    else {
        return line.to_owned();
    };
    match secret_assignment(line).filter(|_| first == index) {
        Some(eq) => format!("{} \"***\"", &line[..=eq]),
        None => "***".to_owned(),
    }
}

/// `message` with every secret value of `text` replaced by `***` (a parser message may
/// quote the value it choked on).
pub fn redact_message(text: &str, mut message: String) -> String {
    let lines: Vec<&str> = text.lines().collect();
    for (first, last) in secret_lines(text) {
        for (j, line) in lines.iter().enumerate().take(last + 1).skip(first) {
            let value = match secret_assignment(line).filter(|_| j == first) {
                Some(eq) => &line[eq + 1..],
                None => line,
            };
            for part in value.split(['"', '\'', ',', '{', '}', '[', ']', '=']) {
                let part = part.trim();
                if part.chars().count() >= 4 && message.contains(part) {
                    message = message.replace(part, "***");
                }
            }
        }
    }
    message
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
