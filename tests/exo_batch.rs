//! Exchange `$batch` in collection (issue 11's collection budget): the per-mailbox read
//! cmdlets go ten to a batch and give the same snapshot as single calls; a tenant that
//! refuses the route falls back to single calls once; `M365GUARD_CONCURRENCY=1` never
//! batches; items over the per-mailbox limit are retried, never dropped; one mailbox
//! throttled or failing in a batch fails alone; one statistics call per mailbox finds a
//! German mailbox's real inbox by type; and the role-assignment and access-policy reads are
//! retried when throttled and fail the source (exit 3) when throttling persists.

use std::path::Path;

use m365guard::exchange::ExchangeClient;
use m365guard_emulator::config::ExoPaging;
use m365guard_emulator::{Emulator, Faults, Options};
use serde_json::{json, Value};

use crate::harness::{self, m365guard_against, run, start};

const DANA: &str = "dana.whitfield@contoso.com";
const DANA_ID: &str = "6e1f3a2b-4c5d-4e6f-8a7b-9c0d1e2f3a4b";
const HANNAH: &str = "hannah.weber@eu.contoso.com";
const HANNAH_ID: &str = "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c14";
/// The sources whose cmdlets are batched.
const BATCHED: [&str; 3] = [
    "inbox_rules",
    "mailbox_delegates",
    "mailbox_folder_permissions",
];

/// `collect -o snap.json` in a new directory with extra environment: (exit code, snapshot,
/// stderr).
fn collect_with(emu: &Emulator, env: &[(&str, &str)]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = m365guard_against(emu, dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd.args(["collect", "-o", "snap.json"]));
    harness::assert_no_leaks(
        [out.stdout.as_str(), out.stderr.as_str()],
        &[&emu.client_secret().unwrap_or_default()],
    );
    let snap = read(&dir.path().join("snap.json"), &out.stderr);
    (out.code, snap, out.stderr)
}

fn collect(emu: &Emulator) -> (i32, Value, String) {
    collect_with(emu, &[])
}

fn read(path: &Path, stderr: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    serde_json::from_str(&text).unwrap()
}

fn batch_requests(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.path.ends_with("/$batch") && r.path.contains("/adminapi/"))
        .count()
}

fn single_requests(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.path.ends_with("/InvokeCommand"))
        .count()
}

fn status<'a>(snap: &'a Value, source: &str) -> &'a Value {
    &snap["sources"][source]["status"]
}

fn ids(snap: &Value, source: &str) -> Vec<String> {
    snap[source]
        .as_array()
        .unwrap_or_else(|| panic!("no {source}"))
        .iter()
        .filter_map(|x| x["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn batched_single_and_fallback_collections_agree() {
    // Batched (the default).
    let emu = start();
    let (code, batched, stderr) = collect(&emu);
    assert_eq!(code, 0, "{stderr}");
    let batches = batch_requests(&emu);
    assert!(batches > 0, "no $batch request");
    for source in BATCHED {
        assert_eq!(status(&batched, source), "ok", "{source}: {stderr}");
    }
    assert!(!ids(&batched, "inbox_rules").is_empty());
    assert!(!ids(&batched, "mailbox_delegates").is_empty());
    assert!(!ids(&batched, "mailbox_folder_permissions").is_empty());

    // Serial: no batch at all, one InvokeCommand per call.
    let serial_emu = start();
    let (code, serial, stderr) = collect_with(&serial_emu, &[("M365GUARD_CONCURRENCY", "1")]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(batch_requests(&serial_emu), 0);
    assert!(single_requests(&serial_emu) > single_requests(&emu));

    // A tenant without the route: refused, then single calls for the rest of the run.
    let refusing = start();
    refusing.set_options(Options {
        exo_batch_refused: Some(404),
        ..refusing.options()
    });
    let (code, fallback, stderr) = collect(&refusing);
    assert_eq!(code, 0, "{stderr}");
    let refused = batch_requests(&refusing);
    // Each worker may have sent one before the first refusal came back; never more.
    assert!(
        (1..=32).contains(&refused),
        "{refused} batches after a refusal"
    );
    assert!(refused < batches, "{refused} refused of {batches}");
    assert!(
        stderr.matches("refused $batch").count() == 1,
        "the fallback is logged once: {stderr}"
    );
    for source in BATCHED {
        assert_eq!(status(&fallback, source), "ok", "{source}: {stderr}");
        assert_eq!(
            batched[source], serial[source],
            "{source}: batched vs serial"
        );
        assert_eq!(
            batched[source], fallback[source],
            "{source}: batched vs fallback"
        );
    }
}

#[test]
fn a_german_mailboxs_user_folder_named_inbox_is_not_its_inbox() {
    let emu = start();
    // The mailbox holds a user folder called "Inbox" (listed before `Posteingang`) …
    let (tokens, agent) = harness::emulator_tokens(&emu);
    let exo = ExchangeClient::new(&tokens, agent);
    let rows = exo
        .invoke(
            "Get-MailboxFolderStatistics",
            json!({"Identity": HANNAH, "ResultSize": "Unlimited"}),
        )
        .unwrap();
    let named_inbox: Vec<_> = rows.iter().filter(|r| r["Name"] == "Inbox").collect();
    assert_eq!(named_inbox.len(), 1, "{rows:?}");
    assert_eq!(named_inbox[0]["FolderType"], "User Created");
    // … yet the collection reads the real inbox, found by type.
    let (code, snap, stderr) = collect(&emu);
    assert_eq!(code, 0, "{stderr}");
    let hannah_inbox: Vec<&Value> = snap["mailbox_folder_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["mailbox_id"] == HANNAH_ID && p["folder"] == "inbox")
        .collect();
    assert!(
        !hannah_inbox.is_empty(),
        "{}",
        snap["mailbox_folder_permissions"]
    );
    for p in hannah_inbox {
        assert_eq!(p["folder_path"], "\\Posteingang", "{p}");
    }
}

#[test]
fn items_over_the_mailbox_limit_are_retried_never_dropped() {
    let reference = {
        let emu = start();
        collect(&emu).1
    };
    let emu = start();
    // Three folder-permission items of one mailbox in one batch: two are over the limit.
    emu.set_faults(Faults {
        mailbox_concurrency_limit: 1,
        retry_after: Some("0".into()),
        ..Faults::default()
    });
    let (code, snap, stderr) = collect(&emu);
    assert_eq!(code, 0, "{stderr}");
    assert!(emu.mailbox_throttled() > 0, "no item was throttled");
    for source in BATCHED {
        assert_eq!(status(&snap, source), "ok", "{source}: {stderr}");
        assert_eq!(snap[source], reference[source], "{source}");
    }
}

#[test]
fn a_mailbox_throttled_or_failing_in_a_batch_fails_alone() {
    let emu = start();
    emu.set_faults(Faults {
        throttle_folders_mailbox: Some(DANA.into()),
        fail_permissions_mailbox: Some(HANNAH.into()),
        retry_after: Some("0".into()),
        ..Faults::default()
    });
    let (code, snap, stderr) = collect(&emu);
    assert_eq!(code, 3, "{stderr}");
    assert!(batch_requests(&emu) > 0);
    let folders = &snap["sources"]["mailbox_folder_permissions"];
    assert_eq!(folders["status"], "error", "{folders}");
    let reason = folders["reason"].as_str().unwrap();
    for needle in [DANA, "for 1 of", "429"] {
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    let folder_ids = ids(&snap, "mailbox_folder_permissions");
    assert!(
        folder_ids.iter().any(|i| i.starts_with(HANNAH_ID)),
        "{folder_ids:?}"
    );
    assert!(
        !folder_ids.iter().any(|i| i.starts_with(DANA_ID)),
        "{folder_ids:?}"
    );
    let delegates = &snap["sources"]["mailbox_delegates"];
    assert_eq!(delegates["status"], "error", "{delegates}");
    let reason = delegates["reason"].as_str().unwrap();
    for needle in [HANNAH, "for 1 of", "500"] {
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    assert_eq!(status(&snap, "inbox_rules"), "ok");
}

#[test]
fn throttled_role_assignment_and_access_policy_reads_are_retried_then_fail_the_source() {
    for (cmdlet, source, rule) in [
        (
            "Get-ManagementRoleAssignment",
            "exchange_role_assignments",
            "exchange_role_assignment_unexpected",
        ),
        (
            "Get-ApplicationAccessPolicy",
            "application_access_policies",
            "app_mailbox_access_unrestricted",
        ),
    ] {
        let throttled = |times: u32| Faults {
            throttle_cmdlets: vec![cmdlet.into()],
            throttle_cmdlets_times: times,
            retry_after: Some("0".into()),
            ..Faults::default()
        };
        // Throttled twice, then answered: retried, the source is complete.
        let emu = start();
        let (code, clean, stderr) = collect(&emu);
        assert_eq!(code, 0, "{stderr}");
        let emu = start();
        emu.set_faults(throttled(2));
        let before = emu.requests().len();
        let (code, snap, stderr) = collect(&emu);
        assert_eq!(code, 0, "{cmdlet}: {stderr}");
        assert_eq!(status(&snap, source), "ok", "{cmdlet}");
        assert!(!ids(&snap, source).is_empty(), "{cmdlet}");
        assert_eq!(snap[source], clean[source], "{cmdlet}");
        assert!(
            emu.requests()[before..]
                .iter()
                .filter(|r| r.status == 429)
                .count()
                >= 2,
            "{cmdlet}: the 429s were not seen"
        );
        // Throttled on every call: the source fails, nothing is invented, exit 3, and the
        // rule that needs it is not evaluated.
        let emu = start();
        emu.set_faults(throttled(u32::MAX));
        let (code, snap, stderr) = collect(&emu);
        assert_eq!(code, 3, "{cmdlet}: {stderr}");
        let st = &snap["sources"][source];
        assert_eq!(st["status"], "error", "{st}");
        let reason = st["reason"].as_str().unwrap();
        assert!(
            reason.contains(cmdlet) && reason.contains("429"),
            "{reason}"
        );
        assert_eq!(snap[source], json!([]));
        let dir = tempfile::tempdir().unwrap();
        let out = run(m365guard_against(&emu, dir.path()).args([
            "scan",
            "--tenant",
            &emu.tenant_id(),
            "-f",
            "json",
            "-q",
            "--out",
            "report",
        ]));
        assert_eq!(out.code, 3, "{cmdlet}: {}", out.stderr);
        let report = read(&dir.path().join("report/m365guard.json"), &out.stderr);
        let outcome = report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == rule || r["rule_id"] == rule)
            .unwrap_or_else(|| panic!("no outcome for {rule}"));
        assert_eq!(
            outcome["status"], "not_evaluated",
            "{cmdlet} {rule}: {outcome}"
        );
    }
}

#[test]
fn a_paged_item_is_followed_outside_the_batch() {
    let reference = {
        let emu = start();
        collect(&emu).1
    };
    // Two rows per page: a mailbox's folder statistics (five or six rows) always page.
    // NextLink: the item's nextLink is POSTed again; Restart: following it expires, and the
    // cmdlet is asked again whole without a page size.
    for paging in [ExoPaging::NextLink, ExoPaging::Restart] {
        let emu = start();
        emu.set_options(Options {
            exo_page_size: 2,
            exo_paging: paging,
            ..emu.options()
        });
        let (code, snap, stderr) = collect(&emu);
        assert_eq!(code, 0, "{paging:?}: {stderr}");
        assert!(batch_requests(&emu) > 0, "{paging:?}");
        for source in BATCHED {
            assert_eq!(status(&snap, source), "ok", "{paging:?} {source}: {stderr}");
            assert_eq!(snap[source], reference[source], "{paging:?} {source}");
        }
        let follow_ups = emu
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/InvokeCommand"))
            .count();
        assert!(follow_ups > 0, "{paging:?}: no page was followed");
    }
}

/// The emulator's `$batch` is as strict as the known callers justify: more than ten items
/// or repeated ids refuse the whole batch; an item that is not a POST to this tenant's
/// InvokeCommand fails alone; each item answers with its own status and the Exchange error
/// body; answers are matched by id.
#[test]
fn emulator_batch_enforces_its_limits() {
    let emu = start();
    let (tokens, agent) = harness::emulator_tokens(&emu);
    let token = tokens
        .token(m365guard::auth::EXCHANGE_SCOPE)
        .unwrap()
        .expose()
        .to_owned();
    let url = format!("{}/adminapi/beta/{}/$batch", emu.base_url, emu.tenant_id());
    let post = |body: Value| -> (u16, Value) {
        let mut resp = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .config()
            .http_status_as_error(false)
            .build()
            .send(body.to_string().as_str())
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let item = |id: &str, method: &str, cmdlet: &str, params: Value| {
        json!({
            "id": id, "method": method, "url": emu.invoke_command_url(),
            "body": {"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}},
            "headers": {"Content-Type": "application/json", "X-AnchorMailbox": format!("UPN:{DANA}")},
        })
    };
    let eleven: Vec<Value> = (0..11)
        .map(|i| {
            item(
                &i.to_string(),
                "POST",
                "Get-MailboxPermission",
                json!({"Identity": DANA}),
            )
        })
        .collect();
    assert_eq!(post(json!({ "requests": eleven })).0, 400);
    let twice = vec![
        item(
            "a",
            "POST",
            "Get-MailboxPermission",
            json!({"Identity": DANA}),
        ),
        item(
            "a",
            "POST",
            "Get-MailboxPermission",
            json!({"Identity": DANA}),
        ),
    ];
    assert_eq!(post(json!({ "requests": twice })).0, 400);
    assert_eq!(post(json!({})).0, 400);

    let (status, answer) = post(json!({"requests": [
        item("ok", "POST", "Get-MailboxPermission", json!({"Identity": DANA})),
        item("get", "GET", "Get-MailboxPermission", json!({"Identity": DANA})),
        item("missing", "POST", "Get-MailboxPermission", json!({"Identity": "nobody@contoso.com"})),
        item("bad", "POST", "Get-MailboxFolderStatistics", json!({"Identity": DANA, "FolderScope": "Posteingang"})),
    ]}));
    assert_eq!(status, 200, "{answer}");
    let by_id = |id: &str| -> &Value {
        answer["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no answer for {id}: {answer}"))
    };
    assert_eq!(by_id("ok")["status"], 200);
    assert!(by_id("ok")["body"]["value"].is_array());
    assert_eq!(by_id("get")["status"], 405);
    assert!(by_id("missing")["status"].as_u64().unwrap() >= 400);
    assert!(by_id("missing")["body"]["error"].is_object(), "{answer}");
    assert_eq!(by_id("bad")["status"], 400);
    let inner = by_id("bad")["body"]["error"]["innererror"]["internalexception"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(inner.contains("FolderScope"), "{answer}");
}
