//! Source `auth_methods`: the authentication methods registered to users, from
//! `GET /users/{id}/authentication/methods`
//! (<https://learn.microsoft.com/graph/api/authentication-list-methods>) — one call per
//! user, sent through `$batch` 20 to a request. By default only users holding a
//! privileged directory role (active, through a role-assignable group, or PIM-eligible)
//! are read, which is why this source runs after `roles` and `role_eligibility`;
//! `collect --deep` reads every user. The scope is stated in the source's reason, so a
//! rule and a reader know which users the duplicate-number check covered. Any user whose
//! methods could not be read makes the source `error`; a partial answer is never `ok`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{s, time, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{AuthMethod, PrincipalType, SourceId, SourceState};

const ENDPOINT: &str = "GET /v1.0/users/{id}/authentication/methods";
const PERMISSION: &str = "UserAuthenticationMethod.Read.All";

pub fn collect(ctx: &mut Ctx<'_>) {
    let ok = |id: SourceId| {
        ctx.snapshot
            .sources
            .get(&id)
            .is_some_and(|st| st.status == SourceState::Ok)
    };
    if !ok(SourceId::Users) || (!ctx.deep && !ok(SourceId::Roles)) {
        ctx.set(
            SourceId::AuthMethods,
            SourceState::Error,
            "the user list or the role assignments were not collected, so the users whose authentication methods to read are unknown",
            0,
        );
        return;
    }
    let wanted: Vec<(String, String)> = if ctx.deep {
        ctx.snapshot
            .users
            .iter()
            .map(|u| (u.id.clone(), u.user_principal_name.clone()))
            .collect()
    } else {
        let privileged = privileged_user_ids(&ctx.snapshot);
        ctx.snapshot
            .users
            .iter()
            .filter(|u| privileged.contains(&u.id))
            .map(|u| (u.id.clone(), u.user_principal_name.clone()))
            .collect()
    };
    let paths: Vec<String> = wanted
        .iter()
        .map(|(id, _)| format!("/users/{id}/authentication/methods"))
        .collect();
    let results = ctx.graph.get_each("v1.0", &paths);
    let mut methods = Vec::new();
    let mut failed = 0;
    let mut first: Option<ApiError> = None;
    for ((id, upn), result) in wanted.iter().zip(results) {
        let body = result.and_then(|body| rest_of_pages(ctx, id, body));
        match body {
            Ok(items) => methods.extend(items.iter().filter_map(|m| map_method(id, upn, m))),
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    let items = methods.len() as u64;
    ctx.snapshot.auth_methods = methods;
    if let Some(e) = first {
        let reason = format!(
            "{ENDPOINT} (application permission {PERMISSION}) failed for {failed} of {} users; first: {e}",
            wanted.len()
        );
        ctx.set(SourceId::AuthMethods, SourceState::Error, &reason, items);
        return;
    }
    let scope = if ctx.deep {
        format!("all {} users (--deep)", wanted.len())
    } else {
        format!(
            "privileged users only ({} of {}); `collect --deep` reads every user",
            wanted.len(),
            ctx.snapshot.users.len()
        )
    };
    ctx.set(SourceId::AuthMethods, SourceState::Ok, &scope, items);
}

/// The items of a user's method list, following `@odata.nextLink` when Graph pages it
/// (it does not for the few methods a user has, but nothing promises that).
fn rest_of_pages(
    ctx: &Ctx<'_>,
    user_id: &str,
    body: Value,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    if body.get("@odata.nextLink").is_some() {
        return ctx
            .graph
            .get_all(&format!("/v1.0/users/{user_id}/authentication/methods"));
    }
    match body.get("value").and_then(Value::as_array) {
        Some(items) => Ok(items
            .iter()
            .filter_map(|v| v.as_object().cloned())
            .collect()),
        None => Err(ApiError::BadResponse {
            endpoint: format!("GET /v1.0/users/{user_id}/authentication/methods"),
            message: "collection without `value`".into(),
        }),
    }
}

/// Users holding a privileged role: directly, as a member of a role-assignable group,
/// or eligible through PIM.
pub(crate) fn privileged_user_ids(snapshot: &crate::snapshot::model::Snapshot) -> BTreeSet<String> {
    let privileged: BTreeSet<&str> = snapshot
        .roles
        .definitions
        .iter()
        .filter(|d| d.is_privileged)
        .map(|d| d.id.as_str())
        .collect();
    let mut out = BTreeSet::new();
    for a in snapshot
        .roles
        .assignments
        .iter()
        .chain(&snapshot.roles.eligible_assignments)
        .filter(|a| privileged.contains(a.role_definition_id.as_str()))
    {
        match a.principal_type {
            PrincipalType::User => {
                out.insert(a.principal_id.clone());
            }
            PrincipalType::Group => out.extend(a.group_member_ids.iter().cloned()),
            PrincipalType::ServicePrincipal => {}
        }
    }
    out
}

/// `#microsoft.graph.phoneAuthenticationMethod` → `phone`; `None` for password methods.
pub(crate) fn method_type(odata_type: &str) -> Option<String> {
    let name = odata_type
        .trim_start_matches("#microsoft.graph.")
        .trim_end_matches("AuthenticationMethod");
    Some(
        match name {
            "password" => return None,
            "phone" => "phone",
            "microsoftAuthenticator" => "microsoft_authenticator",
            "fido2" => "fido2",
            "temporaryAccessPass" => "temporary_access_pass",
            "email" => "email",
            "softwareOath" => "software_oath",
            "windowsHelloForBusiness" => "windows_hello_for_business",
            "platformCredential" => "platform_credential",
            other => other,
        }
        .to_owned(),
    )
}

pub(crate) fn map_method(user_id: &str, upn: &str, m: &Map<String, Value>) -> Option<AuthMethod> {
    let method_id = s(m, "id")?;
    let method_type = method_type(&s(m, "@odata.type")?)?;
    Some(AuthMethod {
        id: format!("{user_id}/{method_id}"),
        user_id: user_id.to_owned(),
        user_principal_name: upn.to_owned(),
        method_id,
        method_type,
        created_date_time: time(m.get("createdDateTime")),
        phone_number: s(m, "phoneNumber"),
        phone_type: s(m, "phoneType"),
        display_name: s(m, "displayName").or_else(|| s(m, "model")),
        email_address: s(m, "emailAddress"),
    })
}

/// The Graph segment of a method type's per-type endpoint (`phoneMethods`); `None` for
/// types Graph cannot delete through one (password) or this version does not know.
pub(crate) fn method_segment(method_type: &str) -> Option<&'static str> {
    Some(match method_type {
        "phone" => "phoneMethods",
        "microsoft_authenticator" => "microsoftAuthenticatorMethods",
        "fido2" => "fido2Methods",
        "temporary_access_pass" => "temporaryAccessPassMethods",
        "email" => "emailMethods",
        "software_oath" => "softwareOathMethods",
        "windows_hello_for_business" => "windowsHelloForBusinessMethods",
        "platform_credential" => "platformCredentialMethods",
        _ => return None,
    })
}

/// One user's methods, live (fix mode's read and read-back).
pub(crate) fn user_methods(
    graph: &crate::graph::GraphClient<'_>,
    user_id: &str,
    upn: &str,
) -> Result<Vec<AuthMethod>, ApiError> {
    let items = graph.get_all(&format!("/v1.0/users/{user_id}/authentication/methods"))?;
    Ok(items
        .iter()
        .filter_map(|m| map_method(user_id, upn, m))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object;
    use serde_json::json;

    #[test]
    fn methods_map_from_the_documented_shapes_and_passwords_are_dropped() {
        // Shapes from https://learn.microsoft.com/graph/api/authentication-list-methods.
        let phone = test_object(json!({
            "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
            "id": "3179e48a-750b-4051-897c-87b9720928f7",
            "phoneNumber": "+31 612345678",
            "phoneType": "mobile",
            "smsSignInState": "notAllowedByPolicy"
        }));
        let m = map_method("u1", "a@contoso.com", &phone).unwrap();
        assert_eq!(m.id, "u1/3179e48a-750b-4051-897c-87b9720928f7");
        assert_eq!(m.method_type, "phone");
        assert_eq!(m.phone_number.as_deref(), Some("+31 612345678"));
        assert_eq!(m.created_date_time, None);
        let fido = test_object(json!({
            "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
            "id": "-2_GRUg2-HYz6_1YG4YRAQ2",
            "displayName": "Red key",
            "createdDateTime": "2020-08-10T06:44:09Z",
            "model": "NFC key"
        }));
        let m = map_method("u1", "a@contoso.com", &fido).unwrap();
        assert_eq!(m.method_type, "fido2");
        assert_eq!(m.display_name.as_deref(), Some("Red key"));
        assert!(m.created_date_time.is_some());
        let password = test_object(json!({
            "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
            "id": "28c10230-6103-485e-b985-444c60001490"
        }));
        assert_eq!(map_method("u1", "a", &password), None);
        assert_eq!(
            method_type("#microsoft.graph.qrCodePinAuthenticationMethod").as_deref(),
            Some("qrCodePin")
        );
    }
}
