//! Direct Exchange role assignments and application access policies end to end (issue 11):
//! the `exchange_role_assignments` and `application_access_policies` sources collected from
//! the emulator's contoso scenario (the attacker gave Lena ApplicationImpersonation and the
//! payroll connector, whose secret he added, `Application Mail.ReadWrite` on every
//! mailbox), the rules `exchange_role_assignment_unexpected` and
//! `app_mailbox_access_unrestricted`, `remove_management_role_assignment` through plan →
//! apply → re-scan (the service principal's only with `--allow app-changes`), a failing
//! source making its rules not evaluated, and the emulator's parameter sets.

use std::collections::BTreeSet;
use std::path::Path;

use m365guard::exchange::ExchangeClient;
use m365guard_emulator::{Emulator, Faults, Grants};
use serde_json::{json, Value};

use crate::harness::{self, example, m365guard_against, run, start};

const ASSIGNMENT_RULE: &str = "exchange_role_assignment_unexpected";
const APP_RULE: &str = "app_mailbox_access_unrestricted";
const LENA_IMPERSONATION: &str = "ApplicationImpersonation-Lena Fischer";
const PAYROLL_MAIL: &str = "Application Mail.ReadWrite-Contoso Payroll Connector";
const PAYROLL_SP: &str = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f";

fn scan(emu: &Emulator, dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = run(m365guard_against(emu, dir)
        .args(args)
        .args(["-f", "json", "-q", "--out", "report"]));
    harness::assert_no_leaks(
        [out.stdout.as_str(), out.stderr.as_str()],
        &[&emu.client_secret().unwrap_or_default()],
    );
    let text = std::fs::read_to_string(dir.join("report/m365guard.json"))
        .unwrap_or_else(|e| panic!("no report ({e}):\n{}", out.stderr));
    (out.code, serde_json::from_str(&text).unwrap(), out.stderr)
}

fn tenant_scan(emu: &Emulator, dir: &Path) -> (i32, Value, String) {
    scan(emu, dir, &["scan", "--tenant", &emu.tenant_id()])
}

fn outcome<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id || r["rule_id"] == id)
        .unwrap_or_else(|| panic!("no outcome for {id}"))
}

/// (resource id, severity) of a rule's findings.
fn findings(report: &Value, rule: &str) -> BTreeSet<(String, String)> {
    outcome(report, rule)["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f["resource"]["id"].as_str().unwrap_or_default().to_owned(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

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

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn scan_tenant_finds_what_the_example_shows_and_the_clean_example_passes() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (code, live, stderr) = tenant_scan(&emu, dir.path());
    assert_eq!(code, 1, "{stderr}");
    let offline_dir = tempfile::tempdir().unwrap();
    let snapshot = example("contoso-compromised.json");
    let (_, offline, _) = scan(
        &emu,
        offline_dir.path(),
        &["scan", "--snapshot", snapshot.to_str().unwrap()],
    );
    for rule in [ASSIGNMENT_RULE, APP_RULE] {
        assert_eq!(findings(&live, rule), findings(&offline, rule), "{rule}");
    }
    assert_eq!(
        findings(&offline, ASSIGNMENT_RULE),
        BTreeSet::from([pair(LENA_IMPERSONATION, "high"), pair(PAYROLL_MAIL, "high")])
    );
    // The payroll connector's Graph Mail.Send is restricted by its access policy; the RBAC
    // role the attacker added reaches every mailbox.
    assert_eq!(
        findings(&offline, APP_RULE),
        BTreeSet::from([pair(PAYROLL_SP, "high")])
    );
    let app_finding = &outcome(&live, APP_RULE)["findings"][0];
    let message = app_finding["message"].as_str().unwrap();
    assert!(
        message.contains("Application Mail.ReadWrite without a resource scope"),
        "{message}"
    );
    assert!(!message.contains("Mail.Send"), "{message}");

    let clean_dir = tempfile::tempdir().unwrap();
    let clean = example("contoso-clean.json");
    let (_, clean_report, _) = scan(
        &emu,
        clean_dir.path(),
        &["scan", "--snapshot", clean.to_str().unwrap()],
    );
    for rule in [ASSIGNMENT_RULE, APP_RULE] {
        assert_eq!(outcome(&clean_report, rule)["status"], "passed", "{rule}");
    }

    // Listing the assignees in [roles] accepts the app's role, never ApplicationImpersonation.
    let config = dir.path().join("m365guard.toml");
    std::fs::write(
        &config,
        "[roles]\nallowed_exchange_role_group_members = [\"lena.fischer@contoso.com\", \"8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b\"]\n",
    )
    .unwrap();
    let (_, configured, stderr) = scan(
        &emu,
        dir.path(),
        &[
            "scan",
            "--tenant",
            &emu.tenant_id(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(
        findings(&configured, ASSIGNMENT_RULE),
        BTreeSet::from([pair(LENA_IMPERSONATION, "high")]),
        "{stderr}"
    );
}

/// The collected sections are the example's, entry for entry; the role-group and
/// role-assignment-policy assignments every tenant has are left out.
#[test]
fn collect_reads_the_same_assignments_and_policies_as_the_example() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let out = run(m365guard_against(&emu, dir.path()).args(["collect", "-o", "snap.json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let snap = read_json(&dir.path().join("snap.json"));
    let example = read_json(&example("contoso-compromised.json"));
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
        assignment_names(&emu)
            .iter()
            .any(|n| n == "Role Management-Organization Management"),
        "{:?}",
        assignment_names(&emu)
    );
}

fn plan(emu: &Emulator, dir: &Path, extra: &[&str]) -> Value {
    let tenant = emu.tenant_id();
    let out = run(m365guard_against(emu, dir)
        .args([
            "fix",
            "plan",
            "--tenant",
            &tenant,
            "--rule",
            ASSIGNMENT_RULE,
        ])
        .args(extra)
        .args(["-o", "plan.json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    read_json(&dir.join("plan.json"))
}

fn apply(emu: &Emulator, dir: &Path) -> harness::Out {
    run(m365guard_against(emu, dir).args(["fix", "apply", "plan.json", "--yes"]))
}

#[test]
fn plan_apply_rescan_removes_the_user_assignment_then_the_app_one_with_allow() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let first = plan(&emu, dir.path(), &[]);
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
    assert!(emu.write_log().is_empty(), "planning wrote");

    let out = apply(&emu, dir.path());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("1 applied, 0 already done"),
        "{}",
        out.stdout
    );
    let log = emu.write_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].operation, "Remove-ManagementRoleAssignment");
    assert_eq!(log[0].status, 200);
    assert_eq!(
        log[0].body,
        json!({"Identity": LENA_IMPERSONATION, "Confirm": false})
    );
    assert!(!assignment_names(&emu)
        .iter()
        .any(|n| n == LENA_IMPERSONATION));
    // The evidence keeps the whole assignment.
    let audit = std::fs::read_to_string(dir.path().join("m365guard-audit.jsonl")).unwrap();
    let line: Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(line["outcome"], "applied", "{line}");
    let definition = &line["before"]["definition"];
    assert_eq!(definition["role"], "ApplicationImpersonation", "{line}");
    assert_eq!(
        definition["recipient_write_scope"], "Organization",
        "{line}"
    );
    assert_eq!(definition["when_created"], "2025-12-31T02:29:14Z", "{line}");

    let (_, report, stderr) = tenant_scan(&emu, dir.path());
    assert_eq!(
        findings(&report, ASSIGNMENT_RULE),
        BTreeSet::from([pair(PAYROLL_MAIL, "high")]),
        "{stderr}"
    );

    let writes_before = emu.write_log().len();
    let again = apply(&emu, dir.path());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 applied, 1 already done"),
        "{}",
        again.stdout
    );
    assert_eq!(emu.write_log().len(), writes_before, "a second apply wrote");

    // With --allow app-changes the service principal's assignment goes too; the app then
    // reaches only its access policy's mailboxes, so both rules pass.
    let second = plan(&emu, dir.path(), &["--allow", "app-changes"]);
    let actions = second["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{second}");
    assert_eq!(actions[0]["target"]["id"], PAYROLL_MAIL);
    assert!(actions[0]["rollback"]
        .as_str()
        .unwrap()
        .contains(&format!("-App \"{PAYROLL_SP}\"")));
    let out = apply(&emu, dir.path());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let (code, report, stderr) = tenant_scan(&emu, dir.path());
    assert_ne!(code, 3, "{stderr}");
    for rule in [ASSIGNMENT_RULE, APP_RULE] {
        assert_eq!(
            outcome(&report, rule)["status"],
            "passed",
            "{rule}: {stderr}"
        );
    }
}

/// A plan made before someone changed the assignment's scope is refused, not applied.
#[test]
fn an_assignment_changed_since_the_plan_is_not_removed() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    plan(&emu, dir.path(), &[]);
    {
        let mut st = emu.state();
        let a = st
            .exo_rbac
            .assignments
            .iter_mut()
            .find(|a| a.name == LENA_IMPERSONATION)
            .unwrap();
        a.custom_recipient_write_scope = Some("Executives".into());
    }
    let out = apply(&emu, dir.path());
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(emu.write_log().is_empty(), "{:?}", emu.write_log());
    let audit = std::fs::read_to_string(dir.path().join("m365guard-audit.jsonl")).unwrap();
    let line: Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(line["outcome"], "skipped", "{line}");
    let detail = line["detail"].as_str().unwrap();
    assert!(detail.contains("CustomRecipientWriteScope"), "{detail}");
    assert!(detail.contains("Executives"), "{detail}");
    assert!(assignment_names(&emu)
        .iter()
        .any(|n| n == LENA_IMPERSONATION));
}

#[test]
fn without_exchange_administrator_the_removal_fails_naming_the_role() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    plan(&emu, dir.path(), &[]);
    let mut grants = Grants::full();
    // Exchange Administrator's template id: Global Reader alone reads but cannot remove.
    grants
        .directory_roles
        .retain(|r| r != "29232cdf-9323-42fd-ade2-1d097af3e4de");
    emu.set_grants(grants);
    let out = run(m365guard_against(&emu, dir.path()).args([
        "fix",
        "apply",
        "plan.json",
        "--yes",
        "--no-verify",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let audit = std::fs::read_to_string(dir.path().join("m365guard-audit.jsonl")).unwrap();
    let line: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["action"], "remove_management_role_assignment");
    assert_eq!(line["outcome"], "failed", "{line}");
    let detail = line["detail"].as_str().unwrap();
    assert!(detail.contains("Exchange Administrator"), "{detail}");
    assert!(assignment_names(&emu)
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
        let emu = start();
        emu.set_faults(Faults {
            forbid_cmdlets: vec![cmdlet.into()],
            ..Faults::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let (code, report, stderr) = tenant_scan(&emu, dir.path());
        assert_eq!(code, 3, "{cmdlet}: {stderr}");
        for rule in not_evaluated {
            let o = outcome(&report, rule);
            assert_eq!(o["status"], "not_evaluated", "{cmdlet} {rule}: {o}");
            assert!(o["findings"].as_array().is_none_or(|f| f.is_empty()));
        }
        if let Some(rule) = evaluated {
            assert_eq!(
                outcome(&report, rule)["status"],
                "failed",
                "{cmdlet} {rule}"
            );
        }
        let out = run(m365guard_against(&emu, dir.path()).args(["collect", "-o", "snap.json"]));
        assert_eq!(out.code, 3, "{}", out.stderr);
        let snap = read_json(&dir.path().join("snap.json"));
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
