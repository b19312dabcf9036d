//! Directory roles of a synthetic tenant: the built-in role definitions, standing and
//! group-based assignments, and eligible (PIM) assignments.

use chrono::Duration;

use super::{Generator, COLLECTOR_PRINCIPAL_ID};
use crate::snapshot::model::*;

/// Built-in roles as (template id, name, privileged). For built-in roles id == template id.
pub(super) const ROLES: [(&str, &str, bool); 22] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        true,
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
        true,
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
        true,
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
        true,
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
        true,
    ),
    (
        "31392ffb-586c-42d1-9346-e59415a2cc4e",
        "Exchange Recipient Administrator",
        false,
    ),
    (
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
        true,
    ),
    (
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "User Administrator",
        true,
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
        true,
    ),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
        true,
    ),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
        true,
    ),
    (
        "0526716b-113d-4c15-b2c8-68e3c22b9f80",
        "Authentication Policy Administrator",
        true,
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
        true,
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        true,
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
        true,
    ),
    (
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        "Billing Administrator",
        false,
    ),
    (
        "17315797-102d-40b4-93e0-432062caca18",
        "Compliance Administrator",
        false,
    ),
    (
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
        true,
    ),
    (
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Global Reader",
        false,
    ),
    (
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Security Reader",
        false,
    ),
    (
        "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Reports Reader",
        false,
    ),
    (
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Directory Readers",
        false,
    ),
];

pub(super) const GLOBAL_ADMIN: &str = ROLES[0].0;
pub(super) const PRIVILEGED_ROLE_ADMIN: &str = ROLES[1].0;
pub(super) const SECURITY_ADMIN: &str = ROLES[3].0;
pub(super) const EXCHANGE_ADMIN: &str = ROLES[4].0;
pub(super) const USER_ADMIN: &str = ROLES[7].0;
pub(super) const HELPDESK_ADMIN: &str = ROLES[8].0;
pub(super) const CA_ADMIN: &str = ROLES[12].0;
pub(super) const BILLING_ADMIN: &str = ROLES[15].0;
pub(super) const GLOBAL_READER: &str = ROLES[18].0;
pub(super) const REPORTS_READER: &str = ROLES[20].0;

impl Generator {
    fn user_assignment(&mut self, role: &str, user: &User) -> RoleAssignment {
        RoleAssignment {
            id: self.rng.guid(),
            role_definition_id: role.to_owned(),
            principal_id: user.id.clone(),
            principal_type: PrincipalType::User,
            principal_name: Some(user.user_principal_name.clone()),
            directory_scope_id: "/".to_owned(),
            group_member_ids: Vec::new(),
            end_date_time: None,
        }
    }

    fn group_assignment(&mut self, role: &str, name: &str, members: Vec<String>) -> RoleAssignment {
        RoleAssignment {
            id: self.rng.guid(),
            role_definition_id: role.to_owned(),
            principal_id: self.rng.guid(),
            principal_type: PrincipalType::Group,
            principal_name: Some(name.to_owned()),
            directory_scope_id: "/".to_owned(),
            group_member_ids: members,
            end_date_time: None,
        }
    }

    /// Distinct random members (indexes into `users`), at most `count`.
    pub(super) fn sample<'a>(
        &mut self,
        users: &'a [User],
        members: &[usize],
        count: usize,
    ) -> Vec<&'a User> {
        let count = count.min(members.len());
        let mut chosen: Vec<usize> = Vec::with_capacity(count);
        while chosen.len() < count {
            let idx = members[self.rng.below(members.len())];
            if !chosen.contains(&idx) {
                chosen.push(idx);
            }
        }
        chosen.into_iter().map(|i| &users[i]).collect()
    }

    pub(super) fn roles(&mut self, users: &[User], members: &[usize]) -> Roles {
        let definitions = ROLES
            .iter()
            .map(|(id, name, privileged)| RoleDefinition {
                id: (*id).to_owned(),
                display_name: (*name).to_owned(),
                template_id: Some((*id).to_owned()),
                is_built_in: true,
                is_privileged: *privileged,
            })
            .collect();
        let n = members.len();
        let mut assignments = Vec::new();
        let mut eligible = Vec::new();
        let global_admins = 4 + self.rng.below(3);
        for user in self.sample(users, members, global_admins) {
            assignments.push(self.user_assignment(GLOBAL_ADMIN, user));
        }
        for (role, count) in [
            (PRIVILEGED_ROLE_ADMIN, 1),
            (SECURITY_ADMIN, 2 + n / 20_000),
            (USER_ADMIN, 2 + n / 10_000),
            (CA_ADMIN, 1),
            (BILLING_ADMIN, 2),
            (REPORTS_READER, 3),
            (GLOBAL_READER, 2),
        ] {
            for user in self.sample(users, members, count) {
                assignments.push(self.user_assignment(role, user));
            }
        }
        // Role-assignable groups: whoever is in them holds the role.
        let exchange_team = self
            .sample(users, members, 3 + n / 25_000)
            .into_iter()
            .map(|u| u.id.clone())
            .collect();
        assignments.push(self.group_assignment(EXCHANGE_ADMIN, "Exchange Admins", exchange_team));
        let helpdesk = self
            .sample(users, members, 4 + n / 2_000)
            .into_iter()
            .map(|u| u.id.clone())
            .collect();
        assignments.push(self.group_assignment(HELPDESK_ADMIN, "Helpdesk", helpdesk));
        // The scanner's own service principal reads the directory.
        assignments.push(RoleAssignment {
            id: self.rng.guid(),
            role_definition_id: GLOBAL_READER.to_owned(),
            principal_id: COLLECTOR_PRINCIPAL_ID.to_owned(),
            principal_type: PrincipalType::ServicePrincipal,
            principal_name: Some("m365guard scanner".to_owned()),
            directory_scope_id: "/".to_owned(),
            group_member_ids: Vec::new(),
            end_date_time: None,
        });
        // PIM: eligible (just-in-time) assignments, some time-bound.
        for (role, count) in [
            (GLOBAL_ADMIN, 2),
            (PRIVILEGED_ROLE_ADMIN, 1),
            (SECURITY_ADMIN, 3),
            (EXCHANGE_ADMIN, 2 + n / 50_000),
        ] {
            for user in self.sample(users, members, count) {
                let mut assignment = self.user_assignment(role, user);
                if self.rng.chance(0.5) {
                    assignment.end_date_time = Some(self.now + Duration::days(180));
                }
                eligible.push(assignment);
            }
        }
        let security_team = self
            .sample(users, members, 3)
            .into_iter()
            .map(|u| u.id.clone())
            .collect();
        eligible.push(self.group_assignment(SECURITY_ADMIN, "SOC Analysts", security_team));
        Roles {
            definitions,
            assignments,
            eligible_assignments: eligible,
        }
    }
}
