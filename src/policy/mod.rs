//! The policy engine: rule packs (`pack`), their metadata (`metadata`), evaluation of a
//! snapshot with regorus (`evaluate`) and the Rego unit-test runner (`testing`).

pub mod builtins;
pub mod evaluate;
pub mod input;
pub mod metadata;
pub mod pack;
pub mod testing;

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Diagnostic(#[from] Diagnostic),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A Rego syntax or compile error; regorus' message already carries file:line:col.
    #[error("{message}")]
    Rego { message: String },
    #[error("rule `{rule}` failed to evaluate: {message}")]
    Eval { rule: String, message: String },
    #[error("rule `{rule}` returned a malformed finding: {message}")]
    BadFinding { rule: String, message: String },
    #[error("unknown rule id `{0}` (see `m365guard rules list`)")]
    UnknownRule(String),
}
