//! Identity of a synthetic tenant: users (members, guests, leavers, shared-mailbox
//! accounts) with their MFA registration and per-user MFA state, risky users, and the
//! Conditional Access policies.

use super::roles::{GLOBAL_ADMIN, ROLES};
use super::{Generator, Kind, DOMAIN};
use crate::snapshot::model::*;

impl Generator {
    pub(super) fn user(&mut self, i: usize, kind: Kind) -> User {
        let id = self.rng.guid();
        let (upn, display_name) = match kind {
            Kind::Guest => {
                let domain = *self
                    .rng
                    .pick(&["fabrikam.com", "northwind.example", "gmail.com"]);
                (
                    format!("user{i}_{domain}#EXT#@contoso.onmicrosoft.com"),
                    format!("Guest User {i}"),
                )
            }
            Kind::Shared => (format!("user{i}@{DOMAIN}"), format!("Shared Mailbox {i}")),
            Kind::Member | Kind::Departed => (format!("user{i}@{DOMAIN}"), format!("User {i}")),
        };
        let enabled = matches!(kind, Kind::Member | Kind::Guest);
        // Microsoft leaves disabled accounts out of the registration report.
        let mfa = enabled.then(|| self.mfa_registration());
        let per_user_mfa_state = Some(if kind == Kind::Guest {
            PerUserMfaState::Disabled
        } else {
            let r = self.rng.unit();
            if r < 0.04 {
                PerUserMfaState::Enforced
            } else if r < 0.06 {
                PerUserMfaState::Enabled
            } else {
                PerUserMfaState::Disabled
            }
        });
        let last_sign_in = match kind {
            Kind::Shared => None,
            Kind::Departed => Some(self.days_ago(60, 500)),
            Kind::Member | Kind::Guest => {
                let r = self.rng.unit();
                if r < 0.02 {
                    None
                } else if r < 0.07 {
                    Some(self.days_ago(90, 400))
                } else {
                    Some(self.days_ago(0, 14))
                }
            }
        };
        User {
            id,
            user_principal_name: upn,
            display_name: Some(display_name),
            account_enabled: enabled,
            user_type: if kind == Kind::Guest {
                UserType::Guest
            } else {
                UserType::Member
            },
            mfa,
            per_user_mfa_state,
            last_sign_in,
            on_premises_sync_enabled: kind != Kind::Guest && self.rng.chance(0.4),
        }
    }

    fn mfa_registration(&mut self) -> MfaRegistration {
        if self.rng.chance(0.10) {
            // Not registered: at most a self-service-password-reset email.
            let methods = if self.rng.chance(0.3) {
                vec!["email".to_owned()]
            } else {
                Vec::new()
            };
            return MfaRegistration {
                is_mfa_registered: false,
                is_mfa_capable: false,
                is_admin: false,
                methods,
                default_method: None,
            };
        }
        let mut methods = vec!["microsoftAuthenticatorPush".to_owned()];
        if self.rng.chance(0.5) {
            methods.push("softwareOneTimePasscode".to_owned());
        }
        if self.rng.chance(0.4) {
            methods.push("mobilePhone".to_owned());
        }
        if self.rng.chance(0.08) {
            methods.push("fido2".to_owned());
        }
        if self.rng.chance(0.15) {
            methods.push("windowsHelloForBusiness".to_owned());
        }
        let default_method = if methods.iter().any(|m| m == "mobilePhone") && self.rng.chance(0.2) {
            "mobilePhone"
        } else {
            "microsoftAuthenticatorPush"
        };
        MfaRegistration {
            is_mfa_registered: true,
            is_mfa_capable: true,
            is_admin: false,
            methods,
            default_method: Some(default_method.to_owned()),
        }
    }

    pub(super) fn risky_users(&mut self, users: &[User], members: &[usize]) -> Vec<RiskyUser> {
        let count = 3 + members.len() / 2_000;
        self.sample(users, members, count)
            .into_iter()
            .enumerate()
            .map(|(i, user)| {
                // The first is always high risk, so every tenant has one to find.
                let roll = if i == 0 { 0 } else { self.rng.below(10) };
                let (level, state) = match roll {
                    0 => ("high", "atRisk"),
                    1 => ("high", "confirmedCompromised"),
                    2..=4 => ("medium", "atRisk"),
                    5 | 6 => ("low", "atRisk"),
                    7 => ("none", "remediated"),
                    _ => ("none", "dismissed"),
                };
                RiskyUser {
                    id: user.id.clone(),
                    user_principal_name: user.user_principal_name.clone(),
                    risk_level: level.to_owned(),
                    risk_state: state.to_owned(),
                    risk_detail: Some("none".to_owned()),
                    risk_last_updated: Some(self.days_ago(0, 30)),
                }
            })
            .collect()
    }

    pub(super) fn conditional_access(&mut self, roles: &Roles) -> ConditionalAccess {
        // The break-glass account is the first Global Administrator.
        let break_glass: Vec<String> = roles
            .assignments
            .iter()
            .find(|a| a.role_definition_id == GLOBAL_ADMIN)
            .map(|a| vec![a.principal_id.clone()])
            .unwrap_or_default();
        let all = vec!["All".to_owned()];
        let policy = |id: String, name: &str, state: &str| CaPolicy {
            id,
            display_name: name.to_owned(),
            state: state.to_owned(),
            include_users: all.clone(),
            exclude_users: break_glass.clone(),
            include_groups: Vec::new(),
            exclude_groups: Vec::new(),
            include_roles: Vec::new(),
            exclude_roles: Vec::new(),
            include_applications: all.clone(),
            exclude_applications: Vec::new(),
            client_app_types: vec!["all".to_owned()],
            built_in_controls: vec!["mfa".to_owned()],
            grant_operator: Some("OR".to_owned()),
            authentication_strength: None,
            ..CaPolicy::default()
        };
        // Enforced, as in most enterprise tenants of this size: MFA findings then come from
        // the exclusions and the users without a registered method, a realistic share.
        let mut mfa_all = policy(self.rng.guid(), "Require MFA for all users", "enabled");
        let exempt_group = self.rng.guid();
        mfa_all.exclude_groups = vec![exempt_group.clone()];
        let mut legacy = policy(self.rng.guid(), "Block legacy authentication", "enabled");
        legacy.client_app_types = vec!["exchangeActiveSync".to_owned(), "other".to_owned()];
        legacy.built_in_controls = vec!["block".to_owned()];
        let mut admins = policy(self.rng.guid(), "Require MFA for admins", "enabled");
        admins.include_users = Vec::new();
        admins.include_roles = ROLES
            .iter()
            .filter(|r| r.2)
            .map(|r| r.0.to_owned())
            .collect();
        admins.authentication_strength = Some("Phishing-resistant MFA".to_owned());
        admins.built_in_controls = Vec::new();
        let mut devices = policy(
            self.rng.guid(),
            "Require compliant device for Office 365",
            "disabled",
        );
        devices.include_applications = vec!["Office365".to_owned()];
        devices.built_in_controls = vec!["compliantDevice".to_owned()];
        ConditionalAccess {
            policies: vec![mfa_all, legacy, admins, devices],
            // The exemption group exists and is empty (an exemption list kept for
            // emergencies); no named locations.
            named_locations: Vec::new(),
            groups: vec![CaGroup {
                id: exempt_group,
                display_name: Some("CA-MFA-Exemptions".to_owned()),
                member_ids: Vec::new(),
                nested_group_ids: Vec::new(),
                not_found: false,
            }],
        }
    }
}

/// `auth_methods` and `federation` as a quiet tenant has them: every privileged user has
/// the Microsoft Authenticator app registered a year ago (nothing for
/// `auth_method_suspicious`), and the verified domains are managed (nothing for
/// `federation_untrusted_issuer`). Both sources are `ok`.
pub(super) fn add_auth_methods_and_domains(
    snapshot: &mut Snapshot,
    now: chrono::DateTime<chrono::Utc>,
) {
    let privileged = crate::collect::privileged_user_ids(snapshot);
    let registered = now - chrono::Duration::days(365);
    let methods: Vec<AuthMethod> = snapshot
        .users
        .iter()
        .filter(|u| privileged.contains(&u.id))
        .map(|u| AuthMethod {
            id: format!("{}/{}", u.id, "a0000000-0000-4000-8000-000000000001"),
            user_id: u.id.clone(),
            user_principal_name: u.user_principal_name.clone(),
            method_id: "a0000000-0000-4000-8000-000000000001".into(),
            method_type: "microsoft_authenticator".into(),
            created_date_time: Some(registered),
            phone_number: None,
            phone_type: None,
            display_name: Some("Phone".into()),
            email_address: None,
        })
        .collect();
    let domains: Vec<Domain> = snapshot
        .tenant
        .verified_domains
        .iter()
        .map(|d| Domain {
            id: d.clone(),
            is_verified: true,
            authentication_type: "Managed".into(),
            federation: None,
        })
        .collect();
    let ok = |items: usize| SourceStatus {
        status: SourceState::Ok,
        reason: None,
        items: items as u64,
    };
    snapshot
        .sources
        .insert(SourceId::AuthMethods, ok(methods.len()));
    snapshot
        .sources
        .insert(SourceId::Federation, ok(domains.len()));
    snapshot.auth_methods = methods;
    snapshot.domains = domains;
}
