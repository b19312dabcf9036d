//! Direct Exchange role assignments and application access policies end to end (issue 11):
//! the `exchange_role_assignments` and `application_access_policies` sources collected from
//! the emulator's contoso scenario (the attacker gave Lena ApplicationImpersonation and the
//! payroll connector, whose secret he added, `Application Mail.ReadWrite` on every
//! mailbox), the rules `exchange_role_assignment_unexpected` and
//! `app_mailbox_access_unrestricted`, `remove_management_role_assignment` through plan →
//! apply → re-scan (the service principal's only with `--allow app-changes`), a failing
//! source making its rules not evaluated, and the emulator's parameter sets.

use std::collections::BTreeSet;

use m365guard::exchange::ExchangeClient;
use m365guard_emulator::{Emulator, Faults, Grants};
use serde_json::{json, Value};

use crate::harness::{self, example, start, Scenario};

const ASSIGNMENT_RULE: &str = "exchange_role_assignment_unexpected";
const APP_RULE: &str = "app_mailbox_access_unrestricted";
const LENA_IMPERSONATION: &str = "ApplicationImpersonation-Lena Fischer";
const PAYROLL_MAIL: &str = "Application Mail.ReadWrite-Contoso Payroll Connector";
const PAYROLL_SP: &str = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f";

fn pair(id: &str, severity: &str) -> (String, String) {
    (id.to_owned(), severity.to_owned())
}

fn assignment_names(emu: &Emulator) -> Vec<String> {
    emu.state()
        .exo_rbac
        .assignments
        .iter()
        .map(|a| a.name.clone())
        .collect()
}

#[test]
fn scan_tenant_finds_what_the_example_shows_and_the_clean_example_passes() {
    let s = Scenario::contoso();
    let live = s.scan(&[]);
    assert_eq!(live.code, 1, "{}", live.out.stderr);
    let offline = s.scan_snapshot(&example("contoso-compromised.json"), "offline");
    for rule in [ASSIGNMENT_RULE, APP_RULE] {
        assert_eq!(live.findings(rule), offline.findings(rule), "{rule}");
    }
    assert_eq!(
        offline.findings(ASSIGNMENT_RULE),
        BTreeSet::from([pair(LENA_IMPERSONATION, "high"), pair(PAYROLL_MAIL, "high")])
    );
    // The payroll connector's Graph Mail.Send is restricted by its access policy; the RBAC
    // role the attacker added reaches every mailbox.
    assert_eq!(
        offline.findings(APP_RULE),
        BTreeSet::from([pair(PAYROLL_SP, "high")])
    );
    let app_finding = &live.rule(APP_RULE)["findings"][0];
    let message = app_finding["message"].as_str().unwrap();
    assert!(
        message.contains("Application Mail.ReadWrite without a resource scope"),
        "{message}"
    );
    assert!(!message.contains("Mail.Send"), "{message}");

    let clean = s.scan_snapshot(&example("contoso-clean.json"), "clean");
    for rule in [ASSIGNMENT_RULE, APP_RULE] {
        assert_eq!(clean.rule(rule)["status"], "passed", "{rule}");
    }

    // Listing the assignees in [roles] accepts the app's role, never ApplicationImpersonation.
    let configured = s.scan_with_config(
        "[roles]\nallowed_exchange_role_group_members = [\"lena.fischer@contoso.com\", \"8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b\"]\n",
    );
    assert_eq!(
        configured.findings(ASSIGNMENT_RULE),
        BTreeSet::from([pair(LENA_IMPERSONATION, "high")]),
        "{}",
        configured.out.stderr
    );
}

/// The collected sections are the example's, entry for entry; the role-group and
/// role-assignment-policy assignments every tenant has are left out.
#[test]
fn collect_reads_the_same_assignments_and_policies_as_the_example() {
    let s = Scenario::contoso();
    let collected = s.collect();
    assert_eq!(collected.code, 0, "{}", collected.out.stderr);
    let snap = collected.snapshot;
    let example = harness::read_json(&example("contoso-compromised.json"));
    for section in ["exchange_role_assignments", "application_access_policies"] {
        assert_eq!(snap[section], example[section], "{section}");
    }
    assert_eq!(
        snap["sources"]["exchange_role_assignments"],
        json!({"status": "ok", "items": 3})
    );
    assert_eq!(
        snap["sources"]["application_access_policies"],
        json!({"status": "ok", "items": 1})
    );
    // The emulator holds more assignments than were collected: the built-in ones.
    assert!(
        assignment_names(&s.emu)
            .iter()
            .any(|n| n == "Role Management-Organization Management"),
        "{:?}",
        assignment_names(&s.emu)
    );
}

/// `fix plan --rule exchange_role_assignment_unexpected [extra…]`.
fn plan(s: &Scenario, extra: &[&str]) -> Value {
    let mut args = vec!["--rule", ASSIGNMENT_RULE];
    args.extend_from_slice(extra);
    s.plan(&args)
}

/// The audit log's first line.
fn first_audit_line(s: &Scenario) -> Value {
    s.audit().into_iter().next().expect("an audit line")
}

#[test]
fn plan_apply_rescan_removes_the_user_assignment_then_the_app_one_with_allow() {
    let s = Scenario::contoso();
    let emu = &s.emu;
    let first = plan(&s, &[]);
    let actions = first["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{first}");
    let action = &actions[0];
    assert_eq!(action["kind"], "remove_management_role_assignment");
    assert_eq!(action["target"]["id"], LENA_IMPERSONATION);
    assert_eq!(action["precondition"]["role"], "ApplicationImpersonation");
    assert_eq!(action["precondition"]["assignee_type"], "User");
    assert_eq!(
        action["rollback"],
        "New-ManagementRoleAssignment -Name \"ApplicationImpersonation-Lena Fischer\" -Role \"ApplicationImpersonation\" -User \"Lena Fischer\""
    );
    let not_planned = first["not_planned"].as_array().unwrap();
    assert!(
        not_planned.iter().any(|n| n["reason"]
            .as_str()
            .unwrap()
            .contains("--allow app-changes")),
        "{first}"
    );
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
    assert_eq!(log[0].operation, "Remove-ManagementRoleAssignment");
    assert_eq!(log[0].status, 200);
    assert_eq!(
        log[0].body,
        json!({"Identity": LENA_IMPERSONATION, "Confirm": false})
    );
    assert!(!assignment_names(emu)
        .iter()
        .any(|n| n == LENA_IMPERSONATION));
    // The evidence keeps the whole assignment.
    let line = first_audit_line(&s);
    assert_eq!(line["outcome"], "applied", "{line}");
    let definition = &line["before"]["definition"];
    assert_eq!(definition["role"], "ApplicationImpersonation", "{line}");
    assert_eq!(
        definition["recipient_write_scope"], "Organization",
        "{line}"
    );
    assert_eq!(definition["when_created"], "2025-12-31T02:29:14Z", "{line}");

    let rescan = s.scan(&[]);
    assert_eq!(
        rescan.findings(ASSIGNMENT_RULE),
        BTreeSet::from([pair(PAYROLL_MAIL, "high")]),
        "{}",
        rescan.out.stderr
    );

    let writes_before = s.writes().len();
    let again = s.apply(&[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 applied, 1 already done"),
        "{}",
        again.stdout
    );
    assert_eq!(s.writes().len(), writes_before, "a second apply wrote");

    // With --allow app-changes the service principal's assignment goes too; the app then
    // reaches only its access policy's mailboxes, so both rules pass.
    let second = plan(&s, &["--allow", "app-changes"]);
    let actions = second["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{second}");
    assert_eq!(actions[0]["target"]["id"], PAYROLL_MAIL);
    assert!(actions[0]["rollback"]
        .as_str()
        .unwrap()
        .contains(&format!("-App \"{PAYROLL_SP}\"")));
    let out = s.apply(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let last = s.scan(&[]);
    let stderr = &last.out.stderr;
    assert_ne!(last.code, 3, "{stderr}");
    for rule in [ASSIGNMENT_RULE, APP_RULE] {
        assert_eq!(last.rule(rule)["status"], "passed", "{rule}: {stderr}");
    }
}

/// A plan made before someone changed the assignment's scope is refused, not applied.
#[test]
fn an_assignment_changed_since_the_plan_is_not_removed() {
    let s = Scenario::contoso();
    plan(&s, &[]);
    {
        let mut st = s.emu.state();
        let a = st
            .exo_rbac
            .assignments
            .iter_mut()
            .find(|a| a.name == LENA_IMPERSONATION)
            .unwrap();
        a.custom_recipient_write_scope = Some("Executives".into());
    }
    let out = s.apply(&[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(s.writes().is_empty(), "{:?}", s.writes());
    let line = first_audit_line(&s);
    assert_eq!(line["outcome"], "skipped", "{line}");
    let detail = line["detail"].as_str().unwrap();
    assert!(detail.contains("CustomRecipientWriteScope"), "{detail}");
    assert!(detail.contains("Executives"), "{detail}");
    assert!(assignment_names(&s.emu)
        .iter()
        .any(|n| n == LENA_IMPERSONATION));
}

#[test]
fn without_exchange_administrator_the_removal_fails_naming_the_role() {
    let s = Scenario::contoso();
    plan(&s, &[]);
    let mut grants = Grants::full();
    // Exchange Administrator's template id: Global Reader alone reads but cannot remove.
    grants
        .directory_roles
        .retain(|r| r != "29232cdf-9323-42fd-ade2-1d097af3e4de");
    s.emu.set_grants(grants);
    let out = s.apply(&["--no-verify"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let line = s.audit().pop().expect("an audit line");
    assert_eq!(line["action"], "remove_management_role_assignment");
    assert_eq!(line["outcome"], "failed", "{line}");
    let detail = line["detail"].as_str().unwrap();
    assert!(detail.contains("Exchange Administrator"), "{detail}");
    assert!(assignment_names(&s.emu)
        .iter()
        .any(|n| n == LENA_IMPERSONATION));
}

/// A 403 on either cmdlet fails its source with the cmdlet and the read role named, makes
/// the rules reading it not evaluated, and the scan exits 3; the other rule still runs.
#[test]
fn a_forbidden_read_makes_the_rules_that_need_it_not_evaluated() {
    for (cmdlet, source, not_evaluated, evaluated) in [
        (
            "Get-ManagementRoleAssignment",
            "exchange_role_assignments",
            vec![ASSIGNMENT_RULE, APP_RULE],
            None,
        ),
        (
            "Get-ApplicationAccessPolicy",
            "application_access_policies",
            vec![APP_RULE],
            Some(ASSIGNMENT_RULE),
        ),
    ] {
        let s = Scenario::contoso();
        s.emu.set_faults(Faults {
            forbid_cmdlets: vec![cmdlet.into()],
            ..Faults::default()
        });
        let scan = s.scan(&[]);
        assert_eq!(scan.code, 3, "{cmdlet}: {}", scan.out.stderr);
        for rule in not_evaluated {
            let o = scan.rule(rule);
            assert_eq!(o["status"], "not_evaluated", "{cmdlet} {rule}: {o}");
            assert!(o["findings"].as_array().is_none_or(|f| f.is_empty()));
        }
        if let Some(rule) = evaluated {
            assert_eq!(scan.rule(rule)["status"], "failed", "{cmdlet} {rule}");
        }
        let collected = s.collect();
        assert_eq!(collected.code, 3, "{}", collected.out.stderr);
        let snap = collected.snapshot;
        let st = &snap["sources"][source];
        assert_eq!(st["status"], "error", "{st}");
        let reason = st["reason"].as_str().unwrap();
        assert!(reason.contains(cmdlet), "{reason}");
        assert!(reason.contains("403"), "{reason}");
        assert!(reason.contains("Global Reader"), "{reason}");
        assert_eq!(snap[source], json!([]));
        assert_eq!(snap["sources"]["exchange_role_groups"]["status"], "ok");
    }
}

/// The emulator is as strict as the reference pages: the Identity and RoleAssignee
/// parameter sets exclude each other, -AssignmentMethod needs -RoleAssignee, enums are
/// checked, unknown roles and identities are errors, -Identity is mandatory to remove.
#[test]
fn emulator_enforces_the_documented_parameter_sets() {
    let emu = start();
    let (tokens, agent) = crate::harness::emulator_tokens(&emu);
    let exo = ExchangeClient::new(&tokens, agent);
    let refused = |cmdlet: &str, params: Value, needle: &str| {
        let err = exo.invoke(cmdlet, params.clone()).unwrap_err().to_string();
        assert!(err.contains(needle), "{cmdlet} {params}: {err}");
    };
    refused(
        "Get-ManagementRoleAssignment",
        json!({"Identity": LENA_IMPERSONATION, "RoleAssignee": "Lena Fischer"}),
        "Parameter set cannot be resolved",
    );
    refused(
        "Get-ManagementRoleAssignment",
        json!({"AssignmentMethod": ["Direct"]}),
        "RoleAssignee",
    );
    refused(
        "Get-ManagementRoleAssignment",
        json!({"RoleAssigneeType": "Robot"}),
        "RoleAssigneeType",
    );
    refused(
        "Get-ManagementRoleAssignment",
        json!({"Role": "No Such Role"}),
        "couldn't be found",
    );
    refused(
        "Get-ManagementRoleAssignment",
        json!({"ResultSize": "Unlimited"}),
        "ResultSize",
    );
    refused(
        "Get-ManagementRoleAssignment",
        json!({"GetEffectiveUsers": true}),
        "GetEffectiveUsers",
    );
    refused(
        "Get-ApplicationAccessPolicy",
        json!({"Identity": "nope"}),
        "couldn't be found",
    );
    refused(
        "Remove-ManagementRoleAssignment",
        json!({"Confirm": false}),
        "mandatory parameters: Identity",
    );
    refused(
        "Remove-ManagementRoleAssignment",
        json!({"Identity": "No Such Assignment", "Confirm": false}),
        "couldn't be found",
    );
    assert!(emu.write_log().iter().all(|w| w.status != 200));

    let by_type = exo
        .invoke(
            "Get-ManagementRoleAssignment",
            json!({"RoleAssigneeType": "ServicePrincipal", "Enabled": true}),
        )
        .unwrap();
    assert_eq!(by_type.len(), 1);
    assert_eq!(by_type[0]["Name"], PAYROLL_MAIL);
    assert_eq!(by_type[0]["RoleAssigneeType"], "ServicePrincipal");
    let lena = exo
        .invoke(
            "Get-ManagementRoleAssignment",
            json!({"RoleAssignee": "Lena Fischer", "AssignmentMethod": ["Direct"]}),
        )
        .unwrap();
    assert_eq!(lena.len(), 1);
    assert_eq!(lena[0]["Role"], "ApplicationImpersonation");
    let role_groups = exo
        .invoke(
            "Get-ManagementRoleAssignment",
            json!({"Role": "role management", "RoleAssigneeType": "RoleGroup"}),
        )
        .unwrap();
    assert_eq!(role_groups.len(), 2, "{role_groups:?}");
    let policies = exo
        .invoke("Get-ApplicationAccessPolicy", json!({}))
        .unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["AccessRight"], "RestrictAccess");
    assert_eq!(policies[0]["AppId"], "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b");
    let one = exo
        .invoke(
            "Get-ApplicationAccessPolicy",
            json!({"Identity": policies[0]["Identity"]}),
        )
        .unwrap();
    assert_eq!(one.len(), 1);
}
