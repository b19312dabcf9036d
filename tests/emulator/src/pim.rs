//! Privileged Identity Management writes: `POST /roleManagement/directory/
//! roleAssignmentScheduleRequests` and `…/roleEligibilityScheduleRequests`, the way PIM
//! removes an active or an eligible directory role assignment (`action: adminRemove`).
//!
//! What the docs say, and what the emulator therefore does:
//! - Create roleAssignmentScheduleRequests
//!   (<https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignmentschedulerequests>):
//!   application permission RoleAssignmentSchedule.ReadWrite.Directory, or the higher
//!   RoleManagement.ReadWrite.Directory / RoleAssignmentSchedule.Remove.Directory;
//!   `principalId` and `roleDefinitionId` required, `directoryScopeId` or `appScopeId`
//!   required; `201 Created` with the request object.
//! - Create roleEligibilityScheduleRequests
//!   (<https://learn.microsoft.com/graph/api/rbacapplication-post-roleeligibilityschedulerequests>):
//!   RoleEligibilitySchedule.ReadWrite.Directory or RoleManagement.ReadWrite.Directory;
//!   `justification` and `scheduleInfo` optional for `adminRemove`; the answer to an
//!   `adminRemove` is `201` with `status: "Revoked"`.
//! - A removal of something the principal does not hold is `400 RoleAssignmentDoesNotExist`
//!   (PIM's documented error code for a request naming an assignment that does not exist,
//!   <https://learn.microsoft.com/graph/api/governanceroleassignmentrequest-post?view=graph-rest-beta>,
//!   and what tools calling this endpoint report).
//! - PIM needs Entra ID P2 / Governance: without it `400 AadPremiumLicenseRequired`, as the
//!   schedule reads answer.
//!
//! Only `adminRemove` changes state here; the other documented actions are refused with
//! 501 so a test can never mistake them for modelled behaviour.

use serde_json::{json, Map, Value};

use crate::http::Response;
use crate::respond::{bad_request, forbidden, graph_error, graph_json, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::state::role_ids;
use crate::util::stable_guid;

type R = Result<Response, Response>;

const ASSIGNMENT_WRITE: &[&str] = &[
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleAssignmentSchedule.Remove.Directory",
];
const ELIGIBILITY_WRITE: &[&str] = &[
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];
/// `unifiedRoleScheduleRequestActions`, as both pages list them.
const ACTIONS: [&str; 10] = [
    "adminAssign",
    "adminUpdate",
    "adminRemove",
    "selfActivate",
    "selfDeactivate",
    "adminExtend",
    "adminRenew",
    "selfExtend",
    "selfRenew",
    "unknownFutureValue",
];

/// Which schedule a request is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Assignment,
    Eligibility,
}

/// `POST /roleManagement/directory/role{Assignment,Eligibility}ScheduleRequests`.
pub fn schedule_request(shared: &Shared, caller: &Caller, kind: Kind, body: &[u8], ctx: &Ctx) -> R {
    let (perms, entity) = match kind {
        Kind::Assignment => (ASSIGNMENT_WRITE, "roleAssignmentScheduleRequests"),
        Kind::Eligibility => (ELIGIBILITY_WRITE, "roleEligibilityScheduleRequests"),
    };
    if !caller.has_any(perms) {
        return Err(forbidden(ctx));
    }
    if !shared.settings().licences.p2 {
        return Err(bad_request("AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.", ctx));
    }
    let body: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(bad_request("BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.", ctx)),
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let action = text("action").unwrap_or_default();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(bad_request(
            "BadRequest",
            &format!("The request is invalid: '{action}' is not a valid value for 'action'."),
            ctx,
        ));
    }
    let (Some(principal), Some(role)) = (text("principalId"), text("roleDefinitionId")) else {
        return Err(bad_request(
            "BadRequest",
            "The request is invalid: principalId and roleDefinitionId are required.",
            ctx,
        ));
    };
    let scope = text("directoryScopeId");
    if scope.is_none() && text("appScopeId").is_none() {
        return Err(bad_request(
            "BadRequest",
            "The request is invalid: either directoryScopeId or appScopeId is required.",
            ctx,
        ));
    }
    if action != "adminRemove" {
        return Err(graph_error(
            501,
            "NotImplemented",
            &format!("the emulator models only adminRemove, not {action}"),
            ctx,
        ));
    }
    let scope = scope.unwrap_or_else(|| "/".into());
    let mut st = lock(&shared.state);
    let privileged = st
        .role_definitions
        .iter()
        .any(|d| d.id == role && d.is_privileged);
    // The same directory-role rule as DELETE roleAssignments (see graph::delete_assignment).
    if privileged
        && !caller.has_directory_role(&[
            role_ids::PRIVILEGED_ROLE_ADMINISTRATOR,
            role_ids::GLOBAL_ADMINISTRATOR,
        ])
    {
        return Err(forbidden(ctx));
    }
    let list = match kind {
        Kind::Assignment => &mut st.role_assignments,
        Kind::Eligibility => &mut st.role_eligibilities,
    };
    let before = list.len();
    list.retain(|a| {
        !(a.principal_id == principal
            && a.role_definition_id == role
            && a.directory_scope_id == scope)
    });
    if list.len() == before {
        return Err(bad_request(
            "RoleAssignmentDoesNotExist",
            "The Role assignment does not exist.",
            ctx,
        ));
    }
    let now = crate::util::now_iso();
    let id = stable_guid(&format!("{entity}/{principal}/{role}/{scope}/{now}"));
    let answer = json!({
        "@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/{entity}/$entity", ctx.base_url),
        "id": id,
        "status": "Revoked",
        "createdDateTime": now,
        "completedDateTime": null,
        "approvalId": null,
        "customData": null,
        "action": "adminRemove",
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": scope,
        "appScopeId": null,
        "isValidationOnly": false,
        "targetScheduleId": null,
        "justification": body.get("justification").cloned().unwrap_or(Value::Null),
        "scheduleInfo": null,
        "createdBy": {"application": null, "device": null, "user": null},
        "ticketInfo": {"ticketNumber": null, "ticketSystem": null},
    });
    Ok(graph_json(201, &answer, ctx))
}
