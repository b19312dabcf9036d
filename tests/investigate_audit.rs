//! `m365guard investigate`: the unified audit log (Graph audit log query, asynchronous and
//! resumable) and the message trace (Get-MessageTraceV2) against the contoso story — the
//! inbox rule created from the attacker's address 2½ minutes after the Amsterdam sign-in,
//! and 60 messages to an outside domain — with exactly those flagged, not Lena's ordinary
//! inbox rule, consent, downloads or mail; and the faults: a query that times out and is
//! resumed by the next run (one POST), a throttled poll, a failed query, a 403, no licence.

use m365guard::exchange::ExchangeClient;
use m365guard::investigate::Window;
use m365guard_emulator::{Emulator, Grants};
use serde_json::{json, Value};

use crate::harness::{emulator_tokens, start, Out, Scenario};

const LENA: &str = "lena.fischer@contoso.com";

/// `investigate --user <Lena> --since 2025-12-01 -o case [extra…]`: output and evidence.
fn investigate(s: &Scenario, extra: &[&str]) -> (Out, Value) {
    s.investigate(LENA, "2025-12-01", extra)
}

fn verdict<'a>(ev: &'a Value, rule: &str) -> &'a Value {
    ev["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == rule)
        .unwrap_or_else(|| panic!("no verdict for {rule}"))
}

fn findings_of(ev: &Value, rule: &str) -> Vec<String> {
    ev["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .map(|f| f["event_id"].as_str().unwrap().to_owned())
        .collect()
}

fn audit_event<'a>(ev: &'a Value, time: &str) -> &'a Value {
    ev["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["time"] == time)
        .unwrap_or_else(|| panic!("no audit event at {time}"))
}

/// (method, path, status) of the audit log query requests the emulator saw.
fn query_requests(emu: &Emulator) -> Vec<(String, String, u16)> {
    emu.requests()
        .into_iter()
        .filter(|r| r.path.contains("/security/auditLog/queries"))
        .map(|r| (r.method, r.path, r.status))
        .collect()
}

fn posts(emu: &Emulator) -> usize {
    query_requests(emu)
        .iter()
        .filter(|(m, _, _)| m == "POST")
        .count()
}

#[test]
fn the_audit_log_and_message_trace_flag_exactly_the_story() {
    let s = Scenario::contoso();
    let (out, ev) = investigate(&s, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for source in ["audit_events", "messages_sent"] {
        assert_eq!(ev["sources"][source]["status"], "ok", "{}", ev["sources"]);
    }
    assert_eq!(ev["audit_events"].as_array().unwrap().len(), 8);

    // The attacker's rule: the port the log keeps is stripped, the parameters summarised.
    let rule = audit_event(&ev, "2025-12-31T02:16:45Z");
    assert_eq!(rule["operation"], "New-InboxRule");
    assert_eq!(rule["client_ip"], "185.220.101.47");
    assert_eq!(rule["parameters"]["MoveToFolder"], "RSS Feeds");
    assert_eq!(
        findings_of(&ev, "inbox_rule_from_suspicious_ip"),
        [rule["id"].as_str().unwrap()]
    );
    let message = ev["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "inbox_rule_from_suspicious_ip")
        .unwrap()["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("3 minutes after"), "{message}");
    // Lena's own rule from Berlin, her consent, downloads and mail reads pass.
    let ordinary = audit_event(&ev, "2025-12-03T09:14:00Z");
    assert_eq!(ordinary["client_ip"], "91.64.10.20");
    assert_eq!(
        verdict(&ev, "consent_after_suspicious_signin")["status"],
        "passed"
    );
    assert!(ev["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["operation"] == "Consent to application."));

    // The message trace: 66 recipients, 63 outside contoso.com, one burst flagged.
    let sent = &ev["messages_sent"];
    assert_eq!(
        (sent["total"].as_u64(), sent["external"].as_u64()),
        (Some(66), Some(63))
    );
    assert_eq!(
        sent["by_domain"][0],
        json!({"domain": "northwind-traders.example", "external": true, "status": "Delivered", "count": 56})
    );
    let bulk = findings_of(&ev, "bulk_external_sending");
    assert_eq!(bulk.len(), 1, "{bulk:?}");
    let first = sent["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == bulk[0].as_str())
        .unwrap();
    assert_eq!(first["time"], "2025-12-31T02:48:00.0000000Z");
    assert_eq!(ev["parameters"]["bulk_external_recipients"], 50);

    // Every message trace query spans at most 10 days (the documented limit).
    let requests = ev["sources"]["messages_sent"]["requests"]
        .as_array()
        .unwrap();
    assert!(requests.len() >= 37, "{} queries", requests.len());
    for r in requests {
        let text = r.as_str().unwrap();
        let params: Value =
            serde_json::from_str(text.split_once(' ').unwrap().1.split_once(' ').unwrap().1)
                .unwrap();
        let day =
            |k: &str| chrono::DateTime::parse_from_rfc3339(params[k].as_str().unwrap()).unwrap();
        assert!(
            day("EndDate") - day("StartDate") <= chrono::Duration::days(10),
            "{text}"
        );
    }
    // One query created; its status read until it succeeded.
    assert_eq!(posts(&s.emu), 1, "{:?}", query_requests(&s.emu));
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("case/audit-query.json")).unwrap())
            .unwrap();
    assert_eq!(saved["state"], "collected");
}

#[test]
fn a_threshold_from_the_config_changes_the_bulk_verdict() {
    let s = Scenario::contoso();
    std::fs::write(
        s.path("m365guard.toml"),
        "[investigate]\nbulk_external_recipients = 100\n",
    )
    .unwrap();
    let (out, ev) = investigate(&s, &["--config", "m365guard.toml"]);
    assert_eq!(
        ev["parameters"]["bulk_external_recipients"], 100,
        "{}",
        out.stderr
    );
    assert_eq!(verdict(&ev, "bulk_external_sending")["status"], "passed");
}

#[test]
fn a_timed_out_query_is_resumed_by_the_next_run_without_a_new_post() {
    let sc = Scenario::contoso().options(|o| o.audit_query_polls_to_succeed = 3);
    let (first, ev) = investigate(&sc, &["--audit-wait", "0"]);
    assert_eq!(first.code, 3, "incomplete → 3\n{}", first.stderr);
    let s = &ev["sources"]["audit_events"];
    assert_eq!(s["status"], "error", "{s}");
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.contains("still `running`") && reason.contains("resume"),
        "{reason}"
    );
    for rule in [
        "inbox_rule_from_suspicious_ip",
        "consent_after_suspicious_signin",
    ] {
        assert_eq!(verdict(&ev, rule)["status"], "not_evaluated", "{rule}");
    }
    let case = sc.path("case");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("audit-query.json")).unwrap())
            .unwrap();
    assert_eq!(saved["state"], "pending");

    let (second, ev) = investigate(&sc, &[]);
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(ev["sources"]["audit_events"]["status"], "ok");
    assert_eq!(ev["audit_events"].as_array().unwrap().len(), 8);
    assert_eq!(findings_of(&ev, "inbox_rule_from_suspicious_ip").len(), 1);
    // The second run reused the first run's query: one POST in all.
    assert_eq!(posts(&sc.emu), 1, "{:?}", query_requests(&sc.emu));
    let reused = format!(
        "/security/auditLog/queries/{}/records",
        saved["query_id"].as_str().unwrap()
    );
    assert!(query_requests(&sc.emu)
        .iter()
        .any(|(_, p, _)| p.contains(&reused)));
    // The first run's files are kept aside, still verifiable; the new manifest covers the
    // resume file.
    for c in [case.join("superseded-1"), case.clone()] {
        let check = std::process::Command::new("sha256sum")
            .args(["-c", "manifest.sha256"])
            .current_dir(&c)
            .output()
            .unwrap();
        assert!(check.status.success(), "{}: {check:?}", c.display());
    }
    let manifest = std::fs::read_to_string(case.join("manifest.sha256")).unwrap();
    assert!(manifest.contains("  audit-query.json\n"), "{manifest}");
    // Once collected, the directory is evidence again: never overwritten.
    // (The evidence read back is the second run's, left in place.)
    let (third, _) = investigate(&sc, &[]);
    assert_eq!(third.code, 2, "{}", third.stderr);
    assert!(
        third.stderr.contains("never overwritten"),
        "{}",
        third.stderr
    );
}

#[test]
fn a_throttled_poll_is_retried_and_the_query_completes() {
    let s = Scenario::contoso().options(|o| o.audit_query_throttled_polls = 2);
    let (out, ev) = investigate(&s, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(ev["sources"]["audit_events"]["status"], "ok");
    assert_eq!(ev["audit_events"].as_array().unwrap().len(), 8);
    let throttled = query_requests(&s.emu)
        .iter()
        .filter(|(_, _, status)| *status == 429)
        .count();
    assert_eq!(throttled, 2);
    assert_eq!(posts(&s.emu), 1);
}

#[test]
fn a_failed_query_is_an_error_never_an_empty_pass() {
    let sc = Scenario::contoso().options(|o| o.audit_query_fails = true);
    let (out, ev) = investigate(&sc, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let s = &ev["sources"]["audit_events"];
    assert_eq!(s["status"], "error");
    assert!(
        s["reason"].as_str().unwrap().contains("ended `failed`"),
        "{s}"
    );
    assert!(ev["audit_events"].as_array().unwrap().is_empty());
    assert_eq!(
        verdict(&ev, "inbox_rule_from_suspicious_ip")["status"],
        "not_evaluated"
    );
}

#[test]
fn without_the_permission_the_403_names_it_and_the_rules_are_not_evaluated() {
    let sc = Scenario::contoso();
    let mut grants = Grants::full();
    grants.graph.retain(|p| !p.starts_with("AuditLogsQuery"));
    sc.emu.set_grants(grants);
    let (out, ev) = investigate(&sc, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let s = &ev["sources"]["audit_events"];
    assert_eq!(s["status"], "error", "{s}");
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 403") && reason.contains("AuditLogsQuery.Read.All"),
        "{reason}"
    );
    for rule in [
        "inbox_rule_from_suspicious_ip",
        "consent_after_suspicious_signin",
    ] {
        let v = verdict(&ev, rule);
        assert_eq!(v["status"], "not_evaluated", "{v}");
        assert!(
            v["reason"].as_str().unwrap().contains("audit_events"),
            "{v}"
        );
    }
    // Nothing to resume: the query was never created.
    assert!(!sc.path("case/audit-query.json").exists());
}

#[test]
fn a_per_workload_permission_reads_only_its_workload() {
    let s = Scenario::contoso();
    let mut grants = Grants::full();
    grants.graph.retain(|p| !p.starts_with("AuditLogsQuery"));
    grants.graph.push("AuditLogsQuery-Exchange.Read.All".into());
    s.emu.set_grants(grants);
    let (_, ev) = investigate(&s, &[]);
    assert_eq!(ev["sources"]["audit_events"]["status"], "ok");
    let workloads: Vec<&str> = ev["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["workload"].as_str().unwrap())
        .collect();
    assert_eq!(workloads.len(), 6, "{workloads:?}");
    assert!(workloads.iter().all(|w| *w == "Exchange"));
    assert_eq!(findings_of(&ev, "inbox_rule_from_suspicious_ip").len(), 1);
}

#[test]
fn without_audit_search_the_audit_log_is_unavailable_and_its_rules_not_applicable() {
    let s = Scenario::contoso().options(|o| o.audit_log_licensed = false);
    let (out, ev) = investigate(&s, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(ev["sources"]["audit_events"]["status"], "unavailable");
    assert_eq!(
        verdict(&ev, "inbox_rule_from_suspicious_ip")["status"],
        "not_applicable"
    );
    // The message trace does not need it.
    assert_eq!(verdict(&ev, "bulk_external_sending")["status"], "failed");
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// The emulator refuses what the reference page rules out, and the client's
/// StartingRecipientAddress follow-ups read every row when a query comes back full.
#[test]
fn message_trace_limits_and_follow_up_queries() {
    let emu = start();
    let (tokens, agent) = emulator_tokens(&emu);
    let exo = ExchangeClient::new(&tokens, agent);
    let refused = |params: Value, needle: &str| {
        let err = exo
            .invoke("Get-MessageTraceV2", params.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{params}: {err}");
    };
    refused(
        json!({"SenderAddress": LENA, "StartDate": "2025-12-01T00:00:00Z", "EndDate": "2025-12-12T00:00:00Z"}),
        "10 days",
    );
    refused(
        json!({"SenderAddress": LENA, "StartDate": "2025-09-01T00:00:00Z", "EndDate": "2025-09-05T00:00:00Z"}),
        "90 days",
    );
    refused(
        json!({"SenderAddress": LENA, "StartDate": "2025-12-25T00:00:00Z", "EndDate": "2026-01-01T00:00:00Z", "ResultSize": 6000}),
        "5000",
    );
    refused(json!({"Page": 2}), "Page");

    let window = Window {
        since: at("2025-12-25T00:00:00Z"),
        until: at("2026-01-01T00:00:00Z"),
    };
    let (outcome, sent) =
        m365guard::investigate::message_trace::collect_sized(&exo, LENA, &window, 25);
    assert_eq!(outcome.reason, None);
    assert_eq!(sent.total, 60, "every bulk recipient, none twice");
    // 60 rows in pages of 25: three queries, the 2nd and 3rd continuing from the last row.
    let follow_ups: Vec<&String> = outcome
        .requests
        .iter()
        .filter(|r| r.contains("StartingRecipientAddress"))
        .collect();
    assert_eq!(follow_ups.len(), 2, "{:?}", outcome.requests);
}

/// A saved query the service no longer knows (expired, deleted) is replaced by a new one.
#[test]
fn a_saved_query_the_service_forgot_is_replaced() {
    let s = Scenario::contoso();
    let (first, _) = investigate(&s, &["--audit-wait", "0"]);
    assert_eq!(first.code, 3, "{}", first.stderr);
    s.emu.state().audit_queries.clear();
    let (second, ev) = investigate(&s, &[]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert_eq!(ev["sources"]["audit_events"]["status"], "ok");
    assert_eq!(posts(&s.emu), 2, "{:?}", query_requests(&s.emu));
    let not_found = query_requests(&s.emu)
        .iter()
        .filter(|(_, _, status)| *status == 404)
        .count();
    assert_eq!(not_found, 1);
}

/// A poll still throttled when the HTTP layer's retry budget is spent is not a failure:
/// the query is polled again later, within --audit-wait.
#[test]
fn a_poll_throttled_past_the_retry_budget_is_polled_again() {
    let s = Scenario::contoso()
        .options(|o| o.audit_query_throttled_polls = 2)
        .env("M365GUARD_MAX_RETRY_SECONDS", "0");
    // `-v` is a global flag: after the subcommand it is the same as before it.
    let (out, ev) = investigate(&s, &["-v"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        ev["sources"]["audit_events"]["status"], "ok",
        "{}",
        ev["sources"]
    );
    let throttled = query_requests(&s.emu)
        .iter()
        .filter(|(_, _, status)| *status == 429)
        .count();
    assert_eq!(throttled, 2);
    assert!(
        out.stderr.contains("audit log query poll throttled"),
        "{}",
        out.stderr
    );
}
