//! Live collection: signs in, runs one collector per snapshot source against Graph and
//! Exchange, and assembles a [`Snapshot`]. Every source gets a status with a reason —
//! licence gates become `unavailable`, failures `error` — so a partial collection can
//! never pass a scan.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::auth::{token_claim, AuthError, Settings, TokenProvider, GRAPH_SCOPE};
use crate::exchange::ExchangeClient;
use crate::graph::limits::Limits;
use crate::graph::{ApiError, GraphClient};
use crate::snapshot::model::{
    CollectionInfo, Snapshot, SourceId, SourceState, SourceStatus, Tenant, SCHEMA_VERSION,
};
use crate::snapshot::source::{Stage, SOURCES};

/// Moved to [`crate::http::agent`]; kept here for its many callers.
pub use crate::http::agent;
/// Who counts as privileged for per-user reads (synthetic tenants use it too).
pub(crate) use auth_methods::privileged_user_ids;

pub(crate) mod app_management_policies;
pub(crate) mod apps;
mod audit_config;
pub(crate) mod auth_methods;
mod ca_group_members;
mod conditional_access;
pub(crate) mod connectors;
pub(crate) mod exchange_rbac;
pub(crate) mod exchange_role_groups;
mod federation;
pub(crate) mod inbox_rules;
pub(crate) mod mail_protocols;
pub(crate) mod mailbox_delegates;
pub(crate) mod mailbox_folder_permissions;
pub(crate) mod mailboxes;
mod mfa_registration;
mod named_locations;
pub(crate) mod organization;
mod outbound_spam;
mod per_user_mfa;
pub(crate) mod pool;
mod recipients;
mod remote_domains;
mod restricted_senders;
mod risky_users;
pub(crate) mod role_eligibility;
pub(crate) mod roles;
mod security_defaults;
pub(crate) mod transport_rules;
pub(crate) mod users;

/// Shared state of one collection run.
pub struct Ctx<'a> {
    pub graph: GraphClient<'a>,
    pub exchange: ExchangeClient<'a>,
    pub snapshot: Snapshot,
    /// `collect --deep`: per-user sources that normally cover privileged users only
    /// (`auth_methods`) read every user.
    pub deep: bool,
}

impl Ctx<'_> {
    /// Record a collector's outcome: `Ok(items)`, a licence gate, or a failure.
    pub fn record(&mut self, source: SourceId, outcome: Result<u64, ApiError>) {
        let status = match outcome {
            Ok(items) => SourceStatus {
                status: SourceState::Ok,
                reason: None,
                items,
            },
            Err(ApiError::Licence { .. }) => SourceStatus {
                status: SourceState::Unavailable,
                reason: outcome_reason(&outcome),
                items: 0,
            },
            Err(_) => SourceStatus {
                status: SourceState::Error,
                reason: outcome_reason(&outcome),
                items: 0,
            },
        };
        tracing::info!(
            source = source.as_str(),
            status = ?status.status,
            items = status.items,
            reason = status.reason.as_deref().unwrap_or(""),
            "source collected"
        );
        self.snapshot.sources.insert(source, status);
    }

    pub fn set(&mut self, source: SourceId, status: SourceState, reason: &str, items: u64) {
        tracing::info!(
            source = source.as_str(),
            status = ?status,
            items,
            reason,
            "source collected"
        );
        self.snapshot.sources.insert(
            source,
            SourceStatus {
                status,
                reason: Some(reason.to_owned()),
                items,
            },
        );
    }
}

fn outcome_reason(outcome: &Result<u64, ApiError>) -> Option<String> {
    outcome.as_ref().err().map(|e| match e {
        ApiError::Licence { .. } => format!("licence required: {e}"),
        _ => e.to_string(),
    })
}

/// Collect a snapshot. Only a failed sign-in is fatal; everything else lands in `sources`.
///
/// The Graph collectors and the Exchange collectors run side by side (two budgets, two
/// services); within each side collectors run in order because later ones build on
/// earlier ones (users before per-user MFA, roles before PIM, mailboxes before inbox
/// rules). Concurrency comes from `M365GUARD_CONCURRENCY` (default
/// [`crate::http::limits::DEFAULT_CONCURRENCY`]; 1 = serial and unbatched).
pub fn collect(settings: Settings) -> Result<Snapshot, AuthError> {
    collect_with(settings, false)
}

/// [`collect`], with `deep` (`collect --deep`): authentication methods of every user, not
/// only the privileged ones.
pub fn collect_with(settings: Settings, deep: bool) -> Result<Snapshot, AuthError> {
    let agent = agent();
    let limits = Arc::new(Limits::from_env());
    let tokens = TokenProvider::new(settings.clone(), agent.clone());
    // Sign in up front: a wrong secret should be one clear error, not 10 failed sources.
    let token = tokens.token(GRAPH_SCOPE)?;
    tracing::info!(
        progress_total = SourceId::ALL.len() as u64,
        "signed in; collecting {} sources",
        SourceId::ALL.len()
    );
    let ctx = |snapshot| Ctx {
        graph: GraphClient::new(&tokens, agent.clone()).with_limits(Arc::clone(&limits)),
        exchange: ExchangeClient::new(&tokens, agent.clone()).with_limits(Arc::clone(&limits)),
        snapshot,
        deep,
    };
    let mut graph_side = ctx(empty_snapshot(&settings));
    let mut exchange_side = ctx(empty_snapshot(&settings));
    let serial = limits.concurrency() == 1;
    if serial {
        run_stage(Stage::Graph, &mut graph_side);
        run_stage(Stage::Exchange, &mut exchange_side);
    } else {
        std::thread::scope(|scope| {
            scope.spawn(|| run_stage(Stage::Exchange, &mut exchange_side));
            run_stage(Stage::Graph, &mut graph_side);
        });
    }
    let mut ctx = graph_side;
    merge_exchange_side(&mut ctx.snapshot, exchange_side.snapshot);
    // Needs both sides: blocked addresses are linked to mailboxes, else to users.
    run_stage(Stage::Joined, &mut ctx);
    check_assembled(&mut ctx.snapshot);
    ctx.snapshot.collection.collector_principal_id = token_claim(&token, "oid");
    Ok(ctx.snapshot)
}

/// Run every source of `stage`, in table order.
fn run_stage(stage: Stage, ctx: &mut Ctx<'_>) {
    for source in SOURCES.iter().filter(|s| s.stage == stage) {
        collector_for(source.id)(ctx);
    }
}

/// The collector that fills `source`. An exhaustive match: a new [`SourceId`] does not
/// compile until it has one.
fn collector_for(source: SourceId) -> fn(&mut Ctx<'_>) {
    match source {
        SourceId::Organization => organization::collect,
        // One `/users` read fills both.
        SourceId::Users => users::collect,
        SourceId::SignInActivity => |_| {},
        SourceId::MfaRegistration => mfa_registration::collect,
        SourceId::PerUserMfa => per_user_mfa::collect,
        SourceId::SecurityDefaults => security_defaults::collect,
        SourceId::ConditionalAccess => conditional_access::collect,
        SourceId::Roles => roles::collect,
        SourceId::RoleEligibility => role_eligibility::collect,
        SourceId::RiskyUsers => risky_users::collect,
        SourceId::Mailboxes => mailboxes::collect,
        SourceId::InboxRules => inbox_rules::collect,
        SourceId::OutboundSpamPolicies => outbound_spam::collect,
        SourceId::RestrictedSenders => restricted_senders::collect,
        SourceId::RemoteDomains => remote_domains::collect,
        SourceId::NamedLocations => named_locations::collect,
        SourceId::CaGroupMembers => ca_group_members::collect,
        SourceId::Recipients => recipients::collect,
        SourceId::MailProtocols => mail_protocols::collect,
        SourceId::AuditConfig => audit_config::collect,
        SourceId::TransportRules => transport_rules::collect,
        SourceId::OutboundConnectors => connectors::collect_outbound,
        SourceId::InboundConnectors => connectors::collect_inbound,
        SourceId::MailboxDelegates => mailbox_delegates::collect,
        SourceId::MailboxFolderPermissions => mailbox_folder_permissions::collect,
        SourceId::ServicePrincipals => apps::collect_service_principals,
        SourceId::ConsentGrants => apps::collect_consent_grants,
        SourceId::AppRoleAssignments => apps::collect_app_role_assignments,
        SourceId::ConsentPolicy => apps::collect_consent_policy,
        SourceId::AuthMethods => auth_methods::collect,
        SourceId::Federation => federation::collect,
        SourceId::ExchangeRoleGroups => exchange_role_groups::collect,
        SourceId::ExchangeRoleAssignments => exchange_rbac::collect_role_assignments,
        SourceId::ApplicationAccessPolicies => exchange_rbac::collect_access_policies,
        SourceId::AppManagementPolicies => app_management_policies::collect,
    }
}

/// Move what the Exchange thread collected into the assembled snapshot: every array of
/// every Exchange-stage source, and their statuses. Derived from the source table, so an
/// Exchange source cannot be collected and then dropped here while its status says `ok`.
fn merge_exchange_side(into: &mut Snapshot, mut from: Snapshot) {
    for source in SOURCES.iter().filter(|s| s.stage == Stage::Exchange) {
        for array in source.resources {
            array.move_into(&mut from, into);
        }
        if let Some(status) = from.sources.remove(&source.id) {
            into.sources.insert(source.id, status);
        }
    }
    // Anything else the Exchange side recorded is a collector writing outside its stage.
    for (id, status) in from.sources {
        tracing::warn!(
            source = id.as_str(),
            "status recorded on the Exchange side for a non-Exchange source"
        );
        into.sources.entry(id).or_insert(status);
    }
}

/// A source that reported `ok` with N items must hold N items in its arrays once the
/// snapshot is assembled. Anything else is a collector or merge that lost data: the source
/// becomes `error`, so rules reading it are not evaluated instead of passing on less.
fn check_assembled(snapshot: &mut Snapshot) {
    for source in &SOURCES {
        snapshot
            .sources
            .entry(source.id)
            .or_insert_with(|| SourceStatus {
                status: SourceState::Error,
                reason: Some("its collector recorded no status: incomplete".to_owned()),
                items: 0,
            });
    }
    for source in SOURCES.iter().filter(|s| !s.resources.is_empty()) {
        let held: usize = source.resources.iter().map(|a| a.len(snapshot)).sum();
        let Some(status) = snapshot.sources.get_mut(&source.id) else {
            continue;
        };
        if status.status == SourceState::Ok && status.items != held as u64 {
            tracing::error!(
                source = source.id.as_str(),
                collected = status.items,
                held,
                "source lost items"
            );
            status.status = SourceState::Error;
            status.reason = Some(format!(
                "collected {} items but the snapshot holds {held}: incomplete",
                status.items
            ));
        }
    }
}

pub(crate) fn empty_snapshot(settings: &Settings) -> Snapshot {
    Snapshot {
        schema_version: SCHEMA_VERSION,
        tenant: Tenant {
            id: settings.tenant.clone(),
            display_name: None,
            verified_domains: Vec::new(),
            default_domain: None,
        },
        collection: CollectionInfo {
            collected_at: Utc::now(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            collector_app_id: Some(settings.client_id.clone()),
            collector_principal_id: None,
        },
        ..Snapshot::default()
    }
}

// Small JSON accessors shared by the collectors.

pub(crate) fn s(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

pub(crate) fn b(obj: &Map<String, Value>, key: &str) -> Option<bool> {
    obj.get(key).and_then(Value::as_bool)
}

pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let text = v?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            // Graph's innerError dates lack an offset; treat such values as UTC.
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// Tests build API objects with `json!`; this unwraps one into the map collectors take.
#[cfg(test)]
pub(crate) fn test_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not a JSON object: {other}"),
    }
}
