//! Export formats: CSV (one row per finding, RFC 4180, formula cells defused) and OCSF
//! "Compliance Finding" events (class 2003) with every attribute the OCSF schema requires.

use std::collections::BTreeSet;

use m365guard::findings::{RuleStatus, ScanResult};
use m365guard::report::{Format, RenderOptions};
use serde_json::Value;

use crate::report_fixture::{complete_scan_result, scan_result};

fn render(format: Format, result: &ScanResult) -> String {
    let bytes = format
        .reporter()
        .render(result, &RenderOptions::default())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

/// A small RFC 4180 reader: enough to prove the writer's quoting round-trips.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "CSV ends with CRLF");
    rows
}

#[test]
fn csv_has_one_row_per_finding_and_round_trips() {
    let result = scan_result();
    let rows = parse_csv(&render(Format::Csv, &result));
    assert_eq!(rows[0], m365guard::report::csv::HEADER);
    let totals = result.totals();
    assert_eq!(rows.len() - 1, totals.findings + totals.waived);
    for row in &rows {
        assert_eq!(row.len(), rows[0].len(), "{row:?}");
    }
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    // Every message survives quoting (the fixture has `|`, `<>` and a line break).
    let messages: BTreeSet<&str> = rows[1..]
        .iter()
        .map(|r| r[col("message")].as_str())
        .collect();
    for finding in result.outcomes.iter().flat_map(|o| &o.findings) {
        assert!(
            messages.contains(finding.message.as_str()),
            "{}",
            finding.message
        );
    }
    let waived = rows[1..]
        .iter()
        .find(|r| r[col("status")] == "waived")
        .expect("the waived finding");
    assert_eq!(waived[col("waiver_ticket")], "SEC-1042");
    let forwarding = rows[1..]
        .iter()
        .find(|r| r[col("rule_id")] == "mailbox_forwarding_external")
        .unwrap();
    assert!(forwarding[col("controls")].contains("ScubaGear MS.EXO.1.1v1 (partial)"));
}

/// A tenant-controlled name that a spreadsheet would evaluate stays text.
#[test]
fn csv_defuses_formula_cells() {
    let mut result = complete_scan_result();
    let finding = result
        .outcomes
        .iter_mut()
        .flat_map(|o| o.findings.iter_mut())
        .next()
        .unwrap();
    finding.resource.name = "=HYPERLINK(\"https://evil.example\",\"click\")".to_string();
    finding.message = "+cmd|' /C calc'!A0".to_string();
    let text = render(Format::Csv, &result);
    let rows = parse_csv(&text);
    for row in &rows[1..] {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "formula cell {cell:?} in {text}"
            );
        }
    }
    assert!(text.contains("'=HYPERLINK"));
}

fn require<'a>(event: &'a Value, path: &str) -> &'a Value {
    let mut at = event;
    for key in path.split('.') {
        at = at
            .get(key)
            .unwrap_or_else(|| panic!("{path} missing in {event}"));
    }
    assert!(!at.is_null(), "{path} is null in {event}");
    at
}

/// Every event carries what OCSF 1.3.0 requires of a Compliance Finding (base event,
/// finding, compliance_finding; objects metadata, product, finding_info, compliance),
/// with the enumerated values it defines.
#[test]
fn ocsf_events_have_every_required_attribute() {
    let result = scan_result();
    let events: Vec<Value> = serde_json::from_str(&render(Format::Ocsf, &result)).unwrap();
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!(require(e, "class_uid"), 2003);
        assert_eq!(require(e, "category_uid"), 2);
        let activity = require(e, "activity_id").as_u64().unwrap();
        assert!([1, 2, 3].contains(&activity));
        assert_eq!(
            require(e, "type_uid").as_u64().unwrap(),
            2003 * 100 + activity
        );
        let severity = require(e, "severity_id").as_u64().unwrap();
        assert!((1..=5).contains(&severity), "{e}");
        assert!(
            require(e, "time").as_i64().unwrap() > 1_600_000_000_000,
            "ms"
        );
        assert_eq!(require(e, "metadata.version"), "1.3.0");
        assert_eq!(require(e, "metadata.product.vendor_name"), "m365guard");
        assert!(require(e, "metadata.product.name").is_string());
        assert!(!require(e, "finding_info.uid").as_str().unwrap().is_empty());
        assert!(!require(e, "finding_info.title")
            .as_str()
            .unwrap()
            .is_empty());
        let standards = require(e, "compliance.standards").as_array().unwrap();
        assert!(!standards.is_empty());
        let status = require(e, "compliance.status_id").as_u64().unwrap();
        assert!([1, 2, 3].contains(&status));
        assert!(require(e, "cloud.provider").is_string());
        assert!(require(e, "resources")
            .as_array()
            .is_some_and(|r| r.len() == 1));
    }

    // One Fail per finding (the waived one Suppressed), a Pass per passed rule without
    // findings, a Warning per not-evaluated rule; not-applicable rules are left out.
    let by_status = |id: u64| {
        events
            .iter()
            .filter(|e| e["compliance"]["status_id"] == id)
            .count()
    };
    let totals = result.totals();
    assert_eq!(by_status(3), totals.findings + totals.waived);
    assert_eq!(by_status(2), totals.not_evaluated);
    let passed_clean = result
        .outcomes
        .iter()
        .filter(|o| o.status == RuleStatus::Passed && o.findings.is_empty())
        .count();
    assert_eq!(by_status(1), passed_clean);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["status"] == "Suppressed")
            .count(),
        totals.waived
    );
    let forwarding = events
        .iter()
        .find(|e| e["metadata"]["event_code"] == "mailbox_forwarding_external")
        .unwrap();
    let standards = forwarding["compliance"]["standards"].as_array().unwrap();
    assert!(standards.contains(&Value::from("ScubaGear")));
    assert_eq!(forwarding["compliance"]["control"], "MS.EXO.1.1v1");
}

/// Both exports through the binary, next to the other formats.
#[test]
fn scan_writes_csv_and_ocsf() {
    let dir = tempfile::tempdir().unwrap();
    let output = crate::harness::command()
        .args([
            "scan",
            "--snapshot",
            "examples/contoso-compromised.json",
            "-f",
            "csv",
            "-f",
            "ocsf",
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let csv = std::fs::read_to_string(dir.path().join("m365guard.csv")).unwrap();
    let ocsf: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("m365guard.ocsf.json")).unwrap(),
    )
    .unwrap();
    let rows = parse_csv(&csv);
    let fails = ocsf
        .iter()
        .filter(|e| e["compliance"]["status"] == "Fail")
        .count();
    assert_eq!(rows.len() - 1, fails, "the same findings in both");
}
