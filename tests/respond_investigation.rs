//! `respond --user` investigates first (issue 13): the investigation's reads all happen
//! before the first write, its case files land in respond's evidence directory, the
//! guidance's manual steps end the review with the evidence for each, and an investigation
//! that fails is reported without blocking containment.

use std::path::Path;

use serde_json::Value;

use crate::harness::{m365guard_against, run, start};

const LENA: &str = "lena.fischer@contoso.com";

/// Paths the investigation (and only it) reads.
fn is_evidence_read(path: &str) -> bool {
    [
        "/auditLogs/signIns",
        "/auditLogs/directoryAudits",
        "/identityProtection/riskDetections",
    ]
    .iter()
    .any(|p| path.contains(p))
}

#[test]
fn respond_saves_the_investigation_before_its_first_write() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let out = run(m365guard_against(&emu, dir.path()).args([
        "respond",
        "--user",
        LENA,
        "--since",
        "2025-12-01",
        "--evidence",
        "ev",
        "--yes",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    // Every evidence GET comes before the first write (the playbook's first write is
    // blocking sign-in, a PATCH).
    let writes = emu.write_log();
    assert_eq!(writes.first().map(|w| w.operation.as_str()), Some("PATCH"));
    let requests = emu.requests();
    let first_write = requests
        .iter()
        .position(|r| matches!(r.method.as_str(), "PATCH" | "DELETE"))
        .expect("a write");
    let reads: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "GET" && is_evidence_read(&r.path))
        .map(|(i, _)| i)
        .collect();
    assert!(
        reads.len() >= 5,
        "sign-ins ×2, audits ×2, risk detections: {reads:?}"
    );
    // Sign-ins and risk detections are read only by the investigation: all before the
    // first write. Directory audits are also read by the consent review (it dates grants
    // from "Consent to application" events), before the plan and once more by the
    // post-apply verification: the investigation's two (initiator, target) and the review's
    // first come before the first write, at most the verification's one after it.
    let path = |i: &usize| requests[*i].path.as_str();
    let late: Vec<&str> = reads
        .iter()
        .filter(|i| **i > first_write)
        .map(path)
        .collect();
    assert!(
        late.iter()
            .all(|p| p.contains("/auditLogs/directoryAudits"))
            && late.len() <= 1,
        "an evidence read after the first write (#{first_write}): {late:?}"
    );
    let early_audits = reads
        .iter()
        .filter(|i| **i < first_write && path(i).contains("/auditLogs/directoryAudits"))
        .count();
    assert!(early_audits >= 3, "{reads:?}");

    // The case files, in the evidence directory, with a manifest that verifies.
    let case = dir.path().join("ev/investigation");
    for file in [
        "evidence.json",
        "timeline.html",
        "evidence.sarif",
        "manifest.sha256",
    ] {
        assert!(case.join(file).is_file(), "no {file} in {}", case.display());
    }
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "manifest.sha256"])
        .current_dir(&case)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("evidence.json")).unwrap())
            .unwrap();
    // The story's six: four from sign-ins and directory audits, the inbox rule created from
    // the attacker's IP and the bulk mail (unified audit log and message trace).
    assert_eq!(evidence["findings"].as_array().unwrap().len(), 6);
    assert!(
        out.stdout.contains("Investigation: 6 finding(s)"),
        "{}",
        out.stdout
    );

    // The checklist ends the review, each step with its evidence.
    let tail = out
        .stdout
        .split("The guidance's manual steps")
        .nth(1)
        .unwrap_or_else(|| panic!("no manual steps:\n{}", out.stdout));
    assert!(tail.contains("[ ] Scan the user's devices"), "{tail}");
    assert!(
        tail.contains("flagged sign-in(s): 2025-12-31T02:14:09Z from Amsterdam"),
        "{tail}"
    );
    assert!(tail.contains("[ ] Tell the contacts"), "{tail}");
    let review =
        find_file(&dir.path().join("ev"), "respond-review.json").expect("respond-review.json");
    let review: Value = serde_json::from_str(&std::fs::read_to_string(review).unwrap()).unwrap();
    let guidance = review["guidance"].as_array().unwrap();
    assert_eq!(guidance.len(), 6);
    for g in guidance {
        assert!(!g["evidence"].as_array().unwrap().is_empty(), "{g}");
    }
}

#[test]
fn a_failed_investigation_is_reported_and_containment_goes_on() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    // A window starting in the future cannot be investigated.
    let out = run(m365guard_against(&emu, dir.path()).args([
        "respond",
        "--user",
        LENA,
        "--since",
        "2099-01-01",
        "--evidence",
        "ev",
        "--yes",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("evidence collection failed")
            && out.stderr.contains("Containment goes on without it"),
        "{}",
        out.stderr
    );
    assert!(!emu.write_log().is_empty(), "containment did not run");
    assert!(!dir.path().join("ev/investigation/evidence.json").exists());
    assert!(
        out.stdout
            .contains("no evidence collected: the investigation failed"),
        "{}",
        out.stdout
    );
}

fn find_file(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().and_then(|n| n.to_str()) == Some(name) {
            return Some(path);
        }
    }
    None
}
