//! Issue 12, the identity half, end to end against the tenant emulator: the attacker's
//! phone number and Authenticator app in the contoso story are collected and flagged like
//! the example snapshot, deleted by `fix apply` (never a user's last MFA method), and a
//! missing permission leaves the rule not evaluated; a federated domain trusting an
//! unknown issuer is collected (fingerprint, not certificate) and flagged unless listed.

use std::collections::BTreeSet;
use std::path::Path;

use m365guard_emulator::auth_methods::FederationState;
use m365guard_emulator::config::Grants;
use serde_json::Value;

use crate::harness::{root, start, Scenario};

const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const TOM: &str = "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02";
const LENA_APP: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a/1f6b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
const LENA_PHONE: &str =
    "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a/3179e48a-750b-4051-897c-87b9720928f7";
const TOM_ALT: &str = "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02/b6332ec1-7057-4abe-9331-3d72feddfe41";

fn report(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name).join("m365guard.json"))
        .unwrap_or_else(|e| panic!("no report in {name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// (resource id, severity) of every finding of `rule`.
fn flagged(report: &Value, rule: &str) -> BTreeSet<(String, String)> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == rule)
        .flat_map(|r| r["findings"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            (
                f["resource"]["id"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status(report: &Value, rule: &str) -> String {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rule)
        .and_then(|r| r["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn scan_tenant(s: &Scenario, name: &str, extra: &[&str]) -> (i32, Value) {
    let tenant = s.tenant();
    let mut source = vec!["--tenant", tenant.as_str()];
    source.extend_from_slice(extra);
    let scan = s.scan_to(&source, name);
    (scan.code, scan.report)
}

fn pair(id: &str, severity: &str) -> (String, String) {
    (id.to_owned(), severity.to_owned())
}

#[test]
fn scan_tenant_flags_the_attacker_methods_like_the_snapshot_with_numbers_masked() {
    let s = Scenario::contoso();
    let (code, live) = scan_tenant(&s, "live", &["-f", "sarif", "-f", "markdown", "-f", "html"]);
    assert_eq!(code, 1);
    let example = root().join("examples/contoso-compromised.json");
    let out = s.run(&[
        "scan",
        "--snapshot",
        example.to_str().unwrap(),
        "-f",
        "json",
        "-q",
        "--out",
        "offline",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let offline = report(s.dir(), "offline");
    let want: BTreeSet<_> = [
        pair(LENA_APP, "critical"),
        pair(LENA_PHONE, "high"),
        pair(TOM_ALT, "high"),
    ]
    .into();
    assert_eq!(flagged(&offline, "auth_method_suspicious"), want);
    assert_eq!(flagged(&live, "auth_method_suspicious"), want);
    assert_eq!(status(&live, "federation_untrusted_issuer"), "passed");
    // The attacker's number is personal data: reports show it masked, never whole (the
    // collected snapshot written beside them keeps it: the duplicate check needs it).
    for entry in std::fs::read_dir(s.dir().join("live")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("snapshot") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("612345678"),
            "a full phone number in {}",
            path.display()
        );
    }
    assert!(serde_json::to_string(&live)
        .unwrap()
        .contains("+31••••••78"));
}

#[test]
fn plan_apply_rescan_deletes_the_attacker_methods_but_never_the_last_one() {
    let s = Scenario::contoso();
    let tenant = s.tenant();
    let out = s.run(&[
        "fix",
        "plan",
        "--tenant",
        &tenant,
        "--rule",
        "auth_method_suspicious",
        "-o",
        "plan.json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir().join("plan.json")).unwrap()).unwrap();
    let targets: BTreeSet<String> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|a| {
            assert_eq!(a["kind"], "delete_auth_method");
            assert_eq!(
                a["rollback"],
                Value::Null,
                "a deleted method cannot be restored"
            );
            assert!(
                a["write"].as_str().unwrap().contains("cannot be undone"),
                "{a}"
            );
        })
        .map(|a| a["target"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(targets, [LENA_APP.to_owned(), TOM_ALT.to_owned()].into());
    let refused = plan["not_planned"].as_array().unwrap();
    assert!(
        refused.iter().any(|n| n["reason"]
            .as_str()
            .unwrap()
            .starts_with("guard: last MFA method of lena.fischer@contoso.com")),
        "{refused:?}"
    );

    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let deletes: Vec<String> = s
        .emu
        .write_log()
        .iter()
        .filter(|w| w.operation == "DELETE")
        .map(|w| w.target.clone())
        .collect();
    assert_eq!(
        deletes,
        [
            format!("/v1.0/users/{LENA}/authentication/microsoftAuthenticatorMethods/1f6b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"),
            format!("/v1.0/users/{TOM}/authentication/phoneMethods/b6332ec1-7057-4abe-9331-3d72feddfe41"),
        ]
    );
    // Evidence keeps the method's metadata.
    let audit = std::fs::read_to_string(s.dir().join("m365guard-audit.jsonl")).unwrap();
    for kept in ["SM-A546B", "alternateMobile", "+31 612345678"] {
        assert!(
            audit.contains(kept),
            "{kept} not in the evidence:
{audit}"
        );
    }

    // Re-scan: the deleted methods are gone; Lena's number is now her only MFA method, which
    // the rule still reports (SMS-only admin) and the guard still keeps.
    let (_, after) = scan_tenant(&s, "after", &[]);
    assert_eq!(
        flagged(&after, "auth_method_suspicious"),
        [pair(LENA_PHONE, "medium")].into()
    );
    // A second apply of the same plan writes nothing.
    let writes = s.writes().len();
    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 applied, 2 already done"),
        "{}",
        out.stdout
    );
    assert_eq!(s.writes().len(), writes, "a second apply wrote");
}

#[test]
fn apply_refuses_to_delete_a_method_that_became_the_last_one() {
    let s = Scenario::contoso();
    let tenant = s.tenant();
    let out = s.run(&[
        "fix",
        "plan",
        "--tenant",
        &tenant,
        "--rule",
        "auth_method_suspicious",
        "--user",
        "tom.becker@contoso.com",
        "-o",
        "plan.json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Between plan and apply Tom's own methods are removed (by someone else): the
    // attacker's number would be his last MFA method.
    s.emu
        .state()
        .auth_methods
        .retain(|m| !(m.user_id == TOM && m.method_id != "b6332ec1-7057-4abe-9331-3d72feddfe41"));
    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("last MFA method of tom.becker@contoso.com"),
        "{all}"
    );
    assert!(
        s.writes().iter().all(|w| w.operation != "DELETE"),
        "the guard let a DELETE through"
    );
    assert!(s.emu.state().auth_methods.iter().any(|m| m.user_id == TOM));
}

#[test]
fn without_the_permission_the_rule_is_not_evaluated() {
    let s = Scenario::contoso();
    let mut grants = Grants::full();
    grants
        .graph
        .retain(|p| !p.starts_with("UserAuthenticationMethod."));
    s.emu.set_grants(grants);
    let (code, report) = scan_tenant(&s, "out", &[]);
    assert_eq!(code, 3);
    assert_eq!(status(&report, "auth_method_suspicious"), "not_evaluated");
    assert_eq!(status(&report, "federation_untrusted_issuer"), "passed");
}

#[test]
fn a_domain_federated_to_an_unknown_issuer_is_flagged_unless_listed() {
    let s = Scenario::contoso();
    s.emu.state().federations.push(FederationState {
        domain: "eu.contoso.com".into(),
        display_name: Some("eu".into()),
        issuer_uri: Some("http://sts.contoso-login.example/adfs/services/trust".into()),
        passive_sign_in_uri: Some("https://sts.contoso-login.example/adfs/ls".into()),
        preferred_authentication_protocol: Some("wsFed".into()),
        federated_idp_mfa_behavior: Some("acceptIfMfaDoneByFederatedIdp".into()),
        not_after: "20270630120000".into(),
    });
    let out = s.run(&["collect", "-o", "snapshot.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir().join("snapshot.json")).unwrap())
            .unwrap();
    let eu = snapshot["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "eu.contoso.com")
        .unwrap();
    assert_eq!(eu["authentication_type"], "Federated");
    let fingerprint = eu["federation"]["signing_certificate_sha256"]
        .as_str()
        .unwrap();
    assert_eq!(fingerprint.len(), 64);
    assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        eu["federation"]["signing_certificate_not_after"],
        "2027-06-30T12:00:00Z"
    );
    assert!(eu["federation"].get("signing_certificate").is_none());

    let (_, flagged_report) = scan_tenant(&s, "untrusted", &[]);
    assert_eq!(
        flagged(&flagged_report, "federation_untrusted_issuer"),
        [pair("eu.contoso.com", "critical")].into()
    );
    std::fs::write(
        s.dir().join("m365guard.toml"),
        "[identity]\nfederation_issuers = [\"http://sts.contoso-login.example/adfs/services/trust\"]\n",
    )
    .unwrap();
    let (_, trusted) = scan_tenant(&s, "trusted", &["--config", "m365guard.toml"]);
    assert_eq!(status(&trusted, "federation_untrusted_issuer"), "passed");
}

#[test]
fn respond_proposes_deleting_methods_registered_in_the_compromise_window() {
    let s = Scenario::contoso();
    let out = s.run(&[
        "respond",
        "--user",
        "lena.fischer@contoso.com",
        "--plan-only",
        "-o",
        "plan.json",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir().join("plan.json")).unwrap()).unwrap();
    let deletes: Vec<&Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "delete_auth_method")
        .collect();
    // Only the Authenticator registered two days before: the phone has no registration
    // time in Graph (the scan's duplicate-number check finds it).
    assert_eq!(deletes.len(), 1, "{plan}");
    assert_eq!(deletes[0]["target"]["id"], LENA_APP);
    assert!(s.writes().is_empty(), "--plan-only wrote");
}

/// The emulator is as strict as the service on these endpoints: the default method cannot
/// be deleted while others remain (the documented 400), an unknown `$select` property is a
/// 400, per-user reads work inside `$batch`, and a delete needs the ReadWrite permission.
#[test]
fn emulator_refuses_what_graph_refuses() {
    use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider};
    use m365guard::graph::{ApiError, GraphClient};

    let emu = start();
    let settings = Settings::validate(RawSettings {
        tenant: Some(emu.tenant_id()),
        client_id: Some(emu.client_id()),
        client_secret: Some(Secret::new(emu.client_secret().unwrap())),
        authority: Some(emu.base_url.clone()),
        graph_url: Some(emu.base_url.clone()),
        exchange_url: Some(emu.base_url.clone()),
    })
    .unwrap();
    let tokens = TokenProvider::new(settings, m365guard::collect::agent());
    let graph = GraphClient::new(&tokens, m365guard::collect::agent());

    // Tom's default method (push: his Authenticator) while he has others.
    let default = format!(
        "/v1.0/users/{TOM}/authentication/microsoftAuthenticatorMethods/b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d01"
    );
    let err = graph
        .write(
            "DELETE",
            &default,
            None,
            "UserAuthenticationMethod.ReadWrite.All",
        )
        .err()
        .expect("the write must be refused");
    assert!(
        matches!(&err, ApiError::Status { status: 400, .. })
            && err.to_string().contains("Cannot delete default method"),
        "{err}"
    );
    assert!(emu
        .state()
        .auth_methods
        .iter()
        .any(|m| m.user_id == TOM && m.method_id == "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d01"));

    let err = graph
        .get(&format!(
            "/v1.0/users/{TOM}/authentication/methods?$select=id,secret"
        ))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Could not find a property named 'secret'"),
        "{err}"
    );

    let listed = graph.get_each(
        "v1.0",
        &[
            format!("/users/{TOM}/authentication/methods"),
            format!("/users/{LENA}/authentication/phoneMethods"),
        ],
    );
    let tom = listed[0].as_ref().unwrap()["value"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tom, 4, "password, mobile, alternate mobile, Authenticator");
    let lena = listed[1].as_ref().unwrap()["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(lena.len(), 1);
    assert_eq!(lena[0]["phoneNumber"], "+31 612345678");

    let mut grants = Grants::full();
    grants
        .graph
        .retain(|p| p != "UserAuthenticationMethod.ReadWrite.All");
    grants
        .graph
        .push("UserAuthenticationMethod.Read.All".into());
    emu.set_grants(grants);
    emu.expire_all_tokens();
    let alt = format!(
        "/v1.0/users/{TOM}/authentication/phoneMethods/b6332ec1-7057-4abe-9331-3d72feddfe41"
    );
    let err = graph
        .write(
            "DELETE",
            &alt,
            None,
            "UserAuthenticationMethod.ReadWrite.All",
        )
        .err()
        .expect("the write must be refused");
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err}");
}
