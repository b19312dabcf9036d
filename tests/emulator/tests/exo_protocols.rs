//! Client access and audit cmdlets (`exo_protocols`): the documented parameter sets are
//! enforced, `$null` is accepted only where Microsoft documents it, turning unified audit
//! log ingestion on answers "Cmdlet needs proxy", and writes are read back.
mod common;

use common::*;
use serde_json::{json, Value};

fn value(r: &Resp) -> Vec<Value> {
    r.json()["value"].as_array().cloned().unwrap_or_default()
}

#[test]
fn parameter_sets_and_types_are_enforced() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    // Identity and Anr are two parameter sets.
    let r = exo(
        &emu,
        &x,
        "Get-CASMailbox",
        json!({"Identity": LENA, "Anr": "lena"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("AmbiguousParameterSet"), "{}", r.text());
    // Undocumented (or unimplemented) parameters are refused, not ignored.
    assert_eq!(
        exo(&emu, &x, "Get-CASMailbox", json!({"Filter": "x"})).status,
        400
    );
    // Identity is mandatory for Set-CASMailbox.
    let r = exo(&emu, &x, "Set-CASMailbox", json!({"PopEnabled": false}));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Identity"), "{}", r.text());
    // Booleans are Booleans; $null only for the mailbox's SMTP AUTH setting.
    assert_eq!(
        exo(
            &emu,
            &x,
            "Set-CASMailbox",
            json!({"Identity": LENA, "ImapEnabled": "yes"})
        )
        .status,
        400
    );
    assert_eq!(
        exo(
            &emu,
            &x,
            "Set-CASMailbox",
            json!({"Identity": LENA, "PopEnabled": null})
        )
        .status,
        400
    );
    let ok = exo(
        &emu,
        &x,
        "Set-CASMailbox",
        json!({"Identity": LENA, "SmtpClientAuthenticationDisabled": null, "ImapEnabled": true}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let row = value(&exo(&emu, &x, "Get-CASMailbox", json!({"Identity": LENA})))[0].clone();
    assert_eq!(row["ImapEnabled"], true);
    assert!(row["SmtpClientAuthenticationDisabled"].is_null());
    assert_eq!(
        exo(
            &emu,
            &x,
            "Set-TransportConfig",
            json!({"SmtpClientAuthenticationDisabled": null})
        )
        .status,
        400
    );
    // Both parameters of Set-MailboxAuditBypassAssociation are mandatory.
    assert_eq!(
        exo(
            &emu,
            &x,
            "Set-MailboxAuditBypassAssociation",
            json!({"Identity": LENA})
        )
        .status,
        400
    );
    assert_eq!(
        exo(
            &emu,
            &x,
            "Get-CASMailbox",
            json!({"Identity": "nobody@contoso.com"})
        )
        .status,
        404
    );
}

#[test]
fn unified_audit_log_cannot_be_turned_on_over_rest_but_can_be_turned_off() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let r = exo(
        &emu,
        &x,
        "Set-AdminAuditLogConfig",
        json!({"UnifiedAuditLogIngestionEnabled": true}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Cmdlet needs proxy"), "{}", r.text());
    let r = exo(
        &emu,
        &x,
        "Set-AdminAuditLogConfig",
        json!({"UnifiedAuditLogIngestionEnabled": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cfg = value(&exo(&emu, &x, "Get-AdminAuditLogConfig", json!({})))[0].clone();
    assert_eq!(cfg["UnifiedAuditLogIngestionEnabled"], false);
}

#[test]
fn audit_bypass_and_organization_audit_round_trip() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let all = value(&exo(
        &emu,
        &x,
        "Get-MailboxAuditBypassAssociation",
        json!({"ResultSize": "Unlimited"}),
    ));
    assert!(!all.is_empty());
    assert!(all.iter().all(|r| r["AuditBypassEnabled"] == false));
    let r = exo(
        &emu,
        &x,
        "Set-MailboxAuditBypassAssociation",
        json!({"Identity": LENA, "AuditBypassEnabled": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let one = value(&exo(
        &emu,
        &x,
        "Get-MailboxAuditBypassAssociation",
        json!({"Identity": LENA}),
    ));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["AuditBypassEnabled"], true);
    assert!(one[0]["WhenChangedUTC"].is_string());

    assert_eq!(
        exo(
            &emu,
            &x,
            "Set-OrganizationConfig",
            json!({"AuditDisabled": true})
        )
        .status,
        200
    );
    let org = value(&exo(&emu, &x, "Get-OrganizationConfig", json!({})))[0].clone();
    assert_eq!(org["AuditDisabled"], true);
    let log = emu.write_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].operation, "Set-MailboxAuditBypassAssociation");
}
