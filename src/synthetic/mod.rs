//! Synthetic tenants for benchmarks and large tests.
//!
//! `generate` builds a realistic Contoso tenant of any size from a seed: mostly ordinary
//! users, mailboxes and harmless inbox rules, with the share of back doors and weak spots a
//! real tenant of that size tends to have (users without MFA, external forwarding, hiding
//! rules, a few restricted senders and risky users, standing admins). The output depends
//! only on the options — a tiny SplitMix64 generator instead of `rand`, and a fixed
//! collection time — so a benchmark or test can regenerate the same tenant anywhere.

mod apps;
mod exchange;
mod folders;
mod identity;
mod prng;
mod roles;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::snapshot::model::*;
use prng::Prng;

/// What to generate. `Default` is a 1,000-user tenant with seed 1.
#[derive(Debug, Clone)]
pub struct SyntheticOptions {
    /// Number of user objects (members, guests and shared-mailbox accounts together).
    pub users: usize,
    pub seed: u64,
    /// Average inbox rules per user; spread over the user mailboxes.
    pub rules_per_user: f64,
    /// Collection time; last sign-ins and dates are placed relative to it.
    pub collected_at: DateTime<Utc>,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            users: 1000,
            seed: 1,
            rules_per_user: 3.0,
            collected_at: default_collected_at(),
        }
    }
}

/// A fixed instant so two runs with the same seed produce byte-identical snapshots.
pub fn default_collected_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 6, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The contract's fake Contoso tenant id: constant across seeds, so snapshots generated
/// with different seeds still describe "the same tenant" (and can be diffed).
pub const TENANT_ID: &str = "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
/// The fake app registration that "collected" synthetic snapshots.
pub const COLLECTOR_APP_ID: &str = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
pub const COLLECTOR_PRINCIPAL_ID: &str = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e";

const DOMAIN: &str = "contoso.com";
const EXTERNAL_DOMAINS: [&str; 5] = [
    "gmail.com",
    "outlook.com",
    "proton.me",
    "mail-archive-service.example",
    "evil-mail.example",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Member,
    /// A departed employee: account disabled, mailbox kept.
    Departed,
    /// The (disabled) account behind a shared mailbox.
    Shared,
    Guest,
}

/// Generate a snapshot. Arrays come out sorted by id, as `snapshot::io::write` would leave them.
pub fn generate(options: &SyntheticOptions) -> Snapshot {
    let mut g = Generator {
        rng: Prng::new(options.seed),
        now: options.collected_at,
    };
    g.snapshot(options)
}

struct Generator {
    rng: Prng,
    now: DateTime<Utc>,
}

/// Client access as a tenant that followed the advice has it: SMTP AUTH off for the
/// organisation, POP and IMAP off, except every 50th mailbox keeping IMAP (an old client;
/// deterministic, so the random stream of the rest of the tenant is unchanged).
fn mail_protocols(mailboxes: &[Mailbox]) -> MailProtocols {
    MailProtocols {
        transport: vec![TransportSettings {
            id: "Transport Settings".to_owned(),
            smtp_client_authentication_disabled: Some(true),
        }],
        mailboxes: mailboxes
            .iter()
            .enumerate()
            .map(|(i, m)| CasMailbox {
                id: m.id.clone(),
                primary_smtp_address: m
                    .primary_smtp_address
                    .clone()
                    .unwrap_or_else(|| m.user_principal_name.clone()),
                pop_enabled: Some(false),
                imap_enabled: Some(i % 50 == 49),
                smtp_client_authentication_disabled: None,
                ews_enabled: Some(true),
                active_sync_enabled: Some(true),
                owa_enabled: Some(true),
                owa_for_devices_enabled: Some(true),
                mapi_enabled: Some(true),
            })
            .collect(),
    }
}

impl Generator {
    fn snapshot(&mut self, options: &SyntheticOptions) -> Snapshot {
        let n = options.users;
        let mut users = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        for i in 1..=n {
            let kind = self.kind();
            users.push(self.user(i, kind));
            kinds.push(kind);
        }

        let mut mailboxes = Vec::with_capacity(n);
        for (user, kind) in users.iter().zip(&kinds) {
            if let Some(mailbox) = self.mailbox(user, *kind) {
                mailboxes.push(mailbox);
            }
        }
        Generator::forward_to_mailboxes(&mut mailboxes);

        // Spread the per-user average over the mailboxes that actually carry rules.
        let with_rules = mailboxes
            .iter()
            .filter(|m| m.recipient_type_details == "UserMailbox")
            .count()
            .max(1);
        let per_mailbox = options.rules_per_user.max(0.0) * n as f64 / with_rules as f64;
        let mut inbox_rules = Vec::with_capacity((per_mailbox * with_rules as f64) as usize + 16);
        for mailbox in &mailboxes {
            let count = if mailbox.recipient_type_details == "UserMailbox" {
                (self.rng.unit() * (2.0 * per_mailbox + 1.0)).floor() as usize
            } else if self.rng.chance(0.2) {
                1
            } else {
                0
            };
            // Exchange RuleIdentity values are large integers, unique within the mailbox.
            let base = 4_727_603_405_000_000_000 + (self.rng.next_u64() % 1_000_000_000) * 1_000;
            for priority in 1..=count {
                inbox_rules.push(self.inbox_rule(mailbox, base + priority as u64, priority, n));
            }
        }

        let members: Vec<usize> = (0..n).filter(|&i| kinds[i] == Kind::Member).collect();
        let roles = self.roles(&users, &members);
        // The registration report flags holders of directory roles (directly or via a group).
        let admins: HashSet<&str> = roles
            .assignments
            .iter()
            .flat_map(|a| std::iter::once(&a.principal_id).chain(&a.group_member_ids))
            .map(String::as_str)
            .collect();
        for user in &mut users {
            if admins.contains(user.id.as_str()) {
                if let Some(mfa) = user.mfa.as_mut() {
                    mfa.is_admin = true;
                }
            }
        }

        let restricted_senders = self.restricted_senders(&users, &members);
        let risky_users = self.risky_users(&users, &members);
        let conditional_access = self.conditional_access(&roles);
        let outbound_spam = OutboundSpam {
            policies: vec![OutboundSpamPolicy {
                id: "Default".to_owned(),
                is_default: true,
                enabled: true,
                auto_forwarding_mode: "Automatic".to_owned(),
                action_when_threshold_reached: Some("BlockUserForToday".to_owned()),
                recipient_limit_external_per_hour: Some(0),
            }],
            restricted_senders,
        };

        let mail_protocols = mail_protocols(&mailboxes);
        let audit_config = AuditSettings {
            organization: vec![AuditConfig {
                id: "organization".to_owned(),
                unified_audit_log_ingestion_enabled: Some(true),
                audit_disabled: Some(false),
            }],
            bypass_associations: Vec::new(),
        };

        // Last: the other sections draw from the generator first, so a seed gives the same
        // users, mailboxes and rules as before the apps existed.
        let apps = self.apps(n);

        let mut sources = BTreeMap::new();
        let ok = |items: usize| SourceStatus {
            status: SourceState::Ok,
            reason: None,
            items: items as u64,
        };
        let registered = users.iter().filter(|u| u.mfa.is_some()).count();
        let signed_in = users.iter().filter(|u| u.last_sign_in.is_some()).count();
        let per_user = users
            .iter()
            .filter(|u| u.per_user_mfa_state.is_some())
            .count();
        sources.insert(SourceId::Organization, ok(1));
        sources.insert(SourceId::Users, ok(users.len()));
        sources.insert(SourceId::SignInActivity, ok(signed_in));
        sources.insert(SourceId::MfaRegistration, ok(registered));
        sources.insert(SourceId::PerUserMfa, ok(per_user));
        sources.insert(SourceId::SecurityDefaults, ok(1));
        sources.insert(
            SourceId::ConditionalAccess,
            ok(conditional_access.policies.len()),
        );
        sources.insert(SourceId::Roles, ok(roles.assignments.len()));
        sources.insert(
            SourceId::RoleEligibility,
            ok(roles.eligible_assignments.len()),
        );
        sources.insert(SourceId::Mailboxes, ok(mailboxes.len()));
        sources.insert(SourceId::InboxRules, ok(inbox_rules.len()));
        sources.insert(
            SourceId::OutboundSpamPolicies,
            ok(outbound_spam.policies.len()),
        );
        sources.insert(
            SourceId::RestrictedSenders,
            ok(outbound_spam.restricted_senders.len()),
        );
        sources.insert(SourceId::RiskyUsers, ok(risky_users.len()));
        sources.insert(SourceId::RemoteDomains, ok(1));
        let (transport_rules, outbound_connectors) = exchange::mail_flow();
        sources.insert(SourceId::TransportRules, ok(transport_rules.len()));
        sources.insert(SourceId::OutboundConnectors, ok(outbound_connectors.len()));
        sources.insert(SourceId::InboundConnectors, ok(0));
        // No mail contacts, mail users or groups: forwarding names mailboxes only.
        sources.insert(SourceId::Recipients, ok(0));
        sources.insert(
            SourceId::NamedLocations,
            ok(conditional_access.named_locations.len()),
        );
        sources.insert(
            SourceId::CaGroupMembers,
            ok(conditional_access.groups.len()),
        );
        sources.insert(
            SourceId::MailProtocols,
            ok(mail_protocols.mailboxes.len() + mail_protocols.transport.len()),
        );
        sources.insert(SourceId::AuditConfig, ok(1));
        sources.insert(
            SourceId::ServicePrincipals,
            ok(apps.service_principals.len() + apps.credentials.len()),
        );
        sources.insert(SourceId::ConsentGrants, ok(apps.consent_grants.len()));
        sources.insert(
            SourceId::AppRoleAssignments,
            ok(apps.app_role_assignments.len()),
        );
        sources.insert(SourceId::ConsentPolicy, ok(apps.consent_policies.len()));
        sources.insert(
            SourceId::AppManagementPolicies,
            ok(apps.management_policies.len()),
        );

        let mailbox_delegates = Generator::mailbox_delegates(&mailboxes);
        sources.insert(SourceId::MailboxDelegates, ok(mailbox_delegates.len()));
        let exchange_role_groups = exchange::role_group_members();
        let mailbox_folder_permissions = folders::folder_permissions(&mailboxes);
        sources.insert(
            SourceId::MailboxFolderPermissions,
            ok(mailbox_folder_permissions.len()),
        );
        sources.insert(SourceId::ExchangeRoleGroups, ok(exchange_role_groups.len()));
        // A tenant without direct role assignments or application access policies.
        sources.insert(SourceId::ExchangeRoleAssignments, ok(0));
        sources.insert(SourceId::ApplicationAccessPolicies, ok(0));

        let mut snapshot = Snapshot {
            schema_version: SCHEMA_VERSION,
            tenant: Tenant {
                id: TENANT_ID.to_owned(),
                display_name: Some("Contoso".to_owned()),
                verified_domains: vec![DOMAIN.to_owned(), "contoso.onmicrosoft.com".to_owned()],
                default_domain: Some(DOMAIN.to_owned()),
            },
            collection: CollectionInfo {
                collected_at: self.now,
                tool_version: "synthetic".to_owned(),
                collector_app_id: Some(COLLECTOR_APP_ID.to_owned()),
                collector_principal_id: Some(COLLECTOR_PRINCIPAL_ID.to_owned()),
            },
            sources,
            users,
            mailboxes,
            inbox_rules,
            roles,
            outbound_spam,
            conditional_access,
            security_defaults: SecurityDefaults {
                is_enabled: Some(false),
            },
            risky_users,
            // Exchange Online's default entry as a new tenant has it (auto-forwarding
            // allowed; CISA SCuBA MS.EXO.1.1 asks to turn it off).
            remote_domains: vec![RemoteDomain {
                id: "Default".into(),
                domain_name: "*".into(),
                auto_forward_enabled: Some(true),
                auto_reply_enabled: Some(true),
                is_internal: false,
                when_changed: None,
            }],
            // Mail contacts and mail users: none in a synthetic tenant.
            recipients: Vec::new(),
            mail_protocols,
            audit_config,
            transport_rules,
            outbound_connectors,
            inbound_connectors: Vec::new(),
            mailbox_delegates,
            apps,
            exchange_role_groups,
            mailbox_folder_permissions,
            ..Snapshot::default()
        };
        identity::add_auth_methods_and_domains(&mut snapshot, self.now);
        crate::snapshot::io::normalise(&mut snapshot);
        snapshot
    }

    fn kind(&mut self) -> Kind {
        let r = self.rng.unit();
        if r < 0.05 {
            Kind::Guest
        } else if r < 0.065 {
            Kind::Shared
        } else if r < 0.08 {
            Kind::Departed
        } else {
            Kind::Member
        }
    }

    fn days_ago(&mut self, min: i64, max: i64) -> DateTime<Utc> {
        let days = min + self.rng.below((max - min).max(1) as usize) as i64;
        let seconds = self.rng.below(86_400) as i64;
        self.now - Duration::days(days) - Duration::seconds(seconds)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::roles::GLOBAL_ADMIN;
    use super::*;
    use crate::snapshot::io::{parse, to_stable_json};

    fn small(seed: u64) -> Snapshot {
        generate(&SyntheticOptions {
            users: 2_000,
            seed,
            ..SyntheticOptions::default()
        })
    }

    #[test]
    fn same_seed_same_snapshot() {
        assert_eq!(small(7), small(7));
        assert_ne!(small(7).users, small(8).users);
    }

    /// Exchange forwards only to a recipient: every internal forward names another
    /// mailbox of the tenant (its alias and address), in big and tiny tenants alike.
    #[test]
    fn internal_forwards_name_existing_mailboxes() {
        for n in [1, 17, 300, 2_000] {
            let s = generate(&SyntheticOptions {
                users: n,
                seed: 11,
                ..SyntheticOptions::default()
            });
            let forwards: Vec<&Mailbox> = s
                .mailboxes
                .iter()
                .filter(|m| m.forwarding_address.is_some() || m.forwarding_address_smtp.is_some())
                .collect();
            if n == 2_000 {
                assert!(forwards.len() > 20, "{}", forwards.len());
            }
            for m in forwards {
                let smtp = m.forwarding_address_smtp.as_deref().unwrap();
                let target = s
                    .mailboxes
                    .iter()
                    .find(|t| t.user_principal_name == smtp)
                    .unwrap_or_else(|| panic!("{} forwards to {smtp}: no mailbox", m.id));
                assert_ne!(target.id, m.id, "{smtp}");
                assert_eq!(
                    Some(format!(
                        "{}@{DOMAIN}",
                        m.forwarding_address.as_deref().unwrap()
                    )),
                    Some(smtp.to_owned())
                );
            }
        }
    }

    #[test]
    fn user_count_is_exact() {
        for n in [0, 1, 17, 2_000] {
            let s = generate(&SyntheticOptions {
                users: n,
                ..SyntheticOptions::default()
            });
            assert_eq!(s.users.len(), n);
            assert_eq!(s.sources[&SourceId::Users].items, n as u64);
        }
    }

    #[test]
    fn round_trips_through_stable_json() {
        let s = small(3);
        let text = to_stable_json(&s);
        let back = parse(Path::new("synthetic.json"), &text).unwrap();
        assert_eq!(back, s);
        // Already normalised: the writer's sort leaves it untouched.
        let mut again = back.clone();
        crate::snapshot::io::normalise(&mut again);
        assert_eq!(again, s);
    }

    #[test]
    fn shares_are_realistic() {
        let s = generate(&SyntheticOptions {
            users: 20_000,
            seed: 11,
            ..SyntheticOptions::default()
        });
        let n = s.users.len() as f64;
        let rules = s.inbox_rules.len() as f64;
        assert!(
            (2.7..3.3).contains(&(rules / n)),
            "rules/user {}",
            rules / n
        );

        let enabled: Vec<_> = s.users.iter().filter(|u| u.account_enabled).collect();
        let no_mfa = enabled
            .iter()
            .filter(|u| u.mfa.as_ref().is_some_and(|m| !m.is_mfa_registered))
            .count() as f64;
        assert!((0.08..0.12).contains(&(no_mfa / enabled.len() as f64)));
        let guests = s
            .users
            .iter()
            .filter(|u| u.user_type == UserType::Guest)
            .count() as f64;
        assert!((0.04..0.06).contains(&(guests / n)));
        let disabled = (s.users.len() - enabled.len()) as f64;
        assert!((0.02..0.04).contains(&(disabled / n)));

        let verified = |addr: &str| addr.ends_with("@contoso.com");
        let fwd_ext = s
            .mailboxes
            .iter()
            .filter(|m| {
                m.forwarding_smtp_address
                    .as_deref()
                    .is_some_and(|a| !verified(a))
            })
            .count() as f64;
        assert!((0.005..0.015).contains(&(fwd_ext / s.mailboxes.len() as f64)));
        let rule_ext = s
            .inbox_rules
            .iter()
            .filter(|r| {
                let a = &r.actions;
                a.forward_to
                    .iter()
                    .chain(&a.redirect_to)
                    .chain(&a.forward_as_attachment_to)
                    .any(|x| !verified(x))
            })
            .count() as f64;
        assert!((0.003..0.007).contains(&(rule_ext / rules)));
        let rss = s
            .inbox_rules
            .iter()
            .filter(|r| {
                r.actions
                    .move_to_folder
                    .as_ref()
                    .is_some_and(|f| f.well_known_name.as_deref() == Some("rssfeeds"))
            })
            .count() as f64;
        assert!((0.0015..0.0045).contains(&(rss / rules)));

        let ga = s
            .roles
            .assignments
            .iter()
            .filter(|a| a.role_definition_id == GLOBAL_ADMIN)
            .count();
        assert!((4..=6).contains(&ga));
        assert!(s
            .roles
            .assignments
            .iter()
            .any(|a| a.principal_type == PrincipalType::Group && !a.group_member_ids.is_empty()));
        assert!(!s.roles.eligible_assignments.is_empty());
        assert!(!s.outbound_spam.restricted_senders.is_empty());
        assert!(s.risky_users.iter().any(|r| r.risk_level == "high"));
        assert!(s
            .conditional_access
            .policies
            .iter()
            .any(|p| p.state == "enabled"
                && p.include_users == ["All"]
                && p.built_in_controls == ["mfa"]));
        assert_eq!(s.security_defaults.is_enabled, Some(false));
        assert!(s.sources.values().all(|st| st.status == SourceState::Ok));
        // Ids unique where the reader checks them (parse would refuse otherwise).
        let mut ids: Vec<_> = s.inbox_rules.iter().map(|r| &r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), s.inbox_rules.len());
        // Every admin principal that is a user has the report's isAdmin flag.
        let admins: std::collections::HashSet<_> = s
            .roles
            .assignments
            .iter()
            .filter(|a| a.principal_type == PrincipalType::User)
            .map(|a| a.principal_id.as_str())
            .collect();
        for user in s.users.iter().filter(|u| admins.contains(u.id.as_str())) {
            if let Some(mfa) = &user.mfa {
                assert!(mfa.is_admin, "{}", user.user_principal_name);
            }
        }
    }
}
