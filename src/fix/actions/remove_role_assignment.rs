//! `remove_role_assignment`: DELETE the active directory role assignment (CONTRACT §11
//! W10). The last-Global-Administrator guard runs before it (see `fix::guards`).

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RemoveRoleAssignment;

impl Handler for RemoveRoleAssignment {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.role_assignment(&target.id)?.map(|a| {
            state([
                ("role_definition_id", json!(a.role_definition_id)),
                ("principal_id", json!(a.principal_id)),
            ])
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
            &format!(
                "/v1.0/roleManagement/directory/roleAssignments/{}",
                target.id
            ),
            None,
            &ActionKind::RemoveRoleAssignment.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "DELETE /v1.0/roleManagement/directory/roleAssignments/{}",
            target.id
        )
    }

    fn describe_verify(&self) -> &'static str {
        "list role assignments: the assignment is gone"
    }

    fn rollback(&self, _target: &Target, precondition: &State) -> Option<String> {
        let body = json!({
            "principalId": precondition.get("principal_id").unwrap_or(&Value::Null),
            "roleDefinitionId": precondition.get("role_definition_id").unwrap_or(&Value::Null),
            "directoryScopeId": "/",
        });
        Some(format!(
            "POST /v1.0/roleManagement/directory/roleAssignments {body}"
        ))
    }
}
