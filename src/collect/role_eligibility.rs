//! Source `role_eligibility`: Privileged Identity Management (CONTRACT §7.3), which needs
//! Entra ID P2 or ID Governance — without it Graph answers 400 `AadPremiumLicenseRequired`
//! and the source is `unavailable`. Two reads:
//!
//! - `roleEligibilityScheduleInstances?$expand=principal` → `roles.eligible_assignments`;
//! - `roleAssignmentScheduleInstances` → the end of every time-bound *active* assignment
//!   (a PIM activation), written onto `roles.assignments`. `roleAssignments` itself carries
//!   no dates, so without this every activation would look permanent. Rules that judge
//!   end dates (`privileged_role_permanent`) therefore read this source too.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::roles::{map_assignment, with_group_members};
use super::{s, time, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{SourceId, SourceState};

const ELIGIBLE: &str =
    "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$expand=principal";
const ACTIVE: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances";

pub fn collect(ctx: &mut Ctx<'_>) {
    let roles_ok = ctx
        .snapshot
        .sources
        .get(&SourceId::Roles)
        .is_some_and(|st| st.status == SourceState::Ok);
    if !roles_ok {
        ctx.set(
            SourceId::RoleEligibility,
            SourceState::Error,
            "role assignments were not collected, so PIM schedules cannot be matched to them",
            0,
        );
        return;
    }
    let outcome = fetch(ctx);
    ctx.record(SourceId::RoleEligibility, outcome);
}

fn fetch(ctx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let raw = ctx.graph.get_all(ELIGIBLE)?;
    let eligible = with_group_members(
        ctx,
        raw.iter().filter_map(|e| {
            let mut a = map_assignment(e)?;
            a.end_date_time = time(e.get("endDateTime"));
            Some(a)
        }),
    )?;
    let active = ctx.graph.get_all(ACTIVE)?;
    let ends = active_ends(&active);
    for a in &mut ctx.snapshot.roles.assignments {
        let key = (
            a.principal_id.clone(),
            a.role_definition_id.clone(),
            a.directory_scope_id.clone(),
        );
        a.end_date_time = ends
            .by_id
            .get(&a.id)
            .or_else(|| ends.by_triple.get(&key))
            .copied()
            .flatten();
    }
    let mut eligible = eligible;
    eligible.sort_by(|a, b| a.id.cmp(&b.id));
    let items = eligible.len() as u64;
    ctx.snapshot.roles.eligible_assignments = eligible;
    Ok(items)
}

type Triple = (String, String, String);

/// End dates of active schedule instances, by assignment id (an instance's
/// `roleAssignmentOriginId`, else its own id) and by (principal, role, scope).
struct Ends {
    by_id: HashMap<String, Option<DateTime<Utc>>>,
    by_triple: HashMap<Triple, Option<DateTime<Utc>>>,
}

fn active_ends(items: &[serde_json::Map<String, serde_json::Value>]) -> Ends {
    let mut ends = Ends {
        by_id: HashMap::new(),
        by_triple: HashMap::new(),
    };
    for i in items {
        let end = time(i.get("endDateTime"));
        for id in [s(i, "roleAssignmentOriginId"), s(i, "id")]
            .into_iter()
            .flatten()
        {
            ends.by_id.entry(id).or_insert(end);
        }
        if let (Some(p), Some(r)) = (s(i, "principalId"), s(i, "roleDefinitionId")) {
            let scope = s(i, "directoryScopeId").unwrap_or_else(|| "/".to_owned());
            ends.by_triple.insert((p, r, scope), end);
        }
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_the_contract_fixture() {
        let fixture = json!({
            "id": "lAPpYvVpN0KRkAEhdxReEJ2bDA0eLz9Ai1ucfl0pEjIFAAAA-1-e",
            "principalId": "8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d",
            "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
            "directoryScopeId": "/", "appScopeId": null,
            "startDateTime": "2025-09-01T00:00:00Z", "endDateTime": "2026-09-01T00:00:00Z",
            "memberType": "Direct",
            "roleEligibilityScheduleId": "0d0c9b8a-7f6e-4d5c-8b4a-39281706f5e4"
        });
        let obj = fixture.as_object().unwrap();
        let a = map_assignment(obj).unwrap();
        assert_eq!(a.principal_id, "8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d");
        assert_eq!(a.directory_scope_id, "/");
        let ends = active_ends(std::slice::from_ref(obj));
        assert_eq!(
            ends.by_id[&a.id].map(|t| t.to_rfc3339()),
            Some("2026-09-01T00:00:00+00:00".to_owned())
        );
        let permanent =
            json!({"id": "x", "principalId": "p", "roleDefinitionId": "r", "endDateTime": null});
        let ends = active_ends(std::slice::from_ref(permanent.as_object().unwrap()));
        assert_eq!(ends.by_triple[&("p".into(), "r".into(), "/".into())], None);
    }
}
