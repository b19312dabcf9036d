//! Mailbox delegations end to end (issue 11): the `mailbox_delegates` source collected from
//! the emulator's contoso scenario, the `mailbox_delegate_unexpected` rule on it, the three
//! fix actions through plan → apply → re-scan, the failure modes (a cmdlet outside the
//! app's Exchange role, one mailbox that cannot be read), and the emulator's parameter sets.

use std::collections::BTreeSet;

use m365guard::exchange::ExchangeClient;
use m365guard_emulator::Faults;
use serde_json::{json, Value};

use crate::harness::{self, example, start, Scenario};

const RULE: &str = "mailbox_delegate_unexpected";
const DANA: &str = "dana.whitfield@contoso.com";

#[test]
fn scan_tenant_flags_the_delegations_the_example_shows() {
    let s = Scenario::contoso();
    let live = s.scan(&[]);
    assert_eq!(live.code, 1, "{}", live.out.stderr);
    let offline = s.scan_snapshot(&example("contoso-compromised.json"), "offline");
    let want = offline.findings(RULE);
    assert_eq!(live.findings(RULE), want);
    // The attacker's FullAccess and SendAs on Dana's mailbox (high), the guest's send on
    // behalf on info@ (medium), the Fabrikam guest's FullAccess on procurement@ (high);
    // Tom's expected delegation on info@ is not a finding.
    let dana = "6e1f3a2b-4c5d-4e6f-8a7b-9c0d1e2f3a4b";
    let expected: BTreeSet<(String, String)> = [
        (format!("{dana}/full_access/lena.fischer@contoso.com"), "high"),
        (format!("{dana}/send_as/lena.fischer@contoso.com"), "high"),
        (
            "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e01/send_on_behalf/priya shah (adatum)".to_owned(),
            "medium",
        ),
        (
            "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e02/full_access/sam.rivera_fabrikam.com#ext#@contoso.onmicrosoft.com"
                .to_owned(),
            "high",
        ),
    ]
    .into_iter()
    .map(|(id, s)| (id, s.to_owned()))
    .collect();
    assert_eq!(want, expected);

    // The config's allowed_delegates accepts the Fabrikam guest on procurement@.
    let config = harness::root().join("examples/m365guard.toml");
    let configured = s.scan(&["--config", config.to_str().unwrap()]);
    let with_config = configured.findings(RULE);
    assert_eq!(with_config.len(), 3, "{with_config:?}");
    assert!(with_config.iter().all(|(id, _)| !id.contains("sam.rivera")));
}

/// `fix plan --rule mailbox_delegate_unexpected` → apply → re-scan passes; the same plan
/// applied again writes nothing.
#[test]
fn plan_apply_rescan_removes_each_delegation_once() {
    let s = Scenario::contoso();
    let plan = s.plan(&["--rule", RULE]);
    let mut kinds: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "remove_mailbox_permission",
            "remove_mailbox_permission",
            "remove_recipient_permission",
            "remove_send_on_behalf",
        ]
    );
    let full_access = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["target"]["user_principal_name"] == DANA && a["kind"] == "remove_mailbox_permission"
        })
        .unwrap();
    assert_eq!(
        full_access["precondition"]["access_rights"],
        json!(["FullAccess"])
    );
    assert!(full_access["rollback"]
        .as_str()
        .unwrap()
        .starts_with("Add-MailboxPermission -Identity dana.whitfield@contoso.com -User lena.fischer@contoso.com -AccessRights FullAccess"));
    assert!(s.writes().is_empty(), "planning wrote");

    let out = s.apply(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("4 applied, 0 already done"),
        "{}",
        out.stdout
    );
    let log = s.writes();
    let ops: BTreeSet<(String, String)> = log
        .iter()
        .map(|w| (w.operation.clone(), w.target.to_lowercase()))
        .collect();
    assert_eq!(
        ops,
        [
            ("Remove-MailboxPermission", DANA),
            ("Remove-MailboxPermission", "procurement@contoso.com"),
            ("Remove-RecipientPermission", DANA),
            ("Set-Mailbox", "info@contoso.com"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    );
    assert!(log.iter().all(|w| w.status == 200), "{log:?}");
    let sob = log.iter().find(|w| w.operation == "Set-Mailbox").unwrap();
    assert_eq!(
        sob.body["GrantSendOnBehalfTo"],
        json!({"Remove": ["priya shah (adatum)"]})
    );
    // Only the expected delegation (Tom on info@) is left; evidence kept each one removed.
    let left: Vec<(String, String)> = s
        .emu
        .state()
        .delegations
        .iter()
        .map(|d| (d.right.clone(), d.trustee.clone()))
        .collect();
    assert_eq!(
        left,
        [
            (
                "full_access".to_owned(),
                "tom.becker@contoso.com".to_owned()
            ),
            ("send_as".to_owned(), "tom.becker@contoso.com".to_owned()),
        ]
    );
    let audit = std::fs::read_to_string(s.path("m365guard-audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert_eq!(line["outcome"], "applied", "{line}");
        assert!(
            line["before"]["definition"]["trustee"].is_string(),
            "{line}"
        );
        assert!(line["after"].is_null(), "{line}");
    }

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
        again.stdout.contains("0 applied, 4 already done"),
        "{}",
        again.stdout
    );
    assert_eq!(s.writes().len(), writes_before, "a second apply wrote");
}

#[test]
fn a_permission_cmdlet_outside_the_apps_role_makes_the_rule_not_evaluated() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        forbid_cmdlets: vec!["Get-MailboxPermission".into()],
        ..Faults::default()
    });
    let scan = s.scan(&[]);
    assert_eq!(scan.code, 3, "{}", scan.out.stderr);
    let outcome = scan.rule(RULE);
    assert_eq!(outcome["status"], "not_evaluated", "{outcome}");
    assert!(outcome["findings"].as_array().is_none_or(|f| f.is_empty()));
    // Collect shows why: the source failed, naming the cmdlet; the others are fine.
    let out = s.run(&["collect", "-o", "snap.json"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let snap = s.read_json("snap.json");
    let st = &snap["sources"]["mailbox_delegates"];
    assert_eq!(st["status"], "error", "{st}");
    let reason = st["reason"].as_str().unwrap();
    assert!(reason.contains("Get-MailboxPermission"), "{reason}");
    assert!(reason.contains("403"), "{reason}");
    assert_eq!(snap["sources"]["mailboxes"]["status"], "ok");
}

#[test]
fn one_mailbox_that_cannot_be_read_makes_the_source_incomplete() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        fail_permissions_mailbox: Some(DANA.into()),
        ..Faults::default()
    });
    let out = s.run(&["collect", "-o", "snap.json"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let snap = s.read_json("snap.json");
    let st = &snap["sources"]["mailbox_delegates"];
    assert_eq!(st["status"], "error", "{st}");
    let reason = st["reason"].as_str().unwrap();
    for needle in [DANA, "Get-MailboxPermission failed for 1 of", "500"] {
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    // The other mailboxes' delegations are kept; Dana's FullAccess is not invented, and
    // her SendAs (read org-wide) is still there.
    let ids: Vec<&str> = snap["mailbox_delegates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(ids
        .iter()
        .any(|i| i.ends_with("/full_access/tom.becker@contoso.com")));
    assert!(!ids
        .iter()
        .any(|i| i.starts_with("6e1f3a2b") && i.contains("/full_access/")));
    assert!(ids
        .iter()
        .any(|i| i.starts_with("6e1f3a2b") && i.contains("/send_as/")));
    let scan = s.scan_snapshot(&s.path("snap.json"), "report");
    assert_eq!(scan.code, 3);
    assert_eq!(scan.rule(RULE)["status"], "not_evaluated");
}

/// The emulator is as strict as the reference pages: mandatory parameters, parameter
/// sets, the one valid `-AccessRights` of the recipient cmdlets, and what every mailbox
/// lists besides grants (SELF, inherited and Deny entries).
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
        "Get-MailboxPermission",
        json!({}),
        "mandatory parameters: Identity",
    );
    refused(
        "Get-MailboxPermission",
        json!({"Identity": DANA, "User": "x", "Owner": true}),
        "Parameter set cannot be resolved",
    );
    refused(
        "Get-RecipientPermission",
        json!({"AccessRights": "FullAccess"}),
        "AccessRights",
    );
    refused(
        "Remove-MailboxPermission",
        json!({"Identity": DANA, "User": "lena.fischer@contoso.com"}),
        "mandatory parameters: AccessRights",
    );
    refused(
        "Remove-RecipientPermission",
        json!({"Identity": DANA, "AccessRights": ["SendAs"]}),
        "mandatory parameters: Trustee",
    );
    refused(
        "Get-MailboxPermission",
        json!({"Identity": "nobody@contoso.com"}),
        "couldn't be found",
    );
    refused(
        "Get-MailboxPermission",
        json!({"Identity": DANA, "Bogus": 1}),
        "Bogus",
    );

    let rows = exo
        .invoke("Get-MailboxPermission", json!({"Identity": DANA}))
        .unwrap();
    let users: Vec<&str> = rows.iter().filter_map(|r| r["User"].as_str()).collect();
    assert!(users.contains(&"NT AUTHORITY\\SELF"), "{users:?}");
    assert!(rows
        .iter()
        .any(|r| r["IsInherited"] == true && r["Deny"] == true));
    // Besides those, the one grant: what the collector keeps (see the scan tests).
    let explicit: Vec<&str> = rows
        .iter()
        .filter(|r| r["IsInherited"] == false && r["User"] != "NT AUTHORITY\\SELF")
        .filter_map(|r| r["User"].as_str())
        .collect();
    assert_eq!(explicit, ["lena.fischer@contoso.com"]);
    let send_as = exo
        .invoke(
            "Get-RecipientPermission",
            json!({"Identity": DANA, "AccessRights": ["SendAs"]}),
        )
        .unwrap();
    let trustees: BTreeSet<&str> = send_as
        .iter()
        .filter_map(|r| r["Trustee"].as_str())
        .collect();
    assert_eq!(
        trustees,
        ["NT AUTHORITY\\SELF", "lena.fischer@contoso.com"]
            .into_iter()
            .collect()
    );
    // GrantSendOnBehalfTo: @{Add} then @{Remove}, other entries untouched.
    exo.invoke(
        "Set-Mailbox",
        json!({"Identity": "info@contoso.com", "GrantSendOnBehalfTo": {"Add": ["tom.becker@contoso.com"]}}),
    )
    .unwrap();
    let shown = |exo: &ExchangeClient<'_>| -> Vec<String> {
        let m = exo
            .invoke("Get-Mailbox", json!({"Identity": "info@contoso.com"}))
            .unwrap();
        m[0]["GrantSendOnBehalfTo"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut names = shown(&exo);
    names.sort();
    assert_eq!(names, ["Priya Shah (Adatum)", "tom.becker"]);
    exo.invoke(
        "Set-Mailbox",
        json!({"Identity": "info@contoso.com", "GrantSendOnBehalfTo": {"Remove": ["Tom Becker"]}}),
    )
    .unwrap();
    assert_eq!(shown(&exo), ["Priya Shah (Adatum)"]);
    refused(
        "Set-Mailbox",
        json!({"Identity": "info@contoso.com", "GrantSendOnBehalfTo": {"Add": ["nobody@nowhere.example"]}}),
        "couldn't be found",
    );
}

/// A FullAccess trustee Exchange cannot resolve (`Get-Recipient` answers 404: a deleted
/// object's leftover, or an outside principal) is collected by name without failing the
/// source, and the rule flags it — it used to pass.
#[test]
fn an_unresolvable_full_access_trustee_is_flagged() {
    const GHOST: &str = "ghost.admin@contoso.com";
    let s = Scenario::contoso();
    {
        let mut st = s.emu.state();
        let info = st
            .mailboxes
            .iter()
            .find(|m| m.user_principal_name == "info@contoso.com")
            .expect("contoso has info@")
            .guid
            .clone();
        st.delegations.push(m365guard_emulator::state::Delegation {
            mailbox_guid: info,
            right: "full_access".into(),
            trustee: GHOST.into(),
            access_rights: vec!["FullAccess".into()],
        });
    }
    let out = s.run(&["collect", "-o", "snap.json"]);
    let snap = s.read_json("snap.json");
    assert_eq!(
        snap["sources"]["mailbox_delegates"]["status"], "ok",
        "{}",
        out.stderr
    );
    let ghost = snap["mailbox_delegates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["trustee"] == GHOST)
        .expect("the unresolved delegation is kept");
    assert!(ghost["trustee_id"].is_null(), "{ghost}");

    let scan = s.scan(&[]);
    assert_eq!(scan.code, 1, "{}", scan.out.stderr);
    let id = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e01/full_access/ghost.admin@contoso.com";
    let finding = scan.rule(RULE)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"]["id"] == id)
        .unwrap_or_else(|| panic!("no finding for {id}"))
        .clone();
    assert_eq!(finding["severity"], "high");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("matches no user or recipient of the tenant"),
        "{finding}"
    );
}
