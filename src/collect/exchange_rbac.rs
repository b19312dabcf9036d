//! Sources `exchange_role_assignments` and `application_access_policies`: the two other
//! ways (besides role groups) to hold Exchange power or mailbox access.
//!
//! - `Get-ManagementRoleAssignment`
//!   (<https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment>)
//!   without parameters lists every role assignment of the organisation (the cmdlet has no
//!   `-ResultSize`). Kept: the DIRECT ones, whose `RoleAssigneeType` is a user, a service
//!   principal (RBAC for Applications,
//!   <https://learn.microsoft.com/exchange/permissions-exo/application-rbac>) or a
//!   security group that is not a role group. Assignments to role groups are the
//!   `exchange_role_groups` source's business, and role assignment policies (the `My…`
//!   end-user roles every mailbox gets) grant nothing over other mailboxes. Which roles are
//!   sensitive is the rule's data (`policies/data/exchange_roles.rego`), not the
//!   collector's: every direct assignment is kept, disabled ones too.
//! - `Get-ApplicationAccessPolicy`
//!   (<https://learn.microsoft.com/powershell/module/exchange/get-applicationaccesspolicy>)
//!   lists the policies that limit which mailboxes an app's Graph/EWS application
//!   permissions reach. Microsoft replaces them with RBAC for Applications and asks not to
//!   create new ones
//!   (<https://learn.microsoft.com/powershell/module/exchange/new-applicationaccesspolicy>),
//!   but existing tenants rely on them, so both are collected.
//!
//! Both run under the read role of every Exchange source (Global Reader: View-Only
//! Organization Management holds View-Only Role Management and View-Only Configuration).

use serde_json::{json, Map, Value};

use super::{b, s, time, Ctx};
use crate::exchange::ExchangeClient;
use crate::graph::ApiError;
use crate::snapshot::model::{ApplicationAccessPolicy, ExchangeRoleAssignment, SourceId};

/// `RoleAssigneeType` values that stand for a role group or a role assignment policy:
/// not direct assignments (the documented enumeration).
const INDIRECT_ASSIGNEE_TYPES: [&str; 5] = [
    "RoleGroup",
    "LinkedRoleGroup",
    "PartnerLinkedRoleGroup",
    "RoleAssignmentPolicy",
    "MailboxPlan",
];

pub fn collect_role_assignments(ctx: &mut Ctx<'_>) {
    let outcome = fetch_role_assignments(&ctx.exchange).map(|items| {
        ctx.snapshot.exchange_role_assignments = items;
        ctx.snapshot.exchange_role_assignments.len() as u64
    });
    ctx.record(SourceId::ExchangeRoleAssignments, outcome);
}

pub fn collect_access_policies(ctx: &mut Ctx<'_>) {
    let outcome = fetch_access_policies(&ctx.exchange).map(|items| {
        ctx.snapshot.application_access_policies = items;
        ctx.snapshot.application_access_policies.len() as u64
    });
    ctx.record(SourceId::ApplicationAccessPolicies, outcome);
}

/// Every direct role assignment, sorted by id.
pub fn fetch_role_assignments(
    exchange: &ExchangeClient<'_>,
) -> Result<Vec<ExchangeRoleAssignment>, ApiError> {
    let items = exchange.invoke("Get-ManagementRoleAssignment", json!({}))?;
    let mut out: Vec<ExchangeRoleAssignment> = items.iter().filter_map(map_assignment).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// One assignment by name (`Get-ManagementRoleAssignment -Identity`); `Ok(None)` when it
/// is gone or is not a direct assignment.
pub fn fetch_role_assignment(
    exchange: &ExchangeClient<'_>,
    identity: &str,
) -> Result<Option<ExchangeRoleAssignment>, ApiError> {
    let items = exchange.invoke(
        "Get-ManagementRoleAssignment",
        json!({"Identity": identity}),
    )?;
    Ok(items.iter().find_map(map_assignment))
}

/// The management roles assigned directly to one user
/// (`Get-ManagementRoleAssignment -RoleAssignee <upn> -AssignmentMethod Direct`, the
/// RoleAssignee parameter set of
/// <https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment>):
/// Exchange resolves the user itself, so no display name has to be matched. A user Exchange
/// does not know (no recipient) holds none.
pub fn fetch_user_direct_assignments(
    exchange: &ExchangeClient<'_>,
    user_principal_name: &str,
) -> Result<Vec<ExchangeRoleAssignment>, ApiError> {
    let items = match exchange.invoke(
        "Get-ManagementRoleAssignment",
        json!({"RoleAssignee": user_principal_name, "AssignmentMethod": "Direct"}),
    ) {
        Ok(items) => items,
        Err(e) if crate::fix::actions::is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<ExchangeRoleAssignment> = items.iter().filter_map(map_assignment).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

pub fn fetch_access_policies(
    exchange: &ExchangeClient<'_>,
) -> Result<Vec<ApplicationAccessPolicy>, ApiError> {
    let items = exchange.invoke("Get-ApplicationAccessPolicy", json!({}))?;
    let mut out: Vec<ApplicationAccessPolicy> = items.iter().flat_map(map_policy).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// A text field, or a boolean given as `true`/`"True"` (Exchange serialises some
/// switches either way).
fn flag(m: &Map<String, Value>, key: &str) -> Option<bool> {
    b(m, key).or_else(|| s(m, key).and_then(|v| v.to_lowercase().parse().ok()))
}

fn map_assignment(m: &Map<String, Value>) -> Option<ExchangeRoleAssignment> {
    let id = s(m, "Name").or_else(|| s(m, "Identity"))?;
    let role = s(m, "Role")?;
    let assignee_type = s(m, "RoleAssigneeType").unwrap_or_else(|| "Unknown".into());
    if INDIRECT_ASSIGNEE_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&assignee_type))
    {
        return None;
    }
    Some(ExchangeRoleAssignment {
        id,
        role,
        assignee: s(m, "RoleAssigneeName").or_else(|| s(m, "RoleAssignee"))?,
        assignee_type,
        guid: s(m, "Guid").or_else(|| s(m, "ExchangeObjectId")),
        enabled: flag(m, "Enabled").unwrap_or(true),
        recipient_write_scope: s(m, "RecipientWriteScope"),
        custom_recipient_write_scope: s(m, "CustomRecipientWriteScope"),
        custom_resource_scope: s(m, "CustomResourceScope"),
        recipient_organizational_unit_scope: s(m, "RecipientOrganizationalUnitScope"),
        recipient_administrative_unit_scope: s(m, "RecipientAdministrativeUnitScope"),
        when_created: time(m.get("WhenCreatedUTC").or_else(|| m.get("WhenCreated"))),
        when_changed: time(m.get("WhenChangedUTC").or_else(|| m.get("WhenChanged"))),
    })
}

/// One entry per app id: the reference page gives `AppId` as a string, the `New-` cmdlet
/// takes several, so a list is read too (each app its own entry, `<Identity>/<app id>`).
fn map_policy(m: &Map<String, Value>) -> Vec<ApplicationAccessPolicy> {
    let Some(identity) = s(m, "Identity") else {
        return Vec::new();
    };
    let Some(access_right) = s(m, "AccessRight") else {
        return Vec::new();
    };
    let app_ids: Vec<String> = match m.get("AppId") {
        Some(Value::String(id)) if !id.is_empty() => vec![id.to_lowercase()],
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_lowercase)
            .collect(),
        _ => Vec::new(),
    };
    let several = app_ids.len() > 1;
    app_ids
        .into_iter()
        .map(|app_id| ApplicationAccessPolicy {
            id: if several {
                format!("{identity}/{app_id}")
            } else {
                identity.clone()
            },
            app_id,
            access_right: access_right.clone(),
            scope_name: s(m, "ScopeName"),
            scope_identity: s(m, "ScopeIdentity"),
            description: s(m, "Description"),
            is_valid: flag(m, "IsValid").unwrap_or(true),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn keeps_direct_assignments_with_their_scope_and_leaves_role_groups_out() {
        let a = map_assignment(&obj(json!({
            "Name": "ApplicationImpersonation-Lena", "Role": "ApplicationImpersonation",
            "RoleAssigneeName": "Lena Fischer", "RoleAssigneeType": "User",
            "Enabled": "True", "RecipientWriteScope": "Organization",
            "CustomResourceScope": "", "WhenCreatedUTC": "2025-12-31T02:27:41Z",
            "Guid": "g-1"
        })))
        .unwrap();
        assert_eq!(a.id, "ApplicationImpersonation-Lena");
        assert_eq!(a.assignee_type, "User");
        assert!(a.enabled);
        assert_eq!(a.recipient_write_scope.as_deref(), Some("Organization"));
        assert_eq!(a.custom_resource_scope, None);
        assert!(a.when_created.is_some());
        assert!(map_assignment(&obj(json!({
            "Name": "Mailbox Search-Discovery Management", "Role": "Mailbox Search",
            "RoleAssigneeName": "Discovery Management", "RoleAssigneeType": "RoleGroup"
        })))
        .is_none());
        let disabled = map_assignment(&obj(json!({
            "Name": "x", "Role": "Mailbox Search", "RoleAssignee": "sg",
            "RoleAssigneeType": "SecurityGroup", "Enabled": false
        })))
        .unwrap();
        assert!(!disabled.enabled);
        assert_eq!(disabled.assignee, "sg");
    }

    #[test]
    fn a_policy_with_several_app_ids_gives_one_entry_per_app() {
        let one = map_policy(&obj(json!({
            "Identity": "t\\8e7d:S-1;g", "AppId": "8E7D", "AccessRight": "RestrictAccess",
            "ScopeName": "Payroll Senders", "IsValid": true
        })));
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].id.as_str(), one[0].app_id.as_str()),
            ("t\\8e7d:S-1;g", "8e7d")
        );
        let two = map_policy(&obj(json!({
            "Identity": "p", "AppId": ["a", "b"], "AccessRight": "DenyAccess", "IsValid": "False"
        })));
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].id, "p/b");
        assert!(!two[0].is_valid);
        assert!(map_policy(&obj(json!({"Identity": "p", "AppId": "a"}))).is_empty());
    }
}
