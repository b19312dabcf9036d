//! `scan --tenant --with-activity DAYS`: who changed the scanned objects, when, and from
//! where. It owns the tenant-wide activity read ([`read`]: directory audits, the unified
//! audit log, the actors' sign-ins), the join of those events onto findings by stable
//! ids ([`join`]), and the one-line text every report prints for an event ([`describe`]).
//!
//! Activity is context: it never changes a verdict or the exit code. A source that could
//! not be read is stated (`unavailable` / `error` with the reason) in
//! [`ActivitySummary::sources`], in the reports and in the summary — never shown as "no
//! activity".

pub mod join;
pub mod read;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::investigate::{SourceOutcome, SourceState, Window};

/// Where an event was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivitySource {
    DirectoryAudit,
    UnifiedAuditLog,
}

/// The actor's sign-in the event followed (the latest successful one at or before it,
/// within [`join::SIGN_IN_LOOKBACK_SECS`], from the same IP when there is one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInContext {
    pub time: String,
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The sign-in carried a medium/high risk level or risk events.
    pub suspicious: bool,
    /// The sign-in came from the event's IP address.
    pub same_ip: bool,
    /// Whole minutes from the sign-in to the event.
    pub minutes_before: i64,
}

/// One change event attached to a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The event's time, verbatim (UTC).
    pub time: String,
    /// `New-InboxRule`, `Consent to application`, `User registered security info`, ….
    pub operation: String,
    /// The actor's UPN (or the app's name when an app acted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Two-letter country of `ip`, from the actor's sign-in from that address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub source: ActivitySource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin: Option<SignInContext>,
}

/// What the activity read covered, per source, and how much it attached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivitySummary {
    pub days: u32,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// `directory_audits`, `unified_audit_log`, `sign_ins`: ok / unavailable / error.
    pub sources: BTreeMap<String, SourceOutcome>,
    /// Events read in the window that change something a finding can point at (the
    /// sources' `items` count every record read).
    pub events: usize,
    /// Findings that got at least one event.
    pub findings_with_activity: usize,
}

impl ActivitySummary {
    /// The sources that could not be read, as `name: status (reason)` lines.
    pub fn problems(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|(_, o)| o.status != SourceState::Ok)
            .map(|(name, o)| {
                let status = match o.status {
                    SourceState::Unavailable => "unavailable",
                    _ => "error",
                };
                match &o.reason {
                    Some(reason) => format!("{name}: {status} ({reason})"),
                    None => format!("{name}: {status}"),
                }
            })
            .collect()
    }

    /// One line for the summary and the reports' headers.
    pub fn headline(&self) -> String {
        let problems = self.problems();
        let mut line = format!(
            "Activity ({} days, {} to {}): {} events read, {} findings with activity",
            self.days,
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M"),
            self.events,
            self.findings_with_activity
        );
        if !problems.is_empty() {
            line.push_str(&format!(
                "; NOT read, so missing activity is unknown, not absent: {}",
                problems.join("; ")
            ));
        }
        line
    }
}

/// "created 2025-12-31 02:16 by lena.fischer@contoso.com from 185.220.101.47 (NL), 2 min
/// after a suspicious sign-in from the same IP".
pub fn describe(a: &Activity) -> String {
    let time = a
        .time
        .get(..16)
        .map(|t| t.replace('T', " "))
        .unwrap_or_else(|| a.time.clone());
    let mut out = format!("{} {time}", a.operation);
    if let Some(actor) = &a.actor {
        out.push_str(&format!(" by {actor}"));
    }
    if let Some(ip) = &a.ip {
        out.push_str(&format!(" from {ip}"));
        if let Some(country) = &a.country {
            out.push_str(&format!(" ({country})"));
        }
    }
    if let Some(s) = &a.signin {
        let what = if s.suspicious {
            "a suspicious sign-in"
        } else {
            "a sign-in"
        };
        let from = if s.same_ip {
            " from the same IP".to_owned()
        } else {
            match &s.ip {
                Some(ip) => format!(" from {ip}"),
                None => String::new(),
            }
        };
        out.push_str(&format!(", {} min after {what}{from}", s.minutes_before));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_as_one_line() {
        let a = Activity {
            time: "2025-12-31T02:16:45Z".into(),
            operation: "New-InboxRule".into(),
            actor: Some("lena.fischer@contoso.com".into()),
            ip: Some("185.220.101.47".into()),
            country: Some("NL".into()),
            source: ActivitySource::UnifiedAuditLog,
            signin: Some(SignInContext {
                time: "2025-12-31T02:14:09Z".into(),
                ip: Some("185.220.101.47".into()),
                country: Some("NL".into()),
                suspicious: true,
                same_ip: true,
                minutes_before: 2,
            }),
        };
        assert_eq!(
            describe(&a),
            "New-InboxRule 2025-12-31 02:16 by lena.fischer@contoso.com from 185.220.101.47 (NL), 2 min after a suspicious sign-in from the same IP"
        );
    }
}
