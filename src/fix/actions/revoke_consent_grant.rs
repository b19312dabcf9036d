//! `revoke_consent_grant`: `DELETE /oauth2PermissionGrants/{id}`
//! (<https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete>): the client app
//! gets no new tokens for the grant's delegated permissions (tokens already issued live
//! until they expire). The whole grant is kept as evidence; it can be recreated with
//! `POST /oauth2PermissionGrants`.

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::fix::live::{GraphGrant, Live};
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RevokeConsentGrant;

/// Scopes in a stable form (Graph keeps them as one space-separated string).
pub fn normalise_scope<'a>(scopes: impl IntoIterator<Item = &'a str>) -> String {
    let mut list: Vec<&str> = scopes.into_iter().flat_map(str::split_whitespace).collect();
    list.sort_unstable();
    list.dedup();
    list.join(" ")
}

/// The precondition and live state of a grant, in one vocabulary.
pub fn grant_state(
    client_id: &str,
    consent_type: &str,
    principal_id: Option<&str>,
    resource_id: &str,
    scope: &str,
) -> State {
    state([
        ("client_id", json!(client_id)),
        ("consent_type", json!(consent_type)),
        ("principal_id", json!(principal_id)),
        ("resource_id", json!(resource_id)),
        ("scope", json!(normalise_scope([scope]))),
    ])
}

impl Handler for RevokeConsentGrant {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.consent_grant(&target.id)?.map(|g: GraphGrant| {
            let mut s = grant_state(
                g.client_id.as_deref().unwrap_or_default(),
                g.consent_type.as_deref().unwrap_or_default(),
                g.principal_id.as_deref(),
                g.resource_id.as_deref().unwrap_or_default(),
                g.scope.as_deref().unwrap_or_default(),
            );
            s.insert(
                DEFINITION.to_owned(),
                serde_json::to_value(&g).unwrap_or(Value::Null),
            );
            s
        }))
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
        let reply = live.graph.write(
            "DELETE",
            &format!("/v1.0/oauth2PermissionGrants/{}", target.id),
            None,
            &ActionKind::RevokeConsentGrant.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!("DELETE /v1.0/oauth2PermissionGrants/{}", target.id)
    }

    fn describe_verify(&self) -> &'static str {
        "GET the grant: it no longer exists"
    }

    fn rollback(&self, _target: &Target, precondition: &State) -> Option<String> {
        let get = |k: &str| precondition.get(k).cloned().unwrap_or(Value::Null);
        let body = json!({
            "clientId": get("client_id"),
            "consentType": get("consent_type"),
            "principalId": get("principal_id"),
            "resourceId": get("resource_id"),
            "scope": get("scope"),
        });
        Some(format!("POST /v1.0/oauth2PermissionGrants {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_compare_in_any_order_and_spacing() {
        assert_eq!(
            normalise_scope(["offline_access  Mail.ReadWrite "]),
            normalise_scope(["Mail.ReadWrite", "offline_access"])
        );
    }
}
