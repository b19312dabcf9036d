//! `investigate`'s Identity Protection risk detections and its SARIF log, against the
//! emulator's contoso story: Lena's Amsterdam phishing sign-in carries an
//! `unfamiliarFeatures` and an `anonymizedIPAddress` detection. Without Entra ID P2 the
//! source is `unavailable`, without IdentityRiskEvent.Read.All an `error` naming it — never
//! an empty pass; `evidence.sarif` validates against the SARIF 2.1.0 schemas and points at
//! the flagged events' lines in `evidence.json`.

use m365guard_emulator::{Grants, Licences};
use serde_json::Value;

use crate::harness::start;
use crate::investigate::{event_at, flagged, investigate, verdict};

const OASIS_SCHEMA: &str = include_str!("data/sarif-schema-2.1.0.json");
const MULTITOOL_SCHEMA: &str = include_str!("data/sarif-schema-2.1.0-multitool.json");

#[test]
fn risk_detections_of_the_phishing_sign_in_are_collected_and_named_by_the_mfa_rule() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (out, ev) = investigate(&emu, dir.path());
    assert_eq!(out.code, 1, "{}", out.stderr);
    let source = &ev["sources"]["risk_detections"];
    assert_eq!(source["status"], "ok", "{source}");
    // The documented filter form only: `userId eq` (the emulator refuses a date range).
    let request = source["requests"][0].as_str().unwrap();
    assert!(
        request.starts_with("/v1.0/identityProtection/riskDetections?$filter=userId%20eq%20'"),
        "{request}"
    );
    let phish = event_at(&ev, "sign_ins", "2025-12-31T02:14:09Z");
    let detections = ev["risk_detections"].as_array().unwrap();
    let mut kinds: Vec<&str> = detections
        .iter()
        .map(|d| d["risk_event_type"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["anonymizedIPAddress", "unfamiliarFeatures"]);
    for d in detections {
        assert_eq!(d["request_id"], phish.as_str(), "{d}");
        assert_eq!(d["country"], "NL");
    }
    let registration = event_at(&ev, "directory_audits", "2025-12-31T02:24:31Z");
    let finding = ev["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["event_id"] == registration.as_str())
        .unwrap();
    assert_eq!(finding["details"]["sign_in"], phish.as_str());
    assert_eq!(
        finding["details"]["risk_detections"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("(Identity Protection: anonymizedIPAddress, unfamiliarFeatures)"),
        "{finding}"
    );
    // The detections add no finding of their own: still exactly the story's six (four
    // from the sign-ins and directory audits, the inbox rule and the bulk mail).
    assert_eq!(flagged(&ev).len(), 6);
    // The timeline shows them as rows, and its manual steps carry their evidence.
    let html = std::fs::read_to_string(dir.path().join("case/timeline.html")).unwrap();
    assert!(html.contains("Identity Protection: anonymizedIPAddress (medium risk, atRisk)"));
    let steps = html.split("id=\"manual-steps\"").nth(1).unwrap();
    assert!(
        steps.contains("2 flagged sign-in(s): 2025-12-31T02:14:09Z from Amsterdam, NL"),
        "{steps}"
    );
    assert!(
        steps.contains(
            "no evidence collected: no API lists the services that use lena.fischer@contoso.com"
        ),
        "{steps}"
    );
}

#[test]
fn without_p2_risk_detections_are_unavailable_and_the_rules_still_judge() {
    let emu = start();
    emu.set_licences(Licences {
        p1: true,
        p2: false,
    });
    let dir = tempfile::tempdir().unwrap();
    let (out, ev) = investigate(&emu, dir.path());
    assert_eq!(
        out.code, 3,
        "a source not collected → incomplete\n{}",
        out.stderr
    );
    let source = &ev["sources"]["risk_detections"];
    assert_eq!(source["status"], "unavailable", "{source}");
    assert!(
        source["reason"].as_str().unwrap().contains("Entra ID P2"),
        "{source}"
    );
    assert!(ev["risk_detections"].as_array().unwrap().is_empty());
    // The sign-in's own risk level and the other rules still make the registration suspicious.
    assert_eq!(
        verdict(&ev, "mfa_method_registered_after_risky_signin")["status"],
        "failed"
    );
    assert_eq!(flagged(&ev).len(), 6);
}

#[test]
fn without_identity_risk_event_read_all_the_source_is_an_error_naming_it() {
    let emu = start();
    let mut grants = Grants::full();
    grants.graph.retain(|p| p != "IdentityRiskEvent.Read.All");
    emu.set_grants(grants);
    let dir = tempfile::tempdir().unwrap();
    let (out, ev) = investigate(&emu, dir.path());
    assert_eq!(out.code, 3, "{}", out.stderr);
    let source = &ev["sources"]["risk_detections"];
    assert_eq!(source["status"], "error", "{source}");
    assert!(
        source["reason"]
            .as_str()
            .unwrap()
            .contains("IdentityRiskEvent.Read.All"),
        "{source}"
    );
    assert!(
        out.stderr.contains("IdentityRiskEvent.Read.All"),
        "{}",
        out.stderr
    );
}

fn validators() -> Vec<(&'static str, jsonschema::Validator)> {
    let oasis: Value = serde_json::from_str(OASIS_SCHEMA).unwrap();
    let multitool: Value = serde_json::from_str(MULTITOOL_SCHEMA).unwrap();
    vec![
        (
            "OASIS draft-07",
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .should_validate_formats(true)
                .build(&oasis)
                .unwrap(),
        ),
        (
            "Multitool draft 2020-12",
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&multitool)
                .unwrap(),
        ),
    ]
}

#[test]
fn evidence_sarif_is_valid_and_points_at_the_flagged_events_in_evidence_json() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (_, ev) = investigate(&emu, dir.path());
    let case = dir.path().join("case");
    let evidence_text = std::fs::read_to_string(case.join("evidence.json")).unwrap();
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("evidence.sarif")).unwrap())
            .unwrap();
    for (name, validator) in validators() {
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    let run = &sarif["runs"][0];
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for v in ev["rules"].as_array().unwrap() {
        assert!(rule_ids.contains(&v["rule_id"].as_str().unwrap()), "{v}");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), ev["findings"].as_array().unwrap().len());
    assert_eq!(results.len(), 6);
    let lines: Vec<&str> = evidence_text.lines().collect();
    for (result, finding) in results.iter().zip(ev["findings"].as_array().unwrap()) {
        assert_eq!(result["ruleId"], finding["rule_id"]);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rule_ids[index], finding["rule_id"].as_str().unwrap());
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "evidence.json");
        let line = location["region"]["startLine"].as_u64().unwrap() as usize;
        let event = finding["event_id"].as_str().unwrap();
        assert_eq!(
            lines[line - 1].trim(),
            format!("\"id\": \"{event}\","),
            "line {line} of evidence.json"
        );
    }
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    // The artifact's hash is evidence.json's, as the manifest records it.
    let manifest = std::fs::read_to_string(case.join("manifest.sha256")).unwrap();
    let hash = run["artifacts"][0]["hashes"]["sha-256"].as_str().unwrap();
    assert!(
        manifest.contains(&format!("{hash}  evidence.json")),
        "{manifest}"
    );
    assert!(manifest.contains("  evidence.sarif\n"), "{manifest}");
}

#[test]
fn an_incomplete_investigation_is_an_unsuccessful_sarif_invocation() {
    let emu = start();
    emu.set_licences(Licences {
        p1: false,
        p2: false,
    });
    let dir = tempfile::tempdir().unwrap();
    investigate(&emu, dir.path());
    let sarif: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("case/evidence.sarif")).unwrap(),
    )
    .unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes: Vec<&str> = invocation["toolExecutionNotifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"]["text"].as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Rule impossible_travel is not applicable")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("Evidence source sign_ins is unavailable")),
        "{notes:?}"
    );
}
