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
//! - The actors' sign-ins, only for the actors of events that matched a finding: beta
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
use crate::investigate::SignIn;
use crate::snapshot::model::Snapshot;

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

/// Read the window's activity and attach it to `result`'s findings. Never fails: a
/// source that cannot be read (sign-in included) is recorded in the summary's sources.
pub fn attach(
    connection: &Settings,
    options: &Options,
    result: &mut ScanResult,
    snapshot: &Snapshot,
) -> ActivitySummary {
    let until = Utc::now();
    let window = Window {
        since: until - chrono::Duration::days(i64::from(options.days)),
        until,
    };
    let mut summary = ActivitySummary {
        days: options.days,
        since: window.since,
        until: window.until,
        sources: BTreeMap::new(),
        events: 0,
        findings_with_activity: 0,
    };
    let agent = crate::http::agent();
    let tokens = TokenProvider::new(connection.clone(), agent.clone());
    if let Err(e) = tokens.token(GRAPH_SCOPE) {
        let reason = format!(
            "cannot sign in for the activity read: {}",
            sign_in_error(&e)
        );
        for name in [DIRECTORY_AUDITS, UNIFIED_AUDIT_LOG, SIGN_INS] {
            summary
                .sources
                .insert(name.into(), not_read(reason.clone()));
        }
        return summary;
    }
    let graph = GraphClient::new(&tokens, agent).with_limits(Arc::new(Limits::from_env()));

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
    summary
        .sources
        .insert(DIRECTORY_AUDITS.into(), outcome_of(&audits, vec![path]));
    let mut events = join::from_audits(&audits.unwrap_or_default());

    let spec = QuerySpec {
        display_name: format!("m365guard scan activity {} days", options.days),
        users: Vec::new(),
        operations: &OPERATIONS,
    };
    let (outcome, records) = audit_query::run_query(&graph, &spec, &window, &options.audit);
    summary.sources.insert(UNIFIED_AUDIT_LOG.into(), outcome);
    events.extend(join::from_records(&records));
    summary.events = events.len();

    let matches = join::matches(result, snapshot, &events);
    let users = join::users_by_upn(snapshot);
    let actors: BTreeSet<String> = matches
        .iter()
        .flat_map(|(_, _, hits)| hits.iter())
        .filter_map(|i| events.get(*i))
        .filter_map(|e| join::actor_id(e, &users))
        .filter(|id| crate::graph::path::is_object_id(id))
        .map(|id| id.to_lowercase())
        .collect();
    let (outcome, sign_ins) = actor_sign_ins(&graph, &actors, &since, &until);
    summary.sources.insert(SIGN_INS.into(), outcome);
    summary.findings_with_activity = join::apply(result, &matches, &events, &sign_ins, &users);
    summary
}

/// A sign-in error without anything secret (the auth errors never carry the secret).
fn sign_in_error(e: &AuthError) -> String {
    e.to_string()
}

/// The interactive sign-ins of each actor in the window.
fn actor_sign_ins(
    graph: &GraphClient<'_>,
    actors: &BTreeSet<String>,
    since: &str,
    until: &str,
) -> (SourceOutcome, BTreeMap<String, Vec<SignIn>>) {
    let mut out = BTreeMap::new();
    let mut requests = Vec::new();
    for id in actors {
        let filter = format!(
            "userId eq {} and createdDateTime ge {since} and createdDateTime le {until}",
            crate::graph::path::odata_string(id)
        );
        let path = format!(
            "/beta/auditLogs/signIns?$filter={}&$top=1000",
            crate::graph::path::query_value(&filter)
        );
        requests.push(path.clone());
        match graph
            .get_all(&path)
            .and_then(|items| to_sign_ins(&path, items))
        {
            Ok(items) => {
                out.insert(id.clone(), items);
            }
            Err(e) => {
                let failed: Result<Vec<SignIn>, ApiError> = Err(e);
                return (outcome_of(&failed, requests), BTreeMap::new());
            }
        }
    }
    let n: usize = out.values().map(Vec::len).sum();
    let ok: Result<Vec<()>, ApiError> = Ok(vec![(); n]);
    (outcome_of(&ok, requests), out)
}
