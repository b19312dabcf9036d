//! The Exchange switches a client must cope with (issue #10, item 7 and 8): the answer form
//! of writes without output, the two paging modes, and the unblock limit.
mod common;

use common::*;
use m365guard_emulator::config::{ExoPaging, ExoWriteAnswer};
use serde_json::json;

#[test]
fn write_answers_take_the_configured_form() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let set = || {
        exo(
            &emu,
            &x,
            "Set-HostedOutboundSpamFilterPolicy",
            json!({"Identity": "Default", "AutoForwardingMode": "Off"}),
        )
    };
    let r = set();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"], json!([]));
    for (form, status) in [
        (ExoWriteAnswer::EmptyBody, 200),
        (ExoWriteAnswer::NoContent, 204),
    ] {
        let mut options = emu.options();
        options.exo_write_answer = form;
        emu.set_options(options);
        let r = set();
        assert_eq!(r.status, status, "{form:?}");
        assert!(r.body.is_empty(), "{form:?}: {}", r.text());
        // Reads keep their envelope.
        let read = exo(&emu, &x, "Get-HostedOutboundSpamFilterPolicy", json!({}));
        assert!(read.json()["value"].is_array(), "{form:?}");
    }
}

#[test]
fn restart_mode_pages_cannot_be_followed_but_unpaged_requests_come_whole() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let all = |prefer: &[(&str, &str)]| {
        exo_at(
            &emu.invoke_command_url(),
            &x,
            "Get-Mailbox",
            json!({"ResultSize": "Unlimited"}),
            prefer,
        )
        .unwrap()
        .json()
    };
    let whole = all(&[]);
    let n = whole["value"].as_array().unwrap().len();
    assert!(n > 2);
    let mut options = emu.options();
    options.exo_page_size = 2;
    emu.set_options(options.clone());

    // NextLink mode: the link is the next page, without a warning.
    let page = all(&[("Prefer", "odata.maxpagesize=1000")]);
    assert_eq!(page["value"].as_array().unwrap().len(), 2, "capped");
    assert_eq!(page["@adminapi.warnings"], json!([]));
    let next = page["@odata.nextLink"].as_str().unwrap();
    let r = exo_at(
        next,
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);

    options.exo_paging = ExoPaging::Restart;
    emu.set_options(options);
    let page = all(&[("Prefer", "odata.maxpagesize=2")]);
    assert_eq!(page["@adminapi.warnings"].as_array().unwrap().len(), 1);
    let next = page["@odata.nextLink"].as_str().unwrap();
    let r = exo_at(
        next,
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), fixture("exo.error.400.pagination-expired.json"));
    let again = all(&[]);
    assert!(again["@odata.nextLink"].is_null());
    assert_eq!(again["value"], whole["value"]);
}

#[test]
fn unblocks_past_the_daily_limit_fail_and_reason_must_be_the_block_reason() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let blocked = exo(&emu, &x, "Get-BlockedSenderAddress", json!({})).json();
    let entry = blocked["value"][0].clone();
    let addr = entry["SenderAddress"].as_str().unwrap().to_owned();
    let reason = entry["Reason"].as_str().unwrap().to_owned();
    let mut options = emu.options();
    options.exo_unblock_limit = Some(1);
    emu.set_options(options);
    let rm = |params| exo(&emu, &x, "Remove-BlockedSenderAddress", params);
    let r = rm(json!({"SenderAddress": addr, "Reason": "remediated"}));
    assert_eq!(r.status, 404, "{}", r.text());
    let r = rm(json!({"SenderAddress": addr, "Reason": reason}));
    assert_eq!(r.status, 200, "{}", r.text());
    // The one unblock of the day is used: the next is refused, whatever the address.
    let r = rm(json!({"SenderAddress": addr}));
    assert_eq!(r.status, 400);
    let text = r.json()["error"]["innererror"]["internalexception"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("unblock limit has been exceeded"), "{text}");
    assert!(text.contains("Microsoft Support"), "{text}");
}
