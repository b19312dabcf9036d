//! `respond --user`: the OAuth consent grants the user gave — their own delegated grants
//! (`Principal`, `principalId` = the user) and the tenant-wide (`AllPrincipals`) grants they
//! consented to as an admin — listed for review and, when given in the compromise window,
//! revoked. An app consented to read the mailbox keeps its refresh token after the password
//! reset and session revocation, so the account is not secured while the grant stays.
//!
//! Graph: `GET /oauth2PermissionGrants?$filter=principalId eq '{user}'` and
//! `?$filter=clientId eq '{sp}'` (<https://learn.microsoft.com/graph/api/oauth2permissiongrant-list>;
//! `$filter` on `clientId`, `consentType`, `principalId`, `resourceId`), each app's service
//! principal (<https://learn.microsoft.com/graph/api/serviceprincipal-get>), and the user's
//! "Consent to application" events in the directory audit log
//! (<https://learn.microsoft.com/graph/api/directoryaudit-list>, `initiatedBy/user/id` and
//! `activityDateTime`): a grant has no creation time, so only the audit log dates it, and it
//! alone names the admin who gave an `AllPrincipals` grant. Without the audit log (no
//! AuditLog.Read.All, or older than its retention) the grants are listed undated and none is
//! proposed. The revocation has the scan fix's guards (`apps_plan::revoke_consent_grant`):
//! never a Microsoft first-party app's grant.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::actions::ActionKind;
use super::live::Live;
use super::plan::NotPlanned;
use super::planner::PlanBuilder;
use crate::collect::apps::{map_grant, map_service_principal};
use crate::collect::{s, time};
use crate::graph::ApiError;
use crate::snapshot::model::{ConsentGrant, ServicePrincipal, Snapshot};

/// The audit activity Entra logs when a user or an admin consents to an app.
const CONSENT_ACTIVITY: &str = "Consent to application";
const SP_SELECT: &str =
    "id,appId,displayName,servicePrincipalType,accountEnabled,appOwnerOrganizationId,publisherName,verifiedPublisher,signInAudience";

/// One grant the user gave, as `respond-review.json` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct UserConsent {
    pub grant_id: String,
    /// `Principal` (for the user only) or `AllPrincipals` (admin consent for everyone).
    pub consent_type: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_verified_publisher: Option<String>,
    pub resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    pub scopes: Vec<String>,
    /// The user's latest "Consent to application" event for the app; `None` when the
    /// audit log does not have one (or could not be read).
    pub consented_at: Option<DateTime<Utc>>,
}

/// What respond read about the user's consents.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserConsents {
    pub grants: Vec<UserConsent>,
    /// Reads that failed: `grants`: the list itself is missing; `audit`: the grants are
    /// undated, so none is proposed.
    pub not_read: BTreeMap<String, String>,
}

/// Read the user's grants, their apps and the consent events since `since` into
/// `snapshot.apps` (grants and service principals) and the returned list.
pub fn collect(
    live: &Live<'_>,
    snapshot: &mut Snapshot,
    user_id: &str,
    since: DateTime<Utc>,
) -> UserConsents {
    let mut out = UserConsents::default();
    // When the user consented, per client service principal (latest event wins).
    let mut consented: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    match consent_events(live, user_id, since) {
        Ok(events) => {
            for (sp, at) in events {
                let entry = consented.entry(sp).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        Err(e) => {
            out.not_read.insert("audit".into(), e.to_string());
        }
    }
    let grants = match user_grants(live, user_id, &consented) {
        Ok(grants) => grants,
        Err(e) => {
            out.not_read.insert("grants".into(), e.to_string());
            return out;
        }
    };
    let ids: BTreeSet<&str> = grants
        .iter()
        .flat_map(|g| [g.client_id.as_str(), g.resource_id.as_str()])
        .collect();
    let mut sps: Vec<ServicePrincipal> = Vec::new();
    for id in ids
        .into_iter()
        .filter(|id| crate::graph::path::is_object_id(id))
    {
        match live
            .graph
            .get(&format!("/v1.0/servicePrincipals/{id}?$select={SP_SELECT}"))
        {
            Ok(Value::Object(sp)) => sps.extend(map_service_principal(&sp)),
            Ok(_) => {}
            // A grant can outlive its app; the grant is still listed.
            Err(e) if super::live::is_not_found(&e) => {}
            Err(e) => {
                out.not_read
                    .insert("service principals".into(), e.to_string());
            }
        }
    }
    let sp = |id: &str| sps.iter().find(|s| s.id.eq_ignore_ascii_case(id));
    out.grants = grants
        .iter()
        .map(|g| UserConsent {
            grant_id: g.id.clone(),
            consent_type: g.consent_type.clone(),
            client_id: g.client_id.clone(),
            client_name: sp(&g.client_id).map(|s| s.display_name.clone()),
            client_app_id: sp(&g.client_id).map(|s| s.app_id.clone()),
            client_verified_publisher: sp(&g.client_id).and_then(|s| s.verified_publisher.clone()),
            resource_id: g.resource_id.clone(),
            resource_name: sp(&g.resource_id).map(|s| s.display_name.clone()),
            scopes: g.scopes.clone(),
            consented_at: consented.get(&g.client_id.to_lowercase()).copied(),
        })
        .collect();
    out.grants
        .sort_by(|a, b| (b.consented_at, &a.grant_id).cmp(&(a.consented_at, &b.grant_id)));
    snapshot.apps.consent_grants = grants;
    snapshot.apps.service_principals = sps;
    out
}

/// `(client service principal id, when)` of the user's consent events since `since`.
fn consent_events(
    live: &Live<'_>,
    user_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>)>, ApiError> {
    let filter = format!(
        "activityDisplayName eq '{CONSENT_ACTIVITY}' and initiatedBy/user/id eq {} and activityDateTime ge {}",
        crate::graph::path::odata_string(user_id),
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let events = live.graph.get_all(&format!(
        "/v1.0/auditLogs/directoryAudits?$filter={}",
        crate::graph::path::query_value(&filter)
    ))?;
    let mut out = Vec::new();
    for e in &events {
        if s(e, "result").is_some_and(|r| !r.eq_ignore_ascii_case("success")) {
            continue;
        }
        let Some(at) = time(e.get("activityDateTime")) else {
            continue;
        };
        let targets = e.get("targetResources").and_then(Value::as_array);
        for t in targets.into_iter().flatten().filter_map(Value::as_object) {
            if is_service_principal(t) {
                out.extend(s(t, "id").map(|id| (id.to_lowercase(), at)));
            }
        }
    }
    Ok(out)
}

fn is_service_principal(t: &Map<String, Value>) -> bool {
    s(t, "type").is_some_and(|k| k.eq_ignore_ascii_case("ServicePrincipal"))
}

/// The user's own grants, and the tenant-wide grants of the apps the user consented to.
fn user_grants(
    live: &Live<'_>,
    user_id: &str,
    consented: &BTreeMap<String, DateTime<Utc>>,
) -> Result<Vec<ConsentGrant>, ApiError> {
    let list = |filter: String| -> Result<Vec<ConsentGrant>, ApiError> {
        let raw = live.graph.get_all(&format!(
            "/v1.0/oauth2PermissionGrants?$filter={}",
            crate::graph::path::query_value(&filter)
        ))?;
        Ok(raw.iter().filter_map(map_grant).collect())
    };
    let mut grants = list(format!(
        "principalId eq {}",
        crate::graph::path::odata_string(user_id)
    ))?;
    for sp in consented
        .keys()
        .filter(|id| crate::graph::path::is_object_id(id))
    {
        let tenant_wide = list(format!(
            "clientId eq '{sp}' and consentType eq 'AllPrincipals'"
        ))?;
        grants.extend(
            tenant_wide
                .into_iter()
                .filter(|g| g.consent_type == "AllPrincipals"),
        );
    }
    grants.sort_by(|a, b| a.id.cmp(&b.id));
    grants.dedup_by(|a, b| a.id == b.id);
    Ok(grants)
}

/// Propose `revoke_consent_grant` for every grant given at or after `since`; say why none
/// is proposed when the grants or their dates could not be read.
pub fn plan(
    b: &mut PlanBuilder,
    snapshot: &Snapshot,
    consents: &UserConsents,
    since: DateTime<Utc>,
    reason: &str,
) {
    let upn = snapshot
        .users
        .first()
        .map(|u| u.user_principal_name.clone())
        .unwrap_or_default();
    for (what, error) in &consents.not_read {
        b.not_planned.push(NotPlanned {
            rule_id: "respond".into(),
            resource_name: upn.clone(),
            reason: format!(
                "consent grants: {what} not read, so no grant given in the compromise window is proposed for revocation from it: {error}"
            ),
        });
    }
    for c in consents
        .grants
        .iter()
        .filter(|c| c.consented_at.is_some_and(|t| t >= since))
    {
        let name = format!(
            "{} on {} ({}, {})",
            c.client_name.as_deref().unwrap_or(&c.client_id),
            c.resource_name.as_deref().unwrap_or(&c.resource_id),
            c.consent_type,
            c.scopes.join(" ")
        );
        match super::apps_plan::revoke_consent_grant(snapshot, &c.grant_id, &name) {
            Ok((target, pre)) => {
                b.add(
                    ActionKind::RevokeConsentGrant,
                    target,
                    pre,
                    reason,
                    vec![],
                    vec![],
                );
            }
            Err(refused) => b.not_planned.push(NotPlanned {
                rule_id: "respond".into(),
                resource_name: name,
                reason: refused,
            }),
        }
    }
}
