//! The tenant-wide activity read of `scan --with-activity`, read-only, with the same
//! requests, parsing and outcome rules as `investigate` (shared, not copied):
//!
//! - Directory audits: `GET /v1.0/auditLogs/directoryAudits?$filter=activityDateTime ge …
//!   and activityDateTime le …` (<https://learn.microsoft.com/graph/api/directoryaudit-list>;
//!   filterable properties in <https://learn.microsoft.com/graph/api/resources/directoryaudit>),
//!   paged by `@odata.nextLink`; AuditLog.Read.All, no premium licence. Which activities
//!   matter (consent, app role assignment, service principal credentials, role membership,
//!   security info registration, password reset, update user) is decided by the join.
//! - The unified audit log: one tenant-wide audit log query (no
//!   `userPrincipalNameFilters`) for [`OPERATIONS`]
//!   (<https://learn.microsoft.com/graph/api/security-auditcoreroot-post-auditlogqueries>),
//!   polled with the same back-off and bound as `investigate` (`investigate::audit_query`);
//!   AuditLogsQuery.Read.All (a 403 names it).
//! - Sign-ins, only of the users who registered an auth method in the window (for
//!   `auth_method_suspicious`'s `input.activity`, before the evaluation) and of the actors
//!   of events that matched a finding (after it): beta
//!   `GET /auditLogs/signIns?$filter=userId eq '…' and createdDateTime ge … and
//!   createdDateTime le …` (<https://learn.microsoft.com/graph/api/signin-list?view=graph-rest-beta>);
//!   AuditLog.Read.All and Entra ID P1 (else `unavailable`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};

use super::join;
use super::{ActivitySummary, SourceOutcome, SourceState, Window};
use crate::auth::{AuthError, Settings, TokenProvider, GRAPH_SCOPE};
use crate::findings::ScanResult;
use crate::graph::limits::Limits;
use crate::graph::{ApiError, GraphClient};
use crate::investigate::audit_query::{self, QuerySpec};
use crate::investigate::collect::{outcome_of, to_audits, to_sign_ins};
use crate::investigate::DirectoryAudit;
use crate::investigate::SignIn;
use crate::snapshot::model::AuthMethod;
use crate::snapshot::model::Snapshot;
use serde_json::{json, Value};

/// The Exchange admin cmdlets whose records name what a finding points at
/// (<https://learn.microsoft.com/purview/audit-log-activities#exchange-admin-activities>).
pub const OPERATIONS: [&str; 21] = [
    "New-InboxRule",
    "Set-InboxRule",
    "UpdateInboxRules",
    "Set-Mailbox",
    "Add-MailboxPermission",
    "Add-RecipientPermission",
    "Add-MailboxFolderPermission",
    "Set-MailboxFolderPermission",
    "New-TransportRule",
    "Set-TransportRule",
    "New-OutboundConnector",
    "Set-OutboundConnector",
    "New-InboundConnector",
    "Set-InboundConnector",
    "New-RemoteDomain",
    "Set-RemoteDomain",
    "Add-RoleGroupMember",
    "New-ManagementRoleAssignment",
    "New-ApplicationAccessPolicy",
    "Set-OwaMailboxPolicy",
    "Set-CASMailbox",
];

/// The sources of an activity read, as named in reports.
pub const DIRECTORY_AUDITS: &str = "directory_audits";
pub const UNIFIED_AUDIT_LOG: &str = "unified_audit_log";
pub const SIGN_INS: &str = "sign_ins";

/// How to read.
#[derive(Debug, Clone)]
pub struct Options {
    pub days: u32,
    /// The audit log query's bound and first poll (as `investigate --audit-wait`).
    pub audit: audit_query::Options,
}

impl Options {
    pub fn new(days: u32) -> Options {
        Options {
            days,
            audit: audit_query::Options::default(),
        }
    }
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn not_read(reason: String) -> SourceOutcome {
    SourceOutcome {
        status: SourceState::Error,
        reason: Some(reason),
        items: 0,
        requests: Vec::new(),
    }
}

/// The window's audit logs, read before the evaluation, with the connection kept for the
/// sign-ins read later (of the users who registered methods, of the actors).
pub struct Logs {
    pub days: u32,
    pub window: Window,
    pub sources: BTreeMap<String, SourceOutcome>,
    pub audits: Vec<DirectoryAudit>,
    pub events: Vec<join::Event>,
    /// Sign-ins read so far, by user object id (lower-case).
    sign_ins: BTreeMap<String, Vec<SignIn>>,
    sign_in_requests: Vec<String>,
    /// The outcome of the first failed sign-in read: no further reads, the source is
    /// stated as failed.
    sign_in_failure: Option<SourceOutcome>,
    /// `None` when the sign-in to Graph failed (every source says so).
    connection: Option<(TokenProvider, ureq::Agent)>,
}

/// Read the window's directory audits and unified audit log. Never fails: a source that
/// cannot be read (sign-in included) is recorded in `sources`.
pub fn read_logs(connection: &Settings, options: &Options) -> Logs {
    let until = Utc::now();
    let window = Window {
        since: until - chrono::Duration::days(i64::from(options.days)),
        until,
    };
    let mut logs = Logs {
        days: options.days,
        window,
        sources: BTreeMap::new(),
        audits: Vec::new(),
        events: Vec::new(),
        sign_ins: BTreeMap::new(),
        sign_in_requests: Vec::new(),
        sign_in_failure: None,
        connection: None,
    };
    let agent = crate::http::agent();
    let tokens = TokenProvider::new(connection.clone(), agent.clone());
    if let Err(e) = tokens.token(GRAPH_SCOPE) {
        let reason = format!(
            "cannot sign in for the activity read: {}",
            sign_in_error(&e)
        );
        for name in [DIRECTORY_AUDITS, UNIFIED_AUDIT_LOG, SIGN_INS] {
            logs.sources.insert(name.into(), not_read(reason.clone()));
        }
        return logs;
    }
    {
        let graph = graph_of(&tokens, &agent);
        let (since, until) = (stamp(window.since), stamp(window.until));
        let path = format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            crate::graph::path::query_value(&format!(
                "activityDateTime ge {since} and activityDateTime le {until}"
            ))
        );
        let audits = graph
            .get_all(&path)
            .and_then(|items| to_audits(&path, items));
        logs.sources
            .insert(DIRECTORY_AUDITS.into(), outcome_of(&audits, vec![path]));
        logs.audits = audits.unwrap_or_default();
        logs.events = join::from_audits(&logs.audits);

        let spec = QuerySpec {
            display_name: format!("m365guard scan activity {} days", options.days),
            users: Vec::new(),
            operations: &OPERATIONS,
        };
        let (outcome, records) = audit_query::run_query(&graph, &spec, &window, &options.audit);
        logs.sources.insert(UNIFIED_AUDIT_LOG.into(), outcome);
        logs.events.extend(join::from_records(&records));
    }
    logs.connection = Some((tokens, agent));
    logs
}

fn graph_of<'a>(tokens: &'a TokenProvider, agent: &ureq::Agent) -> GraphClient<'a> {
    GraphClient::new(tokens, agent.clone()).with_limits(Arc::new(Limits::from_env()))
}

impl Logs {
    /// Read the interactive sign-ins in the window of these users (object ids) not read yet.
    fn read_sign_ins(&mut self, users: impl IntoIterator<Item = String>) {
        let Some((tokens, agent)) = &self.connection else {
            return;
        };
        let graph = graph_of(tokens, agent);
        let (since, until) = (stamp(self.window.since), stamp(self.window.until));
        for id in users {
            let id = id.to_lowercase();
            if self.sign_in_failure.is_some()
                || self.sign_ins.contains_key(&id)
                || !crate::graph::path::is_object_id(&id)
            {
                continue;
            }
            let filter = format!(
                "userId eq {} and createdDateTime ge {since} and createdDateTime le {until}",
                crate::graph::path::odata_string(&id)
            );
            let path = format!(
                "/beta/auditLogs/signIns?$filter={}&$top=1000",
                crate::graph::path::query_value(&filter)
            );
            self.sign_in_requests.push(path.clone());
            match graph
                .get_all(&path)
                .and_then(|items| to_sign_ins(&path, items))
            {
                Ok(items) => {
                    self.sign_ins.insert(id, items);
                }
                Err(e) => {
                    self.sign_ins.clear();
                    let failed: Result<Vec<SignIn>, ApiError> = Err(e);
                    self.sign_in_failure = Some(outcome_of(&failed, self.sign_in_requests.clone()));
                }
            }
        }
    }

    /// The sign-ins source's outcome.
    fn sign_in_outcome(&self) -> SourceOutcome {
        let requests = self.sign_in_requests.clone();
        match &self.sign_in_failure {
            Some(outcome) => outcome.clone(),
            None => {
                let n: usize = self.sign_ins.values().map(Vec::len).sum();
                let ok: Result<Vec<()>, ApiError> = Ok(vec![(); n]);
                outcome_of(&ok, requests)
            }
        }
    }

    /// The Rego input's `activity` section (policies/README.md): when each auth method was
    /// registered (its created time, else the registration event of its kind), and the
    /// suspicious sign-ins and password resets of the users who registered methods.
    /// `methods` are the collected snapshot's `auth_methods`, taken from the typed
    /// snapshot by the pipeline (the text is not parsed a second time for them).
    pub fn rego_section(&mut self, methods: &[AuthMethod]) -> Value {
        let registered = join::registrations(methods, &self.events);
        let users: BTreeSet<String> = registered
            .keys()
            .filter_map(|id| {
                methods
                    .iter()
                    .find(|m| &m.id == id)
                    .map(|m| m.user_id.to_lowercase())
            })
            .collect();
        self.read_sign_ins(users.iter().cloned());
        let mut events = Vec::new();
        for (user, sign_ins) in &self.sign_ins {
            for s in sign_ins.iter().filter(|s| join::is_suspicious(s)) {
                events.push(json!({"user_id": user, "kind": "suspicious_sign_in", "time": s.time, "epoch": s.epoch, "ip": s.ip_address}));
            }
        }
        for a in &self.audits {
            let activity = a.activity.to_lowercase();
            if activity.contains("reset") && activity.contains("password") {
                for t in a.targets.iter().filter(|t| {
                    t.kind
                        .as_deref()
                        .is_some_and(|k| k.eq_ignore_ascii_case("user"))
                }) {
                    if let Some(id) = &t.id {
                        events.push(json!({"user_id": id.to_lowercase(), "kind": "password_reset", "time": a.time, "epoch": a.epoch}));
                    }
                }
            }
        }
        let registered: serde_json::Map<String, Value> = registered
            .into_iter()
            .map(|(id, (time, epoch))| (id, json!({"time": time, "epoch": epoch})))
            .collect();
        json!({
            "days": self.days,
            "since": stamp(self.window.since),
            "until": stamp(self.window.until),
            "registered": registered,
            "events": events,
        })
    }

    /// Attach the events to `result`'s findings (reading the actors' sign-ins) and return
    /// what the read covered.
    pub fn attach(mut self, result: &mut ScanResult, snapshot: &Snapshot) -> ActivitySummary {
        let matches = join::matches(result, snapshot, &self.events);
        let users = join::users_by_upn(snapshot);
        let actors: BTreeSet<String> = matches
            .iter()
            .flat_map(|(_, _, hits)| hits.iter())
            .filter_map(|i| self.events.get(*i))
            .filter_map(|e| join::actor_id(e, &users))
            .collect();
        self.read_sign_ins(actors);
        let mut sources = self.sources.clone();
        if !sources.contains_key(SIGN_INS) {
            sources.insert(SIGN_INS.into(), self.sign_in_outcome());
        }
        let findings_with_activity =
            join::apply(result, &matches, &self.events, &self.sign_ins, &users);
        ActivitySummary {
            days: self.days,
            since: self.window.since,
            until: self.window.until,
            sources,
            events: self.events.len(),
            findings_with_activity,
        }
    }
}

/// A sign-in error without anything secret (the auth errors never carry the secret).
fn sign_in_error(e: &AuthError) -> String {
    e.to_string()
}
