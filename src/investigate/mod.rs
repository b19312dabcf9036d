//! `m365guard investigate`: the evidence of one user's compromise, collected read-only.
//!
//! It owns the versioned **evidence document** ([`Evidence`], JSON Schema by
//! `m365guard schema evidence`): the user's Entra sign-ins and directory audits in a time
//! window, a status per source (`ok` / `unavailable` / `error` with the reason — a 403 or a
//! missing licence is said, never an empty pass), and the verdicts of the investigation
//! rules (`policies/investigation/`, evaluated by [`rules`] with regorus). [`collect`] reads
//! Graph, [`timeline`] renders the HTML timeline, [`manifest`] writes the SHA-256 chain-of-custody manifest of every file written.

pub mod audit_query;
pub mod checklist;
pub mod collect;
pub mod manifest;
pub mod message_trace;
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
    /// Unified audit log records of the user (mailbox, files, consent), oldest first
    /// (source `audit_events`). Added in 0.x without a schema bump: absent in older
    /// documents, read as empty.
    #[serde(default)]
    pub audit_events: Vec<AuditEvent>,
    /// Mail the user sent in the window, from the message trace (source `messages_sent`).
    #[serde(default)]
    pub messages_sent: MessagesSent,
    /// The thresholds the rules were evaluated with (from `[investigate]` in the config).
    #[serde(default)]
    pub parameters: RuleParameters,
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
    /// `modifiedProperties`: what the activity changed on this target, e.g. the
    /// `Role.TemplateId` / `Role.DisplayName` of an `Add member to role`
    /// (<https://learn.microsoft.com/graph/api/resources/modifiedproperty>). Optional in
    /// the evidence schema: absent when the audit kept none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modified_properties: Vec<ModifiedProperty>,
}

/// One `modifiedProperty` of an audit target: values verbatim (the service writes them as
/// JSON text, e.g. `"\"Exchange Administrator\""`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifiedProperty {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_value: Option<String>,
}

/// One unified audit log record (`auditLogRecord`), summarised: the cmdlet's parameters
/// are kept as text (secret-looking ones redacted, long values shortened), the rest of
/// `auditData` is not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    pub id: String,
    /// `createdDateTime`, verbatim.
    pub time: String,
    pub epoch: i64,
    /// `New-InboxRule`, `Set-Mailbox`, `MailItemsAccessed`, `FileDownloaded`, ….
    pub operation: String,
    /// `service`: `Exchange`, `SharePoint`, `OneDrive`, `AzureActiveDirectory`, ….
    pub workload: Option<String>,
    pub record_type: Option<String>,
    pub user_principal_name: Option<String>,
    /// `clientIp` without the port the log keeps on Exchange records.
    pub client_ip: Option<String>,
    /// `objectId`: the rule, mailbox, file or app the activity touched.
    pub object_id: Option<String>,
    /// `auditData.ResultStatus`.
    pub result: Option<String>,
    /// `auditData.Parameters` (Exchange cmdlets): name → value.
    pub parameters: BTreeMap<String, String>,
}

/// The message trace of the mail the user sent in the window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesSent {
    /// Rows (one per recipient) in the window.
    pub total: u64,
    /// Recipients outside the tenant's accepted domains.
    pub external: u64,
    /// Count per recipient domain and delivery status, largest first.
    pub by_domain: Vec<DomainCount>,
    /// The rows, oldest first, at most [`message_trace::MAX_ROWS`].
    pub rows: Vec<MessageRow>,
    /// More rows were traced than kept.
    pub rows_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainCount {
    pub domain: String,
    pub external: bool,
    pub status: String,
    pub count: u64,
}

/// One message trace row (one recipient of one message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRow {
    /// `MessageTraceId/recipient`.
    pub id: String,
    /// `Received`, verbatim (UTC).
    pub time: String,
    pub epoch: i64,
    pub recipient: String,
    pub recipient_domain: String,
    pub external: bool,
    /// `Delivered`, `Failed`, `Pending`, `FilteredAsSpam`, ….
    pub status: Option<String>,
    pub subject: Option<String>,
    pub from_ip: Option<String>,
}

/// Thresholds of the investigation rules, recorded with the verdicts they produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleParameters {
    /// `bulk_external_sending`: more external recipients than this within an hour.
    pub bulk_external_recipients: u32,
}

/// Default of `[investigate] bulk_external_recipients`.
pub const DEFAULT_BULK_EXTERNAL_RECIPIENTS: u32 = 50;

impl Default for RuleParameters {
    fn default() -> Self {
        RuleParameters {
            bulk_external_recipients: DEFAULT_BULK_EXTERNAL_RECIPIENTS,
        }
    }
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
