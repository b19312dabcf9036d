//! Authentication methods and domain federation: `GET /users/{id}/authentication/methods`
//! (<https://learn.microsoft.com/graph/api/authentication-list-methods>), the per-type
//! lists, gets and deletes (`/users/{id}/authentication/phoneMethods/{id}`, …, e.g.
//! <https://learn.microsoft.com/graph/api/phoneauthenticationmethod-delete>), and
//! `GET /domains/{id}/federationConfiguration`
//! (<https://learn.microsoft.com/graph/api/domain-list-federationconfiguration>). The
//! state comes from the snapshot's `auth_methods` and `domains`; every user also has the
//! password method Graph always lists. Deleting a user's default method while others
//! remain is refused as the service does ("Cannot delete default method with other
//! methods configured").

use base64::Engine as _;
use serde_json::{json, Value};

use crate::graph::{resolve_user_id, GraphReq};
use crate::http::Response;
use crate::odata::Query;
use crate::respond::{bad_request, forbidden, graph_json, graph_no_content, not_found, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::state::TenantState;

const READ: &[&str] = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const WRITE: &[&str] = &["UserAuthenticationMethod.ReadWrite.All"];
const FEDERATION_READ: &[&str] = &[
    "Domain.Read.All",
    "Domain-InternalFederation.Read.All",
    "Domain.ReadWrite.All",
    "Domain-InternalFederation.ReadWrite.All",
];
/// The password method's well-known id (the same for every user).
const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

/// One registered method (snake_case type names as in the snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthMethodState {
    pub user_id: String,
    pub method_id: String,
    pub method_type: String,
    /// Registration time (seconds since 1970), moved by as much as the emulator started
    /// after the snapshot's `collected_at`: a method "registered two days before the
    /// snapshot" is two days old for a live collection too (the review window is judged
    /// against the collection time).
    pub created_epoch: Option<i64>,
    pub phone_number: Option<String>,
    pub phone_type: Option<String>,
    pub display_name: Option<String>,
    pub email_address: Option<String>,
    /// The user's default MFA method: it cannot be deleted while others remain.
    pub is_default: bool,
}

/// A federated domain's `internalDomainFederation`.
#[derive(Debug, Clone, PartialEq)]
pub struct FederationState {
    pub domain: String,
    pub display_name: Option<String>,
    pub issuer_uri: Option<String>,
    pub passive_sign_in_uri: Option<String>,
    pub preferred_authentication_protocol: Option<String>,
    pub federated_idp_mfa_behavior: Option<String>,
    /// `YYYYMMDDHHMMSS` notAfter of the stand-in signing certificate.
    pub not_after: String,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The snapshot's `auth_methods`, with the default method of each user derived from its
/// registration report entry (`default_method`: `sms`/`voiceMobile` → the mobile phone,
/// `push`/`oath` → the Authenticator app).
pub fn methods_from_snapshot(snap: &Value) -> Vec<AuthMethodState> {
    let default_of = |user_id: &str| -> Option<String> {
        snap.get("users")?
            .as_array()?
            .iter()
            .find(|u| u.get("id").and_then(Value::as_str) == Some(user_id))?
            .get("mfa")?
            .get("default_method")?
            .as_str()
            .map(str::to_owned)
    };
    let collected = snap
        .get("collection")
        .and_then(|c| c.get("collected_at"))
        .and_then(Value::as_str)
        .and_then(epoch);
    let started = crate::util::now_epoch() as i64;
    let mut out: Vec<AuthMethodState> = snap
        .get("auth_methods")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    Some(AuthMethodState {
                        user_id: text(m, "user_id")?,
                        method_id: text(m, "method_id")?,
                        method_type: text(m, "method_type")?,
                        created_epoch: text(m, "created_date_time")
                            .and_then(|c| Some(started - (collected? - epoch(&c)?))),
                        phone_number: text(m, "phone_number"),
                        phone_type: text(m, "phone_type"),
                        display_name: text(m, "display_name"),
                        email_address: text(m, "email_address"),
                        is_default: false,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let users: Vec<String> = out.iter().map(|m| m.user_id.clone()).collect();
    for user in users {
        let wanted = match default_of(&user).as_deref() {
            Some("sms" | "voiceMobile") => "phone",
            Some("push" | "oath" | "microsoftAuthenticatorPush") => "microsoft_authenticator",
            _ => continue,
        };
        if out.iter().any(|m| m.user_id == user && m.is_default) {
            continue;
        }
        if let Some(m) = out.iter_mut().find(|m| {
            m.user_id == user
                && m.method_type == wanted
                && m.phone_type.as_deref().is_none_or(|t| t == "mobile")
        }) {
            m.is_default = true;
        }
    }
    out
}

/// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SS…` (UTC).
fn epoch(ts: &str) -> Option<i64> {
    let n = |a: usize, b: usize| ts.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The snapshot's federated `domains`.
pub fn federations_from_snapshot(snap: &Value) -> Vec<FederationState> {
    snap.get("domains")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    let f = d.get("federation")?;
                    Some(FederationState {
                        domain: text(d, "id")?.to_ascii_lowercase(),
                        display_name: text(f, "display_name"),
                        issuer_uri: text(f, "issuer_uri"),
                        passive_sign_in_uri: text(f, "passive_sign_in_uri"),
                        preferred_authentication_protocol: text(
                            f,
                            "preferred_authentication_protocol",
                        ),
                        federated_idp_mfa_behavior: text(f, "federated_idp_mfa_behavior"),
                        not_after: text(f, "signing_certificate_not_after")
                            .map(|t| t.chars().filter(char::is_ascii_digit).take(14).collect())
                            .unwrap_or_else(|| "20301231235959".into()),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `authenticationType` of a domain on `/domains`.
pub fn authentication_type(st: &TenantState, domain: &str) -> &'static str {
    if st
        .federations
        .iter()
        .any(|f| f.domain.eq_ignore_ascii_case(domain))
    {
        "Federated"
    } else {
        "Managed"
    }
}

/// A stand-in X.509 signing certificate: DER with the fields up to the validity (what a
/// client reads for the notAfter and fingerprints), base64 as Graph sends it.
pub fn stand_in_certificate(not_after: &str) -> String {
    fn wrap(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, body.len() as u8];
        v.extend_from_slice(body);
        v
    }
    let validity = [
        wrap(0x17, b"250101000000Z"),
        wrap(0x18, format!("{not_after}Z").as_bytes()),
    ]
    .concat();
    let tbs = [
        wrap(0xa0, &wrap(0x02, &[2])),
        wrap(0x02, &[1]),
        wrap(0x30, &[]),
        wrap(0x30, &[]),
        wrap(0x30, &validity),
    ]
    .concat();
    base64::engine::general_purpose::STANDARD.encode(wrap(0x30, &wrap(0x30, &tbs)))
}

/// The Graph segment of a type (`phoneMethods`), and back.
const SEGMENTS: [(&str, &str, &str); 8] = [
    ("phone", "phonemethods", "phoneAuthenticationMethod"),
    (
        "microsoft_authenticator",
        "microsoftauthenticatormethods",
        "microsoftAuthenticatorAuthenticationMethod",
    ),
    ("fido2", "fido2methods", "fido2AuthenticationMethod"),
    (
        "temporary_access_pass",
        "temporaryaccesspassmethods",
        "temporaryAccessPassAuthenticationMethod",
    ),
    ("email", "emailmethods", "emailAuthenticationMethod"),
    (
        "software_oath",
        "softwareoathmethods",
        "softwareOathAuthenticationMethod",
    ),
    (
        "windows_hello_for_business",
        "windowshelloforbusinessmethods",
        "windowsHelloForBusinessAuthenticationMethod",
    ),
    (
        "platform_credential",
        "platformcredentialmethods",
        "platformCredentialAuthenticationMethod",
    ),
];

fn graph_type(method_type: &str) -> String {
    SEGMENTS
        .iter()
        .find(|(t, _, _)| *t == method_type)
        .map(|(_, _, g)| (*g).to_owned())
        .unwrap_or_else(|| format!("{method_type}AuthenticationMethod"))
}

fn render(m: &AuthMethodState) -> Value {
    let mut v = json!({
        "@odata.type": format!("#microsoft.graph.{}", graph_type(&m.method_type)),
        "id": m.method_id,
    });
    match m.method_type.as_str() {
        "phone" => {
            v["phoneNumber"] = json!(m.phone_number);
            v["phoneType"] = json!(m.phone_type.as_deref().unwrap_or("mobile"));
            v["smsSignInState"] = json!("notAllowedByPolicy");
        }
        "email" => v["emailAddress"] = json!(m.email_address),
        _ => {
            v["displayName"] = json!(m.display_name);
            v["createdDateTime"] = json!(m
                .created_epoch
                .map(|t| crate::util::iso_utc(t.max(0) as u64)));
        }
    }
    v
}

/// The password method Graph lists for every user (its id is the same everywhere).
fn password() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
        "id": PASSWORD_METHOD_ID,
        "password": null,
        "createdDateTime": "2024-01-15T09:00:00Z",
    })
}

/// Properties of `authenticationMethod` and its subtypes a `$select` may name.
const SELECTABLE: [&str; 10] = [
    "id",
    "createdDateTime",
    "phoneNumber",
    "phoneType",
    "smsSignInState",
    "displayName",
    "emailAddress",
    "deviceTag",
    "phoneAppVersion",
    "model",
];

fn check_select(q: &Query, ctx: &Ctx) -> Result<(), Response> {
    match q
        .select()
        .into_iter()
        .find(|p| !SELECTABLE.iter().any(|k| k.eq_ignore_ascii_case(p)))
    {
        Some(p) => Err(bad_request(
            "BadRequest",
            &format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.authenticationMethod'."
            ),
            ctx,
        )),
        None => Ok(()),
    }
}

/// `/users/{id}/authentication/methods`, `/{type}Methods`, `/{type}Methods/{id}`.
pub fn handle(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    user: &str,
    segment: &str,
    method_id: Option<&str>,
    ctx: &Ctx,
) -> Result<Response, Response> {
    let q = Query::parse(req.query);
    let write = req.method == "DELETE";
    if !caller.has_any(if write { WRITE } else { READ }) {
        return Err(forbidden(ctx));
    }
    check_select(&q, ctx)?;
    let kind = if segment == "methods" {
        None
    } else {
        Some(
            SEGMENTS
                .iter()
                .find(|(_, s, _)| *s == segment)
                .map(|(t, _, _)| *t)
                .ok_or_else(|| {
                    bad_request(
                        "BadRequest",
                        &format!("Resource not found for the segment '{segment}'."),
                        ctx,
                    )
                })?,
        )
    };
    let mut st = lock(&shared.state);
    let uid = resolve_user_id(&st, user, ctx)?;
    let of_user = |m: &&AuthMethodState| {
        m.user_id.eq_ignore_ascii_case(&uid) && kind.is_none_or(|k| m.method_type == k)
    };
    match (req.method, method_id) {
        ("GET", None) => {
            let mut items: Vec<Value> = Vec::new();
            if kind.is_none() {
                items.push(password());
            }
            items.extend(st.auth_methods.iter().filter(of_user).map(render));
            let context = format!(
                "{}/{}/$metadata#users('{uid}')/authentication/{segment}",
                ctx.base_url, req.version
            );
            Ok(graph_json(
                200,
                &json!({"@odata.context": context, "value": items}),
                ctx,
            ))
        }
        ("GET", Some(id)) => {
            let m = st
                .auth_methods
                .iter()
                .filter(of_user)
                .find(|m| m.method_id.eq_ignore_ascii_case(id))
                .ok_or_else(|| not_found(id, ctx))?;
            Ok(graph_json(200, &render(m), ctx))
        }
        ("DELETE", Some(id)) if kind.is_some() => {
            let pos = st
                .auth_methods
                .iter()
                .position(|m| of_user(&m) && m.method_id.eq_ignore_ascii_case(id))
                .ok_or_else(|| not_found(id, ctx))?;
            let others = st
                .auth_methods
                .iter()
                .filter(|m| m.user_id.eq_ignore_ascii_case(&uid))
                .count()
                > 1;
            if st.auth_methods[pos].is_default && others {
                return Err(bad_request(
                    "badRequest",
                    "Cannot delete default method with other methods configured. Please change default method before deletion.",
                    ctx,
                ));
            }
            st.auth_methods.remove(pos);
            Ok(graph_no_content(ctx))
        }
        _ => Err(bad_request(
            "BadRequest",
            &format!(
                "The method {} is not supported on this resource.",
                req.method
            ),
            ctx,
        )),
    }
}

/// `GET /domains/{id}/federationConfiguration`: one item for a federated domain, none for
/// a managed one, 404 for a domain the tenant does not have.
pub fn federation_configuration(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    domain: &str,
    ctx: &Ctx,
) -> Result<Response, Response> {
    if !caller.has_any(FEDERATION_READ) {
        return Err(forbidden(ctx));
    }
    let st = lock(&shared.state);
    if !st
        .domains
        .iter()
        .any(|d| d.name.eq_ignore_ascii_case(domain))
    {
        return Err(not_found(domain, ctx));
    }
    let items: Vec<Value> = st
        .federations
        .iter()
        .filter(|f| f.domain.eq_ignore_ascii_case(domain))
        .map(|f| {
            json!({
                "@odata.type": "#microsoft.graph.internalDomainFederation",
                "id": crate::util::stable_guid(&format!("federation:{}", f.domain)),
                "displayName": f.display_name,
                "issuerUri": f.issuer_uri,
                "metadataExchangeUri": null,
                "signingCertificate": stand_in_certificate(&f.not_after),
                "passiveSignInUri": f.passive_sign_in_uri,
                "signOutUri": f.passive_sign_in_uri,
                "preferredAuthenticationProtocol": f.preferred_authentication_protocol,
                "federatedIdpMfaBehavior": f.federated_idp_mfa_behavior,
                "isSignedAuthenticationRequestRequired": false,
                "promptLoginBehavior": "nativeSupport",
            })
        })
        .collect();
    let context = format!(
        "{}/{}/$metadata#domains('{domain}')/federationConfiguration",
        ctx.base_url, req.version
    );
    Ok(graph_json(
        200,
        &json!({"@odata.context": context, "value": items}),
        ctx,
    ))
}
