//! `m365guard investigate` against the emulator's contoso story (Lena Fischer: ordinary
//! sign-ins from Germany, a phishing sign-in from Amsterdam at night 24 minutes after her
//! phone signed in from Berlin, an IMAP sign-in from the attacker's address, and an
//! authenticator registered 10 minutes after the phishing sign-in): the rules flag exactly
//! those events; a 403 or a missing licence leaves rules not evaluated / not applicable,
//! never an empty pass; the manifest verifies with `sha256sum -c`.

use std::path::Path;

use m365guard_emulator::{Grants, Licences};
use serde_json::Value;

use crate::harness::{assert_no_leaks, m365guard_against, run, Out, Scenario};

const LENA: &str = "lena.fischer@contoso.com";

pub(crate) fn investigate(emu: &m365guard_emulator::Emulator, dir: &Path) -> (Out, Value) {
    let out = run(m365guard_against(emu, dir).args([
        "investigate",
        "--user",
        LENA,
        "--since",
        "2025-12-01",
        "-o",
        "case",
    ]));
    let text = std::fs::read_to_string(dir.join("case/evidence.json"))
        .unwrap_or_else(|e| panic!("no evidence.json ({e}):\n{}\n{}", out.stdout, out.stderr));
    assert_no_leaks(
        [out.stdout.as_str(), out.stderr.as_str(), text.as_str()],
        &[&emu.client_secret().unwrap()],
    );
    (out, serde_json::from_str(&text).unwrap())
}

/// (rule, event id) of every finding.
pub(crate) fn flagged(evidence: &Value) -> Vec<(String, String)> {
    evidence["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_owned(),
                f["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn verdict<'a>(evidence: &'a Value, rule: &str) -> &'a Value {
    evidence["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == rule)
        .unwrap_or_else(|| panic!("no verdict for {rule}"))
}

/// The id of the sign-in (or audit) at `time`.
pub(crate) fn event_at(evidence: &Value, list: &str, time: &str) -> String {
    evidence[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["time"] == time)
        .unwrap_or_else(|| panic!("no {list} event at {time}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// [`investigate`] through the one harness: `Scenario::investigate` (which checks the
/// evidence for the secret), with stdout and stderr checked too.
fn lena(sc: &Scenario) -> (Out, Value) {
    let (out, ev) = sc.investigate(LENA, "2025-12-01", &[]);
    assert_no_leaks(
        [out.stdout.as_str(), out.stderr.as_str()],
        &[&sc.emu.client_secret().unwrap()],
    );
    (out, ev)
}

#[test]
fn the_rules_flag_exactly_the_story_not_lenas_ordinary_sign_ins() {
    let sc = Scenario::contoso();
    let (out, ev) = lena(&sc);
    assert_eq!(
        out.code, 1,
        "findings → exit 1\n{}\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(ev["schema_version"], 1);
    assert_eq!(ev["tenant_id"], sc.emu.tenant_id().as_str());
    assert_eq!(ev["user"]["id"], "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a");
    for source in [
        "user",
        "sign_ins",
        "directory_audits",
        "audit_events",
        "messages_sent",
    ] {
        assert_eq!(
            ev["sources"][source]["status"], "ok",
            "{source}: {}",
            ev["sources"]
        );
    }
    // Eight interactive sign-ins in December (two failed) and two non-interactive token
    // refreshes of her phone; two audits (a helpdesk reset, the registration).
    let sign_ins = ev["sign_ins"].as_array().unwrap();
    assert_eq!(sign_ins.len(), 10);
    let refreshes = sign_ins
        .iter()
        .filter(|s| s["is_interactive"] == false)
        .count();
    assert_eq!(refreshes, 2);
    assert_eq!(ev["directory_audits"].as_array().unwrap().len(), 2);
    let phish = event_at(&ev, "sign_ins", "2025-12-31T02:14:09Z");
    let imap = event_at(&ev, "sign_ins", "2025-12-31T02:31:40Z");
    let registration = event_at(&ev, "directory_audits", "2025-12-31T02:24:31Z");
    // The unified audit log and message trace parts of the story (tests/investigate_audit.rs
    // checks them in detail).
    let inbox_rule = event_at(&ev, "audit_events", "2025-12-31T02:16:45Z");
    let bulk = ev["messages_sent"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["time"] == "2025-12-31T02:48:00.0000000Z")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut got = flagged(&ev);
    got.sort();
    let mut want = vec![
        ("inbox_rule_from_suspicious_ip".to_owned(), inbox_rule),
        ("bulk_external_sending".to_owned(), bulk),
        ("impossible_travel".to_owned(), phish.clone()),
        ("signin_new_country".to_owned(), phish.clone()),
        ("signin_legacy_protocol".to_owned(), imap),
        (
            "mfa_method_registered_after_risky_signin".to_owned(),
            registration,
        ),
    ];
    want.sort();
    assert_eq!(got, want, "{}", out.stdout);
    for rule in [
        "impossible_travel",
        "signin_new_country",
        "signin_legacy_protocol",
        "mfa_method_registered_after_risky_signin",
    ] {
        assert_eq!(verdict(&ev, rule)["status"], "failed", "{rule}");
    }
    // The beta fields reached the evidence.
    let p = ev["sign_ins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == phish.as_str())
        .unwrap();
    assert_eq!(p["country"], "NL");
    assert_eq!(
        p["authentication_requirement"],
        "singleFactorAuthentication"
    );
    assert!(p["user_agent"].as_str().unwrap().contains("Linux"), "{p}");
    assert!(
        out.stdout.contains("minutes after the suspicious sign-in"),
        "{}",
        out.stdout
    );
}

#[test]
fn sign_ins_and_audits_are_paged_to_the_end() {
    let sc = Scenario::contoso();
    let mut options = sc.emu.options();
    options.graph_page_size = 3;
    sc.emu.set_options(options);
    let (out, ev) = lena(&sc);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(ev["sign_ins"].as_array().unwrap().len(), 10);
    assert_eq!(ev["directory_audits"].as_array().unwrap().len(), 2);
    assert_eq!(ev["audit_events"].as_array().unwrap().len(), 8);
    assert_eq!(flagged(&ev).len(), 6);
    let record_pages = sc
        .emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/records") || r.path.contains("/records?"))
        .count();
    assert_eq!(record_pages, 3, "8 audit log records in pages of 3");
    let pages = sc
        .emu
        .requests()
        .iter()
        .filter(|r| r.path.contains("/auditLogs/signIns"))
        .count();
    assert_eq!(
        pages, 4,
        "8 interactive sign-ins in pages of 3, 2 non-interactive in one"
    );
}

#[test]
fn the_manifest_verifies_with_sha256sum() {
    let sc = Scenario::contoso();
    lena(&sc);
    let case = sc.path("case");
    let manifest = std::fs::read_to_string(case.join("manifest.sha256")).unwrap();
    // evidence.json, timeline.html, evidence.sarif and the audit log query's audit-query.json.
    assert_eq!(manifest.lines().count(), 4, "{manifest}");
    assert!(manifest.contains("  audit-query.json\n"), "{manifest}");
    assert!(manifest.contains("  evidence.json\n"), "{manifest}");
    assert!(manifest.contains("  evidence.sarif\n"), "{manifest}");
    assert!(manifest.ends_with("  timeline.html\n"), "{manifest}");
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "manifest.sha256"])
        .current_dir(&case)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    // A changed byte is caught.
    let path = case.join("evidence.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("NL", "DE", 1)).unwrap();
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "manifest.sha256"])
        .current_dir(&case)
        .output()
        .unwrap();
    assert!(!check.status.success());
}

#[test]
fn without_p1_sign_ins_are_unavailable_and_their_rules_not_applicable() {
    let sc = Scenario::contoso();
    sc.emu.set_licences(Licences {
        p1: false,
        p2: false,
    });
    let (out, ev) = lena(&sc);
    assert_eq!(out.code, 3, "incomplete → exit 3\n{}", out.stderr);
    let s = &ev["sources"]["sign_ins"];
    assert_eq!(s["status"], "unavailable", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("Authentication_RequestFromNonPremiumTenantOrB2CTenant"),
        "{s}"
    );
    // Directory audits need no premium licence.
    assert_eq!(ev["sources"]["directory_audits"]["status"], "ok");
    assert_eq!(ev["directory_audits"].as_array().unwrap().len(), 2);
    for rule in [
        "impossible_travel",
        "signin_new_country",
        "signin_legacy_protocol",
        "mfa_method_registered_after_risky_signin",
        "inbox_rule_from_suspicious_ip",
        "consent_after_suspicious_signin",
    ] {
        let v = verdict(&ev, rule);
        assert_eq!(v["status"], "not_applicable", "{rule}: {v}");
        assert!(v["reason"].as_str().unwrap().contains("sign_ins"), "{v}");
    }
    // The message trace needs no Entra licence: only its rule still judges.
    let rules: Vec<String> = flagged(&ev).into_iter().map(|(r, _)| r).collect();
    assert_eq!(rules, ["bulk_external_sending"]);
    assert!(out.stderr.contains("not applicable"), "{}", out.stderr);
}

#[test]
fn without_auditlog_read_all_every_rule_reading_entra_logs_is_not_evaluated() {
    let sc = Scenario::contoso();
    let mut grants = Grants::full();
    grants.graph.retain(|p| p != "AuditLog.Read.All");
    sc.emu.set_grants(grants);
    let (out, ev) = lena(&sc);
    assert_eq!(out.code, 3, "{}", out.stderr);
    for source in ["sign_ins", "directory_audits"] {
        let s = &ev["sources"][source];
        assert_eq!(s["status"], "error", "{source}: {s}");
        assert!(
            s["reason"].as_str().unwrap().contains("AuditLog.Read.All"),
            "{s}"
        );
    }
    for v in ev["rules"].as_array().unwrap() {
        if v["rule_id"] == "bulk_external_sending" {
            // Reads the message trace only (Exchange), which AuditLog.Read.All does not gate.
            assert_eq!(v["status"], "failed", "{v}");
        } else {
            assert_eq!(v["status"], "not_evaluated", "{v}");
        }
    }
    let rules: Vec<String> = flagged(&ev).into_iter().map(|(r, _)| r).collect();
    assert_eq!(rules, ["bulk_external_sending"]);
}

#[test]
fn evidence_is_never_overwritten_and_the_schema_is_published() {
    let sc = Scenario::contoso();
    let (_, evidence) = lena(&sc);
    let again = run(m365guard_against(&sc.emu, sc.dir()).args([
        "investigate",
        "--user",
        LENA,
        "-o",
        "case",
    ]));
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("never overwritten"),
        "{}",
        again.stderr
    );

    let schema = run(crate::harness::command().args(["schema", "evidence"]));
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    let schema: Value = serde_json::from_str(&schema.stdout).unwrap();
    assert_eq!(schema["title"], "Evidence");
    let required = schema["required"].as_array().unwrap();
    for field in [
        "schema_version",
        "sources",
        "sign_ins",
        "directory_audits",
        "findings",
    ] {
        assert!(required.iter().any(|r| r == field), "{field}");
    }
    // What investigate wrote is valid against what `schema evidence` publishes, and a
    // document missing a field is not.
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&evidence)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut broken = evidence.clone();
    broken.as_object_mut().unwrap().remove("sources");
    assert!(!validator.is_valid(&broken));
}

/// Chromium, as tests/browser.rs finds it (`CHROMIUM`, else on PATH).
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|dir| Path::new(dir).join(name))
                .find(|p| p.is_file())
        })
}

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

/// The rendered timeline: every event a row in time order, exactly the flagged events
/// highlighted, the "where from" summary and the manual steps; a screenshot is produced.
#[test]
fn the_html_timeline_renders_in_a_browser() {
    let sc = Scenario::contoso();
    let (_, ev) = lena(&sc);
    let page = sc.path("case/timeline.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing loaded from anywhere.
    assert!(!html.contains("src=") && !html.contains("<link") && !html.contains("<script"));
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("M365GUARD_REQUIRE_BROWSER").is_none(),
            "M365GUARD_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("skipped: no chromium on PATH (set CHROMIUM or install Debian's chromium)");
        return;
    };
    let url = format!("file://{}", page.display());
    let profile = sc.path("profile");
    let dom = headless(&browser, &profile, &["--dump-dom", &url]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let rows: Vec<&str> = dom.split("<tr class=\"").skip(1).collect();
    assert_eq!(
        rows.len(),
        29,
        "10 sign-ins + 2 audits + 8 audit log records + 7 messages sent + 2 risk detections"
    );
    // The two risky detections are highlighted too (browser::investigation_timeline_
    // highlights_risky_detections checks them); these are the rows a rule flagged.
    let suspicious: Vec<&str> = rows
        .iter()
        .filter(|r| r.starts_with("suspicious") && !r.contains("<td>risk detection</td>"))
        .copied()
        .collect();
    assert_eq!(
        suspicious.len(),
        5,
        "phish, inbox rule, registration, IMAP, bulk mail"
    );
    for (row, time) in suspicious.iter().zip([
        "2025-12-31T02:14:09Z",
        "2025-12-31T02:16:45Z",
        "2025-12-31T02:24:31Z",
        "2025-12-31T02:31:40Z",
        "2025-12-31T02:48:00",
    ]) {
        assert!(row.contains(time), "{row}");
    }
    assert!(
        suspicious[0].contains("impossible_travel") && suspicious[0].contains("signin_new_country")
    );
    assert!(suspicious[1].contains("New-InboxRule") && suspicious[1].contains("RSS Feeds"));
    assert!(suspicious[2].contains("User registered security info"));
    assert!(suspicious[3].contains("IMAP4"));
    assert!(
        suspicious[4].contains("bulk_external_sending")
            && suspicious[4].contains("northwind-traders.example (20)")
    );
    // Time order, oldest first.
    let times: Vec<&str> = ev["sign_ins"]
        .as_array()
        .unwrap()
        .iter()
        .chain(ev["directory_audits"].as_array().unwrap())
        .chain(ev["audit_events"].as_array().unwrap())
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    let positions: Vec<usize> = sorted.iter().map(|t| dom.find(t).unwrap()).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "rows out of order"
    );
    for expected in [
        "Where from",
        "185.220.101.47",
        "Mobile Apps and Desktop clients",
        "Sent mail",
        "Steps no API can do",
    ] {
        assert!(dom.contains(expected), "rendered page lacks {expected:?}");
    }
    let png = sc.path("timeline.png");
    let shot = headless(
        &browser,
        &profile,
        &[
            "--window-size=1400,1800",
            &format!("--screenshot={}", png.display()),
            &url,
        ],
    );
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os("M365GUARD_KEEP_TIMELINE_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}

#[test]
fn an_unknown_user_is_an_error_and_writes_nothing() {
    let sc = Scenario::contoso();
    let out = run(m365guard_against(&sc.emu, sc.dir()).args([
        "investigate",
        "--user",
        "nobody@contoso.com",
        "--since",
        "2025-12-01",
        "-o",
        "case",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot read the user nobody@contoso.com"),
        "{}",
        out.stderr
    );
    assert!(!sc.path("case").exists());
}
