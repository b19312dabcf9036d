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

use m365guard::exchange::ExchangeClient;
use m365guard_emulator::config::{ExoPaging, ExoWriteAnswer};
use m365guard_emulator::{Emulator, Service, WriteOp};
use serde_json::{json, Value};

use crate::harness::{emulator_tokens, start, Scenario};

const LENA: &str = "lena.fischer@contoso.com";

fn cmdlet_writes(emu: &Emulator, cmdlet: &str) -> Vec<WriteOp> {
    emu.write_log()
        .into_iter()
        .filter(|w| w.service == Service::Exchange && w.operation == cmdlet)
        .collect()
}

// ---- item 4: inbox-rule cmdlets -----------------------------------------------------------

#[test]
fn inbox_rule_writes_send_the_documented_parameters_and_the_plan_shows_them() {
    let s = Scenario::contoso();
    let plan = s.plan(&[]);
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

    let out = s.apply(&[]);
    let ids: Vec<&Value> = rule_actions.iter().map(|a| &a["id"]).collect();
    for line in s.audit().iter().filter(|l| ids.contains(&&l["action_id"])) {
        assert_eq!(line["outcome"], "applied", "{line}\n{}", out.stderr);
    }
    // What reached the tenant is what the plan showed: Mailbox + bare RuleIdentity, -Force.
    let sent = cmdlet_writes(&s.emu, "Disable-InboxRule");
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
    let (tokens, agent) = emulator_tokens(&emu);
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
        let s = Scenario::contoso().options(|o| o.exo_write_answer = form);
        let emu = &s.emu;
        let tenant = s.tenant();
        let plan = s.run(&["fix", "plan", "--tenant", &tenant, "-o", "plan.json"]);
        assert_eq!(plan.code, 0, "{form:?}\n{}\n{}", plan.stdout, plan.stderr);
        let out = s.apply(&[]);
        assert_eq!(out.code, 0, "{form:?}\n{}\n{}", out.stdout, out.stderr);
        let lines = s.audit();
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
        let unblock = cmdlet_writes(emu, "Remove-BlockedSenderAddress");
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

fn collect(s: &Scenario) -> Value {
    let collected = s.collect();
    assert_eq!(collected.code, 0, "{}", collected.out.text());
    collected.snapshot
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
        let s = Scenario::contoso();
        let whole = exchange_sections(&collect(&s));
        (whole, exo_requests(&s.emu))
    };
    let unpaged_requests_len = unpaged_requests.len();
    // A lookup of a name that resolves to nothing is a 404 the collectors expect (a
    // delegation's trustee without a recipient object); paging must add no other failure.
    let failures = |requests: &[m365guard_emulator::RequestRecord]| {
        requests.iter().filter(|r| r.status != 200).count()
    };
    let expected_failures = failures(&unpaged_requests);
    assert!(whole["mailboxes"].as_array().unwrap().len() > 2);
    // NextLink: pages are followed. Restart: a page cut by the page size comes with the
    // truncation warning (its cursor would expire), so the client asks again without a page
    // size. (A cursor that expires without the warning: live::exchange_paging_….)
    for mode in [ExoPaging::NextLink, ExoPaging::Restart] {
        // Pages of two: every cmdlet with more than two objects pages.
        let s = Scenario::contoso().options(|o| {
            o.exo_page_size = 2;
            o.exo_paging = mode;
        });
        let snapshot = collect(&s);
        for source in ["mailboxes", "inbox_rules"] {
            assert_eq!(
                snapshot["sources"][source]["status"], "ok",
                "{mode:?}: {source}"
            );
        }
        assert_eq!(exchange_sections(&snapshot), whole, "{mode:?}");
        // Paging was exercised: pages followed, or cmdlets asked again without a page size.
        let requests = exo_requests(&s.emu);
        assert!(
            requests.len() > unpaged_requests_len,
            "{mode:?}: {requests:#?}"
        );
        assert_eq!(
            failures(&requests),
            expected_failures,
            "{mode:?}: {requests:#?}"
        );
    }
}

// ---- item 8: Remove-BlockedSenderAddress's limit -------------------------------------------

#[test]
fn the_unblock_limit_is_reported_with_what_to_do_and_not_retried() {
    let s = Scenario::contoso().options(|o| o.exo_unblock_limit = Some(0));
    let emu = &s.emu;
    let out = s.run(&["respond", "--user", LENA, "--yes"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines = s.audit();
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
    let sent = cmdlet_writes(emu, "Remove-BlockedSenderAddress");
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].status, 400);
    assert!(emu
        .state()
        .blocked_senders
        .iter()
        .any(|b| b.sender_address.eq_ignore_ascii_case(LENA)));
}
