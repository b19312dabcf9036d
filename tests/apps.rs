//! Issue 12, the application half, end to end against the tenant emulator: the contoso
//! tenant's illicit-consent app (Mail Sync Pro, Mail.ReadWrite consented by Lena), the
//! secret added to the Contoso Payroll Connector's service principal and the open user
//! consent are found live exactly as in the example snapshot; `fix plan --allow
//! app-changes` + `fix apply` + a re-scan clear them; a second apply writes nothing; no
//! secret value (the emulator serves one, as a broken service could) reaches any file the
//! run wrote; a missing permission makes the app rules not evaluated (exit 3).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::harness::{self, example, run, Scenario};

const APP_RULES: [&str; 5] = [
    "app_consent_high_risk",
    "app_known_malicious",
    "service_principal_credential_added",
    "app_credential_long_lived",
    "user_consent_allowed",
];
const MAIL_SYNC_GRANT: &str = "WqN1sMa1lSyncPro0LenaFischerGrantMailRW0aB";
const PAYROLL_SP: &str = "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f";
const ADDED_SECRET: &str = "7f3e2d1c-5b4a-4c3d-9e8f-0a1b2c3d4e5f";
const MAIL_SYNC_SP: &str = "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b";
const MAIL_SYNC_APP: &str = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a";

/// `(rule, resource id)` pairs, or `(rule, status)` pairs.
type Pairs = BTreeSet<(String, String)>;

/// `(rule, resource id)` of every failed finding of the app rules, and each app rule's status.
fn app_findings(report: &Value) -> (Pairs, Vec<(String, String)>) {
    let mut findings = BTreeSet::new();
    let mut statuses = Vec::new();
    for rule in report["rules"].as_array().unwrap() {
        let id = rule["id"].as_str().unwrap();
        if !APP_RULES.contains(&id) {
            continue;
        }
        statuses.push((id.to_owned(), rule["status"].as_str().unwrap().to_owned()));
        for f in rule["findings"].as_array().into_iter().flatten() {
            findings.insert((
                id.to_owned(),
                f["resource"]["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    (findings, statuses)
}

fn report(dir: &Path, out: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(out).join("m365guard.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn scan_tenant(s: &Scenario, out: &str) -> (harness::Out, Value) {
    let tenant = s.tenant();
    let scan = s.scan_to(&["--tenant", &tenant], out);
    (scan.out, scan.report)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn live_scan_finds_the_app_back_doors_of_the_snapshot() {
    let s = Scenario::contoso();
    let (out, live) = scan_tenant(&s, "live");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let offline = s.scan_snapshot(&example("contoso-compromised.json"), "offline");
    assert_eq!(offline.code, 1, "{}", offline.out.stderr);
    let (live_findings, _) = app_findings(&live);
    let (offline_findings, _) = app_findings(&offline.report);
    assert_eq!(live_findings, offline_findings);
    let expected: BTreeSet<(String, String)> = [
        ("app_consent_high_risk", MAIL_SYNC_GRANT.to_owned()),
        (
            "service_principal_credential_added",
            format!("{PAYROLL_SP}/{ADDED_SECRET}"),
        ),
        (
            "app_credential_long_lived",
            format!("{PAYROLL_SP}/{ADDED_SECRET}"),
        ),
        ("user_consent_allowed", "authorizationPolicy".to_owned()),
    ]
    .into_iter()
    .map(|(r, id)| (r.to_owned(), id))
    .collect();
    assert_eq!(live_findings, expected);
}

#[test]
fn plan_apply_rescan_clears_the_app_findings_and_no_secret_is_written() {
    let s = Scenario::contoso();
    // The emulator serves every secret's value in its reads, as a broken or hostile
    // service could: the collector must drop it.
    s.emu.state().apps.echo_secret_text = true;
    let secret = m365guard_emulator::apps::secret_text(PAYROLL_SP, ADDED_SECRET);
    // The operator's threat intelligence names Mail Sync Pro (read from ./m365guard.toml).
    std::fs::write(
        s.path("m365guard.toml"),
        format!("[apps]\nknown_malicious_app_ids = [\"{MAIL_SYNC_APP}\"]\n"),
    )
    .unwrap();
    let tenant = s.tenant();
    let rules = [
        "--rule",
        "app_known_malicious",
        "--rule",
        "app_consent_high_risk",
        "--rule",
        "service_principal_credential_added",
        "--rule",
        "user_consent_allowed",
    ];

    // Without --allow app-changes the secret's removal is a manual step.
    let mut args = vec!["fix", "plan", "--tenant", &tenant, "-o", "plain.json"];
    args.extend(rules);
    let out = s.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plain = s.read_json("plain.json");
    let kinds = |plan: &Value| -> BTreeSet<String> {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(&plain),
        ["restrict_user_consent", "revoke_consent_grant"]
            .map(String::from)
            .into()
    );
    assert!(
        plain["not_planned"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["reason"]
                .as_str()
                .unwrap()
                .contains("--allow app-changes")),
        "{plain}"
    );

    let mut args = vec![
        "fix",
        "plan",
        "--tenant",
        &tenant,
        "-o",
        "plan.json",
        "--allow",
        "app-changes",
    ];
    args.extend(rules);
    let out = s.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = s.read_json("plan.json");
    assert_eq!(
        kinds(&plan),
        [
            "disable_service_principal",
            "remove_credential",
            "restrict_user_consent",
            "revoke_consent_grant"
        ]
        .map(String::from)
        .into()
    );
    // The plan names the key id of the secret it removes.
    assert!(plan.to_string().contains(ADDED_SECRET), "{plan}");

    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("4 applied, 0 already done, 0 skipped, 0 refused, 0 failed"),
        "{}",
        out.stdout
    );
    {
        let st = s.emu.state();
        assert!(!st.apps.grants.iter().any(|g| g.id == MAIL_SYNC_GRANT));
        assert!(st.apps.permission_grant_policies_assigned.is_empty());
        let payroll = st
            .apps
            .service_principals
            .iter()
            .find(|p| p.id == PAYROLL_SP)
            .unwrap();
        assert!(payroll.passwords.is_empty());
        let mail_sync = st
            .apps
            .service_principals
            .iter()
            .find(|p| p.id == MAIL_SYNC_SP)
            .unwrap();
        assert!(!mail_sync.account_enabled, "kept, disabled");
    }
    let writes = s.writes().len();
    assert_eq!(writes, 4, "{:#?}", s.writes());

    // A second apply finds everything done and writes nothing.
    let out = s.run(&["fix", "apply", "plan.json", "--yes"]);
    assert!(
        out.stdout.contains("0 applied, 4 already done"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(s.writes().len(), writes, "the second apply wrote");

    let (out, after) = scan_tenant(&s, "after");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let (left, _) = app_findings(&after);
    assert!(left.is_empty(), "{left:?}");

    // Evidence kept the grant and the secret's metadata; no file holds the secret value.
    let all = files(s.dir());
    let evidence: String = all
        .iter()
        .filter(|p| p.to_string_lossy().contains("m365guard-evidence"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert!(evidence.contains(MAIL_SYNC_GRANT), "grant not in evidence");
    assert!(evidence.contains("Mail.ReadWrite"), "scope not in evidence");
    assert!(evidence.contains(ADDED_SECRET), "key id not in evidence");
    assert!(all.len() >= 8, "{all:?}");
    for path in all {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&secret), "{} holds a secret", path.display());
        assert!(
            !text.contains("Emu8Q~"),
            "{} holds a secret",
            path.display()
        );
        assert!(!text.contains("secretText"), "{}", path.display());
    }
}

#[test]
fn without_application_read_the_app_rules_are_not_evaluated() {
    let s = Scenario::contoso();
    let mut grants = m365guard_emulator::Grants::full();
    grants.graph.retain(|p| {
        !p.starts_with("Application.") && p != "DelegatedPermissionGrant.ReadWrite.All"
    });
    s.emu.set_grants(grants);
    let (out, report) = scan_tenant(&s, "live");
    assert_eq!(out.code, 3, "{}", out.stderr);
    let (_, statuses) = app_findings(&report);
    for (rule, status) in statuses {
        if rule == "user_consent_allowed" {
            // Policy.Read.All is still granted: consent settings were read.
            assert_eq!(status, "failed", "{rule}");
        } else {
            assert_eq!(status, "not_evaluated", "{rule}");
        }
    }
    assert!(
        out.stderr.contains("Application.Read.All")
            || out.stdout.contains("Application.Read.All")
            || report.to_string().contains("Application.Read.All")
    );
}

/// `[apps] known_malicious_app_ids` in m365guard.toml reaches the rule, and the finding's
/// fix (disabling the service principal) is planned only with `--allow app-changes`.
#[test]
fn configured_malicious_app_is_flagged_and_disabled_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m365guard.toml"),
        "[apps]\nknown_malicious_app_ids = [\"5D4C3B2A-1F0E-4D9C-8B7A-6F5E4D3C2B1A\"]\n",
    )
    .unwrap();
    let snapshot = example("contoso-compromised.json");
    let out = run(harness::m365guard(dir.path())
        .args(["scan", "--snapshot"])
        .arg(&snapshot)
        .args(["-f", "json", "--out", "r", "-q"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let (findings, _) = app_findings(&report(dir.path(), "r"));
    assert!(findings.contains(&(
        "app_known_malicious".to_owned(),
        "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b".to_owned()
    )));
    let plan = |allow: &[&str]| -> Value {
        let out = run(harness::m365guard(dir.path())
            .args(["fix", "plan", "--snapshot"])
            .arg(&snapshot)
            .args(["--rule", "app_known_malicious", "-o", "p.json"])
            .args(allow));
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap()).unwrap()
    };
    let without = plan(&[]);
    assert!(
        without["actions"].as_array().unwrap().is_empty(),
        "{without}"
    );
    assert_eq!(without["not_planned"].as_array().unwrap().len(), 1);
    let with = plan(&["--allow", "app-changes"]);
    let actions = with["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{with}");
    assert_eq!(actions[0]["kind"], "disable_service_principal");
    assert_eq!(
        actions[0]["write"],
        "PATCH /v1.0/servicePrincipals/e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b {\"accountEnabled\": false}"
    );
}
