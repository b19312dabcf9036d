//! `remove_management_role_assignment`: `Remove-ManagementRoleAssignment -Identity <name>
//! -Confirm:$false`
//! (<https://learn.microsoft.com/powershell/module/exchange/remove-managementroleassignment>),
//! for a sensitive Exchange role assigned directly to a user, group or service principal.
//!
//! The live read is `Get-ManagementRoleAssignment -Identity <name>`
//! (<https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment>);
//! the evidence keeps the whole assignment (role, assignee, scopes, dates). The plan is
//! refused when the assignment now names another role or assignee. Undone with
//! `New-ManagementRoleAssignment` (`-User` / `-App` / `-SecurityGroup`, with the scope the
//! assignment had), printed as the rollback. A service principal's assignment (RBAC for
//! Applications) is planned only with `fix plan --allow app-changes`: the planner's
//! business, see `ActionKind::plan_only_allow`.

use serde_json::json;

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::collect::exchange_rbac;
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::ExchangeRoleAssignment;
use crate::snapshot::source::ResourceKind;

pub struct RemoveManagementRoleAssignment;

/// The scope parameters an assignment can carry, as `New-ManagementRoleAssignment` names
/// them (the rollback passes them back).
const SCOPES: [&str; 4] = [
    "CustomRecipientWriteScope",
    "CustomResourceScope",
    "RecipientOrganizationalUnitScope",
    "RecipientAdministrativeUnitScope",
];

/// The precondition vocabulary: which role, to whom, over what (the plan's and the live
/// read's; a changed scope refuses the plan too).
pub fn assignment_state(a: &ExchangeRoleAssignment) -> State {
    let mut s = state([
        ("role", json!(a.role)),
        ("assignee", json!(a.assignee)),
        ("assignee_type", json!(a.assignee_type)),
    ]);
    let scopes = [
        &a.custom_recipient_write_scope,
        &a.custom_resource_scope,
        &a.recipient_organizational_unit_scope,
        &a.recipient_administrative_unit_scope,
    ];
    for (key, value) in SCOPES.iter().zip(scopes) {
        s.insert((*key).to_owned(), json!(value));
    }
    s
}

/// A target for one assignment: its name is the `-Identity`.
pub fn assignment_target(a: &ExchangeRoleAssignment, name: &str) -> Target {
    Target {
        exchange_identity: Some(a.id.clone()),
        role_name: Some(a.role.clone()),
        ..Target::new(ResourceKind::ExchangeRoleAssignment, &a.id, name)
    }
}

fn identity(target: &Target) -> &str {
    target.exchange_identity.as_deref().unwrap_or(&target.id)
}

impl Handler for RemoveManagementRoleAssignment {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let found = match exchange_rbac::fetch_role_assignment(&live.exchange, identity(target)) {
            Ok(found) => found,
            Err(e) if super::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(found.map(|a| {
            let mut s = assignment_state(&a);
            s.insert(DEFINITION.to_owned(), json!(a));
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
        live.exchange
            .invoke(
                "Remove-ManagementRoleAssignment",
                json!({"Identity": identity(target), "Confirm": false}),
            )
            .map_err(|e| {
                exchange_write_error(
                    e,
                    &ActionKind::RemoveManagementRoleAssignment.needs().summary(),
                )
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "Remove-ManagementRoleAssignment -Identity \"{}\" -Confirm:$false",
            identity(target)
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-ManagementRoleAssignment -Identity: the assignment no longer exists"
    }

    /// `New-ManagementRoleAssignment -Name -Role` with the assignee's parameter by its type
    /// and the scope the assignment had
    /// (<https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment>).
    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let text = |key: &str| {
            precondition
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let role = text("role").or_else(|| target.role_name.clone())?;
        let assignee = text("assignee")?;
        let who = match text("assignee_type").as_deref() {
            Some("ServicePrincipal") => "-App",
            Some("SecurityGroup") => "-SecurityGroup",
            _ => "-User",
        };
        let mut out = format!(
            "New-ManagementRoleAssignment -Name \"{}\" -Role \"{role}\" {who} \"{assignee}\"",
            identity(target)
        );
        for key in SCOPES {
            if let Some(v) = text(key) {
                out.push_str(&format!(" -{key} \"{v}\""));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_assignment() -> ExchangeRoleAssignment {
        ExchangeRoleAssignment {
            id: "Application Mail.ReadWrite-Payroll".into(),
            role: "Application Mail.ReadWrite".into(),
            assignee: "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f".into(),
            assignee_type: "ServicePrincipal".into(),
            guid: None,
            enabled: true,
            recipient_write_scope: None,
            custom_recipient_write_scope: None,
            custom_resource_scope: Some("Payroll mailboxes".into()),
            recipient_organizational_unit_scope: None,
            recipient_administrative_unit_scope: None,
            when_created: None,
            when_changed: None,
        }
    }

    #[test]
    fn the_write_names_the_assignment_and_the_rollback_recreates_it_with_its_scope() {
        let a = app_assignment();
        let t = assignment_target(&a, "x");
        let h = RemoveManagementRoleAssignment;
        assert_eq!(
            h.describe_write(&t),
            "Remove-ManagementRoleAssignment -Identity \"Application Mail.ReadWrite-Payroll\" -Confirm:$false"
        );
        assert_eq!(
            h.rollback(&t, &assignment_state(&a)).unwrap(),
            "New-ManagementRoleAssignment -Name \"Application Mail.ReadWrite-Payroll\" -Role \"Application Mail.ReadWrite\" -App \"c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f\" -CustomResourceScope \"Payroll mailboxes\""
        );
    }

    #[test]
    fn a_user_assignment_rolls_back_with_user() {
        let mut a = app_assignment();
        a.assignee = "Lena Fischer".into();
        a.assignee_type = "User".into();
        a.custom_resource_scope = None;
        let t = assignment_target(&a, "x");
        let back = RemoveManagementRoleAssignment
            .rollback(&t, &assignment_state(&a))
            .unwrap();
        assert!(back.ends_with("-User \"Lena Fischer\""), "{back}");
    }
}
