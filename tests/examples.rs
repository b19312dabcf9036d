//! The bundled example snapshots (`examples/contoso-*.json`): they parse with the schema,
//! are in the canonical stable layout, tell the story `examples/README.md` describes, and
//! scan to the documented outcome (compromised exits 1, clean 0, partial 3). Also checks
//! that the Rego tests' base fixture (`policies/lib/fixtures.rego`) is a valid snapshot, so
//! rule tests exercise the shape the collectors really produce.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use m365guard::snapshot::io::{normalise, to_stable_json};
use m365guard::snapshot::{PrincipalType, Snapshot, SourceId, SourceState, UserType};

const EXAMPLES: [&str; 3] = [
    "contoso-compromised.json",
    "contoso-clean.json",
    "contoso-partial.json",
];

const TENANT_ID: &str = "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const BREAKGLASS: &str = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
const INFO: &str = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e01";
const TOM: &str = "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example_path(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn load(name: &str) -> Snapshot {
    m365guard::snapshot::load(&example_path(name))
        .unwrap_or_else(|err| panic!("{name}: {err}"))
        .snapshot
}

fn user_upns(snapshot: &Snapshot) -> BTreeSet<&str> {
    snapshot
        .users
        .iter()
        .map(|u| u.user_principal_name.as_str())
        .collect()
}

#[test]
fn examples_are_in_the_canonical_stable_layout() {
    for name in EXAMPLES {
        let loaded = m365guard::snapshot::load(&example_path(name)).unwrap();
        let mut snapshot = loaded.snapshot.clone();
        normalise(&mut snapshot);
        let rewritten = to_stable_json(&snapshot);
        if rewritten != loaded.text {
            let first_diff = rewritten
                .lines()
                .zip(loaded.text.lines())
                .position(|(a, b)| a != b)
                .map_or("length differs".to_owned(), |i| format!("line {}", i + 1));
            panic!(
                "{name} is not in the stable layout ({first_diff}); regenerate it with the writer"
            );
        }
    }
}

#[test]
fn examples_describe_the_same_contoso_tenant() {
    let compromised = load("contoso-compromised.json");
    for name in EXAMPLES {
        let snapshot = load(name);
        assert_eq!(snapshot.tenant.id, TENANT_ID, "{name}");
        assert_eq!(
            snapshot.tenant.verified_domains,
            ["contoso.com", "contoso.onmicrosoft.com", "eu.contoso.com"],
            "{name}"
        );
        assert_eq!(
            snapshot.sources.len(),
            SourceId::ALL.len(),
            "{name}: every source has a status"
        );
        assert_eq!(
            user_upns(&snapshot),
            user_upns(&compromised),
            "{name}: same people"
        );
    }
}

#[test]
fn compromised_example_tells_the_whole_story() {
    let s = load("contoso-compromised.json");
    assert!(s.users.len() >= 25, "only {} users", s.users.len());
    assert!(s.sources.values().all(|st| st.status == SourceState::Ok));
    // Every source that owns arrays reports exactly what they hold (the source table says
    // which arrays each source fills).
    for source in m365guard::snapshot::source::SOURCES
        .iter()
        .filter(|d| !d.resources.is_empty())
    {
        let held: usize = source.resources.iter().map(|a| a.len(&s)).sum();
        assert_eq!(
            s.sources[&source.id].items, held as u64,
            "items of {}",
            source.id
        );
    }

    let guests = s
        .users
        .iter()
        .filter(|u| u.user_type == UserType::Guest)
        .count();
    let disabled = s.users.iter().filter(|u| !u.account_enabled).count();
    assert!((2..=3).contains(&guests), "{guests} guests");
    assert_eq!(disabled, 2);

    // Lena: no MFA at all.
    let lena = s.users.iter().find(|u| u.id == LENA).unwrap();
    let mfa = lena.mfa.as_ref().unwrap();
    assert!(!mfa.is_mfa_registered && mfa.methods.is_empty());
    assert_eq!(
        lena.per_user_mfa_state,
        Some(m365guard::snapshot::PerUserMfaState::Disabled)
    );

    // Her mailbox forwards everything to a freemail address and keeps a copy.
    let mailbox = s.mailboxes.iter().find(|m| m.id == LENA).unwrap();
    assert_eq!(
        mailbox.forwarding_smtp_address.as_deref(),
        Some("lena.backup@gmail.com")
    );
    assert!(mailbox.deliver_to_mailbox_and_forward);

    // Rule "." moves replies to RSS Feeds and marks them read; ".." deletes invoices.
    let rules: BTreeMap<&str, _> = s
        .inbox_rules
        .iter()
        .filter(|r| r.mailbox_id == LENA)
        .map(|r| (r.name.as_str(), r))
        .collect();
    let dot = rules["."];
    assert!(dot.enabled && dot.actions.mark_as_read);
    assert_eq!(dot.conditions.subject_contains, ["RE:"]);
    let folder = dot.actions.move_to_folder.as_ref().unwrap();
    assert_eq!(folder.well_known_name.as_deref(), Some("rssfeeds"));
    assert_eq!(folder.name.as_deref(), Some("RSS Feeds"));
    let dots = rules[".."];
    assert!(dots.enabled && dots.actions.delete);
    assert_eq!(
        dots.conditions.subject_or_body_contains,
        ["invoice", "payment"]
    );

    // Standing Global Administrator, added by the attacker.
    assert!(s.roles.assignments.iter().any(|a| a.principal_id == LENA
        && a.role_definition_id == GLOBAL_ADMIN
        && a.principal_type == PrincipalType::User
        && a.end_date_time.is_none()));

    // Blocked from sending, and high risk in Identity Protection.
    assert!(s
        .outbound_spam
        .restricted_senders
        .iter()
        .any(|r| r.id == "lena.fischer@contoso.com" && r.user_id.as_deref() == Some(LENA)));
    let risk = s.risky_users.iter().find(|r| r.id == LENA).unwrap();
    assert_eq!(
        (risk.risk_level.as_str(), risk.risk_state.as_str()),
        ("high", "atRisk")
    );

    // The tenant settings that let it happen.
    assert_eq!(s.security_defaults.is_enabled, Some(false));
    let mfa_policy = s
        .conditional_access
        .policies
        .iter()
        .find(|p| p.display_name == "Require MFA for all users")
        .unwrap();
    assert_eq!(mfa_policy.state, "enabledForReportingButNotEnforced");
    assert!(!s
        .conditional_access
        .policies
        .iter()
        .any(|p| p.state == "enabled" && p.built_in_controls.iter().any(|c| c == "block")));
    let default = s
        .outbound_spam
        .policies
        .iter()
        .find(|p| p.is_default)
        .unwrap();
    assert_eq!(default.auto_forwarding_mode, "On");

    // The break-glass account: Global Administrator with a FIDO2 key.
    let breakglass = s.users.iter().find(|u| u.id == BREAKGLASS).unwrap();
    assert_eq!(
        breakglass.user_principal_name,
        "breakglass01@contoso.onmicrosoft.com"
    );
    assert_eq!(breakglass.mfa.as_ref().unwrap().methods, ["fido2"]);
    assert!(s
        .roles
        .assignments
        .iter()
        .any(|a| a.principal_id == BREAKGLASS && a.role_definition_id == GLOBAL_ADMIN));
}

#[test]
fn clean_example_has_every_back_door_closed() {
    let s = load("contoso-clean.json");
    assert!(s.sources.values().all(|st| st.status == SourceState::Ok));
    assert!(s
        .mailboxes
        .iter()
        .all(|m| m.forwarding_smtp_address.is_none()));
    assert!(s
        .inbox_rules
        .iter()
        .all(|r| r.mailbox_id != LENA || r.name == "Newsletters"));
    assert!(s.outbound_spam.restricted_senders.is_empty());
    assert!(!s.roles.assignments.iter().any(|a| a.principal_id == LENA));
    assert!(s
        .conditional_access
        .policies
        .iter()
        .any(|p| p.display_name == "Require MFA for all users" && p.state == "enabled"));
    let active_admins: BTreeSet<&str> = s
        .roles
        .assignments
        .iter()
        .filter(|a| a.role_definition_id == GLOBAL_ADMIN)
        .map(|a| a.principal_id.as_str())
        .collect();
    assert!((2..=4).contains(&active_admins.len()), "{active_admins:?}");
    assert!(!s.roles.eligible_assignments.is_empty(), "PIM data present");
}

#[test]
fn partial_example_records_failed_and_unlicensed_sources() {
    let s = load("contoso-partial.json");
    let status = |id: SourceId| s.sources.get(&id).unwrap();
    // The app has no Exchange role: every Exchange source failed.
    let exchange_sources = m365guard::snapshot::source::SOURCES
        .iter()
        .filter(|d| d.needs.exchange)
        .map(|d| d.id);
    for id in exchange_sources {
        assert_eq!(status(id).status, SourceState::Error, "{id}");
        let reason = status(id).reason.as_deref().unwrap();
        assert!(
            reason.contains("403") && reason.contains("Exchange role"),
            "{id}: {reason}"
        );
    }
    for id in [SourceId::RiskyUsers, SourceId::RoleEligibility] {
        assert_eq!(status(id).status, SourceState::Unavailable, "{id}");
        assert!(status(id).reason.as_deref().unwrap().contains("P2"), "{id}");
    }
    let ok = s
        .sources
        .values()
        .filter(|st| st.status == SourceState::Ok)
        .count();
    // Workload ID Premium is missing too: its API refused the app management policies.
    let apps = status(SourceId::AppManagementPolicies);
    assert_eq!(apps.status, SourceState::Unavailable);
    assert!(apps
        .reason
        .as_deref()
        .unwrap()
        .contains("Workload Identities Premium"));
    assert!(s.apps.management_policies.is_empty());
    // Everything but the Exchange sources and the three licence-gated ones.
    let exchange = m365guard::snapshot::source::SOURCES
        .iter()
        .filter(|d| d.needs.exchange)
        .count();
    assert_eq!(ok, SourceId::ALL.len() - exchange - 3);
    assert!(s.mailboxes.is_empty() && s.inbox_rules.is_empty());
    assert!(s.outbound_spam.policies.is_empty() && s.outbound_spam.restricted_senders.is_empty());
    assert!(s.risky_users.is_empty() && s.roles.eligible_assignments.is_empty());
    // The Graph side is still the compromised tenant.
    assert!(s.roles.assignments.iter().any(|a| a.principal_id == LENA));
}

/// `m365guard scan --snapshot examples/NAME -f json`: (exit code, parsed report).
fn scan(name: &str) -> (i32, serde_json::Value) {
    let out = crate::harness::command()
        .current_dir(root())
        .args(["scan", "--snapshot"])
        .arg(Path::new("examples").join(name))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "{name}: no JSON report ({err}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

/// rule id → (status, set of finding resource ids).
fn outcomes(report: &serde_json::Value) -> BTreeMap<String, (String, BTreeSet<String>)> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            let ids = rule["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["resource"]["id"].as_str().unwrap().to_owned())
                .collect();
            (
                rule["id"].as_str().unwrap().to_owned(),
                (rule["status"].as_str().unwrap().to_owned(), ids),
            )
        })
        .collect()
}

#[test]
fn scanning_the_compromised_example_finds_every_back_door() {
    let (code, report) = scan("contoso-compromised.json");
    assert_eq!(code, 1);
    let outcomes = outcomes(&report);
    let lena_rule = |rule_id: &str| format!("{LENA}/{rule_id}");
    let expect: [(&str, &[String]); 10] = [
        ("admin_without_mfa", &[LENA.into()]),
        ("risky_user_high", &[LENA.into()]),
        ("restricted_sender", &["lena.fischer@contoso.com".into()]),
        (
            "inbox_rule_hides_mail",
            &[
                lena_rule("4727603405627269121"),
                lena_rule("4727603405627269122"),
            ],
        ),
        // Default allows it (On); EU office relies on the service default (Automatic).
        (
            "outbound_auto_forwarding_allowed",
            &["Default".into(), "EU office".into()],
        ),
        // The Sync rule forwards to the "AP Archive" mail contact (an EX: reference live).
        (
            "inbox_rule_external_forwarding",
            &[lena_rule("4727603405627269190")],
        ),
        ("legacy_auth_not_blocked", &[TENANT_ID.into()]),
        ("too_many_global_admins", &[]),
        ("too_few_global_admins", &[]),
        ("guest_in_privileged_role", &[]),
    ];
    for (rule, ids) in expect {
        let (_, found) = &outcomes[rule];
        let ids: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(found, &ids, "{rule}");
    }
    for (rule, id) in [
        ("mailbox_external_forwarding", LENA),
        // info@ forwards to the "AP Archive" mail contact through ForwardingAddress.
        ("mailbox_external_forwarding", INFO),
        ("user_without_mfa", LENA),
        ("mfa_not_enforced", LENA),
    ] {
        assert!(outcomes[rule].1.contains(id), "{rule} misses Lena");
    }
    assert!(outcomes["privileged_role_permanent"]
        .1
        .iter()
        .any(|id| id == "lAPpYvVpN0KRkAEhdxReEEo-Lh1sW01Nj5oLHC0-T1oBAAAA"));
    // The disabled external forwarding rule and the internal ones are not findings (the
    // expected set above holds the Sync rule only); Tom's forward to a colleague is none.
    assert!(!outcomes["mailbox_external_forwarding"].1.contains(TOM));
}

#[test]
fn scanning_the_clean_example_passes_every_rule() {
    let (code, report) = scan("contoso-clean.json");
    assert_eq!(code, 0);
    let outcomes = outcomes(&report);
    assert!(outcomes.len() >= 14);
    for (rule, (status, ids)) in &outcomes {
        assert_eq!(status, "passed", "{rule}: {ids:?}");
    }
}

#[test]
fn scanning_the_partial_example_is_incomplete() {
    let (code, report) = scan("contoso-partial.json");
    assert_eq!(code, 3);
    let outcomes = outcomes(&report);
    for rule in [
        "mailbox_external_forwarding",
        "inbox_rule_external_forwarding",
        "inbox_rule_hides_mail",
        "outbound_auto_forwarding_allowed",
        "restricted_sender",
    ] {
        assert_eq!(outcomes[rule].0, "not_evaluated", "{rule}");
    }
    for rule in ["risky_user_high", "privileged_role_permanent"] {
        assert_eq!(outcomes[rule].0, "not_applicable", "{rule}");
    }
    // Rules on the sources that did arrive still report.
    assert_eq!(
        outcomes["admin_without_mfa"].1,
        BTreeSet::from([LENA.to_owned()])
    );
}

#[test]
fn rego_base_fixture_is_a_valid_snapshot() {
    let path = root().join("policies/lib/fixtures.rego");
    let mut engine = regorus::Engine::new();
    engine
        .add_policy(
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        )
        .unwrap();
    let base = engine
        .eval_rule("data.m365guard.lib.fixtures.base".to_owned())
        .unwrap();
    let text = base.to_json_str().unwrap();
    let snapshot =
        m365guard::snapshot::io::parse(&path, &text).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(snapshot.tenant.id, TENANT_ID);
    assert!(snapshot
        .sources
        .values()
        .all(|st| st.status == SourceState::Ok));
    assert_eq!(snapshot.sources.len(), SourceId::ALL.len());
}

/// Issue 11: the mail-flow back doors of the story, each found once, on the right object;
/// the disclaimer rule and the on-premises connectors are near misses.
#[test]
fn scanning_the_compromised_example_finds_the_mail_flow_back_doors() {
    let (_, report) = scan("contoso-compromised.json");
    let outcomes = outcomes(&report);
    for (rule, id) in [
        (
            "transport_rule_external_copy",
            "9a7c3e21-5d6f-4a8b-9c0d-2e3f4a5b6c02",
        ),
        (
            "transport_rule_bypasses_filtering",
            "b4d2f6a8-1c3e-4f5a-8b7c-9d0e1f2a3b03",
        ),
        (
            "transport_rule_deletes_mail",
            "c8e1a3b5-7d9f-4b2c-8e4a-6f8b0c2d4e04",
        ),
        (
            "outbound_connector_unexpected",
            "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a05",
        ),
        (
            "inbound_connector_relay_open",
            "a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c07",
        ),
    ] {
        assert_eq!(outcomes[rule].1, BTreeSet::from([id.to_owned()]), "{rule}");
    }
    let clean = load("contoso-clean.json");
    assert_eq!(clean.transport_rules.len(), 1);
    assert!(!clean.outbound_connectors.is_empty() && !clean.inbound_connectors.is_empty());
}
