//! Exchange role group cmdlets (a child module of `exchange`, which dispatches to it).
//! State lives in `TenantState::role_groups`, filled from the snapshot's
//! `exchange_role_groups` (the privileged built-in groups always exist, members or not).
//!
//! Parameters as Microsoft documents them for Exchange Online (the on-premises-only
//! `-DomainController` is refused, as Exchange Online does; `-Filter` and `-SortBy` are
//! not implemented and refused rather than ignored):
//! - `Get-RoleGroup [[-Identity]] [-ReadFromDomainController] [-ResultSize] [-ShowPartnerLinked]`
//!   <https://learn.microsoft.com/powershell/module/exchange/get-rolegroup>
//! - `Get-RoleGroupMember [-Identity] (mandatory) [-ReadFromDomainController] [-ResultSize]`
//!   <https://learn.microsoft.com/powershell/module/exchange/get-rolegroupmember>
//! - `Remove-RoleGroupMember [-Identity] -Member [-BypassSecurityGroupManagerCheck] [-Confirm] [-WhatIf]`
//!   <https://learn.microsoft.com/powershell/module/exchange/remove-rolegroupmember>
//! - `Add-RoleGroupMember [-Identity] -Member [-BypassSecurityGroupManagerCheck] [-Confirm] [-WhatIf]`
//!   <https://learn.microsoft.com/powershell/module/exchange/add-rolegroupmember>
//!
//! As the pages say: when a group's `ManagedBy` is set, a caller who is not one of its
//! managers must pass `-BypassSecurityGroupManagerCheck` (the app never is a manager, so
//! every membership change without it is refused).

use serde_json::{json, Value};

use super::{lock, Call, Obj};
use crate::http::Response;
use crate::respond::exo_error;
use crate::state::{RoleGroup, RoleGroupMember, TenantState};

/// The privileged built-in role groups (m365guard's list) plus one view-only group the
/// collector must leave out.
const BUILT_IN: [&str; 8] = [
    "Organization Management",
    "Recipient Management",
    "Discovery Management",
    "Compliance Management",
    "Records Management",
    "Hygiene Management",
    "Security Administrator",
    "View-Only Organization Management",
];

pub(super) fn parameters_of(cmdlet: &str) -> Option<&'static [&'static str]> {
    Some(match cmdlet {
        "Get-RoleGroup" => &[
            "Identity",
            "ReadFromDomainController",
            "ResultSize",
            "ShowPartnerLinked",
        ],
        "Get-RoleGroupMember" => &["Identity", "ReadFromDomainController", "ResultSize"],
        "Remove-RoleGroupMember" | "Add-RoleGroupMember" => &[
            "Identity",
            "Member",
            "BypassSecurityGroupManagerCheck",
            "Confirm",
            "WhatIf",
        ],
        _ => return None,
    })
}

/// The role groups of a snapshot: the built-ins, with the members its
/// `exchange_role_groups` lists (a group it names that is not built in is added).
pub fn from_snapshot(snap: &Value) -> Vec<RoleGroup> {
    let mut groups: Vec<RoleGroup> = BUILT_IN
        .iter()
        .enumerate()
        .map(|(i, name)| RoleGroup {
            name: (*name).to_owned(),
            guid: format!("7c1b0d3e-0000-4000-8000-{i:012x}"),
            managed_by: vec!["Organization Management".to_owned()],
            members: Vec::new(),
        })
        .collect();
    let entries = snap
        .get("exchange_role_groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for e in &entries {
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let group = text("role_group");
        let member = text("member");
        if group.is_empty() || member.is_empty() {
            continue;
        }
        let i = match groups
            .iter()
            .position(|g| g.name.eq_ignore_ascii_case(&group))
        {
            Some(i) => i,
            None => {
                groups.push(RoleGroup {
                    name: group.clone(),
                    guid: format!("7c1b0d3e-0000-4000-8000-{:012x}", groups.len()),
                    managed_by: Vec::new(),
                    members: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let address = text("member_address");
        groups[i].members.push(RoleGroupMember {
            name: member,
            external_directory_object_id: text("member_id"),
            windows_live_id: address.clone(),
            primary_smtp_address: address,
            recipient_type_details: Some(text("member_type"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "UserMailbox".into()),
        });
    }
    groups
}

fn find(groups: &[RoleGroup], identity: &str) -> Option<usize> {
    let id = identity.trim();
    groups
        .iter()
        .position(|g| g.name.eq_ignore_ascii_case(id) || g.guid.eq_ignore_ascii_case(id))
}

fn render_group(g: &RoleGroup) -> Obj {
    let mut o = Obj::default();
    o.put("Name", json!(g.name));
    o.put("DisplayName", json!(g.name));
    o.put("Identity", json!(g.name));
    o.guid("Guid", &g.guid);
    o.guid("ExchangeObjectId", &g.guid);
    o.put("RoleGroupType", json!("Standard"));
    let members: Vec<String> = g.members.iter().map(|m| m.name.clone()).collect();
    o.strs("Members", Some(members));
    o.strs("ManagedBy", Some(g.managed_by.clone()));
    o
}

fn render_member(m: &RoleGroupMember) -> Obj {
    let mut o = Obj::default();
    o.put("Name", json!(m.name));
    o.put("DisplayName", json!(m.name));
    o.put("Identity", json!(m.name));
    o.put(
        "ExternalDirectoryObjectId",
        json!(m.external_directory_object_id),
    );
    o.put("WindowsLiveID", json!(m.windows_live_id));
    o.put("PrimarySmtpAddress", json!(m.primary_smtp_address));
    let recipient_type = match m.recipient_type_details.as_str() {
        "UserMailbox" | "SharedMailbox" => "UserMailbox",
        "GuestMailUser" => "MailUser",
        "RoleGroup" => "Group",
        _ => "User",
    };
    o.put("RecipientType", json!(recipient_type));
    o.put("RecipientTypeDetails", json!(m.recipient_type_details));
    o
}

fn refuse_unimplemented(call: &Call<'_>) -> Result<(), Response> {
    for p in ["ReadFromDomainController", "ShowPartnerLinked", "WhatIf"] {
        if call.param(p).is_some_and(|v| *v != Value::Bool(false)) {
            return Err(exo_error(
                400,
                "BadRequest",
                "Invalid Operation",
                "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException",
                &format!("emulator: -{p} is not implemented"),
                None,
                true,
                call.ctx,
            ));
        }
    }
    Ok(())
}

fn mandatory(call: &Call<'_>, name: &str) -> Result<String, Response> {
    call.param_str(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException", &format!("Cannot process command because of one or more missing mandatory parameters: {name}."), None, true, call.ctx)
    })
}

pub(super) fn get_role_groups(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    refuse_unimplemented(call)?;
    let st = lock(&call.shared.state);
    match call.param_str("Identity") {
        Some(id) => {
            let i = find(&st.role_groups, &id).ok_or_else(|| call.not_found(&id))?;
            Ok(vec![render_group(&st.role_groups[i])])
        }
        None => Ok(st.role_groups.iter().map(render_group).collect()),
    }
}

pub(super) fn get_role_group_members(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    refuse_unimplemented(call)?;
    let id = mandatory(call, "Identity")?;
    let st = lock(&call.shared.state);
    let i = find(&st.role_groups, &id).ok_or_else(|| call.not_found(&id))?;
    Ok(st.role_groups[i]
        .members
        .iter()
        .map(render_member)
        .collect())
}

/// A recipient a `-Member` value names (name, UPN, SMTP address, alias or object id), as
/// the member Exchange would list.
fn resolve(st: &TenantState, identity: &str) -> Option<RoleGroupMember> {
    if let Some(m) = st.find_mailbox(identity) {
        return Some(RoleGroupMember {
            name: m.display_name.clone(),
            external_directory_object_id: m.external_directory_object_id.clone(),
            windows_live_id: m.user_principal_name.clone(),
            primary_smtp_address: m.primary_smtp_address.clone(),
            recipient_type_details: m.recipient_type_details.clone(),
        });
    }
    let u = st.user(identity).or_else(|| {
        st.users
            .iter()
            .find(|u| u.display_name.eq_ignore_ascii_case(identity.trim()))
    })?;
    let guest = u.user_type == "Guest";
    Some(RoleGroupMember {
        name: u.display_name.clone(),
        external_directory_object_id: u.id.clone(),
        windows_live_id: u.user_principal_name.clone(),
        primary_smtp_address: u.mail.clone().unwrap_or_default(),
        recipient_type_details: if guest { "GuestMailUser" } else { "User" }.into(),
    })
}

fn same_member(m: &RoleGroupMember, who: &RoleGroupMember, asked: &str) -> bool {
    let asked = asked.trim();
    m.name.eq_ignore_ascii_case(asked)
        || (!m.windows_live_id.is_empty() && m.windows_live_id.eq_ignore_ascii_case(asked))
        || (!m.external_directory_object_id.is_empty()
            && m.external_directory_object_id == who.external_directory_object_id)
        || m.name.eq_ignore_ascii_case(&who.name)
}

/// `Remove-RoleGroupMember` / `Add-RoleGroupMember`.
pub(super) fn change_member(call: &Call<'_>) -> Result<(), Response> {
    refuse_unimplemented(call)?;
    let id = mandatory(call, "Identity")?;
    let member = mandatory(call, "Member")?;
    let mut st = lock(&call.shared.state);
    let i = find(&st.role_groups, &id).ok_or_else(|| call.not_found(&id))?;
    // A member that is a role group (TenantAdmins_…) resolves by its name alone.
    let who = resolve(&st, &member)
        .or_else(|| {
            st.role_groups[i]
                .members
                .iter()
                .find(|m| m.name.eq_ignore_ascii_case(member.trim()))
                .cloned()
        })
        .ok_or_else(|| call.not_found(&member))?;
    if !st.role_groups[i].managed_by.is_empty() && !call.switch("BypassSecurityGroupManagerCheck") {
        // UNVERIFIED: the exception type over the REST endpoint; the text is Exchange's.
        return Err(exo_error(400, "BadRequest", "Error executing cmdlet", "Microsoft.Exchange.Configuration.Tasks.TaskException", "You don't have sufficient permissions. This operation can only be performed by a manager of the group.", None, false, call.ctx));
    }
    let group = &mut st.role_groups[i];
    let at = group
        .members
        .iter()
        .position(|m| same_member(m, &who, &member));
    match (call.cmdlet, at) {
        ("Remove-RoleGroupMember", Some(at)) => {
            group.members.remove(at);
        }
        ("Remove-RoleGroupMember", None) => {
            // UNVERIFIED: the exception type; the message is the one Exchange shows.
            return Err(exo_error(
                400,
                "BadRequest",
                "Error executing cmdlet",
                "Microsoft.Exchange.Management.Tasks.MemberNotFoundException",
                &format!(
                    "The recipient \"{member}\" isn't a member of the group \"{}\".",
                    group.name
                ),
                None,
                false,
                call.ctx,
            ));
        }
        (_, Some(_)) => {
            return Err(exo_error(
                400,
                "BadRequest",
                "Error executing cmdlet",
                "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException",
                &format!(
                    "The recipient \"{member}\" is already a member of the group \"{}\".",
                    group.name
                ),
                None,
                false,
                call.ctx,
            ));
        }
        (_, None) => group.members.push(who),
    }
    Ok(())
}
