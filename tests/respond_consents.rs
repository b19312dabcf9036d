//! Issue 12, `respond --user`: the OAuth consent grants the user gave are listed in
//! `respond-review.json` and, when the directory audit log dates the consent inside the
//! compromise window, proposed as `revoke_consent_grant` — the user's own grants and the
//! tenant-wide grants the user gave as an admin — with the scan fix's guard (never a
//! Microsoft first-party app's grant). Undated grants are listed, not revoked.

use std::path::Path;

use m365guard_emulator::Emulator;
use serde_json::{json, Value};

use crate::harness::{self, run, start};

const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const MAIL_SYNC_SP: &str = "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b";
const MAIL_SYNC_GRANT: &str = "WqN1sMa1lSyncPro0LenaFischerGrantMailRW0aB";
const PAYROLL_SP: &str = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f";
const PAYROLL_ADMIN_GRANT: &str = "k7XhPAYr0lmUuLmNbVZbGxTnVSYbVv2G4f3mUmZ5NAE";
const GRAPH_SP: &str = "9f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b";

/// A "Consent to application" event by Lena for service principal `sp`, `days` ago.
fn consent_event(emu: &Emulator, sp: &str, days: i64) {
    let at = (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    emu.state().directory_audit_log.push(json!({
        "id": format!("ApplicationManagement_consent_{sp}_{days}"),
        "category": "ApplicationManagement",
        "correlationId": "6f1b2c3d-0000-4000-8000-00000000c0c0",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": "Consent to application",
        "activityDateTime": at,
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": {"app": null, "user": {"id": LENA, "displayName": "Lena Fischer",
            "userPrincipalName": "lena.fischer@contoso.com", "ipAddress": "185.220.101.47"}},
        "targetResources": [{"id": sp, "displayName": "app", "type": "ServicePrincipal",
            "modifiedProperties": []}],
        "additionalDetails": [],
    }));
}

/// `respond --user lena --plan-only`: (plan, respond-review.json).
fn respond(emu: &Emulator, dir: &Path) -> (Value, Value) {
    let out = run(harness::m365guard_against(emu, dir).args([
        "respond",
        "--user",
        "lena.fischer@contoso.com",
        "--plan-only",
        "-o",
        "plan.json",
        "--evidence",
        "ev",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("app consents the user gave"),
        "{}",
        out.stdout
    );
    let read = |p: &Path| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    };
    let review = std::fs::read_dir(dir.join("ev"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("respond-review"))
        .expect("respond-review.json in the evidence");
    (read(&dir.join("plan.json")), read(&review))
}

fn revoked(plan: &Value) -> Vec<String> {
    let mut ids: Vec<String> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "revoke_consent_grant")
        .map(|a| a["target"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn grants_consented_in_the_window_are_revoked_and_all_are_listed() {
    let emu = start();
    // Lena consented Mail Sync Pro two days ago and, with her stolen Global Administrator
    // role, re-consented the Payroll Connector for the whole tenant.
    consent_event(&emu, MAIL_SYNC_SP, 2);
    consent_event(&emu, PAYROLL_SP, 1);
    let dir = tempfile::tempdir().unwrap();
    let (plan, review) = respond(&emu, dir.path());
    assert_eq!(
        revoked(&plan),
        [MAIL_SYNC_GRANT, PAYROLL_ADMIN_GRANT].map(String::from),
        "{plan}"
    );
    let grants = review["consent_grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2, "{review}");
    let mail_sync = grants
        .iter()
        .find(|g| g["grant_id"] == MAIL_SYNC_GRANT)
        .unwrap();
    assert_eq!(mail_sync["client_name"], "Mail Sync Pro");
    assert_eq!(mail_sync["consent_type"], "Principal");
    assert!(mail_sync["consented_at"].is_string());
    assert!(mail_sync["scopes"].to_string().contains("Mail.ReadWrite"));
    let payroll = grants
        .iter()
        .find(|g| g["grant_id"] == PAYROLL_ADMIN_GRANT)
        .unwrap();
    assert_eq!(payroll["consent_type"], "AllPrincipals");
    assert!(emu.write_log().is_empty(), "--plan-only wrote");
}

#[test]
fn undated_or_old_grants_are_listed_not_revoked() {
    let emu = start();
    // Consented 45 days ago: before the 30-day compromise window.
    consent_event(&emu, MAIL_SYNC_SP, 45);
    let dir = tempfile::tempdir().unwrap();
    let (plan, review) = respond(&emu, dir.path());
    assert!(revoked(&plan).is_empty(), "{plan}");
    let grants = review["consent_grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "only her own grant: {review}");
    assert_eq!(grants[0]["grant_id"], MAIL_SYNC_GRANT);
    assert!(
        grants[0]["consented_at"].is_null(),
        "outside the window: not dated"
    );
}

#[test]
fn without_the_audit_log_no_grant_is_proposed_and_the_plan_says_why() {
    let emu = start();
    consent_event(&emu, MAIL_SYNC_SP, 2);
    let mut grants = m365guard_emulator::Grants::full();
    grants.graph.retain(|p| p != "AuditLog.Read.All");
    emu.set_grants(grants);
    let dir = tempfile::tempdir().unwrap();
    let (plan, review) = respond(&emu, dir.path());
    assert!(revoked(&plan).is_empty(), "{plan}");
    let reasons = plan["not_planned"].to_string();
    assert!(
        reasons.contains("consent grants: audit not read"),
        "{reasons}"
    );
    assert_eq!(review["consent_grants"].as_array().unwrap().len(), 1);
    assert!(
        review["not_read"].to_string().contains("AuditLog.Read.All"),
        "{review}"
    );
}

#[test]
fn a_first_party_apps_grant_is_never_revoked() {
    let emu = start();
    emu.state()
        .apps
        .grants
        .push(m365guard_emulator::apps::Grant {
            id: "FirstPartyGrantLenaGraph0000000000000000000".into(),
            client_id: GRAPH_SP.into(),
            consent_type: "Principal".into(),
            principal_id: Some(LENA.into()),
            resource_id: GRAPH_SP.into(),
            scope: "User.Read".into(),
        });
    consent_event(&emu, GRAPH_SP, 1);
    let dir = tempfile::tempdir().unwrap();
    let (plan, _) = respond(&emu, dir.path());
    assert!(revoked(&plan).is_empty(), "{plan}");
    assert!(
        plan["not_planned"].to_string().contains("first-party"),
        "{}",
        plan["not_planned"]
    );
}
