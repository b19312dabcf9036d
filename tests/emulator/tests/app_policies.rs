//! The app management policy endpoints (`src/app_policies.rs`) on the contoso scenario,
//! with the clean example's policies: permissions per Microsoft's pages (403 body as
//! Graph's), `$select` validation, `appliesTo`, and the licence answers.

mod common;

use common::*;
use m365guard_emulator::app_policies::{AppPoliciesState, WithoutLicence};
use m365guard_emulator::{spawn, EmulatorConfig, Grants};
use serde_json::Value;

const CUSTOM: &str = "4b3a2c1d-6e5f-4a7b-8c9d-0e1f2a3b4c5d";
const PAYROLL_APP: &str = "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f60";

fn clean_policies() -> m365guard_emulator::Emulator {
    let emu = spawn(
        EmulatorConfig::from_scenario_file(&manifest_dir().join("scenarios/contoso.toml")).unwrap(),
    )
    .unwrap();
    let text =
        std::fs::read_to_string(manifest_dir().join("../../examples/contoso-clean.json")).unwrap();
    let snap: Value = serde_json::from_str(&text).unwrap();
    emu.state().app_policies = AppPoliciesState::from_snapshot(&snap);
    emu
}

const DEFAULT: &str = "/v1.0/policies/defaultAppManagementPolicy";
const LIST: &str = "/v1.0/policies/appManagementPolicies";

#[test]
fn reads_need_a_policy_permission_and_applies_to_takes_application_read() {
    let emu = clean_policies();
    let mut grants = Grants::full();
    grants.graph.retain(|p| !p.starts_with("Policy."));
    emu.set_grants(grants.clone());
    let t = token(&emu, GRAPH_SCOPE);
    for path in [DEFAULT, LIST, &format!("{LIST}/{CUSTOM}")] {
        let r = get(&emu, &t, path);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "Authorization_RequestDenied");
        assert_eq!(
            r.json()["error"]["message"],
            "Insufficient privileges to complete the operation."
        );
    }
    // appliesTo's page names Application.Read.All as least privileged.
    let r = get(&emu, &t, &format!("{LIST}/{CUSTOM}/appliesTo"));
    assert_eq!(r.status, 200, "{}", r.text());
    grants.graph.retain(|p| !p.starts_with("Application."));
    emu.set_grants(grants.clone());
    let t = token(&emu, GRAPH_SCOPE);
    assert_eq!(
        get(&emu, &t, &format!("{LIST}/{CUSTOM}/appliesTo")).status,
        403
    );
    grants
        .graph
        .push("Policy.ReadWrite.ApplicationConfiguration".into());
    emu.set_grants(grants);
    let t = token(&emu, GRAPH_SCOPE);
    assert_eq!(get(&emu, &t, DEFAULT).status, 200);
    assert_eq!(
        get(&emu, &t, &format!("{LIST}/{CUSTOM}/appliesTo")).status,
        200
    );
}

#[test]
fn policies_are_served_in_graphs_shape_with_select_and_applies_to() {
    let emu = clean_policies();
    let t = token(&emu, GRAPH_SCOPE);
    let d = get(&emu, &t, DEFAULT).json();
    assert_eq!(d["id"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(d["isEnabled"], true);
    let password = &d["applicationRestrictions"]["passwordCredentials"][0];
    assert_eq!(password["restrictionType"], "passwordAddition");
    assert_eq!(
        d["servicePrincipalRestrictions"]["passwordCredentials"][0]["maxLifetime"],
        "P180D"
    );
    let selected = get(&emu, &t, &format!("{DEFAULT}?$select=id,isEnabled")).json();
    assert_eq!(keys(&selected), ["@odata.context", "id", "isEnabled"]);
    let r = get(&emu, &t, &format!("{DEFAULT}?$select=id,secretText"));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("secretText"));

    let (items, _) = collect_all(&emu, &t, &format!("{LIST}?$select=id,restrictions"));
    assert_eq!(items.len(), 1);
    assert_eq!(keys(&items[0]), ["id", "restrictions"]);
    assert_eq!(
        get(&emu, &t, &format!("{LIST}?$select=applies")).status,
        400
    );
    let (applies, _) = collect_all(&emu, &t, &format!("{LIST}/{CUSTOM}/appliesTo?$select=id"));
    assert_eq!(applies.len(), 1);
    assert_eq!(applies[0]["id"], PAYROLL_APP);
    assert_eq!(applies[0]["@odata.type"], "#microsoft.graph.application");
    assert_eq!(get(&emu, &t, &format!("{LIST}/nope/appliesTo")).status, 404);
    // No write is emulated.
    let r = graph(
        &emu,
        &t,
        "PATCH",
        DEFAULT,
        Some(&serde_json::json!({"isEnabled": false})),
    );
    assert_eq!(r.status, 405);
}

#[test]
fn without_the_licence_each_answer_is_served() {
    let emu = clean_policies();
    let t = token(&emu, GRAPH_SCOPE);
    let statuses = |emu: &m365guard_emulator::Emulator| {
        [DEFAULT, LIST]
            .map(|p| get(emu, &t, p))
            .map(|r| (r.status, r.text()))
    };
    emu.state().app_policies.licensed = false;
    let [d, l] = statuses(&emu);
    assert_eq!((d.0, l.0), (403, 403));
    assert!(d.1.contains("Workload Identities Premium"), "{}", d.1);
    emu.state().app_policies.without_licence = WithoutLicence::RefuseCustom;
    let [d, l] = statuses(&emu);
    assert_eq!((d.0, l.0), (200, 403));
    emu.state().app_policies.without_licence = WithoutLicence::ServeAll;
    let [d, l] = statuses(&emu);
    assert_eq!((d.0, l.0), (200, 200));
}
