//! Sources `service_principals`, `consent_grants`, `app_role_assignments` and
//! `consent_policy`: the enterprise applications of the tenant and what they were given —
//! the back doors that survive a password reset (an illicitly consented app reading a
//! mailbox, a secret added to an existing service principal).
//!
//! Graph (v1.0):
//! - `GET /servicePrincipals?$select=…,keyCredentials,passwordCredentials`
//!   (<https://learn.microsoft.com/graph/api/serviceprincipal-list>; `keyCredentials` only
//!   when selected, <https://learn.microsoft.com/graph/api/serviceprincipal-get>) and
//!   `GET /applications?$select=…` (<https://learn.microsoft.com/graph/api/application-list>):
//!   a service principal has no `createdDateTime` in v1.0, so the tenant's own app
//!   registration gives it. Credentials keep metadata only: `keyId`, `displayName`,
//!   `startDateTime`, `endDateTime`, `usage`. `secretText`, `hint` and `key` are never read
//!   (<https://learn.microsoft.com/graph/api/resources/passwordcredential>,
//!   <https://learn.microsoft.com/graph/api/resources/keycredential>), whatever an answer holds.
//! - `GET /oauth2PermissionGrants`
//!   (<https://learn.microsoft.com/graph/api/oauth2permissiongrant-list>).
//! - From the resource side, for Microsoft Graph, Office 365 Exchange Online and SharePoint
//!   Online only: the resource's service principal with its `appRoles`
//!   (`$filter=appId eq '…'`), then `GET /servicePrincipals/{id}/appRoleAssignedTo`
//!   (<https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto>): three
//!   lists instead of one `appRoleAssignments` call per service principal. App role ids are
//!   resolved to permission names from the resource's `appRoles`.
//! - `GET /policies/authorizationPolicy`
//!   (<https://learn.microsoft.com/graph/api/authorizationpolicy-get>) and
//!   `GET /policies/adminConsentRequestPolicy`
//!   (<https://learn.microsoft.com/graph/api/adminconsentrequestpolicy-get>).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{b, s, strings, time, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{
    AppCredential, AppRoleGrant, ConsentGrant, ConsentPolicy, CredentialOwner, ServicePrincipal,
    SourceId,
};

/// The resource APIs whose application permissions are collected: Microsoft Graph, Office
/// 365 Exchange Online, SharePoint Online (Microsoft's well-known app ids).
pub const RESOURCE_APPS: [&str; 3] = [
    "00000003-0000-0000-c000-000000000000",
    "00000002-0000-0ff1-ce00-000000000000",
    "00000003-0000-0ff1-ce00-000000000000",
];

const SP_SELECT: &str = "id,appId,displayName,servicePrincipalType,accountEnabled,appOwnerOrganizationId,publisherName,verifiedPublisher,signInAudience,keyCredentials,passwordCredentials";
const APP_SELECT: &str = "id,appId,displayName,createdDateTime,keyCredentials,passwordCredentials";

pub fn collect_service_principals(ctx: &mut Ctx<'_>) {
    let outcome = read_service_principals(ctx).map(|(sps, creds)| {
        let n = (sps.len() + creds.len()) as u64;
        ctx.snapshot.apps.service_principals = sps;
        ctx.snapshot.apps.credentials = creds;
        n
    });
    ctx.record(SourceId::ServicePrincipals, outcome);
}

type Read = (Vec<ServicePrincipal>, Vec<AppCredential>);

fn read_service_principals(ctx: &Ctx<'_>) -> Result<Read, ApiError> {
    let raw = ctx.graph.get_all(&format!(
        "/v1.0/servicePrincipals?$select={SP_SELECT}&$top=999"
    ))?;
    let apps = ctx
        .graph
        .get_all(&format!("/v1.0/applications?$select={APP_SELECT}&$top=999"))?;
    let mut creds = Vec::new();
    let mut by_app_id: HashMap<String, &Map<String, Value>> = HashMap::new();
    for app in &apps {
        let (Some(id), Some(app_id)) = (s(app, "id"), s(app, "appId")) else {
            continue;
        };
        let name = s(app, "displayName").unwrap_or_else(|| app_id.clone());
        creds.extend(credentials(
            app,
            CredentialOwner::Application,
            &id,
            &app_id,
            &name,
        ));
        by_app_id.insert(app_id.to_lowercase(), app);
    }
    let mut sps = Vec::new();
    for sp in &raw {
        let Some(mut mapped) = map_service_principal(sp) else {
            continue;
        };
        if let Some(app) = by_app_id.get(&mapped.app_id.to_lowercase()) {
            mapped.created_date_time = time(app.get("createdDateTime"));
            mapped.application_id = s(app, "id");
        }
        creds.extend(credentials(
            sp,
            CredentialOwner::ServicePrincipal,
            &mapped.id,
            &mapped.app_id,
            &mapped.display_name,
        ));
        sps.push(mapped);
    }
    Ok((sps, creds))
}

pub(crate) fn map_service_principal(sp: &Map<String, Value>) -> Option<ServicePrincipal> {
    let id = s(sp, "id")?;
    let app_id = s(sp, "appId")?;
    let verified = sp
        .get("verifiedPublisher")
        .and_then(Value::as_object)
        .and_then(|v| s(v, "displayName"));
    Some(ServicePrincipal {
        display_name: s(sp, "displayName").unwrap_or_else(|| app_id.clone()),
        service_principal_type: s(sp, "servicePrincipalType"),
        account_enabled: b(sp, "accountEnabled").unwrap_or(true),
        app_owner_organization_id: s(sp, "appOwnerOrganizationId").map(|t| t.to_lowercase()),
        publisher_name: s(sp, "publisherName"),
        verified_publisher: verified,
        sign_in_audience: s(sp, "signInAudience"),
        created_date_time: None,
        application_id: None,
        id,
        app_id,
    })
}

/// The credentials of one application or service principal: metadata only.
fn credentials(
    owner: &Map<String, Value>,
    owner_kind: CredentialOwner,
    owner_id: &str,
    app_id: &str,
    owner_name: &str,
) -> Vec<AppCredential> {
    let mut out = Vec::new();
    for (field, credential_type) in [
        ("passwordCredentials", "password"),
        ("keyCredentials", "certificate"),
    ] {
        let list = owner.get(field).and_then(Value::as_array);
        for c in list.into_iter().flatten().filter_map(Value::as_object) {
            let Some(key_id) = s(c, "keyId") else {
                continue;
            };
            out.push(AppCredential {
                id: format!("{owner_id}/{key_id}"),
                owner_kind,
                owner_id: owner_id.to_owned(),
                app_id: app_id.to_owned(),
                owner_name: owner_name.to_owned(),
                credential_type: credential_type.to_owned(),
                display_name: s(c, "displayName"),
                start_date_time: time(c.get("startDateTime")),
                end_date_time: time(c.get("endDateTime")),
                usage: s(c, "usage"),
                key_id,
            });
        }
    }
    out
}

pub fn collect_consent_grants(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .graph
        .get_all("/v1.0/oauth2PermissionGrants")
        .map(|items| {
            ctx.snapshot.apps.consent_grants = items.iter().filter_map(map_grant).collect();
            ctx.snapshot.apps.consent_grants.len() as u64
        });
    ctx.record(SourceId::ConsentGrants, outcome);
}

pub(crate) fn map_grant(g: &Map<String, Value>) -> Option<ConsentGrant> {
    Some(ConsentGrant {
        id: s(g, "id")?,
        client_id: s(g, "clientId")?,
        consent_type: s(g, "consentType").unwrap_or_default(),
        principal_id: s(g, "principalId"),
        resource_id: s(g, "resourceId")?,
        scopes: s(g, "scope")
            .map(|scope| scope.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

pub fn collect_app_role_assignments(ctx: &mut Ctx<'_>) {
    let outcome = read_app_role_assignments(ctx).map(|list| {
        let n = list.len() as u64;
        ctx.snapshot.apps.app_role_assignments = list;
        n
    });
    ctx.record(SourceId::AppRoleAssignments, outcome);
}

fn read_app_role_assignments(ctx: &Ctx<'_>) -> Result<Vec<AppRoleGrant>, ApiError> {
    let mut out = Vec::new();
    for app_id in RESOURCE_APPS {
        let resources = ctx.graph.get_all(&format!(
            "/v1.0/servicePrincipals?$filter=appId%20eq%20'{app_id}'&$select=id,appId,displayName,appRoles"
        ))?;
        // A tenant without the resource's service principal has granted nothing on it.
        for resource in &resources {
            let Some(resource_id) =
                s(resource, "id").filter(|id| crate::graph::path::is_object_id(id))
            else {
                continue;
            };
            let roles: HashMap<String, String> = resource
                .get("appRoles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .filter_map(|r| Some((s(r, "id")?.to_lowercase(), s(r, "value")?)))
                .collect();
            let assigned = ctx.graph.get_all(&format!(
                "/v1.0/servicePrincipals/{resource_id}/appRoleAssignedTo?$top=999"
            ))?;
            out.extend(assigned.iter().filter_map(|a| {
                let app_role_id = s(a, "appRoleId")?;
                Some(AppRoleGrant {
                    id: s(a, "id")?,
                    resource_id: resource_id.clone(),
                    resource_app_id: Some(app_id.to_owned()),
                    resource_name: s(a, "resourceDisplayName")
                        .or_else(|| s(resource, "displayName")),
                    principal_id: s(a, "principalId")?,
                    principal_type: s(a, "principalType"),
                    principal_name: s(a, "principalDisplayName"),
                    permission: roles.get(&app_role_id.to_lowercase()).cloned(),
                    created_date_time: time(a.get("createdDateTime")),
                    app_role_id,
                })
            }));
        }
    }
    Ok(out)
}

pub fn collect_consent_policy(ctx: &mut Ctx<'_>) {
    let outcome = read_consent_policy(ctx).map(|policy| {
        ctx.snapshot.apps.consent_policies = vec![policy];
        1
    });
    ctx.record(SourceId::ConsentPolicy, outcome);
}

fn read_consent_policy(ctx: &Ctx<'_>) -> Result<ConsentPolicy, ApiError> {
    let path = "/v1.0/policies/authorizationPolicy";
    let policy = ctx.graph.get(path)?;
    let assigned = policy
        .get("defaultUserRolePermissions")
        .and_then(|d| d.get("permissionGrantPoliciesAssigned"))
        .ok_or_else(|| ApiError::BadResponse {
            endpoint: path.into(),
            message: "missing defaultUserRolePermissions.permissionGrantPoliciesAssigned".into(),
        })?;
    let workflow = ctx.graph.get("/v1.0/policies/adminConsentRequestPolicy")?;
    Ok(ConsentPolicy {
        id: policy
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .unwrap_or("authorizationPolicy")
            .to_owned(),
        permission_grant_policies_assigned: strings(Some(assigned)),
        admin_consent_workflow_enabled: workflow.get("isEnabled").and_then(Value::as_bool),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object;
    use serde_json::json;

    #[test]
    fn credentials_keep_metadata_and_never_a_secret() {
        let sp = test_object(json!({
            "passwordCredentials": [{"keyId": "k1", "displayName": "sync", "hint": "Q~a",
                "secretText": "Q~a-super-secret", "startDateTime": "2025-12-31T01:00:00Z",
                "endDateTime": "2027-12-31T01:00:00Z"}],
            "keyCredentials": [{"keyId": "k2", "key": "MIIC-public", "usage": "Verify",
                "type": "AsymmetricX509Cert"}, {"displayName": "no key id"}]
        }));
        let creds = credentials(&sp, CredentialOwner::ServicePrincipal, "sp1", "app1", "App");
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0].id, "sp1/k1");
        assert_eq!(creds[0].credential_type, "password");
        assert_eq!(creds[1].usage.as_deref(), Some("Verify"));
        let text = serde_json::to_string(&creds).unwrap();
        assert!(
            !text.contains("super-secret") && !text.contains("Q~a"),
            "{text}"
        );
        assert!(!text.contains("MIIC"), "{text}");
    }

    #[test]
    fn unverified_publisher_and_owner_tenant_are_kept() {
        let sp = map_service_principal(&test_object(json!({
            "id": "s1", "appId": "a1", "displayName": "Mail Sync Pro",
            "appOwnerOrganizationId": "AAAA-BBBB", "verifiedPublisher": {"displayName": null}
        })))
        .unwrap();
        assert_eq!(sp.verified_publisher, None);
        assert_eq!(sp.app_owner_organization_id.as_deref(), Some("aaaa-bbbb"));
        assert!(sp.account_enabled);
        assert!(map_service_principal(&test_object(json!({"id": "s2"}))).is_none());
    }

    #[test]
    fn grant_scopes_are_split() {
        let g = map_grant(&test_object(json!({
            "id": "g1", "clientId": "c", "consentType": "Principal", "principalId": "u",
            "resourceId": "r", "scope": " Mail.ReadWrite  offline_access "
        })))
        .unwrap();
        assert_eq!(g.scopes, ["Mail.ReadWrite", "offline_access"]);
        assert!(map_grant(&test_object(json!({"id": "g2", "clientId": "c"}))).is_none());
    }
}
