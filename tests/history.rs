//! `m365guard history DIR` end to end: a folder with two example snapshots, a JSON report
//! of the third and an unrelated JSON file gives a CSV row per run in collection order
//! (with the counts `scan` reports for each) and a page with the charts.

use std::path::Path;

fn m365guard(args: &[&str]) -> std::process::Output {
    crate::harness::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run m365guard")
}

fn unwaived_by_severity(report: &serde_json::Value) -> [usize; 4] {
    let mut counts = [0; 4];
    for f in report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .filter(|f| f.get("waiver").is_none())
    {
        let i = ["critical", "high", "medium", "low"]
            .iter()
            .position(|s| f["severity"] == *s)
            .unwrap();
        counts[i] += 1;
    }
    counts
}

/// The folder of the test: (dir, the JSON reports `scan` gives for each run, in order).
pub fn history_folder() -> (tempfile::TempDir, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Named against their collection order, so ordering by name would be wrong.
    std::fs::copy(
        repo.join("examples/contoso-compromised.json"),
        dir.path().join("z-first.json"),
    )
    .unwrap();
    std::fs::copy(
        repo.join("examples/contoso-partial.json"),
        dir.path().join("a-second.json"),
    )
    .unwrap();
    let clean = m365guard(&[
        "scan",
        "--snapshot",
        "examples/contoso-clean.json",
        "-f",
        "json",
    ]);
    std::fs::write(dir.path().join("m-third-report.json"), &clean.stdout).unwrap();
    std::fs::write(dir.path().join("unrelated.json"), r#"{"hello": "world"}"#).unwrap();

    let reports = ["contoso-compromised", "contoso-partial", "contoso-clean"]
        .iter()
        .map(|name| {
            let out = m365guard(&[
                "scan",
                "--snapshot",
                &format!("examples/{name}.json"),
                "-f",
                "json",
            ]);
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    (dir, reports)
}

#[test]
fn history_writes_a_row_per_run_in_collection_order() {
    let (dir, reports) = history_folder();
    let out = tempfile::tempdir().unwrap();
    let run = m365guard(&[
        "history",
        dir.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("skipped unrelated.json"), "{stderr}");

    let csv = std::fs::read_to_string(out.path().join("m365guard-history.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 1 + 3, "{csv}");
    let files: Vec<&str> = rows[1..].iter().map(|r| r[1]).collect();
    assert_eq!(
        files,
        ["z-first.json", "a-second.json", "m-third-report.json"]
    );
    for (row, report) in rows[1..].iter().zip(&reports) {
        let counts: Vec<usize> = row[3..7].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(counts, unwaived_by_severity(report), "{row:?}");
        assert_eq!(row[0], report["snapshot"]["collected_at"].as_str().unwrap());
    }
    assert!(
        rows[1][7].parse::<usize>().unwrap() > 0,
        "the compromised run has findings"
    );
    assert_eq!(rows[3][7], "0", "the clean run has none");

    let html = std::fs::read_to_string(out.path().join("m365guard-history.html")).unwrap();
    for severity in ["critical", "high", "medium", "low"] {
        assert!(
            html.contains(&format!("data-series=\"{severity}\"")),
            "no {severity} line"
        );
    }
    assert!(html.contains("data-series=\"30 days\""));
    // Everything of the first run is fixed by the clean one.
    let first_total: usize = rows[1][7].parse().unwrap();
    assert!(html.contains("0 still open"), "{html}");
    assert!(
        html.matches("<tr><td><span class=\"sev").count() >= first_total,
        "a time-to-fix row per finding"
    );
    assert!(html.contains("default-src 'none'") && !html.contains("<script"));
}

#[test]
fn history_of_a_folder_without_runs_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.json"), "[]").unwrap();
    let run = m365guard(&[
        "history",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no snapshot or m365guard JSON report"));
}

/// `scan -f FORMAT` of an example snapshot (optionally with the example config): stdout.
fn scan_output(example: &str, format: &str, with_config: bool) -> Vec<u8> {
    let snapshot = format!("examples/{example}.json");
    let mut args = vec!["scan", "--snapshot", &snapshot, "-f", format];
    if with_config {
        args.extend(["--config", "examples/m365guard.toml"]);
    }
    m365guard(&args).stdout
}

/// `history DIR`'s CSV rows without the file column (which names differ by kind), and stdout.
fn history_rows(dir: &Path) -> (Vec<String>, String) {
    let out = tempfile::tempdir().unwrap();
    let run = m365guard(&[
        "history",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(out.path().join("m365guard-history.csv")).unwrap();
    let rows = csv
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(1);
            cells.join(",")
        })
        .collect();
    let stdout = String::from_utf8_lossy(&run.stdout);
    // "3 runs, N findings fixed, M open: wrote …"
    let summary = stdout
        .split(": wrote")
        .next()
        .unwrap_or_default()
        .to_owned();
    (rows, summary)
}

/// Issue 14: a folder mixing the three kinds — a SARIF log (with waived findings, so
/// suppressions), a snapshot and a JSON report — and a SARIF log of another tool (skipped)
/// gives the same rows, fixed and open counts as the same runs all given as snapshot and
/// JSON reports: fingerprints from partialFingerprints, severities and phases alike. A
/// SARIF log of an incomplete scan (not-evaluated rules) counts them as the JSON report does.
#[test]
fn history_reads_sarif_logs_next_to_snapshots_and_json_reports() {
    let mixed = tempfile::tempdir().unwrap();
    let reference = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sarif = scan_output("contoso-compromised", "sarif", true);
    let sarif_json: serde_json::Value = serde_json::from_slice(&sarif).unwrap();
    assert!(
        sarif_json["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.get("suppressions").is_some()),
        "the config waives findings, so the log has suppressions"
    );
    std::fs::write(mixed.path().join("z-first.sarif"), &sarif).unwrap();
    std::fs::write(
        reference.path().join("z-first.json"),
        scan_output("contoso-compromised", "json", true),
    )
    .unwrap();
    for dir in [&mixed, &reference] {
        std::fs::copy(
            repo.join("examples/contoso-partial.json"),
            dir.path().join("a-second.json"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("m-third-report.json"),
            scan_output("contoso-clean", "json", false),
        )
        .unwrap();
    }
    std::fs::write(
        mixed.path().join("other-tool.sarif"),
        r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "OtherScanner"}}, "results": []}]}"#,
    )
    .unwrap();
    let (mixed_rows, mixed_summary) = history_rows(mixed.path());
    let (reference_rows, reference_summary) = history_rows(reference.path());
    assert_eq!(mixed_rows.len(), 3, "{mixed_rows:?}");
    assert_eq!(mixed_rows, reference_rows);
    assert_eq!(mixed_summary, reference_summary);
    assert!(!mixed_rows[0].contains(",0,0,0,0,0,"), "{mixed_rows:?}");

    // An incomplete scan's SARIF log: its not-evaluated rules are applicable, not passed.
    let sarif_only = tempfile::tempdir().unwrap();
    let json_only = tempfile::tempdir().unwrap();
    std::fs::write(
        sarif_only.path().join("partial.sarif"),
        scan_output("contoso-partial", "sarif", false),
    )
    .unwrap();
    std::fs::write(
        json_only.path().join("partial.json"),
        scan_output("contoso-partial", "json", false),
    )
    .unwrap();
    assert_eq!(
        history_rows(sarif_only.path()),
        history_rows(json_only.path())
    );

    let run = m365guard(&[
        "history",
        mixed.path().to_str().unwrap(),
        "--out",
        mixed.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("skipped other-tool.sarif: a SARIF log of OtherScanner, not of m365guard"),
        "{stderr}"
    );
}
