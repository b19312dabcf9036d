//! Source `roles`: role definitions (privileged ones flagged from the built-in template
//! list, CONTRACT §7.2) and active assignments with their principal; role-assignable
//! groups get their member ids.

use serde_json::{Map, Value};

use super::{b, s, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{PrincipalType, RoleAssignment, RoleDefinition, SourceId};

/// Built-in administrator templates treated as privileged. Reader roles
/// (Global/Security/Reports/Directory Readers) are deliberately not in it.
pub const PRIVILEGED_TEMPLATES: [&str; 18] = [
    "62e90394-69f5-4237-9190-012177145e10", // Global Administrator
    "e8611ab8-c189-46e8-94e1-60213ab1f814", // Privileged Role Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de", // Exchange Administrator
    "31392ffb-586c-42d1-9346-e59415a2cc4e", // Exchange Recipient Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
    "729827e3-9c14-49f7-bb1b-9608f156bbb8", // Helpdesk Administrator
    "966707d0-3269-4727-9be2-8c3a10f19b9d", // Password Administrator
    "c4e39bd9-1100-46d3-8c65-fb160da0071f", // Authentication Administrator
    "0526716b-113d-4c15-b2c8-68e3c22b9f80", // Authentication Policy Administrator
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", // Conditional Access Administrator
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", // Application Administrator
    "158c047a-c907-4556-b7ef-446551a6b5f7", // Cloud Application Administrator
    "b0f54661-2d74-4c50-afa3-1ec803f12efe", // Billing Administrator
    "17315797-102d-40b4-93e0-432062caca18", // Compliance Administrator
    "3a2c62db-5318-420d-8d74-23affee5d9d5", // Intune Administrator
];

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = fetch(ctx);
    ctx.record(SourceId::Roles, outcome);
}

fn fetch(ctx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let defs = ctx
        .graph
        .get_all("/v1.0/roleManagement/directory/roleDefinitions")?;
    let definitions: Vec<RoleDefinition> = defs.iter().filter_map(map_definition).collect();
    let raw = ctx
        .graph
        .get_all("/v1.0/roleManagement/directory/roleAssignments?$expand=principal")?;
    let assignments = with_group_members(ctx, raw.iter().filter_map(map_assignment))?;
    let items = (definitions.len() + assignments.len()) as u64;
    ctx.snapshot.roles.definitions = definitions;
    ctx.snapshot.roles.assignments = assignments;
    Ok(items)
}

fn map_definition(d: &Map<String, Value>) -> Option<RoleDefinition> {
    let id = s(d, "id")?;
    let template_id = s(d, "templateId");
    let is_built_in = b(d, "isBuiltIn").unwrap_or(false);
    let template = template_id.as_deref().unwrap_or(&id);
    Some(RoleDefinition {
        is_privileged: is_built_in && PRIVILEGED_TEMPLATES.contains(&template),
        display_name: s(d, "displayName").unwrap_or_default(),
        id,
        template_id,
        is_built_in,
    })
}

/// Role-assignable groups hold a role for their members: list them.
pub(super) fn with_group_members(
    ctx: &Ctx<'_>,
    assignments: impl Iterator<Item = RoleAssignment>,
) -> Result<Vec<RoleAssignment>, ApiError> {
    let mut out = Vec::new();
    for mut assignment in assignments {
        if assignment.principal_type == PrincipalType::Group {
            let members = ctx.graph.get_all(&format!(
                "/v1.0/groups/{}/members?$select=id",
                assignment.principal_id
            ))?;
            assignment.group_member_ids = members.iter().filter_map(|m| s(m, "id")).collect();
        }
        out.push(assignment);
    }
    Ok(out)
}

/// An assignment (or eligibility) with `$expand=principal`; `end_date_time` is left for
/// the caller (active assignments carry none; PIM schedules do).
pub(crate) fn map_assignment(a: &Map<String, Value>) -> Option<RoleAssignment> {
    let empty = Map::new();
    let principal = a
        .get("principal")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let kind = s(principal, "@odata.type").unwrap_or_default();
    let principal_type = if kind.ends_with(".group") {
        PrincipalType::Group
    } else if kind.ends_with(".servicePrincipal") {
        PrincipalType::ServicePrincipal
    } else {
        PrincipalType::User
    };
    Some(RoleAssignment {
        id: s(a, "id")?,
        role_definition_id: s(a, "roleDefinitionId")?,
        principal_id: s(a, "principalId")?,
        principal_type,
        principal_name: s(principal, "displayName").or_else(|| s(principal, "userPrincipalName")),
        directory_scope_id: s(a, "directoryScopeId").unwrap_or_else(|| "/".to_owned()),
        group_member_ids: Vec::new(),
        end_date_time: None,
    })
}
