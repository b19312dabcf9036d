//! `remove_app_role_assignment`: revoke an application permission from the resource side,
//! `DELETE /servicePrincipals/{resource}/appRoleAssignedTo/{id}`
//! (<https://learn.microsoft.com/graph/api/serviceprincipal-delete-approleassignedto>).
//! The assignment is kept as evidence; it can be re-granted with a POST to the same list.

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RemoveAppRoleAssignment;

fn resource(target: &Target) -> &str {
    target.parent_id.as_deref().unwrap_or_default()
}

impl Handler for RemoveAppRoleAssignment {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live
            .app_role_assignment(resource(target), &target.id)?
            .map(|a| {
                let mut s = state([
                    ("principal_id", json!(a.principal_id)),
                    ("app_role_id", json!(a.app_role_id)),
                ]);
                s.insert(
                    DEFINITION.to_owned(),
                    serde_json::to_value(&a).unwrap_or(Value::Null),
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
            &self.path(target),
            None,
            &ActionKind::RemoveAppRoleAssignment.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!("DELETE {}", self.path(target))
    }

    fn describe_verify(&self) -> &'static str {
        "list the resource's appRoleAssignedTo: the assignment is gone"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let body = json!({
            "principalId": precondition.get("principal_id").unwrap_or(&Value::Null),
            "resourceId": resource(target),
            "appRoleId": precondition.get("app_role_id").unwrap_or(&Value::Null),
        });
        Some(format!(
            "POST /v1.0/servicePrincipals/{}/appRoleAssignedTo {body}",
            resource(target)
        ))
    }
}

impl RemoveAppRoleAssignment {
    fn path(&self, target: &Target) -> String {
        format!(
            "/v1.0/servicePrincipals/{}/appRoleAssignedTo/{}",
            resource(target),
            target.id
        )
    }
}
