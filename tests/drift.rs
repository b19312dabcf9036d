//! Drift: two small snapshots built in code (a clean Contoso and the same tenant a day
//! after a mailbox compromise) — ranking, field paths, counts and the Markdown rendering.

use std::path::Path;

use chrono::{TimeZone, Utc};
use m365guard::drift::{self, render, ChangeKind, Relevance, ResourceKind};
use m365guard::snapshot::model::*;
use m365guard::synthetic::{self, SyntheticOptions};
use serde_json::json;

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
const ALICE: &str = "11111111-1111-4111-8111-111111111111";
const BOB: &str = "22222222-2222-4222-8222-222222222222";
const CAROL: &str = "33333333-3333-4333-8333-333333333333";
const DAVE: &str = "44444444-4444-4444-8444-444444444444";

fn user(id: &str, name: &str) -> User {
    User {
        id: id.to_owned(),
        user_principal_name: format!("{name}@contoso.com"),
        display_name: None,
        account_enabled: true,
        user_type: UserType::Member,
        mfa: Some(MfaRegistration {
            is_mfa_registered: true,
            is_mfa_capable: true,
            is_admin: false,
            methods: vec!["microsoftAuthenticatorPush".into(), "mobilePhone".into()],
            default_method: Some("microsoftAuthenticatorPush".into()),
        }),
        per_user_mfa_state: Some(PerUserMfaState::Disabled),
        last_sign_in: None,
        on_premises_sync_enabled: false,
    }
}

fn mailbox(id: &str, name: &str) -> Mailbox {
    Mailbox {
        id: id.to_owned(),
        user_principal_name: format!("{name}@contoso.com"),
        primary_smtp_address: None,
        recipient_type_details: "UserMailbox".into(),
        forwarding_smtp_address: None,
        forwarding_address: None,
        forwarding_address_smtp: None,
        deliver_to_mailbox_and_forward: false,
    }
}

fn rule(mailbox_id: &str, name: &str, rule_id: &str, rule_name: &str) -> InboxRule {
    InboxRule {
        id: format!("{mailbox_id}/{rule_id}"),
        mailbox_id: mailbox_id.to_owned(),
        mailbox_upn: format!("{name}@contoso.com"),
        rule_id: rule_id.to_owned(),
        exchange_identity: None,
        source: RuleSource::Exchange,
        name: rule_name.to_owned(),
        enabled: true,
        priority: 1,
        hidden: false,
        in_error: false,
        actions: RuleActions::default(),
        conditions: RuleConditions::default(),
    }
}

fn folder(name: &str, well_known: Option<&str>) -> FolderRef {
    FolderRef {
        id: format!("alice:\\{name}"),
        name: Some(name.to_owned()),
        well_known_name: well_known.map(str::to_owned),
    }
}

fn assignment(id: &str, role: &str, principal: &str, name: &str) -> RoleAssignment {
    RoleAssignment {
        id: id.to_owned(),
        role_definition_id: role.to_owned(),
        principal_id: principal.to_owned(),
        principal_type: PrincipalType::User,
        principal_name: Some(name.to_owned()),
        directory_scope_id: "/".into(),
        group_member_ids: Vec::new(),
        end_date_time: None,
    }
}

fn definition(id: &str, name: &str, privileged: bool) -> RoleDefinition {
    RoleDefinition {
        id: id.to_owned(),
        display_name: name.to_owned(),
        template_id: Some(id.to_owned()),
        is_built_in: true,
        is_privileged: privileged,
    }
}

/// A clean tenant: three users with MFA, one harmless rule, one GA, MFA-for-all enforced.
fn clean() -> Snapshot {
    let mut newsletters = rule(ALICE, "alice", "100", "Newsletters");
    newsletters.conditions.sender_contains = vec!["newsletter".into()];
    newsletters.actions.move_to_folder = Some(folder("Newsletters", None));
    let mut expenses = rule(BOB, "bob", "200", "Expenses");
    expenses.actions.forward_to = vec!["carol@contoso.com".into()];
    Snapshot {
        schema_version: SCHEMA_VERSION,
        tenant: Tenant {
            id: synthetic::TENANT_ID.into(),
            display_name: Some("Contoso".into()),
            verified_domains: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
            default_domain: Some("contoso.com".into()),
        },
        collection: CollectionInfo {
            collected_at: Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap(),
            tool_version: "test".into(),
            collector_app_id: None,
            collector_principal_id: None,
        },
        sources: SourceId::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    SourceStatus {
                        status: SourceState::Ok,
                        reason: None,
                        items: 1,
                    },
                )
            })
            .collect(),
        users: vec![user(ALICE, "alice"), user(BOB, "bob"), user(CAROL, "carol")],
        mailboxes: vec![
            mailbox(ALICE, "alice"),
            mailbox(BOB, "bob"),
            mailbox(CAROL, "carol"),
        ],
        inbox_rules: vec![newsletters, expenses],
        roles: Roles {
            definitions: vec![
                definition(GA, "Global Administrator", true),
                definition(HELPDESK, "Helpdesk Administrator", true),
                definition(READER, "Reports Reader", false),
            ],
            assignments: vec![assignment("ra-1", GA, CAROL, "carol@contoso.com")],
            eligible_assignments: Vec::new(),
        },
        outbound_spam: OutboundSpam {
            policies: vec![OutboundSpamPolicy {
                id: "Default".into(),
                is_default: true,
                enabled: true,
                auto_forwarding_mode: "Automatic".into(),
                action_when_threshold_reached: None,
                recipient_limit_external_per_hour: None,
            }],
            restricted_senders: Vec::new(),
        },
        conditional_access: ConditionalAccess {
            policies: vec![CaPolicy {
                id: "ca-mfa".into(),
                display_name: "Require MFA for all users".into(),
                state: "enabled".into(),
                include_users: vec!["All".into()],
                exclude_users: vec![CAROL.into()],
                include_groups: Vec::new(),
                exclude_groups: Vec::new(),
                include_roles: Vec::new(),
                exclude_roles: Vec::new(),
                include_applications: vec!["All".into()],
                exclude_applications: Vec::new(),
                client_app_types: vec!["all".into()],
                built_in_controls: vec!["mfa".into()],
                grant_operator: Some("OR".into()),
                authentication_strength: None,
            }],
        },
        security_defaults: SecurityDefaults {
            is_enabled: Some(false),
        },
        risky_users: Vec::new(),
    }
}

/// The day after Alice's mailbox was taken over, plus ordinary churn.
fn compromised() -> Snapshot {
    let mut s = clean();
    s.collection.collected_at = Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap();
    // Back doors.
    s.mailboxes[0].forwarding_smtp_address = Some("mallory@evil-mail.example".into());
    let mut hide = rule(ALICE, "alice", "101", ".");
    hide.conditions.subject_or_body_contains = vec!["hacked".into(), "phishing".into()];
    hide.actions.move_to_folder = Some(folder("RSS Feeds", Some("rssfeeds")));
    hide.actions.mark_as_read = true;
    s.inbox_rules.push(hide);
    s.roles
        .assignments
        .push(assignment("ra-2", GA, ALICE, "alice@contoso.com"));
    s.outbound_spam.restricted_senders.push(RestrictedSender {
        id: "alice@contoso.com".into(),
        user_id: Some(ALICE.into()),
        reason: Some("EmailSendingLimitExceeded".into()),
        created: None,
    });
    // Weakened controls.
    s.users[0].mfa.as_mut().unwrap().methods = vec!["mobilePhone".into()];
    s.conditional_access.policies[0].state = "enabledForReportingButNotEnforced".into();
    // Ordinary churn: a new member, a renamed harmless rule, a new reader, a leaver.
    s.users.push(user(DAVE, "dave"));
    s.inbox_rules[0].name = "News".into();
    s.roles
        .assignments
        .push(assignment("ra-3", READER, BOB, "bob@contoso.com"));
    s.users.retain(|u| u.id != CAROL);
    s.mailboxes.retain(|m| m.id != CAROL);
    s.tenant
        .verified_domains
        .push("fabrikam-partner.com".into());
    m365guard::snapshot::io::normalise(&mut s);
    s
}

fn keys(changes: &drift::Changes, relevance: Relevance) -> Vec<(ResourceKind, String)> {
    changes
        .changes
        .iter()
        .filter(|c| c.relevance == relevance)
        .map(|c| (c.kind, c.id.clone()))
        .collect()
}

#[test]
fn identical_snapshots_have_no_changes() {
    let changes = drift::diff(&clean(), &clean());
    assert!(changes.is_empty(), "{:#?}", changes.changes);
    assert!(render::table(&changes).contains("No changes."));
}

#[test]
fn back_doors_rank_first() {
    let changes = drift::diff(&clean(), &compromised());
    let critical = keys(&changes, Relevance::Critical);
    assert_eq!(
        critical,
        vec![
            (ResourceKind::Mailbox, ALICE.to_owned()),
            (ResourceKind::InboxRule, format!("{ALICE}/101")),
            (ResourceKind::RoleAssignment, "ra-2".to_owned()),
            (
                ResourceKind::RestrictedSender,
                "alice@contoso.com".to_owned()
            ),
        ]
    );
    // Ranked: relevance never increases down the list.
    let ranks: Vec<Relevance> = changes.changes.iter().map(|c| c.relevance).collect();
    let mut sorted = ranks.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ranks, sorted);
    assert_eq!(changes.changes[0].relevance, Relevance::Critical);

    let rule = &changes.changes[1];
    let why = rule.why.as_deref().unwrap();
    assert!(why.contains("moves mail to RSS Feeds"), "{why}");
    let forwarding = changes.changes[0].why.as_deref().unwrap();
    assert!(
        forwarding.contains("mallory@evil-mail.example"),
        "{forwarding}"
    );

    // Weakened controls come next, then churn without a "why".
    let high = keys(&changes, Relevance::High);
    assert!(high.contains(&(ResourceKind::User, ALICE.to_owned())));
    assert!(high.contains(&(ResourceKind::CaPolicy, "ca-mfa".to_owned())));
    let info = keys(&changes, Relevance::Info);
    for expected in [
        (ResourceKind::User, DAVE.to_owned()),
        (ResourceKind::InboxRule, format!("{ALICE}/100")),
        (ResourceKind::User, CAROL.to_owned()),
    ] {
        assert!(info.contains(&expected), "{expected:?} not info: {info:?}");
    }
    assert!(changes
        .changes
        .iter()
        .all(|c| (c.relevance == Relevance::Info) == c.why.is_none()));
}

#[test]
fn field_level_changes_carry_paths_and_values() {
    let changes = drift::diff(&clean(), &compromised());
    let find = |kind: ResourceKind, id: &str| {
        changes
            .changes
            .iter()
            .find(|c| c.kind == kind && c.id == id)
            .unwrap_or_else(|| panic!("no change for {kind} {id}"))
    };
    let mailbox = find(ResourceKind::Mailbox, ALICE);
    assert_eq!(mailbox.change, ChangeKind::Changed);
    assert_eq!(mailbox.fields.len(), 1);
    assert_eq!(mailbox.fields[0].path, "forwarding_smtp_address");
    assert_eq!(mailbox.fields[0].old, json!(null));
    assert_eq!(mailbox.fields[0].new, json!("mallory@evil-mail.example"));

    let alice = find(ResourceKind::User, ALICE);
    assert_eq!(alice.fields.len(), 1);
    assert_eq!(alice.fields[0].path, "mfa.methods");
    assert_eq!(
        alice.fields[0].old,
        json!(["microsoftAuthenticatorPush", "mobilePhone"])
    );
    assert!(alice
        .why
        .as_deref()
        .unwrap()
        .contains("microsoftAuthenticatorPush"));

    let ca = find(ResourceKind::CaPolicy, "ca-mfa");
    assert_eq!(ca.fields[0].path, "state");
    assert_eq!(ca.fields[0].new, json!("enabledForReportingButNotEnforced"));

    let renamed = find(ResourceKind::InboxRule, &format!("{ALICE}/100"));
    assert_eq!(renamed.fields.len(), 1);
    assert_eq!(renamed.fields[0].path, "name");

    // Added and removed resources carry no field list.
    assert!(find(ResourceKind::RoleAssignment, "ra-2").fields.is_empty());
    assert_eq!(find(ResourceKind::User, CAROL).change, ChangeKind::Removed);
}

#[test]
fn summary_counts_added_removed_changed() {
    let changes = drift::diff(&clean(), &compromised());
    let count = |kind: ResourceKind| {
        changes
            .summary
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| (s.added, s.removed, s.changed))
            .unwrap_or_default()
    };
    assert_eq!(count(ResourceKind::User), (1, 1, 1));
    assert_eq!(count(ResourceKind::Mailbox), (0, 1, 1));
    assert_eq!(count(ResourceKind::InboxRule), (1, 0, 1));
    assert_eq!(count(ResourceKind::RoleAssignment), (2, 0, 0));
    assert_eq!(count(ResourceKind::RestrictedSender), (1, 0, 0));
    assert_eq!(count(ResourceKind::CaPolicy), (0, 0, 1));
    assert_eq!(count(ResourceKind::VerifiedDomain), (1, 0, 0));
    assert_eq!(count(ResourceKind::SecurityDefaults), (0, 0, 0));
    let total: usize = changes
        .summary
        .iter()
        .map(|s| s.added + s.removed + s.changed)
        .sum();
    assert_eq!(total, changes.changes.len());
    // Non-privileged role: low, not critical.
    let reader = changes.changes.iter().find(|c| c.id == "ra-3").unwrap();
    assert_eq!(reader.relevance, Relevance::Low);
}

#[test]
fn weakened_controls_are_high() {
    let old = clean();
    let mut new = clean();
    new.security_defaults.is_enabled = Some(false);
    let mut old = old;
    old.security_defaults.is_enabled = Some(true);
    old.users[1].per_user_mfa_state = Some(PerUserMfaState::Enforced);
    new.outbound_spam.policies[0].auto_forwarding_mode = "On".into();
    new.conditional_access.policies.clear();
    new.risky_users.push(RiskyUser {
        id: BOB.into(),
        user_principal_name: "bob@contoso.com".into(),
        risk_level: "high".into(),
        risk_state: "atRisk".into(),
        risk_detail: None,
        risk_last_updated: None,
    });
    let changes = drift::diff(&old, &new);
    let high = keys(&changes, Relevance::High);
    assert_eq!(
        high,
        vec![
            (ResourceKind::User, BOB.to_owned()),
            (ResourceKind::OutboundSpamPolicy, "Default".to_owned()),
            (ResourceKind::CaPolicy, "ca-mfa".to_owned()),
            (ResourceKind::RiskyUser, BOB.to_owned()),
            (
                ResourceKind::SecurityDefaults,
                "security_defaults".to_owned()
            ),
        ]
    );
    let ca = changes
        .changes
        .iter()
        .find(|c| c.kind == ResourceKind::CaPolicy)
        .unwrap();
    assert_eq!(ca.change, ChangeKind::Removed);
    let defaults = changes
        .changes
        .iter()
        .find(|c| c.kind == ResourceKind::SecurityDefaults)
        .unwrap();
    assert_eq!(defaults.fields[0].path, "is_enabled");
    assert_eq!(defaults.fields[0].old, json!(true));
}

#[test]
fn forwarding_rules_are_judged_by_destination_and_state() {
    let old = clean();
    let mut new = clean();
    // Internal (verified subdomain): high, not critical.
    new.inbox_rules[1].actions.forward_to = vec!["dan@eu.contoso.com".into()];
    // External but disabled: capped at high.
    let mut disabled = rule(CAROL, "carol", "300", "To gmail");
    disabled.actions.redirect_to = vec!["carol@gmail.com".into()];
    disabled.enabled = false;
    new.inbox_rules.push(disabled);
    // A group holding Helpdesk Administrator gains a member: critical.
    let mut group = assignment("ra-g", HELPDESK, "group-1", "Helpdesk");
    group.principal_type = PrincipalType::Group;
    group.group_member_ids = vec![BOB.into()];
    let mut old = old;
    old.roles.assignments.push(group.clone());
    group.group_member_ids.push(DAVE.into());
    new.roles.assignments.push(group);

    let changes = drift::diff(&old, &new);
    let get = |id: &str| changes.changes.iter().find(|c| c.id == id).unwrap();
    let internal = get(&format!("{BOB}/200"));
    assert_eq!(internal.relevance, Relevance::High);
    let disabled = get(&format!("{CAROL}/300"));
    assert_eq!(disabled.relevance, Relevance::High);
    assert!(disabled.why.as_deref().unwrap().contains("disabled"));
    let group = get("ra-g");
    assert_eq!(group.relevance, Relevance::Critical);
    assert!(group.why.as_deref().unwrap().contains(DAVE));
    assert_eq!(group.fields[0].path, "group_member_ids");
}

#[test]
fn table_columns_are_aligned() {
    let text = render::table(&drift::diff(&clean(), &compromised()));
    let header = text.lines().find(|l| l.starts_with("RELEVANCE")).unwrap();
    let resource_col = header.find("RESOURCE").unwrap();
    let why_col = header.find("WHY IT MATTERS").unwrap();
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("RELEVANCE"))
        .skip(1)
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert!(rows.len() > 5);
    for row in rows {
        // Columns are counted in characters (labels contain "→").
        let cells: Vec<char> = row.chars().collect();
        let at = |i: usize| cells.get(i).copied().unwrap_or('$');
        assert_eq!(
            (at(resource_col - 2), at(resource_col - 1)),
            (' ', ' '),
            "{row}"
        );
        assert_ne!(at(resource_col), ' ', "{row}");
        if !row.starts_with("info") {
            assert_eq!((at(why_col - 2), at(why_col - 1)), (' ', ' '), "{row}");
            assert_ne!(at(why_col), ' ', "{row}");
        }
    }
}

#[test]
fn json_round_trips_the_change_list() {
    let changes = drift::diff(&clean(), &compromised());
    let value: serde_json::Value = serde_json::from_str(&render::json(&changes).unwrap()).unwrap();
    assert_eq!(
        value["changes"].as_array().unwrap().len(),
        changes.changes.len()
    );
    assert_eq!(value["changes"][0]["relevance"], "critical");
    assert_eq!(value["changes"][0]["kind"], "mailbox");
    assert_eq!(value["new"]["tenant_id"], synthetic::TENANT_ID);
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(
        "markdown",
        render::markdown(&drift::diff(&clean(), &compromised()))
    );
}

#[test]
fn markdown_escapes_attacker_controlled_names() {
    let old = clean();
    let mut new = clean();
    let mut evil = rule(BOB, "bob", "666", "| **x** <img src=x> `y`");
    evil.actions.forward_to = vec!["a@evil.example".into()];
    new.inbox_rules.push(evil);
    let md = render::markdown(&drift::diff(&old, &new));
    let row = md.lines().find(|l| l.contains("evil.example")).unwrap();
    assert!(row.contains(r"\| \*\*x\*\* \<img src=x\> \`y\`"), "{row}");
    // Still one table row: five cells, six unescaped pipes.
    let pipes = row
        .match_indices('|')
        .filter(|(i, _)| *i == 0 || row.as_bytes()[i - 1] != b'\\');
    assert_eq!(pipes.count(), 6, "{row}");
}

#[test]
fn large_synthetic_tenant_diffs_only_what_changed() {
    let options = SyntheticOptions {
        users: 5_000,
        seed: 9,
        ..SyntheticOptions::default()
    };
    let old = synthetic::generate(&options);
    let mut new = synthetic::generate(&options);
    assert!(drift::diff(&old, &new).is_empty());
    new.mailboxes[42].forwarding_smtp_address = Some("x@proton.me".into());
    let removed = new.inbox_rules.remove(7).id;
    let changes = drift::diff(&old, &new);
    assert_eq!(changes.changes.len(), 2, "{:#?}", changes.changes);
    assert_eq!(changes.changes[0].relevance, Relevance::Critical);
    assert_eq!(changes.changes[0].id, new.mailboxes[42].id);
    assert_eq!(changes.changes[1].id, removed);
    assert_eq!(changes.changes[1].change, ChangeKind::Removed);
}

/// The example snapshots, once they exist: the compromised one must surface critical
/// changes first. (Skipped while `examples/` is being written.)
#[test]
fn example_snapshots_rank_compromise_first() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let (clean, bad) = (
        root.join("contoso-clean.json"),
        root.join("contoso-compromised.json"),
    );
    if !clean.exists() || !bad.exists() {
        eprintln!("examples not present; skipping");
        return;
    }
    let old = m365guard::snapshot::load(&clean).unwrap().snapshot;
    let new = m365guard::snapshot::load(&bad).unwrap().snapshot;
    let changes = drift::diff(&old, &new);
    assert_eq!(changes.changes[0].relevance, Relevance::Critical);
    assert!(changes
        .changes
        .iter()
        .any(|c| c.kind == ResourceKind::InboxRule && c.relevance == Relevance::Critical));
}
