//! Framework ids (ScubaGear, CIS) in every report and `baselines show`: the ids come from
//! baselines/*.toml through `scan`, end to end through the binary.

use std::path::Path;

use m365guard::baseline::{BaselineSet, Coverage};
use m365guard::cli::baselines::{control_status, rows, ControlStatus};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn m365guard(args: &[&str]) -> Run {
    let output = crate::harness::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run m365guard");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const COMPROMISED: &str = "examples/contoso-compromised.json";

/// README's promise: `--baseline scubagear` shows ScubaGear ids, in every format.
#[test]
fn scubagear_ids_reach_every_report_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let run = m365guard(&[
        "scan",
        "--snapshot",
        COMPROMISED,
        "--baseline",
        "scubagear",
        "-f",
        "json",
        "-f",
        "sarif",
        "-f",
        "markdown",
        "-f",
        "html",
        "-f",
        "table",
        "--out",
        out,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    // JSON: per rule, with coverage.
    let json: serde_json::Value = serde_json::from_str(&read("m365guard.json")).unwrap();
    let rule = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "legacy_auth_not_blocked")
        .expect("rule in the scubagear selection");
    let controls = rule["controls"].as_array().expect("controls array");
    assert!(controls.iter().any(|c| c["framework"] == "ScubaGear"
        && c["control"] == "MS.AAD.1.1v1"
        && c["coverage"] == "full"));
    assert!(controls
        .iter()
        .any(|c| c["framework"] == "CIS M365" && c["control"] == "5.2.2.3"));

    // SARIF: tags and rule properties.
    let sarif: serde_json::Value = serde_json::from_str(&read("m365guard.sarif")).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let rule = rules
        .iter()
        .find(|r| r["id"] == "legacy_auth_not_blocked")
        .unwrap();
    let tags: Vec<&str> = rule["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tags.contains(&"ScubaGear MS.AAD.1.1v1"), "{tags:?}");
    assert!(rule["properties"]["m365guard/controls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["control"] == "MS.AAD.1.1v1" && c["coverage"] == "full"));
    assert!(rule["help"]["text"]
        .as_str()
        .unwrap()
        .contains("ScubaGear MS.AAD.1.1v1 (full)"));

    assert!(read("m365guard.md").contains("ScubaGear MS.AAD.1.1v1 (full)"));
    assert!(read("m365guard.html").contains("ScubaGear MS.AAD.1.1v1 (full)"));
    // Terminal table: compact, `~` for partial coverage.
    let table = read("m365guard.txt");
    assert!(table.contains("MS.AAD.1.1v1"), "{table}");
    assert!(table.contains("MS.AAD.3.6v1~"), "{table}");
    // The selected framework comes first.
    assert!(table.contains("MS.AAD.1.1v1, CIS 5.2.2.3~"), "{table}");
    assert_eq!(controls[0]["framework"], "ScubaGear");
}

/// A rule no framework maps has no `controls` key (the JSON layout only grows).
#[test]
fn unmapped_rules_have_no_controls() {
    let run = m365guard(&["scan", "--snapshot", COMPROMISED, "-f", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rule = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "inbox_rule_hides_mail")
        .expect("rule in the pack");
    assert!(rule.get("controls").is_none(), "{rule}");
}

#[test]
fn baselines_show_lists_controls_with_their_rules() {
    let run = m365guard(&["baselines", "show", "scubagear"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("MS.EXO.1.1v1 "))
        .expect("control line");
    assert_eq!(lines[at + 1].trim(), "remote_domain_auto_forward (full)");
    assert_eq!(
        lines[at + 2].trim(),
        "outbound_auto_forwarding_allowed (partial)"
    );
}

#[test]
fn baselines_show_with_a_snapshot_judges_each_control() {
    let run = m365guard(&["baselines", "show", "scubagear", "--snapshot", COMPROMISED]);
    assert_eq!(run.code, 1, "findings: exit 1 like scan; {}", run.stderr);
    assert!(
        run.stdout.contains("[FAIL] MS.AAD.1.1v1 "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" fail, "), "{}", run.stdout);

    let clean = m365guard(&[
        "baselines",
        "show",
        "scubagear",
        "--snapshot",
        "examples/contoso-clean.json",
    ]);
    assert!(
        clean.stdout.contains("[pass] MS.AAD.1.1v1 "),
        "{}",
        clean.stdout
    );
    assert!(!clean.stdout.contains("[FAIL]"), "{}", clean.stdout);
}

#[test]
fn baselines_show_unknown_name_is_a_usage_error() {
    let run = m365guard(&["baselines", "show", "no-such-baseline"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown baseline"), "{}", run.stderr);
}

/// A control passes only when every rule mapped to it passed; partial coverage says so.
#[test]
fn control_status_is_the_worst_rule_outcome() {
    let set = BaselineSet::builtin().unwrap();
    let chain = set.chain("scubagear").unwrap();
    let rows = rows(&chain);
    let exo = rows.iter().find(|r| r.control == "MS.EXO.1.1v1").unwrap();
    assert_eq!(exo.rules.len(), 2);
    assert_eq!(exo.rules[0].1, Some(Coverage::Full));

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso-clean.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let pack = m365guard::policy::pack::load(&[], m365guard::policy::pack::Builtin::All).unwrap();
    let mut result = m365guard::scan::scan_text(
        &path,
        &text,
        &pack,
        &m365guard::scan::ScanSettings::default(),
    )
    .unwrap()
    .result;
    let admins = rows.iter().find(|r| r.control == "MS.AAD.7.1v1").unwrap();
    assert_eq!(control_status(admins, &result), ControlStatus::PassPartial);
    assert_eq!(control_status(exo, &result), ControlStatus::Pass);

    // One of the two rules failing fails the control; one missing makes it unknown.
    let outcome = result
        .outcomes
        .iter_mut()
        .find(|o| o.rule.id == "outbound_auto_forwarding_allowed")
        .unwrap();
    outcome.status = m365guard::findings::RuleStatus::Failed;
    assert_eq!(control_status(exo, &result), ControlStatus::Fail);
    result
        .outcomes
        .retain(|o| o.rule.id != "outbound_auto_forwarding_allowed");
    assert_eq!(control_status(exo, &result), ControlStatus::NotEvaluated);
}

/// Issue 14: `baselines show NAME --format json` — the controls with their rules and
/// coverage; with --snapshot each control's and rule's verdict, the same as the text form
/// and the scan's (and the scan's exit code).
#[test]
fn baselines_show_json_is_machine_readable_and_agrees_with_the_text() {
    let run = m365guard(&["baselines", "show", "scubagear", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["baseline"], "scubagear");
    assert!(
        doc["snapshot"].is_null() && doc["summary"].is_null(),
        "{doc}"
    );
    let controls = doc["controls"].as_array().unwrap();
    let exo = controls
        .iter()
        .find(|c| c["control"] == "MS.EXO.1.1v1")
        .expect("control");
    assert_eq!(
        exo["rules"],
        serde_json::json!([
            {"id": "remote_domain_auto_forward", "coverage": "full", "status": null, "findings": null},
            {"id": "outbound_auto_forwarding_allowed", "coverage": "partial", "status": null, "findings": null},
        ])
    );
    assert!(controls.iter().all(|c| c["status"].is_null()));

    let judged = m365guard(&[
        "baselines",
        "show",
        "scubagear",
        "--snapshot",
        COMPROMISED,
        "-f",
        "json",
    ]);
    assert_eq!(
        judged.code, 1,
        "findings: exit 1 like scan; {}",
        judged.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&judged.stdout).unwrap();
    assert_eq!(doc["snapshot"], COMPROMISED);
    let controls = doc["controls"].as_array().unwrap();
    let aad = controls
        .iter()
        .find(|c| c["control"] == "MS.AAD.1.1v1")
        .unwrap();
    assert_eq!(aad["status"], "fail");
    assert!(aad["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["status"] == "failed" && r["findings"].as_u64() > Some(0)));
    // Every control's status is the one the text form prints, and the summary adds up.
    let text = m365guard(&["baselines", "show", "scubagear", "--snapshot", COMPROMISED]);
    let names = [
        ("pass", "pass"),
        ("pass_partial", "pass (partial)"),
        ("fail", "FAIL"),
        ("not_evaluated", "not evaluated"),
        ("not_applicable", "n/a"),
    ];
    for c in controls {
        let shown = names
            .iter()
            .find(|(key, _)| c["status"] == *key)
            .unwrap_or_else(|| panic!("status {}", c["status"]))
            .1;
        let line = format!("[{shown}] {}  ", c["control"].as_str().unwrap());
        assert!(
            text.stdout.contains(&line),
            "{line} not in\n{}",
            text.stdout
        );
    }
    let summary = doc["summary"].as_object().unwrap();
    let total: u64 = summary.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total as usize, controls.len());
    assert!(summary["fail"].as_u64() > Some(0), "{summary:?}");
}
