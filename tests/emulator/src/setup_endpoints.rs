//! The Graph endpoints `m365guard setup --apply` writes with, and what they leave behind:
//! applications, service principals, app role assignments (granted application
//! permissions), directory role assignments and federated identity credentials. An app
//! created here can then sign in at the token endpoint with its federated credential
//! ([`created_app`]), holding exactly what was granted — as in a tenant.
//!
//! Permissions follow each page (delegated callers also need a directory role):
//! - <https://learn.microsoft.com/graph/api/application-list>,
//!   <https://learn.microsoft.com/graph/api/application-post-applications>,
//!   <https://learn.microsoft.com/graph/api/application-update>: Application.ReadWrite.All
//!   (reads: Application.Read.All); delegated: Application Administrator, Cloud Application
//!   Administrator or Global Administrator (this emulator does not model the "users can
//!   register applications" default, it is stricter);
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-get>,
//!   <https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals>;
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments>:
//!   AppRoleAssignment.ReadWrite.All *and* Application.Read.All (or higher); delegated:
//!   one of the roles the page lists (Privileged Role Administrator, Application
//!   Administrator, Cloud Application Administrator, …) or Global Administrator;
//! - <https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments>:
//!   RoleManagement.ReadWrite.Directory; delegated: Privileged Role Administrator (least)
//!   or Global Administrator;
//! - <https://learn.microsoft.com/graph/api/application-post-federatedidentitycredentials>:
//!   Application.ReadWrite.All; at most 20 per app; name 3–120 characters, unique.
//!
//! The resource service principals (Microsoft Graph, Office 365 Exchange Online) publish
//! `appRoles` whose ids are the emulator's own (stable, derived from the name) — not
//! Microsoft's: a client must read them, as `setup --apply` does, not assume them.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::config::{AppRegistration, FederatedCredential, Grants};
use crate::device_code::DeviceState;
use crate::graph::GraphReq;
use crate::http::Response;
use crate::odata::Query;
use crate::respond::{
    bad_request, forbidden, graph_error, graph_json, graph_no_content, not_found, Ctx,
};
use crate::server::{lock, Caller, Emulator, Shared};
use crate::state::{role_ids, Principal, PrincipalKind, RoleAssignment};
use crate::util::stable_guid;

pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// Application permissions the emulated Microsoft Graph service principal publishes.
const GRAPH_APP_ROLES: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "AuditLog.Read.All",
    "AuditLogsQuery.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Domain.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "IdentityRiskEvent.Read.All",
    "IdentityRiskyUser.Read.All",
    "IdentityRiskyUser.ReadWrite.All",
    "Mail.ReadBasic.All",
    "MailboxSettings.Read",
    "MailboxSettings.ReadWrite",
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Policy.Read.All",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.SecurityDefaults",
    "RoleAssignmentSchedule.Read.Directory",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "User-PasswordProfile.ReadWrite.All",
    "User.EnableDisableAccount.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "User.RevokeSessions.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Policy.ReadWrite.Authorization",
    "Policy.ReadWrite.ConsentRequest",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "Domain.ReadWrite.All",
];
const EXCHANGE_APP_ROLES: &[&str] = &["Exchange.ManageAsApp"];

const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const CLOUD_APPLICATION_ADMINISTRATOR: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";

/// An application created through Graph.
#[derive(Debug, Clone)]
pub struct CreatedApp {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    pub required_resource_access: Value,
    pub federated_credentials: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct CreatedSp {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoleGrant {
    pub id: String,
    pub principal_id: String,
    pub resource_id: String,
    pub app_role_id: String,
}

/// What setup created, the device-code sessions and the delegated tokens.
#[derive(Default)]
pub struct SetupState {
    pub device: DeviceState,
    /// Tokens issued to a signed-in user (device code): their roles are checked too.
    pub delegated: HashSet<String>,
    pub apps: Vec<CreatedApp>,
    pub service_principals: Vec<CreatedSp>,
    pub grants: Vec<AppRoleGrant>,
    /// Creations of a service principal or an app role assignment still to be answered as
    /// if the new objects had not replicated yet (`Emulator::set_replication_lag`).
    pub replication_lag: u32,
}

fn resource_sp_id(app_id: &str) -> String {
    stable_guid(&format!("resource-sp/{app_id}"))
}

/// The emulator's id of an app role (not Microsoft's, on purpose).
pub fn app_role_id(resource_app_id: &str, name: &str) -> String {
    stable_guid(&format!("app-role/{resource_app_id}/{name}"))
}

fn resource_roles(app_id: &str) -> Option<(&'static str, &'static [&'static str])> {
    match app_id {
        GRAPH_APP_ID => Some(("Microsoft Graph", GRAPH_APP_ROLES)),
        EXCHANGE_APP_ID => Some(("Office 365 Exchange Online", EXCHANGE_APP_ROLES)),
        _ => None,
    }
}

fn render_resource_sp(app_id: &str) -> Option<Value> {
    let (name, roles) = resource_roles(app_id)?;
    let app_roles: Vec<Value> = roles
        .iter()
        .map(|r| {
            json!({
                "id": app_role_id(app_id, r),
                "value": r,
                "displayName": r,
                "description": r,
                "allowedMemberTypes": ["Application"],
                "isEnabled": true,
                "origin": "Application",
            })
        })
        .collect();
    Some(json!({
        "id": resource_sp_id(app_id), "appId": app_id, "displayName": name,
        "servicePrincipalType": "Application", "appRoles": app_roles,
    }))
}

/// Whether the request carries a delegated (device-code) token `setup --apply` obtained.
pub fn is_delegated(shared: &Shared, req: &GraphReq<'_>) -> bool {
    let token = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.split_once(' ').map(|(_, t)| t.trim().to_owned()));
    token.is_some_and(|t| lock(&shared.setup).delegated.contains(&t))
}

/// The permission (any of `perms`) and, for a signed-in user, one of `roles` (or Global
/// Administrator).
fn need(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    perms: &[&str],
    roles: &[&str],
    ctx: &Ctx,
) -> Result<(), Response> {
    if !caller.has_any(perms) {
        return Err(forbidden(ctx));
    }
    if is_delegated(shared, req)
        && !roles.is_empty()
        && !caller.has_directory_role(roles)
        && !caller.has_directory_role(&[role_ids::GLOBAL_ADMINISTRATOR])
    {
        return Err(forbidden(ctx));
    }
    Ok(())
}

const APP_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
];
const APP_WRITE: &[&str] = &["Application.ReadWrite.All"];
const APP_ADMIN_ROLES: &[&str] = &[APPLICATION_ADMINISTRATOR, CLOUD_APPLICATION_ADMINISTRATOR];
const GRANT_ROLES: &[&str] = &[
    role_ids::PRIVILEGED_ROLE_ADMINISTRATOR,
    APPLICATION_ADMINISTRATOR,
    CLOUD_APPLICATION_ADMINISTRATOR,
    role_ids::USER_ADMINISTRATOR,
];

fn body(req: &GraphReq<'_>, ctx: &Ctx) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request(
            "BadRequest",
            "Unable to read JSON request payload.",
            ctx,
        )),
    }
}

fn render_app(a: &CreatedApp) -> Value {
    json!({
        "id": a.id, "appId": a.app_id, "displayName": a.display_name,
        "signInAudience": "AzureADMyOrg", "requiredResourceAccess": a.required_resource_access,
    })
}

fn created(v: &Value, ctx: &Ctx) -> Response {
    graph_json(201, v, ctx)
}

/// `displayName eq '…'` (the one filter `setup --apply` sends).
fn display_name_filter(filter: &str) -> Option<String> {
    let rest = filter
        .trim()
        .strip_prefix("displayName eq '")?
        .strip_suffix('\'')?;
    Some(rest.replace("''", "'"))
}

/// Entry for `/applications…`, `/servicePrincipals…` and `POST
/// /roleManagement/directory/roleAssignments` (dispatched from `graph::route`).
pub fn handle(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, ctx: &Ctx) -> Response {
    match route(shared, caller, req, ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn route(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    ctx: &Ctx,
) -> Result<Response, Response> {
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let q = Query::parse(req.query);
    match (req.method, l.as_slice()) {
        ("GET", ["applications"]) => {
            need(shared, caller, req, APP_READ, &[], ctx)?;
            let name = match q.get("$filter") {
                None => None,
                Some(f) => Some(display_name_filter(f).ok_or_else(|| {
                    bad_request(
                        "Request_UnsupportedQuery",
                        "Unsupported or invalid query filter clause specified.",
                        ctx,
                    )
                })?),
            };
            let setup = lock(&shared.setup);
            let value: Vec<Value> = setup
                .apps
                .iter()
                .filter(|a| name.as_ref().is_none_or(|n| *n == a.display_name))
                .map(render_app)
                .collect();
            Ok(graph_json(200, &json!({"value": value}), ctx))
        }
        ("POST", ["applications"]) => {
            need(shared, caller, req, APP_WRITE, APP_ADMIN_ROLES, ctx)?;
            let b = body(req, ctx)?;
            let Some(name) = b
                .get("displayName")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
            else {
                return Err(bad_request(
                    "Request_BadRequest",
                    "Property 'displayName' is required.",
                    ctx,
                ));
            };
            let n = shared
                .id_counter
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let app = CreatedApp {
                id: stable_guid(&format!("application/{n}")),
                app_id: stable_guid(&format!("app-id/{n}")),
                display_name: name.to_owned(),
                required_resource_access: b
                    .get("requiredResourceAccess")
                    .cloned()
                    .unwrap_or(json!([])),
                federated_credentials: vec![],
            };
            let v = render_app(&app);
            lock(&shared.setup).apps.push(app);
            Ok(created(&v, ctx))
        }
        ("PATCH", ["applications", _]) => {
            need(shared, caller, req, APP_WRITE, APP_ADMIN_ROLES, ctx)?;
            let b = body(req, ctx)?;
            let mut setup = lock(&shared.setup);
            let app = setup
                .apps
                .iter_mut()
                .find(|a| a.id.eq_ignore_ascii_case(segs[1]))
                .ok_or_else(|| not_found(segs[1], ctx))?;
            if let Some(rra) = b.get("requiredResourceAccess") {
                app.required_resource_access = rra.clone();
            }
            Ok(graph_no_content(ctx))
        }
        ("GET", ["applications", _, "federatedidentitycredentials"]) => {
            need(shared, caller, req, APP_READ, &[], ctx)?;
            let setup = lock(&shared.setup);
            let app = setup
                .apps
                .iter()
                .find(|a| a.id.eq_ignore_ascii_case(segs[1]))
                .ok_or_else(|| not_found(segs[1], ctx))?;
            Ok(graph_json(
                200,
                &json!({"value": app.federated_credentials}),
                ctx,
            ))
        }
        ("POST", ["applications", _, "federatedidentitycredentials"]) => {
            need(shared, caller, req, APP_WRITE, APP_ADMIN_ROLES, ctx)?;
            let b = body(req, ctx)?;
            let s = |k: &str| {
                b.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (name, issuer, subject) = (s("name"), s("issuer"), s("subject"));
            let audiences: Vec<&str> = b
                .get("audiences")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let name_ok = (3..=120).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok || issuer.is_empty() || subject.is_empty() || audiences.len() != 1 {
                return Err(bad_request("Request_BadRequest", "Invalid value specified for property 'name', 'issuer', 'subject' or 'audiences' of resource 'FederatedIdentityCredential'.", ctx));
            }
            let mut setup = lock(&shared.setup);
            let app = setup
                .apps
                .iter_mut()
                .find(|a| a.id.eq_ignore_ascii_case(segs[1]))
                .ok_or_else(|| not_found(segs[1], ctx))?;
            if app.federated_credentials.len() >= 20 {
                return Err(bad_request("Request_BadRequest", "The maximum number of federated identity credentials (20) for this application has been reached.", ctx));
            }
            if app.federated_credentials.iter().any(|f| {
                f["name"] == name.as_str()
                    || (f["issuer"] == issuer.as_str() && f["subject"] == subject.as_str())
            }) {
                return Err(graph_error(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "FederatedIdentityCredential with name or issuer and subject already exists.",
                    ctx,
                ));
            }
            let v = json!({
                "id": stable_guid(&format!("fic/{}/{name}", app.id)), "name": name, "issuer": issuer,
                "subject": subject, "audiences": audiences, "description": b.get("description").cloned().unwrap_or(Value::Null),
            });
            app.federated_credentials.push(v.clone());
            Ok(created(&v, ctx))
        }
        ("GET", [one]) if one.starts_with("serviceprincipals(appid='") => {
            need(shared, caller, req, APP_READ, &[], ctx)?;
            let app_id = segs[0].split('\'').nth(1).unwrap_or_default();
            if let Some(v) = render_resource_sp(app_id) {
                return Ok(graph_json(200, &v, ctx));
            }
            let setup = lock(&shared.setup);
            let sp = setup
                .service_principals
                .iter()
                .find(|s| s.app_id.eq_ignore_ascii_case(app_id))
                .ok_or_else(|| not_found(app_id, ctx))?;
            Ok(graph_json(
                200,
                &json!({"id": sp.id, "appId": sp.app_id, "displayName": sp.display_name, "servicePrincipalType": "Application", "appRoles": []}),
                ctx,
            ))
        }
        ("POST", ["serviceprincipals"]) => {
            need(shared, caller, req, APP_WRITE, APP_ADMIN_ROLES, ctx)?;
            let b = body(req, ctx)?;
            let app_id = b
                .get("appId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut setup = lock(&shared.setup);
            if setup.replication_lag > 0 {
                setup.replication_lag -= 1;
                return Err(not_replicated(&app_id, ctx));
            }
            let Some(app) = setup
                .apps
                .iter()
                .find(|a| a.app_id.eq_ignore_ascii_case(&app_id))
                .cloned()
            else {
                return Err(not_replicated(&app_id, ctx));
            };
            if setup
                .service_principals
                .iter()
                .any(|s| s.app_id == app.app_id)
            {
                return Err(graph_error(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "The service principal for this application already exists.",
                    ctx,
                ));
            }
            let sp = CreatedSp {
                id: stable_guid(&format!("sp/{}", app.app_id)),
                app_id: app.app_id.clone(),
                display_name: app.display_name.clone(),
            };
            setup.service_principals.push(sp.clone());
            drop(setup);
            lock(&shared.state).principals.push(Principal {
                id: sp.id.clone(),
                kind: PrincipalKind::ServicePrincipal,
                display_name: sp.display_name.clone(),
                member_ids: vec![],
                app_id: Some(sp.app_id.clone()),
            });
            Ok(created(
                &json!({"id": sp.id, "appId": sp.app_id, "displayName": sp.display_name, "servicePrincipalType": "Application"}),
                ctx,
            ))
        }
        ("GET", ["serviceprincipals", _, "approleassignments"]) => {
            need(shared, caller, req, APP_READ, &[], ctx)?;
            let setup = lock(&shared.setup);
            if !setup
                .service_principals
                .iter()
                .any(|s| s.id.eq_ignore_ascii_case(segs[1]))
            {
                return Err(not_found(segs[1], ctx));
            }
            let value: Vec<Value> = setup
                .grants
                .iter()
                .filter(|g| g.principal_id.eq_ignore_ascii_case(segs[1]))
                .map(render_grant)
                .collect();
            Ok(graph_json(200, &json!({"value": value}), ctx))
        }
        ("POST", ["serviceprincipals", _, "approleassignments"]) => {
            // AppRoleAssignment.ReadWrite.All *and* Application.Read.All (or higher).
            need(
                shared,
                caller,
                req,
                &["AppRoleAssignment.ReadWrite.All"],
                GRANT_ROLES,
                ctx,
            )?;
            need(shared, caller, req, APP_READ, &[], ctx)?;
            let b = body(req, ctx)?;
            let s = |k: &str| {
                b.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (principal, resource, role) = (s("principalId"), s("resourceId"), s("appRoleId"));
            let mut setup = lock(&shared.setup);
            if setup.replication_lag > 0 {
                setup.replication_lag -= 1;
                return Err(not_found(&principal, ctx));
            }
            if !principal.eq_ignore_ascii_case(segs[1])
                || !setup
                    .service_principals
                    .iter()
                    .any(|sp| sp.id.eq_ignore_ascii_case(&principal))
            {
                return Err(bad_request(
                    "Request_BadRequest",
                    "Invalid principalId: it must be the id of the service principal in the path.",
                    ctx,
                ));
            }
            let known = [GRAPH_APP_ID, EXCHANGE_APP_ID].iter().any(|app| {
                resource_sp_id(app).eq_ignore_ascii_case(&resource)
                    && resource_roles(app).is_some_and(|(_, roles)| {
                        roles
                            .iter()
                            .any(|r| app_role_id(app, r).eq_ignore_ascii_case(&role))
                    })
            });
            if !known {
                return Err(bad_request(
                    "Request_BadRequest",
                    "Permission being assigned was not found on application.",
                    ctx,
                ));
            }
            if setup.grants.iter().any(|g| {
                g.principal_id.eq_ignore_ascii_case(&principal)
                    && g.resource_id.eq_ignore_ascii_case(&resource)
                    && g.app_role_id.eq_ignore_ascii_case(&role)
            }) {
                return Err(bad_request(
                    "Request_BadRequest",
                    "Permission being assigned already exists on the object.",
                    ctx,
                ));
            }
            let grant = AppRoleGrant {
                id: stable_guid(&format!("grant/{principal}/{role}")),
                principal_id: principal,
                resource_id: resource,
                app_role_id: role,
            };
            let v = render_grant(&grant);
            setup.grants.push(grant);
            Ok(created(&v, ctx))
        }
        ("POST", ["rolemanagement", "directory", "roleassignments"]) => {
            need(
                shared,
                caller,
                req,
                &["RoleManagement.ReadWrite.Directory"],
                &[role_ids::PRIVILEGED_ROLE_ADMINISTRATOR],
                ctx,
            )?;
            let b = body(req, ctx)?;
            let s = |k: &str| {
                b.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (definition, principal, scope) = (
                s("roleDefinitionId"),
                s("principalId"),
                s("directoryScopeId"),
            );
            if scope.is_empty() {
                return Err(bad_request(
                    "Request_BadRequest",
                    "Either directoryScopeId or appScopeId must be specified.",
                    ctx,
                ));
            }
            let mut st = lock(&shared.state);
            let definition_id = st
                .role_definitions
                .iter()
                .find(|d| {
                    d.id.eq_ignore_ascii_case(&definition)
                        || d.template_id.eq_ignore_ascii_case(&definition)
                })
                .map(|d| d.id.clone())
                .or_else(|| {
                    role_ids::NAMED
                        .iter()
                        .find(|(_, id)| id.eq_ignore_ascii_case(&definition))
                        .map(|(_, id)| (*id).to_owned())
                });
            let Some(definition_id) = definition_id else {
                return Err(not_found(&definition, ctx));
            };
            let principal_known = st.users.iter().any(|u| u.id == principal)
                || st.principals.iter().any(|p| p.id == principal);
            if !principal_known {
                return Err(not_found(&principal, ctx));
            }
            if st.role_assignments.iter().any(|a| {
                a.principal_id == principal
                    && a.role_definition_id == definition_id
                    && a.directory_scope_id == scope
            }) {
                return Err(bad_request("Request_BadRequest", "A conflicting object with one or more of the specified property values is present in the directory.", ctx));
            }
            let id = stable_guid(&format!("role-assignment/{principal}/{definition_id}"));
            st.role_assignments.push(RoleAssignment {
                id: id.clone(),
                role_definition_id: definition_id.clone(),
                principal_id: principal.clone(),
                directory_scope_id: scope.clone(),
                start_date_time: None,
                end_date_time: None,
            });
            Ok(created(
                &json!({"id": id, "roleDefinitionId": definition_id, "principalId": principal, "directoryScopeId": scope}),
                ctx,
            ))
        }
        _ => Err(graph_error(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
            ctx,
        )),
    }
}

/// What Entra answers when a service principal is created for an application that has
/// not reached this replica yet.
fn not_replicated(app_id: &str, ctx: &Ctx) -> Response {
    bad_request("Request_BadRequest", &format!("The appId '{app_id}' of the service principal does not reference a valid application object."), ctx)
}

fn render_grant(g: &AppRoleGrant) -> Value {
    json!({"id": g.id, "principalId": g.principal_id, "principalType": "ServicePrincipal", "resourceId": g.resource_id, "appRoleId": g.app_role_id})
}

/// The registration and grants of an app created through these endpoints, for the token
/// endpoint: its federated credentials, the application permissions granted to its
/// service principal, and the directory roles assigned to it. `None` for another client.
pub fn created_app(shared: &Shared, client_id: &str) -> Option<(AppRegistration, Grants)> {
    let setup = lock(&shared.setup);
    let app = setup
        .apps
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(client_id))?;
    let sp = setup
        .service_principals
        .iter()
        .find(|s| s.app_id == app.app_id);
    let granted = |resource: &str, names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|n| {
                sp.is_some_and(|sp| {
                    setup.grants.iter().any(|g| {
                        g.principal_id == sp.id
                            && g.resource_id == resource_sp_id(resource)
                            && g.app_role_id == app_role_id(resource, n)
                    })
                })
            })
            .map(|n| (*n).to_owned())
            .collect()
    };
    let graph = granted(GRAPH_APP_ID, GRAPH_APP_ROLES);
    let exchange = !granted(EXCHANGE_APP_ID, EXCHANGE_APP_ROLES).is_empty();
    let directory_roles: Vec<String> = match sp {
        Some(sp) => {
            let st = lock(&shared.state);
            st.role_assignments
                .iter()
                .filter(|a| a.principal_id == sp.id)
                .map(|a| {
                    st.role_definitions
                        .iter()
                        .find(|d| d.id == a.role_definition_id)
                        .map(|d| d.template_id.clone())
                        .unwrap_or_else(|| a.role_definition_id.clone())
                })
                .collect()
        }
        None => vec![],
    };
    let federated_credentials = app
        .federated_credentials
        .iter()
        .map(|f| FederatedCredential {
            issuer: f["issuer"].as_str().unwrap_or_default().to_owned(),
            subject: f["subject"].as_str().unwrap_or_default().to_owned(),
            audience: f["audiences"][0].as_str().unwrap_or_default().to_owned(),
            issuer_certificate: None,
        })
        .collect();
    Some((
        AppRegistration {
            client_id: app.app_id.clone(),
            display_name: app.display_name.clone(),
            service_principal_id: sp.map(|s| s.id.clone()).unwrap_or_default(),
            client_secret: None,
            secret_expired: false,
            certificate: None,
            federated_credentials,
        },
        Grants {
            graph,
            exchange_manage_as_app: exchange,
            directory_roles,
        },
    ))
}

impl Emulator {
    /// How the next device-code sign-ins are answered.
    pub fn set_device_code(&self, options: crate::device_code::DeviceCodeOptions) {
        lock(&self.shared().setup).device.options = options;
    }

    /// Answer the next `n` creations of a service principal or app role assignment as
    /// Entra does before new objects have replicated (400 / 404).
    pub fn set_replication_lag(&self, n: u32) {
        lock(&self.shared().setup).replication_lag = n;
    }

    /// Applications created through Graph so far.
    pub fn created_apps(&self) -> Vec<CreatedApp> {
        lock(&self.shared().setup).apps.clone()
    }

    /// App role assignments (granted application permissions) created through Graph.
    pub fn created_grants(&self) -> Vec<AppRoleGrant> {
        lock(&self.shared().setup).grants.clone()
    }
}
