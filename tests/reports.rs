//! Reporters: a snapshot of every format rendered from one realistic scan result, plus
//! behavioural checks that hold whatever the exact layout (counts, escaping, ordering,
//! suppressions, the JUnit document parsing back).

use crate::report_fixture;

use m365guard::findings::{RuleStatus, ScanResult, Severity};
use m365guard::report::{Format, RenderOptions};
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use report_fixture::{complete_scan_result, finding, scan_result, TENANT_ID};
use serde_json::Value;

fn render_with(format: Format, result: &ScanResult, color: bool) -> String {
    let bytes = format
        .reporter()
        .render(result, &RenderOptions { color, width: None })
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

fn render(format: Format, result: &ScanResult) -> String {
    render_with(format, result, false)
}

const TOTALS_LINE: &str =
    "5 rules: 2 passed, 1 failed, 1 not evaluated, 1 not applicable; 2 findings (1 waived)";

// ---------------------------------------------------------------- snapshots

#[test]
fn snapshot_table() {
    insta::assert_snapshot!("table", render(Format::Table, &scan_result()));
}

#[test]
fn snapshot_json() {
    insta::assert_snapshot!("json", render(Format::Json, &scan_result()));
}

#[test]
fn snapshot_sarif() {
    insta::assert_snapshot!("sarif", render(Format::Sarif, &scan_result()));
}

#[test]
fn snapshot_junit() {
    insta::assert_snapshot!("junit", render(Format::Junit, &scan_result()));
}

#[test]
fn snapshot_markdown() {
    insta::assert_snapshot!("markdown", render(Format::Markdown, &scan_result()));
}

#[test]
fn snapshot_html() {
    insta::assert_snapshot!("html", render(Format::Html, &scan_result()));
}

#[test]
fn snapshot_csv() {
    insta::assert_snapshot!("csv", render(Format::Csv, &scan_result()));
}

#[test]
fn snapshot_ocsf() {
    insta::assert_snapshot!("ocsf", render(Format::Ocsf, &scan_result()));
}

#[test]
fn every_format_is_deterministic() {
    for format in [
        Format::Table,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Markdown,
        Format::Html,
        Format::Csv,
        Format::Ocsf,
    ] {
        assert_eq!(
            render(format, &scan_result()),
            render(format, &scan_result()),
            "{format:?}"
        );
    }
}

// ---------------------------------------------------------------- table

#[test]
fn table_lists_failing_findings_by_severity_and_ends_with_totals() {
    let mut result = complete_scan_result();
    // A medium finding on a rule whose id sorts first must still come after the criticals.
    let rule = result.outcomes[0].rule.clone();
    result.outcomes[0].findings.push(finding(
        &rule,
        Severity::Medium,
        "user",
        "u-1",
        "aaron@contoso.com",
        "Administrator has no MFA method",
        Some(7),
    ));
    result.outcomes[0].status = RuleStatus::Failed;
    let text = render(Format::Table, &result);

    let alice = text.find("alice@contoso.com").unwrap();
    let bob = text.find("bob@contoso.com").unwrap();
    let aaron = text.find("aaron@contoso.com").unwrap();
    assert!(alice < bob && bob < aaron, "{text}");
    assert!(text.trim_end().ends_with(
        "4 rules: 1 passed, 2 failed, 0 not evaluated, 1 not applicable; 3 findings (1 waived)"
    ));
    assert!(!text.contains('\x1b'), "no colour unless asked");
}

#[test]
fn table_shows_every_rule_state_exemption_and_warning() {
    let text = render(Format::Table, &scan_result());
    assert!(text.contains("mfa_registration_all_users: source mfa_registration failed"));
    assert!(text.contains("risky_users_remediated: source risky_users is unavailable"));
    assert!(text.contains(
        "[waived] high inbox_rule_forwards_external finance@contoso.com: Auditor copy: \
         External auditor engagement until year end (expires 2025-12-31, ticket SEC-1042)"
    ));
    assert!(text.contains("breakglass01@contoso.onmicrosoft.com: Break-glass account"));
    assert!(text.contains("warning: exception for rule legacy_auth_blocked"));
    assert!(text.trim_end().ends_with(TOTALS_LINE), "{text}");
    // The waived finding is not a row of the failing-findings table.
    let table_end = text.find("Not evaluated").unwrap();
    assert!(!text[..table_end].contains("finance@contoso.com"));
}

#[test]
fn table_colour_keeps_columns_aligned() {
    let text = render_with(Format::Table, &scan_result(), true);
    assert!(text.contains("\x1b[1;31mcritical\x1b[0m"), "{text}");
    // Visible widths of all table lines must match once escapes are stripped.
    let strip = |s: &str| {
        let mut out = String::new();
        let mut in_escape = false;
        for c in s.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    let widths: Vec<usize> = text
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '├', '└']))
        .map(|l| strip(l).chars().count())
        .collect();
    assert!(widths.len() >= 5, "{text}");
    assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}\n{text}");
}

#[test]
fn table_escapes_terminal_control_characters() {
    let mut result = complete_scan_result();
    let failed = result
        .outcomes
        .iter_mut()
        .find(|o| o.status == RuleStatus::Failed)
        .unwrap();
    failed.findings[0].resource.name = "evil\x1b]0;pwned\x07@contoso.com".to_string();
    result.warnings.push("bell\x07 in a warning".to_string());
    for color in [false, true] {
        let text = render_with(Format::Table, &result, color);
        assert!(
            !text.contains('\x07') && !text.contains("\x1b]"),
            "{text:?}"
        );
        assert!(
            text.contains(r"evil\u{1b}]0;pwned\u{7}@contoso.com"),
            "{text}"
        );
        assert!(text.contains(r"bell\u{7} in a warning"), "{text}");
    }
}

#[test]
fn table_without_findings_says_so() {
    let mut result = complete_scan_result();
    for o in &mut result.outcomes {
        o.findings.clear();
        if o.status == RuleStatus::Failed {
            o.status = RuleStatus::Passed;
        }
    }
    let text = render(Format::Table, &result);
    assert!(text.contains("No findings."));
    assert!(text.contains("0 findings (0 waived)"));
}

// ---------------------------------------------------------------- json

#[test]
fn json_carries_exit_status_totals_and_rule_states() {
    let doc: Value = serde_json::from_str(&render(Format::Json, &scan_result())).unwrap();
    assert_eq!(doc["report_version"], 1);
    assert_eq!(doc["tool"]["version"], "0.1.0");
    assert_eq!(doc["tenant"]["id"], TENANT_ID);
    assert_eq!(doc["exit"]["code"], 3);
    assert_eq!(doc["exit"]["status"], "incomplete");
    assert_eq!(doc["totals"]["findings"], 2);
    assert_eq!(doc["totals"]["waived"], 1);
    assert_eq!(doc["scanned_at"], "2025-03-01T06:05:30Z");

    let rules = doc["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "admin_mfa_registered",
            "inbox_rule_forwards_external",
            "mailbox_forwarding_external",
            "mfa_registration_all_users",
            "risky_users_remediated"
        ]
    );
    let statuses: Vec<&str> = rules
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "passed",
            "passed",
            "failed",
            "not_evaluated",
            "not_applicable"
        ]
    );
    assert!(rules[3]["reason"].as_str().unwrap().contains("403"));
    assert!(rules[0].get("reason").is_none());
    assert_eq!(rules[2]["roadmap_phase"], "30d");
    assert_eq!(rules[4]["roadmap_phase"], "90d");
    assert_eq!(rules[2]["findings"].as_array().unwrap().len(), 2);
    assert_eq!(rules[2]["findings"][0]["line"], 42);
    assert_eq!(rules[1]["findings"][0]["waiver"]["ticket"], "SEC-1042");

    let complete: Value =
        serde_json::from_str(&render(Format::Json, &complete_scan_result())).unwrap();
    assert_eq!(complete["exit"]["code"], 1);
    assert_eq!(complete["exit"]["status"], "findings");
}

// ---------------------------------------------------------------- sarif

fn sarif(result: &ScanResult) -> Value {
    serde_json::from_str(&render(Format::Sarif, result)).unwrap()
}

#[test]
fn sarif_results_point_at_rules_snapshot_lines_and_tenant_objects() {
    let log = sarif(&scan_result());
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "m365guard");
    assert_eq!(
        run["automationDetails"]["id"],
        format!("m365guard/{TENANT_ID}/")
    );

    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        3,
        "every finding, waived or not, is a result"
    );
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        let physical = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            physical["artifactLocation"]["uri"],
            "examples/contoso-compromised.json"
        );
        assert_eq!(
            r["partialFingerprints"]["m365guard/v1"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }

    let by_name = |name: &str| {
        results
            .iter()
            .find(|r| r["locations"][0]["logicalLocations"][0]["name"] == name)
            .unwrap()
    };
    let alice = by_name("alice@contoso.com");
    assert_eq!(alice["level"], "error");
    assert_eq!(
        alice["locations"][0]["physicalLocation"]["region"]["startLine"],
        42
    );
    assert_eq!(alice["baselineState"], "new");
    assert_eq!(
        alice["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        format!("{TENANT_ID}/mailbox/0b8e5c1d-3f2a-4e6b-9c7d-1a2b3c4d5e6f")
    );
    assert!(alice.get("suppressions").is_none());

    let bob = by_name("bob@contoso.com");
    assert!(bob["locations"][0]["physicalLocation"]
        .get("region")
        .is_none());

    let waived = by_name("finance@contoso.com: Auditor copy");
    let suppression = &waived["suppressions"][0];
    assert_eq!(suppression["kind"], "external");
    assert_eq!(suppression["status"], "accepted");
    let justification = suppression["justification"].as_str().unwrap();
    assert!(justification.contains("External auditor engagement"));
    assert!(justification.contains("2025-12-31"));
    assert!(justification.contains("SEC-1042"));
}

#[test]
fn sarif_rule_descriptors_carry_severity_help_and_tags() {
    let log = sarif(&scan_result());
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let forwarding = rules
        .iter()
        .find(|r| r["id"] == "mailbox_forwarding_external")
        .unwrap();
    assert_eq!(forwarding["defaultConfiguration"]["level"], "error");
    assert_eq!(forwarding["properties"]["security-severity"], "9.5");
    let tags: Vec<&str> = forwarding["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // Framework ids (from the baselines' mappings) follow the rule's own tags.
    assert_eq!(
        tags,
        [
            "exchange",
            "roadmap-30d",
            "security",
            "bec",
            "ScubaGear MS.EXO.1.1v1",
            "CIS M365 6.2.1"
        ]
    );
    assert_eq!(
        forwarding["properties"]["m365guard/controls"][0]["coverage"],
        "partial"
    );
    assert!(forwarding["helpUri"]
        .as_str()
        .unwrap()
        .ends_with("external-email-forwarding"));
    // A rule with a fix action tells how to plan it; one without does not pretend to.
    for key in ["text", "markdown"] {
        assert!(forwarding["help"][key].as_str().unwrap().contains(
            "m365guard fix plan --snapshot <snapshot.json> --config m365guard.toml --rule mailbox_forwarding_external"
        ));
    }

    let medium = rules
        .iter()
        .find(|r| r["id"] == "mfa_registration_all_users")
        .unwrap();
    assert_eq!(medium["defaultConfiguration"]["level"], "warning");
    assert!(medium.get("helpUri").is_none(), "no reference, no helpUri");
    assert!(!medium["help"]["text"]
        .as_str()
        .unwrap()
        .contains("fix plan"));
}

#[test]
fn sarif_reports_unevaluated_rules_as_failed_execution() {
    let log = sarif(&scan_result());
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    let levels: Vec<(&str, &str)> = notes
        .iter()
        .map(|n| {
            (
                n["associatedRule"]["id"].as_str().unwrap(),
                n["level"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("mfa_registration_all_users", "error"),
            ("risky_users_remediated", "note")
        ]
    );
    assert!(notes[0]["message"]["text"]
        .as_str()
        .unwrap()
        .contains("403"));

    let complete = sarif(&complete_scan_result());
    assert_eq!(
        complete["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
}

#[test]
fn sarif_artifact_uri_is_relative_with_forward_slashes() {
    let mut result = scan_result();
    result.info.snapshot_path = r".\snapshots\contoso 2025.json".to_string();
    let log = sarif(&result);
    let uri = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"];
    assert_eq!(uri, "snapshots/contoso%202025.json");
    assert_eq!(
        log["runs"][0]["artifacts"][0]["hashes"]["sha-256"],
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );

    result.info.snapshot_path = "/srv/scans/contoso.json".to_string();
    let log = sarif(&result);
    assert_eq!(
        log["runs"][0]["artifacts"][0]["location"]["uri"],
        "file:///srv/scans/contoso.json"
    );
}

// ---------------------------------------------------------------- junit

#[test]
fn junit_parses_back_with_one_testcase_per_rule() {
    let xml = render(Format::Junit, &scan_result());
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.name.as_str(), "m365guard");
    assert_eq!((report.tests, report.failures, report.errors), (5, 1, 1));
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["identity", "exchange", "risk"]);

    let cases: Vec<_> = report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .collect();
    assert_eq!(cases.len(), 5);
    for case in &cases {
        let class = case.classname.as_ref().unwrap().as_str();
        assert!(class.starts_with("m365guard."), "{class}");
    }
    let case = |name: &str| *cases.iter().find(|c| c.name.as_str() == name).unwrap();

    match &case("mailbox_forwarding_external").status {
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            message,
            ty,
            description,
            ..
        } => {
            assert_eq!(message.as_ref().unwrap().as_str(), "2 findings");
            assert_eq!(ty.as_ref().unwrap().as_str(), "critical");
            let body = description.as_ref().unwrap().as_str();
            assert!(body.contains("alice@contoso.com: Mailbox forwards all mail"));
            assert!(body.contains("bob@contoso.com: Mailbox forwards to x|y"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(
        &case("mfa_registration_all_users").status,
        TestCaseStatus::NonSuccess { kind: NonSuccessKind::Error, message: Some(m), .. }
            if m.as_str().contains("403")
    ));
    assert!(matches!(
        &case("risky_users_remediated").status,
        TestCaseStatus::Skipped { message: Some(m), .. } if m.as_str().contains("P2 licence")
    ));
    // Issue 5: a rule whose only findings are waived is skipped, with the waiver kept.
    let waived = case("inbox_rule_forwards_external");
    assert!(matches!(
        &waived.status,
        TestCaseStatus::Skipped { message: Some(m), .. } if m.as_str() == "1 finding waived"
    ));
    assert!(waived
        .system_out
        .as_ref()
        .unwrap()
        .as_str()
        .contains("External auditor engagement"));
    assert!(matches!(
        case("admin_mfa_registered").status,
        TestCaseStatus::Success { .. }
    ));
    assert!(xml.contains(r#"skipped="1""#), "{xml}");
}

#[test]
fn junit_failure_body_is_capped() {
    let mut result = complete_scan_result();
    let outcome = result
        .outcomes
        .iter_mut()
        .find(|o| o.status == RuleStatus::Failed)
        .unwrap();
    let rule = outcome.rule.clone();
    outcome.findings = (0..75)
        .map(|i| {
            finding(
                &rule,
                Severity::Critical,
                "mailbox",
                &format!("id-{i:03}"),
                &format!("user{i:03}@contoso.com"),
                "forwards externally",
                Some(i + 1),
            )
        })
        .collect();
    let report = Report::deserialize_from_str(&render(Format::Junit, &result)).unwrap();
    let case = report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .find(|c| c.name.as_str() == "mailbox_forwarding_external")
        .unwrap();
    let TestCaseStatus::NonSuccess {
        message,
        description,
        ..
    } = &case.status
    else {
        panic!("expected a failure");
    };
    assert_eq!(message.as_ref().unwrap().as_str(), "75 findings");
    let lines: Vec<&str> = description.as_ref().unwrap().as_str().lines().collect();
    assert_eq!(lines.len(), 51);
    assert_eq!(lines[0], "user000@contoso.com: forwards externally");
    assert_eq!(lines[50], "... and 25 more");
}

// ---------------------------------------------------------------- markdown

#[test]
fn markdown_escapes_cells_and_lists_every_section() {
    let md = render(Format::Markdown, &scan_result());
    assert!(
        md.starts_with("## m365guard: Contoso (4f1c2a9e-7d3b-4c8e-9a51-0b6d2e8f3a17): incomplete")
    );
    let bob = md.lines().find(|l| l.contains("bob@contoso.com")).unwrap();
    // Seven columns (exception keys, framework controls added): eight unescaped pipes,
    // the one in the address escaped.
    assert_eq!(
        bob.matches('|').count() - bob.matches("\\|").count(),
        8,
        "{bob}"
    );
    assert!(bob.contains(r"x\|y@evil.example<br>and keeps a copy &lt;deliver\_and\_forward&gt;"));
    assert!(bob.contains(
        "| critical | `mailbox_forwarding_external` | ScubaGear MS.EXO.1.1v1 (partial)<br>CIS M365 6.2.1 (partial) | bob@contoso.com | Mailbox forwards to x\\|y"
    ));
    assert!(
        md.contains("`m365guard fix plan --snapshot examples/contoso-compromised.json --config m365guard.toml --rule mailbox_forwarding_external -o plan.json`"),
        "{md}"
    );
    for heading in [
        "### Findings",
        "### Not evaluated",
        "### Not applicable",
        "### Waivers",
        "### Exempt accounts",
        "### Warnings",
    ] {
        assert!(md.contains(heading), "missing {heading}\n{md}");
    }
    assert!(md.contains("| 5 | 2 | 1 | 1 | 1 | 2 | 1 |"));
    assert!(md.contains("| 2025-12-31 | SEC-1042 |"));
    assert!(md.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    // Critical findings first.
    let findings = &md[md.find("### Findings").unwrap()..];
    assert!(findings.find("alice@").unwrap() < findings.find("### Not evaluated").unwrap());
}

// ---------------------------------------------------------------- html

#[test]
fn html_is_self_contained_and_escapes_tenant_data() {
    let mut result = scan_result();
    let failed = result
        .outcomes
        .iter_mut()
        .find(|o| o.status == RuleStatus::Failed)
        .unwrap();
    failed.findings[0].resource.name = "<script>alert(1)</script>@contoso.com".to_string();
    failed.findings[1].message = "rule \"x\" onmouseover='steal()' <img src=x>".to_string();
    let html = render(Format::Html, &result);

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;@contoso.com"),
        "{html}"
    );
    assert!(html.contains("&lt;img src=x&gt;"));
    let lower = html.to_lowercase();
    for forbidden in [
        "<script",
        "<img",
        "<link",
        "<iframe",
        "<object",
        "src=\"",
        "@import",
        "url(",
        "onmouseover='",
    ] {
        assert!(!lower.contains(forbidden), "found {forbidden}");
    }
    // Links only to the rules' web references and to anchors in the page.
    for (at, _) in lower.match_indices("href=\"") {
        let target = &lower[at + 6..];
        assert!(
            target.starts_with("https:") || target.starts_with('#'),
            "link to {}",
            &target[..target.len().min(40)]
        );
    }
    assert!(
        html.contains("default-src 'none'"),
        "CSP forbids anything external"
    );
}

#[test]
fn html_shows_progress_waivers_and_unevaluated_rules() {
    let html = render(Format::Html, &scan_result());
    // Per roadmap phase: 30 days has 4 rules of which 2 passed; 90 days 1, not applicable.
    let phase_30 = &html[html.find("<td>30 days</td>").unwrap()..];
    assert!(phase_30[..400].contains("2 / 4"), "{}", &phase_30[..400]);
    let phase_90 = &html[html.find("<td>90 days</td>").unwrap()..];
    assert!(phase_90[..400].contains("0 / 1"));
    // Per area.
    assert!(html.contains("<td>exchange</td>"));
    // The waiver expires 305 days after the scan date (2025-03-01 to 2025-12-31).
    let waivers = &html[html.find("id=\"waivers\"").unwrap()..];
    assert!(waivers.contains("<td class=\"num\">305</td>"), "{waivers}");
    assert!(waivers.contains("SEC-1042"));
    let not_evaluated = &html[html.find("id=\"not-evaluated\"").unwrap()..];
    assert!(not_evaluated.contains("Reports.Read.All not granted"));
    assert!(
        html.contains("m365guard fix plan --snapshot examples&#x2f;contoso-compromised.json --config m365guard.toml --rule mailbox_forwarding_external -o plan.json"),
        "the fix command is shown"
    );
    assert!(html.contains("breakglass01@contoso.onmicrosoft.com"));
    assert!(html.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));

    // An expired waiver says so instead of a negative count.
    let mut later = scan_result();
    later.info.scanned_at =
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 1, 5, 0, 0, 0).unwrap();
    let html = render(Format::Html, &later);
    assert!(html.contains("<span class=\"expired\">expired</span>"));
}

/// A scan marked incomplete for a reason no rule carries (here on a result whose rules
/// alone say 1): every report states exit 3, the code the process returns, and says why.
#[test]
fn every_report_states_the_exit_code_of_a_scan_marked_incomplete() {
    let mut result = complete_scan_result();
    assert_eq!(result.exit_status() as i32, 1);
    let why = "the live collection is incomplete: 1 source failed to collect: risky_users (403)";
    result.mark_incomplete(why.to_owned());

    let json: Value = serde_json::from_str(&render(Format::Json, &result)).unwrap();
    assert_eq!(json["exit"]["code"], 3);
    assert_eq!(json["exit"]["status"], "incomplete");
    assert!(json["warnings"].to_string().contains(why));

    let sarif: Value = serde_json::from_str(&render(Format::Sarif, &result)).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["exitCode"], 3);
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(invocation["toolExecutionNotifications"]
        .to_string()
        .contains(why));

    let junit = render(Format::Junit, &result);
    let parsed = Report::deserialize_from_str(&junit).unwrap();
    let scan_case = parsed
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .find(|c| c.name.as_str() == "scan_complete")
        .expect("a scan_complete testcase");
    assert!(matches!(
        scan_case.status,
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            ..
        }
    ));
    assert!(junit.contains("risky_users (403)"), "{junit}");

    let markdown = render(Format::Markdown, &result);
    assert!(markdown.contains(": incomplete"), "{markdown}");
    // (Markdown escapes the `_` of source ids.)
    assert!(
        markdown.contains("the live collection is incomplete: 1 source failed to collect"),
        "{markdown}"
    );
    let html = render(Format::Html, &result);
    assert!(html.contains("exit code 3"), "html");
    assert!(html.contains("risky_users (403)"), "html");
    let table = render(Format::Table, &result);
    assert!(table.contains(why), "{table}");

    // Without the mark the same result is 1 everywhere: the reports follow the result.
    let json: Value = serde_json::from_str(&render(Format::Json, &complete_scan_result())).unwrap();
    assert_eq!(json["exit"]["code"], 1);
}
