//! `remove_role_eligibility`: remove an eligible (PIM) directory role assignment with
//! `POST roleEligibilityScheduleRequests` `adminRemove`
//! (<https://learn.microsoft.com/graph/api/rbacapplication-post-roleeligibilityschedulerequests>).
//! Removing only the active assignment leaves an eligible holder able to re-activate the
//! role at will; this closes that door. Done means the schedule instance is gone from
//! `roleEligibilityScheduleInstances`.

use serde_json::{json, Value};

use super::pim;
use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RemoveRoleEligibility;

impl Handler for RemoveRoleEligibility {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(pim::eligibility(live, &target.id)?.map(|(schedule, _)| {
            state([
                ("role_definition_id", json!(schedule.role_definition_id)),
                ("principal_id", json!(schedule.principal_id)),
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
        let Some((schedule, _)) = pim::eligibility(live, &target.id)? else {
            // Gone between the read and now: nothing to send; the read-back confirms.
            return Ok(WriteReceipt::default());
        };
        pim::admin_remove(
            live,
            pim::ELIGIBILITY_REQUESTS,
            &schedule,
            &ActionKind::RemoveRoleEligibility.needs().summary(),
        )
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "POST {} {{\"action\": \"adminRemove\", \"principalId\": {}, \"roleDefinitionId\": {}, \"directoryScopeId\": <the eligibility's scope>, \"justification\": …}}",
            pim::ELIGIBILITY_REQUESTS,
            json!(target.user_id),
            json!(target.role_definition_id),
        )
    }

    fn describe_verify(&self) -> &'static str {
        "list role eligibility schedule instances: the eligibility is gone"
    }

    fn rollback(&self, _target: &Target, precondition: &State) -> Option<String> {
        let body = json!({
            "action": "adminAssign",
            "principalId": precondition.get("principal_id").unwrap_or(&Value::Null),
            "roleDefinitionId": precondition.get("role_definition_id").unwrap_or(&Value::Null),
            "directoryScopeId": "/",
            "scheduleInfo": {"expiration": {"type": "noExpiration"}},
        });
        Some(format!("POST {} {body}", pim::ELIGIBILITY_REQUESTS))
    }
}
