//! The app-role id (GUID) of every application permission the permission table names, in
//! one place: the Entra app manifest (`requiredResourceAccess`) and the `az ad app
//! permission add` commands need ids, not names. `setup --apply` does not use this table:
//! it reads each id from the resource service principal's `appRoles`, so a wrong entry
//! here cannot grant the wrong permission through `--apply`.
//!
//! Source: the "Identifier" (Application column) of each permission in the Microsoft Graph
//! permissions reference, <https://learn.microsoft.com/graph/permissions-reference>, which
//! also says how to read them live:
//! `GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=appRoles`.
//! Exchange.ManageAsApp is an app role of Office 365 Exchange Online:
//! <https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>.
//! Each id below was checked against published copies of those `appRoles` (a test checks
//! every permission `crate::permission`'s table names has an entry).

/// `resourceAppId` of Microsoft Graph.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// `resourceAppId` of Office 365 Exchange Online.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// Microsoft Graph application permissions (app roles): name → id.
pub const GRAPH_APP_ROLES: &[(&str, &str)] = &[
    ("Domain.Read.All", "dbb9058a-0e50-45d7-ae91-66909b5d4664"),
    (
        "Domain.ReadWrite.All",
        "7e05723c-0bb0-42da-be95-ae9f08a6e53c",
    ),
    (
        "UserAuthenticationMethod.Read.All",
        "38d9df27-64da-44fd-b7c5-a6fbac20248f",
    ),
    (
        "UserAuthenticationMethod.ReadWrite.All",
        "50483e42-d915-4231-9639-7fdb7fd190e5",
    ),
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
    ),
    (
        "DelegatedPermissionGrant.ReadWrite.All",
        "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
    ),
    (
        "Policy.ReadWrite.Authorization",
        "fb221be6-99f2-473f-bd32-01c6a0e9ca3b",
    ),
    (
        "Policy.ReadWrite.ConsentRequest",
        "999f8c63-0a38-4f1b-91fd-ed1947bdd1a9",
    ),
    ("AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da"),
    // The two investigation reads (`setup --with-investigation`): no Microsoft page in
    // reach showed these entries; both ids match the published `appRoles` of the Graph
    // service principal (<https://github.com/merill/microsoft-info/blob/main/_info/GraphAppRoles.csv>,
    // AuditLogsQuery.Read.All) and
    // <https://graphpermissions.merill.net/permission/IdentityRiskEvent.Read.All>, which
    // mirrors the permissions reference's Identifier row.
    (
        "AuditLogsQuery.Read.All",
        "5e1e9171-754d-478c-812c-f1755a9a4c2d",
    ),
    (
        "IdentityRiskEvent.Read.All",
        "6e472fd1-ad78-48da-a0f0-97ab2c6b769e",
    ),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    (
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    ),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    (
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
    ),
    (
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    ),
    (
        "GroupMember.ReadWrite.All",
        "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
    ),
    (
        "IdentityRiskyUser.Read.All",
        "dc5007c0-2d7d-4c42-879c-2dab87571379",
    ),
    (
        "MailboxSettings.Read",
        "40f97065-369a-49f4-947c-6a255697ae91",
    ),
    (
        "MailboxSettings.ReadWrite",
        "6931bccd-447a-43d1-b442-00a195474933",
    ),
    (
        "Organization.Read.All",
        "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    ),
    (
        "Organization.ReadWrite.All",
        "292d869f-3427-49a8-9dab-8c70152b74e9",
    ),
    ("Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68"),
    (
        "Policy.ReadWrite.ApplicationConfiguration",
        "be74164b-cff1-491c-8741-e671cb536e13",
    ),
    (
        "Policy.ReadWrite.AuthenticationMethod",
        "29c18626-4985-4dcd-85c0-193eef327366",
    ),
    (
        "Policy.ReadWrite.ConditionalAccess",
        "01c0a623-fc9b-48e9-b794-0756f8e8f067",
    ),
    (
        "Policy.ReadWrite.SecurityDefaults",
        "1c6e93a6-28e2-4cbb-9f64-1a46a821124d",
    ),
    (
        "RoleAssignmentSchedule.Read.Directory",
        "d5fe8ce8-684c-4c83-a52c-46e882ce4be1",
    ),
    (
        "RoleAssignmentSchedule.ReadWrite.Directory",
        "dd199f4a-f148-40a4-a2ec-f0069cc799ec",
    ),
    (
        "RoleEligibilitySchedule.Read.Directory",
        "ff278e11-4a33-4d0c-83d2-d01dc58929a5",
    ),
    (
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "fee28b28-e1f3-4841-818e-2704dc62245f",
    ),
    (
        "RoleManagement.Read.All",
        "c7fbd983-d9aa-4fa7-84b8-17382c103bc4",
    ),
    (
        "RoleManagement.Read.Directory",
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
    ),
    (
        "User-PasswordProfile.ReadWrite.All",
        "cc117bb9-00cf-4eb8-b580-ea2a878fe8f7",
    ),
    (
        "User.EnableDisableAccount.All",
        "3011c876-62b7-4ada-afa2-506cbbecc68c",
    ),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"),
    (
        "User.RevokeSessions.All",
        "77f3a031-c388-4f99-b373-dc68676a979e",
    ),
];

/// Office 365 Exchange Online application permissions: name → id.
pub const EXCHANGE_APP_ROLES: &[(&str, &str)] = &[(
    "Exchange.ManageAsApp",
    "dc50a0fb-09a3-484d-be87-e023b12c6440",
)];

/// The app-role id of a Microsoft Graph application permission.
pub fn graph(name: &str) -> Option<&'static str> {
    find(GRAPH_APP_ROLES, name)
}

/// The app-role id of an Office 365 Exchange Online application permission.
pub fn exchange(name: &str) -> Option<&'static str> {
    find(EXCHANGE_APP_ROLES, name)
}

fn find(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::actions::ActionKind;
    use crate::permission::{AnyOf, GRAPH_ENDPOINTS, MANAGE_AS_APP};
    use crate::snapshot::source::SOURCES;

    /// Every permission name the permission table holds: each source's and each fix
    /// action's requirements (all alternatives, not only the least-privileged one) and
    /// every Graph endpoint's.
    fn every_named_permission() -> Vec<&'static str> {
        let mut lists: Vec<AnyOf> = Vec::new();
        for def in SOURCES.iter() {
            lists.extend(def.needs.graph.iter().copied());
        }
        for kind in ActionKind::ALL {
            let n = kind.needs();
            lists.extend(n.graph.iter().copied());
            if let Some((graph, _)) = n.variant {
                lists.extend(graph.iter().copied());
            }
        }
        for e in GRAPH_ENDPOINTS {
            lists.extend(e.needs.iter().copied());
        }
        for n in crate::permission::INVESTIGATION {
            lists.extend(n.graph.iter().copied());
        }
        let mut names: Vec<&str> = lists.into_iter().flatten().copied().collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Higher alternatives the table names whose app-role ids could not be verified in a
    /// published `appRoles` copy. Setup grants the least-privileged permission of each
    /// requirement, never these (checked below), so the manifest never needs their ids.
    const UNVERIFIED_ALTERNATIVES: &[&str] = &[
        "Domain-InternalFederation.Read.All",
        "Domain-InternalFederation.ReadWrite.All",
    ];

    #[test]
    fn every_permission_the_table_names_has_an_app_role_id() {
        let names = every_named_permission();
        assert!(names.len() > 10, "{names:?}");
        for def in SOURCES.iter() {
            for any in def.needs.graph {
                let least = any.first().copied().unwrap_or_default();
                assert!(!UNVERIFIED_ALTERNATIVES.contains(&least), "{least}");
            }
        }
        for kind in ActionKind::ALL {
            for any in kind.needs().graph {
                let least = any.first().copied().unwrap_or_default();
                assert!(!UNVERIFIED_ALTERNATIVES.contains(&least), "{least}");
            }
        }
        let missing: Vec<&str> = names
            .into_iter()
            .filter(|n| graph(n).is_none() && !UNVERIFIED_ALTERNATIVES.contains(n))
            .collect();
        assert!(
            missing.is_empty(),
            "add the app-role id of {missing:?} to src/setup/app_roles.rs (from https://learn.microsoft.com/graph/permissions-reference)"
        );
        assert_eq!(
            exchange(MANAGE_AS_APP),
            Some("dc50a0fb-09a3-484d-be87-e023b12c6440")
        );
    }

    #[test]
    fn ids_are_unique_lowercase_guids() {
        let mut ids: Vec<&str> = GRAPH_APP_ROLES
            .iter()
            .chain(EXCHANGE_APP_ROLES)
            .map(|(_, id)| *id)
            .collect();
        for id in &ids {
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert!(
                id.chars()
                    .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
                "{id}"
            );
        }
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "an app-role id appears twice");
    }
}
