//! Fault injection and stateful writes (fix mode).
mod common;

use common::*;
use m365guard_emulator::{Faults, Service};
use serde_json::json;

#[test]
fn injected_faults_are_observable() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let x = token(&emu, EXO_SCOPE);

    emu.set_faults(Faults {
        rate_429: 1.0,
        retry_after: Some("2.128".into()),
        ..Faults::default()
    });
    let r = get(&emu, &t, "/v1.0/users");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("2.128"));
    assert_eq!(
        r.json()["error"]["code"],
        fixture("error.429.TooManyRequests.json")["error"]["code"]
    );
    emu.set_faults(Faults {
        rate_429: 1.0,
        retry_after: None,
        ..Faults::default()
    });
    assert!(get(&emu, &t, "/v1.0/users").header("Retry-After").is_none());
    assert_eq!(exo(&emu, &x, "Get-Mailbox", json!({})).status, 429);

    emu.set_faults(Faults {
        burst_503: 2,
        ..Faults::default()
    });
    let statuses: Vec<u16> = (0..3)
        .map(|_| get(&emu, &t, "/v1.0/users").status)
        .collect();
    assert_eq!(statuses, vec![503, 503, 200]);

    emu.set_faults(Faults {
        drop_next: 1,
        ..Faults::default()
    });
    let dropped = request(
        &format!("{}/v1.0/users", emu.base_url),
        "GET",
        &[("Authorization", &format!("Bearer {t}"))],
        b"",
    );
    assert_eq!(
        dropped.unwrap_err().kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    assert_eq!(get(&emu, &t, "/v1.0/users").status, 200);

    emu.set_faults(Faults {
        truncate_next: 1,
        ..Faults::default()
    });
    let r = get(&emu, &t, "/v1.0/users");
    assert!(r.truncated && serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    assert!(!get(&emu, &t, "/v1.0/users").truncated);

    // Path filter: only messageRules throttled.
    emu.set_faults(Faults {
        rate_429: 1.0,
        path_contains: "messageRules".into(),
        ..Faults::default()
    });
    assert_eq!(get(&emu, &t, "/v1.0/users").status, 200);
    assert_eq!(
        get(
            &emu,
            &t,
            &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules")
        )
        .status,
        429
    );

    // Latency.
    emu.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let start = std::time::Instant::now();
    get(&emu, &t, "/v1.0/users");
    assert!(start.elapsed() >= std::time::Duration::from_millis(150));

    // Batch items: 429 with Retry-After inside the item headers.
    emu.set_faults(Faults {
        batch_item_429_rate: 1.0,
        retry_after: Some("7".into()),
        ..Faults::default()
    });
    let v = graph(
        &emu,
        &t,
        "POST",
        "/v1.0/$batch",
        Some(&json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}]})),
    )
    .json();
    assert_eq!(v["responses"][0]["status"], 429);
    assert_eq!(v["responses"][0]["headers"]["Retry-After"], "7");

    // Batch items beyond 4 against one mailbox → ApplicationThrottled.
    emu.set_faults(Faults::default());
    let reqs: Vec<_> = (0..6).map(|i| json!({"id": format!("{i}"), "method": "GET", "url": format!("/users/{LENA}/mailFolders/inbox/messageRules")})).collect();
    let v = graph(
        &emu,
        &t,
        "POST",
        "/v1.0/$batch",
        Some(&json!({"requests": reqs})),
    )
    .json();
    let throttled: Vec<_> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 429)
        .collect();
    assert_eq!(throttled.len(), 2);
    assert_eq!(
        throttled[0]["body"],
        fixture("error.429.ApplicationThrottled.json")
    );

    // CA: 1 request per second, no Retry-After.
    emu.set_faults(Faults {
        one_rps_limit: true,
        ..Faults::default()
    });
    assert_eq!(
        get(&emu, &t, "/v1.0/identity/conditionalAccess/policies").status,
        200
    );
    let r = get(&emu, &t, "/v1.0/identity/conditionalAccess/policies");
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_none());
    assert!(emu
        .requests()
        .iter()
        .any(|r| r.fault.as_deref() == Some("drop")));
}

#[test]
fn faults_are_reproducible_for_a_seed() {
    let run = || {
        let emu = start();
        let t = token(&emu, GRAPH_SCOPE);
        emu.set_faults(Faults {
            rate_429: 0.5,
            ..Faults::default()
        });
        (0..20)
            .map(|_| get(&emu, &t, "/v1.0/users").status)
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.contains(&429) && a.contains(&200));
}

#[test]
fn mailbox_concurrency_over_four_is_throttled() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    emu.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    get(
                        &emu,
                        &t,
                        &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules"),
                    )
                    .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 4);
}

/// Five concurrent InvokeCommand calls on one mailbox, each held `latency_ms`: the statuses
/// and the JSON bodies, in completion order.
fn five_concurrent_exo(
    emu: &m365guard_emulator::Emulator,
    x: &str,
    cmdlet: &str,
    params: serde_json::Value,
    headers: &[(&str, &str)],
) -> Vec<(u16, Option<String>, serde_json::Value)> {
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let params = params.clone();
                s.spawn(move || {
                    let r = exo_at(&emu.invoke_command_url(), x, cmdlet, params, headers).unwrap();
                    (
                        r.status,
                        r.header("Retry-After").map(str::to_owned),
                        r.json(),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn exchange_mailbox_concurrency_over_four_is_throttled() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    emu.set_faults(Faults {
        latency_ms: 400,
        retry_after: Some("0.5".into()),
        ..Faults::default()
    });
    // Get-InboxRule counts against the mailbox named by `Mailbox` (any identity form).
    let got = five_concurrent_exo(
        &emu,
        &x,
        "Get-InboxRule",
        json!({"Mailbox": "lena.fischer@contoso.com", "IncludeHidden": true}),
        &[],
    );
    let throttled: Vec<_> = got.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(throttled.len(), 1, "{got:?}");
    assert_eq!(got.iter().filter(|(s, _, _)| *s == 200).count(), 4);
    let (_, retry_after, body) = throttled[0];
    assert_eq!(retry_after.as_deref(), Some("0.5"));
    assert_eq!(body["error"]["code"], "ApplicationThrottled");
    assert_eq!(
        body["error"]["message"],
        "Application is over its MailboxConcurrency limit."
    );
    assert_eq!(emu.mailbox_throttled(), 1);
    assert_eq!(emu.mailbox_peak_inflight(), 5);

    // The same mailbox by its Entra id, plus one Graph request for it: one shared budget.
    let g = token(&emu, GRAPH_SCOPE);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let graph = s.spawn(|| {
            get(
                &emu,
                &g,
                &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules"),
            )
            .status
        });
        let exo: Vec<_> = (0..4)
            .map(|_| s.spawn(|| exo(&emu, &x, "Get-InboxRule", json!({"Mailbox": LENA})).status))
            .collect();
        std::iter::once(graph)
            .chain(exo)
            .map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );

    // A cmdlet anchored on a user's mailbox counts for that mailbox too ...
    let anchored = five_concurrent_exo(
        &emu,
        &x,
        "Get-Mailbox",
        json!({"Identity": "lena.fischer@contoso.com"}),
        &[("X-AnchorMailbox", "UPN:lena.fischer@contoso.com")],
    );
    assert_eq!(
        anchored.iter().filter(|(s, _, _)| *s == 429).count(),
        1,
        "{anchored:?}"
    );
    // ... while tenant-wide cmdlets anchored on the system mailbox, and different
    // mailboxes, are not limited.
    let system = format!("APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{TENANT}");
    let tenant_wide = five_concurrent_exo(
        &emu,
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[("X-AnchorMailbox", system.as_str())],
    );
    assert!(
        tenant_wide.iter().all(|(s, _, _)| *s == 200),
        "{tenant_wide:?}"
    );
    let before = emu.mailbox_throttled();
    let (emu_ref, x_ref) = (&emu, x.as_str());
    let spread: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = [
            "lena.fischer@contoso.com",
            "raj.patel@contoso.com",
            LENA,
            RAJ,
            DANA,
        ]
        .into_iter()
        .map(|m| {
            s.spawn(move || exo(emu_ref, x_ref, "Get-InboxRule", json!({"Mailbox": m})).status)
        })
        .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(spread.iter().all(|s| *s != 429), "{spread:?}");
    assert_eq!(emu.mailbox_throttled(), before);

    // 0 switches the limit off.
    emu.set_faults(Faults {
        latency_ms: 300,
        mailbox_concurrency_limit: 0,
        ..Faults::default()
    });
    let off = five_concurrent_exo(&emu, &x, "Get-InboxRule", json!({"Mailbox": LENA}), &[]);
    assert!(off.iter().all(|(s, _, _)| *s == 200), "{off:?}");
}

#[test]
fn a_failing_mailbox_answers_500_every_time() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    emu.set_faults(Faults {
        fail_mailbox: Some("lena.fischer@contoso.com".into()),
        ..Faults::default()
    });
    // Any identity form of the mailbox, every time.
    for who in ["lena.fischer@contoso.com", LENA, "LENA.FISCHER@contoso.com"] {
        for _ in 0..2 {
            let r = exo(
                &emu,
                &x,
                "Get-InboxRule",
                json!({"Mailbox": who, "IncludeHidden": true}),
            );
            assert_eq!(r.status, 500, "{who}: {}", r.text());
            let v = r.json();
            assert!(
                v["error"]["innererror"]["internalexception"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(who),
                "{v}"
            );
        }
    }
    // Other mailboxes and other cmdlets for the same mailbox still work.
    assert_eq!(
        exo(&emu, &x, "Get-InboxRule", json!({"Mailbox": RAJ})).status,
        200
    );
    assert_eq!(
        exo(&emu, &x, "Get-Mailbox", json!({"Identity": LENA})).status,
        200
    );
}

#[test]
fn exchange_truncation_and_pagination_expiry() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    emu.set_faults(Faults {
        exo_force_truncation: true,
        ..Faults::default()
    });
    let r = exo_at(
        &emu.invoke_command_url(),
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[("Prefer", "odata.maxpagesize=2")],
    )
    .unwrap();
    let v = r.json();
    assert!(v["@odata.nextLink"].is_string());
    assert_eq!(v["@adminapi.warnings"].as_array().unwrap().len(), 1);

    emu.set_faults(Faults {
        exo_pagination_expired: true,
        ..Faults::default()
    });
    let first = exo_at(
        &emu.invoke_command_url(),
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[("Prefer", "odata.maxpagesize=2")],
    )
    .unwrap()
    .json();
    let next = first["@odata.nextLink"].as_str().unwrap();
    let r = exo_at(
        next,
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), fixture("exo.error.400.pagination-expired.json"));
    // A cursor replayed with a different body is invalid too.
    emu.set_faults(Faults::default());
    let first = exo_at(
        &emu.invoke_command_url(),
        &x,
        "Get-Mailbox",
        json!({"ResultSize": "Unlimited"}),
        &[("Prefer", "odata.maxpagesize=2")],
    )
    .unwrap()
    .json();
    let next = first["@odata.nextLink"].as_str().unwrap();
    assert_eq!(
        exo_at(next, &x, "Get-Mailbox", json!({}), &[])
            .unwrap()
            .status,
        400
    );
}

#[test]
fn graph_writes_change_later_reads_and_are_logged_in_order() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let r = graph(
        &emu,
        &t,
        "PATCH",
        &format!("/v1.0/users/{LENA}"),
        Some(&fixture("user.patch.disable.request.json")),
    );
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let u = get(
        &emu,
        &t,
        &format!("/v1.0/users/{LENA}?$select=id,accountEnabled"),
    )
    .json();
    assert_eq!(u["accountEnabled"], false);

    let r = graph(
        &emu,
        &t,
        "POST",
        &format!("/v1.0/users/{LENA}/revokeSignInSessions"),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"], true);

    let weak =
        json!({"passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "weak"}});
    let r = graph(
        &emu,
        &t,
        "PATCH",
        &format!("/v1.0/users/{LENA}"),
        Some(&weak),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        fixture("error.400.password_complexity.json")["error"]["message"]
    );
    assert_eq!(
        graph(
            &emu,
            &t,
            "PATCH",
            &format!("/v1.0/users/{LENA}"),
            Some(&fixture("user.patch.password.request.json"))
        )
        .status,
        204
    );

    let rule = "AQAAAFr3kQ9=";
    let r = graph(
        &emu,
        &t,
        "PATCH",
        &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules/{rule}"),
        Some(&fixture("messageRule.patch.request.json")),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["isEnabled"], false);
    assert_eq!(
        keys(&r.json()),
        keys(&fixture("messageRule.patch.response.json"))
    );
    assert_eq!(
        graph(
            &emu,
            &t,
            "DELETE",
            &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules/{rule}"),
            None
        )
        .status,
        204
    );
    assert_eq!(
        graph(
            &emu,
            &t,
            "DELETE",
            &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules/{rule}"),
            None
        )
        .status,
        404
    );

    let r = graph(
        &emu,
        &t,
        "PATCH",
        &format!("/beta/users/{RAJ}/authentication/requirements"),
        Some(&fixture("authentication.requirements.patch.request.json")),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        get(
            &emu,
            &t,
            &format!("/beta/users/{RAJ}/authentication/requirements")
        )
        .json()["perUserMfaState"],
        "enforced"
    );

    let r = graph(
        &emu,
        &t,
        "DELETE",
        "/v1.0/roleManagement/directory/roleAssignments/xYzHelpdeskAssignment0001",
        None,
    );
    assert_eq!(r.status, 204);
    let left = collect_all(&emu, &t, "/v1.0/roleManagement/directory/roleAssignments").0;
    assert!(!left.iter().any(|a| a["id"] == "xYzHelpdeskAssignment0001"));

    let r = graph(
        &emu,
        &t,
        "POST",
        "/v1.0/identity/conditionalAccess/policies",
        Some(&fixture("conditionalAccess.policy.create.request.json")),
    );
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(
        keys(&v),
        keys(&fixture("conditionalAccess.policy.create.response.json"))
    );
    assert_eq!(v["state"], "enabledForReportingButNotEnforced");
    assert_eq!(
        collect_all(&emu, &t, "/v1.0/identity/conditionalAccess/policies")
            .0
            .len(),
        3
    );
    emu.set_licences(m365guard_emulator::Licences {
        p1: true,
        p2: false,
    });
    let mut p2 = fixture("conditionalAccess.policy.create.request.json");
    p2["conditions"]["userRiskLevels"] = json!(["high"]);
    let r = graph(
        &emu,
        &t,
        "POST",
        "/v1.0/identity/conditionalAccess/policies",
        Some(&p2),
    );
    assert_eq!(
        r.json()["error"]["message"],
        fixture("error.400.ca_p2_feature.json")["error"]["message"]
    );

    let log = emu.write_log();
    let ops: Vec<(String, u16)> = log
        .iter()
        .map(|w| (format!("{} {}", w.operation, w.target), w.status))
        .collect();
    assert_eq!(ops[0], (format!("PATCH /v1.0/users/{LENA}"), 204));
    assert_eq!(
        ops[1],
        (format!("POST /v1.0/users/{LENA}/revokeSignInSessions"), 200)
    );
    assert_eq!(ops[2].1, 400);
    assert_eq!(
        log[3].body["passwordProfile"]["password"], "<redacted>",
        "secrets never logged"
    );
    assert!(log.iter().all(|w| w.service == Service::Graph));
    assert_eq!(log.len(), 11);
}

#[test]
fn exchange_writes_change_later_reads() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let set = fixture("exo.request.set-mailbox.clear-forwarding.json");
    let r = exo(
        &emu,
        &x,
        "Set-Mailbox",
        set["CmdletInput"]["Parameters"].clone(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"], json!([]));
    let v = exo(
        &emu,
        &x,
        "Get-Mailbox",
        json!({"Identity": "lena.fischer@contoso.com"}),
    )
    .json();
    assert_eq!(
        v["value"][0]["ForwardingSmtpAddress"],
        serde_json::Value::Null
    );
    assert_eq!(v["value"][0]["DeliverToMailboxAndForward"], false);

    let dis = fixture("exo.request.disable-inboxrule.json")["CmdletInput"]["Parameters"].clone();
    let rules = exo(
        &emu,
        &x,
        "Get-InboxRule",
        json!({"Mailbox": "lena.fischer@contoso.com"}),
    )
    .json();
    let evil = rules["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == ".")
        .unwrap()["Identity"]
        .clone();
    let mut params = dis;
    params["Identity"] = evil.clone();
    // The fixture has no -Force: a REST session cannot answer the confirmation prompt.
    assert_eq!(
        exo(&emu, &x, "Disable-InboxRule", params.clone()).status,
        400
    );
    params["Force"] = json!(true);
    assert_eq!(exo(&emu, &x, "Disable-InboxRule", params).status, 200);
    let t = token(&emu, GRAPH_SCOPE);
    let g = get(
        &emu,
        &t,
        &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules"),
    )
    .json();
    assert_eq!(
        g["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["displayName"] == ".")
            .unwrap()["isEnabled"],
        false
    );
    let hidden_id = exo(
        &emu,
        &x,
        "Get-InboxRule",
        json!({"Mailbox": "lena.fischer@contoso.com", "IncludeHidden": true}),
    )
    .json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == "..")
        .unwrap()["RuleIdentity"]
        .to_string();
    assert_eq!(
        exo(
            &emu,
            &x,
            "Remove-InboxRule",
            json!({"Mailbox": "lena.fischer@contoso.com", "Identity": hidden_id, "Force": true, "Confirm": false})
        )
        .status,
        200
    );
    assert_eq!(
        exo(
            &emu,
            &x,
            "Remove-InboxRule",
            json!({"Mailbox": "lena.fischer@contoso.com", "Identity": hidden_id, "Force": true, "Confirm": false})
        )
        .status,
        404
    );

    let r = exo(
        &emu,
        &x,
        "Set-HostedOutboundSpamFilterPolicy",
        json!({"Identity": "Default", "AutoForwardingMode": "Disabled"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["innererror"]["internalexception"]["type"],
        fixture("exo.error.400.invalid-enum.json")["error"]["innererror"]["internalexception"]
            ["type"]
    );
    assert_eq!(
        exo(
            &emu,
            &x,
            "Set-HostedOutboundSpamFilterPolicy",
            json!({"Identity": "Default", "AutoForwardingMode": "off"})
        )
        .status,
        200
    );
    let v = exo(
        &emu,
        &x,
        "Get-HostedOutboundSpamFilterPolicy",
        json!({"Identity": "Default"}),
    )
    .json();
    assert_eq!(v["value"][0]["AutoForwardingMode"], "Off");

    let mut rm = fixture("exo.request.remove-blockedsenderaddress.json")["CmdletInput"]
        ["Parameters"]
        .clone();
    // -Reason is the reason the sender was blocked, not a note: the fixture's selects nothing.
    assert_eq!(
        exo(&emu, &x, "Remove-BlockedSenderAddress", rm.clone()).status,
        404
    );
    rm.as_object_mut().unwrap().remove("Reason");
    assert_eq!(exo(&emu, &x, "Remove-BlockedSenderAddress", rm).status, 200);
    assert_eq!(
        exo(&emu, &x, "Get-BlockedSenderAddress", json!({})).json()["value"],
        json!([])
    );

    let log = emu.write_log();
    let ops: Vec<&str> = log.iter().map(|w| w.operation.as_str()).collect();
    assert_eq!(
        ops,
        vec![
            "Set-Mailbox",
            "Disable-InboxRule",
            "Remove-InboxRule",
            "Remove-InboxRule",
            "Set-HostedOutboundSpamFilterPolicy",
            "Set-HostedOutboundSpamFilterPolicy",
            "Remove-BlockedSenderAddress",
            "Remove-BlockedSenderAddress"
        ]
    );
    assert_eq!(log[0].target, "lena.fischer@contoso.com");
    assert_eq!(log[3].status, 404);
    assert!(log.iter().all(|w| w.service == Service::Exchange));
}

/// A plain snapshot of `users` users, every 20th a guest and the others with a mailbox:
/// enough volume for paging. (Realistic synthetic tenants come from `m365guard generate`,
/// which this package cannot call: the emulator does not depend on m365guard.)
fn large_snapshot(users: usize) -> serde_json::Value {
    let guid = |kind: u32, i: usize| format!("{kind:08x}-0000-4000-8000-{i:012x}");
    let mut user_list = Vec::new();
    let mut mailboxes = Vec::new();
    for i in 0..users {
        let guest = i % 20 == 19;
        let upn = if guest {
            format!("guest{i}_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        } else {
            format!("user{i}@contoso.com")
        };
        user_list.push(json!({
            "id": guid(1, i),
            "user_principal_name": upn,
            "account_enabled": true,
            "user_type": if guest { "guest" } else { "member" },
            "last_sign_in": "2026-01-10T08:00:00Z",
        }));
        if !guest {
            mailboxes.push(json!({
                "id": guid(1, i),
                "user_principal_name": upn,
                "recipient_type_details": "UserMailbox",
            }));
        }
    }
    json!({
        "schema_version": 1,
        "tenant": {"id": TENANT, "verified_domains": ["contoso.com", "contoso.onmicrosoft.com"]},
        "users": user_list,
        "mailboxes": mailboxes,
    })
}

#[test]
fn generated_tenant_serves_large_paged_collections() {
    let cfg =
        m365guard_emulator::EmulatorConfig::from_snapshot_value(&large_snapshot(2500)).unwrap();
    assert_eq!(
        cfg.tenant.mailboxes.len(),
        2375 + 1,
        "plus the discovery mailbox"
    );
    let emu = m365guard_emulator::spawn(cfg).unwrap();
    let t = token(&emu, GRAPH_SCOPE);
    let (users, pages) = collect_all(&emu, &t, "/v1.0/users?$select=id,signInActivity&$top=999");
    assert_eq!(users.len(), 2500);
    assert_eq!(
        pages,
        2500usize.div_ceil(120),
        "signInActivity pages capped at 120"
    );
    let x = token(&emu, EXO_SCOPE);
    let v = exo(&emu, &x, "Get-Mailbox", json!({})).json();
    assert_eq!(
        v["value"].as_array().unwrap().len(),
        1000,
        "default ResultSize 1000"
    );
    assert_eq!(v["@adminapi.warnings"].as_array().unwrap().len(), 1);
}
