//! Privileged Identity Management (PIM) reads and the `adminRemove` write, shared by
//! `remove_role_assignment` and `remove_role_eligibility`.
//!
//! Microsoft's PIM overview
//! (<https://learn.microsoft.com/graph/api/resources/privilegedidentitymanagementv3-overview>)
//! says an administrator removes an active assignment by creating a
//! `roleAssignmentScheduleRequest` and an eligible one by creating a
//! `roleEligibilityScheduleRequest`, each with `action: adminRemove`
//! (<https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignmentschedulerequests>,
//! <https://learn.microsoft.com/graph/api/rbacapplication-post-roleeligibilityschedulerequests>),
//! and recommends that over managing `unifiedRoleAssignment` directly.
//!
//! Which active assignments are PIM-managed: in a tenant with PIM (Entra ID P2 /
//! Governance) every active assignment has a `roleAssignmentScheduleInstance` ("the active
//! assignment might have been made through PIM assignments and activation requests, or
//! directly through the role assignments API"), matched by `roleAssignmentOriginId`
//! (filterable, eq); its `assignmentType` says `Assigned` or `Activated`. The docs do not
//! say what `DELETE roleAssignments/{id}` does to an activation, so both readings are
//! handled: an assignment with a direct schedule instance is removed through PIM; one
//! without (or in a tenant without PIM, where the read answers `AadPremiumLicenseRequired`)
//! with `DELETE`. Either way apply verifies by reading the assignment back.
//!
//! A `RoleAssignmentDoesNotExist` answer is not trusted either way: tools calling the same
//! endpoint report Graph answering it to a removal it carried out, so the write counts as
//! sent and the read-back decides.

use serde_json::{json, Map, Value};

use super::WriteReceipt;
use crate::fix::live::{GraphRoleScheduleInstance, Live};
use crate::graph::ApiError;

pub const ASSIGNMENT_REQUESTS: &str =
    "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
pub const ELIGIBILITY_REQUESTS: &str =
    "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
const ELIGIBLE: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances";

/// Recorded by PIM with the request (the role's settings may require one).
pub const JUSTIFICATION: &str = "m365guard: removing a privileged role (security remediation)";

/// The principal, role and scope a schedule request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub principal_id: String,
    pub role_definition_id: String,
    pub directory_scope_id: String,
}

impl Schedule {
    fn of(instance: &GraphRoleScheduleInstance) -> Option<Schedule> {
        Some(Schedule {
            principal_id: instance.principal_id.clone()?,
            role_definition_id: instance.role_definition_id.clone()?,
            directory_scope_id: instance
                .directory_scope_id
                .clone()
                .unwrap_or_else(|| "/".to_owned()),
        })
    }

    /// The `adminRemove` body both endpoints take.
    pub fn remove_body(&self) -> Value {
        json!({
            "action": "adminRemove",
            "principalId": self.principal_id,
            "roleDefinitionId": self.role_definition_id,
            "directoryScopeId": self.directory_scope_id,
            "justification": JUSTIFICATION,
        })
    }
}

fn typed(object: &Map<String, Value>) -> GraphRoleScheduleInstance {
    serde_json::from_value(Value::Object(object.clone())).unwrap_or_default()
}

/// How an active assignment is managed.
#[derive(Debug)]
pub enum Active {
    /// No PIM in this tenant (no licence): a plain role assignment.
    NoPim,
    /// PIM has no direct schedule for it.
    Unmanaged,
    /// PIM's direct schedule (`Assigned` or `Activated`).
    Managed(Schedule),
}

/// The PIM schedule of active assignment `assignment_id`.
pub fn active(live: &Live<'_>, assignment_id: &str) -> Result<Active, ApiError> {
    // Graph ids are base64url-ish; anything with a quote is not put into a filter.
    if assignment_id.contains('\'') {
        return Ok(Active::Unmanaged);
    }
    let path = format!(
        "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances?$filter=roleAssignmentOriginId%20eq%20'{assignment_id}'"
    );
    let instances = match live.graph.get_all(&path) {
        Ok(items) => items,
        Err(ApiError::Licence { .. }) => return Ok(Active::NoPim),
        Err(err) => return Err(err),
    };
    Ok(instances
        .iter()
        .map(typed)
        .filter(|i| {
            i.role_assignment_origin_id.as_deref() == Some(assignment_id)
                && i.member_type
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case("Direct"))
        })
        .find_map(|i| Schedule::of(&i))
        .map_or(Active::Unmanaged, Active::Managed))
}

/// One eligible assignment by its schedule-instance id, or `None` when it is gone.
pub fn eligibility(
    live: &Live<'_>,
    id: &str,
) -> Result<Option<(Schedule, GraphRoleScheduleInstance)>, ApiError> {
    Ok(live
        .graph
        .get_all(ELIGIBLE)?
        .iter()
        .map(typed)
        .filter(|i| i.id.as_deref() == Some(id))
        .find_map(|i| Schedule::of(&i).map(|s| (s, i))))
}

/// `POST {path}` with `adminRemove`. `RoleAssignmentDoesNotExist` counts as sent: the
/// read-back decides (see the module docs).
pub fn admin_remove(
    live: &Live<'_>,
    path: &str,
    schedule: &Schedule,
    permission: &str,
) -> Result<WriteReceipt, ApiError> {
    match live
        .graph
        .write("POST", path, Some(&schedule.remove_body()), permission)
    {
        Ok(reply) => Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        }),
        Err(ApiError::Status { code, .. }) if code == "RoleAssignmentDoesNotExist" => {
            tracing::info!(
                path,
                "PIM answered RoleAssignmentDoesNotExist; the read-back decides"
            );
            Ok(WriteReceipt::default())
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as object;

    #[test]
    fn the_remove_body_names_principal_role_and_scope() {
        let i = typed(&object(json!({
            "id": "x", "principalId": "p", "roleDefinitionId": "r", "memberType": "Direct"
        })));
        let s = Schedule::of(&i).unwrap();
        assert_eq!(s.directory_scope_id, "/");
        let body = s.remove_body();
        assert_eq!(body["action"], "adminRemove");
        assert_eq!(body["principalId"], "p");
        assert_eq!(body["roleDefinitionId"], "r");
        assert!(body["justification"].as_str().is_some());
        // Without a principal there is nothing to name.
        assert!(Schedule::of(&typed(&object(json!({"roleDefinitionId": "r"})))).is_none());
    }
}
