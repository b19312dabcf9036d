//! Our SARIF must validate against the SARIF 2.1.0 JSON schema, offline.
//!
//! Two vendored copies under `tests/data/`:
//! - `sarif-schema-2.1.0.json`: the OASIS standard schema (draft-07, `$id` in the
//!   oasis-tcs/sarif-spec repository), taken byte for byte from the `serde-sarif` 0.8.0
//!   crate on crates.io (`src/schema.json`), the same crate whose types we serialise.
//! - `sarif-schema-2.1.0-multitool.json`: Microsoft's revision (draft 2020-12, extra
//!   artifact roles, `format: uuid`) that the SARIF Multitool validator embeds, taken from
//!   the npm package `@microsoft/sarif-multitool-linux` 5.7.0 (`sarif-2.1.0.json`).
//!
//! Formats (`uri`, `date-time`, …) are asserted, not just annotated, for both drafts.
//! `.ci/validate-reports.sh` additionally runs the Multitool itself on a real scan.

use crate::report_fixture;

use m365guard::findings::ScanResult;
use m365guard::report::{Format, RenderOptions};
use serde_json::Value;

const OASIS_SCHEMA: &str = include_str!("data/sarif-schema-2.1.0.json");
const MULTITOOL_SCHEMA: &str = include_str!("data/sarif-schema-2.1.0-multitool.json");

fn validators() -> Vec<(&'static str, jsonschema::Validator)> {
    let oasis: Value = serde_json::from_str(OASIS_SCHEMA).unwrap();
    assert_eq!(oasis["$schema"], "http://json-schema.org/draft-07/schema#");
    let multitool: Value = serde_json::from_str(MULTITOOL_SCHEMA).unwrap();
    assert_eq!(
        multitool["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
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

fn sarif(result: &ScanResult) -> Value {
    let bytes = Format::Sarif
        .reporter()
        .render(result, &RenderOptions::default())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

#[test]
fn fixture_sarif_is_valid_against_both_schemas() {
    let mut odd_path = report_fixture::scan_result();
    odd_path.info.snapshot_path = r"C:\scans\contoso tenant.json".to_string();
    let mut incomplete = report_fixture::complete_scan_result();
    incomplete.mark_incomplete("no rule was evaluated".to_string());
    for result in [
        report_fixture::scan_result(),
        report_fixture::complete_scan_result(),
        odd_path,
        incomplete,
    ] {
        let doc = sarif(&result);
        for (name, validator) in validators() {
            let errs = errors(&validator, &doc);
            assert!(errs.is_empty(), "{name}: {errs:#?}");
        }
    }
}

#[test]
fn schemas_reject_what_code_scanning_would_reject() {
    // Guards the guard: a validator that accepted everything would pass the test above.
    let good = sarif(&report_fixture::scan_result());
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 4] = [
        ("severity as level", |d| {
            d["runs"][0]["results"][0]["level"] = "critical".into()
        }),
        ("line 0", |d| {
            d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
                0.into()
        }),
        ("result without message", |d| {
            d["runs"][0]["results"][0]
                .as_object_mut()
                .unwrap()
                .remove("message");
        }),
        ("unknown property", |d| d["runs"][0]["tenant"] = "x".into()),
    ];
    for (name, validator) in validators() {
        assert!(errors(&validator, &good).is_empty());
        for (what, mutate) in &mutations {
            let mut bad = good.clone();
            mutate(&mut bad);
            assert!(
                !errors(&validator, &bad).is_empty(),
                "{name} accepted a SARIF log with {what}"
            );
        }
    }
}
