//! `m365guard permissions`: the one permission table, printed. README's "Permissions"
//! section is this command's markdown output; the test fails with the difference and the
//! command that updates it (`M365GUARD_UPDATE_README=1 cargo test --test tests permissions::`).

fn permissions(args: &[&str]) -> String {
    let output = crate::harness::command()
        .arg("permissions")
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn readme_permissions_section_is_the_generated_table() {
    crate::harness::assert_readme_section(
        "permissions",
        &permissions(&["--fix", "--format", "markdown"]),
        "m365guard permissions --fix --format markdown",
    );
}

#[test]
fn json_lists_every_source_and_with_fix_every_action() {
    let plain: serde_json::Value =
        serde_json::from_str(&permissions(&["--format", "json"])).unwrap();
    assert_eq!(plain["schema_version"], 1);
    assert!(plain.get("fix_actions").is_none(), "{plain}");
    let sources: Vec<&str> = plain["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["source"].as_str())
        .collect();
    let table: Vec<&str> = m365guard::snapshot::source::SOURCES
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(sources, table);
    let sign_in = &plain["sources"][2];
    assert_eq!(sign_in["source"], "sign_in_activity");
    assert_eq!(sign_in["licence"], "Entra ID P1");
    assert_eq!(
        sign_in["graph_permissions"][0]["least_privileged"],
        "User.Read.All"
    );
    assert_eq!(
        sign_in["graph_permissions"][1]["least_privileged"],
        "AuditLog.Read.All"
    );
    let mailboxes = plain["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "mailboxes")
        .unwrap();
    assert_eq!(mailboxes["exchange_permission"], "Exchange.ManageAsApp");
    assert_eq!(mailboxes["entra_role"], "Global Reader");

    let fix: serde_json::Value =
        serde_json::from_str(&permissions(&["--fix", "--format", "json"])).unwrap();
    let actions = fix["fix_actions"].as_array().unwrap();
    assert_eq!(
        actions.len(),
        m365guard::fix::actions::ActionKind::ALL.len()
    );
    let reset = actions
        .iter()
        .find(|a| a["action"] == "reset_password")
        .unwrap();
    assert_eq!(
        reset["graph_permissions"][0]["least_privileged"],
        "User-PasswordProfile.ReadWrite.All"
    );
    assert_eq!(
        reset["target_role"]["role"],
        "Privileged Authentication Administrator"
    );
    let forward = actions
        .iter()
        .find(|a| a["action"] == "clear_mailbox_forwarding")
        .unwrap();
    assert_eq!(forward["entra_roles"][0], "Exchange Administrator");
}

#[test]
fn the_table_names_every_source_and_the_ci_examples_point_at_the_readme_section() {
    let text = permissions(&[]);
    for source in &m365guard::snapshot::source::SOURCES {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(source.id.as_str())),
            "{}: {text}",
            source.id
        );
    }
    assert!(!text.contains("FIX ACTION"), "{text}");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains("\n## Permissions\n"),
        "README has no Permissions section"
    );
    for entry in std::fs::read_dir(root.join("examples/ci")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("README.md#permissions"),
            "{} does not link README's Permissions section",
            path.display()
        );
    }
}
