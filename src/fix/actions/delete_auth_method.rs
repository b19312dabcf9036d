//! `delete_auth_method`: DELETE one authentication method of a user through its per-type
//! endpoint (`/users/{id}/authentication/phoneMethods/{id}`,
//! <https://learn.microsoft.com/graph/api/phoneauthenticationmethod-delete>; likewise
//! `microsoftAuthenticatorMethods`, `fido2Methods`, `temporaryAccessPassMethods`,
//! `emailMethods`, `softwareOathMethods`, `windowsHelloForBusinessMethods`,
//! `platformCredentialMethods`). Guard: never the user's last MFA method — the write
//! re-lists the user's methods and refuses when no other MFA method would remain (the
//! planner refuses such a target up front too). The evidence keeps the method's metadata
//! (type, phone number, device name, registration time), never a secret. A deleted method
//! cannot be restored: the user (or an admin) registers it again.

use serde_json::json;

use super::{state, Handler, State, WriteReceipt, DEFINITION};
use crate::collect::auth_methods::{method_segment, user_methods};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::AuthMethod;

pub struct DeleteAuthMethod;

/// MFA-capable method types (the rule's `lib.strong_method_types`).
pub const STRONG: [&str; 6] = [
    "phone",
    "microsoft_authenticator",
    "fido2",
    "software_oath",
    "windows_hello_for_business",
    "platform_credential",
];

fn user_id(target: &Target) -> &str {
    target.user_id.as_deref().unwrap_or_default()
}

fn method_id(target: &Target) -> &str {
    target.method_id.as_deref().unwrap_or_default()
}

/// What identifies the method (the precondition: a different number or device under the
/// same id is not what the plan saw) and, under [`DEFINITION`], the whole metadata as
/// evidence (registration time included, which is not compared).
fn method_state(m: &AuthMethod) -> State {
    let mut st = precondition(m);
    st.insert(
        DEFINITION.to_owned(),
        serde_json::to_value(m).unwrap_or(serde_json::Value::Null),
    );
    st
}

/// The plan's precondition for a method in the snapshot.
pub fn precondition(m: &AuthMethod) -> State {
    state([
        ("method_type", json!(m.method_type)),
        ("phone_number", json!(m.phone_number)),
        ("display_name", json!(m.display_name)),
    ])
}

impl Handler for DeleteAuthMethod {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let upn = target.user_principal_name.as_deref().unwrap_or_default();
        let methods = user_methods(&live.graph, user_id(target), upn)?;
        Ok(methods
            .iter()
            .find(|m| m.method_id.eq_ignore_ascii_case(method_id(target)))
            .map(method_state))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_none()
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let upn = target.user_principal_name.as_deref().unwrap_or_default();
        let methods = user_methods(&live.graph, user_id(target), upn)?;
        let Some(method) = methods
            .iter()
            .find(|m| m.method_id.eq_ignore_ascii_case(method_id(target)))
        else {
            return Ok(WriteReceipt::default());
        };
        let others = methods
            .iter()
            .filter(|m| !m.method_id.eq_ignore_ascii_case(&method.method_id))
            .filter(|m| STRONG.contains(&m.method_type.as_str()))
            .count();
        if STRONG.contains(&method.method_type.as_str()) && others == 0 {
            return Err(ApiError::BadResponse {
                endpoint: describe(target, &method.method_type),
                message: format!(
                    "refused: this is the last MFA method of {upn}; deleting it would leave the account without MFA. Register another method for the user (e.g. a Temporary Access Pass) first, then plan again"
                ),
            });
        }
        let Some(segment) = method_segment(&method.method_type) else {
            return Err(ApiError::BadResponse {
                endpoint: describe(target, &method.method_type),
                message: format!(
                    "refused: m365guard cannot delete a `{}` method through Graph",
                    method.method_type
                ),
            });
        };
        let path = format!(
            "/v1.0/users/{}/authentication/{segment}/{}",
            user_id(target),
            method.method_id
        );
        let reply = live.graph.write(
            "DELETE",
            &path,
            None,
            &super::ActionKind::DeleteAuthMethod.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        describe(target, target.method_type.as_deref().unwrap_or("{type}"))
    }

    fn describe_verify(&self) -> &'static str {
        "list the user's authentication methods: the method is gone"
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        None
    }
}

fn describe(target: &Target, method_type: &str) -> String {
    let segment = method_segment(method_type).unwrap_or("{type}Methods");
    format!(
        "DELETE /v1.0/users/{}/authentication/{segment}/{} (cannot be undone: the method must be registered again)",
        user_id(target),
        method_id(target)
    )
}

/// Plan the deletion of the method a finding names. Refused (a `not_planned` reason):
/// a finding whose only condition is "SMS is the only MFA method" (deleting it would not
/// help: the user needs a stronger method first), and a method that is the user's last
/// MFA method once the deletions already planned for that user are counted.
pub fn plan(
    builder: &mut crate::fix::planner::PlanBuilder,
    snapshot: &crate::snapshot::model::Snapshot,
    finding: &crate::findings::Finding,
    reason: &str,
    fixes: Vec<crate::fix::plan::FindingRef>,
) -> Result<(), String> {
    let method = snapshot
        .auth_methods
        .iter()
        .find(|m| m.id == finding.resource.id)
        .ok_or_else(|| {
            format!(
                "authentication method {} is not in the snapshot",
                finding.resource.id
            )
        })?;
    let conditions: Vec<&str> = finding
        .details
        .get("conditions")
        .and_then(|c| c.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if conditions == ["sms_only"] {
        return Err(format!(
            "no automatic fix: SMS/voice is the only MFA method of {}; register a phishing-resistant method for the user first, then remove the phone",
            method.user_principal_name
        ));
    }
    plan_method(
        builder,
        snapshot,
        method,
        &finding.resource.name,
        reason,
        fixes,
    )
}

/// Plan deleting `method` (also `respond`'s step for methods registered in the compromise
/// window), unless it is the user's last MFA method once the deletions already planned for
/// that user are counted: then the reason it is refused.
pub fn plan_method(
    builder: &mut crate::fix::planner::PlanBuilder,
    snapshot: &crate::snapshot::model::Snapshot,
    method: &AuthMethod,
    name: &str,
    reason: &str,
    fixes: Vec<crate::fix::plan::FindingRef>,
) -> Result<(), String> {
    let prefix = format!("{}/", method.user_id.to_lowercase());
    let planned: Vec<String> = builder
        .keys()
        .into_iter()
        .filter(|(kind, _, id)| {
            *kind == super::ActionKind::DeleteAuthMethod && id.starts_with(&prefix)
        })
        .map(|(_, _, id)| id)
        .collect();
    let remaining = snapshot
        .auth_methods
        .iter()
        .filter(|m| m.user_id == method.user_id && m.id != method.id)
        .filter(|m| !planned.contains(&m.id.to_lowercase()))
        .filter(|m| STRONG.contains(&m.method_type.as_str()))
        .count();
    if STRONG.contains(&method.method_type.as_str()) && remaining == 0 {
        return Err(format!(
            "guard: last MFA method of {} (once the other planned deletions are done); register another method for the user (e.g. a Temporary Access Pass), collect again and re-plan",
            method.user_principal_name
        ));
    }
    let target = Target {
        user_id: Some(method.user_id.clone()),
        user_principal_name: Some(method.user_principal_name.clone()),
        method_id: Some(method.method_id.clone()),
        method_type: Some(method.method_type.clone()),
        ..Target::new(crate::findings::ResourceKind::AuthMethod, &method.id, name)
    };
    builder.add(
        super::ActionKind::DeleteAuthMethod,
        target,
        precondition(method),
        reason,
        fixes,
        vec![],
    );
    Ok(())
}
