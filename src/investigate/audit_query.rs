//! The unified audit log of the user (mailbox, files, consent) through Microsoft Graph's
//! audit log query API (Microsoft Purview Audit search), read-only.
//!
//! The API is asynchronous (<https://learn.microsoft.com/graph/api/resources/security-auditlogquery?view=graph-rest-1.0>,
//! v1.0; beta has the same shape, so v1.0 is used):
//! 1. `POST /v1.0/security/auditLog/queries` with `filterStartDateTime`,
//!    `filterEndDateTime`, `userPrincipalNameFilters` and `operationFilters`
//!    (<https://learn.microsoft.com/graph/api/security-auditcoreroot-post-auditlogqueries>);
//! 2. `GET …/queries/{id}` until `status` is `succeeded` (or `failed`/`cancelled`),
//!    <https://learn.microsoft.com/graph/api/security-auditlogquery-get>;
//! 3. `GET …/queries/{id}/records`, paged by `@odata.nextLink`
//!    (<https://learn.microsoft.com/graph/api/security-auditlogquery-list-records>;
//!    records: <https://learn.microsoft.com/graph/api/resources/security-auditlogrecord>).
//!
//! Permission: AuditLogsQuery.Read.All, or per workload AuditLogsQuery-Exchange.Read.All,
//! -SharePoint, -OneDrive, -Entra (each sees only its workload's records). A 403 names
//! them; a tenant without audit search is `unavailable`; a query that failed or did not
//! finish within `--audit-wait` is `error` with the reason — never an empty pass.
//!
//! Queries run for minutes on the service's side, so the query id is written to
//! `audit-query.json` in the output directory *before* polling: a run that was
//! interrupted or timed out is resumed by the next run with the same `-o DIR`, user and
//! `--since`, which reuses the query instead of creating a new one. A throttled poll (429
//! with `Retry-After`) is retried by the HTTP layer; one that stays throttled is polled
//! again later, within the same bound.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{epoch_of, AuditEvent, SourceOutcome, SourceState, Window};
use crate::graph::{ApiError, GraphClient};

/// The resume file in the output directory.
pub const STATE_FILE: &str = "audit-query.json";

/// Default of `--audit-wait`: audit searches commonly take several minutes.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(900);

/// The permission named when the API answers 403.
pub const PERMISSION: &str = "AuditLogsQuery.Read.All (or the per-workload AuditLogsQuery-Exchange.Read.All, AuditLogsQuery-SharePoint.Read.All, AuditLogsQuery-OneDrive.Read.All, AuditLogsQuery-Entra.Read.All)";

/// The activities asked for: inbox rules and forwarding, mailbox permissions, mail sent
/// as or read, files downloaded and shared, consent to applications
/// (<https://learn.microsoft.com/purview/audit-log-activities>).
pub const OPERATIONS: [&str; 19] = [
    "New-InboxRule",
    "Set-InboxRule",
    "UpdateInboxRules",
    "Set-Mailbox",
    "Add-MailboxPermission",
    "Add-RecipientPermission",
    "SendAs",
    "SendOnBehalf",
    "Send",
    "MailItemsAccessed",
    "FileDownloaded",
    "FileSyncDownloadedFull",
    "SharingSet",
    "SharingInvitationCreated",
    "AnonymousLinkCreated",
    "CompanyLinkCreated",
    "SecureLinkCreated",
    "Consent to application.",
    "MemberAdded",
];

/// Longest parameter value kept in the evidence.
pub(crate) const MAX_VALUE: usize = 200;

/// How to run the query.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `audit-query.json` is kept (the output directory); `None` = no resuming.
    pub dir: Option<PathBuf>,
    /// The longest time to wait for the query to finish.
    pub wait: Duration,
    /// First pause between polls (doubling up to 15 s).
    pub first_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dir: None,
            wait: DEFAULT_WAIT,
            first_poll: Duration::from_millis(500),
        }
    }
}

/// `audit-query.json`: the query of a run, so a later run can resume it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedQuery {
    pub query_id: String,
    pub user: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// `pending` until its records were read, then `collected` (or `failed`).
    pub state: String,
}

impl SavedQuery {
    /// A query of an earlier run that has not delivered its records yet.
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }
}

/// The saved query in `dir`, if one is there and readable.
/// A query id that is not GUID-shaped (an edited file) is not resumed: it would be put
/// into the request path.
pub fn load(dir: &Path) -> Option<SavedQuery> {
    let text = std::fs::read_to_string(dir.join(STATE_FILE)).ok()?;
    serde_json::from_str::<SavedQuery>(&text)
        .ok()
        .filter(|s| crate::graph::path::is_object_id(&s.query_id))
}

fn save(dir: &Path, saved: &SavedQuery) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string_pretty(saved).unwrap_or_default() + "\n";
    crate::snapshot::io::write_private(&dir.join(STATE_FILE), text.as_bytes())
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn failed(status: SourceState, reason: String, requests: Vec<String>) -> SourceOutcome {
    SourceOutcome {
        status,
        reason: Some(reason),
        items: 0,
        requests,
    }
}

/// The outcome of an API error: licence → unavailable, 403 → error naming the permission.
fn outcome_of(e: ApiError, requests: Vec<String>) -> SourceOutcome {
    match e {
        e @ ApiError::Licence { .. } => failed(
            SourceState::Unavailable,
            format!("audit log search is not licensed in this tenant: {e}"),
            requests,
        ),
        ApiError::Forbidden {
            endpoint,
            code,
            message,
            request_id,
            ..
        } => failed(
            SourceState::Error,
            ApiError::Forbidden {
                endpoint,
                permission: PERMISSION.to_owned(),
                code,
                message,
                request_id,
            }
            .to_string(),
            requests,
        ),
        e => failed(SourceState::Error, e.to_string(), requests),
    }
}

/// What one audit log query asks for: the users (empty = the whole tenant) and the
/// operations, under a display name the service keeps with the query.
#[derive(Debug, Clone)]
pub struct QuerySpec<'a> {
    pub display_name: String,
    pub users: Vec<String>,
    pub operations: &'a [&'a str],
}

/// The key a saved query is resumed by: the user, or `*` for a tenant-wide query.
fn resume_key(spec: &QuerySpec<'_>) -> String {
    match spec.users.as_slice() {
        [one] => one.clone(),
        _ => "*".to_owned(),
    }
}

/// Run (or resume) the user's audit log query and read its records.
pub fn collect(
    graph: &GraphClient<'_>,
    upn: &str,
    window: &Window,
    options: &Options,
) -> (SourceOutcome, Vec<AuditEvent>) {
    let spec = QuerySpec {
        display_name: format!("m365guard investigate {upn}"),
        users: vec![upn.to_owned()],
        operations: &OPERATIONS,
    };
    run_query(graph, &spec, window, options)
}

/// Run (or resume) an audit log query and read its records: create, poll with back-off
/// within `options.wait`, then read the records (shared by `investigate` and
/// `scan --with-activity`).
pub fn run_query(
    graph: &GraphClient<'_>,
    spec: &QuerySpec<'_>,
    window: &Window,
    options: &Options,
) -> (SourceOutcome, Vec<AuditEvent>) {
    let upn = resume_key(spec);
    let upn = upn.as_str();
    let base = "/v1.0/security/auditLog/queries";
    let mut requests = Vec::new();
    let resumable = options
        .dir
        .as_deref()
        .and_then(load)
        .filter(|s| s.user.eq_ignore_ascii_case(upn) && s.since == window.since);
    let resumed = resumable.is_some();
    let mut saved = match resumable {
        Some(saved) => {
            tracing::info!(query = %saved.query_id, "resuming the audit log query of an earlier run");
            saved
        }
        None => match create(graph, base, spec, window, options, &mut requests) {
            Ok(saved) => saved,
            Err(outcome) => return (outcome, Vec::new()),
        },
    };
    let mut status_path = format!("{base}/{}", saved.query_id);
    requests.push(format!("GET {status_path} (until succeeded)"));
    let status = match poll(graph, &status_path, options) {
        Ok(status) => status,
        // The service no longer knows the saved query (expired or deleted): a new one.
        Err(ApiError::Status { status: 404, .. }) if resumed => {
            tracing::info!(query = %saved.query_id, "the saved audit log query is gone; creating a new one");
            saved = match create(graph, base, spec, window, options, &mut requests) {
                Ok(saved) => saved,
                Err(outcome) => return (outcome, Vec::new()),
            };
            status_path = format!("{base}/{}", saved.query_id);
            requests.push(format!("GET {status_path} (until succeeded)"));
            match poll(graph, &status_path, options) {
                Ok(status) => status,
                Err(e) => return (outcome_of(e, requests), Vec::new()),
            }
        }
        Err(e) => return (outcome_of(e, requests), Vec::new()),
    };
    let mark = |saved: &mut SavedQuery, state: &str| {
        saved.state = state.to_owned();
        if let Some(dir) = &options.dir {
            // The records are in the evidence either way; a stale state only means a
            // later run in this directory resumes instead of creating a query.
            if let Err(e) = save(dir, saved) {
                tracing::warn!("cannot update {STATE_FILE}: {e}");
            }
        }
    };
    match status {
        Polled::Finished(s) if s == "succeeded" => {}
        Polled::Finished(s) => {
            mark(&mut saved, "failed");
            return (
                failed(
                    SourceState::Error,
                    format!("the audit log query {} ended `{s}` on the service", saved.query_id),
                    requests,
                ),
                Vec::new(),
            );
        }
        Polled::Waiting(s, waited) => {
            return (
                failed(
                    SourceState::Error,
                    format!(
                        "the audit log query {} was still `{s}` after {} s (--audit-wait); run again with the same -o DIR, --user and --since to resume it",
                        saved.query_id,
                        waited.as_secs()
                    ),
                    requests,
                ),
                Vec::new(),
            )
        }
    }
    let records_path = format!("{status_path}/records");
    requests.push(format!("GET {records_path}"));
    let events = match graph
        .get_all(&records_path)
        .and_then(|items| to_events(&records_path, items))
    {
        Ok(events) => events,
        Err(e) => return (outcome_of(e, requests), Vec::new()),
    };
    mark(&mut saved, "collected");
    let mut reason = None;
    if saved.until != window.until {
        reason = Some(format!(
            "resumed query of an earlier run: records up to {}",
            stamp(saved.until)
        ));
    }
    (
        SourceOutcome {
            status: SourceState::Ok,
            reason,
            items: events.len() as u64,
            requests,
        },
        events,
    )
}

fn create(
    graph: &GraphClient<'_>,
    base: &str,
    spec: &QuerySpec<'_>,
    window: &Window,
    options: &Options,
    requests: &mut Vec<String>,
) -> Result<SavedQuery, SourceOutcome> {
    let mut body = json!({
        "@odata.type": "#microsoft.graph.security.auditLogQuery",
        "displayName": spec.display_name,
        "filterStartDateTime": stamp(window.since),
        "filterEndDateTime": stamp(window.until),
        "operationFilters": spec.operations,
    });
    // A tenant-wide query names no users (the property is left out, not sent empty).
    if let (false, Some(o)) = (spec.users.is_empty(), body.as_object_mut()) {
        o.insert("userPrincipalNameFilters".into(), json!(spec.users));
    }
    requests.push(format!("POST {base}"));
    let reply = graph
        .write("POST", base, Some(&body), PERMISSION)
        .map_err(|e| outcome_of(e, requests.clone()))?;
    #[derive(Deserialize)]
    struct Created {
        id: Option<String>,
    }
    let id = serde_json::from_str::<Created>(&reply.body)
        .ok()
        .and_then(|c| c.id)
        // The id goes into the status and records paths: only a GUID-shaped one.
        .filter(|id| crate::graph::path::is_object_id(id))
        .ok_or_else(|| {
            failed(
                SourceState::Error,
                format!("POST {base}: the created query has no id, or one that is not a GUID"),
                requests.clone(),
            )
        })?;
    let saved = SavedQuery {
        query_id: id,
        user: resume_key(spec),
        since: window.since,
        until: window.until,
        created_at: Utc::now(),
        state: "pending".into(),
    };
    if let Some(dir) = &options.dir {
        save(dir, &saved).map_err(|e| {
            failed(
                SourceState::Error,
                format!("cannot write {STATE_FILE} (needed to resume the query): {e}"),
                requests.clone(),
            )
        })?;
    }
    Ok(saved)
}

enum Polled {
    /// `succeeded`, `failed`, `cancelled`.
    Finished(String),
    /// Still `notStarted`/`running` (or throttled) when the wait ran out.
    Waiting(String, Duration),
}

/// Poll the query's status with back-off until it finishes or `options.wait` runs out.
fn poll(graph: &GraphClient<'_>, path: &str, options: &Options) -> Result<Polled, ApiError> {
    #[derive(Deserialize)]
    struct Status {
        status: Option<String>,
    }
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut pause = options.first_poll;
    let mut last: String;
    let result = loop {
        match graph.get(path) {
            Ok(v) => {
                let status = serde_json::from_value::<Status>(v)
                    .ok()
                    .and_then(|s| s.status)
                    .unwrap_or_else(|| "unknown".into());
                if matches!(status.as_str(), "succeeded" | "failed" | "cancelled") {
                    break Ok(Polled::Finished(status));
                }
                last = status;
            }
            // Throttled past the HTTP layer's retries: poll again later.
            Err(ApiError::RetriesExhausted { last: why, .. }) => {
                tracing::info!("audit log query poll throttled: {why}");
                last = "throttled".into();
            }
            Err(e) => break Err(e),
        }
        let waited = started.elapsed();
        bar.set_message(format!(
            "audit log query {last} ({} s of at most {} s)",
            waited.as_secs(),
            options.wait.as_secs()
        ));
        if waited + pause > options.wait {
            break Ok(Polled::Waiting(last, waited));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(15));
    };
    bar.finish_and_clear();
    result
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiRecord {
    id: Option<String>,
    created_date_time: Option<String>,
    operation: Option<String>,
    service: Option<String>,
    audit_log_record_type: Option<String>,
    user_principal_name: Option<String>,
    client_ip: Option<String>,
    object_id: Option<String>,
    audit_data: Option<ApiAuditData>,
}

#[derive(Debug, Deserialize)]
struct ApiAuditData {
    #[serde(rename = "ResultStatus")]
    result_status: Option<String>,
    #[serde(rename = "Parameters")]
    parameters: Option<Vec<ApiParameter>>,
    /// Mailbox-side operations (`UpdateInboxRules`, an Outlook client's rule change) keep
    /// what they changed here, not in `Parameters` (`RuleName`, `RuleId`, `RuleOperation`;
    /// UNVERIFIED: field names as seen in exported records, Microsoft's pages on
    /// <https://learn.microsoft.com/purview/audit-log-identify-mailbox-rules> do not list
    /// them). Merged into `parameters` where `Parameters` has no such name.
    #[serde(rename = "OperationProperties")]
    operation_properties: Option<Vec<ApiParameter>>,
    /// The mailbox a mailbox audit record is about (its owner, not always the actor);
    /// kept as the `MailboxOwnerUPN` parameter when `Parameters` has none.
    #[serde(rename = "MailboxOwnerUPN")]
    mailbox_owner_upn: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiParameter {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Value")]
    value: Option<Value>,
}

/// The address without the port the UAL keeps on Exchange records (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`); a bare IPv6 address is kept whole.
pub fn strip_port(ip: &str) -> String {
    let ip = ip.trim();
    if let Some(rest) = ip.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_owned();
    }
    match ip.split_once(':') {
        Some((host, port)) if !port.contains(':') && host.contains('.') => host.to_owned(),
        _ => ip.to_owned(),
    }
}

/// A parameter whose value must not reach the evidence.
pub(crate) fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "token", "credential", "key"]
        .iter()
        .any(|s| n.contains(s))
}

fn summarise(parameters: Vec<ApiParameter>) -> BTreeMap<String, String> {
    parameters
        .into_iter()
        .filter_map(|p| {
            let name = p.name.filter(|n| !n.trim().is_empty())?;
            let value = match p.value {
                _ if is_secret(&name) => "<redacted>".to_owned(),
                Some(Value::String(s)) => s,
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            };
            let value = if value.chars().count() > MAX_VALUE {
                value.chars().take(MAX_VALUE).collect::<String>() + "…"
            } else {
                value
            };
            Some((name, value))
        })
        .collect()
}

fn to_events(endpoint: &str, items: Vec<Map<String, Value>>) -> Result<Vec<AuditEvent>, ApiError> {
    let mut out = items
        .into_iter()
        .map(|m| {
            let r: ApiRecord =
                serde_json::from_value(Value::Object(m)).map_err(|e| ApiError::BadResponse {
                    endpoint: endpoint.to_owned(),
                    message: e.to_string(),
                })?;
            let bad = |what: &str| ApiError::BadResponse {
                endpoint: endpoint.to_owned(),
                message: format!("an audit log record without {what}"),
            };
            let id = r.id.ok_or_else(|| bad("an id"))?;
            let time = r.created_date_time.ok_or_else(|| bad("createdDateTime"))?;
            let epoch = epoch_of(&time).ok_or_else(|| bad("a valid createdDateTime"))?;
            let (result, parameters) = match r.audit_data {
                Some(d) => {
                    let mut parameters = summarise(d.parameters.unwrap_or_default());
                    for (k, v) in summarise(d.operation_properties.unwrap_or_default()) {
                        parameters.entry(k).or_insert(v);
                    }
                    if let Some(owner) = d.mailbox_owner_upn.filter(|o| !o.trim().is_empty()) {
                        parameters.entry("MailboxOwnerUPN".into()).or_insert(owner);
                    }
                    (d.result_status, parameters)
                }
                None => (None, BTreeMap::new()),
            };
            let text = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
            Ok(AuditEvent {
                id,
                time,
                epoch,
                operation: r.operation.unwrap_or_default(),
                workload: text(r.service),
                record_type: text(r.audit_log_record_type),
                user_principal_name: text(r.user_principal_name),
                client_ip: text(r.client_ip).map(|ip| strip_port(&ip)),
                object_id: text(r.object_id),
                result: text(result),
                parameters,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    out.sort_by(|a, b| (a.epoch, &a.id).cmp(&(b.epoch, &b.id)));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_query_id_that_is_not_a_guid_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let saved = |id: &str| SavedQuery {
            query_id: id.to_owned(),
            user: "a@contoso.com".into(),
            since: Utc::now(),
            until: Utc::now(),
            created_at: Utc::now(),
            state: "pending".into(),
        };
        save(dir.path(), &saved("168ec429-084b-a489-90d8-504a87846305")).unwrap();
        assert!(load(dir.path()).is_some());
        for bad in ["../../users", "x?$expand=y", "a/b", ""] {
            save(dir.path(), &saved(bad)).unwrap();
            assert!(load(dir.path()).is_none(), "{bad} was resumed");
        }
    }

    #[test]
    fn ports_are_stripped_and_ipv6_kept() {
        assert_eq!(strip_port("185.220.101.47:50004"), "185.220.101.47");
        assert_eq!(strip_port("185.220.101.47"), "185.220.101.47");
        assert_eq!(strip_port("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn secrets_are_redacted_and_long_values_shortened() {
        let p = |n: &str, v: Value| ApiParameter {
            name: Some(n.into()),
            value: Some(v),
        };
        let s = summarise(vec![
            p("Password", json!("hunter2")),
            p("MarkAsRead", json!(true)),
            p("Body", json!("x".repeat(500))),
        ]);
        assert_eq!(s["Password"], "<redacted>");
        assert_eq!(s["MarkAsRead"], "true");
        assert_eq!(s["Body"].chars().count(), MAX_VALUE + 1);
    }

    #[test]
    fn a_record_without_a_time_is_a_bad_answer() {
        let Value::Object(m) = json!({"id": "1", "operation": "Send"}) else {
            panic!()
        };
        assert!(to_events("GET x", vec![m]).is_err());
    }

    #[test]
    fn an_outlook_rule_change_keeps_its_operation_properties_and_mailbox_owner() {
        let Value::Object(m) = json!({
            "id": "1",
            "createdDateTime": "2025-12-31T02:38:10Z",
            "operation": "UpdateInboxRules",
            "auditData": {
                "MailboxOwnerUPN": "dana@contoso.com",
                "Parameters": [{"Name": "RuleName", "Value": "from Parameters"}],
                "OperationProperties": [
                    {"Name": "RuleId", "Value": "4727603405627269190"},
                    {"Name": "RuleName", "Value": "Sync"},
                    {"Name": "AccessToken", "Value": "eyJ0"},
                ],
            },
        }) else {
            panic!()
        };
        let e = &to_events("GET x", vec![m]).unwrap()[0];
        let p = |k: &str| e.parameters.get(k).map(String::as_str);
        assert_eq!(p("RuleId"), Some("4727603405627269190"));
        assert_eq!(p("MailboxOwnerUPN"), Some("dana@contoso.com"));
        // `Parameters` wins a name both carry; secrets are redacted in either.
        assert_eq!(p("RuleName"), Some("from Parameters"));
        assert_eq!(p("AccessToken"), Some("<redacted>"));
    }
}
