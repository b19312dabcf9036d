//! Entra audit logs: `GET /auditLogs/signIns` (v1.0 and beta) and
//! `GET /auditLogs/directoryAudits`, and the contoso story they tell (`sign_in_story`,
//! `audit_story`) for `m365guard investigate`.
//!
//! What the docs say, and what the emulator therefore does:
//! - List signIns (<https://learn.microsoft.com/graph/api/signin-list>): AuditLog.Read.All;
//!   Entra ID P1 or P2 ("You must have a Microsoft Entra ID P1 or P2 license to download
//!   sign-in logs", <https://learn.microsoft.com/graph/api/resources/signin>) — without it
//!   403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant` (CONTRACT §8.2). Default and
//!   maximum page 1000, newest first; `$filter` on `userId` (eq), `userPrincipalName` (eq),
//!   `createdDateTime` (eq, le, ge), `appId`, `ipAddress`, `clientAppUsed`,
//!   `status/errorCode` (eq); beta also `signInEventTypes/any(t:t eq 'nonInteractiveUser')`,
//!   and without a filter on it lists interactive sign-ins only. v1.0 renders the v1.0 properties only (the keys of
//!   `fixtures/signIns.json`); beta adds `authenticationRequirement`, `userAgent`,
//!   `authenticationDetails`, `signInEventTypes`, `autonomousSystemNumber`
//!   (<https://learn.microsoft.com/graph/api/resources/signin?view=graph-rest-beta>).
//! - List directoryAudits (<https://learn.microsoft.com/graph/api/directoryaudit-list>):
//!   AuditLog.Read.All, no premium licence (audit logs are kept 7 days on free tenants);
//!   `$filter` on `activityDateTime` (eq, ge, le), `activityDisplayName` (eq),
//!   `initiatedBy/user/id`, `initiatedBy/user/userPrincipalName` (eq), `loggedByService`
//!   (eq), `targetResources/any(t:t/id eq '…')`
//!   (<https://learn.microsoft.com/graph/api/resources/directoryaudit>).
//!
//! Any other `$filter` (an `or`, a function, an unlisted property or operator) is answered
//! 400 `Request_UnsupportedQuery`: stricter than the service, never more lenient. Date-time
//! literals are compared to the second.

use serde_json::{json, Value};

use crate::graph::GraphReq;
use crate::http::Response;
use crate::odata::{page, PageSpec, Query};
use crate::respond::{bad_request, forbidden, graph_error, graph_json, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::state::User;
use crate::util::stable_guid;

type R = Result<Response, Response>;

const AUDIT_READ: &[&str] = &["AuditLog.Read.All"];

/// Lena Fischer, the contoso user the story is about.
const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
/// The attacker's address (a Tor exit range in NL; documentation-style, not a real victim).
pub const ATTACKER_IP: &str = "185.220.101.47";

/// One sign-in of the story: (time, ip, city, country, lat, lon, client app, error code,
/// risk level, user agent).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
    i64,
    &'static str,
    &'static str,
);

const EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";
const OUTLOOK_IOS: &str = "Outlook-iOS/2.0";

/// Lena's December: ordinary sign-ins from Berlin and Munich (one failed password), then at
/// night a phishing sign-in from Amsterdam 24 minutes after her phone signed in from Berlin,
/// an IMAP sign-in from the same address, and (in `audit_story`) a new MFA method
/// registered 10 minutes after the phishing sign-in.
const LENA_SIGN_INS: [Row; 8] = [
    ("2025-12-01T08:05:12Z", "91.64.10.20", "Berlin", "DE", 52.52, 13.405, "Browser", 0, "none", EDGE),
    ("2025-12-08T08:12:40Z", "91.64.10.20", "Berlin", "DE", 52.52, 13.405, "Mobile Apps and Desktop clients", 0, "none", OUTLOOK_IOS),
    ("2025-12-15T13:30:00Z", "91.64.200.7", "Munich", "DE", 48.137, 11.575, "Browser", 0, "none", EDGE),
    ("2025-12-22T09:01:00Z", "91.64.10.20", "Berlin", "DE", 52.52, 13.405, "Browser", 50126, "none", EDGE),
    ("2025-12-31T01:50:03Z", "91.64.10.20", "Berlin", "DE", 52.52, 13.405, "Mobile Apps and Desktop clients", 0, "none", OUTLOOK_IOS),
    ("2025-12-31T02:14:09Z", ATTACKER_IP, "Amsterdam", "NL", 52.3676, 4.9041, "Browser", 0, "high", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"),
    ("2025-12-31T02:31:40Z", ATTACKER_IP, "Amsterdam", "NL", 52.3676, 4.9041, "IMAP4", 0, "none", "python-imaplib"),
    ("2025-12-31T02:40:00Z", ATTACKER_IP, "Amsterdam", "NL", 52.3676, 4.9041, "IMAP4", 50126, "none", "python-imaplib"),
];

/// A sign-in of `u` at `time` (the row's own time is used by the story only).
fn sign_in(u: &User, time: &str, r: &Row, n: usize, interactive: bool) -> Value {
    let (_, ip, city, country, lat, lon, client, code, risk, agent) = *r;
    let failure = if code == 0 {
        "Other."
    } else {
        "Invalid username or password or Invalid on premise username or password."
    };
    json!({
        "id": stable_guid(&format!("signin/{}/{n}", u.id)),
        "createdDateTime": time,
        "userDisplayName": u.display_name,
        "userPrincipalName": u.user_principal_name.to_lowercase(),
        "userId": u.id,
        "appId": "00000002-0000-0ff1-ce00-000000000000",
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": ip,
        "clientAppUsed": client,
        "correlationId": stable_guid(&format!("corr/{}/{n}", u.id)),
        "conditionalAccessStatus": "notApplied",
        "isInteractive": interactive,
        "riskDetail": "none",
        "riskLevelAggregated": risk,
        "riskLevelDuringSignIn": risk,
        "riskState": if risk == "none" { "none" } else { "atRisk" },
        "riskEventTypes": if risk == "none" { json!([]) } else { json!(["unfamiliarFeatures"]) },
        "riskEventTypes_v2": if risk == "none" { json!([]) } else { json!(["unfamiliarFeatures"]) },
        "resourceDisplayName": "Office 365 Exchange Online",
        "resourceId": "00000002-0000-0ff1-ce00-000000000000",
        "status": {"errorCode": code, "failureReason": failure, "additionalDetails": null},
        "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": if agent == OUTLOOK_IOS { "Ios" } else { "Windows10" }, "browser": "", "isCompliant": false, "isManaged": false, "trustType": ""},
        "location": {"city": city, "state": "", "countryOrRegion": country, "geoCoordinates": {"altitude": null, "latitude": lat, "longitude": lon}},
        "appliedConditionalAccessPolicies": [],
        // beta only (stripped from v1.0 answers in `render_sign_in`)
        "authenticationRequirement": "singleFactorAuthentication",
        "userAgent": agent,
        "signInEventTypes": [if interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "autonomousSystemNumber": if ip == ATTACKER_IP { 208294 } else { 3209 },
        "authenticationDetails": [{
            "authenticationStepDateTime": time,
            "authenticationMethod": "Password",
            "authenticationMethodDetail": "Password in the cloud",
            "succeeded": code == 0,
            "authenticationStepResultDetail": if code == 0 { "Correct password" } else { "Invalid username or password" },
        }],
    })
}

/// Lena's phone refreshing its token (non-interactive: listed only when a beta
/// `signInEventTypes` filter asks for them).
const LENA_NON_INTERACTIVE: [Row; 2] = [
    (
        "2025-12-15T13:40:00Z",
        "91.64.200.7",
        "Munich",
        "DE",
        48.137,
        11.575,
        "Mobile Apps and Desktop clients",
        0,
        "none",
        OUTLOOK_IOS,
    ),
    (
        "2025-12-31T01:55:00Z",
        "91.64.10.20",
        "Berlin",
        "DE",
        52.52,
        13.405,
        "Mobile Apps and Desktop clients",
        0,
        "none",
        OUTLOOK_IOS,
    ),
];

/// Everyone else: one browser sign-in at their `last_sign_in`.
const OTHER: Row = (
    "",
    "203.0.113.77",
    "Exampleville",
    "ZZ",
    12.3456,
    65.4321,
    "Browser",
    0,
    "none",
    EDGE,
);

/// Properties only beta renders.
const BETA_ONLY: [&str; 5] = [
    "authenticationRequirement",
    "userAgent",
    "signInEventTypes",
    "autonomousSystemNumber",
    "authenticationDetails",
];

/// The sign-in log of a tenant built from a snapshot: Lena's story when she exists, and
/// one browser sign-in at `last_sign_in` for every other user who has one.
pub fn sign_in_story(users: &[User]) -> Vec<Value> {
    let mut out = Vec::new();
    for u in users {
        if u.id == LENA {
            out.extend(
                LENA_SIGN_INS
                    .iter()
                    .enumerate()
                    .map(|(n, r)| sign_in(u, r.0, r, n, true)),
            );
            out.extend(
                LENA_NON_INTERACTIVE
                    .iter()
                    .enumerate()
                    .map(|(n, r)| sign_in(u, r.0, r, 100 + n, false)),
            );
        } else if let Some(at) = &u.last_sign_in {
            out.push(sign_in(u, at, &OTHER, 0, true));
        }
    }
    out
}

/// The directory audit log: a password reset by the helpdesk earlier in December, and the
/// attacker registering an authenticator app on Lena's account 10 minutes after the
/// phishing sign-in (`User registered security info`, logged by Authentication Methods).
pub fn audit_story(users: &[User]) -> Vec<Value> {
    let Some(lena) = users.iter().find(|u| u.id == LENA) else {
        return Vec::new();
    };
    let target = json!([{
        "id": lena.id, "displayName": lena.display_name, "type": "User",
        "userPrincipalName": lena.user_principal_name, "groupType": null, "modifiedProperties": [],
    }]);
    vec![
        json!({
            "id": "Directory_2f1c6d0e-0000-4000-8000-00000000a101",
            "category": "UserManagement",
            "correlationId": stable_guid("audit/corr/1"),
            "result": "success",
            "resultReason": "",
            "activityDisplayName": "Reset user password",
            "activityDateTime": "2025-12-10T10:15:00Z",
            "loggedByService": "Core Directory",
            "operationType": "Update",
            "initiatedBy": {"app": null, "user": {"id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "displayName": "Helpdesk", "userPrincipalName": "helpdesk@contoso.com", "ipAddress": "91.64.10.1", "userType": null, "homeTenantId": null, "homeTenantName": null}},
            "targetResources": target.clone(),
            "additionalDetails": [],
        }),
        json!({
            "id": "UserManagement_7a1e9c3b-0000-4000-8000-00000000a102",
            "category": "UserManagement",
            "correlationId": stable_guid("audit/corr/2"),
            "result": "success",
            "resultReason": "User registered Authenticator App with Notification and Code",
            "activityDisplayName": "User registered security info",
            "activityDateTime": "2025-12-31T02:24:31Z",
            "loggedByService": "Authentication Methods",
            "operationType": "Add",
            "initiatedBy": {"app": null, "user": {"id": lena.id, "displayName": lena.display_name, "userPrincipalName": lena.user_principal_name, "ipAddress": ATTACKER_IP, "userType": null, "homeTenantId": null, "homeTenantName": null}},
            "targetResources": target,
            "additionalDetails": [{"key": "Method", "value": "Authenticator App"}],
        }),
    ]
}

/// The rest of the attacker's night, tenant-wide (`scan --with-activity`): Lena's consent
/// to "Mail Sync Pro" 8 minutes after the Amsterdam sign-in and the attacker's phone
/// registered on her account 13 minutes after it, both from 185.220.101.47. Kept apart
/// from `audit_story` (whose exact events the investigate tests count): a test adds them
/// with `TenantState::add_activity_story`.
pub fn activity_story(users: &[User]) -> Vec<Value> {
    let Some(lena) = users.iter().find(|u| u.id == LENA) else {
        return Vec::new();
    };
    let actor = json!({"app": null, "user": {"id": lena.id, "displayName": lena.display_name, "userPrincipalName": lena.user_principal_name, "ipAddress": ATTACKER_IP, "userType": null, "homeTenantId": null, "homeTenantName": null}});
    vec![
        json!({
            "id": "ApplicationManagement_5c2e8d1f-0000-4000-8000-00000000a201",
            "category": "ApplicationManagement",
            "correlationId": stable_guid("audit/corr/activity/1"),
            "result": "success",
            "resultReason": "",
            "activityDisplayName": "Consent to application",
            "activityDateTime": "2025-12-31T02:22:05Z",
            "loggedByService": "Core Directory",
            "operationType": "Assign",
            "initiatedBy": actor.clone(),
            "targetResources": [{"id": "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b", "displayName": "Mail Sync Pro", "type": "ServicePrincipal", "userPrincipalName": null, "groupType": null, "modifiedProperties": [{"displayName": "ConsentContext.IsAdminConsent", "oldValue": null, "newValue": "\"False\""}]}],
            "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}],
        }),
        json!({
            "id": "UserManagement_9d4b1a6c-0000-4000-8000-00000000a202",
            "category": "UserManagement",
            "correlationId": stable_guid("audit/corr/activity/2"),
            "result": "success",
            "resultReason": "User registered Mobile Phone SMS",
            "activityDisplayName": "User registered security info",
            "activityDateTime": "2025-12-31T02:27:10Z",
            "loggedByService": "Authentication Methods",
            "operationType": "Add",
            "initiatedBy": actor.clone(),
            "targetResources": [{"id": lena.id, "displayName": lena.display_name, "type": "User", "userPrincipalName": lena.user_principal_name, "groupType": null, "modifiedProperties": []}],
            "additionalDetails": [{"key": "Method", "value": "Mobile Phone"}],
        }),
        // Role changes name the role on the member target's `modifiedProperties`, values
        // as JSON text (<https://learn.microsoft.com/graph/api/resources/targetresource>,
        // <https://learn.microsoft.com/graph/api/resources/modifiedproperty>). Dana made
        // Lena a Global Administrator in June (the standing assignment a finding points
        // at); the attacker added her to Exchange Administrator (a role she no longer
        // holds): that one is not the Global Administrator finding's change.
        role_change(
            "RoleManagement_1b7e3c9a-0000-4000-8000-00000000a203",
            "2025-06-02T09:00:00Z",
            json!({"app": null, "user": {"id": "6e1f3a2b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "displayName": "Dana Whitfield", "userPrincipalName": "dana.whitfield@contoso.com", "ipAddress": "91.64.10.1", "userType": null, "homeTenantId": null, "homeTenantName": null}}),
            lena,
            (
                "62e90394-69f5-4237-9190-012177145e10",
                "Global Administrator",
                "TenantAdmins",
            ),
        ),
        role_change(
            "RoleManagement_4d2a8f6e-0000-4000-8000-00000000a204",
            "2025-12-31T02:29:40Z",
            actor,
            lena,
            (
                "29232cdf-9323-42fd-ade2-1d097af3e4de",
                "Exchange Administrator",
                "ExchangeServiceAdmin",
            ),
        ),
    ]
}

/// An `Add member to role` (Core Directory) putting `user` into a role given as
/// (template id, display name, well-known name).
fn role_change(id: &str, time: &str, actor: Value, user: &User, role: (&str, &str, &str)) -> Value {
    let (template, name, well_known) = role;
    let quoted = |v: &str| Value::String(format!("\"{v}\""));
    json!({
        "id": id,
        "category": "RoleManagement",
        "correlationId": stable_guid(&format!("audit/corr/{id}")),
        "result": "success",
        "resultReason": "",
        "activityDisplayName": "Add member to role",
        "activityDateTime": time,
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": actor,
        "targetResources": [{"id": user.id, "displayName": user.display_name, "type": "User", "userPrincipalName": user.user_principal_name, "groupType": null, "modifiedProperties": [
            {"displayName": "Role.ObjectID", "oldValue": null, "newValue": quoted(&stable_guid(&format!("role/{template}")))},
            {"displayName": "Role.DisplayName", "oldValue": null, "newValue": quoted(name)},
            {"displayName": "Role.TemplateId", "oldValue": null, "newValue": quoted(template)},
            {"displayName": "Role.WellKnownObjectName", "oldValue": null, "newValue": quoted(well_known)},
        ]}],
        "additionalDetails": [],
    })
}

/// One `$filter` clause of the forms the endpoints document.
enum Clause {
    /// `path op literal`, op ∈ {eq, ge, le}.
    Cmp(String, String, Value),
    /// `collection/any(v:v/prop eq literal)`.
    Any(String, String, Value),
}

fn literal(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        // A lone quote inside means two literals (`'a' or x eq 'b'`): not one literal.
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        return Some(Value::String(inner.replace("''", "'")));
    }
    if is_datetime(s) {
        return Some(Value::String(s.to_owned()));
    }
    s.parse::<i64>().ok().map(|n| json!(n))
}

/// `2025-12-01T00:00:00Z` or with fractional seconds / an offset of `Z`.
fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s[..4].bytes().all(|c| c.is_ascii_digit())
}

fn split_and(f: &str) -> Vec<&str> {
    let b = f.as_bytes();
    let (mut parts, mut start, mut in_q, mut i) = (Vec::new(), 0, false, 0);
    while i < b.len() {
        if b[i] == b'\'' {
            in_q = !in_q;
        }
        if !in_q && b[i..].starts_with(b" and ") {
            parts.push(&f[start..i]);
            i += 5;
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&f[start..]);
    parts
}

/// Parse a filter against the endpoint's documented properties: `(path, ops)` pairs and
/// the collections that allow `any(v:v/prop eq …)`. `None` = unsupported.
fn parse(f: &str, props: &[(&str, &[&str])], any: &[(&str, &str)]) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    for part in split_and(f) {
        let part = part.trim();
        if let Some((coll, rest)) = part.split_once("/any(") {
            let body = rest.strip_suffix(')')?;
            let (var, cond) = body.split_once(':')?;
            let (lhs, lit) = cond.trim().split_once(" eq ")?;
            // `t/id` (a property of each element) or `t` itself (a string collection).
            let rest = lhs.trim().strip_prefix(var.trim())?;
            let prop = if rest.is_empty() {
                rest
            } else {
                rest.strip_prefix('/')?
            };
            any.iter()
                .find(|(c, p)| c.eq_ignore_ascii_case(coll) && p.eq_ignore_ascii_case(prop))?;
            out.push(Clause::Any(coll.to_owned(), prop.to_owned(), literal(lit)?));
            continue;
        }
        let mut words = part.splitn(3, ' ');
        let (path, op, lit) = (words.next()?, words.next()?, words.next()?);
        let (_, ops) = props.iter().find(|(p, _)| p.eq_ignore_ascii_case(path))?;
        if !ops.contains(&op) {
            return None;
        }
        out.push(Clause::Cmp(path.to_owned(), op.to_owned(), literal(lit)?));
    }
    Some(out)
}

fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path.split('/') {
        cur = cur
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))
            .map(|(_, v)| v)?;
    }
    Some(cur)
}

fn compare(have: Option<&Value>, op: &str, want: &Value) -> bool {
    match (have, want) {
        (Some(Value::String(h)), Value::String(w)) if is_datetime(h) && is_datetime(w) => {
            // To the second: both are UTC (`Z`).
            let (h, w) = (&h[..19], &w[..19]);
            match op {
                "ge" => h >= w,
                "le" => h <= w,
                _ => h == w,
            }
        }
        (Some(Value::String(h)), Value::String(w)) => op == "eq" && h.eq_ignore_ascii_case(w),
        (Some(Value::Number(h)), Value::Number(w)) => op == "eq" && h.as_i64() == w.as_i64(),
        _ => false,
    }
}

fn matches(item: &Value, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| match c {
        Clause::Cmp(path, op, v) => compare(lookup(item, path), op, v),
        Clause::Any(coll, prop, v) => {
            lookup(item, coll)
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter().any(|x| {
                        let item = if prop.is_empty() {
                            Some(x)
                        } else {
                            lookup(x, prop)
                        };
                        compare(item, "eq", v)
                    })
                })
        }
    })
}

fn filtered(
    items: Vec<Value>,
    q: &Query,
    props: &[(&str, &[&str])],
    any: &[(&str, &str)],
    ctx: &Ctx,
) -> Result<Vec<Value>, Response> {
    let Some(f) = q.get("$filter") else {
        return Ok(items);
    };
    let clauses = parse(f, props, any)
        .ok_or_else(|| bad_request("Request_UnsupportedQuery", "Unsupported Query.", ctx))?;
    Ok(items.into_iter().filter(|i| matches(i, &clauses)).collect())
}

const EQ: &[&str] = &["eq"];
const RANGE: &[&str] = &["eq", "ge", "le"];

/// `GET /{version}/auditLogs/signIns`.
pub fn sign_ins(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    if !caller.has_any(AUDIT_READ) {
        return Err(forbidden(ctx));
    }
    let settings = shared.settings();
    if !settings.licences.p1 {
        return Err(graph_error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
            ctx,
        ));
    }
    let mut items = lock(&shared.state).sign_in_log.clone();
    items.sort_by(|a, b| {
        let t = |v: &Value| v["createdDateTime"].as_str().unwrap_or("").to_owned();
        t(b).cmp(&t(a))
    });
    let props: &[(&str, &[&str])] = &[
        ("userId", EQ),
        ("userPrincipalName", EQ),
        ("createdDateTime", RANGE),
        ("appId", EQ),
        ("ipAddress", EQ),
        ("clientAppUsed", EQ),
        ("status/errorCode", EQ),
    ];
    let beta = req.version == "beta";
    // `signInEventTypes` exists on beta only; without a filter on it the API lists
    // interactive sign-ins only (the beta signIn resource's note).
    let any: &[(&str, &str)] = if beta {
        &[("signInEventTypes", "")]
    } else {
        &[]
    };
    let asks_event_types = q
        .get("$filter")
        .is_some_and(|f| f.to_ascii_lowercase().contains("signineventtypes"));
    let items = filtered(items, q, props, any, ctx)?
        .into_iter()
        .filter(|v| asks_event_types || v["isInteractive"] == json!(true))
        .collect::<Vec<_>>();
    let items = items
        .into_iter()
        .map(|mut v| {
            if let (false, Some(o)) = (beta, v.as_object_mut()) {
                for k in BETA_ONLY {
                    o.remove(k);
                }
            }
            crate::odata::apply_select(v, &q.select())
        })
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/auditLogs/signIns",
        context: "auditLogs/signIns".into(),
        default_top: settings.options.graph_page_size.min(1000),
        max_top: 1000,
        // The service may end a page before `$top`: a test shrinks pages to prove paging.
        cap: Some(settings.options.graph_page_size),
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

/// `GET /{version}/auditLogs/directoryAudits`.
pub fn directory_audits(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    q: &Query,
    ctx: &Ctx,
) -> R {
    if !caller.has_any(AUDIT_READ) {
        return Err(forbidden(ctx));
    }
    let settings = shared.settings();
    let mut items = lock(&shared.state).directory_audit_log.clone();
    items.sort_by(|a, b| {
        let t = |v: &Value| v["activityDateTime"].as_str().unwrap_or("").to_owned();
        t(b).cmp(&t(a))
    });
    let props: &[(&str, &[&str])] = &[
        ("activityDateTime", RANGE),
        ("activityDisplayName", EQ),
        ("initiatedBy/user/id", EQ),
        ("initiatedBy/user/userPrincipalName", EQ),
        ("loggedByService", EQ),
        ("correlationId", EQ),
    ];
    let any = &[
        ("targetResources", "id"),
        ("targetResources", "displayName"),
    ];
    let items = filtered(items, q, props, any, ctx)?;
    let items = items
        .into_iter()
        .map(|v| crate::odata::apply_select(v, &q.select()))
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/auditLogs/directoryAudits",
        context: "auditLogs/directoryAudits".into(),
        default_top: settings.options.graph_page_size.min(1000),
        max_top: 1000,
        // The service may end a page before `$top`: a test shrinks pages to prove paging.
        cap: Some(settings.options.graph_page_size),
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn documented_filters_parse_and_others_do_not() {
        let props: &[(&str, &[&str])] = &[("userId", EQ), ("createdDateTime", RANGE)];
        let any = &[("targetResources", "id")];
        assert!(parse(
            "userId eq 'x' and createdDateTime ge 2025-12-01T00:00:00Z",
            props,
            any
        )
        .is_some());
        assert!(parse("targetResources/any(t:t/id eq 'x')", props, any).is_some());
        assert!(parse("targetResources/any(t: t/id eq 'x')", props, any).is_some());
        let types = &[("signInEventTypes", "")];
        let c = parse(
            "signInEventTypes/any(t:t eq 'nonInteractiveUser')",
            props,
            types,
        )
        .unwrap();
        assert!(matches(
            &json!({"signInEventTypes": ["nonInteractiveUser"]}),
            &c
        ));
        assert!(!matches(
            &json!({"signInEventTypes": ["interactiveUser"]}),
            &c
        ));
        assert!(parse("signInEventTypes/any(t:t/x eq 'y')", props, types).is_none());
        assert!(parse("userId ge 'x'", props, any).is_none());
        assert!(parse("userId eq 'x' or userId eq 'y'", props, any).is_none());
        assert!(parse("startswith(userId,'x')", props, any).is_none());
        let c = parse("createdDateTime ge 2025-12-31T00:00:00Z", props, any).unwrap();
        assert!(matches(
            &json!({"createdDateTime": "2025-12-31T02:14:09Z"}),
            &c
        ));
        assert!(!matches(
            &json!({"createdDateTime": "2025-12-30T02:14:09Z"}),
            &c
        ));
    }
}
