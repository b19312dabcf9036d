//! `remove_role_group_member`: `Remove-RoleGroupMember -Identity <role group> -Member
//! <member> -BypassSecurityGroupManagerCheck -Confirm:$false`
//! (<https://learn.microsoft.com/powershell/module/exchange/remove-rolegroupmember>: when
//! the group's `ManagedBy` is set, a caller who is not one of its managers needs the
//! bypass switch, which Organization Management's Role Management role allows).
//!
//! The live read is `Get-RoleGroupMember -Identity <role group>`
//! (<https://learn.microsoft.com/powershell/module/exchange/get-rolegroupmember>); the
//! member is matched by its Entra object id, else its Exchange name or address. Undone
//! with `Add-RoleGroupMember` (same parameters), printed as the rollback.

use serde_json::json;

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::collect::exchange_role_groups;
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::ExchangeRoleGroupMember;

pub struct RemoveRoleGroupMember;

/// (role group, member as Exchange names it) of a target.
fn parts(target: &Target) -> (String, String) {
    let group = target.role_name.clone().unwrap_or_else(|| {
        target
            .id
            .split_once('/')
            .map(|(g, _)| g.to_owned())
            .unwrap_or_default()
    });
    let member = target.exchange_identity.clone().unwrap_or_else(|| {
        target
            .id
            .split_once('/')
            .map(|(_, m)| m.to_owned())
            .unwrap_or_default()
    });
    (group, member)
}

/// The precondition vocabulary: who the member is (the plan's and the live read's).
pub fn member_state(m: &ExchangeRoleGroupMember) -> State {
    state([
        ("member", json!(m.member)),
        ("member_type", json!(m.member_type)),
    ])
}

/// A target for one member (the fields `parts` and the guards read).
pub fn member_target(m: &ExchangeRoleGroupMember, name: &str) -> Target {
    Target {
        user_id: m.member_id.clone(),
        user_principal_name: m.member_address.clone(),
        exchange_identity: Some(m.member.clone()),
        role_name: Some(m.role_group.clone()),
        ..Target::new(
            crate::snapshot::source::ResourceKind::ExchangeRoleGroupMember,
            &m.id,
            name,
        )
    }
}

fn is_member(m: &ExchangeRoleGroupMember, target: &Target, member: &str) -> bool {
    match (&m.member_id, &target.user_id) {
        (Some(live), Some(planned)) if !live.is_empty() => live.eq_ignore_ascii_case(planned),
        _ => {
            m.member.eq_ignore_ascii_case(member)
                || m.member_address
                    .as_deref()
                    .zip(target.user_principal_name.as_deref())
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        }
    }
}

impl Handler for RemoveRoleGroupMember {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (group, member) = parts(target);
        let members = match exchange_role_groups::fetch_members(&live.exchange, &group) {
            Ok(members) => members,
            Err(e) if super::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(members
            .into_iter()
            .find(|m| is_member(m, target, &member))
            .map(|m| {
                let mut s = member_state(&m);
                s.insert(
                    DEFINITION.to_owned(),
                    json!({"role_group": group, "member": m.member,
                        "member_id": m.member_id, "member_address": m.member_address}),
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
        let (group, member) = parts(target);
        live.exchange
            .invoke(
                "Remove-RoleGroupMember",
                json!({
                    "Identity": group,
                    "Member": member,
                    "BypassSecurityGroupManagerCheck": true,
                    "Confirm": false,
                }),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::RemoveRoleGroupMember.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        let (group, member) = parts(target);
        format!(
            "Remove-RoleGroupMember -Identity \"{group}\" -Member \"{member}\" -BypassSecurityGroupManagerCheck -Confirm:$false"
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-RoleGroupMember: the member is no longer in the role group"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        let (group, member) = parts(target);
        Some(format!(
            "Add-RoleGroupMember -Identity \"{group}\" -Member \"{member}\" -BypassSecurityGroupManagerCheck"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lena() -> ExchangeRoleGroupMember {
        ExchangeRoleGroupMember {
            id: "Organization Management/lena fischer".into(),
            role_group: "Organization Management".into(),
            role_group_id: None,
            member: "Lena Fischer".into(),
            member_id: Some("id-lena".into()),
            member_address: Some("lena.fischer@contoso.com".into()),
            member_type: Some("UserMailbox".into()),
        }
    }

    #[test]
    fn the_write_names_group_and_member_and_bypasses_the_manager_check() {
        let t = member_target(&lena(), "Lena in Organization Management");
        let h = RemoveRoleGroupMember;
        assert_eq!(
            h.describe_write(&t),
            "Remove-RoleGroupMember -Identity \"Organization Management\" -Member \"Lena Fischer\" -BypassSecurityGroupManagerCheck -Confirm:$false"
        );
        assert!(h
            .rollback(&t, &member_state(&lena()))
            .unwrap()
            .starts_with("Add-RoleGroupMember -Identity \"Organization Management\""));
        assert_eq!(t.user_id.as_deref(), Some("id-lena"));
    }

    #[test]
    fn a_live_member_is_matched_by_object_id_before_its_name() {
        let t = member_target(&lena(), "x");
        let mut renamed = lena();
        renamed.member = "Lena F.".into();
        assert!(is_member(&renamed, &t, "Lena Fischer"));
        let mut other = lena();
        other.member_id = Some("id-other".into());
        assert!(!is_member(&other, &t, "Lena Fischer"));
    }
}
