//! The built-in rule pack: its Rego tests pass, its ids are the expected unique set, and
//! every rule carries complete metadata. Runs inside `cargo test`.

use m365guard::policy::pack::{self, Builtin};
use m365guard::policy::testing::{self, TestStatus};

#[test]
fn builtin_rego_tests_pass() {
    let pack = pack::load(&[], Builtin::All).unwrap();
    let report = testing::run(&pack).unwrap();
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter(|c| c.status != TestStatus::Passed)
        .map(|c| format!("{}::{} {:?}", c.rule_id, c.name, c.status))
        .collect();
    assert!(
        failures.is_empty(),
        "failing Rego tests:\n{}",
        failures.join("\n")
    );
    // Every rule has a compliant and a violation case at least.
    for rule in &pack.rules {
        let names: Vec<&str> = report
            .cases
            .iter()
            .filter(|c| c.rule_id == rule.meta.id)
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with("_compliant")),
            "{}: no *_compliant test",
            rule.meta.id
        );
        assert!(
            names.iter().any(|n| n.ends_with("_violation")),
            "{}: no *_violation test",
            rule.meta.id
        );
    }
    println!("{} passed, {} failed", report.passed(), report.failed());
}

#[test]
fn builtin_rule_ids_are_stable_and_unique() {
    let pack = pack::load(&[], Builtin::All).unwrap();
    let ids = pack.rule_ids();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique);
    insta::assert_snapshot!(ids.join("\n"));
}

#[test]
fn builtin_rules_live_in_their_area_folder_with_complete_docs() {
    let pack = pack::load(&[], Builtin::All).unwrap();
    assert!(pack.rules.len() >= 14, "expected the full v1 pack");
    for rule in &pack.rules {
        let m = &rule.meta;
        let area_folder = rule
            .dir
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        assert_eq!(area_folder, Some(m.area.as_str()), "{}: folder area", m.id);
        assert!(!m.sources.is_empty(), "{}: sources", m.id);
        assert!(!m.references.is_empty(), "{}: references", m.id);
        for (what, text) in [
            ("description", &m.description),
            ("rationale", &m.rationale),
            ("remediation", &m.remediation),
        ] {
            assert!(text.trim().len() > 20, "{}: {what} too short", m.id);
        }
        assert!(rule.test.is_some(), "{}: rule_test.rego", m.id);
    }
}

/// README's rule table is `m365guard rules list --format markdown`, and every built-in rule
/// says what it cannot see (a reviewer must know where a pass stops meaning anything).
#[test]
fn readme_rule_table_is_generated_and_every_rule_states_its_limits() {
    let pack = pack::load(&[], Builtin::All).unwrap();
    for rule in &pack.rules {
        let limits = rule.meta.limits.as_deref().unwrap_or("");
        assert!(
            limits.trim().len() > 20,
            "{}: rule.toml needs `limits` (what the rule cannot see)",
            rule.meta.id
        );
    }
    let output = crate::harness::command()
        .args(["rules", "list", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8(output.stdout).unwrap();
    assert_eq!(table.lines().count(), pack.rules.len() + 2, "{table}");
    crate::harness::assert_readme_section(
        "rules",
        &table,
        "m365guard rules list --format markdown",
    );
}
