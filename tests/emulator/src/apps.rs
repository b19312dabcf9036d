//! Enterprise applications in Graph's shapes: service principals and app registrations with
//! their credentials, delegated permission grants, application permissions (app role
//! assignments, read from the resource side) and the consent policies — reads, and the
//! writes fix mode makes (delete a grant or an assignment, disable a service principal,
//! remove a password, restrict user consent).
//!
//! Pages followed (permissions enforced per page, application permissions only):
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-list>, `-get`, `-update`,
//!   `-removepassword`, `-removekey` (proof of possession required),
//!   `-list-approleassignedto`, `-delete-approleassignedto`;
//! - <https://learn.microsoft.com/graph/api/application-list>, `-get`, `-removepassword`;
//! - <https://learn.microsoft.com/graph/api/oauth2permissiongrant-list>, `-get`, `-delete`;
//! - <https://learn.microsoft.com/graph/api/authorizationpolicy-get>, `-update`;
//! - <https://learn.microsoft.com/graph/api/adminconsentrequestpolicy-get>.
//!
//! A `passwordCredential`'s `secretText` is returned only by addPassword, never by a read
//! (<https://learn.microsoft.com/graph/api/resources/passwordcredential>): the state keeps
//! one per secret so tests can look for it in everything m365guard wrote, and
//! [`AppsState::echo_secret_text`] makes the reads serve it, as a hostile or broken
//! service could, to prove the collector drops it.

use serde_json::{json, Map, Value};

use crate::graph::GraphReq;
use crate::http::Response;
use crate::odata::{apply_filter, apply_select, page, PageSpec, Query};
use crate::respond::{bad_request, forbidden, graph_json, graph_no_content, not_found, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::util::stable_guid;

type R = Result<Response, Response>;

const APP_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.OwnedBy",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const APP_WRITE: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];
const GRANT_READ: &[&str] = &[
    "Directory.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const GRANT_WRITE: &[&str] = &[
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const ASSIGNMENT_WRITE: &[&str] = &[
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
];
const AUTHZ_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.Authorization"];
const AUTHZ_WRITE: &[&str] = &["Policy.ReadWrite.Authorization"];
const CONSENT_REQUEST_READ: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConsentRequest",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Properties `$select` may name on a service principal or an application (a subset of
/// the resource types); anything else is 400 as in Graph.
const SP_PROPS: [&str; 13] = [
    "id",
    "appId",
    "displayName",
    "servicePrincipalType",
    "accountEnabled",
    "appOwnerOrganizationId",
    "publisherName",
    "verifiedPublisher",
    "signInAudience",
    "keyCredentials",
    "passwordCredentials",
    "appRoles",
    "appDisplayName",
];
const APP_PROPS: [&str; 7] = [
    "id",
    "appId",
    "displayName",
    "createdDateTime",
    "keyCredentials",
    "passwordCredentials",
    "signInAudience",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Password {
    pub key_id: String,
    pub display_name: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Never served by a read unless [`AppsState::echo_secret_text`].
    pub secret_text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub key_id: String,
    pub display_name: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub usage: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sp {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub service_principal_type: String,
    pub account_enabled: bool,
    pub app_owner_organization_id: Option<String>,
    pub publisher_name: Option<String>,
    pub verified_publisher: Option<String>,
    pub sign_in_audience: Option<String>,
    /// `(id, value)` of the app roles the API exposes.
    pub app_roles: Vec<(String, String)>,
    pub passwords: Vec<Password>,
    pub keys: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub created: String,
    pub passwords: Vec<Password>,
    pub keys: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub consent_type: String,
    pub principal_id: Option<String>,
    pub resource_id: String,
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: String,
    pub resource_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub principal_name: String,
    pub app_role_id: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppsState {
    pub service_principals: Vec<Sp>,
    pub applications: Vec<App>,
    pub grants: Vec<Grant>,
    pub assignments: Vec<Assignment>,
    /// `defaultUserRolePermissions.permissionGrantPoliciesAssigned`.
    pub permission_grant_policies_assigned: Vec<String>,
    pub admin_consent_workflow_enabled: bool,
    /// Serve `secretText` in reads (no documented read does): a hostile-service switch.
    pub echo_secret_text: bool,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The fake secret value of a password credential: stable, distinctive, never in a snapshot.
pub fn secret_text(owner_id: &str, key_id: &str) -> String {
    format!(
        "Emu8Q~{}",
        stable_guid(&format!("secret/{owner_id}/{key_id}")).replace('-', "")
    )
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS…Z` (Howard Hinnant's days-from-civil).
fn epoch_of(t: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|v| v.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

impl AppsState {
    /// From a snapshot's `apps` section; a snapshot without one gives a tenant where users
    /// cannot consent and no app holds anything.
    ///
    /// The app times (credential validity, app registration and grant times) are replayed
    /// relative to now: a secret added two days before the snapshot was collected was
    /// added two days ago in the emulated tenant, so the review-window rules see live what
    /// they see in the snapshot.
    pub fn from_snapshot(snap: &Value) -> AppsState {
        let shift = snap
            .get("collection")
            .and_then(|c| c.get("collected_at"))
            .and_then(Value::as_str)
            .and_then(epoch_of)
            .map(|at| crate::util::now_epoch() as i64 - at)
            .unwrap_or(0);
        let s = |v: &Value, key: &str| -> Option<String> {
            let text = s(v, key)?;
            if !key.ends_with("date_time") {
                return Some(text);
            }
            Some(match epoch_of(&text) {
                Some(t) => crate::util::iso_utc((t + shift).max(0) as u64),
                None => text,
            })
        };
        let apps = snap.get("apps").cloned().unwrap_or(Value::Null);
        let mut state = AppsState {
            admin_consent_workflow_enabled: true,
            ..AppsState::default()
        };
        for sp in list(apps.get("service_principals")) {
            let (Some(id), Some(app_id)) = (s(&sp, "id"), s(&sp, "app_id")) else {
                continue;
            };
            if let Some(app_object) = s(&sp, "application_id") {
                state.applications.push(App {
                    id: app_object,
                    app_id: app_id.clone(),
                    display_name: s(&sp, "display_name").unwrap_or_default(),
                    created: s(&sp, "created_date_time")
                        .unwrap_or_else(|| "2024-02-11T09:15:42Z".into()),
                    passwords: vec![],
                    keys: vec![],
                });
            }
            state.service_principals.push(Sp {
                display_name: s(&sp, "display_name").unwrap_or_else(|| app_id.clone()),
                service_principal_type: s(&sp, "service_principal_type")
                    .unwrap_or_else(|| "Application".into()),
                account_enabled: sp
                    .get("account_enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                app_owner_organization_id: s(&sp, "app_owner_organization_id"),
                publisher_name: s(&sp, "publisher_name"),
                verified_publisher: s(&sp, "verified_publisher"),
                sign_in_audience: s(&sp, "sign_in_audience"),
                app_roles: vec![],
                passwords: vec![],
                keys: vec![],
                id,
                app_id,
            });
        }
        for c in list(apps.get("credentials")) {
            let (Some(owner), Some(key_id)) = (s(&c, "owner_id"), s(&c, "key_id")) else {
                continue;
            };
            let password = s(&c, "credential_type").as_deref() == Some("password");
            let (display_name, start, end) = (
                s(&c, "display_name"),
                s(&c, "start_date_time"),
                s(&c, "end_date_time"),
            );
            let (passwords, keys) = if s(&c, "owner_kind").as_deref() == Some("application") {
                if !state.applications.iter().any(|a| a.id == owner) {
                    state.applications.push(App {
                        id: owner.clone(),
                        app_id: s(&c, "app_id").unwrap_or_default(),
                        display_name: s(&c, "owner_name").unwrap_or_default(),
                        created: "2024-02-11T09:15:42Z".into(),
                        passwords: vec![],
                        keys: vec![],
                    });
                }
                match state.applications.iter_mut().find(|a| a.id == owner) {
                    Some(a) => (&mut a.passwords, &mut a.keys),
                    None => continue,
                }
            } else {
                match state.service_principals.iter_mut().find(|p| p.id == owner) {
                    Some(p) => (&mut p.passwords, &mut p.keys),
                    None => continue,
                }
            };
            if password {
                passwords.push(Password {
                    secret_text: secret_text(&owner, &key_id),
                    key_id,
                    display_name,
                    start,
                    end,
                });
            } else {
                keys.push(Key {
                    key_id,
                    display_name,
                    start,
                    end,
                    usage: s(&c, "usage").unwrap_or_else(|| "Verify".into()),
                });
            }
        }
        for g in list(apps.get("consent_grants")) {
            let (Some(id), Some(client_id), Some(resource_id)) =
                (s(&g, "id"), s(&g, "client_id"), s(&g, "resource_id"))
            else {
                continue;
            };
            let scopes: Vec<String> = list(g.get("scopes"))
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            state.grants.push(Grant {
                id,
                client_id,
                consent_type: s(&g, "consent_type").unwrap_or_else(|| "Principal".into()),
                principal_id: s(&g, "principal_id"),
                resource_id,
                scope: scopes.join(" "),
            });
        }
        for a in list(apps.get("app_role_assignments")) {
            let (Some(id), Some(resource_id), Some(principal_id), Some(app_role_id)) = (
                s(&a, "id"),
                s(&a, "resource_id"),
                s(&a, "principal_id"),
                s(&a, "app_role_id"),
            ) else {
                continue;
            };
            if let (Some(permission), Some(resource)) = (
                s(&a, "permission"),
                state
                    .service_principals
                    .iter_mut()
                    .find(|p| p.id == resource_id),
            ) {
                if !resource
                    .app_roles
                    .iter()
                    .any(|(rid, _)| *rid == app_role_id)
                {
                    resource.app_roles.push((app_role_id.clone(), permission));
                }
            }
            state.assignments.push(Assignment {
                principal_type: s(&a, "principal_type")
                    .unwrap_or_else(|| "ServicePrincipal".into()),
                principal_name: s(&a, "principal_name").unwrap_or_default(),
                created: s(&a, "created_date_time")
                    .unwrap_or_else(|| "2024-02-11T09:15:42Z".into()),
                id,
                resource_id,
                principal_id,
                app_role_id,
            });
        }
        if let Some(p) = list(apps.get("consent_policies")).first() {
            state.permission_grant_policies_assigned =
                list(p.get("permission_grant_policies_assigned"))
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
            state.admin_consent_workflow_enabled = p
                .get("admin_consent_workflow_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        state
    }
}

fn need(caller: &Caller, perms: &[&str], ctx: &Ctx) -> Result<(), Response> {
    if caller.has_any(perms) {
        Ok(())
    } else {
        Err(forbidden(ctx))
    }
}

/// 400 for a `$select` property the type does not have (Graph's text), shared with
/// `app_policies`.
pub(crate) fn check_select(
    q: &Query,
    known: &[&str],
    type_name: &str,
    ctx: &Ctx,
) -> Result<(), Response> {
    match q
        .select()
        .into_iter()
        .find(|p| !known.iter().any(|k| k.eq_ignore_ascii_case(p)))
    {
        Some(p) => Err(bad_request(
            "Request_BadRequest",
            &format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.{type_name}'."
            ),
            ctx,
        )),
        None => Ok(()),
    }
}

fn body(req: &GraphReq<'_>, ctx: &Ctx) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            ctx,
        )),
    }
}

fn passwords_json(list: &[Password], echo: bool) -> Value {
    Value::Array(
        list.iter()
            .map(|p| {
                json!({
                    "customKeyIdentifier": null,
                    "displayName": p.display_name,
                    "endDateTime": p.end,
                    "hint": p.secret_text.get(..3),
                    "keyId": p.key_id,
                    "secretText": if echo { json!(p.secret_text) } else { Value::Null },
                    "startDateTime": p.start,
                })
            })
            .collect(),
    )
}

fn keys_json(list: &[Key]) -> Value {
    Value::Array(
        list.iter()
            .map(|k| {
                json!({
                    "customKeyIdentifier": null,
                    "displayName": k.display_name,
                    "endDateTime": k.end,
                    "key": "TUlJQ2Zha2VQdWJsaWNDZXJ0",
                    "keyId": k.key_id,
                    "startDateTime": k.start,
                    "type": "AsymmetricX509Cert",
                    "usage": k.usage,
                })
            })
            .collect(),
    )
}

fn render_sp(p: &Sp, echo: bool) -> Value {
    json!({
        "id": p.id,
        "appId": p.app_id,
        "displayName": p.display_name,
        "appDisplayName": p.display_name,
        "servicePrincipalType": p.service_principal_type,
        "accountEnabled": p.account_enabled,
        "appOwnerOrganizationId": p.app_owner_organization_id,
        "publisherName": p.publisher_name,
        "verifiedPublisher": {
            "displayName": p.verified_publisher,
            "verifiedPublisherId": p.verified_publisher.as_ref().map(|v| stable_guid(&format!("mpn/{v}"))),
            "addedDateTime": p.verified_publisher.as_ref().map(|_| "2023-05-01T00:00:00Z"),
        },
        "signInAudience": p.sign_in_audience,
        "appRoles": p.app_roles.iter().map(|(id, value)| json!({
            "id": id, "value": value, "displayName": value, "isEnabled": true,
            "allowedMemberTypes": ["Application"], "description": value, "origin": "Application",
        })).collect::<Vec<_>>(),
        "passwordCredentials": passwords_json(&p.passwords, echo),
        "keyCredentials": keys_json(&p.keys),
    })
}

fn render_app(a: &App, echo: bool) -> Value {
    json!({
        "id": a.id,
        "appId": a.app_id,
        "displayName": a.display_name,
        "createdDateTime": a.created,
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": passwords_json(&a.passwords, echo),
        "keyCredentials": keys_json(&a.keys),
    })
}

fn render_grant(g: &Grant) -> Value {
    json!({
        "id": g.id,
        "clientId": g.client_id,
        "consentType": g.consent_type,
        "principalId": g.principal_id,
        "resourceId": g.resource_id,
        "scope": g.scope,
    })
}

/// Without `$select`, a list leaves out `keyCredentials` (the pages: "doesn't return the
/// public key value … unless keyCredentials is specified in a $select").
fn selected(v: Value, q: &Query) -> Value {
    let sel = q.select();
    if sel.is_empty() {
        let mut v = v;
        if let Some(o) = v.as_object_mut() {
            o.remove("keyCredentials");
        }
        return v;
    }
    apply_select(v, &sel)
}

fn list_page(
    items: Vec<Value>,
    req: &GraphReq<'_>,
    q: &Query,
    path: &str,
    context: &str,
    shared: &Shared,
    ctx: &Ctx,
) -> R {
    let items = apply_filter(items, q, ctx)?;
    let items = items.into_iter().map(|v| selected(v, q)).collect();
    let spec = PageSpec {
        version: req.version,
        path,
        context: context.into(),
        default_top: shared.settings().options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

/// Routes `/servicePrincipals…`, `/applications…`, `/oauth2PermissionGrants…` and the two
/// consent policies. `l` is the lower-cased path, `segs` the original.
pub fn route(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    segs: &[&str],
    l: &[&str],
    ctx: &Ctx,
) -> R {
    let seg = |i: usize| segs.get(i).copied().unwrap_or_default();
    match (req.method, l) {
        ("GET", ["serviceprincipals"]) => {
            need(caller, APP_READ, ctx)?;
            check_select(q, &SP_PROPS, "servicePrincipal", ctx)?;
            let st = lock(&shared.state);
            let echo = st.apps.echo_secret_text;
            let items = st
                .apps
                .service_principals
                .iter()
                .map(|p| render_sp(p, echo))
                .collect();
            drop(st);
            list_page(
                items,
                req,
                q,
                "/servicePrincipals",
                "servicePrincipals",
                shared,
                ctx,
            )
        }
        ("GET", ["serviceprincipals", _]) => {
            need(caller, APP_READ, ctx)?;
            check_select(q, &SP_PROPS, "servicePrincipal", ctx)?;
            let st = lock(&shared.state);
            let p = st
                .apps
                .service_principals
                .iter()
                .find(|p| p.id.eq_ignore_ascii_case(seg(1)))
                .ok_or_else(|| not_found(seg(1), ctx))?;
            Ok(graph_json(
                200,
                &selected(render_sp(p, st.apps.echo_secret_text), q),
                ctx,
            ))
        }
        ("PATCH", ["serviceprincipals", _]) => {
            need(caller, APP_WRITE, ctx)?;
            let b = body(req, ctx)?;
            let mut st = lock(&shared.state);
            let p = st
                .apps
                .service_principals
                .iter_mut()
                .find(|p| p.id.eq_ignore_ascii_case(seg(1)))
                .ok_or_else(|| not_found(seg(1), ctx))?;
            for (k, v) in &b {
                match (k.as_str(), v) {
                    ("accountEnabled", Value::Bool(on)) => p.account_enabled = *on,
                    _ => {
                        return Err(bad_request(
                            "Request_BadRequest",
                            &format!("Property '{k}' is not supported by this emulator or has an invalid value."),
                            ctx,
                        ))
                    }
                }
            }
            Ok(graph_no_content(ctx))
        }
        ("POST", ["serviceprincipals", _, "removepassword"])
        | ("POST", ["applications", _, "removepassword"]) => {
            need(caller, APP_WRITE, ctx)?;
            let b = body(req, ctx)?;
            let key_id = b
                .get("keyId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut st = lock(&shared.state);
            let passwords = if l[0] == "serviceprincipals" {
                st.apps
                    .service_principals
                    .iter_mut()
                    .find(|p| p.id.eq_ignore_ascii_case(seg(1)))
                    .map(|p| &mut p.passwords)
            } else {
                st.apps
                    .applications
                    .iter_mut()
                    .find(|a| a.id.eq_ignore_ascii_case(seg(1)))
                    .map(|a| &mut a.passwords)
            }
            .ok_or_else(|| not_found(seg(1), ctx))?;
            let before = passwords.len();
            passwords.retain(|p| !p.key_id.eq_ignore_ascii_case(&key_id));
            if passwords.len() == before {
                return Err(bad_request(
                    "Request_BadRequest",
                    &format!("No password credential found with keyId '{key_id}'."),
                    ctx,
                ));
            }
            Ok(graph_no_content(ctx))
        }
        // removeKey needs a proof-of-possession JWT signed by one of the object's existing
        // keys; m365guard never holds one, and neither does an emulated caller.
        ("POST", ["serviceprincipals", _, "removekey"])
        | ("POST", ["applications", _, "removekey"]) => {
            need(caller, APP_WRITE, ctx)?;
            Err(bad_request(
                "Request_BadRequest",
                "Proof of possession validation failed: the proof token is missing or invalid.",
                ctx,
            ))
        }
        ("GET", ["serviceprincipals", _, "approleassignedto"]) => {
            need(caller, APP_READ, ctx)?;
            let st = lock(&shared.state);
            let resource = st
                .apps
                .service_principals
                .iter()
                .find(|p| p.id.eq_ignore_ascii_case(seg(1)))
                .ok_or_else(|| not_found(seg(1), ctx))?;
            let items = st
                .apps
                .assignments
                .iter()
                .filter(|a| a.resource_id.eq_ignore_ascii_case(&resource.id))
                .map(|a| {
                    json!({
                        "id": a.id,
                        "deletedDateTime": null,
                        "appRoleId": a.app_role_id,
                        "createdDateTime": a.created,
                        "principalDisplayName": a.principal_name,
                        "principalId": a.principal_id,
                        "principalType": a.principal_type,
                        "resourceDisplayName": resource.display_name,
                        "resourceId": resource.id,
                    })
                })
                .collect();
            drop(st);
            let path = format!("/servicePrincipals/{}/appRoleAssignedTo", seg(1));
            list_page(items, req, q, &path, "appRoleAssignments", shared, ctx)
        }
        ("DELETE", ["serviceprincipals", _, "approleassignedto", _]) => {
            need(caller, ASSIGNMENT_WRITE, ctx)?;
            let mut st = lock(&shared.state);
            let before = st.apps.assignments.len();
            st.apps
                .assignments
                .retain(|a| !(a.id == seg(3) && a.resource_id.eq_ignore_ascii_case(seg(1))));
            if st.apps.assignments.len() == before {
                return Err(not_found(seg(3), ctx));
            }
            Ok(graph_no_content(ctx))
        }
        ("GET", ["applications"]) => {
            need(caller, APP_READ, ctx)?;
            check_select(q, &APP_PROPS, "application", ctx)?;
            let st = lock(&shared.state);
            let echo = st.apps.echo_secret_text;
            let items = st
                .apps
                .applications
                .iter()
                .map(|a| render_app(a, echo))
                .collect();
            drop(st);
            list_page(items, req, q, "/applications", "applications", shared, ctx)
        }
        ("GET", ["applications", _]) => {
            need(caller, APP_READ, ctx)?;
            check_select(q, &APP_PROPS, "application", ctx)?;
            let st = lock(&shared.state);
            let a = st
                .apps
                .applications
                .iter()
                .find(|a| a.id.eq_ignore_ascii_case(seg(1)))
                .ok_or_else(|| not_found(seg(1), ctx))?;
            Ok(graph_json(
                200,
                &selected(render_app(a, st.apps.echo_secret_text), q),
                ctx,
            ))
        }
        ("GET", ["oauth2permissiongrants"]) => {
            need(caller, GRANT_READ, ctx)?;
            let items = lock(&shared.state)
                .apps
                .grants
                .iter()
                .map(render_grant)
                .collect();
            list_page(
                items,
                req,
                q,
                "/oauth2PermissionGrants",
                "oauth2PermissionGrants",
                shared,
                ctx,
            )
        }
        ("GET", ["oauth2permissiongrants", _]) => {
            need(caller, GRANT_READ, ctx)?;
            let st = lock(&shared.state);
            let g = st
                .apps
                .grants
                .iter()
                .find(|g| g.id == seg(1))
                .ok_or_else(|| not_found(seg(1), ctx))?;
            Ok(graph_json(200, &render_grant(g), ctx))
        }
        ("DELETE", ["oauth2permissiongrants", _]) => {
            need(caller, GRANT_WRITE, ctx)?;
            let mut st = lock(&shared.state);
            let before = st.apps.grants.len();
            st.apps.grants.retain(|g| g.id != seg(1));
            if st.apps.grants.len() == before {
                return Err(not_found(seg(1), ctx));
            }
            Ok(graph_no_content(ctx))
        }
        ("GET", ["policies", "authorizationpolicy"]) => {
            need(caller, AUTHZ_READ, ctx)?;
            let st = lock(&shared.state);
            Ok(graph_json(200, &authorization_policy(&st.apps, ctx), ctx))
        }
        ("PATCH", ["policies", "authorizationpolicy"]) => {
            need(caller, AUTHZ_WRITE, ctx)?;
            let b = body(req, ctx)?;
            let assigned = b
                .get("defaultUserRolePermissions")
                .and_then(|d| d.get("permissionGrantPoliciesAssigned"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    bad_request(
                        "Request_BadRequest",
                        "This emulator updates defaultUserRolePermissions.permissionGrantPoliciesAssigned only.",
                        ctx,
                    )
                })?;
            let mut st = lock(&shared.state);
            st.apps.permission_grant_policies_assigned = assigned
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            Ok(graph_no_content(ctx))
        }
        ("GET", ["policies", "adminconsentrequestpolicy"]) => {
            need(caller, CONSENT_REQUEST_READ, ctx)?;
            let enabled = lock(&shared.state).apps.admin_consent_workflow_enabled;
            Ok(graph_json(
                200,
                &json!({
                    "@odata.context": format!("{}/v1.0/$metadata#policies/adminConsentRequestPolicy/$entity", ctx.base_url),
                    "isEnabled": enabled,
                    "notifyReviewers": enabled,
                    "remindersEnabled": enabled,
                    "requestDurationInDays": 30,
                    "version": 1,
                    "reviewers": [],
                }),
                ctx,
            ))
        }
        _ => Err(crate::respond::graph_error(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
            ctx,
        )),
    }
}

fn authorization_policy(apps: &AppsState, ctx: &Ctx) -> Value {
    json!({
        "@odata.context": format!("{}/v1.0/$metadata#policies/authorizationPolicy/$entity", ctx.base_url),
        "id": "authorizationPolicy",
        "displayName": "Authorization Policy",
        "description": "Used to manage authorization related settings across the company.",
        "allowInvitesFrom": "everyone",
        "allowedToSignUpEmailBasedSubscriptions": true,
        "allowedToUseSSPR": true,
        "allowEmailVerifiedUsersToJoinOrganization": false,
        "blockMsolPowerShell": false,
        "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
        "defaultUserRolePermissions": {
            "allowedToCreateApps": true,
            "allowedToCreateSecurityGroups": true,
            "allowedToCreateTenants": true,
            "allowedToReadOtherUsers": true,
            "allowedToReadBitlockerKeysForOwnedDevice": true,
            "permissionGrantPoliciesAssigned": apps.permission_grant_policies_assigned,
        },
    })
}
