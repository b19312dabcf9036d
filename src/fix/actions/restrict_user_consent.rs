//! `restrict_user_consent`: take every `ManagePermissionGrantsForSelf.*` policy off the
//! default user role, `PATCH /policies/authorizationPolicy`
//! `{"defaultUserRolePermissions": {"permissionGrantPoliciesAssigned": [...]}}`
//! (<https://learn.microsoft.com/graph/api/authorizationpolicy-update>; "Do not allow user
//! consent" in <https://learn.microsoft.com/entra/identity/enterprise-apps/configure-user-consent>).
//! Other entries (group owners' consent, `ManagePermissionGrantsForOwnedResource.*`) are
//! kept. Users then ask for apps through the admin consent workflow.

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RestrictUserConsent;

/// A self-consent policy: what this action removes.
pub fn is_self_consent(policy: &str) -> bool {
    policy
        .to_ascii_lowercase()
        .starts_with("managepermissiongrantsforself.")
}

/// The state: the assigned policies, sorted.
pub fn consent_state(assigned: &[String]) -> State {
    let mut list = assigned.to_vec();
    list.sort();
    state([("permission_grant_policies_assigned", json!(list))])
}

impl Handler for RestrictUserConsent {
    fn read(&self, live: &Live<'_>, _target: &Target) -> Result<Option<State>, ApiError> {
        Ok(Some(consent_state(
            &live.permission_grant_policies_assigned()?,
        )))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state
            .and_then(|s| s.get("permission_grant_policies_assigned"))
            .and_then(Value::as_array)
            .is_some_and(|list| !list.iter().filter_map(Value::as_str).any(is_self_consent))
    }

    fn write(
        &self,
        live: &Live<'_>,
        _target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let kept: Vec<String> = live
            .permission_grant_policies_assigned()?
            .into_iter()
            .filter(|p| !is_self_consent(p))
            .collect();
        let reply = live.graph.write(
            "PATCH",
            "/v1.0/policies/authorizationPolicy",
            Some(&json!({"defaultUserRolePermissions": {"permissionGrantPoliciesAssigned": kept}})),
            &ActionKind::RestrictUserConsent.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, _target: &Target) -> String {
        "PATCH /v1.0/policies/authorizationPolicy: remove every ManagePermissionGrantsForSelf.* entry from defaultUserRolePermissions.permissionGrantPoliciesAssigned".into()
    }

    fn describe_verify(&self) -> &'static str {
        "GET the authorization policy: no ManagePermissionGrantsForSelf.* entry is assigned"
    }

    fn rollback(&self, _target: &Target, precondition: &State) -> Option<String> {
        let before = precondition
            .get("permission_grant_policies_assigned")
            .cloned()
            .unwrap_or(Value::Null);
        Some(format!(
            "PATCH /v1.0/policies/authorizationPolicy {}",
            json!({"defaultUserRolePermissions": {"permissionGrantPoliciesAssigned": before}})
        ))
    }
}
