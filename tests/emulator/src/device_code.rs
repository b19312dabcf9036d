//! The OAuth 2.0 device authorization grant of the Entra v2.0 endpoint
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>, RFC 8628):
//! `POST /{tenant}/oauth2/v2.0/devicecode` and the `/token` grant
//! `urn:ietf:params:oauth:grant-type:device_code`. No browser here: a session is approved
//! by the configured user after [`DeviceCodeOptions::approve_after_polls`] polls (or
//! declined, or left to expire). Polls faster than `interval` get `slow_down`, and the
//! interval grows by 5 s from then on, as RFC 8628 §3.5 says.
//!
//! The approved token is delegated: `scp` holds the scopes asked for, `wids` the user's
//! directory roles. Its scopes are recorded as the token's permissions and the token is
//! marked delegated, so the setup endpoints also check the signed-in user's roles.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::json;

use crate::http::{Request, Response};
use crate::respond::{aadsts, json_body, Ctx};
use crate::server::{lock, Audience, IssuedToken, Shared};
use crate::state::role_ids;
use crate::util::{b64url, now_epoch, parse_form};

/// Microsoft Graph Command Line Tools, the public client `m365guard setup --apply` uses.
pub const GRAPH_COMMAND_LINE_TOOLS: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const GRAPH: &str = "https://graph.microsoft.com";

/// How the (imaginary) user answers a device-code sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approve,
    Decline,
    /// Never signs in: polls get `authorization_pending` until `expired_token`.
    Ignore,
}

#[derive(Debug, Clone)]
pub struct DeviceCodeOptions {
    /// Polls answered `authorization_pending` before the answer is given.
    pub approve_after_polls: u32,
    pub answer: Answer,
    /// UPN of the user who signs in; default: the first user holding Global Administrator.
    pub user: Option<String>,
    /// `interval` and `expires_in` of the `/devicecode` answer (documented defaults 5, 900).
    pub interval: u64,
    pub expires_in: u64,
    /// Public clients that may start the flow.
    pub public_clients: Vec<String>,
}

impl Default for DeviceCodeOptions {
    fn default() -> Self {
        DeviceCodeOptions {
            approve_after_polls: 1,
            answer: Answer::Approve,
            user: None,
            interval: 5,
            expires_in: 900,
            public_clients: vec![GRAPH_COMMAND_LINE_TOOLS.into()],
        }
    }
}

struct Session {
    client_id: String,
    scopes: Vec<String>,
    polls: u32,
    interval: u64,
    expires_at: u64,
    last_poll: Option<Instant>,
}

#[derive(Default)]
pub struct DeviceState {
    pub options: DeviceCodeOptions,
    sessions: HashMap<String, Session>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            client_id: String::new(),
            scopes: vec![],
            polls: 0,
            interval: 5,
            expires_at: 0,
            last_poll: None,
        }
    }
}

fn tenant_ok(shared: &Shared, segment: &str) -> bool {
    let st = lock(&shared.state);
    ["organizations", "common"].contains(&segment)
        || segment.eq_ignore_ascii_case(&st.tenant_id)
        || st
            .domains
            .iter()
            .any(|d| d.is_verified && d.name.eq_ignore_ascii_case(segment))
}

fn form(req: &Request) -> Vec<(String, String)> {
    parse_form(&String::from_utf8_lossy(&req.body))
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub fn devicecode_endpoint(shared: &Shared, tenant: &str, req: &Request, ctx: &Ctx) -> Response {
    if !tenant_ok(shared, tenant) {
        return aadsts(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
            false,
            ctx,
        );
    }
    let form = form(req);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(client_id) = get("client_id") else {
        return aadsts(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
            false,
            ctx,
        );
    };
    let mut setup = lock(&shared.setup);
    let options = setup.device.options.clone();
    if !options
        .public_clients
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&client_id))
    {
        return aadsts(
            400,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
            false,
            ctx,
        );
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(|s| {
            s.strip_prefix(GRAPH)
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(s)
                .to_owned()
        })
        .filter(|s| !matches!(s.as_str(), "openid" | "profile" | "offline_access"))
        .collect();
    if scopes.is_empty() {
        return aadsts(
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
            false,
            ctx,
        );
    }
    let device_code = format!("DAQABIQEAAA{}", shared.random_hex(24));
    let user_code: String = shared
        .random_hex(5)
        .to_ascii_uppercase()
        .chars()
        .take(9)
        .collect();
    setup.device.sessions.insert(
        device_code.clone(),
        Session {
            client_id,
            scopes,
            interval: options.interval,
            expires_at: now_epoch() + options.expires_in,
            ..Session::default()
        },
    );
    let uri = "https://microsoft.com/devicelogin";
    let body = json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": options.expires_in,
        "interval": options.interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    });
    let mut r = Response::new(200).header("Content-Type", "application/json; charset=utf-8");
    r.body = json_body(&body);
    r
}

/// The `/token` grant for a device code; `None` when the request is another grant.
pub fn intercept(shared: &Shared, tenant: &str, req: &Request, ctx: &Ctx) -> Option<Response> {
    let form = form(req);
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some(GRANT) {
        return None;
    }
    if !tenant_ok(shared, tenant) {
        return Some(aadsts(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
            false,
            ctx,
        ));
    }
    let bad = || {
        aadsts(
            400,
            "bad_verification_code",
            70019,
            "The device code is not recognized.",
            false,
            ctx,
        )
    };
    let (Some(code), Some(client_id)) = (get("device_code"), get("client_id")) else {
        return Some(bad());
    };
    let mut setup = lock(&shared.setup);
    let options = setup.device.options.clone();
    let Some(session) = setup.device.sessions.get_mut(code) else {
        return Some(bad());
    };
    if !session.client_id.eq_ignore_ascii_case(client_id) {
        return Some(bad());
    }
    let now = Instant::now();
    let too_fast = session
        .last_poll
        .is_some_and(|t| (now - t).as_millis() + 500 < u128::from(session.interval) * 1000);
    session.last_poll = Some(now);
    if now_epoch() > session.expires_at {
        setup.device.sessions.remove(code);
        return Some(aadsts(
            400,
            "expired_token",
            70020,
            "The provided device code has expired.",
            false,
            ctx,
        ));
    }
    if too_fast {
        session.interval += 5;
        return Some(aadsts(
            400,
            "slow_down",
            70016,
            "The client is polling too often.",
            false,
            ctx,
        ));
    }
    session.polls += 1;
    if session.polls <= options.approve_after_polls || options.answer == Answer::Ignore {
        return Some(aadsts(
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            false,
            ctx,
        ));
    }
    let Some(session) = setup.device.sessions.remove(code) else {
        return Some(bad());
    };
    if options.answer == Answer::Decline {
        return Some(aadsts(
            400,
            "authorization_declined",
            70000,
            "The user declined the sign-in request.",
            false,
            ctx,
        ));
    }
    drop(setup);
    Some(issue(shared, &session, &options, ctx))
}

/// A delegated Graph token for the signed-in admin.
fn issue(shared: &Shared, session: &Session, options: &DeviceCodeOptions, ctx: &Ctx) -> Response {
    let (tenant_id, user) = {
        let st = lock(&shared.state);
        let holds = |uid: &str, template: &str| {
            st.role_assignments.iter().any(|a| {
                a.principal_id == uid
                    && st.role_definitions.iter().any(|d| {
                        (d.id == a.role_definition_id || d.template_id == a.role_definition_id)
                            && d.template_id == template
                    })
            })
        };
        let user = match &options.user {
            Some(upn) => st.user(upn).cloned(),
            None => st
                .users
                .iter()
                .find(|u| holds(&u.id, role_ids::GLOBAL_ADMINISTRATOR))
                .cloned(),
        };
        let wids: Vec<String> = user
            .as_ref()
            .map(|u| {
                st.role_assignments
                    .iter()
                    .filter(|a| a.principal_id == u.id)
                    .filter_map(|a| {
                        st.role_definitions
                            .iter()
                            .find(|d| {
                                d.id == a.role_definition_id
                                    || d.template_id == a.role_definition_id
                            })
                            .map(|d| d.template_id.clone())
                    })
                    .collect()
            })
            .unwrap_or_default();
        (
            st.tenant_id.clone(),
            user.map(|u| (u.id, u.user_principal_name, wids)),
        )
    };
    let Some((oid, upn, wids)) = user else {
        return aadsts(
            400,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
            false,
            ctx,
        );
    };
    let now = now_epoch();
    let lifetime = shared.settings().options.token_lifetime_secs;
    let claims = json!({
        "aud": GRAPH, "iss": format!("https://sts.windows.net/{tenant_id}/"),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": session.client_id, "idtyp": "user", "oid": oid, "sub": oid,
        "upn": upn, "tid": tenant_id, "scp": session.scopes.join(" "), "wids": wids, "ver": "1.0",
    });
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "EmulatorX5t"});
    let token = format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        shared.random_hex(32)
    );
    lock(&shared.tokens).insert(
        token.clone(),
        IssuedToken {
            audience: Audience::Graph,
            expires_at: now + lifetime,
            roles: session.scopes.clone(),
            wids,
        },
    );
    lock(&shared.setup).delegated.insert(token.clone());
    let body = json!({
        "token_type": "Bearer",
        "scope": session.scopes.iter().map(|s| format!("{GRAPH}/{s}")).collect::<Vec<_>>().join(" "),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    let mut r = Response::new(200)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Cache-Control", "no-store, no-cache");
    r.body = json_body(&body);
    r
}
