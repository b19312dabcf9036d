//! Large synthetic tenants built directly as API state (`--users N`), for benchmarks of
//! live collection: mostly ordinary users and harmless rules, with the usual share of weak
//! spots (no MFA, external forwarding, hidden rules, stale and disabled accounts, guests,
//! standing admins, restricted senders, risky users). Deterministic for a seed.

use serde_json::json;

use crate::state::*;
use crate::util::{stable_guid, Prng};

const FIRST: [&str; 16] = [
    "Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
    "Dana", "Lena", "Raj", "Priya", "Chen", "Fatima",
];
const LAST: [&str; 16] = [
    "Smith",
    "Patel",
    "Fischer",
    "Garcia",
    "Nguyen",
    "Kowalski",
    "Okafor",
    "Rossi",
    "Jensen",
    "Silva",
    "Haddad",
    "Kim",
    "Novak",
    "Dubois",
    "Moreau",
    "Whitfield",
];
const EXTERNAL: [&str; 4] = ["gmail.com", "outlook.com", "proton.me", "evil-mail.example"];
const METHODS: [&str; 5] = [
    "microsoftAuthenticatorPush",
    "softwareOneTimePasscode",
    "mobilePhone",
    "fido2",
    "email",
];

/// A tenant of `users` users (≥ 1).
pub fn generate_tenant(users: usize, seed: u64) -> TenantState {
    let mut p = Prng::new(seed);
    let mut st = TenantState {
        tenant_id: crate::config::CONTOSO_TENANT_ID.into(),
        display_name: "Contoso Ltd".into(),
        domains: vec![
            Domain {
                name: "contoso.com".into(),
                is_verified: true,
                is_default: true,
                is_initial: false,
            },
            Domain {
                name: "contoso.onmicrosoft.com".into(),
                is_verified: true,
                is_default: false,
                is_initial: true,
            },
            Domain {
                name: "pending.contoso.org".into(),
                is_verified: false,
                is_default: false,
                is_initial: false,
            },
        ],
        users: vec![],
        mailboxes: vec![],
        role_definitions: vec![],
        role_assignments: vec![],
        role_eligibilities: vec![],
        principals: vec![],
        security_defaults_enabled: false,
        ca_policies: vec![],
        outbound_spam_policies: vec![],
        blocked_senders: vec![],
        risky_users: vec![],
        remote_domain_auto_forward_enabled: true,
    };
    let mut rule_seq = 0u64;
    for i in 0..users.max(1) {
        let guest = p.chance(0.05);
        let shared_mbx = !guest && p.chance(0.03);
        let first = FIRST[p.below(16) as usize];
        let last = LAST[p.below(16) as usize];
        let local = format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i);
        let upn = if guest {
            format!("{local}_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        } else {
            format!("{local}@contoso.com")
        };
        let id = stable_guid(&format!("user/{seed}/{i}"));
        let enabled = !shared_mbx && !p.chance(0.03);
        let never = p.chance(0.08);
        let stale = p.chance(0.1);
        let days_ago = p.below(if stale { 400 } else { 30 });
        let last_sign_in = (!never && !shared_mbx)
            .then(|| crate::util::iso_utc(1_767_261_600 - days_ago * 86_400 - p.below(86_400)));
        let registered = p.chance(0.8);
        let methods: Vec<String> = if registered {
            (0..1 + p.below(3))
                .map(|_| METHODS[p.below(5) as usize].to_owned())
                .collect()
        } else {
            vec![]
        };
        st.users.push(User {
            id: id.clone(),
            user_principal_name: upn.clone(),
            display_name: if shared_mbx {
                format!("Shared {i}")
            } else {
                format!("{first} {last}")
            },
            account_enabled: enabled,
            user_type: if guest {
                "Guest".into()
            } else {
                "Member".into()
            },
            mail: (!guest).then(|| upn.clone()),
            last_sign_in,
            last_non_interactive_sign_in: None,
            mfa: Some(MfaRegistration {
                is_mfa_registered: registered,
                is_mfa_capable: registered,
                is_admin: false,
                default_method: methods.first().map(|m| {
                    if m == "mobilePhone" {
                        "sms".to_owned()
                    } else {
                        "push".to_owned()
                    }
                }),
                methods,
            }),
            per_user_mfa_state: if p.chance(0.05) {
                "enforced".into()
            } else {
                "disabled".into()
            },
            on_premises_sync_enabled: p.chance(0.1),
            assigned_sku_ids: if guest {
                vec![]
            } else {
                vec!["aaaaaaaa-0000-4000-8000-0000000000e3".into()]
            },
            sessions_revoked: 0,
            password_reset: false,
            sessions_valid_from: None,
            password_changed_at: None,
        });
        if guest {
            continue;
        }
        let mut mbx = Mailbox {
            external_directory_object_id: id.clone(),
            exchange_object_id: stable_guid(&format!("exo/{upn}")),
            guid: stable_guid(&format!("guid/{upn}")),
            user_principal_name: upn.clone(),
            primary_smtp_address: upn.clone(),
            alias: local.clone(),
            display_name: format!("{first} {last}"),
            recipient_type_details: if shared_mbx {
                "SharedMailbox".into()
            } else {
                "UserMailbox".into()
            },
            forwarding_smtp_address: p
                .chance(0.01)
                .then(|| format!("{local}@{}", EXTERNAL[p.below(4) as usize])),
            forwarding_address: None,
            deliver_to_mailbox_and_forward: p.chance(0.5),
            account_disabled: !enabled,
            rules: vec![],
            folders: default_folders(&upn),
        };
        let n_rules = p.below(4);
        for k in 0..n_rules {
            rule_seq += 1;
            let mut r = InboxRule::new(
                &format!("Rule {k}"),
                graph_rule_id(0x7000_0000 + rule_seq),
                rule_identity(rule_seq),
            );
            r.priority = k as i64 + 1;
            r.subject_contains = vec!["newsletter".into()];
            r.move_to_folder = mbx.folder("archive").map(|f| f.id.clone());
            if p.chance(0.01) {
                r.name = ".".into();
                r.subject_contains = vec![];
                r.subject_or_body_contains = vec!["invoice".into(), "payment".into()];
                r.move_to_folder = mbx.folder("rssfeeds").map(|f| f.id.clone());
                r.forward_to = vec![Recipient {
                    name: "x".into(),
                    address: format!("drop@{}", EXTERNAL[3]),
                }];
                r.hidden = p.chance(0.5);
            }
            mbx.rules.push(r);
        }
        if mbx.recipient_type_details == "UserMailbox" {
            rule_seq += 1;
            let mut junk = InboxRule::new(
                "Junk E-Mail Rule",
                graph_rule_id(0x7000_0000 + rule_seq),
                rule_identity(rule_seq),
            );
            junk.hidden = true;
            junk.priority = n_rules as i64 + 1;
            mbx.rules.push(junk);
        }
        st.mailboxes.push(mbx);
    }
    let defs = [
        (role_ids::GLOBAL_ADMINISTRATOR, "Global Administrator", true),
        (
            role_ids::EXCHANGE_ADMINISTRATOR,
            "Exchange Administrator",
            true,
        ),
        (role_ids::GLOBAL_READER, "Global Reader", false),
        (
            role_ids::HELPDESK_ADMINISTRATOR,
            "Helpdesk Administrator",
            false,
        ),
    ];
    for (id, name, privileged) in defs {
        st.role_definitions.push(RoleDefinition {
            id: id.into(),
            display_name: name.into(),
            description: format!("{name} role."),
            template_id: id.into(),
            is_built_in: true,
            is_privileged: privileged,
        });
    }
    let members: Vec<String> = st
        .users
        .iter()
        .filter(|u| u.user_type == "Member")
        .map(|u| u.id.clone())
        .collect();
    let admins = (members.len() / 200).clamp(1, 20);
    for (k, uid) in members.iter().take(admins).enumerate() {
        st.role_assignments.push(RoleAssignment {
            id: format!(
                "lAPpYvVpN0KRkAEhdxReE{}",
                crate::util::b64url(uid.as_bytes())
                    .chars()
                    .take(24)
                    .collect::<String>()
            ),
            role_definition_id: defs[k % 2].0.into(),
            principal_id: uid.clone(),
            directory_scope_id: "/".into(),
            start_date_time: None,
            end_date_time: None,
        });
    }
    if let Some(uid) = members.get(admins) {
        st.role_eligibilities.push(RoleAssignment {
            id: format!("{}-1-e", stable_guid(&format!("elig/{uid}"))),
            role_definition_id: role_ids::GLOBAL_ADMINISTRATOR.into(),
            principal_id: uid.clone(),
            directory_scope_id: "/".into(),
            start_date_time: Some("2025-09-01T00:00:00Z".into()),
            end_date_time: None,
        });
    }
    st.ca_policies.push(ca_policy_graph(
        &stable_guid("ca/mfa"),
        "Require MFA for all users",
        "enabled",
        json!({"includeUsers": ["All"], "excludeUsers": members.first().cloned().into_iter().collect::<Vec<_>>()}),
        vec!["All".into()],
        vec![],
        vec!["all".into()],
        Some(("OR".into(), vec!["mfa".into()], None)),
        "2025-06-01T09:00:00Z",
    ));
    st.outbound_spam_policies.push(OutboundSpamPolicy {
        name: "Default".into(),
        is_default: true,
        enabled: true,
        auto_forwarding_mode: "Automatic".into(),
        action_when_threshold_reached: "BlockUserForToday".into(),
        recipient_limit_external_per_hour: 0,
        recipient_limit_internal_per_hour: 0,
        recipient_limit_per_day: 0,
        notify_outbound_spam_recipients: vec![],
        guid: stable_guid("spam/Default"),
        when_changed: "2025-10-02T11:22:33.0000000Z".into(),
    });
    for u in st
        .users
        .iter()
        .filter(|u| u.user_type == "Member")
        .step_by(500)
        .take(5)
    {
        st.blocked_senders.push(BlockedSender {
            sender_address: u.user_principal_name.clone(),
            reason: "EmailSendingLimitExceeded;InternalRecipientCountToday=12;ExternalRecipientCountToday=1503;ExceedingLimitType=External;".into(),
            created: "2026-01-01T06:42:17.0000000Z".into(),
        });
    }
    for u in st.users.iter().step_by(97).take(20) {
        st.risky_users.push(RiskyUser {
            id: u.id.clone(),
            user_principal_name: u.user_principal_name.clone(),
            display_name: u.display_name.clone(),
            risk_level: if p.chance(0.3) {
                "high".into()
            } else {
                "medium".into()
            },
            risk_state: "atRisk".into(),
            risk_detail: "none".into(),
            risk_last_updated: "2025-12-31T02:20:41Z".into(),
        });
    }
    st
}
