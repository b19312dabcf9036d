//! Every source of the one source table (`m365guard::snapshot::source::SOURCES`), walked end
//! to end against the tenant emulator: collected over real HTTP → in the snapshot with as
//! many items as it reported → ids unique (a duplicate is refused) → each object located on
//! its own line → diffed → probed by doctor. A source that is defined but half-wired fails here.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use m365guard::snapshot::io;
use m365guard::snapshot::locate::for_each_resource;
use m365guard::snapshot::model::{SourceId, SourceState};
use m365guard::snapshot::source::{arrays, ResourceKind, SOURCES};
use m365guard_emulator::Emulator;

use crate::harness::{self, root, run, start};

/// The binary against the emulator, in `dir`.
fn m365guard(emu: &Emulator, dir: &Path, args: &[&str]) -> harness::Out {
    let out = run(harness::m365guard_against(emu, dir).args(args));
    let secret = emu.client_secret().unwrap_or_default();
    harness::assert_no_leaks([out.stdout.as_str(), out.stderr.as_str()], &[&secret]);
    out
}

#[test]
fn every_source_is_collected_stored_unique_located_and_probed() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let out = m365guard(&emu, dir.path(), &["collect", "-o", "snapshot.json"]);
    assert_eq!(out.code, 0, "collect failed:\n{}", out.stderr);
    let path = dir.path().join("snapshot.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let snapshot = io::parse(&path, &text).unwrap();

    // Collected, and everything it reported is in the snapshot.
    for source in &SOURCES {
        let status = snapshot
            .sources
            .get(&source.id)
            .unwrap_or_else(|| panic!("{}: no status after collection", source.id));
        assert_eq!(status.status, SourceState::Ok, "{}: {status:?}", source.id);
        if !source.resources.is_empty() {
            let held: usize = source.resources.iter().map(|a| a.len(&snapshot)).sum();
            assert_eq!(status.items, held as u64, "{}: items vs arrays", source.id);
        }
        for array in source.resources {
            assert!(
                !array.is_empty(&snapshot),
                "{}: the emulator's contoso scenario must fill `{}` so this walk covers it",
                source.id,
                array.path()
            );
        }
    }

    // Located: every object of every array on its own line of the written file.
    let mut found: HashSet<(String, String)> = HashSet::new();
    let mut lines: HashSet<usize> = HashSet::new();
    for_each_resource(&text, |path, id, line| {
        if !id.is_empty() {
            found.insert((path.to_owned(), id.to_owned()));
            assert!(lines.insert(line), "two resources on line {line}");
        }
    });
    for array in arrays() {
        for id in array.ids(&snapshot) {
            assert!(
                found.contains(&(array.path().to_owned(), id.to_owned())),
                "`{}` {id} is not located in the written snapshot",
                array.path()
            );
        }
    }

    // Unique: a duplicated object is refused, naming its array.
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for array in arrays() {
        let mut copy = value.clone();
        let pointer = format!("/{}", array.path().replace('.', "/"));
        let items = copy.pointer_mut(&pointer).unwrap().as_array_mut().unwrap();
        let first = items[0].clone();
        items.push(first);
        let err = io::parse(Path::new("dup.json"), &copy.to_string()).unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{}`", array.path())),
            "duplicate in {} not refused by name: {err}",
            array.path()
        );
    }

    // Diffed: with every array emptied, `diff` reports each collected object as removed.
    let mut emptied = snapshot.clone();
    let mut scratch = snapshot.clone();
    for array in arrays() {
        array.move_into(&mut emptied, &mut scratch);
    }
    let changes = m365guard::drift::resources(&snapshot, &emptied).changes;
    for array in arrays() {
        let removed = changes
            .iter()
            .filter(|c| {
                c.kind == m365guard::drift::Subject::Resource(array.kind())
                    && c.change == m365guard::drift::ChangeKind::Removed
            })
            .count();
        assert_eq!(removed, array.len(&snapshot), "diff of `{}`", array.path());
    }

    // Probed: doctor has a row for every source, and each is ok against the emulator.
    let out = m365guard(&emu, dir.path(), &["doctor"]);
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "doctor:\n{stdout}");
    for source in &SOURCES {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(source.id.as_str()))
            .unwrap_or_else(|| panic!("doctor has no row for {}:\n{stdout}", source.id));
        assert_eq!(
            row.split_whitespace().nth(1),
            Some("OK"),
            "doctor row for {}: {row}",
            source.id
        );
    }
}

/// The Rego fixture every rule test starts from names every source, so a rule test of a
/// new source does not silently run with the source missing.
#[test]
fn rego_base_fixture_lists_every_source() {
    let text = std::fs::read_to_string(root().join("policies/lib/fixtures.rego")).unwrap();
    let start = text.find("\"sources\": {").expect("sources block");
    let block = &text[start..start + text[start..].find('}').unwrap()];
    let named: BTreeSet<&str> = SourceId::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| block.contains(&format!("\"{s}\": _ok")))
        .collect();
    let all: BTreeSet<&str> = SourceId::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        named, all,
        "policies/lib/fixtures.rego `sources` is missing some"
    );
}

/// Every example snapshot has a status for every source.
#[test]
fn examples_have_a_status_for_every_source() {
    for name in [
        "contoso-clean.json",
        "contoso-compromised.json",
        "contoso-partial.json",
    ] {
        let path = root().join("examples").join(name);
        let snapshot = io::load(&path).unwrap().snapshot;
        for source in SourceId::ALL {
            assert!(
                snapshot.sources.contains_key(&source),
                "{name} has no status for {source}"
            );
        }
    }
}

/// A custom rule that names an unknown `resource_type` is a policy error (exit 2) naming
/// the rule, not findings without a line, a fix or a diff key.
#[test]
fn unknown_resource_type_is_a_policy_error_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("custom/typo_rule");
    std::fs::create_dir_all(&rule).unwrap();
    std::fs::write(
        rule.join("rule.toml"),
        r#"id = "typo_rule"
title = "A rule with a typo in resource_type"
severity = "low"
area = "identity"
roadmap_phase = "beyond"
sources = ["users"]
description = "Flags every user."
rationale = "Test."
remediation = "None."
references = ["https://example.com/"]
"#,
    )
    .unwrap();
    std::fs::write(
        rule.join("rule.rego"),
        r#"package m365guard.rules.typo_rule

import rego.v1

deny contains finding if {
	some user in input.users
	finding := {"resource_type": "usr", "resource_id": user.id, "message": "x"}
}
"#,
    )
    .unwrap();
    let out = harness::m365guard(dir.path())
        .arg("scan")
        .arg("--snapshot")
        .arg(root().join("examples/contoso-compromised.json"))
        .arg("--policies")
        .arg(dir.path().join("custom"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("typo_rule"), "{stderr}");
    assert!(stderr.contains("unknown resource_type \"usr\""), "{stderr}");
    assert!(ResourceKind::parse("usr").is_none());
}
