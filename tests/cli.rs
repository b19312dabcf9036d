//! End-to-end tests of the `m365guard` binary: exit codes, bad input, written reports.
//! Each test gets a temp dir; `m365guard!` runs the binary there and captures everything.

use std::path::{Path, PathBuf};

use m365guard::snapshot::model::SourceId;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = crate::harness::command()
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run m365guard");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Run m365guard from the repository root (so `examples/...` paths work).
macro_rules! m365guard {
    ($($arg:expr),* $(,)?) => {
        run_in(Path::new(env!("CARGO_MANIFEST_DIR")), &[$($arg),*])
    };
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A minimal valid snapshot: one healthy user, every source ok.
fn minimal_snapshot() -> serde_json::Value {
    let sources: serde_json::Map<String, serde_json::Value> = SourceId::ALL
        .iter()
        .map(|s| {
            (
                s.to_string(),
                serde_json::json!({"status": "ok", "items": 1}),
            )
        })
        .collect();
    serde_json::json!({
        "schema_version": 1,
        "tenant": {"id": "t1", "verified_domains": ["contoso.com"]},
        "collection": {"collected_at": "2026-11-20T10:00:00Z", "tool_version": "test"},
        "sources": sources,
        "users": [{"id": "u1", "user_principal_name": "a@contoso.com", "account_enabled": true,
                   "user_type": "member", "mfa": null, "per_user_mfa_state": null, "last_sign_in": null}],
        "mailboxes": [],
        "inbox_rules": [],
        "roles": {"definitions": [], "assignments": [], "eligible_assignments": []},
        "outbound_spam": {"policies": [], "restricted_senders": []},
        "conditional_access": {"policies": []},
        "security_defaults": {"is_enabled": true},
        "risky_users": []
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "broken.json",
        "{\n  \"schema_version\": 1,\n  \"tenant\": {,\n}\n",
    );
    let run = run_in(dir.path(), &["scan", "--snapshot", "broken.json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("broken.json:3:14"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no report on bad input: {}",
        run.stdout
    );
}

#[test]
fn newer_schema_version_is_refused_with_an_upgrade_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = minimal_snapshot();
    snap["schema_version"] = 2.into();
    snap["new_section_from_the_future"] = serde_json::json!([]);
    write(dir.path(), "future.json", &snap.to_string());
    let run = run_in(dir.path(), &["scan", "--snapshot", "future.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("schema_version 2 is newer"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("upgrade m365guard"), "{}", run.stderr);
}

#[test]
fn missing_required_section_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = minimal_snapshot();
    snap.as_object_mut().unwrap().remove("mailboxes");
    write(dir.path(), "nomail.json", &snap.to_string());
    let run = run_in(dir.path(), &["scan", "--snapshot", "nomail.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("missing field `mailboxes`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nomail.json:1:"), "{}", run.stderr);
}

#[test]
fn missing_file_is_reported_not_panicked() {
    let run = m365guard!("scan", "--snapshot", "does/not/exist.json");
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read snapshot does/not/exist.json"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn duplicate_resource_ids_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = minimal_snapshot();
    let user = snap["users"][0].clone();
    snap["users"].as_array_mut().unwrap().push(user);
    write(dir.path(), "dup.json", &snap.to_string());
    let run = run_in(dir.path(), &["scan", "--snapshot", "dup.json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("duplicate id \"u1\" in `users`"),
        "{}",
        run.stderr
    );
}

const GOOD_TOML: &str = r#"id = "custom_rule"
title = "Custom"
severity = "low"
area = "identity"
roadmap_phase = "beyond"
sources = ["users"]
description = "d"
rationale = "r"
remediation = "m"
"#;

const GOOD_REGO: &str = "package m365guard.rules.custom_rule\nimport rego.v1\ndeny contains f if {\n  some u in input.users\n  u.user_principal_name == \"nobody@contoso.com\"\n  f := {\"resource_type\": \"user\", \"resource_id\": u.id, \"message\": \"x\"}\n}\n";

#[test]
fn invalid_rule_toml_points_at_the_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "snap.json", &minimal_snapshot().to_string());
    write(
        dir.path(),
        "pack/custom_rule/rule.toml",
        &GOOD_TOML.replace("\"low\"", "\"severe\""),
    );
    write(dir.path(), "pack/custom_rule/rule.rego", GOOD_REGO);
    let run = run_in(
        dir.path(),
        &["scan", "--snapshot", "snap.json", "--policies", "pack"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("pack/custom_rule/rule.toml:3:12: invalid rule.toml"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unknown variant `severe`"),
        "{}",
        run.stderr
    );
}

#[test]
fn rego_syntax_error_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "snap.json", &minimal_snapshot().to_string());
    write(dir.path(), "pack/custom_rule/rule.toml", GOOD_TOML);
    write(
        dir.path(),
        "pack/custom_rule/rule.rego",
        &GOOD_REGO.replace("some u in", "some u in in"),
    );
    let run = run_in(
        dir.path(),
        &["scan", "--snapshot", "snap.json", "--policies", "pack"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("pack/custom_rule/rule.rego:4:"),
        "{}",
        run.stderr
    );
}

#[test]
fn folder_id_and_package_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "snap.json", &minimal_snapshot().to_string());
    write(dir.path(), "pack/custom_rule/rule.toml", GOOD_TOML);
    write(
        dir.path(),
        "pack/custom_rule/rule.rego",
        &GOOD_REGO.replace("rules.custom_rule", "rules.other"),
    );
    let run = run_in(
        dir.path(),
        &["scan", "--snapshot", "snap.json", "--policies", "pack"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("rule.rego:1:9: package `m365guard.rules.other` does not match"),
        "{}",
        run.stderr
    );
}

#[test]
fn custom_rule_runs_alongside_the_builtin_pack_and_fails_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = minimal_snapshot();
    snap["users"][0]["user_principal_name"] = "nobody@contoso.com".into();
    write(dir.path(), "snap.json", &snap.to_string());
    write(dir.path(), "pack/custom_rule/rule.toml", GOOD_TOML);
    write(dir.path(), "pack/custom_rule/rule.rego", GOOD_REGO);
    let run = run_in(
        dir.path(),
        &[
            "scan",
            "--snapshot",
            "snap.json",
            "--policies",
            "pack",
            "--rule",
            "custom_rule",
            "--fail-on",
            "low",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert!(run.stdout.contains("custom_rule"), "{json}");
    // Below the default --fail-on (high), a low finding does not fail the run.
    let run = run_in(
        dir.path(),
        &[
            "scan",
            "--snapshot",
            "snap.json",
            "--policies",
            "pack",
            "--rule",
            "custom_rule",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn unwritable_out_directory_fails_without_partial_reports() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "snap.json", &minimal_snapshot().to_string());
    write(dir.path(), "blocker", "a file where a directory should be");
    let run = run_in(
        dir.path(),
        &[
            "scan",
            "--snapshot",
            "snap.json",
            "--format",
            "json",
            "--format",
            "sarif",
            "--out",
            "blocker/reports",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot create output directory blocker/reports"),
        "{}",
        run.stderr
    );
}

#[test]
fn several_formats_without_out_is_a_usage_error() {
    let run = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-clean.json",
        "--format",
        "json",
        "--format",
        "sarif"
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("need --out DIR"), "{}", run.stderr);
}

#[test]
fn unknown_rule_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "snap.json", &minimal_snapshot().to_string());
    let run = run_in(
        dir.path(),
        &["scan", "--snapshot", "snap.json", "--rule", "no_such_rule"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown rule id `no_such_rule`"),
        "{}",
        run.stderr
    );
}

#[test]
fn schema_describes_the_snapshot() {
    let run = m365guard!("schema");
    assert_eq!(run.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let required = schema["required"].as_array().unwrap();
    for section in [
        "users",
        "mailboxes",
        "inbox_rules",
        "roles",
        "outbound_spam",
        "sources",
    ] {
        assert!(
            required.iter().any(|r| r == section),
            "{section} not required"
        );
    }
}

#[test]
fn snapshot_schema_accepts_the_bundled_examples() {
    let run = m365guard!("schema");
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for example in [
        "examples/contoso-compromised.json",
        "examples/contoso-clean.json",
        "examples/contoso-partial.json",
    ] {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(repo(example)).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{example}: {errors:?}");
    }
}

fn sarif_results(path: &Path) -> Vec<serde_json::Value> {
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    log["runs"][0]["results"].as_array().unwrap().clone()
}

fn states(results: &[serde_json::Value]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for r in results {
        *counts
            .entry(r["baselineState"].as_str().unwrap_or("none").to_owned())
            .or_default() += 1;
    }
    counts
}

#[test]
fn since_tracks_findings_across_runs_by_stable_fingerprint() {
    let out = tempfile::tempdir().unwrap();
    let dir = |name: &str| out.path().join(name).to_string_lossy().into_owned();
    let first = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "--format",
        "sarif",
        "--out",
        &dir("first"),
        "-q"
    );
    assert_eq!(first.code, 1, "{}", first.stderr);
    let first_sarif = out.path().join("first/m365guard.sarif");
    let first_results = sarif_results(&first_sarif);
    assert!(first_results.len() > 10);

    // Same tenant state again: every alert is unchanged and keeps its fingerprint.
    let again = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "--format",
        "sarif",
        "--out",
        &dir("again"),
        "-q",
        "--since",
        first_sarif.to_str().unwrap()
    );
    assert_eq!(again.code, 1, "{}", again.stderr);
    let again_results = sarif_results(&out.path().join("again/m365guard.sarif"));
    let fingerprints = |rs: &[serde_json::Value]| -> std::collections::BTreeSet<String> {
        rs.iter()
            .map(|r| {
                r["partialFingerprints"]["m365guard/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(fingerprints(&first_results), fingerprints(&again_results));
    assert_eq!(
        states(&again_results),
        [("unchanged".to_owned(), first_results.len())].into()
    );

    // The tenant remediated (issue 10 item 10): no result is left open, so code scanning
    // closes every earlier alert; the fixed findings are listed in the run's properties.
    let fixed = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-clean.json",
        "--format",
        "sarif",
        "--out",
        &dir("fixed"),
        "-q",
        "--since",
        first_sarif.to_str().unwrap()
    );
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    let fixed_results = sarif_results(&out.path().join("fixed/m365guard.sarif"));
    assert!(fixed_results.is_empty(), "{fixed_results:?}");
    let fixed_log: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("fixed/m365guard.sarif")).unwrap(),
    )
    .unwrap();
    let gone: std::collections::BTreeSet<String> = fixed_log["runs"][0]["properties"]
        ["m365guard/absent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone, fingerprints(&first_results));

    // An earlier snapshot works as the baseline too: from clean to compromised, all new.
    let regressed = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "--format",
        "sarif",
        "--out",
        &dir("regressed"),
        "-q",
        "--since",
        "examples/contoso-clean.json"
    );
    assert_eq!(regressed.code, 1, "{}", regressed.stderr);
    let regressed_results = sarif_results(&out.path().join("regressed/m365guard.sarif"));
    assert_eq!(
        states(&regressed_results),
        [("new".to_owned(), first_results.len())].into()
    );
}

#[test]
fn since_refuses_a_run_of_another_tenant() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "snap.json", &minimal_snapshot().to_string());
    let example = repo("examples/contoso-clean.json");
    let run = run_in(
        dir.path(),
        &[
            "scan",
            "--snapshot",
            "snap.json",
            "--since",
            example.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("is for tenant 7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rule_outside_the_baseline_is_an_error_not_an_empty_pass() {
    let run = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "--baseline",
        "roadmap-30d",
        "--rule",
        "user_without_mfa"
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("--rule user_without_mfa is not part of baseline roadmap-30d"),
        "{}",
        run.stderr
    );
    // Inside the baseline it narrows the selection.
    let run = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "--baseline",
        "roadmap-30d",
        "--rule",
        "restricted_sender",
        "--format",
        "json"
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["rules"].as_array().unwrap().len(), 1);
}

#[test]
fn an_optional_source_that_failed_makes_the_rule_not_evaluated() {
    // guest_in_privileged_role reads PIM eligibility when the tenant has it: no licence is
    // fine (the rule still checks active assignments), a failed collection is not.
    let dir = tempfile::tempdir().unwrap();
    let status = |state: &str| {
        let mut snap = minimal_snapshot();
        snap["sources"]["role_eligibility"] =
            serde_json::json!({"status": state, "reason": "test", "items": 0});
        write(dir.path(), "snap.json", &snap.to_string());
        let run = run_in(
            dir.path(),
            &[
                "scan",
                "--snapshot",
                "snap.json",
                "--rule",
                "guest_in_privileged_role",
                "--format",
                "json",
            ],
        );
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
        (
            run.code,
            json["rules"][0]["status"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(status("unavailable"), (0, "passed".to_owned()));
    assert_eq!(status("error"), (3, "not_evaluated".to_owned()));
}

/// Every source `unavailable` (no licence for anything): no rule can be evaluated, so the
/// scan says it is incomplete (exit 3, with why) instead of passing on no data.
#[test]
fn a_snapshot_with_every_source_unavailable_is_incomplete_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut snap = minimal_snapshot();
    let names: Vec<String> = snap["sources"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for name in names {
        snap["sources"][&name] =
            serde_json::json!({"status": "unavailable", "reason": "no licence", "items": 0});
    }
    write(dir.path(), "snap.json", &snap.to_string());
    let run = run_in(
        dir.path(),
        &[
            "scan",
            "--snapshot",
            "snap.json",
            "-f",
            "json",
            "-f",
            "sarif",
            "-f",
            "markdown",
            "--out",
            "out",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/m365guard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["exit"]["code"], 3);
    assert_eq!(json["exit"]["status"], "incomplete");
    assert!(json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "not_applicable"));
    let why = json["warnings"].to_string();
    assert!(why.contains("no rule was evaluated"), "{why}");
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/m365guard.sarif")).unwrap(),
    )
    .unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["exitCode"], 3);
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(
        invocation["toolExecutionNotifications"]
            .to_string()
            .contains("no rule was evaluated"),
        "{invocation}"
    );
    let markdown = std::fs::read_to_string(dir.path().join("out/m365guard.md")).unwrap();
    assert!(markdown.contains("no rule was evaluated"), "{markdown}");
    assert!(
        run.stderr.contains("no rule was evaluated"),
        "{}",
        run.stderr
    );

    // One rule evaluated is enough for a verdict (here: a medium finding, below the
    // default --fail-on high, so 0); the licence-gated rest stays informative.
    let mut one_ok = snap.clone();
    for source in ["users", "roles"] {
        one_ok["sources"][source] = serde_json::json!({"status": "ok", "items": 1});
    }
    write(dir.path(), "one.json", &one_ok.to_string());
    let run = run_in(
        dir.path(),
        &["scan", "--snapshot", "one.json", "-f", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["exit"]["code"], 0);
    assert!(json["totals"]["not_applicable"].as_u64().unwrap() > 0);
    assert_eq!(json["totals"]["failed"], 1, "{}", json["totals"]);
}

/// `scan --tenant` whose only failed source is one no selected rule reads: the process
/// exits 3, and every report says 3 too (the exit status is decided before rendering).
#[test]
fn live_scan_with_an_unread_failed_source_reports_the_exit_code_it_returns() {
    use m365guard_emulator::{spawn, EmulatorConfig, Grants};
    let cfg =
        EmulatorConfig::from_scenario_file(&repo("tests/emulator/scenarios/contoso.toml")).unwrap();
    let emu = spawn(cfg).unwrap();
    let mut grants = Grants::full();
    grants.graph.retain(|g| g != "IdentityRiskyUser.Read.All");
    emu.set_grants(grants);

    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::harness::command();
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("AZURE_")
            || key.starts_with("M365GUARD_")
            || key.starts_with("ACTIONS_ID_TOKEN_")
        {
            command.env_remove(&key);
        }
    }
    let output = command
        .args([
            "scan",
            "--tenant",
            &emu.tenant_id(),
            "--rule",
            "too_many_global_admins",
        ])
        .args([
            "-f", "json", "-f", "sarif", "-f", "junit", "-f", "markdown", "-f", "html",
        ])
        .args(["--out", "out"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("AZURE_CLIENT_ID", emu.client_id())
        .env("AZURE_CLIENT_SECRET", emu.client_secret().unwrap())
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stdout}\n{stderr}");
    let read = |name: &str| std::fs::read_to_string(dir.path().join("out").join(name)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&read("m365guard.json")).unwrap();
    assert_eq!(json["rules"].as_array().unwrap().len(), 1);
    assert_ne!(json["rules"][0]["status"], "not_evaluated", "{json}");
    assert_eq!(json["exit"]["code"], 3, "{}", json["exit"]);
    assert_eq!(json["exit"]["status"], "incomplete");
    assert!(
        json["warnings"].to_string().contains("risky_users"),
        "{}",
        json["warnings"]
    );
    let sarif: serde_json::Value = serde_json::from_str(&read("m365guard.sarif")).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["exitCode"], 3);
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(
        invocation["toolExecutionNotifications"]
            .to_string()
            .contains("risky_users"),
        "{invocation}"
    );
    let junit = read("m365guard.junit.xml");
    assert!(
        junit.contains("<error") && junit.contains("risky_users"),
        "{junit}"
    );
    let markdown = read("m365guard.md");
    assert!(markdown.contains("incomplete"), "{markdown}");
    let html = read("m365guard.html");
    assert!(html.contains("risky_users"), "html does not say why");
    // With --out: a summary on stdout, not the findings table.
    assert!(stdout.contains("exit 3"), "{stdout}");
    assert!(stdout.contains("Reports written to"), "{stdout}");
}

/// With `--out`, stdout gets a short summary (verdict and exit code, counts per outcome and
/// severity, the files written), not the findings table; `-q` silences it.
#[test]
fn scan_with_out_prints_a_summary_not_the_findings_table() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_string_lossy().into_owned();
    let run = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "-f",
        "json",
        "-f",
        "sarif",
        "--out",
        &dir
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("m365guard.json")).unwrap())
            .unwrap();
    let stdout = &run.stdout;
    assert!(stdout.contains("findings (exit 1)"), "{stdout}");
    let totals = &json["totals"];
    assert!(
        stdout.contains(&format!(
            "{} rules: {} passed, {} failed",
            totals["rules"], totals["passed"], totals["failed"]
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Unwaived findings by severity: "),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "Reports written to {dir}: m365guard.json, m365guard.sarif"
        )),
        "{stdout}"
    );
    // No finding is printed: not one resource or message line of the table.
    assert!(!stdout.contains("lena.fischer"), "{stdout}");
    assert!(!stdout.contains('│') && !stdout.contains('┆'), "{stdout}");
    assert!(stdout.lines().count() <= 6, "{stdout}");

    let quiet = m365guard!(
        "scan",
        "--snapshot",
        "examples/contoso-compromised.json",
        "-f",
        "json",
        "--out",
        &dir,
        "-q"
    );
    assert_eq!(quiet.code, 1, "{}", quiet.stderr);
    assert!(quiet.stdout.is_empty(), "{}", quiet.stdout);
}

/// Every subcommand that reads m365guard.toml takes the same `--config` with one help text.
#[test]
fn every_config_flag_has_the_same_help() {
    let help_of = |args: &[&str]| {
        let mut with_help = args.to_vec();
        with_help.push("--help");
        let run = run_in(Path::new(env!("CARGO_MANIFEST_DIR")), &with_help);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with("--config <FILE>"))
            .unwrap_or_else(|| panic!("{args:?} has no --config:\n{}", run.stdout));
        // The flag's line and its help, up to the next option or a blank line.
        std::iter::once(lines[at])
            .chain(
                lines[at + 1..]
                    .iter()
                    .copied()
                    .take_while(|l| !l.trim().is_empty() && !l.trim_start().starts_with('-')),
            )
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let commands: [&[&str]; 6] = [
        &["scan"],
        &["collect"],
        &["doctor"],
        &["fix", "plan"],
        &["fix", "apply"],
        &["respond"],
    ];
    let first = help_of(commands[0]);
    assert!(
        first.contains("[connection]") && first.contains("exceptions"),
        "{first}"
    );
    for command in &commands[1..] {
        assert_eq!(help_of(command), first, "{command:?}");
    }
}

/// `generate -o /dev/stdout` streams the snapshot into a pipe: a pipe can be neither chmod'ed
/// as a private file nor fsync'ed, and refusing it used to fail the command.
#[cfg(unix)]
#[test]
fn generate_writes_to_a_pipe() {
    let run = m365guard!("generate", "--users", "5", "-o", "/dev/stdout", "-q");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let snapshot: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
    assert_eq!(
        snapshot["users"].as_array().map(Vec::len),
        Some(5),
        "{}",
        run.stdout
    );
}
