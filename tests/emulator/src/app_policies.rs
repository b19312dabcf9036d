//! App management policies in Graph's shapes (reads only): the tenant default
//! (`/policies/defaultAppManagementPolicy`), the custom policies
//! (`/policies/appManagementPolicies`) and each custom policy's `appliesTo`.
//!
//! Pages followed (application permissions only, enforced per page):
//! - <https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get>: Policy.Read.All,
//!   or Policy.Read.ApplicationConfiguration / Policy.ReadWrite.ApplicationConfiguration;
//! - <https://learn.microsoft.com/graph/api/appmanagementpolicy-list> (same permissions;
//!   `$select`, `$filter`, `$top`) and `appmanagementpolicy-get`;
//! - <https://learn.microsoft.com/graph/api/appmanagementpolicy-list-appliesto>:
//!   Application.Read.All or any of the three above.
//!
//! A missing permission is Graph's 403 `Authorization_RequestDenied` "Insufficient
//! privileges to complete the operation.". The licence: "all app policy management
//! operations require a Microsoft Entra Workload Identities Premium license"
//! (<https://learn.microsoft.com/graph/api/resources/applicationauthenticationmethodpolicy>)
//! but no page says what a read answers without it, and tenants without it have been
//! served the default. [`WithoutLicence`] picks the answer (UNVERIFIED either way); a
//! refusal is a 403 with Graph's denial code and a message naming the licence — the code
//! alone does not tell it from a missing permission.

use serde_json::{json, Map, Value};

use crate::apps::check_select;
use crate::graph::GraphReq;
use crate::http::Response;
use crate::odata::{apply_filter, apply_select, page, PageSpec, Query};
use crate::respond::{forbidden, graph_error, graph_json, not_found, Ctx};
use crate::server::{lock, Caller, Shared};

type R = Result<Response, Response>;

const POLICY_READ: &[&str] = &[
    "Policy.Read.All",
    "Policy.Read.ApplicationConfiguration",
    "Policy.ReadWrite.ApplicationConfiguration",
];
const APPLIES_TO_READ: &[&str] = &[
    "Application.Read.All",
    "Policy.ReadWrite.ApplicationConfiguration",
    "Policy.Read.ApplicationConfiguration",
    "Policy.Read.All",
];
const DEFAULT_PROPS: [&str; 6] = [
    "id",
    "displayName",
    "description",
    "isEnabled",
    "applicationRestrictions",
    "servicePrincipalRestrictions",
];
const CUSTOM_PROPS: [&str; 5] = [
    "id",
    "displayName",
    "description",
    "isEnabled",
    "restrictions",
];
const DEFAULT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// What the API answers a tenant without Workload ID Premium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithoutLicence {
    /// Both reads are refused.
    RefuseAll,
    /// The tenant default (which always exists) is served; the custom list is refused.
    RefuseCustom,
    /// Both are served, as for a licensed tenant.
    ServeAll,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomPolicy {
    /// The policy in Graph's shape (`id`, `displayName`, `isEnabled`, `restrictions`).
    pub policy: Value,
    /// `(@odata.type, id)` of the applications and service principals it applies to.
    pub applies_to: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppPoliciesState {
    /// The tenant default in Graph's shape.
    pub default_policy: Value,
    pub custom: Vec<CustomPolicy>,
    /// Microsoft Entra Workload ID Premium.
    pub licensed: bool,
    pub without_licence: WithoutLicence,
}

impl AppPoliciesState {
    /// From the snapshot's `apps.management_policies` (snake_case → Graph). Without a
    /// tenant default there, the default as every tenant has it: disabled, no restriction.
    /// A snapshot whose `app_management_policies` source is `unavailable` is a tenant
    /// without the licence whose API refuses the reads.
    pub fn from_snapshot(snap: &Value) -> AppPoliciesState {
        let policies = snap
            .get("apps")
            .and_then(|a| a.get("management_policies"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let kind = |p: &Value| {
            p.get("policy_kind")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let default_policy = policies
            .iter()
            .find(|p| kind(p).as_deref() == Some("tenant_default"))
            .map(|p| {
                let mut g = base(p);
                g.insert(
                    "applicationRestrictions".into(),
                    restrictions(p.get("application_restrictions")),
                );
                g.insert(
                    "servicePrincipalRestrictions".into(),
                    restrictions(p.get("service_principal_restrictions")),
                );
                Value::Object(g)
            })
            .unwrap_or_else(new_tenant_default);
        let custom = policies
            .iter()
            .filter(|p| kind(p).as_deref() == Some("custom"))
            .map(|p| {
                let mut g = base(p);
                g.insert(
                    "restrictions".into(),
                    restrictions(p.get("application_restrictions")),
                );
                let applies_to = p
                    .get("applies_to")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|id| (directory_type(snap, id).to_owned(), id.to_owned()))
                    .collect();
                CustomPolicy {
                    policy: Value::Object(g),
                    applies_to,
                }
            })
            .collect();
        let unavailable = snap
            .get("sources")
            .and_then(|s| s.get("app_management_policies"))
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            == Some("unavailable");
        AppPoliciesState {
            default_policy,
            custom,
            licensed: !unavailable,
            without_licence: WithoutLicence::RefuseAll,
        }
    }

    fn refuses(&self, custom: bool) -> bool {
        !self.licensed
            && match self.without_licence {
                WithoutLicence::RefuseAll => true,
                WithoutLicence::RefuseCustom => custom,
                WithoutLicence::ServeAll => false,
            }
    }
}

/// A service principal when the snapshot has one with that object id, else an application
/// (the snapshot keeps an app registration's object id as `application_id`).
fn directory_type(snap: &Value, id: &str) -> &'static str {
    let is_sp = snap
        .get("apps")
        .and_then(|a| a.get("service_principals"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|sp| sp.get("id").and_then(Value::as_str) == Some(id));
    if is_sp {
        "#microsoft.graph.servicePrincipal"
    } else {
        "#microsoft.graph.application"
    }
}

/// The tenant default of a tenant whose admins never touched it (the get page's example).
fn new_tenant_default() -> Value {
    json!({
        "id": DEFAULT_ID,
        "displayName": "Default app management tenant policy",
        "description": "Default tenant policy that enforces app management restrictions on applications and service principals. To apply policy to targeted resources, create a new policy under appManagementPolicies collection.",
        "isEnabled": false,
        "applicationRestrictions": {"passwordCredentials": [], "keyCredentials": []},
        "servicePrincipalRestrictions": {"passwordCredentials": [], "keyCredentials": []},
    })
}

fn base(p: &Value) -> Map<String, Value> {
    let text = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    let mut g = Map::new();
    g.insert("id".into(), text("id"));
    g.insert("displayName".into(), text("display_name"));
    g.insert("description".into(), Value::Null);
    g.insert(
        "isEnabled".into(),
        p.get("is_enabled").cloned().unwrap_or(json!(false)),
    );
    g
}

fn restrictions(r: Option<&Value>) -> Value {
    let list = |key: &str| -> Vec<Value> {
        r.and_then(|r| r.get(key))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let mut g = json!({
                    "restrictionType": c.get("restriction_type").cloned().unwrap_or(Value::Null),
                    "maxLifetime": c.get("max_lifetime").cloned().unwrap_or(Value::Null),
                    "restrictForAppsCreatedAfterDateTime": c
                        .get("restrict_for_apps_created_after")
                        .cloned()
                        .unwrap_or(Value::Null),
                });
                if let Some(state) = c.get("state") {
                    g["state"] = state.clone();
                }
                g
            })
            .collect()
    };
    json!({"passwordCredentials": list("password_credentials"), "keyCredentials": list("key_credentials")})
}

fn need(caller: &Caller, perms: &[&str], ctx: &Ctx) -> Result<(), Response> {
    if caller.has_any(perms) {
        Ok(())
    } else {
        Err(forbidden(ctx))
    }
}

fn licence_refusal(ctx: &Ctx) -> Response {
    graph_error(
        403,
        "Authorization_RequestDenied",
        "Tenant does not have a Microsoft Entra Workload Identities Premium license, which app management policy operations require.",
        ctx,
    )
}

/// Routes `/policies/defaultAppManagementPolicy` and `/policies/appManagementPolicies…`
/// (`l` lower-cased, `segs` as sent). Writes are not emulated: 405 as for any unknown verb.
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
        ("GET", ["policies", "defaultappmanagementpolicy"]) => {
            need(caller, POLICY_READ, ctx)?;
            let st = lock(&shared.state);
            if st.app_policies.refuses(false) {
                return Err(licence_refusal(ctx));
            }
            check_select(q, &DEFAULT_PROPS, "tenantAppManagementPolicy", ctx)?;
            let mut body = apply_select(st.app_policies.default_policy.clone(), &q.select());
            if let Some(o) = body.as_object_mut() {
                o.insert(
                    "@odata.context".into(),
                    json!(format!(
                        "{}/{}/$metadata#policies/defaultAppManagementPolicy/$entity",
                        ctx.base_url, req.version
                    )),
                );
            }
            Ok(graph_json(200, &body, ctx))
        }
        ("GET", ["policies", "appmanagementpolicies"]) => {
            need(caller, POLICY_READ, ctx)?;
            let st = lock(&shared.state);
            if st.app_policies.refuses(true) {
                return Err(licence_refusal(ctx));
            }
            check_select(q, &CUSTOM_PROPS, "appManagementPolicy", ctx)?;
            let items: Vec<Value> = st
                .app_policies
                .custom
                .iter()
                .map(|c| c.policy.clone())
                .collect();
            drop(st);
            let items = apply_filter(items, q, ctx)?;
            let sel = q.select();
            let items = items.into_iter().map(|v| apply_select(v, &sel)).collect();
            let spec = PageSpec {
                version: req.version,
                path: "/policies/appManagementPolicies",
                context: "policies/appManagementPolicies".into(),
                default_top: shared.settings().options.graph_page_size,
                max_top: 999,
                cap: None,
            };
            Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
        }
        ("GET", ["policies", "appmanagementpolicies", _]) => {
            need(caller, POLICY_READ, ctx)?;
            let st = lock(&shared.state);
            if st.app_policies.refuses(true) {
                return Err(licence_refusal(ctx));
            }
            check_select(q, &CUSTOM_PROPS, "appManagementPolicy", ctx)?;
            let policy = find(&st.app_policies, seg(2)).ok_or_else(|| not_found(seg(2), ctx))?;
            Ok(graph_json(
                200,
                &apply_select(policy.policy.clone(), &q.select()),
                ctx,
            ))
        }
        ("GET", ["policies", "appmanagementpolicies", _, "appliesto"]) => {
            need(caller, APPLIES_TO_READ, ctx)?;
            let st = lock(&shared.state);
            if st.app_policies.refuses(true) {
                return Err(licence_refusal(ctx));
            }
            let policy = find(&st.app_policies, seg(2)).ok_or_else(|| not_found(seg(2), ctx))?;
            let items: Vec<Value> = policy
                .applies_to
                .iter()
                .map(|(kind, id)| json!({"@odata.type": kind, "id": id}))
                .collect();
            drop(st);
            let sel = q.select();
            let items = items.into_iter().map(|v| apply_select(v, &sel)).collect();
            let path = format!("/policies/appManagementPolicies/{}/appliesTo", seg(2));
            let spec = PageSpec {
                version: req.version,
                path: &path,
                context: "directoryObjects".into(),
                default_top: shared.settings().options.graph_page_size,
                max_top: 999,
                cap: None,
            };
            Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
        }
        _ => Err(graph_error(
            405,
            "Request_BadRequest",
            &format!(
                "Method '{}' is not supported by this emulator on this resource.",
                req.method
            ),
            ctx,
        )),
    }
}

fn find<'a>(st: &'a AppPoliciesState, id: &str) -> Option<&'a CustomPolicy> {
    st.custom.iter().find(|c| {
        c.policy
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case(id))
    })
}
