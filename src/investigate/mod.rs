//! `m365guard investigate`: the evidence of one user's compromise, collected read-only.
//!
//! It owns the versioned **evidence document** ([`Evidence`], JSON Schema by
//! `m365guard schema evidence`): the user's Entra sign-ins and directory audits in a time
//! window, a status per source (`ok` / `unavailable` / `error` with the reason — a 403 or a
//! missing licence is said, never an empty pass), and the verdicts of the investigation
//! rules (`policies/investigation/`, evaluated by [`rules`] with regorus). [`collect`] reads
//! Graph, [`timeline`] renders the HTML timeline, [`manifest`] writes the SHA-256 chain-of-custody manifest of every file written.

pub mod checklist;
pub mod collect;
pub mod manifest;
pub mod risk;
pub mod rules;
pub mod sarif;
pub mod timeline;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::severity::Severity;

pub use risk::RiskDetection;

/// Version of the evidence document's layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The evidence document `investigate` writes (`evidence.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub schema_version: u32,
    /// The m365guard version that collected it.
    pub tool_version: String,
    pub generated_at: DateTime<Utc>,
    pub tenant_id: String,
    pub user: Subject,
    pub window: Window,
    /// Per source (`user`, `sign_ins`, `directory_audits`): what was collected, or why not.
    pub sources: BTreeMap<String, SourceOutcome>,
    /// Sign-ins of the user in the window, oldest first.
    pub sign_ins: Vec<SignIn>,
    /// Directory audit events with the user as initiator or target, oldest first.
    pub directory_audits: Vec<DirectoryAudit>,
    /// Identity Protection's risk detections of the user in the window, oldest first
    /// (absent in documents written before they were collected: read as none).
    #[serde(default)]
    pub risk_detections: Vec<RiskDetection>,
    /// Every investigation rule and its verdict on this evidence.
    pub rules: Vec<RuleVerdict>,
    /// What the rules flagged, one entry per event and rule.
    pub findings: Vec<EvidenceFinding>,
}

/// The user under investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub user_principal_name: String,
    /// Object id; `None` when the user could not be read.
    pub id: Option<String>,
    pub display_name: Option<String>,
}

/// The time window investigated (UTC, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    Ok,
    /// Not licensed (e.g. sign-in logs need Entra ID P1): the rules reading it are not
    /// applicable.
    Unavailable,
    /// The read failed (403, throttled, bad answer): the rules reading it are not evaluated.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceOutcome {
    pub status: SourceState,
    pub reason: Option<String>,
    pub items: u64,
    /// The Graph requests made (path and query, no host), for the record.
    pub requests: Vec<String>,
}

/// One Entra sign-in, as the signIn resource gives it (beta, for `userAgent`,
/// `authenticationRequirement` and `authenticationDetails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub id: String,
    /// `createdDateTime`, verbatim.
    pub time: String,
    /// `time` in seconds since 1970 (UTC), for the rules' arithmetic.
    pub epoch: i64,
    pub ip_address: Option<String>,
    pub city: Option<String>,
    /// Two-letter country code (`location.countryOrRegion`).
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// `clientAppUsed`: `Browser`, `Mobile Apps and Desktop clients`, `IMAP4`, ….
    pub client_app: Option<String>,
    pub user_agent: Option<String>,
    pub app: Option<String>,
    /// `status.errorCode`: 0 is a successful sign-in.
    pub error_code: Option<i64>,
    pub failure_reason: Option<String>,
    /// `singleFactorAuthentication` or `multiFactorAuthentication`.
    pub authentication_requirement: Option<String>,
    /// The methods of `authenticationDetails` (Password, Authenticator App, …).
    pub authentication_methods: Vec<String>,
    pub conditional_access_status: Option<String>,
    pub is_interactive: Option<bool>,
    pub risk_level: Option<String>,
    pub risk_event_types: Vec<String>,
}

/// One directory audit event (`directoryAudit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryAudit {
    pub id: String,
    /// `activityDateTime`, verbatim.
    pub time: String,
    pub epoch: i64,
    /// `activityDisplayName`: `User registered security info`, `Reset user password`, ….
    pub activity: String,
    pub category: Option<String>,
    pub result: Option<String>,
    pub result_reason: Option<String>,
    pub logged_by_service: Option<String>,
    pub initiated_by: Initiator,
    pub targets: Vec<AuditTarget>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Initiator {
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub ip_address: Option<String>,
    pub app_id: Option<String>,
    pub app_display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditTarget {
    pub id: Option<String>,
    pub display_name: Option<String>,
    /// `User`, `Role`, `App`, ….
    pub kind: Option<String>,
    pub user_principal_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    /// Evaluated, nothing flagged.
    Passed,
    /// Evaluated, something flagged (see `findings`).
    Failed,
    /// A source it reads failed to collect: no verdict.
    NotEvaluated,
    /// A source it reads is not licensed in this tenant: no verdict.
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleVerdict {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: VerdictStatus,
    /// Why it was not evaluated / not applicable.
    pub reason: Option<String>,
    pub findings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFinding {
    pub rule_id: String,
    pub severity: Severity,
    /// The flagged event (`sign_ins[].id` or `directory_audits[].id`).
    pub event_id: String,
    pub event_time: String,
    pub message: String,
    /// Whatever the rule adds (the earlier sign-in, the distance, …).
    #[schemars(with = "serde_json::Value")]
    pub details: serde_json::Value,
}

/// The JSON Schema of the evidence document (`m365guard schema evidence`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Evidence)).unwrap_or(serde_json::Value::Null)
}

/// Seconds since 1970 of an ISO 8601 / RFC 3339 timestamp; `None` when unparseable.
pub fn epoch_of(time: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp())
}
