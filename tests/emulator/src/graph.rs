//! Microsoft Graph (v1.0 and beta) endpoints of CONTRACT §3–§5, §7, §8, §11, §16: routing,
//! permission and licence gates, rendering of the tenant state in Graph's shapes, and the
//! stateful writes. `$batch` items come through `handle` too (`in_batch`).

use serde_json::{json, Map, Value};

use crate::http::Response;
use crate::odata::{apply_filter, apply_select, page, page_with, PageSpec, Query};
use crate::respond::{
    bad_request, forbidden, graph_error, graph_json, graph_no_content, not_found, outlook_error,
    Ctx,
};
use crate::server::{lock, Caller, Service, Shared, WriteOp};
use crate::state::{
    role_ids, InboxRule, MailFolder, Mailbox, PrincipalKind, Recipient, TenantState, User,
};
use crate::util::{is_guid, stable_guid};

pub struct GraphReq<'a> {
    pub method: &'a str,
    /// `v1.0` or `beta`.
    pub version: &'a str,
    /// Decoded path after the version (`/users/{id}`).
    pub path: &'a str,
    /// Raw query string.
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub in_batch: bool,
}

impl GraphReq<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type R = Result<Response, Response>;

const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const AUDIT_READ: &[&str] = &["AuditLog.Read.All"];
const POLICY_READ: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.AuthenticationMethod",
];
const MAILBOX_SETTINGS_READ: &[&str] = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];
const MAILBOX_SETTINGS_WRITE: &[&str] = &["MailboxSettings.ReadWrite"];
const MAIL_FOLDERS_READ: &[&str] = &[
    "Mail.ReadBasic.All",
    "Mail.ReadBasic",
    "Mail.Read",
    "Mail.ReadWrite",
];
const ROLE_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagement.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const ROLE_WRITE: &[&str] = &["RoleManagement.ReadWrite.Directory"];
const ELIGIBILITY_READ: &[&str] = &[
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagement.Read.All",
];
const RISKY_READ: &[&str] = &[
    "IdentityRiskyUser.Read.All",
    "IdentityRiskyUser.ReadWrite.All",
];
const ORG_READ: &[&str] = &[
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const DOMAIN_READ: &[&str] = &[
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const GROUP_MEMBER_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const REVOKE: &[&str] = &[
    "User.RevokeSessions.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const ENABLE_DISABLE: &[&str] = &[
    "User.EnableDisableAccount.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const PASSWORD: &[&str] = &["User-PasswordProfile.ReadWrite.All"];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const PER_USER_MFA_WRITE: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];
const CA_WRITE: &[&str] = &["Policy.ReadWrite.ConditionalAccess"];

fn need(caller: &Caller, perms: &[&str], ctx: &Ctx) -> Result<(), Response> {
    if caller.has_any(perms) {
        Ok(())
    } else {
        Err(forbidden(ctx))
    }
}

fn nonpremium(ctx: &Ctx) -> Response {
    graph_error(
        403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
        ctx,
    )
}

/// CONTRACT §4.4/§8.1: unlicensed CA / Identity Protection (status 403 UNVERIFIED).
fn not_licensed(ctx: &Ctx) -> Response {
    graph_error(
        403,
        "AccessDenied",
        "Your tenant is not licensed for this feature.",
        ctx,
    )
}

fn segment_not_found(seg: &str, ctx: &Ctx) -> Response {
    bad_request(
        "BadRequest",
        &format!("Resource not found for the segment '{seg}'."),
        ctx,
    )
}

fn parse_body(req: &GraphReq<'_>, ctx: &Ctx) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_request(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            ctx,
        )),
    }
}

/// Entry point for one Graph request (top level or `$batch` item).
pub fn handle(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, ctx: &Ctx) -> Response {
    let result = route(shared, caller, req, ctx);
    let resp = match result {
        Ok(r) | Err(r) => r,
    };
    // Creating an audit log query is a POST but reads the tenant: it needs only
    // AuditLogsQuery.Read.All and changes nothing, so it is not a write.
    // https://learn.microsoft.com/graph/api/security-auditcoreroot-post-auditlogqueries
    let audit_query = req.method == "POST"
        && req
            .path
            .trim_end_matches('/')
            .eq_ignore_ascii_case("/security/auditLog/queries");
    if req.method != "GET" && !audit_query {
        let mut body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
        if let Some(p) = body
            .get_mut("passwordProfile")
            .and_then(|p| p.get_mut("password"))
        {
            *p = json!("<redacted>");
        }
        shared.record_write(WriteOp {
            service: Service::Graph,
            operation: req.method.to_owned(),
            target: format!("/{}{}", req.version, req.path),
            body,
            status: resp.status,
        });
    }
    resp
}

fn route(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    let segs: Vec<&str> = req
        .path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let q = Query::parse(req.query);
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let m = req.method;
    match (m, l.as_slice()) {
        ("GET", ["users"]) => list_users(shared, caller, req, &q, ctx),
        ("GET", ["users", "$count"]) => count_users(shared, caller, req, ctx),
        ("GET", ["users", _]) => get_user(shared, caller, segs[1], &q, ctx),
        ("PATCH", ["users", _]) => patch_user(shared, caller, segs[1], req, ctx),
        ("POST", ["users", _, "revokesigninsessions"]) => revoke(shared, caller, segs[1], req, ctx),
        ("GET", ["users", _, "authentication", "requirements"]) if req.version == "beta" => {
            get_requirements(shared, caller, segs[1], ctx)
        }
        ("PATCH", ["users", _, "authentication", "requirements"]) if req.version == "beta" => {
            patch_requirements(shared, caller, segs[1], req, ctx)
        }
        (_, ["users", _, "authentication", "requirements"]) => {
            Err(segment_not_found("requirements", ctx))
        }
        ("GET", ["users", _, "mailfolders"]) => {
            list_folders(shared, caller, segs[1], None, req, &q, ctx)
        }
        ("GET", ["users", _, "mailfolders", _]) => {
            get_folder(shared, caller, segs[1], segs[3], req, &q, ctx)
        }
        ("GET", ["users", _, "mailfolders", _, "childfolders"]) => {
            list_folders(shared, caller, segs[1], Some(segs[3]), req, &q, ctx)
        }
        ("GET", ["users", _, "mailfolders", _, "messagerules"]) => {
            list_rules(shared, caller, segs[1], segs[3], req, &q, ctx)
        }
        ("GET", ["users", _, "mailfolders", _, "messagerules", _])
        | ("PATCH", ["users", _, "mailfolders", _, "messagerules", _])
        | ("DELETE", ["users", _, "mailfolders", _, "messagerules", _]) => {
            one_rule(shared, caller, segs[1], segs[3], segs[5], req, ctx)
        }
        ("GET", ["reports", "authenticationmethods", "userregistrationdetails"]) => {
            registration_details(shared, caller, req, &q, ctx)
        }
        ("GET", ["policies", "identitysecuritydefaultsenforcementpolicy"]) => {
            security_defaults(shared, caller, req, ctx)
        }
        ("GET", ["identity", "conditionalaccess", "policies"]) => {
            list_ca(shared, caller, req, &q, ctx)
        }
        ("GET", ["identity", "conditionalaccess", "policies", _]) => {
            get_ca(shared, caller, segs[3], req, ctx)
        }
        ("POST", ["identity", "conditionalaccess", "policies"]) => {
            create_ca(shared, caller, req, ctx)
        }
        ("GET", ["rolemanagement", "directory", "roledefinitions"]) => {
            role_definitions(shared, caller, req, &q, ctx)
        }
        ("GET", ["rolemanagement", "directory", "roleassignments"]) => {
            role_assignments(shared, caller, req, &q, ctx, false)
        }
        ("DELETE", ["rolemanagement", "directory", "roleassignments", _]) => {
            delete_assignment(shared, caller, segs[3], ctx)
        }
        ("GET", ["rolemanagement", "directory", "roleassignmentscheduleinstances"]) => {
            assignment_schedule_instances(shared, caller, req, &q, ctx)
        }
        ("GET", ["rolemanagement", "directory", "roleeligibilityscheduleinstances"]) => {
            role_assignments(shared, caller, req, &q, ctx, true)
        }
        ("POST", ["rolemanagement", "directory", "roleassignmentschedulerequests"]) => {
            crate::pim::schedule_request(
                shared,
                caller,
                crate::pim::Kind::Assignment,
                req.body,
                ctx,
            )
        }
        ("POST", ["rolemanagement", "directory", "roleeligibilityschedulerequests"]) => {
            crate::pim::schedule_request(
                shared,
                caller,
                crate::pim::Kind::Eligibility,
                req.body,
                ctx,
            )
        }
        ("GET", ["groups", _, "members"]) => {
            group_members(shared, caller, segs[1], req, &q, ctx, None)
        }
        ("GET", ["groups", _, "transitivemembers"]) => {
            group_members(shared, caller, segs[1], req, &q, ctx, Some(""))
        }
        ("GET", ["groups", _, "transitivemembers", cast]) => {
            group_members(shared, caller, segs[1], req, &q, ctx, Some(cast))
        }
        ("GET", ["groups"]) => list_groups(shared, caller, req, &q, ctx),
        ("GET", ["groups", _]) => get_group(shared, caller, segs[1], &q, ctx),
        ("GET", ["identity", "conditionalaccess", "namedlocations"]) => {
            list_named_locations(shared, caller, req, &q, ctx)
        }
        ("GET", ["identityprotection", "riskyusers"]) => risky_users(shared, caller, req, &q, ctx),
        ("GET", ["identityprotection", "riskdetections"]) => {
            crate::risk_detections::list(shared, caller, req, &q, ctx)
        }
        ("GET", ["auditlogs", "signins"]) => {
            crate::audit_logs::sign_ins(shared, caller, req, &q, ctx)
        }
        ("GET", ["auditlogs", "directoryaudits"]) => {
            crate::audit_logs::directory_audits(shared, caller, req, &q, ctx)
        }
        (_, ["security", "auditlog", "queries", ..]) => {
            crate::audit_query::route(shared, caller, req, &segs[3..], ctx)
        }
        ("GET", ["organization"]) => organization(shared, caller, req, &q, ctx),
        ("GET", ["domains"]) => domains(shared, caller, req, &q, ctx),
        // `m365guard setup --apply` (a delegated admin, device-code token) creates and lists
        // app registrations: crate::setup_endpoints. Collection and fix mode (app-only)
        // read and change enterprise apps: crate::apps. Only `GET /applications` is served
        // by both, told apart by the token.
        ("GET", ["applications"]) if crate::setup_endpoints::is_delegated(shared, req) => {
            Ok(crate::setup_endpoints::handle(shared, caller, req, ctx))
        }
        ("POST", ["applications"])
        | ("PATCH", ["applications", _])
        | (_, ["applications", _, "federatedidentitycredentials"])
        | ("POST", ["serviceprincipals"])
        | (_, ["serviceprincipals", _, "approleassignments"])
        | ("POST", ["rolemanagement", "directory", "roleassignments"]) => {
            Ok(crate::setup_endpoints::handle(shared, caller, req, ctx))
        }
        (_, [sp]) if sp.starts_with("serviceprincipals(") => {
            Ok(crate::setup_endpoints::handle(shared, caller, req, ctx))
        }
        (_, ["serviceprincipals", ..] | ["applications", ..] | ["oauth2permissiongrants", ..])
        | (_, ["policies", "authorizationpolicy" | "adminconsentrequestpolicy"]) => {
            crate::apps::route(shared, caller, req, &q, &segs, l.as_slice(), ctx)
        }
        (_, ["policies", "defaultappmanagementpolicy" | "appmanagementpolicies", ..]) => {
            crate::app_policies::route(shared, caller, req, &q, &segs, l.as_slice(), ctx)
        }
        ("GET", ["domains", _, "federationconfiguration"]) => {
            crate::auth_methods::federation_configuration(shared, caller, req, segs[1], ctx)
        }
        (_, ["users", _, "authentication", kind])
            if *kind == "methods" || kind.ends_with("methods") =>
        {
            crate::auth_methods::handle(shared, caller, req, segs[1], kind, None, ctx)
        }
        (_, ["users", _, "authentication", kind, _]) if kind.ends_with("methods") => {
            crate::auth_methods::handle(shared, caller, req, segs[1], kind, Some(segs[4]), ctx)
        }
        _ => {
            let known = [
                "users",
                "reports",
                "policies",
                "identity",
                "rolemanagement",
                "groups",
                "identityprotection",
                "auditlogs",
                "organization",
                "domains",
            ];
            if segs
                .first()
                .is_some_and(|s| known.contains(&s.to_ascii_lowercase().as_str()))
            {
                Err(graph_error(
                    405,
                    "Request_BadRequest",
                    "Specified HTTP method is not allowed for the request target.",
                    ctx,
                ))
            } else {
                Err(segment_not_found(segs.first().unwrap_or(&""), ctx))
            }
        }
    }
}

// ---- users ------------------------------------------------------------------------------

const USER_DEFAULT_PROPS: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];
const USER_PROPS: [&str; 19] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
    "accountEnabled",
    "userType",
    "signInActivity",
    "assignedLicenses",
    "onPremisesSyncEnabled",
    "createdDateTime",
    "signInSessionsValidFromDateTime",
    "lastPasswordChangeDateTime",
];

fn render_user(u: &User, st: &TenantState) -> Value {
    let (given, surname) = match u.display_name.split_once(' ') {
        Some((g, s)) if u.user_type == "Member" => (json!(g), json!(s)),
        _ => (Value::Null, Value::Null),
    };
    let mut v = json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": given,
        "jobTitle": null,
        "mail": u.mail,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": if u.user_type == "Member" { json!("en-US") } else { Value::Null },
        "surname": surname,
        "userPrincipalName": u.user_principal_name,
        "id": u.id,
        "accountEnabled": u.account_enabled,
        "userType": u.user_type,
        "assignedLicenses": u.assigned_sku_ids.iter().map(|s| json!({"disabledPlans": [], "skuId": s})).collect::<Vec<_>>(),
        "onPremisesSyncEnabled": if u.on_premises_sync_enabled { json!(true) } else { Value::Null },
        "createdDateTime": "2024-02-11T09:15:42Z",
        "signInSessionsValidFromDateTime": u.sessions_valid_from.as_deref().unwrap_or("2024-02-11T09:15:42Z"),
        "lastPasswordChangeDateTime": u.password_changed_at.as_deref().unwrap_or("2024-02-11T09:15:42Z"),
    });
    if let Some(last) = &u.last_sign_in {
        v["signInActivity"] = json!({
            "lastSignInDateTime": last,
            "lastSignInRequestId": stable_guid(&format!("signin/{}", u.id)),
            "lastNonInteractiveSignInDateTime": u.last_non_interactive_sign_in,
            "lastNonInteractiveSignInRequestId": u.last_non_interactive_sign_in.as_ref().map(|_| stable_guid(&format!("ni/{}", u.id))),
            "lastSuccessfulSignInDateTime": if u.account_enabled { json!(last) } else { Value::Null },
            "lastSuccessfulSignInRequestId": if u.account_enabled { json!(stable_guid(&format!("signin/{}", u.id))) } else { Value::Null },
        });
    }
    let _ = st;
    v
}

fn user_select(q: &Query, ctx: &Ctx) -> Result<Vec<String>, Response> {
    let sel = q.select();
    for s in &sel {
        if !USER_PROPS.iter().any(|p| p.eq_ignore_ascii_case(s)) {
            return Err(bad_request(
                "Request_BadRequest",
                &format!("Could not find a property named '{s}' on type 'microsoft.graph.user'."),
                ctx,
            ));
        }
    }
    if sel.is_empty() {
        Ok(USER_DEFAULT_PROPS.iter().map(|s| s.to_string()).collect())
    } else {
        Ok(sel)
    }
}

/// signInActivity needs AuditLog.Read.All and Entra ID P1; without P1 the whole request fails.
fn sign_in_gate(shared: &Shared, caller: &Caller, q: &Query, ctx: &Ctx) -> Result<bool, Response> {
    let wants = q.selects("signInActivity")
        || q.get("$filter")
            .is_some_and(|f| f.contains("signInActivity"));
    if wants {
        need(caller, AUDIT_READ, ctx)?;
        if !shared.settings().licences.p1 {
            return Err(nonpremium(ctx));
        }
    }
    Ok(wants)
}

fn list_users(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    need(caller, USER_READ, ctx)?;
    let with_sign_in = sign_in_gate(shared, caller, q, ctx)?;
    if q.get("$skip").is_some() {
        return Err(bad_request(
            "Request_BadRequest",
            "'$skip' is not supported by the service.",
            ctx,
        ));
    }
    if q.count()
        && !req
            .header("ConsistencyLevel")
            .is_some_and(|c| c.eq_ignore_ascii_case("eventual"))
    {
        return Err(bad_request(
            "Request_BadRequest",
            "$count is not currently supported.",
            ctx,
        ));
    }
    let select = user_select(q, ctx)?;
    let settings = shared.settings();
    let st = lock(&shared.state);
    let context = if q.select().is_empty() {
        "users".to_owned()
    } else {
        format!("users({})", q.select().join(","))
    };
    let spec = PageSpec {
        version: req.version,
        path: "/users",
        context,
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: (with_sign_in && settings.options.sign_in_activity_page_cap > 0)
            .then_some(settings.options.sign_in_activity_page_cap),
    };
    let body = if q.get("$filter").is_some() {
        let all: Vec<Value> = st.users.iter().map(|u| render_user(u, &st)).collect();
        let filtered = apply_filter(all, q, ctx)?;
        let items = filtered
            .into_iter()
            .map(|v| apply_select(v, &select))
            .collect();
        page(items, q, &spec, ctx)?
    } else {
        page_with(
            st.users.len(),
            &|a, b| {
                st.users[a..b]
                    .iter()
                    .map(|u| apply_select(render_user(u, &st), &select))
                    .collect()
            },
            q,
            &spec,
            ctx,
        )?
    };
    Ok(graph_json(200, &body, ctx))
}

fn count_users(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    need(caller, USER_READ, ctx)?;
    if !req
        .header("ConsistencyLevel")
        .is_some_and(|c| c.eq_ignore_ascii_case("eventual"))
    {
        return Err(bad_request(
            "Request_BadRequest",
            "$count is not currently supported.",
            ctx,
        ));
    }
    let n = lock(&shared.state).users.len();
    let mut r = graph_json(200, &Value::Null, ctx);
    r.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("Content-Type"));
    r.headers.push(("Content-Type".into(), "text/plain".into()));
    r.body = n.to_string().into_bytes();
    Ok(r)
}

pub(crate) fn resolve_user_id(st: &TenantState, id: &str, ctx: &Ctx) -> Result<String, Response> {
    if !is_guid(id) && !id.contains('@') {
        return Err(bad_request(
            "Request_BadRequest",
            &format!("Invalid object identifier '{id}'."),
            ctx,
        ));
    }
    st.user(id)
        .map(|u| u.id.clone())
        .ok_or_else(|| not_found(id, ctx))
}

fn get_user(shared: &Shared, caller: &Caller, id: &str, q: &Query, ctx: &Ctx) -> R {
    need(caller, USER_READ, ctx)?;
    if sign_in_gate(shared, caller, q, ctx)? && !is_guid(id) {
        return Err(bad_request(
            "Request_BadRequest",
            "Get By Key only supports UserId and the key has to be a valid Guid",
            ctx,
        ));
    }
    let select = user_select(q, ctx)?;
    let st = lock(&shared.state);
    let uid = resolve_user_id(&st, id, ctx)?;
    let user = st.user(&uid).ok_or_else(|| not_found(id, ctx))?;
    let mut v = apply_select(render_user(user, &st), &select);
    let context = if q.select().is_empty() {
        "users/$entity".to_owned()
    } else {
        format!("users({})/$entity", q.select().join(","))
    };
    if let Some(o) = v.as_object_mut() {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#{context}", ctx.base_url)),
        );
        out.extend(std::mem::take(o));
        *o = out;
    }
    Ok(graph_json(200, &v, ctx))
}

fn password_ok(p: &str) -> bool {
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    (8..=256).contains(&p.chars().count()) && classes.iter().filter(|c| **c).count() >= 3
}

fn patch_user(shared: &Shared, caller: &Caller, id: &str, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    let body = parse_body(req, ctx)?;
    for k in body.keys() {
        match k.as_str() {
            "accountEnabled" => need(caller, ENABLE_DISABLE, ctx)?,
            "passwordProfile" => need(caller, PASSWORD, ctx)?,
            "displayName" | "jobTitle" | "officeLocation" | "mobilePhone" | "usageLocation" => {
                need(caller, USER_WRITE, ctx)?
            }
            other => {
                return Err(bad_request(
                    "Request_BadRequest",
                    &format!("Invalid property '{other}'."),
                    ctx,
                ));
            }
        }
    }
    let mut st = lock(&shared.state);
    let uid = resolve_user_id(&st, id, ctx)?;
    let privileged_target = st.user_holds_privileged_role(&uid);
    if privileged_target
        && !caller.has_directory_role(&[
            role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
            role_ids::GLOBAL_ADMINISTRATOR,
        ])
    {
        return Err(forbidden(ctx));
    }
    // App-only password resets need "at least the User Administrator Microsoft Entra role"
    // besides the permission (user resource, passwordProfile:
    // <https://learn.microsoft.com/graph/api/resources/user>); the permission alone is 403.
    if body.contains_key("passwordProfile")
        && !caller.has_directory_role(&[
            role_ids::USER_ADMINISTRATOR,
            role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
            role_ids::GLOBAL_ADMINISTRATOR,
        ])
    {
        return Err(forbidden(ctx));
    }
    let synced = st.user(&uid).is_some_and(|u| u.on_premises_sync_enabled);
    if synced && (body.contains_key("accountEnabled") || body.contains_key("passwordProfile")) {
        return Err(bad_request("Request_BadRequest", "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.", ctx));
    }
    if let Some(pp) = body.get("passwordProfile") {
        let pw = pp.get("password").and_then(Value::as_str).unwrap_or("");
        if !password_ok(pw) {
            return Err(bad_request("Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password.", ctx));
        }
    }
    let Some(user) = st.user_mut(&uid) else {
        return Err(not_found(id, ctx));
    };
    if let Some(v) = body.get("accountEnabled") {
        let Some(b) = v.as_bool() else {
            return Err(bad_request(
                "Request_BadRequest",
                "Invalid value specified for property 'accountEnabled' of resource 'User'.",
                ctx,
            ));
        };
        user.account_enabled = b;
    }
    if body.contains_key("passwordProfile") {
        user.password_reset = true;
        user.password_changed_at = Some(crate::util::now_iso());
    }
    if let Some(d) = body.get("displayName").and_then(Value::as_str) {
        user.display_name = d.to_owned();
    }
    let enabled = user.account_enabled;
    // An admin-generated temporary password remediates Identity Protection user risk
    // (riskDetail `adminGeneratedTemporaryPassword`).
    if body.contains_key("passwordProfile") {
        let now = crate::util::now_iso();
        if let Some(risky) = st.risky_users.iter_mut().find(|r| r.id == uid) {
            risky.risk_state = "remediated".into();
            risky.risk_level = "none".into();
            risky.risk_detail = "adminGeneratedTemporaryPassword".into();
            risky.risk_last_updated = now;
        }
    }
    if let Some(mbx) = st.mailbox_of_user_mut(&uid) {
        if mbx.recipient_type_details == "UserMailbox" {
            mbx.account_disabled = !enabled;
        }
    }
    Ok(graph_no_content(ctx))
}

fn revoke(shared: &Shared, caller: &Caller, id: &str, _req: &GraphReq<'_>, ctx: &Ctx) -> R {
    need(caller, REVOKE, ctx)?;
    let mut st = lock(&shared.state);
    let uid = resolve_user_id(&st, id, ctx)?;
    if let Some(u) = st.user_mut(&uid) {
        u.sessions_revoked += 1;
        u.sessions_valid_from = Some(crate::util::now_iso());
    }
    Ok(graph_json(
        200,
        &json!({"@odata.context": format!("{}/v1.0/$metadata#Edm.Boolean", ctx.base_url), "value": true}),
        ctx,
    ))
}

fn get_requirements(shared: &Shared, caller: &Caller, id: &str, ctx: &Ctx) -> R {
    need(caller, POLICY_READ, ctx)?;
    let st = lock(&shared.state);
    let uid = resolve_user_id(&st, id, ctx)?;
    let state = st
        .user(&uid)
        .map(|u| u.per_user_mfa_state.clone())
        .unwrap_or_default();
    Ok(graph_json(
        200,
        &json!({
            "@odata.context": format!("{}/beta/$metadata#users('{uid}')/authentication/requirements", ctx.base_url),
            "perUserMfaState": state,
        }),
        ctx,
    ))
}

fn patch_requirements(
    shared: &Shared,
    caller: &Caller,
    id: &str,
    req: &GraphReq<'_>,
    ctx: &Ctx,
) -> R {
    need(caller, PER_USER_MFA_WRITE, ctx)?;
    let body = parse_body(req, ctx)?;
    let value = body
        .get("perUserMfaState")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !["disabled", "enabled", "enforced"].contains(&value) {
        return Err(bad_request(
            "BadRequest",
            &format!("Invalid value '{value}' for property 'perUserMfaState'."),
            ctx,
        ));
    }
    let mut st = lock(&shared.state);
    let uid = resolve_user_id(&st, id, ctx)?;
    if let Some(u) = st.user_mut(&uid) {
        u.per_user_mfa_state = value.to_owned();
    }
    Ok(graph_no_content(ctx))
}

// ---- mail folders and rules ------------------------------------------------------------

/// Resolves `/users/{id}` to its mailbox: unknown user → 404 ErrorInvalidUser-style,
/// user without an Exchange Online mailbox → 404 MailboxNotEnabledForRESTAPI.
fn with_mailbox<T>(
    shared: &Shared,
    id: &str,
    ctx: &Ctx,
    f: impl FnOnce(&mut Mailbox, &str) -> Result<T, Response>,
) -> Result<T, Response> {
    let mut st = lock(&shared.state);
    let Some(uid) = st.user(id).map(|u| u.id.clone()) else {
        return Err(outlook_error(
            404,
            "ErrorInvalidUser",
            &format!("The requested user '{id}' is invalid."),
            ctx,
        ));
    };
    let Some(mbx) = st.mailbox_of_user_mut(&uid) else {
        return Err(outlook_error(
            404,
            "MailboxNotEnabledForRESTAPI",
            "REST API is not yet supported for this mailbox.",
            ctx,
        ));
    };
    f(mbx, &uid)
}

fn render_folder(f: &MailFolder, mbx: &Mailbox) -> Value {
    let children = mbx
        .folders
        .iter()
        .filter(|c| c.parent_folder_id == f.id && c.id != f.id)
        .count();
    json!({
        "id": f.id,
        "displayName": f.display_name,
        "parentFolderId": f.parent_folder_id,
        "childFolderCount": children,
        "unreadItemCount": f.unread_item_count,
        "totalItemCount": f.total_item_count,
        "sizeInBytes": f.total_item_count * 6887,
        "isHidden": f.is_hidden,
    })
}

fn list_folders(
    shared: &Shared,
    caller: &Caller,
    id: &str,
    parent: Option<&str>,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(caller, MAIL_FOLDERS_READ, ctx)?;
    let include_hidden = q
        .get("includeHiddenFolders")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let page_size = shared.settings().options.graph_page_size.min(10);
    with_mailbox(shared, id, ctx, |mbx, uid| {
        let parent_id = match parent {
            Some(p) => mbx.folder(p).map(|f| f.id.clone()).ok_or_else(|| {
                outlook_error(
                    404,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                    ctx,
                )
            })?,
            None => mbx
                .folder("msgfolderroot")
                .map(|f| f.id.clone())
                .unwrap_or_default(),
        };
        let items: Vec<Value> = mbx
            .folders
            .iter()
            .filter(|f| f.parent_folder_id == parent_id && (include_hidden || !f.is_hidden))
            .map(|f| apply_select(render_folder(f, mbx), &q.select()))
            .collect();
        let (path, context) = match parent {
            Some(p) => (
                format!("/users/{id}/mailFolders/{p}/childFolders"),
                format!("users('{uid}')/mailFolders('{p}')/childFolders"),
            ),
            None => (
                format!("/users/{id}/mailFolders"),
                format!("users('{uid}')/mailFolders"),
            ),
        };
        let spec = PageSpec {
            version: req.version,
            path: &path,
            context,
            default_top: page_size,
            max_top: 1000,
            cap: None,
        };
        Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
    })
}

fn get_folder(
    shared: &Shared,
    caller: &Caller,
    id: &str,
    folder: &str,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(caller, MAIL_FOLDERS_READ, ctx)?;
    with_mailbox(shared, id, ctx, |mbx, uid| {
        let f = mbx.folder(folder).ok_or_else(|| {
            outlook_error(
                404,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
                ctx,
            )
        })?;
        let mut v = json!({"@odata.context": format!("{}/{}/$metadata#users('{uid}')/mailFolders/$entity", ctx.base_url, req.version)});
        if let (Some(o), Value::Object(f)) = (
            v.as_object_mut(),
            apply_select(render_folder(f, mbx), &q.select()),
        ) {
            o.extend(f);
        }
        Ok(graph_json(200, &v, ctx))
    })
}

fn recipients_json(rs: &[Recipient]) -> Value {
    Value::Array(
        rs.iter()
            .map(|r| json!({"emailAddress": {"name": r.name, "address": r.address}}))
            .collect(),
    )
}

/// A messageRule with only set predicates/actions serialised (Graph omits the rest).
pub fn render_rule(r: &InboxRule) -> Value {
    let mut conditions = Map::new();
    let put_strs = |m: &mut Map<String, Value>, k: &str, v: &[String]| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    put_strs(&mut conditions, "subjectContains", &r.subject_contains);
    put_strs(&mut conditions, "bodyContains", &r.body_contains);
    put_strs(
        &mut conditions,
        "bodyOrSubjectContains",
        &r.subject_or_body_contains,
    );
    put_strs(&mut conditions, "senderContains", &r.sender_contains);
    put_strs(&mut conditions, "headerContains", &r.header_contains);
    put_strs(&mut conditions, "recipientContains", &r.recipient_contains);
    if !r.from_addresses.is_empty() {
        conditions.insert("fromAddresses".into(), recipients_json(&r.from_addresses));
    }
    if r.has_attachments {
        conditions.insert("hasAttachments".into(), json!(true));
    }
    let mut actions = Map::new();
    if let Some(f) = &r.move_to_folder {
        actions.insert("moveToFolder".into(), json!(f));
    }
    if let Some(f) = &r.copy_to_folder {
        actions.insert("copyToFolder".into(), json!(f));
    }
    for (k, v) in [
        ("forwardTo", &r.forward_to),
        ("redirectTo", &r.redirect_to),
        ("forwardAsAttachmentTo", &r.forward_as_attachment_to),
    ] {
        if !v.is_empty() {
            actions.insert(k.into(), recipients_json(v));
        }
    }
    for (k, v) in [
        ("markAsRead", r.mark_as_read),
        ("delete", r.delete),
        ("permanentDelete", r.permanent_delete),
        ("stopProcessingRules", r.stop_processing_rules),
    ] {
        if v {
            actions.insert(k.into(), json!(true));
        }
    }
    json!({
        "id": r.graph_id,
        "displayName": r.name,
        "sequence": r.priority,
        "isEnabled": r.enabled,
        "hasError": r.in_error,
        "isReadOnly": false,
        "conditions": conditions,
        "actions": actions,
    })
}

fn check_inbox(folder: &str, ctx: &Ctx) -> Result<(), Response> {
    if folder.eq_ignore_ascii_case("inbox") {
        Ok(())
    } else {
        Err(outlook_error(
            400,
            "ErrorInvalidRequest",
            "Message rules are only supported on the Inbox folder.",
            ctx,
        ))
    }
}

fn list_rules(
    shared: &Shared,
    caller: &Caller,
    id: &str,
    folder: &str,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(caller, MAILBOX_SETTINGS_READ, ctx)?;
    check_inbox(folder, ctx)?;
    with_mailbox(shared, id, ctx, |mbx, uid| {
        let items: Vec<Value> = mbx
            .rules
            .iter()
            .filter(|r| !r.hidden)
            .map(render_rule)
            .collect();
        let path = format!("/users/{id}/mailFolders/inbox/messageRules");
        let spec = PageSpec {
            version: req.version,
            path: &path,
            context: format!("users('{uid}')/mailFolders('inbox')/messageRules"),
            default_top: 1000,
            max_top: 1000,
            cap: None,
        };
        Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
    })
}

fn one_rule(
    shared: &Shared,
    caller: &Caller,
    id: &str,
    folder: &str,
    rule_id: &str,
    req: &GraphReq<'_>,
    ctx: &Ctx,
) -> R {
    need(
        caller,
        if req.method == "GET" {
            MAILBOX_SETTINGS_READ
        } else {
            MAILBOX_SETTINGS_WRITE
        },
        ctx,
    )?;
    check_inbox(folder, ctx)?;
    let patch = if req.method == "PATCH" {
        Some(parse_body(req, ctx)?)
    } else {
        None
    };
    with_mailbox(shared, id, ctx, |mbx, uid| {
        let not_found = || {
            outlook_error(
                404,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
                ctx,
            )
        };
        let idx = mbx
            .rules
            .iter()
            .position(|r| !r.hidden && r.graph_id == rule_id)
            .ok_or_else(not_found)?;
        match req.method {
            "DELETE" => {
                mbx.rules.remove(idx);
                Ok(graph_no_content(ctx))
            }
            _ => {
                if let Some(body) = patch {
                    for (k, v) in &body {
                        let rule = &mut mbx.rules[idx];
                        match (k.as_str(), v) {
                            ("isEnabled", Value::Bool(b)) => rule.enabled = *b,
                            ("displayName", Value::String(s)) => rule.name = s.clone(),
                            ("sequence", Value::Number(n)) => {
                                rule.priority = n.as_i64().unwrap_or(rule.priority)
                            }
                            _ => {
                                return Err(outlook_error(400, "ErrorInvalidProperty", &format!("The property '{k}' is not supported or has an invalid value in an update of a messageRule."), ctx));
                            }
                        }
                    }
                }
                let mut v = json!({"@odata.context": format!("{}/{}/$metadata#users('{uid}')/mailFolders('inbox')/messageRules/$entity", ctx.base_url, req.version)});
                if let (Some(o), Value::Object(r)) =
                    (v.as_object_mut(), render_rule(&mbx.rules[idx]))
                {
                    o.extend(r);
                }
                Ok(graph_json(200, &v, ctx))
            }
        }
    })
}

// ---- MFA, policies ----------------------------------------------------------------------

fn registration_details(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(caller, AUDIT_READ, ctx)?;
    let settings = shared.settings();
    if !settings.licences.p1 {
        return Err(nonpremium(ctx));
    }
    let st = lock(&shared.state);
    let admins = st.admin_user_ids();
    let items: Vec<Value> = st
        .users
        .iter()
        .filter(|u| u.account_enabled)
        .map(|u| {
            let reg = u.mfa.clone().unwrap_or(crate::state::MfaRegistration {
                is_mfa_registered: false,
                is_mfa_capable: false,
                is_admin: false,
                methods: vec![],
                default_method: None,
            });
            let preferred = reg.default_method.clone().unwrap_or_else(|| "none".into());
            json!({
                "id": u.id,
                "userPrincipalName": u.user_principal_name,
                "userDisplayName": u.display_name,
                "userType": u.user_type.to_ascii_lowercase(),
                "isAdmin": reg.is_admin
                    || (settings.options.registration_is_admin_from_roles && admins.contains(&u.id)),
                "isSsprRegistered": !reg.methods.is_empty(),
                "isSsprEnabled": true,
                "isSsprCapable": !reg.methods.is_empty(),
                "isMfaRegistered": reg.is_mfa_registered,
                "isMfaCapable": reg.is_mfa_capable,
                "isPasswordlessCapable": reg.methods.iter().any(|m| m == "fido2" || m == "windowsHelloForBusiness" || m == "passKeyDeviceBound"),
                "methodsRegistered": reg.methods,
                "isSystemPreferredAuthenticationMethodEnabled": u.user_type == "Member",
                "systemPreferredAuthenticationMethods": if preferred == "none" { json!([]) } else { json!([preferred]) },
                "userPreferredMethodForSecondaryAuthentication": preferred,
                "lastUpdatedDateTime": "2026-01-01T04:11:37.0469375Z",
            })
        })
        .collect();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/reports/authenticationMethods/userRegistrationDetails",
        context: "reports/authenticationMethods/userRegistrationDetails".into(),
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

fn security_defaults(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    need(caller, POLICY_READ, ctx)?;
    let enabled = lock(&shared.state).security_defaults_enabled;
    Ok(graph_json(
        200,
        &json!({
            "@odata.context": format!("{}/{}/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity", ctx.base_url, req.version),
            "id": "00000000-0000-0000-0000-000000000005",
            "displayName": "Security Defaults",
            "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft. When enabled, these recommendations will be automatically enforced in your organization. Administrators and users will be better protected from common identity related attacks.",
            "isEnabled": enabled,
        }),
        ctx,
    ))
}

/// CA and Identity Protection: 1 request/second/tenant, 429 without Retry-After.
fn one_rps(shared: &Shared, family: &'static str, ctx: &Ctx) -> Result<(), Response> {
    if !shared.settings().faults.one_rps_limit {
        return Ok(());
    }
    let mut m = lock(&shared.last_one_rps);
    let now = std::time::Instant::now();
    if let Some(last) = m.get(family) {
        if now.duration_since(*last) < std::time::Duration::from_secs(1) {
            return Err(crate::respond::too_many_requests(None, ctx));
        }
    }
    m.insert(family, now);
    Ok(())
}

fn list_ca(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    need(caller, POLICY_READ, ctx)?;
    let settings = shared.settings();
    if !settings.licences.p1 {
        return Err(not_licensed(ctx));
    }
    one_rps(shared, "ca", ctx)?;
    let items = lock(&shared.state).ca_policies.clone();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/identity/conditionalAccess/policies",
        context: "identity/conditionalAccess/policies".into(),
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

fn get_ca(shared: &Shared, caller: &Caller, id: &str, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    need(caller, POLICY_READ, ctx)?;
    if !shared.settings().licences.p1 {
        return Err(not_licensed(ctx));
    }
    let st = lock(&shared.state);
    let p = st
        .ca_policies
        .iter()
        .find(|p| p["id"] == id)
        .ok_or_else(|| {
            graph_error(
                404,
                "ResourceNotFound",
                &format!("Resource '{id}' does not exist."),
                ctx,
            )
        })?;
    let mut v = json!({"@odata.context": format!("{}/{}/$metadata#identity/conditionalAccess/policies/$entity", ctx.base_url, req.version)});
    if let (Some(o), Some(p)) = (v.as_object_mut(), p.as_object()) {
        o.extend(p.clone());
    }
    Ok(graph_json(200, &v, ctx))
}

fn create_ca(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    need(caller, CA_WRITE, ctx)?;
    need(caller, &["Policy.Read.All"], ctx)?;
    let settings = shared.settings();
    if !settings.licences.p1 {
        return Err(not_licensed(ctx));
    }
    let body = parse_body(req, ctx)?;
    let Some(name) = body.get("displayName").and_then(Value::as_str) else {
        return Err(bad_request("BadRequest", "displayName is required.", ctx));
    };
    let state = body
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("disabled");
    if !["enabled", "disabled", "enabledForReportingButNotEnforced"].contains(&state) {
        return Err(bad_request(
            "BadRequest",
            &format!("Invalid value '{state}' for property 'state'."),
            ctx,
        ));
    }
    let cond = body.get("conditions").cloned().unwrap_or(json!({}));
    let p2 = ["userRiskLevels", "signInRiskLevels"].iter().any(|k| {
        cond.get(*k)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    });
    if p2 && !settings.licences.p2 {
        return Err(bad_request("BadRequest", "1039: Cannot create or update policies with premium P2 features. Please make sure you have a valid P2 license.", ctx));
    }
    let mut st = lock(&shared.state);
    if st.security_defaults_enabled && state == "enabled" {
        return Err(bad_request("BadRequest", "Security Defaults is enabled in the tenant. You need to disable Security Defaults before enabling a Conditional Access policy.", ctx));
    }
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let apps = cond.get("applications").cloned().unwrap_or(json!({}));
    let grant = body
        .get("grantControls")
        .filter(|g| g.is_object())
        .map(|g| {
            (
                g.get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or("OR")
                    .to_owned(),
                strs(g.get("builtInControls")),
                None,
            )
        });
    let id = crate::util::Prng::new(
        shared
            .id_counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ^ 0xca,
    )
    .guid();
    let mut policy = crate::state::ca_policy_graph(
        &id,
        name,
        state,
        cond.get("users").cloned().unwrap_or(json!({})),
        strs(apps.get("includeApplications")),
        strs(apps.get("excludeApplications")),
        strs(cond.get("clientAppTypes")),
        grant,
        &crate::util::iso_utc(crate::util::now_epoch()),
    );
    for k in ["userRiskLevels", "signInRiskLevels"] {
        if let Some(v) = cond.get(k) {
            policy["conditions"][k] = v.clone();
        }
    }
    st.ca_policies.push(policy.clone());
    let mut v = json!({"@odata.context": format!("{}/{}/$metadata#identity/conditionalAccess/policies/$entity", ctx.base_url, req.version)});
    if let (Some(o), Some(p)) = (v.as_object_mut(), policy.as_object()) {
        o.extend(p.clone());
    }
    Ok(graph_json(201, &v, ctx).header(
        "Location",
        &format!(
            "{}/{}/identity/conditionalAccess/policies/{id}",
            ctx.base_url, req.version
        ),
    ))
}

// ---- roles ------------------------------------------------------------------------------

fn role_definitions(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(caller, ROLE_READ, ctx)?;
    let settings = shared.settings();
    let st = lock(&shared.state);
    let items: Vec<Value> = st
        .role_definitions
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "description": d.description,
                "displayName": d.display_name,
                "isBuiltIn": d.is_built_in,
                "isEnabled": true,
                "resourceScopes": ["/"],
                "templateId": d.template_id,
                "version": if d.is_built_in { json!("1") } else { Value::Null },
                "rolePermissions": [{"allowedResourceActions": [], "condition": null}],
                "inheritsPermissionsFrom@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/roleDefinitions('{}')/inheritsPermissionsFrom", ctx.base_url, d.id),
                "inheritsPermissionsFrom": if d.template_id == role_ids::GLOBAL_ADMINISTRATOR { json!([{"id": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"}]) } else { json!([]) },
            })
        })
        .collect();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/roleManagement/directory/roleDefinitions",
        context: "roleManagement/directory/roleDefinitions".into(),
        default_top: settings.options.graph_page_size.max(200),
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

fn render_principal(st: &TenantState, id: &str) -> Value {
    if let Some(u) = st.users.iter().find(|u| u.id == id) {
        return json!({
            "@odata.type": "#microsoft.graph.user",
            "id": u.id,
            "deletedDateTime": null,
            "accountEnabled": u.account_enabled,
            "displayName": u.display_name,
            "userPrincipalName": u.user_principal_name,
            "userType": u.user_type,
            "mail": u.mail,
        });
    }
    match st.principals.iter().find(|p| p.id == id) {
        Some(p) if p.kind == PrincipalKind::Group => json!({
            "@odata.type": "#microsoft.graph.group",
            "id": p.id,
            "deletedDateTime": null,
            "displayName": p.display_name,
            "isAssignableToRole": true,
            "securityEnabled": true,
            "mailEnabled": false,
            "groupTypes": [],
        }),
        Some(p) => json!({
            "@odata.type": "#microsoft.graph.servicePrincipal",
            "id": p.id,
            "deletedDateTime": null,
            "accountEnabled": true,
            "appId": p.app_id,
            "displayName": p.display_name,
            "servicePrincipalType": "Application",
        }),
        None => Value::Null,
    }
}

fn role_assignments(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
    eligible: bool,
) -> R {
    let settings = shared.settings();
    if eligible {
        need(caller, ELIGIBILITY_READ, ctx)?;
        if !settings.licences.p2 {
            return Err(bad_request("AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.", ctx));
        }
    } else {
        need(caller, ROLE_READ, ctx)?;
    }
    let expand = q.get("$expand").map(|e| e.trim().to_ascii_lowercase());
    if let Some(e) = &expand {
        if e != "principal" && e != "roledefinition" {
            return Err(bad_request("BadRequest", &format!("Could not find a property named '{e}' on type 'microsoft.graph.unifiedRoleAssignment'."), ctx));
        }
    }
    let st = lock(&shared.state);
    let tenant_id = st.tenant_id.clone();
    let list = if eligible {
        &st.role_eligibilities
    } else {
        &st.role_assignments
    };
    let items: Vec<Value> = list
        .iter()
        .map(|a| {
            let mut v = if eligible {
                json!({
                    "id": a.id,
                    "principalId": a.principal_id,
                    "roleDefinitionId": a.role_definition_id,
                    "directoryScopeId": a.directory_scope_id,
                    "appScopeId": null,
                    "startDateTime": a.start_date_time,
                    "endDateTime": a.end_date_time,
                    "memberType": "Direct",
                    "roleEligibilityScheduleId": stable_guid(&format!("sched/{}", a.id)),
                })
            } else {
                json!({
                    "id": a.id,
                    "principalId": a.principal_id,
                    "directoryScopeId": a.directory_scope_id,
                    "roleDefinitionId": a.role_definition_id,
                    "appScopeId": null,
                    "condition": null,
                    "principalOrganizationId": tenant_id,
                })
            };
            match expand.as_deref() {
                Some("principal") => v["principal"] = render_principal(&st, &a.principal_id),
                Some("roledefinition") => {
                    v["roleDefinition"] = st
                        .role_definitions
                        .iter()
                        .find(|d| d.id == a.role_definition_id)
                        .map(|d| json!({"id": d.id, "displayName": d.display_name, "templateId": d.template_id, "isBuiltIn": d.is_built_in}))
                        .unwrap_or(Value::Null)
                }
                _ => {}
            }
            v
        })
        .collect();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let base = if eligible {
        "roleEligibilityScheduleInstances"
    } else {
        "roleAssignments"
    };
    let context = match expand.as_deref() {
        Some("principal") => format!("roleManagement/directory/{base}(principal())"),
        Some(_) => format!("roleManagement/directory/{base}(roleDefinition())"),
        None => format!("roleManagement/directory/{base}"),
    };
    let path = format!("/roleManagement/directory/{base}");
    let spec = PageSpec {
        version: req.version,
        path: &path,
        context,
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

/// `roleAssignmentScheduleInstances` (PIM, Entra ID P2): the active assignments with their
/// schedule — permanent ones (`endDateTime` null, `assignmentType` `Assigned`) and PIM
/// activations (time-bound, `Activated`). The instance id is the assignment's id.
fn assignment_schedule_instances(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(
        caller,
        &[
            "RoleAssignmentSchedule.Read.Directory",
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "RoleManagement.Read.Directory",
            "RoleManagement.ReadWrite.Directory",
            "RoleManagement.Read.All",
        ],
        ctx,
    )?;
    let settings = shared.settings();
    if !settings.licences.p2 {
        return Err(bad_request("AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.", ctx));
    }
    let st = lock(&shared.state);
    let items: Vec<Value> = st
        .role_assignments
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "principalId": a.principal_id,
                "roleDefinitionId": a.role_definition_id,
                "directoryScopeId": a.directory_scope_id,
                "appScopeId": null,
                "startDateTime": a.start_date_time.clone().unwrap_or_else(|| "2024-02-11T09:15:42Z".into()),
                "endDateTime": a.end_date_time,
                "assignmentType": if a.end_date_time.is_some() { "Activated" } else { "Assigned" },
                "memberType": "Direct",
                "roleAssignmentOriginId": a.id,
                "roleAssignmentScheduleId": stable_guid(&format!("asched/{}", a.id)),
            })
        })
        .collect();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/roleManagement/directory/roleAssignmentScheduleInstances",
        context: "roleManagement/directory/roleAssignmentScheduleInstances".into(),
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

fn delete_assignment(shared: &Shared, caller: &Caller, id: &str, ctx: &Ctx) -> R {
    need(caller, ROLE_WRITE, ctx)?;
    let mut st = lock(&shared.state);
    let idx = st
        .role_assignments
        .iter()
        .position(|a| a.id == id)
        .ok_or_else(|| not_found(id, ctx))?;
    let role = st.role_assignments[idx].role_definition_id.clone();
    let privileged = st
        .role_definitions
        .iter()
        .any(|d| d.id == role && d.is_privileged);
    if privileged
        && !caller.has_directory_role(&[
            role_ids::PRIVILEGED_ROLE_ADMINISTRATOR,
            role_ids::GLOBAL_ADMINISTRATOR,
        ])
    {
        return Err(forbidden(ctx));
    }
    st.role_assignments.remove(idx);
    Ok(graph_no_content(ctx))
}

/// `GET /groups/{id}/members` (direct members), `/transitiveMembers` (`transitive` =
/// `Some("")`: "a flat list of all nested members") and `/transitiveMembers/{cast}`
/// (`microsoft.graph.user` or `microsoft.graph.group`; another cast is 400
/// Request_UnsupportedQuery, as the page says):
/// <https://learn.microsoft.com/graph/api/group-list-members>,
/// <https://learn.microsoft.com/graph/api/group-list-transitivemembers>.
fn group_members(
    shared: &Shared,
    caller: &Caller,
    id: &str,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
    transitive: Option<&str>,
) -> R {
    need(caller, GROUP_MEMBER_READ, ctx)?;
    let settings = shared.settings();
    let st = lock(&shared.state);
    let g = st
        .principals
        .iter()
        .find(|p| p.id == id && p.kind == PrincipalKind::Group)
        .ok_or_else(|| not_found(id, ctx))?;
    let cast = match transitive {
        None | Some("") => None,
        Some("microsoft.graph.user") => Some(("#microsoft.graph.user", "user")),
        Some("microsoft.graph.group") => Some(("#microsoft.graph.group", "group")),
        Some(other) => {
            return Err(bad_request(
                "Request_UnsupportedQuery",
                &format!("Unsupported type cast '{other}' for this request."),
                ctx,
            ))
        }
    };
    if let Some((_, type_name)) = cast {
        check_select(q, type_name, ctx)?;
    }
    let ids = match transitive {
        Some(_) => st.transitive_members(id).unwrap_or_default(),
        None => g.member_ids.clone(),
    };
    let items: Vec<Value> = ids
        .iter()
        .map(|m| render_principal(&st, m))
        .filter(|v| {
            cast.is_none_or(|(odata_type, _)| {
                v.get("@odata.type").and_then(Value::as_str) == Some(odata_type)
            })
        })
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let path = match transitive {
        Some("") => format!("/groups/{id}/transitiveMembers"),
        Some(cast) => format!("/groups/{id}/transitiveMembers/{cast}"),
        None => format!("/groups/{id}/members"),
    };
    let spec = PageSpec {
        version: req.version,
        path: &path,
        context: "directoryObjects".into(),
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

/// Properties `$select` may name on a user or a group (a subset of the resource types);
/// anything else is refused as Graph refuses it.
const SELECTABLE_USER: [&str; 8] = [
    "id",
    "displayName",
    "userPrincipalName",
    "userType",
    "accountEnabled",
    "mail",
    "deletedDateTime",
    "createdDateTime",
];
const SELECTABLE_GROUP: [&str; 9] = [
    "id",
    "displayName",
    "description",
    "groupTypes",
    "membershipRule",
    "securityEnabled",
    "mailEnabled",
    "isAssignableToRole",
    "deletedDateTime",
];

/// `$select` naming a property the type does not have is 400 in Graph ("Could not find a
/// property named 'x' on type 'microsoft.graph.user'").
fn check_select(q: &Query, type_name: &str, ctx: &Ctx) -> Result<(), Response> {
    let known: &[&str] = if type_name == "group" {
        &SELECTABLE_GROUP
    } else {
        &SELECTABLE_USER
    };
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

fn render_group(p: &crate::state::Principal) -> Value {
    json!({
        "id": p.id,
        "deletedDateTime": null,
        "displayName": p.display_name,
        "description": null,
        "groupTypes": [],
        "membershipRule": null,
        "securityEnabled": true,
        "mailEnabled": false,
        "isAssignableToRole": null,
    })
}

/// `GET /groups` (doctor's probe): <https://learn.microsoft.com/graph/api/group-list>.
fn list_groups(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    need(caller, GROUP_MEMBER_READ, ctx)?;
    check_select(q, "group", ctx)?;
    let settings = shared.settings();
    let st = lock(&shared.state);
    let items: Vec<Value> = st
        .principals
        .iter()
        .filter(|p| p.kind == PrincipalKind::Group)
        .map(|p| apply_select(render_group(p), &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/groups",
        context: "groups".into(),
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

/// `GET /groups/{id}`: <https://learn.microsoft.com/graph/api/group-get>; 404
/// Request_ResourceNotFound for an unknown (or deleted) group.
fn get_group(shared: &Shared, caller: &Caller, id: &str, q: &Query, ctx: &Ctx) -> R {
    need(caller, GROUP_MEMBER_READ, ctx)?;
    check_select(q, "group", ctx)?;
    let st = lock(&shared.state);
    let g = st
        .principals
        .iter()
        .find(|p| p.id == id && p.kind == PrincipalKind::Group)
        .ok_or_else(|| not_found(id, ctx))?;
    let mut v = apply_select(render_group(g), &q.select());
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#groups/$entity", ctx.base_url)),
        );
    }
    Ok(graph_json(200, &v, ctx))
}

/// `GET /identity/conditionalAccess/namedLocations`: Policy.Read.All is the only
/// application permission the page lists (no higher one), so nothing else is accepted:
/// <https://learn.microsoft.com/graph/api/conditionalaccessroot-list-namedlocations>.
fn list_named_locations(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    need(caller, &["Policy.Read.All"], ctx)?;
    let settings = shared.settings();
    let items = lock(&shared.state).named_locations.clone();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/identity/conditionalAccess/namedLocations",
        context: "identity/conditionalAccess/namedLocations".into(),
        default_top: settings.options.graph_page_size,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

// ---- risk, sign-ins, organisation ------------------------------------------------------

fn risky_users(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    need(caller, RISKY_READ, ctx)?;
    let settings = shared.settings();
    if !settings.licences.p2 {
        return Err(not_licensed(ctx));
    }
    one_rps(shared, "risky", ctx)?;
    let st = lock(&shared.state);
    let items: Vec<Value> = st
        .risky_users
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "isDeleted": false,
                "isProcessing": false,
                "riskLastUpdatedDateTime": r.risk_last_updated,
                "riskLevel": r.risk_level,
                "riskState": r.risk_state,
                "riskDetail": r.risk_detail,
                "userDisplayName": r.display_name,
                "userPrincipalName": r.user_principal_name,
            })
        })
        .collect();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/identityProtection/riskyUsers",
        context: "identityProtection/riskyUsers".into(),
        default_top: settings.options.graph_page_size,
        max_top: 500,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

fn organization(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    need(caller, ORG_READ, ctx)?;
    let st = lock(&shared.state);
    let verified: Vec<Value> = st
        .domains
        .iter()
        .filter(|d| d.is_verified)
        .map(|d| {
            json!({
                "capabilities": if d.is_default || d.is_initial { "Email, OfficeCommunicationsOnline" } else { "Email" },
                "isDefault": d.is_default,
                "isInitial": d.is_initial,
                "name": d.name,
                "type": "Managed",
            })
        })
        .collect();
    let org = json!({
        "id": st.tenant_id,
        "displayName": st.display_name,
        "verifiedDomains": verified,
        "tenantType": "AAD",
        "countryLetterCode": "US",
    });
    let sel = q.select();
    let context = if sel.is_empty() {
        "organization".to_owned()
    } else {
        format!("organization({})", sel.join(","))
    };
    let spec = PageSpec {
        version: req.version,
        path: "/organization",
        context,
        default_top: 100,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(
        200,
        &page(vec![apply_select(org, &sel)], q, &spec, ctx)?,
        ctx,
    ))
}

fn domains(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    need(caller, DOMAIN_READ, ctx)?;
    let st = lock(&shared.state);
    let items: Vec<Value> = st
        .domains
        .iter()
        .map(|d| {
            json!({
                "authenticationType": crate::auth_methods::authentication_type(&st, &d.name),
                "availabilityStatus": null,
                "id": d.name,
                "isAdminManaged": true,
                "isDefault": d.is_default,
                "isInitial": d.is_initial,
                "isRoot": d.name.matches('.').count() <= 1 || d.is_initial,
                "isVerified": d.is_verified,
                "supportedServices": if d.is_verified { json!(["Email", "OfficeCommunicationsOnline"]) } else { json!([]) },
                "passwordNotificationWindowInDays": 14,
                "passwordValidityPeriodInDays": 2147483647,
                "state": null,
            })
        })
        .collect();
    let items = apply_filter(items, q, ctx)?;
    let items = items
        .into_iter()
        .map(|v| apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/domains",
        context: "domains".into(),
        default_top: 100,
        max_top: 999,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}
