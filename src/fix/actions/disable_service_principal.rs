//! `disable_service_principal`: `PATCH /servicePrincipals/{id}` `accountEnabled: false`
//! (<https://learn.microsoft.com/graph/api/serviceprincipal-update>): the app can no longer
//! sign in or get tokens in this tenant, while the object, its grants and its sign-in
//! history stay for forensics. Plan-only unless `fix plan --allow app-changes`; never
//! planned for a Microsoft first-party app (`fix::planner`).

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::CredentialOwner;

pub struct DisableServicePrincipal;

impl Handler for DisableServicePrincipal {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live
            .app_object(CredentialOwner::ServicePrincipal, &target.id)?
            .map(|sp| {
                state([
                    ("app_id", json!(sp.app_id)),
                    (
                        "app_owner_organization_id",
                        json!(sp.app_owner_organization_id.map(|t| t.to_lowercase())),
                    ),
                    ("account_enabled", json!(sp.account_enabled)),
                ])
            }))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| s.get("account_enabled") == Some(&Value::Bool(false)))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let reply = live.graph.write(
            "PATCH",
            &format!("/v1.0/servicePrincipals/{}", target.id),
            Some(&json!({"accountEnabled": false})),
            &ActionKind::DisableServicePrincipal.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "PATCH /v1.0/servicePrincipals/{} {{\"accountEnabled\": false}}",
            target.id
        )
    }

    fn describe_verify(&self) -> &'static str {
        "GET the service principal: accountEnabled is false"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(format!(
            "PATCH /v1.0/servicePrincipals/{} {{\"accountEnabled\": true}}",
            target.id
        ))
    }
}
