//! `remove_role_assignment`: remove an active directory role assignment (CONTRACT §11
//! W10). The last-Global-Administrator guard runs before it (see `fix::guards`).
//!
//! A PIM-managed assignment (one with a direct `roleAssignmentScheduleInstance`) is removed
//! the way PIM removes it, `POST roleAssignmentScheduleRequests` with `adminRemove`; a plain
//! one, or any in a tenant without PIM, with `DELETE roleAssignments/{id}`
//! (<https://learn.microsoft.com/graph/api/unifiedroleassignment-delete>). Which is which and
//! why: [`super::pim`]. An eligible (PIM) assignment of the same role is a separate target:
//! `remove_role_eligibility`.

use serde_json::{json, Value};

use super::pim::{self, Active};
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
        let permission = ActionKind::RemoveRoleAssignment.needs().summary();
        if let Active::Managed(schedule) = pim::active(live, &target.id)? {
            return pim::admin_remove(live, pim::ASSIGNMENT_REQUESTS, &schedule, &permission);
        }
        let reply = live.graph.write(
            "DELETE",
            &format!(
                "/v1.0/roleManagement/directory/roleAssignments/{}",
                target.id
            ),
            None,
            &permission,
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "POST {} {{\"action\": \"adminRemove\", \"principalId\": {}, \"roleDefinitionId\": {}, …}} when PIM manages the assignment, else DELETE /v1.0/roleManagement/directory/roleAssignments/{}",
            pim::ASSIGNMENT_REQUESTS,
            json!(target.user_id),
            json!(target.role_definition_id),
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
