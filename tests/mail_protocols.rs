//! Issue 11: client access (`mail_protocols`) and audit settings (`audit_config`) end to end
//! against the emulator's compromised Contoso tenant, where Lena's mailbox has IMAP and
//! SMTP AUTH on (the attacker's mail client) and her account bypasses mailbox auditing.
//! The live scan finds what the snapshot scan finds; `fix plan` → `fix apply` → re-scan
//! clears both rules and a second apply writes nothing; a 403 makes them not evaluated;
//! `respond` turns mail access off with the block (Microsoft's step 5) and
//! `--restore-access` puts back exactly what was recorded, in the write log's order.

use std::collections::BTreeSet;
use std::path::Path;

use m365guard_emulator::{spawn, EmulatorConfig, Service, WriteOp};
use serde_json::{json, Value};

use crate::harness::{example, Scenario};

const LENA: &str = "lena.fischer@contoso.com";
const LENA_ID: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const RULES: [&str; 2] = ["legacy_mail_protocol_enabled", "audit_logging_disabled"];

/// Scenario `contoso` edited by `edit`, every run serial (`M365GUARD_CONCURRENCY=1`).
fn scenario(edit: impl FnOnce(&mut EmulatorConfig)) -> Scenario {
    Scenario::contoso_edited(edit).env("M365GUARD_CONCURRENCY", "1")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (status, finding resource ids) of each of [`RULES`] in a JSON report.
fn verdicts(report: &Value) -> Vec<(String, BTreeSet<String>)> {
    RULES
        .iter()
        .map(|id| {
            let rule = report["rules"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == *id)
                .unwrap_or_else(|| panic!("{id} not in the report"));
            let ids = rule["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["resource"]["id"].as_str().unwrap().to_owned())
                .collect();
            (rule["status"].as_str().unwrap().to_owned(), ids)
        })
        .collect()
}

fn scan(s: &Scenario, source: &[&str], out_dir: &str) -> (i32, Value) {
    let scan = s.scan_to(source, out_dir);
    (scan.code, scan.report)
}

fn expected_failures() -> Vec<(String, BTreeSet<String>)> {
    vec![
        ("failed".into(), BTreeSet::from([LENA_ID.to_owned()])),
        ("failed".into(), BTreeSet::from(["lena.fischer".to_owned()])),
    ]
}

fn set_cas_writes(log: &[WriteOp]) -> Vec<&WriteOp> {
    log.iter()
        .filter(|w| w.service == Service::Exchange && w.operation == "Set-CASMailbox")
        .collect()
}

#[test]
fn the_examples_tell_the_story_and_the_live_scan_finds_the_same() {
    let s = scenario(|cfg| cfg.options.exo_page_size = 5);
    let compromised = example("contoso-compromised.json");
    let (code, report) = scan(&s, &["--snapshot", compromised.to_str().unwrap()], "snap");
    assert_eq!(code, 1);
    assert_eq!(verdicts(&report), expected_failures());
    let lena = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == RULES[0])
        .map(|r| &r["findings"][0])
        .unwrap();
    assert_eq!(lena["severity"], "high", "IMAP + SMTP AUTH: read and send");

    let clean = example("contoso-clean.json");
    let (_, report) = scan(&s, &["--snapshot", clean.to_str().unwrap()], "clean");
    for (status, ids) in verdicts(&report) {
        assert_eq!((status.as_str(), ids.len()), ("passed", 0));
    }
    let partial = example("contoso-partial.json");
    let (code, report) = scan(&s, &["--snapshot", partial.to_str().unwrap()], "partial");
    assert_eq!(code, 3);
    for (status, _) in verdicts(&report) {
        assert_eq!(status, "not_evaluated");
    }

    // Live: the same findings, and both sources `ok`.
    let tenant = s.tenant();
    let (code, live) = scan(&s, &["--tenant", &tenant], "live");
    assert_eq!(code, 1);
    assert_eq!(verdicts(&live), expected_failures());
    let out = s.run(&["collect", "-o", "snapshot.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let snapshot = s.read_json("snapshot.json");
    for source in ["mail_protocols", "audit_config"] {
        assert_eq!(snapshot["sources"][source]["status"], "ok", "{source}");
    }
    let lena_cas = snapshot["mail_protocols"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == LENA_ID)
        .unwrap();
    assert_eq!(lena_cas["imap_enabled"], true);
    assert_eq!(lena_cas["smtp_client_authentication_disabled"], false);
    // Every other mailbox uses the organisation's setting (null), which is off.
    assert!(snapshot["mail_protocols"]["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["id"] != LENA_ID)
        .all(|m| m["smtp_client_authentication_disabled"].is_null()));
    // Paged (5 per page here): every mailbox arrived (the discovery mailbox is left out,
    // as `mailboxes` leaves it out).
    let ids = |key: &str| -> BTreeSet<String> {
        let list = snapshot.pointer(key).unwrap().as_array().unwrap();
        list.iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("/mail_protocols/mailboxes"), ids("/mailboxes"));
}

#[test]
fn plan_apply_rescan_clears_both_rules_and_a_second_apply_writes_nothing() {
    let s = scenario(|_| {});
    let tenant = s.tenant();
    let mut args = vec!["fix", "plan", "--tenant", &tenant, "-o", "plan.json"];
    for rule in RULES {
        args.extend(["--rule", rule]);
    }
    let out = s.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = s.read_json("plan.json");
    let writes: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["write"].as_str().unwrap())
        .collect();
    assert_eq!(
        writes,
        [
            "Set-CASMailbox -Identity lena.fischer@contoso.com -PopEnabled $false -ImapEnabled $false -SmtpClientAuthenticationDisabled $true",
            "Set-MailboxAuditBypassAssociation -Identity 'lena.fischer' -AuditBypassEnabled $false",
        ]
    );
    assert_eq!(
        plan["actions"][0]["rollback"],
        "Set-CASMailbox -Identity lena.fischer@contoso.com -PopEnabled $false -ImapEnabled $true -SmtpClientAuthenticationDisabled $false"
    );

    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log = s.writes();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        log[0].body,
        json!({"Identity": LENA, "PopEnabled": false, "ImapEnabled": false, "SmtpClientAuthenticationDisabled": true})
    );
    assert_eq!(
        log[1].body,
        json!({"Identity": "lena.fischer", "AuditBypassEnabled": false})
    );
    // The evidence records exactly what was there before.
    let evidence: Vec<Value> = walk(s.dir())
        .into_iter()
        .filter(|p| {
            p.to_string_lossy()
                .ends_with("-disable_mail_protocols-before.json")
        })
        .map(|p| read_json(&p))
        .collect();
    assert_eq!(evidence.len(), 1);
    assert_eq!(
        evidence[0]["before"],
        json!({"pop_enabled": false, "imap_enabled": true, "smtp_client_authentication_disabled": false})
    );
    {
        let st = s.emu.state();
        let guid = st.find_mailbox(LENA).unwrap().guid.clone();
        let cas = st
            .protocols
            .cas
            .iter()
            .find(|c| c.mailbox_guid == guid)
            .unwrap();
        assert!(!cas.imap_enabled && !cas.pop_enabled);
        assert_eq!(cas.smtp_client_authentication_disabled, Some(true));
        assert!(st.protocols.bypass.is_empty());
    }

    let (code, report) = scan(&s, &["--tenant", &tenant], "after");
    assert_eq!(code, 1, "other rules still fail");
    for (status, ids) in verdicts(&report) {
        assert_eq!((status.as_str(), ids.len()), ("passed", 0));
    }

    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("0 applied, 2 already done"),
        "{}",
        out.stdout
    );
    assert_eq!(s.writes().len(), 2, "the second apply wrote");
}

#[test]
fn without_an_exchange_role_both_rules_are_not_evaluated() {
    let s = scenario(|cfg| cfg.grants.directory_roles.clear());
    let tenant = s.tenant();
    let (code, report) = scan(&s, &["--tenant", &tenant], "r");
    assert_eq!(code, 3, "incomplete");
    for (status, ids) in verdicts(&report) {
        assert_eq!((status.as_str(), ids.len()), ("not_evaluated", 0));
    }
    let out = s.run(&["collect", "-o", "s.json"]);
    let snapshot = s.read_json("s.json");
    for (source, cmdlet) in [
        ("mail_protocols", "Get-CASMailbox"),
        ("audit_config", "Get-AdminAuditLogConfig"),
    ] {
        let status = &snapshot["sources"][source];
        assert_eq!(status["status"], "error", "{source}: {}", out.stderr);
        let reason = status["reason"].as_str().unwrap();
        assert!(
            reason.contains("403") && reason.contains(cmdlet),
            "{reason}"
        );
        assert!(reason.contains("Global Reader"), "names the role: {reason}");
    }
}

#[test]
fn respond_suspends_mail_access_with_the_block_and_restores_it_as_recorded() {
    let s = scenario(|_| {});
    let before = {
        let st = s.emu.state();
        let guid = st.find_mailbox(LENA).unwrap().guid.clone();
        st.protocols
            .cas
            .iter()
            .find(|c| c.mailbox_guid == guid)
            .unwrap()
            .clone()
    };
    assert!(before.imap_enabled && before.active_sync_enabled);
    let out = s.run(&[
        "respond",
        "--user",
        LENA,
        "--remove-admin-roles",
        "--restore-access",
        "--yes",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log = s.writes();
    let at = |what: &str, pred: &dyn Fn(&WriteOp) -> bool| {
        log.iter().position(pred).unwrap_or_else(|| {
            panic!("no {what} in {log:#?}");
        })
    };
    let patch = |w: &WriteOp, enabled: bool| {
        w.operation == "PATCH"
            && w.target == format!("/v1.0/users/{LENA_ID}")
            && w.body.get("accountEnabled") == Some(&Value::Bool(enabled))
    };
    let block = at("block sign-in", &|w| patch(w, false));
    let cas = set_cas_writes(&log);
    assert_eq!(cas.len(), 2, "suspend and restore: {log:#?}");
    let suspend = at("suspend", &|w| std::ptr::eq(w, cas[0]));
    let revoke = at("revoke", &|w| w.target.ends_with("/revokeSignInSessions"));
    // Step 6: the role removed (a DELETE, or a PIM `adminRemove` schedule request).
    let role = at("role removal", &|w| {
        w.operation == "DELETE" || w.target.ends_with("/roleAssignmentScheduleRequests")
    });
    let restore = at("restore", &|w| std::ptr::eq(w, cas[1]));
    let unblock = at("unblock sign-in", &|w| patch(w, true));
    // Step 5 with the block (before the rest of the playbook), step 6 after it.
    assert!(block < suspend && suspend < revoke, "{log:#?}");
    assert!(suspend < role, "step 5 before step 6");
    assert!(
        role < restore && restore < unblock,
        "restore before sign-in"
    );
    assert_eq!(unblock, log.len() - 1);
    assert_eq!(
        cas[0].body,
        json!({"Identity": LENA, "ActiveSyncEnabled": false, "OWAforDevicesEnabled": false,
               "PopEnabled": false, "ImapEnabled": false, "SmtpClientAuthenticationDisabled": true})
    );
    assert_eq!(
        cas[1].body,
        json!({"Identity": LENA, "ActiveSyncEnabled": true, "OWAforDevicesEnabled": true,
               "PopEnabled": false, "ImapEnabled": true, "SmtpClientAuthenticationDisabled": false})
    );
    let st = s.emu.state();
    let guid = st.find_mailbox(LENA).unwrap().guid.clone();
    let after = st
        .protocols
        .cas
        .iter()
        .find(|c| c.mailbox_guid == guid)
        .unwrap();
    assert_eq!(after, &before, "exactly what it was");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The organisation-wide switches: SMTP AUTH on for the organisation is fixed with
/// `Set-TransportConfig`, mailbox auditing off with `Set-OrganizationConfig`; unified audit
/// log ingestion off is a manual step (not planned, and still failing after apply), since the
/// REST endpoint refuses to turn it on.
#[test]
fn organisation_switches_are_fixed_and_unified_audit_log_is_left_to_a_human() {
    let mut snapshot = read_json(&example("contoso-compromised.json"));
    snapshot["mail_protocols"]["transport"][0]["smtp_client_authentication_disabled"] =
        json!(false);
    snapshot["audit_config"]["organization"][0] = json!({
        "id": "organization", "unified_audit_log_ingestion_enabled": false, "audit_disabled": true
    });
    let s = Scenario::with(spawn(EmulatorConfig::from_snapshot_value(&snapshot).unwrap()).unwrap())
        .env("M365GUARD_CONCURRENCY", "1");
    let tenant = s.tenant();
    let (_, report) = scan(&s, &["--tenant", &tenant], "before");
    let verdicts_before = verdicts(&report);
    assert!(verdicts_before[0].1.contains("Transport Settings"));
    assert!(verdicts_before[1].1.contains("organization"));

    let mut args = vec!["fix", "plan", "--tenant", &tenant, "-o", "plan.json"];
    for rule in RULES {
        args.extend(["--rule", rule]);
    }
    let out = s.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = s.read_json("plan.json");
    let writes: BTreeSet<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["write"].as_str().unwrap())
        .collect();
    assert!(writes.contains("Set-TransportConfig -SmtpClientAuthenticationDisabled $true"));
    assert!(writes.contains("Set-OrganizationConfig -AuditDisabled $false"));
    let manual: Vec<&Value> = plan["not_planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["rule_id"] == "audit_logging_disabled")
        .collect();
    assert_eq!(manual.len(), 1, "{plan}");
    assert!(manual[0]["reason"]
        .as_str()
        .unwrap()
        .contains("Cmdlet needs proxy"));

    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    {
        let st = s.emu.state();
        assert!(st.protocols.smtp_client_authentication_disabled);
        assert!(!st.protocols.audit_disabled);
        assert!(
            !st.protocols.unified_audit_log_ingestion_enabled,
            "left to a human"
        );
    }
    let (_, report) = scan(&s, &["--tenant", &tenant], "after");
    let after = verdicts(&report);
    assert_eq!(after[0].0, "passed");
    assert_eq!(
        after[1],
        (
            "failed".to_owned(),
            BTreeSet::from(["organization".to_owned()])
        ),
        "unified audit log ingestion is still off"
    );
}
