//! `scan --since` in the human-readable reports: Markdown and HTML say at the top what is
//! new, fixed and still failing since the earlier run; JSON carries the counts and the
//! fixed findings. End to end through the binary, with the example snapshots of one tenant.

use std::path::Path;

fn scan(args: &[&str], dir: &Path) -> String {
    let output = crate::harness::command()
        .args(["scan", "--out", dir.to_str().unwrap()])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run m365guard");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const FORMATS: [&str; 6] = ["-f", "markdown", "-f", "html", "-f", "json"];

/// The compromised tenant cleaned up: its forwarding findings are listed as fixed.
#[test]
fn a_cleaned_tenant_reports_fixed_findings_at_the_top() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--snapshot",
        "examples/contoso-clean.json",
        "--since",
        "examples/contoso-compromised.json",
        "-f",
        "sarif",
    ];
    args.extend(FORMATS);
    scan(&args, dir.path());
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    let json: serde_json::Value = serde_json::from_str(&read("m365guard.json")).unwrap();
    let fixed = json["since"]["fixed"].as_u64().unwrap();
    assert!(fixed > 0, "{}", json["since"]);
    assert_eq!(json["fixed"].as_array().unwrap().len() as u64, fixed);
    // The same count SARIF reports as absent.
    let sarif: serde_json::Value = serde_json::from_str(&read("m365guard.sarif")).unwrap();
    assert_eq!(
        sarif["runs"][0]["properties"]["m365guard/absent"]
            .as_array()
            .unwrap()
            .len() as u64,
        fixed
    );
    let forwarding = json["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "mailbox_external_forwarding")
        .expect("the forwarding mailbox was fixed");
    let name = forwarding["resource"]["name"].as_str().unwrap();

    let md = read("m365guard.md");
    let since = md.find("### Since the last run").expect("since section");
    let headline = format!("{fixed} fixed");
    assert!(md[since..].contains(&headline), "{md}");
    let fixed_list = md[since..].find("Fixed:").expect("fixed list");
    assert!(md[since + fixed_list..].contains(name));
    // At the top: before the findings and every other section.
    for later in ["### Findings", "### Not evaluated", "### Warnings"] {
        if let Some(at) = md.find(later) {
            assert!(since < at, "{later} before the since section");
        }
    }

    let html = read("m365guard.html");
    let section = html.find("<section id=\"since\">").expect("since section");
    assert!(section < html.find("<section id=\"totals\">").unwrap());
    assert!(section < html.find("<section id=\"findings\">").unwrap());
    assert!(html[section..].contains("<h3>Fixed</h3>"));
    assert!(html[section..].contains(&headline));
}

/// The reverse: the compromise is new since the clean run.
#[test]
fn a_compromise_since_the_clean_run_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--snapshot",
        "examples/contoso-compromised.json",
        "--since",
        "examples/contoso-clean.json",
    ];
    args.extend(FORMATS);
    scan(&args, dir.path());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("m365guard.json")).unwrap())
            .unwrap();
    let new = json["since"]["new"].as_u64().unwrap();
    let unwaived_new = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .filter(|f| f["baseline_state"] == "new" && f.get("waiver").is_none())
        .count() as u64;
    assert!(new > 0);
    assert_eq!(new, unwaived_new);
    let md = std::fs::read_to_string(dir.path().join("m365guard.md")).unwrap();
    assert!(md.contains(&format!("**{new} new, ")), "{md}");
    assert!(md.contains("\nNew:\n"));
}

/// Without --since nothing pretends to compare.
#[test]
fn without_since_there_is_no_since_section() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--snapshot", "examples/contoso-compromised.json"];
    args.extend(FORMATS);
    scan(&args, dir.path());
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert!(!read("m365guard.md").contains("Since the last run"));
    assert!(!read("m365guard.html").contains("id=\"since\""));
    let json: serde_json::Value = serde_json::from_str(&read("m365guard.json")).unwrap();
    assert!(json.get("since").is_none() && json.get("fixed").is_none());
}
