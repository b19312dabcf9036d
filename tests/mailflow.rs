//! Mail flow back doors (issue 11): transport rules and connectors, end to end against the
//! emulator's compromised Contoso tenant (examples/contoso-compromised.json): `scan
//! --tenant` flags the same resources as the snapshot scan; `fix plan` disables the
//! transport rules and lists the connectors as plan-only until `--allow connector`; apply
//! → re-scan clears them; a second apply writes nothing; without an Exchange role the
//! rules are not evaluated (exit 3).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use m365guard_emulator::{Grants, Service, WriteOp};
use serde_json::Value;

use crate::harness::{example, Scenario};

const TRANSPORT_RULES: [&str; 3] = [
    "transport_rule_external_copy",
    "transport_rule_bypasses_filtering",
    "transport_rule_deletes_mail",
];
const CONNECTOR_RULES: [&str; 2] = [
    "outbound_connector_unexpected",
    "inbound_connector_relay_open",
];

const INVOICE_ARCHIVE: &str = "9a7c3e21-5d6f-4a8b-9c0d-2e3f4a5b6c02";
const VENDOR_ALLOW_LIST: &str = "b4d2f6a8-1c3e-4f5a-8b7c-9d0e1f2a3b03";
const MAILBOX_NOTICES: &str = "c8e1a3b5-7d9f-4b2c-8e4a-6f8b0c2d4e04";
const PARTNER_RELAY: &str = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a05";
const SCANNER_RELAY: &str = "a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c07";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// rule id → (status, resource ids of its findings).
type Outcomes = BTreeMap<String, (String, BTreeSet<String>)>;

/// The outcomes of the mail-flow rules in a JSON report.
fn mail_flow_outcomes(report: &Value) -> Outcomes {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            TRANSPORT_RULES.contains(&id) || CONNECTOR_RULES.contains(&id)
        })
        .map(|r| {
            let ids = r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["resource"]["id"].as_str().unwrap().to_owned())
                .collect();
            (
                r["id"].as_str().unwrap().to_owned(),
                (r["status"].as_str().unwrap().to_owned(), ids),
            )
        })
        .collect()
}

/// `scan --tenant -f json --out <dir>`: (exit code, mail-flow outcomes, stderr).
fn scan_tenant(s: &Scenario, out: &str) -> (i32, Outcomes, String) {
    let tenant = s.tenant();
    let scan = s.scan_to(&["--tenant", &tenant], out);
    (scan.code, mail_flow_outcomes(&scan.report), scan.out.stderr)
}

fn ids(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn exchange_writes(log: &[WriteOp]) -> Vec<(String, String)> {
    log.iter()
        .filter(|w| w.service == Service::Exchange)
        .map(|w| (w.operation.clone(), w.target.clone()))
        .collect()
}

#[test]
fn scan_tenant_flags_the_same_mail_flow_back_doors_as_the_snapshot_scan() {
    let s = Scenario::contoso();
    let (code, live, stderr) = scan_tenant(&s, "live");
    assert_eq!(code, 1, "{stderr}");
    let offline = s.scan_snapshot(&example("contoso-compromised.json"), "offline");
    assert_eq!(offline.code, 1, "{}", offline.out.stderr);
    let offline = mail_flow_outcomes(&offline.report);
    assert_eq!(live, offline);
    let expected = [
        ("transport_rule_external_copy", INVOICE_ARCHIVE),
        ("transport_rule_bypasses_filtering", VENDOR_ALLOW_LIST),
        ("transport_rule_deletes_mail", MAILBOX_NOTICES),
        ("outbound_connector_unexpected", PARTNER_RELAY),
        ("inbound_connector_relay_open", SCANNER_RELAY),
    ];
    for (rule, id) in expected {
        assert_eq!(live[rule], ("failed".to_owned(), ids(&[id])), "{rule}");
    }
    // The collected snapshot has the three sources ok.
    let snapshot = s.read_json("live/snapshot.json");
    for source in [
        "transport_rules",
        "outbound_connectors",
        "inbound_connectors",
    ] {
        assert_eq!(snapshot["sources"][source]["status"], "ok", "{source}");
    }
}

#[test]
fn fix_disables_the_rules_and_the_connectors_only_when_allowed() {
    let s = Scenario::contoso();
    let mut rule_args: Vec<&str> = Vec::new();
    for rule in TRANSPORT_RULES.iter().chain(&CONNECTOR_RULES) {
        rule_args.extend(["--rule", rule]);
    }

    // Without --allow connector: the rules are planned, the connectors are plan-only.
    let tenant = s.tenant();
    let mut args = vec!["fix", "plan", "--tenant", &tenant, "-o", "plan.json"];
    args.extend(&rule_args);
    let out = s.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = s.read_json("plan.json");
    let planned: BTreeSet<(String, String)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["target"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let disable = |id: &str| ("disable_transport_rule".to_owned(), id.to_owned());
    assert_eq!(
        planned,
        BTreeSet::from([
            disable(INVOICE_ARCHIVE),
            disable(VENDOR_ALLOW_LIST),
            disable(MAILBOX_NOTICES)
        ])
    );
    let plan_only: BTreeMap<String, String> = plan["not_planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["rule_id"].as_str().unwrap().to_owned(),
                n["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        plan_only.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&CONNECTOR_RULES)
    );
    for reason in plan_only.values() {
        assert!(
            reason.starts_with("plan-only") && reason.contains("--allow connector"),
            "{reason}"
        );
    }
    assert!(out.stdout.contains("plan-only"), "{}", out.stdout);
    assert!(s.writes().is_empty(), "planning wrote to the tenant");

    let out = s.apply(&["--no-verify"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let writes = exchange_writes(&s.writes());
    let mut targets: Vec<&str> = writes.iter().map(|(_, t)| t.as_str()).collect();
    targets.sort_unstable();
    assert!(
        writes.iter().all(|(op, _)| op == "Disable-TransportRule"),
        "{writes:?}"
    );
    assert_eq!(
        targets,
        [INVOICE_ARCHIVE, VENDOR_ALLOW_LIST, MAILBOX_NOTICES]
    );
    // Disabled, never deleted: the rules are still there, off.
    {
        let st = s.emu.state();
        assert_eq!(st.transport_rules.len(), 4);
        for id in [INVOICE_ARCHIVE, VENDOR_ALLOW_LIST, MAILBOX_NOTICES] {
            let rule = st.transport_rules.iter().find(|r| r.guid == id).unwrap();
            assert!(!rule.enabled, "{id} still enabled");
        }
        assert!(
            st.outbound_connectors.iter().all(|c| c.enabled),
            "a connector was touched"
        );
    }
    // The evidence keeps the full rule as Exchange returned it.
    let evidence_dir = s
        .path("m365guard-evidence")
        .join(plan["plan_id"].as_str().unwrap());
    let evidence: Vec<Value> = std::fs::read_dir(&evidence_dir)
        .unwrap()
        .map(|e| read_json(&e.unwrap().path()))
        .collect();
    let invoice = evidence
        .iter()
        .find(|e| e["action"]["target"]["id"] == INVOICE_ARCHIVE)
        .expect("evidence for Invoice archive");
    assert_eq!(
        invoice["definition"]["BlindCopyTo"][0],
        "contoso.invoices@gmail.com"
    );
    assert_eq!(invoice["definition"]["SubjectContainsWords"][0], "invoice");
    assert_eq!(invoice["definition"]["State"], "Enabled");

    let (code, after, stderr) = scan_tenant(&s, "after-rules");
    assert_eq!(code, 1, "{stderr}");
    for rule in TRANSPORT_RULES {
        assert_eq!(after[rule].0, "passed", "{rule}: {:?}", after[rule]);
    }
    for rule in CONNECTOR_RULES {
        assert_eq!(
            after[rule].0, "failed",
            "{rule} changed without --allow connector"
        );
    }

    // A second apply of the same plan: everything already done, zero writes.
    let before = s.writes().len();
    let out = s.apply(&["--no-verify", "--evidence", "ev2"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 applied, 3 already done"),
        "{}",
        out.stdout
    );
    assert_eq!(s.writes().len(), before, "the second apply wrote");

    // With --allow connector: disable_connector for both, by their own cmdlets.
    let mut args = vec![
        "fix",
        "plan",
        "--tenant",
        &tenant,
        "-o",
        "plan2.json",
        "--allow",
        "connector",
    ];
    args.extend(&rule_args);
    let out = s.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = s.read_json("plan2.json");
    let kinds: Vec<(&str, &str)> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["write"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(
        kinds.iter().all(|(k, _)| *k == "disable_connector"),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|(_, w)| w.starts_with(&format!(
            "Set-OutboundConnector -Identity '{PARTNER_RELAY}' -Enabled $false"
        ))),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|(_, w)| w.starts_with(&format!(
            "Set-InboundConnector -Identity '{SCANNER_RELAY}' -Enabled $false"
        ))),
        "{kinds:?}"
    );
    let before = s.writes().len();
    let out = s.apply_file("plan2.json", &["--no-verify"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let new: Vec<(String, String)> = exchange_writes(&s.writes()[before..]);
    assert_eq!(
        new.iter()
            .map(|(op, t)| (op.as_str(), t.as_str()))
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([
            ("Set-InboundConnector", SCANNER_RELAY),
            ("Set-OutboundConnector", PARTNER_RELAY)
        ])
    );
    let (_, after, stderr) = scan_tenant(&s, "after-connectors");
    for rule in TRANSPORT_RULES.iter().chain(&CONNECTOR_RULES) {
        assert_eq!(
            after[*rule].0, "passed",
            "{rule}: {:?}\n{stderr}",
            after[*rule]
        );
    }
    let before = s.writes().len();
    let out = s.apply_file("plan2.json", &["--no-verify", "--evidence", "ev3"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(s.writes().len(), before, "the second connector apply wrote");
}

#[test]
fn without_an_exchange_role_the_mail_flow_rules_are_not_evaluated() {
    let s = Scenario::contoso();
    let mut grants = Grants::full();
    grants.directory_roles.clear();
    s.emu.set_grants(grants);
    let (code, outcomes, stderr) = scan_tenant(&s, "out");
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(outcomes.len(), 5, "{outcomes:?}");
    for (rule, (status, found)) in &outcomes {
        assert_eq!(status, "not_evaluated", "{rule}");
        assert!(found.is_empty(), "{rule}: {found:?}");
    }
    let snapshot = s.read_json("out/snapshot.json");
    for (source, cmdlet) in [
        ("transport_rules", "Get-TransportRule"),
        ("outbound_connectors", "Get-OutboundConnector"),
        ("inbound_connectors", "Get-InboundConnector"),
    ] {
        let status = &snapshot["sources"][source];
        assert_eq!(status["status"], "error", "{source}");
        let reason = status["reason"].as_str().unwrap();
        assert!(
            reason.contains("403") && reason.contains(cmdlet),
            "{source}: {reason}"
        );
        assert!(reason.contains("Global Reader"), "{source}: {reason}");
    }
}
