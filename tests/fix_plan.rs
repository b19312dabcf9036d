//! `fix plan` offline, from the bundled example snapshot: which actions, in which order,
//! with which dependencies, what is deliberately left alone, and that the plan document
//! validates against `m365guard schema plan`. (Applying plans runs against the emulator
//! in tests/fix.rs.)

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn m365guard(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = crate::harness::command()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Plan from the compromised example with the example config; returns the plan JSON.
fn plan(extra: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = root().join("examples/contoso-compromised.json");
    let config = root().join("examples/m365guard.toml");
    let mut args = vec![
        "fix",
        "plan",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "-o",
        "plan.json",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = m365guard(dir.path(), &args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let path = dir.path().join("plan.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(path).unwrap();
    (serde_json::from_str(&text).unwrap(), stdout)
}

fn actions(plan: &Value) -> Vec<(String, String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["kind"].as_str().unwrap().to_owned(),
                a["target"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn plans_every_automatic_fix_in_playbook_order() {
    let (plan, stdout) = plan(&[]);
    let acts = actions(&plan);
    let kinds: Vec<&str> = acts.iter().map(|(_, k, _)| k.as_str()).collect();
    // Playbook order: sessions, password, MFA, forwarding, rules, sender.
    let order = [
        "revoke_sessions",
        "reset_password",
        "enforce_mfa",
        "clear_mailbox_forwarding",
        "disable_inbox_rule",
        // Lena in Organization Management (issue 11).
        "remove_role_group_member",
        // Lena's ApplicationImpersonation (the payroll connector's role is plan-only).
        "remove_management_role_assignment",
        // The illicit consent and the open user consent (issue 12).
        "revoke_consent_grant",
        "restrict_user_consent",
        // Issue 12: the attacker's methods, before anything is restored.
        "delete_auth_method",
        "unblock_sender",
        // Tenant settings last: the EU office policy left at Automatic (the Default
        // policy's On is waived by the example config).
        "disable_outbound_auto_forwarding",
        // Mail flow back doors (issue 11); connectors only with `--allow connector`.
        "disable_transport_rule",
        // Delegations on Dana's and info@'s mailboxes (Sam's on procurement@ is allowed
        // by the example config's allowed_delegates).
        "remove_mailbox_permission",
        "remove_recipient_permission",
        "remove_send_on_behalf",
        // Default Reviewer on Dana's Inbox and Hannah's Kalender (issue 11).
        "reset_folder_permission",
        // Lena's IMAP + SMTP AUTH; her mailbox audit bypass.
        "disable_mail_protocols",
        "enable_audit_logging",
    ];
    let mut last = 0;
    for kind in &kinds {
        let pos = order.iter().position(|o| o == kind).unwrap();
        assert!(pos >= last, "{kinds:?}");
        last = pos;
    }
    let lena = "lena.fischer@contoso.com";
    let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count("revoke_sessions"), 1);
    assert_eq!(count("reset_password"), 1);
    assert_eq!(
        count("clear_mailbox_forwarding"),
        2,
        "lena and info@ (to the AP Archive mail contact); procurement forwards to a partner allowed in the config"
    );
    assert_eq!(count("disable_inbox_rule"), 3);
    assert_eq!(count("disable_outbound_auto_forwarding"), 1);
    assert_eq!(count("unblock_sender"), 1);
    assert_eq!(count("disable_mail_protocols"), 1);
    assert_eq!(count("enable_audit_logging"), 1);
    assert_eq!(count("disable_transport_rule"), 3);
    for kind in [
        "remove_mailbox_permission",
        "remove_recipient_permission",
        "remove_send_on_behalf",
    ] {
        assert_eq!(count(kind), 1, "{kind}");
    }
    assert_eq!(count("reset_folder_permission"), 2);
    assert_eq!(count("remove_management_role_assignment"), 1);
    assert_eq!(count("revoke_consent_grant"), 1);
    assert_eq!(count("restrict_user_consent"), 1);
    // Plan-only without --allow app-changes.
    assert_eq!(count("remove_credential"), 0);
    // Lena's attacker Authenticator and his number on Tom; his number on Lena is her last
    // MFA method then (guard, not planned).
    assert_eq!(count("delete_auth_method"), 2);
    // One enforce_mfa per user, however many MFA rules flagged them (lena: three).
    let lena_mfa: Vec<_> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "enforce_mfa" && a["target"]["name"] == lena)
        .collect();
    assert_eq!(lena_mfa.len(), 1);
    let fixed: Vec<&str> = lena_mfa[0]["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    for rule in ["admin_without_mfa", "mfa_not_enforced", "user_without_mfa"] {
        assert!(fixed.contains(&rule), "{fixed:?}");
    }
    // The sender block is lifted only after the account is secured.
    let unblock = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "unblock_sender")
        .unwrap();
    let deps: Vec<&str> = unblock["depends_on"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let id_of = |kind: &str| {
        acts.iter()
            .find(|(_, k, t)| k == kind && t == lena)
            .map(|(id, _, _)| id.as_str())
            .unwrap()
    };
    assert_eq!(
        deps,
        vec![id_of("revoke_sessions"), id_of("reset_password")]
    );
    // The precondition is the state the plan saw.
    let forwarding = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "clear_mailbox_forwarding" && a["target"]["name"] == lena)
        .unwrap();
    assert_eq!(
        forwarding["precondition"]["forwarding_smtp_address"],
        "lena.backup@gmail.com"
    );
    assert!(forwarding["rollback"]
        .as_str()
        .unwrap()
        .contains("lena.backup@gmail.com"));
    // Bound to the tenant and the snapshot, and it expires.
    assert_eq!(plan["tenant_id"], "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e");
    assert!(plan["snapshot_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(plan["expires_at"].as_str().unwrap() > plan["created_at"].as_str().unwrap());
    // Never a password in a plan: the reset says it is generated at apply time.
    let reset = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "reset_password")
        .unwrap();
    assert!(reset["write"]
        .as_str()
        .unwrap()
        .contains("generated at apply time"));
    assert!(stdout.contains("m365guard fix apply plan.json"), "{stdout}");
}

#[test]
fn break_glass_waivers_and_manual_rules_are_listed_not_planned() {
    let (plan, stdout) = plan(&[]);
    for (_, _, target) in actions(&plan) {
        assert!(!target.contains("breakglass01"), "{target}");
    }
    let not_planned = plan["not_planned"].as_array().unwrap();
    let reason_for = |needle: &str| {
        not_planned
            .iter()
            .filter(|n| {
                n["resource_name"].as_str().unwrap().contains(needle) || n["rule_id"] == needle
            })
            .map(|n| n["reason"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(reason_for("breakglass01")
        .iter()
        .any(|r| r.contains("break-glass")));
    assert!(reason_for("outbound_auto_forwarding_allowed")
        .iter()
        .any(|r| r.contains("waived") && r.contains("2027-01-31")));
    assert!(reason_for("legacy_auth_not_blocked")
        .iter()
        .any(|r| r.contains("no automatic fix")));
    assert!(stdout.contains("Not planned"), "{stdout}");
}

#[test]
fn filters_and_alternatives() {
    let (only_lena, _) = plan(&["--user", "lena.fischer@contoso.com"]);
    for a in only_lena["actions"].as_array().unwrap() {
        assert_eq!(
            a["target"]["user_principal_name"], "lena.fischer@contoso.com",
            "{a}"
        );
    }
    let (critical, _) = plan(&["--severity", "critical"]);
    let fixes: Vec<String> = critical["actions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["fixes"].as_array().unwrap().clone())
        .map(|f| f["rule_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!fixes.is_empty());
    for rule in &fixes {
        assert!(
            [
                "admin_without_mfa",
                "auth_method_suspicious",
                "restricted_sender",
                "risky_user_high",
                "exchange_role_group_unexpected"
            ]
            .contains(&rule.as_str()),
            "{rule} is not critical"
        );
    }
    let (short, _) = plan(&["--valid-for", "2"]);
    let created =
        chrono::DateTime::parse_from_rfc3339(short["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(short["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_hours(), 2);
    let (deleting, _) = plan(&["--rule", "inbox_rule_hides_mail", "--delete-rules"]);
    let kinds: Vec<_> = actions(&deleting).into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds, vec!["delete_inbox_rule", "delete_inbox_rule"]);

    let (ca, _) = plan(&[
        "--rule",
        "mfa_not_enforced",
        "--mfa-via",
        "conditional-access",
    ]);
    let acts = ca["actions"].as_array().unwrap();
    assert_eq!(acts.len(), 1, "{acts:?}");
    assert_eq!(acts[0]["target"]["kind"], "tenant");
    assert!(acts[0]["write"]
        .as_str()
        .unwrap()
        .contains("enabledForReportingButNotEnforced"));
    // The break-glass account is excluded from the new policy.
    assert_eq!(
        acts[0]["target"]["exclude_user_ids"],
        serde_json::json!(["0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"])
    );
}

#[test]
fn plan_validates_against_its_published_schema() {
    let (plan, _) = plan(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (code, schema, _) = m365guard(dir.path(), &["schema", "plan"]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // And the schema really constrains: a misspelt action kind fails it.
    let mut bad = plan.clone();
    bad["actions"][0]["kind"] = "format_disk".into();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn unknown_rule_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = root().join("examples/contoso-compromised.json");
    let (code, _, stderr) = m365guard(
        dir.path(),
        &[
            "fix",
            "plan",
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--rule",
            "no_such_rule",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no_such_rule"), "{stderr}");
    assert!(!dir.path().join("plan.json").exists());
}
