//! Drift: two small snapshots built in code (a clean Contoso and the same tenant a day
//! after a mailbox compromise) — ranking by the rule pack's findings, field paths, counts,
//! unknown sources and the renderings — plus the example snapshots, where `diff` must
//! agree with `scan --since`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use m365guard::config::Config;
use m365guard::drift::{self, render, ChangeKind, Drift, Subject};
use m365guard::findings::Severity;
use m365guard::policy::pack::{self, Builtin, Pack};
use m365guard::snapshot::model::*;
use m365guard::snapshot::source::{self, ResourceKind};
use m365guard::synthetic::{self, SyntheticOptions};
use serde_json::{json, Value};

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
        legacy_exchange_dn: None,
        delegation: Default::default(),
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
                auto_forwarding_mode: "Off".into(),
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
                ..CaPolicy::default()
            }],
            ..ConditionalAccess::default()
        },
        security_defaults: SecurityDefaults {
            is_enabled: Some(false),
        },
        ..Snapshot::default()
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

fn builtin_pack() -> Pack {
    pack::load(&[], Builtin::All).unwrap()
}

fn compare_with(old: &Snapshot, new: &Snapshot, config: Option<&Config>) -> Drift {
    let pack = builtin_pack();
    drift::compare_snapshots(old, new, &drift::Settings::new(&pack, config)).unwrap()
}

fn compare(old: &Snapshot, new: &Snapshot) -> Drift {
    compare_with(old, new, None)
}

fn change<'a>(drift: &'a Drift, kind: Subject, id: &str) -> &'a drift::Change {
    drift
        .changes
        .iter()
        .find(|c| c.kind == kind && c.id == id)
        .unwrap_or_else(|| panic!("no change for {kind} {id}"))
}

fn rules(hits: &[drift::RuleHit]) -> Vec<&str> {
    hits.iter().map(|h| h.rule_id.as_str()).collect()
}

const USER: Subject = Subject::Resource(ResourceKind::User);
const MAILBOX: Subject = Subject::Resource(ResourceKind::Mailbox);
const INBOX_RULE: Subject = Subject::Resource(ResourceKind::InboxRule);
const ROLE_ASSIGNMENT: Subject = Subject::Resource(ResourceKind::RoleAssignment);
const CA_POLICY: Subject = Subject::Resource(ResourceKind::ConditionalAccessPolicy);

#[test]
fn identical_snapshots_have_no_changes() {
    let drift = compare(&clean(), &clean());
    assert!(drift.is_empty(), "{:#?}", drift.changes);
    assert!(drift.findings.new.is_empty() && drift.findings.fixed.is_empty());
    assert!(drift.unknown.is_empty());
    assert!(render::table(&drift).contains("No changes."));
}

/// Was `back_doors_rank_first`, which asserted the Rust copies' own relevance levels
/// (forwarding and the hiding rule "critical", a new GA "critical", the CA policy "high").
/// Now the rule pack judges: each back door carries the rule that newly finds it, at
/// that rule's severity, and changes are ranked by it.
#[test]
fn changes_rank_by_the_rule_packs_new_findings() {
    let drift = compare(&clean(), &compromised());
    let new: Vec<(&str, &str)> = drift
        .findings
        .new
        .iter()
        .map(|f| (f.rule_id.as_str(), f.resource.id.as_str()))
        .collect();
    for expected in [
        ("restricted_sender", "alice@contoso.com"),
        ("inbox_rule_hides_mail", &format!("{ALICE}/101")),
        ("mailbox_external_forwarding", ALICE),
        ("privileged_role_permanent", "ra-2"),
    ] {
        assert!(new.contains(&expected), "{expected:?} not new: {new:?}");
    }
    // Ranked: severity never increases down the list; the first change is the critical one.
    let ranks: Vec<Option<Severity>> = drift.changes.iter().map(|c| c.severity()).collect();
    let mut sorted = ranks.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ranks, sorted);
    assert_eq!(
        drift.changes[0].kind,
        Subject::Resource(ResourceKind::RestrictedSender)
    );
    assert_eq!(drift.changes[0].severity(), Some(Severity::Critical));

    let mailbox = change(&drift, MAILBOX, ALICE);
    assert_eq!(
        rules(&mailbox.new_findings),
        ["mailbox_external_forwarding"]
    );
    let hiding = change(&drift, INBOX_RULE, &format!("{ALICE}/101"));
    assert_eq!(rules(&hiding.new_findings), ["inbox_rule_hides_mail"]);
    assert_eq!(hiding.label, r#"rule "." on alice@contoso.com"#);
    // Carol left: her finding is fixed, not new.
    let carol = change(&drift, USER, CAROL);
    assert_eq!(carol.change, ChangeKind::Removed);
    assert_eq!(rules(&carol.fixed_findings), ["mfa_not_enforced"]);
    // Churn the rule pack has no opinion on: no findings, ranked last.
    for (kind, id) in [
        (INBOX_RULE, format!("{ALICE}/100")),
        (ROLE_ASSIGNMENT, "ra-3".to_owned()),
        (MAILBOX, CAROL.to_owned()),
    ] {
        let c = change(&drift, kind, &id);
        assert!(!c.is_security_relevant(), "{c:?}");
    }
    assert!(drift
        .changes
        .last()
        .is_some_and(|c| !c.is_security_relevant()));
}

#[test]
fn field_level_changes_carry_paths_and_values() {
    let drift = compare(&clean(), &compromised());
    let mailbox = change(&drift, MAILBOX, ALICE);
    assert_eq!(mailbox.change, ChangeKind::Changed);
    assert_eq!(mailbox.fields.len(), 1);
    assert_eq!(mailbox.fields[0].path, "forwarding_smtp_address");
    assert_eq!(mailbox.fields[0].old, json!(null));
    assert_eq!(mailbox.fields[0].new, json!("mallory@evil-mail.example"));

    let alice = change(&drift, USER, ALICE);
    assert_eq!(alice.fields.len(), 1);
    assert_eq!(alice.fields[0].path, "mfa.methods");
    assert_eq!(
        alice.fields[0].old,
        json!(["microsoftAuthenticatorPush", "mobilePhone"])
    );

    let ca = change(&drift, CA_POLICY, "ca-mfa");
    assert_eq!(ca.fields[0].path, "state");
    assert_eq!(ca.fields[0].new, json!("enabledForReportingButNotEnforced"));

    let renamed = change(&drift, INBOX_RULE, &format!("{ALICE}/100"));
    assert_eq!(renamed.fields.len(), 1);
    assert_eq!(renamed.fields[0].path, "name");

    // Added and removed resources carry no field list.
    assert!(change(&drift, ROLE_ASSIGNMENT, "ra-2").fields.is_empty());
    assert_eq!(change(&drift, USER, CAROL).change, ChangeKind::Removed);
}

#[test]
fn summary_counts_added_removed_changed() {
    let drift = compare(&clean(), &compromised());
    let count = |kind: Subject| {
        drift
            .summary
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| (s.added, s.removed, s.changed))
            .unwrap_or_default()
    };
    assert_eq!(count(USER), (1, 1, 1));
    assert_eq!(count(MAILBOX), (0, 1, 1));
    assert_eq!(count(INBOX_RULE), (1, 0, 1));
    assert_eq!(count(ROLE_ASSIGNMENT), (2, 0, 0));
    assert_eq!(
        count(Subject::Resource(ResourceKind::RestrictedSender)),
        (1, 0, 0)
    );
    assert_eq!(count(CA_POLICY), (0, 0, 1));
    assert_eq!(count(Subject::VerifiedDomain), (1, 0, 0));
    assert_eq!(count(Subject::SecurityDefaults), (0, 0, 0));
    let total: usize = drift
        .summary
        .iter()
        .map(|s| s.added + s.removed + s.changed)
        .sum();
    assert_eq!(total, drift.changes.len());
}

/// Was `weakened_controls_are_high` (the Rust copies rated each weakening "high"). Now
/// each weakening is reported through the finding it causes: security defaults off and the
/// MFA policy deleted leave users without enforced MFA and legacy auth unblocked,
/// forwarding mode On is `outbound_auto_forwarding_allowed`, the risky user
/// `risky_user_high`.
#[test]
fn weakened_controls_show_as_new_findings() {
    let mut old = clean();
    let mut new = clean();
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
    let drift = compare(&old, &new);
    let new_rules: BTreeSet<&str> = drift
        .findings
        .new
        .iter()
        .map(|f| f.rule_id.as_str())
        .collect();
    assert_eq!(
        new_rules,
        BTreeSet::from([
            "legacy_auth_not_blocked",
            "mfa_not_enforced",
            "outbound_auto_forwarding_allowed",
            "risky_user_high",
        ])
    );
    let bob = change(&drift, USER, BOB);
    assert_eq!(rules(&bob.new_findings), ["mfa_not_enforced"]);
    assert_eq!(bob.fields[0].path, "per_user_mfa_state");
    let policy = change(
        &drift,
        Subject::Resource(ResourceKind::OutboundSpamPolicy),
        "Default",
    );
    assert_eq!(policy.severity(), Some(Severity::Medium));
    let defaults = change(&drift, Subject::SecurityDefaults, "security_defaults");
    assert_eq!(defaults.fields[0].path, "is_enabled");
    assert_eq!(defaults.fields[0].old, json!(true));
    assert_eq!(
        change(&drift, CA_POLICY, "ca-mfa").change,
        ChangeKind::Removed
    );
}

/// Was `forwarding_rules_are_judged_by_destination_and_state`: the Rust copy rated an
/// internal forward and a disabled external redirect "high" and a privileged group's new
/// member "critical". The rule pack finds none of them (internal forwarding is allowed,
/// `inbox_rule_external_forwarding` reads enabled rules only, no rule watches group
/// membership), so they are plain changes now.
#[test]
fn forwarding_is_judged_by_the_rules_destination_logic() {
    let mut old = clean();
    let mut new = clean();
    // Internal (verified subdomain).
    new.inbox_rules[1].actions.forward_to = vec!["dan@eu.contoso.com".into()];
    // External but disabled.
    let mut disabled = rule(CAROL, "carol", "300", "To gmail");
    disabled.actions.redirect_to = vec!["carol@gmail.com".into()];
    disabled.enabled = false;
    new.inbox_rules.push(disabled);
    // A group holding Helpdesk Administrator gains a member.
    let mut group = assignment("ra-g", HELPDESK, "group-1", "Helpdesk");
    group.principal_type = PrincipalType::Group;
    group.group_member_ids = vec![BOB.into()];
    old.roles.assignments.push(group.clone());
    group.group_member_ids.push(DAVE.into());
    new.roles.assignments.push(group);
    // External and enabled: a finding.
    let mut partner = rule(BOB, "bob", "400", "To partner");
    partner.actions.forward_to = vec!["bob@fabrikam.example".into()];
    new.inbox_rules.push(partner);

    let drift = compare(&old, &new);
    assert!(!change(&drift, INBOX_RULE, &format!("{BOB}/200")).is_security_relevant());
    assert!(!change(&drift, INBOX_RULE, &format!("{CAROL}/300")).is_security_relevant());
    let group = change(&drift, ROLE_ASSIGNMENT, "ra-g");
    assert_eq!(group.fields[0].path, "group_member_ids");
    let partner_id = format!("{BOB}/400");
    assert_eq!(
        rules(&change(&drift, INBOX_RULE, &partner_id).new_findings),
        ["inbox_rule_external_forwarding"]
    );

    // The old Rust `is_external` ignored allowed_forwarding_domains; the rule pack reads
    // them from the config, so with the partner allowed the forward is no finding.
    let config = Config::parse(
        Path::new("m365guard.toml"),
        "[exchange]\nallowed_forwarding_domains = [\"fabrikam.example\"]\n",
    )
    .unwrap();
    let allowed = compare_with(&old, &new, Some(&config));
    assert!(!change(&allowed, INBOX_RULE, &partner_id).is_security_relevant());
    assert!(
        allowed.findings.new.is_empty(),
        "{:?}",
        allowed.findings.new
    );
}

#[test]
fn table_columns_are_aligned() {
    let text = render::table(&compare(&clean(), &compromised()));
    let header = text
        .lines()
        .find(|l| l.starts_with("SEVERITY  CHANGE"))
        .unwrap();
    let resource_col = header.find("RESOURCE").unwrap();
    let findings_col = header.find("FINDINGS").unwrap();
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("SEVERITY  CHANGE"))
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
        if !row.starts_with('-') {
            assert_eq!(
                (at(findings_col - 2), at(findings_col - 1)),
                (' ', ' '),
                "{row}"
            );
            assert_ne!(at(findings_col), ' ', "{row}");
        }
    }
}

#[test]
fn json_round_trips_the_result() {
    let drift = compare(&clean(), &compromised());
    let value: Value = serde_json::from_str(&render::json(&drift).unwrap()).unwrap();
    assert_eq!(
        value["changes"].as_array().unwrap().len(),
        drift.changes.len()
    );
    assert_eq!(value["changes"][0]["kind"], "restricted_sender");
    assert_eq!(
        value["changes"][0]["new_findings"][0]["severity"],
        "critical"
    );
    assert_eq!(
        value["findings"]["new"].as_array().unwrap().len(),
        drift.findings.new.len()
    );
    assert_eq!(value["new"]["tenant_id"], synthetic::TENANT_ID);
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(
        "markdown",
        render::markdown(&compare(&clean(), &compromised()))
    );
}

#[test]
fn markdown_escapes_attacker_controlled_names() {
    let old = clean();
    let mut new = clean();
    let mut evil = rule(BOB, "bob", "666", "| **x** <img src=x> `y`");
    evil.actions.forward_to = vec!["a@evil.example".into()];
    new.inbox_rules.push(evil);
    let md = render::markdown(&compare(&old, &new));
    let rows: Vec<&str> = md.lines().filter(|l| l.contains("img src")).collect();
    // The new finding's row and the change's row.
    assert_eq!(rows.len(), 2, "{md}");
    for row in rows {
        assert!(row.contains(r"\| \*\*x\*\* \<img src=x\> \`y\`"), "{row}");
        let pipes = row
            .match_indices('|')
            .filter(|(i, _)| *i == 0 || row.as_bytes()[i - 1] != b'\\')
            .count();
        // Still one table row: four or five cells.
        assert!(pipes == 5 || pipes == 6, "{row}");
    }
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
    assert!(drift::resources(&old, &new).changes.is_empty());
    new.mailboxes[42].forwarding_smtp_address = Some("x@proton.me".into());
    let removed = new.inbox_rules.remove(7).id;
    let changes = drift::resources(&old, &new).changes;
    assert_eq!(changes.len(), 2, "{changes:#?}");
    assert_eq!(changes[0].id, new.mailboxes[42].id);
    assert_eq!(changes[0].change, ChangeKind::Changed);
    assert_eq!(changes[1].id, removed);
    assert_eq!(changes[1].change, ChangeKind::Removed);
}

/// Every array of the source table is diffed: a new source's array needs no line in drift.
#[test]
fn every_array_of_the_source_table_is_diffed() {
    let old = synthetic::generate(&SyntheticOptions {
        users: 200,
        seed: 3,
        ..SyntheticOptions::default()
    });
    // Take every array out of `new` (into a scratch copy): each object is removed.
    let mut new = old.clone();
    let mut scratch = old.clone();
    for array in source::arrays() {
        array.move_into(&mut new, &mut scratch);
        assert!(array.is_empty(&new));
    }
    let changes = drift::resources(&old, &new).changes;
    let mut filled = 0;
    for array in source::arrays() {
        let removed = changes
            .iter()
            .filter(|c| {
                c.kind == Subject::Resource(array.kind()) && c.change == ChangeKind::Removed
            })
            .count();
        assert_eq!(removed, array.len(&old), "{}", array.path());
        filled += usize::from(removed > 0);
    }
    assert!(filled >= 6, "the generator fills only {filled} arrays");
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("contoso-{name}.json"))
}

/// Run the m365guard binary in a directory without an m365guard.toml.
fn m365guard(args: &[&std::ffi::OsStr]) -> Value {
    let cwd = std::env::temp_dir();
    let output = crate::harness::command()
        .args(args)
        .current_dir(&cwd)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c <= 3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stderr)))
}

fn fingerprints(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

/// `diff OLD NEW` and `scan --snapshot NEW --since OLD` agree for every rule: the new
/// findings are SARIF's `new` results and the fixed ones its `absent` results.
#[test]
fn diff_agrees_with_scan_since_on_the_examples() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/m365guard.toml");
    let no_config: &[&std::ffi::OsStr] = &[];
    let with_config: &[&std::ffi::OsStr] = &["--config".as_ref(), config.as_os_str()];
    // With the example config too: an earlier snapshot is judged with the same waivers
    // (its break-glass findings were once reported as "absent" by `scan --since`).
    for (old, new, extra) in [
        ("clean", "compromised", no_config),
        ("compromised", "clean", no_config),
        ("compromised", "compromised", no_config),
        ("compromised", "compromised", with_config),
        ("clean", "compromised", with_config),
    ] {
        let (old, new) = (example(old), example(new));
        let mut scan_args: Vec<&std::ffi::OsStr> = vec![
            "scan".as_ref(),
            "--snapshot".as_ref(),
            new.as_os_str(),
            "--since".as_ref(),
            old.as_os_str(),
            "--format".as_ref(),
            "sarif".as_ref(),
        ];
        scan_args.extend(extra);
        let sarif = m365guard(&scan_args);
        let mut since: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        for result in sarif["runs"][0]["results"].as_array().unwrap() {
            since
                .entry(result["baselineState"].as_str().unwrap().to_owned())
                .or_default()
                .insert(
                    result["partialFingerprints"]["m365guard/v1"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
        }
        // Fixed findings are not SARIF results (they would keep code-scanning alerts open):
        // the run lists them in its properties.
        for gone in sarif["runs"][0]["properties"]["m365guard/absent"]
            .as_array()
            .into_iter()
            .flatten()
        {
            since
                .entry("absent".to_owned())
                .or_default()
                .insert(gone["fingerprint"].as_str().unwrap().to_owned());
        }
        let mut diff_args: Vec<&std::ffi::OsStr> = vec![
            "diff".as_ref(),
            old.as_os_str(),
            new.as_os_str(),
            "--format".as_ref(),
            "json".as_ref(),
        ];
        diff_args.extend(extra);
        let diff = m365guard(&diff_args);
        let findings = &diff["findings"];
        let state = |name: &str| since.get(name).cloned().unwrap_or_default();
        let context = format!("{} -> {}", old.display(), new.display());
        assert_eq!(fingerprints(&findings["new"]), state("new"), "{context}");
        assert_eq!(
            fingerprints(&findings["fixed"]),
            state("absent"),
            "{context}"
        );
        assert_eq!(
            fingerprints(&findings["updated"]),
            state("updated"),
            "{context}"
        );
        assert_eq!(
            fingerprints(&findings["unchanged"]),
            state("unchanged"),
            "{context}"
        );
        assert!(findings["not_compared"].as_array().unwrap().is_empty());
        // Not vacuous: the compromise has findings of most rules (open or fixed).
        let rules: BTreeSet<&str> = sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .chain(
                sarif["runs"][0]["properties"]["m365guard/absent"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            )
            .map(|r| r["ruleId"].as_str().unwrap())
            .collect();
        assert!(rules.len() >= 8, "{rules:?}");
    }
}

/// `contoso-partial.json` has its Exchange sources in error and two unlicensed: diffing
/// it against the compromised snapshot must not report 25 mailboxes "added".
#[test]
fn a_source_in_error_is_unknown_not_added() {
    let diff = m365guard(&[
        "diff".as_ref(),
        example("partial").as_os_str(),
        example("compromised").as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let unknown: Vec<(&str, &str)> = diff["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["source"].as_str().unwrap(),
                u["old"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    // Every source the partial example did not collect, in source-table order.
    let partial = m365guard::snapshot::io::load(&example("partial"))
        .unwrap()
        .snapshot;
    let expected: Vec<(&str, &str)> = source::SOURCES
        .iter()
        .filter_map(|d| match partial.sources[&d.id].status {
            SourceState::Ok => None,
            SourceState::Error => Some((d.id.as_str(), "error")),
            SourceState::Unavailable => Some((d.id.as_str(), "unavailable")),
        })
        .collect();
    assert!(expected.len() >= 6, "{expected:?}");
    assert_eq!(unknown, expected);
    let mailboxes = diff["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["source"] == "mailboxes")
        .unwrap();
    assert_eq!(mailboxes["not_compared"], json!(["mailbox"]));
    assert!(mailboxes["old"]["reason"].as_str().unwrap().contains("403"));
    assert_eq!(mailboxes["new"]["status"], "ok");
    let unknown_kinds = [
        "mailbox",
        "inbox_rule",
        "role_eligibility",
        "risky_user",
        "outbound_spam_policy",
        "restricted_sender",
    ];
    for change in diff["changes"].as_array().unwrap() {
        let kind = change["kind"].as_str().unwrap();
        assert!(!unknown_kinds.contains(&kind), "{change}");
    }
    // Findings of rules that could not run on the partial snapshot are neither new nor
    // fixed.
    let findings = &diff["findings"];
    assert!(findings["new"].as_array().unwrap().is_empty(), "{findings}");
    let not_compared = findings["not_compared"].as_array().unwrap();
    assert!(not_compared
        .iter()
        .any(|n| n["finding"]["rule_id"] == "mailbox_external_forwarding" && n["side"] == "new"));

    // And the table says so.
    let partial = example("partial");
    let compromised = example("compromised");
    let output = crate::harness::command()
        .args([
            std::ffi::OsStr::new("diff"),
            partial.as_os_str(),
            compromised.as_os_str(),
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Unknown sources"), "{text}");
    assert!(
        text.contains("mailboxes: old error (Exchange admin API returned 403"),
        "{text}"
    );
}

/// An enriching source in error (MFA registration fills `users[].mfa`) hides only the
/// fields it fills, not the users.
#[test]
fn an_enriching_source_in_error_hides_only_its_fields() {
    let old = clean();
    let mut new = compromised();
    if let Some(status) = new.sources.get_mut(&SourceId::MfaRegistration) {
        status.status = SourceState::Error;
        status.reason = Some("403".into());
    }
    let changes = drift::resources(&old, &new);
    assert_eq!(changes.unknown.len(), 1);
    assert_eq!(changes.unknown[0].not_compared, ["user.mfa"]);
    // Alice's only change was her MFA methods: nothing left to report.
    assert!(!changes
        .changes
        .iter()
        .any(|c| c.kind == USER && c.id == ALICE));
    // Dave is still added, Carol still removed.
    assert!(changes
        .changes
        .iter()
        .any(|c| c.id == DAVE && c.change == ChangeKind::Added));
    assert!(changes
        .changes
        .iter()
        .any(|c| c.id == CAROL && c.change == ChangeKind::Removed));
}

#[test]
fn example_snapshots_rank_compromise_first() {
    let pack = builtin_pack();
    let drift = drift::compare_files(
        &example("clean"),
        &example("compromised"),
        &drift::Settings::new(&pack, None),
    )
    .unwrap();
    assert_eq!(drift.changes[0].severity(), Some(Severity::Critical));
    assert!(drift.changes.iter().any(|c| c.kind == INBOX_RULE
        && c.new_findings
            .iter()
            .any(|h| h.rule_id == "inbox_rule_hides_mail")));
}

#[test]
fn comparing_two_tenants_is_an_error() {
    let mut other = clean();
    other.tenant.id = "00000000-0000-4000-8000-000000000000".into();
    let pack = builtin_pack();
    let err =
        drift::compare_snapshots(&clean(), &other, &drift::Settings::new(&pack, None)).unwrap_err();
    assert!(
        err.to_string().contains("diff compares one tenant"),
        "{err}"
    );
}
