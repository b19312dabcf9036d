//! Synthetic tenants for benchmarks and large tests.
//!
//! `generate` builds a realistic Contoso tenant of any size from a seed: mostly ordinary
//! users, mailboxes and harmless inbox rules, with the share of back doors and weak spots a
//! real tenant of that size tends to have (users without MFA, external forwarding, hiding
//! rules, a few restricted senders and risky users, standing admins). The output depends
//! only on the options — a tiny SplitMix64 generator instead of `rand`, and a fixed
//! collection time — so a benchmark or test can regenerate the same tenant anywhere.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::snapshot::model::*;

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

/// SplitMix64: tiny, fast and good enough for test data; deterministic for a seed.
struct Prng(u64);

impl Prng {
    fn new(seed: u64) -> Self {
        Prng(seed ^ 0x6a09_e667_f3bc_c908)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant at these sizes.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A random (version 4 shaped) GUID.
    fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Member,
    /// A departed employee: account disabled, mailbox kept.
    Departed,
    /// The (disabled) account behind a shared mailbox.
    Shared,
    Guest,
}

/// Built-in roles as (template id, name, privileged). For built-in roles id == template id.
const ROLES: [(&str, &str, bool); 22] = [
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

const GLOBAL_ADMIN: &str = ROLES[0].0;
const PRIVILEGED_ROLE_ADMIN: &str = ROLES[1].0;
const SECURITY_ADMIN: &str = ROLES[3].0;
const EXCHANGE_ADMIN: &str = ROLES[4].0;
const USER_ADMIN: &str = ROLES[7].0;
const HELPDESK_ADMIN: &str = ROLES[8].0;
const CA_ADMIN: &str = ROLES[12].0;
const BILLING_ADMIN: &str = ROLES[15].0;
const GLOBAL_READER: &str = ROLES[18].0;
const REPORTS_READER: &str = ROLES[20].0;

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
        // No mail contacts, mail users or groups: forwarding names mailboxes only.
        sources.insert(SourceId::Recipients, ok(0));

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
        };
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

    fn user(&mut self, i: usize, kind: Kind) -> User {
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

    fn external_address(&mut self) -> String {
        let domain = *self.rng.pick(&EXTERNAL_DOMAINS);
        format!("u{:06x}@{domain}", self.rng.next_u64() & 0xff_ffff)
    }

    fn mailbox(&mut self, user: &User, kind: Kind) -> Option<Mailbox> {
        let recipient_type = match kind {
            Kind::Guest => return None,
            Kind::Shared => "SharedMailbox",
            // A few members are unlicensed for Exchange and have no mailbox.
            Kind::Member if self.rng.chance(0.02) => return None,
            Kind::Member | Kind::Departed => "UserMailbox",
        };
        let mut mailbox = Mailbox {
            id: user.id.clone(),
            user_principal_name: user.user_principal_name.clone(),
            primary_smtp_address: Some(user.user_principal_name.clone()),
            recipient_type_details: recipient_type.to_owned(),
            forwarding_smtp_address: None,
            forwarding_address: None,
            forwarding_address_smtp: None,
            deliver_to_mailbox_and_forward: false,
            legacy_exchange_dn: None,
        };
        let r = self.rng.unit();
        if r < 0.01 {
            mailbox.forwarding_smtp_address = Some(self.external_address());
            mailbox.deliver_to_mailbox_and_forward = self.rng.chance(0.7);
        } else if r < 0.03 || kind == Kind::Departed && self.rng.chance(0.3) {
            // Internal forwarding (a manager takes over a leaver's mail, an assistant).
            let target = format!("user{}", 1 + self.rng.below(1000));
            mailbox.forwarding_address_smtp = Some(format!("{target}@{DOMAIN}"));
            mailbox.forwarding_address = Some(target);
            mailbox.deliver_to_mailbox_and_forward = self.rng.chance(0.5);
        }
        Some(mailbox)
    }

    fn folder(&mut self, alias: &str, name: &str, well_known: Option<&str>) -> FolderRef {
        FolderRef {
            id: format!("{alias}:\\{name}"),
            name: Some(name.to_owned()),
            well_known_name: well_known.map(str::to_owned),
        }
    }

    fn inbox_rule(
        &mut self,
        mailbox: &Mailbox,
        rule_identity: u64,
        priority: usize,
        users: usize,
    ) -> InboxRule {
        let alias = mailbox
            .user_principal_name
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        let rule_id = rule_identity.to_string();
        let mut actions = RuleActions::default();
        let mut conditions = RuleConditions::default();
        let mut hidden = false;
        let r = self.rng.unit();
        let name: String = if r < 0.005 {
            // External forward: half attacker-shaped (hide the copy too), half "to my gmail".
            let target = vec![self.external_address()];
            if self.rng.chance(0.5) {
                conditions.subject_or_body_contains =
                    vec!["invoice".into(), "payment".into(), "wire".into()];
                actions.delete = true;
                actions.mark_as_read = true;
                actions.stop_processing_rules = true;
                hidden = self.rng.chance(0.3);
                match self.rng.below(3) {
                    0 => actions.forward_to = target,
                    1 => actions.redirect_to = target,
                    _ => actions.forward_as_attachment_to = target,
                }
                ".".into()
            } else {
                actions.forward_to = target;
                "Forward to personal".into()
            }
        } else if r < 0.008 {
            // Hide replies about the compromise: keywords (or all mail) into RSS Feeds, read.
            actions.move_to_folder = Some(self.folder(&alias, "RSS Feeds", Some("rssfeeds")));
            if self.rng.chance(0.7) {
                conditions.subject_or_body_contains =
                    vec!["hacked".into(), "phishing".into(), "suspicious".into()];
            }
            actions.mark_as_read =
                self.rng.chance(0.8) || conditions.subject_or_body_contains.is_empty();
            actions.stop_processing_rules = true;
            if self.rng.chance(0.5) {
                "..".into()
            } else {
                "rss".into()
            }
        } else {
            // Weights in percent: mostly sorting, a few forwards, rare deletions.
            match self.rng.below(100) {
                0..=29 => {
                    conditions.sender_contains = vec!["newsletter".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Newsletters", None));
                    "Newsletters".into()
                }
                30..=44 => {
                    conditions.from_addresses = vec!["jira@contoso.atlassian.net".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Jira", None));
                    actions.mark_as_read = self.rng.chance(0.5);
                    "Jira notifications".into()
                }
                45..=59 => {
                    conditions.sender_contains = vec!["noreply".into(), "no-reply".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Automated", None));
                    actions.mark_as_read = true;
                    "Automated mail".into()
                }
                60..=71 => {
                    conditions.subject_contains = vec!["[Teams]".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Teams", None));
                    "Teams notifications".into()
                }
                72..=77 => {
                    // Internal forward, e.g. to an assistant or team mailbox.
                    let target = 1 + self.rng.below(users.max(1));
                    conditions.subject_contains = vec!["expense".into()];
                    actions.forward_to = vec![format!("user{target}@{DOMAIN}")];
                    "Expenses to assistant".into()
                }
                78..=87 => {
                    conditions.from_addresses =
                        vec![format!("user{}@{DOMAIN}", 1 + self.rng.below(users.max(1)))];
                    actions.copy_to_folder = Some(self.folder(&alias, "Manager", None));
                    actions.stop_processing_rules = true;
                    "From my manager".into()
                }
                // 0.5% of rules delete auto-replies (a real, if sloppy, habit that the
                // hiding-mail rule rightly flags); the rest file them away.
                88..=89 if self.rng.below(4) == 0 => {
                    conditions.subject_contains = vec!["Automatic reply".into()];
                    actions.delete = true;
                    "Delete auto-replies".into()
                }
                88..=89 => {
                    conditions.subject_contains = vec!["Automatic reply".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Auto-replies", None));
                    "File auto-replies".into()
                }
                _ => {
                    conditions.has_attachments = true;
                    conditions.sender_contains = vec!["scanner".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Scans", None));
                    "Scanned documents".into()
                }
            }
        };
        InboxRule {
            id: format!("{}/{rule_id}", mailbox.id),
            mailbox_id: mailbox.id.clone(),
            mailbox_upn: mailbox.user_principal_name.clone(),
            exchange_identity: Some(format!("{alias}\\{rule_id}")),
            rule_id,
            source: RuleSource::Exchange,
            name,
            enabled: !self.rng.chance(0.05),
            priority: priority as i64,
            hidden,
            in_error: self.rng.chance(0.002),
            actions,
            conditions,
        }
    }

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
    fn sample<'a>(&mut self, users: &'a [User], members: &[usize], count: usize) -> Vec<&'a User> {
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

    fn roles(&mut self, users: &[User], members: &[usize]) -> Roles {
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

    fn restricted_senders(&mut self, users: &[User], members: &[usize]) -> Vec<RestrictedSender> {
        let count = 2 + members.len() / 40_000;
        self.sample(users, members, count)
            .into_iter()
            .map(|user| {
                let external = 500 + self.rng.below(2000);
                RestrictedSender {
                    id: user.user_principal_name.clone(),
                    user_id: Some(user.id.clone()),
                    reason: Some(format!(
                        "EmailSendingLimitExceeded;InternalRecipientCountToday={};\
                         ExternalRecipientCountToday={external};ExceedingLimitType=External;",
                        self.rng.below(40)
                    )),
                    created: Some(self.days_ago(0, 3)),
                }
            })
            .collect()
    }

    fn risky_users(&mut self, users: &[User], members: &[usize]) -> Vec<RiskyUser> {
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

    fn conditional_access(&mut self, roles: &Roles) -> ConditionalAccess {
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
        };
        // Enforced, as in most enterprise tenants of this size: MFA findings then come from
        // the exclusions and the users without a registered method, a realistic share.
        let mut mfa_all = policy(self.rng.guid(), "Require MFA for all users", "enabled");
        mfa_all.exclude_groups = vec![self.rng.guid()];
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
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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
