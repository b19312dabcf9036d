//! Source `exchange_role_groups`: who is in the privileged Exchange Online role groups.
//!
//! `Get-RoleGroup -ResultSize Unlimited` lists the organisation's role groups
//! (<https://learn.microsoft.com/powershell/module/exchange/get-rolegroup>); for each one
//! named in [`PRIVILEGED_EXCHANGE_ROLE_GROUPS`] that exists,
//! `Get-RoleGroupMember -Identity <name> -ResultSize Unlimited` lists its members
//! (<https://learn.microsoft.com/powershell/module/exchange/get-rolegroupmember>). Both
//! run under the read role of every Exchange source (Global Reader: View-Only Organization
//! Management holds View-Only Role Management). A group failing fails the source: a
//! partial member list could pass the rule.
//!
//! A role assigned directly to a user, group or app is the other way to hold Exchange
//! power: source `exchange_role_assignments` (`collect::exchange_rbac`) reads those.

use serde_json::{json, Map, Value};

use super::{s, Ctx};
use crate::exchange::ExchangeClient;
use crate::graph::ApiError;
use crate::snapshot::model::{ExchangeRoleGroupMember, SourceId, PRIVILEGED_EXCHANGE_ROLE_GROUPS};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = fetch_all(&ctx.exchange).map(|members| {
        ctx.snapshot.exchange_role_groups = members;
        ctx.snapshot.exchange_role_groups.len() as u64
    });
    ctx.record(SourceId::ExchangeRoleGroups, outcome);
}

/// Every member of every privileged role group the organisation has, sorted by id.
pub fn fetch_all(exchange: &ExchangeClient<'_>) -> Result<Vec<ExchangeRoleGroupMember>, ApiError> {
    let groups = exchange.invoke("Get-RoleGroup", json!({"ResultSize": "Unlimited"}))?;
    let mut out = Vec::new();
    for group in &groups {
        let Some(name) = s(group, "Name") else {
            continue;
        };
        let Some(canonical) = privileged_name(&name) else {
            continue;
        };
        let guid = s(group, "Guid").or_else(|| s(group, "ExchangeObjectId"));
        out.extend(
            fetch_members(exchange, canonical)?
                .into_iter()
                .map(|mut m| {
                    m.role_group_id = guid.clone();
                    m
                }),
        );
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// The members of one role group (`role_group_id` left empty).
pub fn fetch_members(
    exchange: &ExchangeClient<'_>,
    role_group: &str,
) -> Result<Vec<ExchangeRoleGroupMember>, ApiError> {
    let items = exchange.invoke(
        "Get-RoleGroupMember",
        json!({"Identity": role_group, "ResultSize": "Unlimited"}),
    )?;
    Ok(items.iter().filter_map(|m| map(role_group, m)).collect())
}

/// The list's spelling of a privileged group's name, compared case-insensitively.
pub fn privileged_name(name: &str) -> Option<&'static str> {
    PRIVILEGED_EXCHANGE_ROLE_GROUPS
        .iter()
        .find(|p| p.eq_ignore_ascii_case(name.trim()))
        .copied()
}

fn map(role_group: &str, m: &Map<String, Value>) -> Option<ExchangeRoleGroupMember> {
    let member = s(m, "Name").or_else(|| s(m, "Identity"))?;
    let address = s(m, "WindowsLiveID")
        .filter(|a| a.contains('@'))
        .or_else(|| s(m, "PrimarySmtpAddress").filter(|a| a.contains('@')))
        .map(|a| a.to_lowercase());
    Some(ExchangeRoleGroupMember {
        id: format!("{role_group}/{}", member.to_lowercase()),
        role_group: role_group.to_owned(),
        role_group_id: None,
        member,
        member_id: s(m, "ExternalDirectoryObjectId").filter(|v| !v.is_empty()),
        member_address: address,
        member_type: s(m, "RecipientTypeDetails").or_else(|| s(m, "RecipientType")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn maps_a_member_with_its_address_and_type() {
        let m = map(
            "Organization Management",
            &obj(json!({
                "Name": "Lena Fischer", "Identity": "Lena Fischer",
                "ExternalDirectoryObjectId": "id-1", "WindowsLiveID": "Lena.Fischer@contoso.com",
                "PrimarySmtpAddress": "lena@contoso.com", "RecipientTypeDetails": "UserMailbox"
            })),
        )
        .unwrap();
        assert_eq!(m.id, "Organization Management/lena fischer");
        assert_eq!(m.member, "Lena Fischer");
        assert_eq!(m.member_id.as_deref(), Some("id-1"));
        assert_eq!(
            m.member_address.as_deref(),
            Some("lena.fischer@contoso.com")
        );
        assert_eq!(m.member_type.as_deref(), Some("UserMailbox"));
    }

    #[test]
    fn a_linked_role_group_member_has_no_address_and_a_nameless_one_is_skipped() {
        let m = map(
            "Organization Management",
            &obj(json!({"Name": "TenantAdmins_-1", "WindowsLiveID": "",
                "ExternalDirectoryObjectId": "", "RecipientTypeDetails": "RoleGroup"})),
        )
        .unwrap();
        assert_eq!((m.member_address, m.member_id), (None, None));
        assert!(map(
            "Organization Management",
            &obj(json!({"WindowsLiveID": "a@b.c"}))
        )
        .is_none());
    }

    #[test]
    fn only_the_listed_groups_are_privileged() {
        assert_eq!(
            privileged_name("organization management"),
            Some("Organization Management")
        );
        assert_eq!(privileged_name("View-Only Organization Management"), None);
    }
}
