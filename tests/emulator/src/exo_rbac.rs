//! Exchange management role assignments and application access policies (a child module
//! of `exchange`, which dispatches to it). State lives in `TenantState::exo_rbac`, filled
//! from the snapshot's `exchange_role_assignments` and `application_access_policies`, plus
//! the built-in assignments of role groups and of the default role assignment policy that
//! every tenant has (the collector must leave those out).
//!
//! Parameters as Microsoft documents them for Exchange Online (on-premises-only parameters
//! such as `-DomainController` are refused by the dispatcher; documented parameters the
//! emulator does not implement are refused rather than ignored):
//! - `Get-ManagementRoleAssignment`, parameter sets Identity (`[[-Identity]]`) and
//!   RoleAssignee (`-RoleAssignee`, `-AssignmentMethod`, `-Role`); `-Identity` and
//!   `-RoleAssignee` exclude each other, `-AssignmentMethod` needs `-RoleAssignee`;
//!   filters `-Enabled`, `-Delegating`, `-RoleAssigneeType`; no `-ResultSize`.
//!   <https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment>
//! - `Remove-ManagementRoleAssignment [-Identity] (mandatory) [-Confirm] [-Force] [-WhatIf]`
//!   <https://learn.microsoft.com/powershell/module/exchange/remove-managementroleassignment>
//! - `Get-ApplicationAccessPolicy [[-Identity]]`
//!   <https://learn.microsoft.com/powershell/module/exchange/get-applicationaccesspolicy>
//!   (Microsoft replaces these policies with RBAC for Applications:
//!   <https://learn.microsoft.com/exchange/permissions-exo/application-rbac>).
//!
//! Who may run them is the dispatcher's `role_allows`: reads under Global Reader (View-Only
//! Organization Management), `Remove-ManagementRoleAssignment` only with Role Management
//! (Organization Management: Exchange or Global Administrator).

use serde_json::{json, Value};

use super::{lock, Call, Obj};
use crate::http::Response;
use crate::respond::exo_error;

/// A management role assignment as `Get-ManagementRoleAssignment` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagementRoleAssignment {
    pub name: String,
    pub guid: String,
    pub role: String,
    pub assignee: String,
    /// `User`, `ServicePrincipal`, `SecurityGroup`, `RoleGroup`, `RoleAssignmentPolicy`.
    pub assignee_type: String,
    pub enabled: bool,
    pub delegating: bool,
    pub recipient_write_scope: Option<String>,
    pub custom_recipient_write_scope: Option<String>,
    pub custom_resource_scope: Option<String>,
    pub recipient_organizational_unit_scope: Option<String>,
    pub recipient_administrative_unit_scope: Option<String>,
    pub when_created: Option<String>,
    pub when_changed: Option<String>,
}

/// An application access policy as `Get-ApplicationAccessPolicy` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationAccessPolicy {
    pub identity: String,
    pub app_id: String,
    pub access_right: String,
    pub scope_name: Option<String>,
    pub scope_identity: Option<String>,
    pub description: Option<String>,
    pub is_valid: bool,
}

/// The tenant's role assignments and application access policies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExoRbac {
    pub assignments: Vec<ManagementRoleAssignment>,
    pub policies: Vec<ApplicationAccessPolicy>,
}

/// Assignments every Exchange Online organisation has (role, assignee, type, delegating):
/// to role groups and to the default role assignment policy.
const BUILT_IN: [(&str, &str, &str, bool); 5] = [
    (
        "Role Management",
        "Organization Management",
        "RoleGroup",
        true,
    ),
    (
        "Role Management",
        "Organization Management",
        "RoleGroup",
        false,
    ),
    ("Mailbox Search", "Discovery Management", "RoleGroup", false),
    (
        "Mail Recipients",
        "Recipient Management",
        "RoleGroup",
        false,
    ),
    (
        "MyBaseOptions",
        "Default Role Assignment Policy",
        "RoleAssignmentPolicy",
        false,
    ),
];

const ASSIGNEE_TYPES: [&str; 11] = [
    "User",
    "SecurityGroup",
    "RoleAssignmentPolicy",
    "MailboxPlan",
    "ForeignSecurityPrincipal",
    "RoleGroup",
    "LinkedRoleGroup",
    "Computer",
    "PartnerLinkedRoleGroup",
    "ServicePrincipal",
    "LinkedUser",
];

const ASSIGNMENT_METHODS: [&str; 4] = [
    "Direct",
    "SecurityGroup",
    "RoleGroup",
    "RoleAssignmentPolicy",
];

/// Documented parameters of Get-ManagementRoleAssignment the emulator does not implement.
const UNIMPLEMENTED: [&str; 14] = [
    "GetEffectiveUsers",
    "ConfigWriteScope",
    "CustomConfigWriteScope",
    "CustomRecipientWriteScope",
    "Exclusive",
    "ExclusiveConfigWriteScope",
    "ExclusiveRecipientWriteScope",
    "RecipientAdministrativeUnitScope",
    "RecipientGroupScope",
    "RecipientOrganizationalUnitScope",
    "RecipientWriteScope",
    "WritableDatabase",
    "WritableRecipient",
    "WritableServer",
];

pub(super) fn parameters_of(cmdlet: &str) -> Option<&'static [&'static str]> {
    Some(match cmdlet {
        "Get-ManagementRoleAssignment" => &[
            "Identity",
            "Role",
            "RoleAssignee",
            "RoleAssigneeType",
            "AssignmentMethod",
            "Enabled",
            "Delegating",
            "GetEffectiveUsers",
            "ConfigWriteScope",
            "CustomConfigWriteScope",
            "CustomRecipientWriteScope",
            "Exclusive",
            "ExclusiveConfigWriteScope",
            "ExclusiveRecipientWriteScope",
            "RecipientAdministrativeUnitScope",
            "RecipientGroupScope",
            "RecipientOrganizationalUnitScope",
            "RecipientWriteScope",
            "WritableDatabase",
            "WritableRecipient",
            "WritableServer",
        ],
        "Remove-ManagementRoleAssignment" => &["Identity", "Confirm", "Force", "WhatIf"],
        "Get-ApplicationAccessPolicy" => &["Identity"],
        _ => return None,
    })
}

pub(super) const CMDLETS: [&str; 3] = [
    "Get-ManagementRoleAssignment",
    "Remove-ManagementRoleAssignment",
    "Get-ApplicationAccessPolicy",
];

fn text(e: &Value, k: &str) -> Option<String> {
    e.get(k)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The snapshot's direct assignments and access policies, after the built-ins.
pub fn from_snapshot(snap: &Value) -> ExoRbac {
    let mut assignments: Vec<ManagementRoleAssignment> = BUILT_IN
        .iter()
        .enumerate()
        .map(|(i, (role, assignee, kind, delegating))| {
            let suffix = if *delegating { "Delegating" } else { "" };
            ManagementRoleAssignment {
                name: format!("{role}-{assignee}{suffix}"),
                guid: format!("5a1e0c2d-0000-4000-8000-{i:012x}"),
                role: (*role).to_owned(),
                assignee: (*assignee).to_owned(),
                assignee_type: (*kind).to_owned(),
                enabled: true,
                delegating: *delegating,
                recipient_write_scope: Some("Organization".into()),
                custom_recipient_write_scope: None,
                custom_resource_scope: None,
                recipient_organizational_unit_scope: None,
                recipient_administrative_unit_scope: None,
                when_created: Some("2019-04-02T09:00:00Z".into()),
                when_changed: Some("2019-04-02T09:00:00Z".into()),
            }
        })
        .collect();
    let list = |key: &str| {
        snap.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for e in list("exchange_role_assignments") {
        let (Some(name), Some(role), Some(assignee)) =
            (text(&e, "id"), text(&e, "role"), text(&e, "assignee"))
        else {
            continue;
        };
        let n = assignments.len();
        assignments.push(ManagementRoleAssignment {
            guid: text(&e, "guid").unwrap_or_else(|| format!("5a1e0c2d-0000-4000-8000-{n:012x}")),
            name,
            role,
            assignee,
            assignee_type: text(&e, "assignee_type").unwrap_or_else(|| "User".into()),
            enabled: e.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            delegating: false,
            recipient_write_scope: text(&e, "recipient_write_scope"),
            custom_recipient_write_scope: text(&e, "custom_recipient_write_scope"),
            custom_resource_scope: text(&e, "custom_resource_scope"),
            recipient_organizational_unit_scope: text(&e, "recipient_organizational_unit_scope"),
            recipient_administrative_unit_scope: text(&e, "recipient_administrative_unit_scope"),
            when_created: text(&e, "when_created"),
            when_changed: text(&e, "when_changed"),
        });
    }
    let policies = list("application_access_policies")
        .iter()
        .filter_map(|e| {
            Some(ApplicationAccessPolicy {
                identity: text(e, "id")?,
                app_id: text(e, "app_id")?,
                access_right: text(e, "access_right")?,
                scope_name: text(e, "scope_name"),
                scope_identity: text(e, "scope_identity"),
                description: text(e, "description"),
                is_valid: e.get("is_valid").and_then(Value::as_bool).unwrap_or(true),
            })
        })
        .collect();
    ExoRbac {
        assignments,
        policies,
    }
}

fn opt(o: &mut Obj, k: &str, v: &Option<String>) {
    o.put(k, v.as_ref().map_or(Value::Null, |v| json!(v)));
}

fn render_assignment(a: &ManagementRoleAssignment) -> Obj {
    let mut o = Obj::default();
    o.put("Name", json!(a.name));
    o.put("Identity", json!(a.name));
    o.put("Role", json!(a.role));
    o.put("RoleAssignee", json!(a.assignee));
    o.put("RoleAssigneeName", json!(a.assignee));
    o.put("RoleAssigneeType", json!(a.assignee_type));
    o.put("AssignmentMethod", json!("Direct"));
    o.put(
        "RoleAssignmentDelegationType",
        json!(if a.delegating {
            "DelegatingOrgWide"
        } else {
            "Regular"
        }),
    );
    o.put("Enabled", json!(a.enabled));
    opt(&mut o, "RecipientWriteScope", &a.recipient_write_scope);
    opt(
        &mut o,
        "CustomRecipientWriteScope",
        &a.custom_recipient_write_scope,
    );
    opt(&mut o, "CustomResourceScope", &a.custom_resource_scope);
    opt(
        &mut o,
        "RecipientOrganizationalUnitScope",
        &a.recipient_organizational_unit_scope,
    );
    opt(
        &mut o,
        "RecipientAdministrativeUnitScope",
        &a.recipient_administrative_unit_scope,
    );
    for (k, v) in [
        ("WhenCreatedUTC", &a.when_created),
        ("WhenChangedUTC", &a.when_changed),
    ] {
        match v {
            Some(v) => o.date(k, v),
            None => o.put(k, Value::Null),
        }
    }
    o.guid("Guid", &a.guid);
    o.guid("ExchangeObjectId", &a.guid);
    o
}

fn render_policy(p: &ApplicationAccessPolicy) -> Obj {
    let mut o = Obj::default();
    o.put("Identity", json!(p.identity));
    o.put("AppId", json!(p.app_id));
    opt(&mut o, "ScopeName", &p.scope_name);
    opt(&mut o, "ScopeIdentity", &p.scope_identity);
    opt(&mut o, "Description", &p.description);
    o.put("AccessRight", json!(p.access_right));
    o.put("ShardType", json!("All"));
    o.put("IsValid", json!(p.is_valid));
    o
}

fn param_error(call: &Call<'_>, message: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Invalid Operation",
        "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException",
        message,
        None,
        true,
        call.ctx,
    )
}

/// A `[bool]` parameter: `true`/`false` or their PowerShell spellings.
fn boolean(call: &Call<'_>, name: &str) -> Result<Option<bool>, Response> {
    match call.param(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim_start_matches('$').to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(param_error(call, &format!("Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{s}\" to type \"System.Boolean\"."))),
        },
        Some(other) => Err(param_error(call, &format!("Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{other}\" to type \"System.Boolean\"."))),
    }
}

pub(super) fn get_role_assignments(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    if let Some(p) = UNIMPLEMENTED.iter().find(|p| call.param(p).is_some()) {
        return Err(param_error(
            call,
            &format!("emulator: -{p} is not implemented"),
        ));
    }
    let identity = call.param_str("Identity");
    let assignee = call.param_str("RoleAssignee");
    if identity.is_some() && (assignee.is_some() || call.param("AssignmentMethod").is_some()) {
        return Err(exo_error(
            400,
            "BadRequest",
            "Invalid Operation",
            "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
            "Parameter set cannot be resolved using the specified named parameters.",
            None,
            true,
            call.ctx,
        ));
    }
    if call.param("AssignmentMethod").is_some() && assignee.is_none() {
        // "You must specify a value with the RoleAssignee parameter if you use the
        // AssignmentMethod parameter."
        return Err(param_error(
            call,
            "The AssignmentMethod parameter can only be used with the RoleAssignee parameter.",
        ));
    }
    let methods: Vec<&str> = match call.param("AssignmentMethod") {
        None => Vec::new(),
        Some(v) => {
            let asked: Vec<String> = match v {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Value::String(s) => s.split(',').map(|x| x.trim().to_owned()).collect(),
                _ => Vec::new(),
            };
            let mut out = Vec::new();
            for a in asked {
                match ASSIGNMENT_METHODS
                    .iter()
                    .find(|m| m.eq_ignore_ascii_case(&a))
                {
                    Some(m) => out.push(*m),
                    None => return Err(call.invalid_enum(
                        "AssignmentMethod",
                        &a,
                        "Microsoft.Exchange.Data.Directory.SystemConfiguration.AssignmentMethod",
                        &ASSIGNMENT_METHODS,
                    )),
                }
            }
            out
        }
    };
    let assignee_type = call.enum_value(
        "RoleAssigneeType",
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.RoleAssigneeType",
        &ASSIGNEE_TYPES,
    )?;
    let enabled = boolean(call, "Enabled")?;
    let delegating = boolean(call, "Delegating")?;
    let role = call.param_str("Role");
    let st = lock(&call.shared.state);
    if let Some(r) = &role {
        // -Role names an existing role: an unknown one is an error, not an empty list.
        let known = st
            .exo_rbac
            .assignments
            .iter()
            .any(|a| a.role.eq_ignore_ascii_case(r.trim()));
        if !known {
            return Err(call.not_found(r));
        }
    }
    let out: Vec<Obj> = st
        .exo_rbac
        .assignments
        .iter()
        .filter(|a| {
            identity.as_deref().is_none_or(|id| {
                a.name.eq_ignore_ascii_case(id.trim()) || a.guid.eq_ignore_ascii_case(id.trim())
            })
        })
        .filter(|a| {
            // `-RoleAssignee` is an identity parameter: the service resolves a name, a UPN
            // or an object id to the assignee, so each of them finds the assignment.
            assignee.as_deref().is_none_or(|x| {
                let x = x.trim();
                a.assignee.eq_ignore_ascii_case(x)
                    || st.users.iter().any(|u| {
                        u.display_name.eq_ignore_ascii_case(&a.assignee)
                            && (u.user_principal_name.eq_ignore_ascii_case(x)
                                || u.id.eq_ignore_ascii_case(x))
                    })
            })
        })
        // Every assignment here is direct to its assignee.
        .filter(|_| methods.is_empty() || methods.contains(&"Direct"))
        .filter(|a| {
            role.as_deref()
                .is_none_or(|r| a.role.eq_ignore_ascii_case(r.trim()))
        })
        .filter(|a| assignee_type.is_none_or(|t| a.assignee_type == t))
        .filter(|a| enabled.is_none_or(|e| a.enabled == e))
        .filter(|a| delegating.is_none_or(|d| a.delegating == d))
        .map(render_assignment)
        .collect();
    if let (Some(id), true) = (&identity, out.is_empty()) {
        return Err(call.not_found(id));
    }
    Ok(out)
}

pub(super) fn get_access_policies(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let st = lock(&call.shared.state);
    match call.param_str("Identity") {
        Some(id) => st
            .exo_rbac
            .policies
            .iter()
            .find(|p| p.identity.eq_ignore_ascii_case(id.trim()))
            .map(|p| vec![render_policy(p)])
            .ok_or_else(|| call.not_found(&id)),
        None => Ok(st.exo_rbac.policies.iter().map(render_policy).collect()),
    }
}

/// `Remove-ManagementRoleAssignment`.
pub(super) fn remove_role_assignment(call: &Call<'_>) -> Result<(), Response> {
    if call
        .param("WhatIf")
        .is_some_and(|v| *v != Value::Bool(false))
    {
        return Err(param_error(call, "emulator: -WhatIf is not implemented"));
    }
    let id = call
        .param_str("Identity")
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            param_error(
                call,
                "Cannot process command because of one or more missing mandatory parameters: Identity.",
            )
        })?;
    let mut st = lock(&call.shared.state);
    let at = st
        .exo_rbac
        .assignments
        .iter()
        .position(|a| {
            a.name.eq_ignore_ascii_case(id.trim()) || a.guid.eq_ignore_ascii_case(id.trim())
        })
        .ok_or_else(|| call.not_found(&id))?;
    st.exo_rbac.assignments.remove(at);
    Ok(())
}
