//! Mail flow cmdlets (`exo_mailflow`) on the contoso scenario: reads with paging, identity
//! and filters; the documented parameter sets enforced (mandatory `-Identity`, typed
//! values, unknown parameters refused); writes change only the switch and show in reads.
mod common;

use common::*;
use m365guard_emulator::{spawn, EmulatorConfig};
use serde_json::{json, Value};

const INVOICE_ARCHIVE: &str = "9a7c3e21-5d6f-4a8b-9c0d-2e3f4a5b6c02";

fn contoso() -> m365guard_emulator::Emulator {
    let cfg =
        EmulatorConfig::from_scenario_file(&manifest_dir().join("scenarios/contoso.toml")).unwrap();
    spawn(cfg).unwrap()
}

fn error_text(v: &Value) -> String {
    v.to_string()
}

#[test]
fn transport_rules_are_read_by_identity_and_state_and_paged() {
    let emu = contoso();
    let x = token(&emu, EXO_SCOPE);
    let all = exo(
        &emu,
        &x,
        "Get-TransportRule",
        json!({"ResultSize": "Unlimited"}),
    )
    .json();
    let rules = all["value"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    let invoice = rules.iter().find(|r| r["Guid"] == INVOICE_ARCHIVE).unwrap();
    assert_eq!(
        invoice["BlindCopyTo"],
        json!(["contoso.invoices@gmail.com"])
    );
    assert_eq!(invoice["BlindCopyTo@odata.type"], "#Collection(String)");
    assert_eq!(invoice["State"], "Enabled");
    assert!(invoice["Description"]
        .as_str()
        .unwrap()
        .contains("Blind carbon copy"));
    // By name or GUID; an unknown identity is NotFound.
    let by_name = exo(
        &emu,
        &x,
        "Get-TransportRule",
        json!({"Identity": "invoice archive"}),
    )
    .json();
    assert_eq!(by_name["value"][0]["Guid"], INVOICE_ARCHIVE);
    let missing = exo(&emu, &x, "Get-TransportRule", json!({"Identity": "nope"}));
    assert_eq!(missing.status, 404, "{}", missing.text());
    // Paging: two per page, the same body posted to the nextLink.
    let page = exo_at(
        &emu.invoke_command_url(),
        &x,
        "Get-TransportRule",
        json!({}),
        &[("Prefer", "odata.maxpagesize=2")],
    )
    .unwrap()
    .json();
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    assert!(page["@odata.nextLink"].is_string());
    // -State is an enum; -ExcludeConditionActionDetails drops the conditions and actions.
    let bad = exo(&emu, &x, "Get-TransportRule", json!({"State": "Off"}));
    assert_eq!(bad.status, 400);
    let bare = exo(
        &emu,
        &x,
        "Get-TransportRule",
        json!({"ExcludeConditionActionDetails": true}),
    )
    .json();
    assert!(bare["value"][0].get("BlindCopyTo").is_none());
    // -Filter is not implemented: refused, never silently ignored.
    let filter = exo(
        &emu,
        &x,
        "Get-TransportRule",
        json!({"Filter": "State -eq 'Enabled'"}),
    );
    assert_eq!(filter.status, 400);
}

#[test]
fn write_cmdlets_need_an_identity_and_typed_values_and_change_only_the_switch() {
    let emu = contoso();
    let x = token(&emu, EXO_SCOPE);
    let r = exo(&emu, &x, "Disable-TransportRule", json!({"Confirm": false}));
    assert_eq!(r.status, 400);
    assert!(
        error_text(&r.json()).contains("missing mandatory parameters: Identity"),
        "{}",
        r.text()
    );
    let r = exo(
        &emu,
        &x,
        "Disable-TransportRule",
        json!({"Identity": INVOICE_ARCHIVE, "Confirm": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rule = exo(
        &emu,
        &x,
        "Get-TransportRule",
        json!({"Identity": INVOICE_ARCHIVE}),
    )
    .json();
    assert_eq!(rule["value"][0]["State"], "Disabled");
    assert_eq!(
        rule["value"][0]["BlindCopyTo"],
        json!(["contoso.invoices@gmail.com"]),
        "disabled, not changed"
    );
    let only_enabled = exo(&emu, &x, "Get-TransportRule", json!({"State": "Enabled"})).json();
    assert_eq!(only_enabled["value"].as_array().unwrap().len(), 3);

    let r = exo(
        &emu,
        &x,
        "Set-OutboundConnector",
        json!({"Identity": "Partner relay", "Enabled": "no"}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = exo(
        &emu,
        &x,
        "Set-OutboundConnector",
        json!({"Identity": "Partner relay", "SmartHosts": ["x.example"]}),
    );
    assert_eq!(
        r.status,
        400,
        "unimplemented parameter refused: {}",
        r.text()
    );
    let r = exo(
        &emu,
        &x,
        "Set-InboundConnector",
        json!({"Identity": "Nope", "Enabled": false}),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = exo(
        &emu,
        &x,
        "Set-OutboundConnector",
        json!({"Identity": "Partner relay", "Enabled": false, "Confirm": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = exo(
        &emu,
        &x,
        "Get-OutboundConnector",
        json!({"Identity": "Partner relay"}),
    )
    .json();
    assert_eq!(c["value"][0]["Enabled"], false);
    assert_eq!(
        c["value"][0]["SmartHosts"],
        json!(["smtp.relay-mailer.example"])
    );
    let ops: Vec<String> = emu
        .write_log()
        .iter()
        .map(|w| w.operation.clone())
        .collect();
    assert!(
        ops.contains(&"Disable-TransportRule".to_owned())
            && ops.contains(&"Set-OutboundConnector".to_owned()),
        "{ops:?}"
    );
    // Get-InboundConnector documents -Identity only.
    let r = exo(
        &emu,
        &x,
        "Get-InboundConnector",
        json!({"ResultSize": "Unlimited"}),
    );
    assert_eq!(r.status, 400);
    let inbound = exo(&emu, &x, "Get-InboundConnector", json!({})).json();
    let scanner = inbound["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "Scanner relay")
        .unwrap();
    assert_eq!(scanner["SenderDomains"], json!(["smtp:*;1"]));
    assert_eq!(scanner["RequireTls"], false);
}
