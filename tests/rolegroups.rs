//! Exchange role groups end to end (issue 11): the `exchange_role_groups` source collected
//! from the emulator's contoso scenario (the attacker added Lena to Organization
//! Management), the `exchange_role_group_unexpected` rule, `remove_role_group_member`
//! through plan → apply → re-scan, a 403 making the rule not evaluated, `respond`'s step 6
//! order and review list, and the emulator's parameter sets.

use std::collections::BTreeSet;

use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider};
use m365guard::exchange::ExchangeClient;
use m365guard_emulator::{Emulator, Faults, Service};
use serde_json::{json, Value};

use crate::harness::{example, start, Scenario};

const RULE: &str = "exchange_role_group_unexpected";
const LENA: &str = "lena.fischer@contoso.com";
const LENA_IN_ORG_MANAGEMENT: &str = "Organization Management/lena fischer";

fn members_of(emu: &Emulator, group: &str) -> Vec<String> {
    emu.state()
        .role_groups
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.members.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn scan_tenant_flags_the_role_group_member_the_example_shows() {
    let s = Scenario::contoso();
    let live = s.scan(&[]);
    assert_eq!(live.code, 1, "{}", live.out.stderr);
    let offline = s.scan_snapshot(&example("contoso-compromised.json"), "offline");
    let want = offline.findings(RULE);
    assert_eq!(live.findings(RULE), want);
    // Lena (added by the attacker) is critical; the linked TenantAdmins_ and
    // ExchangeServiceAdmins_ role groups are not findings.
    assert_eq!(
        want,
        BTreeSet::from([(LENA_IN_ORG_MANAGEMENT.to_owned(), "critical".to_owned())])
    );
    // The clean example passes the rule.
    let clean = s.scan_snapshot(&example("contoso-clean.json"), "clean");
    assert_eq!(clean.rule(RULE)["status"], "passed");

    // [roles] allowed_exchange_role_group_members accepts her.
    let configured = s.scan_with_config(
        "[roles]\nallowed_exchange_role_group_members = [\"lena.fischer@contoso.com\"]\n",
    );
    assert_eq!(
        configured.rule(RULE)["status"],
        "passed",
        "{}",
        configured.out.stderr
    );
}

/// The collected section is the example's, member for member (ids, group guid, address,
/// type; the linked role groups without an address or object id).
#[test]
fn collect_reads_the_same_members_as_the_example() {
    let s = Scenario::contoso();
    let out = s.run(&["collect", "-o", "snap.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let snap = s.read_json("snap.json");
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(example("contoso-compromised.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        snap["exchange_role_groups"],
        example["exchange_role_groups"]
    );
    assert_eq!(
        snap["sources"]["exchange_role_groups"],
        json!({"status": "ok", "items": 3})
    );
}

#[test]
fn plan_apply_rescan_removes_the_member_once() {
    let s = Scenario::contoso();
    let plan = s.plan(&["--rule", RULE]);
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plan}");
    let action = &actions[0];
    assert_eq!(action["kind"], "remove_role_group_member");
    assert_eq!(action["target"]["id"], LENA_IN_ORG_MANAGEMENT);
    assert_eq!(action["precondition"]["member"], "Lena Fischer");
    assert!(action["rollback"].as_str().unwrap().starts_with(
        "Add-RoleGroupMember -Identity \"Organization Management\" -Member \"Lena Fischer\""
    ));
    assert!(s.writes().is_empty(), "planning wrote");

    let out = s.apply(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("1 applied, 0 already done"),
        "{}",
        out.stdout
    );
    let log = s.writes();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].operation, "Remove-RoleGroupMember");
    assert_eq!(log[0].status, 200);
    assert_eq!(
        log[0].body,
        json!({"Identity": "Organization Management", "Member": "Lena Fischer",
            "BypassSecurityGroupManagerCheck": true, "Confirm": false})
    );
    let left = members_of(&s.emu, "Organization Management");
    assert!(!left.iter().any(|m| m == "Lena Fischer"), "{left:?}");
    assert_eq!(left.len(), 2, "the linked role groups stay: {left:?}");
    let audit = std::fs::read_to_string(s.path("m365guard-audit.jsonl")).unwrap();
    let line: Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(line["outcome"], "applied", "{line}");
    assert_eq!(
        line["before"]["definition"]["role_group"],
        "Organization Management"
    );

    let rescan = s.scan(&[]);
    assert_eq!(
        rescan.rule(RULE)["status"],
        "passed",
        "{}",
        rescan.out.stderr
    );
    assert_ne!(rescan.code, 3, "{}", rescan.out.stderr);

    let writes_before = s.writes().len();
    let again = s.apply(&[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 applied, 1 already done"),
        "{}",
        again.stdout
    );
    assert_eq!(s.writes().len(), writes_before, "a second apply wrote");
}

#[test]
fn a_forbidden_role_group_read_makes_the_rule_not_evaluated() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        forbid_cmdlets: vec!["Get-RoleGroupMember".into()],
        ..Faults::default()
    });
    let scan = s.scan(&[]);
    assert_eq!(scan.code, 3, "{}", scan.out.stderr);
    let outcome = scan.rule(RULE);
    assert_eq!(outcome["status"], "not_evaluated", "{outcome}");
    assert!(outcome["findings"].as_array().is_none_or(|f| f.is_empty()));
    let out = s.run(&["collect", "-o", "snap.json"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let snap = s.read_json("snap.json");
    let st = &snap["sources"]["exchange_role_groups"];
    assert_eq!(st["status"], "error", "{st}");
    let reason = st["reason"].as_str().unwrap();
    assert!(reason.contains("Get-RoleGroupMember"), "{reason}");
    assert!(reason.contains("403"), "{reason}");
    assert_eq!(snap["exchange_role_groups"], json!([]));
    assert_eq!(snap["sources"]["mailboxes"]["status"], "ok");
}

/// Step 6: the Entra roles go first, then the Exchange role groups (the write log's
/// order); the review lists delegations and the mail flow changed in the window, and the
/// checklist names the Purview role groups respond cannot reach.
#[test]
fn respond_removes_the_role_groups_after_the_entra_roles_and_lists_the_rest() {
    let sc = Scenario::contoso();
    let out = sc.run(&[
        "respond",
        "--user",
        LENA,
        "--remove-admin-roles",
        "--since",
        "2025-12-30",
        "--yes",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log = sc.writes();
    let role_group = log
        .iter()
        .position(|w| w.operation == "Remove-RoleGroupMember")
        .unwrap_or_else(|| panic!("no role group write: {log:#?}"));
    assert_eq!(log[role_group].status, 200);
    assert_eq!(log[role_group].body["Member"], "Lena Fischer");
    let entra_roles: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            w.service == Service::Graph && w.target.contains("/roleManagement/directory/")
        })
        .map(|(i, _)| i)
        .collect();
    assert!(!entra_roles.is_empty(), "{log:#?}");
    assert!(
        entra_roles.iter().all(|i| *i < role_group),
        "Exchange role group before an Entra role: {log:#?}"
    );
    assert!(!members_of(&sc.emu, "Organization Management")
        .iter()
        .any(|m| m == "Lena Fischer"));

    // Listed, not changed.
    let s = &out.stdout;
    for needle in [
        "delegations granted to the user: 2",
        "delegations on the user's mailbox: 0",
        "transport rules changed in the window: 3",
        "transport rule \"Invoice archive\" changed 2025-12-31 02:31 UTC",
        "connectors changed in the window: 2",
        "outbound connector \"Partner relay\"",
        "Purview (Security & Compliance) role groups: not reachable",
    ] {
        assert!(s.contains(needle), "{needle}:\n{s}");
    }
    assert!(!s.contains("External disclaimer"), "{s}");
    assert!(!log
        .iter()
        .any(|w| w.operation.contains("TransportRule") || w.operation.contains("Connector")));
}

/// A role group read that fails stops respond --remove-admin-roles before any write: a
/// membership it cannot see would be a way back in left unsaid.
#[test]
fn respond_stops_when_the_role_groups_cannot_be_read() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        forbid_cmdlets: vec!["Get-RoleGroup".into()],
        ..Faults::default()
    });
    let out = s.run(&["respond", "--user", LENA, "--remove-admin-roles", "--yes"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("cannot read the Exchange role groups of lena.fischer@contoso.com"),
        "{}",
        out.stderr
    );
    assert!(s.writes().is_empty(), "{:#?}", s.writes());
}

/// Without --remove-admin-roles the role groups are left alone.
#[test]
fn respond_without_remove_admin_roles_keeps_the_role_groups() {
    let s = Scenario::contoso();
    let out = s.run(&["respond", "--user", LENA, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!s
        .writes()
        .iter()
        .any(|w| w.operation == "Remove-RoleGroupMember"));
    assert!(members_of(&s.emu, "Organization Management")
        .iter()
        .any(|m| m == "Lena Fischer"));
}

fn exchange(emu: &Emulator) -> (TokenProvider, ureq::Agent) {
    let settings = Settings::validate(RawSettings {
        tenant: Some(emu.tenant_id()),
        client_id: Some(emu.client_id()),
        client_secret: Some(Secret::new(emu.client_secret().unwrap())),
        authority: Some(emu.base_url.clone()),
        graph_url: Some(emu.base_url.clone()),
        exchange_url: Some(emu.base_url.clone()),
    })
    .unwrap();
    let agent = m365guard::collect::agent();
    (TokenProvider::new(settings, agent.clone()), agent)
}

/// The emulator is as strict as the reference pages: mandatory -Identity/-Member, the
/// manager check without -BypassSecurityGroupManagerCheck, on-premises-only parameters.
#[test]
fn emulator_enforces_the_documented_parameter_sets() {
    let emu = start();
    let (tokens, agent) = exchange(&emu);
    let exo = ExchangeClient::new(&tokens, agent);
    let refused = |cmdlet: &str, params: Value, needle: &str| {
        let err = exo.invoke(cmdlet, params.clone()).unwrap_err().to_string();
        assert!(err.contains(needle), "{cmdlet} {params}: {err}");
    };
    refused(
        "Get-RoleGroupMember",
        json!({}),
        "mandatory parameters: Identity",
    );
    refused(
        "Get-RoleGroup",
        json!({"DomainController": "dc01.contoso.com"}),
        "DomainController",
    );
    refused(
        "Remove-RoleGroupMember",
        json!({"Identity": "Organization Management"}),
        "mandatory parameters: Member",
    );
    refused(
        "Remove-RoleGroupMember",
        json!({"Identity": "Organization Management", "Member": "Lena Fischer"}),
        "manager of the group",
    );
    refused(
        "Get-RoleGroupMember",
        json!({"Identity": "No Such Group"}),
        "couldn't be found",
    );
    refused(
        "Remove-RoleGroupMember",
        json!({"Identity": "Discovery Management", "Member": LENA,
            "BypassSecurityGroupManagerCheck": true}),
        "isn't a member",
    );
    assert!(emu
        .state()
        .role_groups
        .iter()
        .any(|g| g.name == "Organization Management"
            && g.members.iter().any(|m| m.name == "Lena Fischer")));

    let groups = exo.invoke("Get-RoleGroup", json!({})).unwrap();
    let names: BTreeSet<&str> = groups.iter().filter_map(|g| g["Name"].as_str()).collect();
    assert!(
        names.contains("View-Only Organization Management"),
        "{names:?}"
    );
    let members = exo
        .invoke(
            "Get-RoleGroupMember",
            json!({"Identity": "organization management"}),
        )
        .unwrap();
    let lena = members
        .iter()
        .find(|m| m["Name"] == "Lena Fischer")
        .expect("Lena listed");
    assert_eq!(lena["WindowsLiveID"], LENA);
    assert_eq!(lena["RecipientTypeDetails"], "UserMailbox");

    // Add-RoleGroupMember (the rollback) puts a member back; twice is refused.
    let add = json!({"Identity": "Discovery Management", "Member": LENA,
        "BypassSecurityGroupManagerCheck": true});
    exo.invoke("Add-RoleGroupMember", add.clone()).unwrap();
    assert_eq!(members_of(&emu, "Discovery Management"), ["Lena Fischer"]);
    refused("Add-RoleGroupMember", add, "already a member");
}
