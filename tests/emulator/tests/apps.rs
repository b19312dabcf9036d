//! The app endpoints (`src/apps.rs`) on the contoso scenario: permissions per Microsoft's
//! pages, `$select` validation, paging, what reads never show (secret values, and
//! `keyCredentials` unless selected), and the writes fix mode makes.

mod common;

use common::*;
use m365guard_emulator::{spawn, EmulatorConfig, Grants};
use serde_json::json;

const GRAPH_SP: &str = "9f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b";
const PAYROLL_SP: &str = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f";
const MAIL_SYNC_GRANT: &str = "WqN1sMa1lSyncPro0LenaFischerGrantMailRW0aB";

fn contoso() -> m365guard_emulator::Emulator {
    spawn(
        EmulatorConfig::from_scenario_file(&manifest_dir().join("scenarios/contoso.toml")).unwrap(),
    )
    .unwrap()
}

#[test]
fn reads_need_their_documented_permissions() {
    let emu = contoso();
    let mut grants = Grants::full();
    grants.graph.retain(|p| {
        !p.starts_with("Application.")
            && p != "DelegatedPermissionGrant.ReadWrite.All"
            && p != "Policy.Read.All"
            && p != "Policy.ReadWrite.Authorization"
    });
    emu.set_grants(grants);
    let t = token(&emu, GRAPH_SCOPE);
    for path in [
        "/v1.0/servicePrincipals",
        "/v1.0/applications",
        "/v1.0/oauth2PermissionGrants",
        "/v1.0/policies/authorizationPolicy",
        "/v1.0/policies/adminConsentRequestPolicy",
    ] {
        let r = get(&emu, &t, path);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(
            r.json()["error"]["code"],
            "Authorization_RequestDenied",
            "{path}"
        );
    }
    // Directory.Read.All is the least privileged permission for delegated grants.
    let mut grants = Grants::full();
    grants
        .graph
        .retain(|p| p != "DelegatedPermissionGrant.ReadWrite.All");
    grants.graph.push("Directory.Read.All".into());
    emu.set_grants(grants);
    let t = token(&emu, GRAPH_SCOPE);
    assert_eq!(get(&emu, &t, "/v1.0/oauth2PermissionGrants").status, 200);
    // ...but it does not allow revoking one.
    let r = graph(
        &emu,
        &t,
        "DELETE",
        &format!("/v1.0/oauth2PermissionGrants/{MAIL_SYNC_GRANT}"),
        None,
    );
    assert_eq!(r.status, 403);
}

#[test]
fn select_is_validated_and_secrets_are_never_read() {
    let emu = contoso();
    let t = token(&emu, GRAPH_SCOPE);
    let r = get(&emu, &t, "/v1.0/servicePrincipals?$select=id,secretSauce");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Could not find a property named 'secretSauce' on type 'microsoft.graph.servicePrincipal'"), "{}", r.text());
    // No keyCredentials without $select; secretText null; the hint only.
    let (all, _) = collect_all(&emu, &t, "/v1.0/servicePrincipals");
    let payroll = all.iter().find(|s| s["id"] == PAYROLL_SP).unwrap();
    assert!(payroll.get("keyCredentials").is_none(), "{payroll}");
    let secret = &payroll["passwordCredentials"][0];
    assert_eq!(secret["secretText"], serde_json::Value::Null);
    assert_eq!(secret["hint"].as_str().unwrap().len(), 3);
    let r = get(
        &emu,
        &t,
        &format!("/v1.0/servicePrincipals/{PAYROLL_SP}?$select=id,keyCredentials"),
    );
    assert_eq!(r.status, 200);
    assert!(r.json().get("passwordCredentials").is_none());
}

#[test]
fn app_role_assignments_page_from_the_resource_side() {
    let emu = contoso();
    let t = token(&emu, GRAPH_SCOPE);
    let (items, pages) = collect_all(
        &emu,
        &t,
        &format!("/v1.0/servicePrincipals/{GRAPH_SP}/appRoleAssignedTo?$top=1"),
    );
    assert_eq!(items.len(), 2);
    assert_eq!(pages, 2);
    assert!(items
        .iter()
        .all(|a| a["resourceId"] == GRAPH_SP && a["principalId"] == PAYROLL_SP));
    let r = get(&emu, &t, "/v1.0/servicePrincipals?$filter=appId%20eq%20'00000003-0000-0000-c000-000000000000'&$select=id,appRoles");
    let roles = r.json()["value"][0]["appRoles"].clone();
    assert!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["value"] == "Mail.Send"),
        "{roles}"
    );
}

#[test]
fn writes_change_the_state_and_remove_key_needs_a_proof() {
    let emu = contoso();
    let t = token(&emu, GRAPH_SCOPE);
    let grant = format!("/v1.0/oauth2PermissionGrants/{MAIL_SYNC_GRANT}");
    assert_eq!(graph(&emu, &t, "DELETE", &grant, None).status, 204);
    assert_eq!(graph(&emu, &t, "DELETE", &grant, None).status, 404);
    assert_eq!(get(&emu, &t, &grant).status, 404);

    let key = "7f3e2d1c-5b4a-4c3d-9e8f-0a1b2c3d4e5f";
    let remove = format!("/v1.0/servicePrincipals/{PAYROLL_SP}/removePassword");
    assert_eq!(
        graph(&emu, &t, "POST", &remove, Some(&json!({"keyId": key}))).status,
        204
    );
    assert_eq!(
        graph(&emu, &t, "POST", &remove, Some(&json!({"keyId": key}))).status,
        400
    );
    let r = graph(
        &emu,
        &t,
        "POST",
        &format!("/v1.0/servicePrincipals/{PAYROLL_SP}/removeKey"),
        Some(&json!({"keyId": key, "proof": ""})),
    );
    assert_eq!(r.status, 400);

    let sp = format!("/v1.0/servicePrincipals/{PAYROLL_SP}");
    assert_eq!(
        graph(
            &emu,
            &t,
            "PATCH",
            &sp,
            Some(&json!({"accountEnabled": false}))
        )
        .status,
        204
    );
    assert_eq!(
        get(&emu, &t, &format!("{sp}?$select=accountEnabled")).json()["accountEnabled"],
        false
    );

    let body = json!({"defaultUserRolePermissions": {"permissionGrantPoliciesAssigned": []}});
    assert_eq!(
        graph(
            &emu,
            &t,
            "PATCH",
            "/v1.0/policies/authorizationPolicy",
            Some(&body)
        )
        .status,
        204
    );
    let policy = get(&emu, &t, "/v1.0/policies/authorizationPolicy").json();
    assert_eq!(
        policy["defaultUserRolePermissions"]["permissionGrantPoliciesAssigned"],
        json!([])
    );
}
