//! The audit log: one JSON object per line per action attempt, appended and fsync'd
//! before the next action starts, so a run killed at any point leaves valid JSONL that
//! says exactly what was done.
//!
//! Opened like the password file ([`super::password::open_private_append`]): never
//! through a symlink, only a regular file this user owns, created 0600; an existing log
//! readable by others is tightened to 0600 (it holds tenant state, not secrets).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::actions::ActionKind;
use super::plan::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written and verified by reading back.
    Applied,
    /// The live state already was the target state.
    AlreadyDone,
    /// Not attempted: the target changed since the plan, is gone, or a dependency failed.
    Skipped,
    /// Not attempted: a guard forbids it (break-glass, own identity, last GA, …).
    Refused,
    /// The write failed, or it was accepted but verification did not see the change.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::AlreadyDone => "already done",
            Outcome::Skipped => "skipped",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    /// Whether dependants may run after this outcome.
    pub fn satisfied(self) -> bool {
        matches!(self, Outcome::Applied | Outcome::AlreadyDone)
    }
}

#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub time: DateTime<Utc>,
    pub tenant: &'a str,
    pub plan_id: &'a str,
    pub action_id: &'a str,
    pub action: ActionKind,
    pub target: &'a Target,
    pub outcome: Outcome,
    /// Why (skip/refusal reason, error message with the permission), or what was done.
    pub detail: String,
    /// Live state read before the write (`null` when the target was gone).
    pub before: Option<&'a Value>,
    /// State read back after the write.
    pub after: Option<&'a Value>,
    /// Graph `request-id` of the write, for Microsoft support and the tenant's audit logs.
    pub request_id: Option<&'a str>,
}

/// Ids of the actions of plan `plan_id` that an earlier run recorded as applied or already
/// done. Lines that do not parse (another tool's, or a torn last line) are ignored.
pub fn completed(
    path: &Path,
    plan_id: &str,
) -> std::io::Result<std::collections::BTreeSet<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot read audit log {}: {e}", path.display()),
            ))
        }
    };
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["plan_id"] == plan_id)
        .filter(|v| matches!(v["outcome"].as_str(), Some("applied" | "already_done")))
        .filter_map(|v| v["action_id"].as_str().map(str::to_owned))
        .collect())
}

pub struct AuditLog {
    file: File,
}

impl AuditLog {
    /// Open for appending (created 0600, looser modes tightened, symlinks refused).
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = super::password::open_private_append(
            path,
            "audit log",
            super::password::LooseMode::Tighten,
        )?;
        Ok(AuditLog { file })
    }

    /// Append one line and fsync it. The whole line goes out in one `write_all`, so a
    /// kill leaves either the full line or nothing of it.
    pub fn append(&mut self, entry: &Entry<'_>) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }
}
