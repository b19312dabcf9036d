//! The Exchange write path held to Microsoft's documented behaviour (issue #10, items 4, 7
//! and 8), end to end against the emulator in its strict default mode:
//! - the inbox-rule cmdlets get one documented parameter form (`-Mailbox <UPN> -Identity
//!   <RuleIdentity>`), `-Force`, and an anchor on the owner's UPN, and the plan shows what is
//!   sent; the emulator refuses the other combinations;
//! - a write answered 200 with `value`, 200 with an empty body or 204 is accepted and
//!   verified by reading back; collection is complete whether `@odata.nextLink` can be
//!   followed or expires (a loop over both modes is how CI runs both);
//! - Remove-BlockedSenderAddress is sent without a made-up `-Reason`, and the service's
//!   unblock limit ends the action with a message that names it and says what to do.

use std::path::Path;

use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider};
use m365guard::exchange::ExchangeClient;
use m365guard_emulator::config::{ExoPaging, ExoWriteAnswer};
use m365guard_emulator::{Emulator, Service, WriteOp};
use serde_json::{json, Value};

use crate::harness::{m365guard_against, run, start, Out};

const LENA: &str = "lena.fischer@contoso.com";

fn m365guard(emu: &Emulator, dir: &Path, args: &[&str]) -> Out {
    run(m365guard_against(emu, dir).args(args))
}

fn respond(emu: &Emulator, dir: &Path) -> Out {
    m365guard(emu, dir, &["respond", "--user", LENA, "--yes"])
}

fn cmdlet_writes(emu: &Emulator, cmdlet: &str) -> Vec<WriteOp> {
    emu.write_log()
        .into_iter()
        .filter(|w| w.service == Service::Exchange && w.operation == cmdlet)
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn audit(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("m365guard-audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

fn in_process_settings(emu: &Emulator) -> Settings {
    Settings::validate(RawSettings {
        tenant: Some(emu.tenant_id()),
        client_id: Some(emu.client_id()),
        client_secret: Some(Secret::new(emu.client_secret().unwrap())),
        authority: Some(emu.base_url.clone()),
        graph_url: Some(emu.base_url.clone()),
        exchange_url: Some(emu.base_url.clone()),
    })
    .unwrap()
}

// ---- item 4: inbox-rule cmdlets -----------------------------------------------------------

#[test]
fn inbox_rule_writes_send_the_documented_parameters_and_the_plan_shows_them() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let tenant = emu.tenant_id();
    let out = m365guard(
        &emu,
        dir.path(),
        &["fix", "plan", "--tenant", &tenant, "-o", "plan.json"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let plan = read_json(&dir.path().join("plan.json"));
    let rule_actions: Vec<&Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["kind"] == "disable_inbox_rule" && a["target"]["exchange_identity"].is_string()
        })
        .collect();
    assert!(!rule_actions.is_empty(), "no Exchange rule in the plan");
    for a in &rule_actions {
        let upn = a["target"]["user_principal_name"].as_str().unwrap();
        let rule = a["target"]["rule_id"].as_str().unwrap();
        assert_eq!(
            a["write"],
            format!("Disable-InboxRule -Mailbox {upn} -Identity '{rule}' -Force -AlwaysDeleteOutlookRulesBlob -Confirm:$false"),
            "{a}"
        );
        assert_eq!(
            a["rollback"],
            format!("Enable-InboxRule -Mailbox {upn} -Identity '{rule}' -Force -AlwaysDeleteOutlookRulesBlob -Confirm:$false"),
            "{a}"
        );
    }

    let out = m365guard(&emu, dir.path(), &["fix", "apply", "plan.json", "--yes"]);
    let ids: Vec<&Value> = rule_actions.iter().map(|a| &a["id"]).collect();
    for line in audit(dir.path())
        .iter()
        .filter(|l| ids.contains(&&l["action_id"]))
    {
        assert_eq!(line["outcome"], "applied", "{line}\n{}", out.stderr);
    }
    // What reached the tenant is what the plan showed: Mailbox + bare RuleIdentity, -Force.
    let sent = cmdlet_writes(&emu, "Disable-InboxRule");
    assert_eq!(sent.len(), rule_actions.len(), "{sent:#?}");
    for (w, a) in sent.iter().zip(&rule_actions) {
        assert_eq!(w.status, 200, "{w:?}");
        assert_eq!(
            w.body["Mailbox"], a["target"]["user_principal_name"],
            "{w:?}"
        );
        assert_eq!(w.body["Identity"], a["target"]["rule_id"], "{w:?}");
        assert_eq!(w.body["Force"], true, "{w:?}");
        assert_eq!(w.body["AlwaysDeleteOutlookRulesBlob"], true, "{w:?}");
    }
}

#[test]
fn the_emulator_refuses_what_the_inbox_rule_docs_refuse() {
    let emu = start();
    let settings = in_process_settings(&emu);
    let agent = m365guard::collect::agent();
    let tokens = TokenProvider::new(settings, agent.clone());
    let exo = ExchangeClient::new(&tokens, agent);
    let rules = exo
        .invoke_anchored(
            "Get-InboxRule",
            json!({"Mailbox": LENA, "ResultSize": "Unlimited"}),
            &format!("UPN:{LENA}"),
        )
        .unwrap();
    let rule = rules.iter().find(|r| r["Enabled"] == true).unwrap();
    let qualified = rule["Identity"].as_str().unwrap().to_owned();
    let id = rule["RuleIdentity"]
        .to_string()
        .trim_matches('"')
        .to_owned();
    let anchor = format!("UPN:{LENA}");
    let refused = |params: Value, anchor: &str, needle: &str| {
        let err = exo
            .invoke_anchored("Disable-InboxRule", params.clone(), anchor)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{params}: {err}");
    };
    refused(
        json!({"Identity": qualified, "Mailbox": LENA, "Force": true}),
        &anchor,
        "already names the mailbox",
    );
    refused(json!({"Identity": id, "Force": true}), &anchor, "has none");
    refused(
        json!({"Identity": id, "Mailbox": LENA}),
        &anchor,
        "does not support user interaction",
    );
    // Anchored on the system mailbox (what `invoke` does) instead of the rule's owner.
    let err = exo
        .invoke(
            "Disable-InboxRule",
            json!({"Identity": id, "Mailbox": LENA, "Force": true}),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("X-AnchorMailbox: UPN:"), "{err}");
    assert!(cmdlet_writes(&emu, "Disable-InboxRule").is_empty());
    // Both documented forms work.
    exo.invoke_anchored(
        "Disable-InboxRule",
        json!({"Identity": id, "Mailbox": LENA, "Force": true}),
        &anchor,
    )
    .unwrap();
    exo.invoke_anchored(
        "Enable-InboxRule",
        json!({"Identity": qualified, "Force": true}),
        &anchor,
    )
    .unwrap();
    let log = emu.write_log();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert!(log.iter().all(|w| w.status == 200), "{log:#?}");
}

// ---- item 7: write answers and paging ------------------------------------------------------

#[test]
fn fix_writes_accept_every_success_answer_and_verify_by_reading_back() {
    let exchange_kinds = [
        "clear_mailbox_forwarding",
        "disable_inbox_rule",
        "unblock_sender",
        "disable_outbound_auto_forwarding",
    ];
    for form in [
        ExoWriteAnswer::Value,
        ExoWriteAnswer::EmptyBody,
        ExoWriteAnswer::NoContent,
    ] {
        let emu = start();
        let mut options = emu.options();
        options.exo_write_answer = form;
        emu.set_options(options);
        let dir = tempfile::tempdir().unwrap();
        let tenant = emu.tenant_id();
        let plan = m365guard(
            &emu,
            dir.path(),
            &["fix", "plan", "--tenant", &tenant, "-o", "plan.json"],
        );
        assert_eq!(plan.code, 0, "{form:?}\n{}\n{}", plan.stdout, plan.stderr);
        let out = m365guard(&emu, dir.path(), &["fix", "apply", "plan.json", "--yes"]);
        assert_eq!(out.code, 0, "{form:?}\n{}\n{}", out.stdout, out.stderr);
        let lines = audit(dir.path());
        for kind in exchange_kinds {
            let of_kind: Vec<&Value> = lines.iter().filter(|l| l["action"] == kind).collect();
            assert!(!of_kind.is_empty(), "{form:?}: no {kind} in {lines:#?}");
            for l in of_kind {
                assert_eq!(l["outcome"], "applied", "{form:?}: {l}");
            }
        }
        // The outcome comes from reading the tenant back, not from the answers.
        {
            let st = emu.state();
            assert!(st.blocked_senders.is_empty(), "{form:?}");
            let lena = st.find_mailbox(LENA).unwrap();
            assert!(lena.forwarding_smtp_address.is_none(), "{form:?}");
            let default = st
                .outbound_spam_policies
                .iter()
                .find(|p| p.name == "Default")
                .unwrap();
            assert_eq!(default.auto_forwarding_mode, "Off", "{form:?}");
        }
        let unblock = cmdlet_writes(&emu, "Remove-BlockedSenderAddress");
        assert_eq!(unblock.len(), 1, "{form:?}");
        // -Reason is "the reason the user was blocked", not ours to write.
        assert_eq!(unblock[0].body, json!({"SenderAddress": LENA}), "{form:?}");
        let statuses: Vec<u16> = emu
            .write_log()
            .iter()
            .filter(|w| w.service == Service::Exchange)
            .map(|w| w.status)
            .collect();
        assert!(statuses.iter().all(|s| *s == 200), "{form:?}: {statuses:?}");
    }
}

/// The sections Exchange collection fills, as JSON (collection metadata left out).
fn exchange_sections(snapshot: &Value) -> Value {
    json!({
        "mailboxes": snapshot["mailboxes"],
        "inbox_rules": snapshot["inbox_rules"],
        "outbound_spam": snapshot["outbound_spam"],
        "remote_domains": snapshot["remote_domains"],
    })
}

fn collect(emu: &Emulator, dir: &Path) -> Value {
    let out = m365guard(emu, dir, &["collect", "-o", "snapshot.json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    read_json(&dir.join("snapshot.json"))
}

#[test]
fn collection_is_complete_whether_next_links_work_or_expire() {
    let exo_requests = |emu: &Emulator| {
        emu.requests()
            .into_iter()
            .filter(|r| r.path.contains("InvokeCommand"))
            .collect::<Vec<_>>()
    };
    let (whole, unpaged_requests) = {
        let emu = start();
        let dir = tempfile::tempdir().unwrap();
        let whole = exchange_sections(&collect(&emu, dir.path()));
        (whole, exo_requests(&emu).len())
    };
    assert!(whole["mailboxes"].as_array().unwrap().len() > 2);
    // NextLink: pages are followed. Restart: a page cut by the page size comes with the
    // truncation warning (its cursor would expire), so the client asks again without a page
    // size. (A cursor that expires without the warning: live::exchange_paging_….)
    for mode in [ExoPaging::NextLink, ExoPaging::Restart] {
        let emu = start();
        let mut options = emu.options();
        // Pages of two: every cmdlet with more than two objects pages.
        options.exo_page_size = 2;
        options.exo_paging = mode;
        emu.set_options(options);
        let dir = tempfile::tempdir().unwrap();
        let snapshot = collect(&emu, dir.path());
        for source in ["mailboxes", "inbox_rules"] {
            assert_eq!(
                snapshot["sources"][source]["status"], "ok",
                "{mode:?}: {source}"
            );
        }
        assert_eq!(exchange_sections(&snapshot), whole, "{mode:?}");
        // Paging was exercised: pages followed, or cmdlets asked again without a page size.
        let requests = exo_requests(&emu);
        assert!(requests.len() > unpaged_requests, "{mode:?}: {requests:#?}");
        assert!(
            requests.iter().all(|r| r.status == 200),
            "{mode:?}: {requests:#?}"
        );
    }
}

// ---- item 8: Remove-BlockedSenderAddress's limit -------------------------------------------

#[test]
fn the_unblock_limit_is_reported_with_what_to_do_and_not_retried() {
    let emu = start();
    let mut options = emu.options();
    options.exo_unblock_limit = Some(0);
    emu.set_options(options);
    let dir = tempfile::tempdir().unwrap();
    let out = respond(&emu, dir.path());
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines = audit(dir.path());
    let unblock: Vec<&Value> = lines
        .iter()
        .filter(|l| l["action"] == "unblock_sender")
        .collect();
    assert_eq!(unblock.len(), 1, "{lines:#?}");
    assert_eq!(unblock[0]["outcome"], "failed", "{}", unblock[0]);
    let detail = unblock[0]["detail"].as_str().unwrap();
    for needle in [
        "still blocked",
        "unblock limit",
        "does not retry",
        "https://security.microsoft.com/restrictedentities",
        "Microsoft Support",
    ] {
        assert!(detail.contains(needle), "{needle}: {detail}");
    }
    // One attempt, refused; the sender is still on the list.
    let sent = cmdlet_writes(&emu, "Remove-BlockedSenderAddress");
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].status, 400);
    assert!(emu
        .state()
        .blocked_senders
        .iter()
        .any(|b| b.sender_address.eq_ignore_ascii_case(LENA)));
}
