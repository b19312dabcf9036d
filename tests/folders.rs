//! Mailbox folder permissions end to end (issue 11): the `mailbox_folder_permissions`
//! source collected from the emulator's contoso scenario (a German mailbox's `Posteingang`
//! and `Kalender` found by folder type), the `mailbox_folder_open` and
//! `mailbox_folder_delegate_unexpected` rules on it, the
//! `reset_folder_permission` and `remove_folder_permission` fixes through plan → apply →
//! re-scan, the failure modes (a cmdlet outside the app's Exchange role, a throttled
//! mailbox, a failing mailbox), and the emulator's parameter sets.

use std::collections::BTreeSet;

use m365guard::exchange::ExchangeClient;
use m365guard_emulator::exo_folders::{Folder, FolderEntry, SidUserForm};
use m365guard_emulator::state::role_ids;
use m365guard_emulator::{Faults, Grants};
use serde_json::{json, Value};

use crate::harness::{self, example, start, Scenario};

const RULE: &str = "mailbox_folder_open";
const DELEGATE_RULE: &str = "mailbox_folder_delegate_unexpected";
const DANA: &str = "dana.whitfield@contoso.com";
const DANA_ID: &str = "6e1f3a2b-4c5d-4e6f-8a7b-9c0d1e2f3a4b";
const HANNAH: &str = "hannah.weber@eu.contoso.com";
const HANNAH_ID: &str = "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c14";

#[test]
fn scan_tenant_finds_the_open_folders_the_example_shows() {
    let s = Scenario::contoso();
    let live = s.scan(&[]);
    assert_eq!(live.code, 1, "{}", live.out.stderr);
    let offline = s.scan_snapshot(&example("contoso-compromised.json"), "offline");
    let want = offline.findings(RULE);
    assert_eq!(live.findings(RULE), want);
    // Default Reviewer on Dana's Inbox (high); on Hannah's German Kalender (medium). Mia's
    // Reviewer on Hannah's Posteingang is a named delegation, not a finding.
    let expected: BTreeSet<(String, String)> = [
        (format!("{DANA_ID}/inbox/default"), "high"),
        (format!("{HANNAH_ID}/calendar/default"), "medium"),
    ]
    .into_iter()
    .map(|(id, s)| (id, s.to_owned()))
    .collect();
    assert_eq!(want, expected);
}

/// Named users' folder rights as collected are judged (#11): a guest with `Reviewer` on
/// Dana's Inbox (resolved through her guest mail user) and a deleted user's leftover entry
/// (its SID, resolved to nothing) are high; Mia's `Reviewer` on Hannah's `Posteingang` (an
/// internal, enabled colleague) is not a finding; `allowed_delegates` accepts the guest
/// but not the unresolvable entry.
#[test]
fn named_users_folder_rights_are_judged_by_who_holds_them() {
    const PRIYA: &str = "Priya Shah (Adatum)";
    const SID: &str = "NT:S-1-5-21-2740581204-1834557290-3141592653-7001";
    let s = Scenario::contoso();
    let clean = s.scan(&[]);
    assert_eq!(
        clean.rule(DELEGATE_RULE)["status"],
        "passed",
        "{}",
        clean.out.stderr
    );
    {
        let mut st = s.emu.state();
        let guid = st
            .mailboxes
            .iter()
            .find(|m| m.external_directory_object_id == DANA_ID)
            .expect("Dana's mailbox")
            .guid
            .clone();
        let dana = st.folders.mailboxes.get_mut(&guid).expect("Dana's folders");
        for user in [PRIYA, SID] {
            dana.entries.push(FolderEntry {
                folder: Folder::Inbox,
                user: user.into(),
                access_rights: vec!["Reviewer".into()],
                sharing_permission_flags: Vec::new(),
            });
        }
    }
    let scan = s.scan(&[]);
    assert_eq!(scan.code, 1, "{}", scan.out.stderr);
    let priya_id = format!("{DANA_ID}/inbox/priya shah (adatum)");
    let sid_id = format!("{DANA_ID}/inbox/{}", SID.to_lowercase());
    assert_eq!(
        scan.findings(DELEGATE_RULE),
        BTreeSet::from([
            (priya_id.clone(), "high".to_owned()),
            (sid_id.clone(), "high".to_owned()),
        ])
    );
    let messages: Vec<&str> = scan.rule(DELEGATE_RULE)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("is a guest account") && m.contains("priya.shah@adatum.example")),
        "{messages:?}"
    );
    // mailbox_folder_open's findings are unchanged: named users are not "everyone".
    assert_eq!(scan.findings(RULE), clean.findings(RULE));

    let allowed = s.scan_with_config(
        "[exchange]\nallowed_delegates = [{ mailbox = \"dana.whitfield@contoso.com\", delegate = \"*@adatum.example\" }]\n",
    );
    assert_eq!(
        allowed.findings(DELEGATE_RULE),
        BTreeSet::from([(sid_id, "high".to_owned())]),
        "{}",
        allowed.out.stderr
    );
}

/// The collected section is the example's, entry for entry: the localised folder paths
/// (found through Get-MailboxFolderStatistics, never guessed as `\Inbox`), the baseline
/// left out, and Mia resolved from the display name Exchange shows to her mailbox.
#[test]
fn collection_finds_localised_folders_and_matches_the_example() {
    let s = Scenario::contoso();
    let snap = s.collect().snapshot;
    assert_eq!(
        snap["sources"]["mailbox_folder_permissions"]["status"],
        "ok"
    );
    let example = harness::read_json(&example("contoso-compromised.json"));
    assert_eq!(
        snap["mailbox_folder_permissions"],
        example["mailbox_folder_permissions"]
    );
    let paths: BTreeSet<&str> = snap["mailbox_folder_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["mailbox_upn"] == HANNAH)
        .filter_map(|p| p["folder_path"].as_str())
        .collect();
    assert_eq!(paths, BTreeSet::from(["\\Kalender", "\\Posteingang"]));
}

/// `fix plan --rule mailbox_folder_open` → apply → re-scan passes; the same plan applied
/// again writes nothing.
#[test]
fn plan_apply_rescan_resets_each_open_folder_once() {
    let s = Scenario::contoso();
    let plan = s.plan(&["--rule", RULE]);
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{plan}");
    assert!(actions
        .iter()
        .all(|a| a["kind"] == "reset_folder_permission"));
    let hannah = actions
        .iter()
        .find(|a| a["target"]["user_principal_name"] == HANNAH)
        .unwrap();
    assert_eq!(hannah["precondition"]["access_rights"], json!(["Reviewer"]));
    assert_eq!(
        hannah["rollback"],
        format!("Set-MailboxFolderPermission -Identity \"{HANNAH}:\\Kalender\" -User Default -AccessRights Reviewer")
    );
    assert!(s.writes().is_empty(), "planning wrote");

    let out = s.apply(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("2 applied, 0 already done"),
        "{}",
        out.stdout
    );
    let log = s.writes();
    let writes: BTreeSet<(String, String, String)> = log
        .iter()
        .map(|w| {
            (
                w.operation.clone(),
                w.target.clone(),
                w.body["AccessRights"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        writes,
        BTreeSet::from([
            (
                "Set-MailboxFolderPermission".to_owned(),
                format!("{DANA}:\\Inbox"),
                "[\"None\"]".to_owned()
            ),
            (
                "Set-MailboxFolderPermission".to_owned(),
                format!("{HANNAH}:\\Kalender"),
                "[\"AvailabilityOnly\"]".to_owned()
            ),
        ])
    );
    assert!(log.iter().all(|w| w.status == 200), "{log:?}");
    let lines = s.audit();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["outcome"], "applied", "{line}");
        assert_eq!(
            line["before"]["definition"]["access_rights"],
            json!(["Reviewer"]),
            "{line}"
        );
    }

    let rescan = s.scan(&[]);
    let stderr = &rescan.out.stderr;
    assert_eq!(rescan.rule(RULE)["status"], "passed", "{stderr}");
    assert_ne!(rescan.code, 3, "{stderr}");

    let writes_before = s.writes().len();
    let again = s.apply(&[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 applied, 2 already done"),
        "{}",
        again.stdout
    );
    assert_eq!(s.writes().len(), writes_before, "a second apply wrote");
}

/// The source failed: the rule is not evaluated and the scan exits 3; the reason says why.
fn assert_incomplete(s: &Scenario, needles: &[&str]) -> Value {
    let scan = s.scan(&[]);
    assert_eq!(scan.code, 3, "{}", scan.out.stderr);
    let outcome = scan.rule(RULE);
    assert_eq!(outcome["status"], "not_evaluated", "{outcome}");
    assert!(outcome["findings"].as_array().is_none_or(|f| f.is_empty()));
    let collected = s.collect();
    assert_eq!(collected.code, 3);
    let snap = collected.snapshot;
    let st = &snap["sources"]["mailbox_folder_permissions"];
    assert_eq!(st["status"], "error", "{st}");
    let reason = st["reason"].as_str().unwrap();
    for needle in needles {
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    assert_eq!(snap["sources"]["mailboxes"]["status"], "ok");
    snap
}

#[test]
fn a_folder_cmdlet_outside_the_apps_role_names_the_role() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        forbid_cmdlets: vec!["Get-MailboxFolderPermission".into()],
        ..Faults::default()
    });
    assert_incomplete(&s, &["Get-MailboxFolderPermission", "403", "Global Reader"]);
}

#[test]
fn a_mailbox_throttled_past_every_retry_makes_the_source_incomplete() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        throttle_folders_mailbox: Some(DANA.into()),
        retry_after: Some("0".into()),
        ..Faults::default()
    });
    let snap = assert_incomplete(&s, &[DANA, "for 1 of", "429"]);
    // The other mailboxes' entries are kept; Dana's is not invented.
    let ids: Vec<&str> = snap["mailbox_folder_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.iter().any(|i| i.starts_with(HANNAH_ID)), "{ids:?}");
    assert!(!ids.iter().any(|i| i.starts_with(DANA_ID)), "{ids:?}");
}

#[test]
fn one_failing_mailbox_makes_the_source_incomplete() {
    let s = Scenario::contoso();
    s.emu.set_faults(Faults {
        fail_folders_mailbox: Some(HANNAH.into()),
        ..Faults::default()
    });
    let snap = assert_incomplete(&s, &[HANNAH, "for 1 of", "500"]);
    let ids: Vec<&str> = snap["mailbox_folder_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, [format!("{DANA_ID}/inbox/default")]);
}

/// The emulator is as strict as the reference pages: mandatory parameters, enumerations,
/// localised folder names (an English name on a German mailbox is not found), entries that
/// must exist, calendar-only roles.
#[test]
fn emulator_enforces_the_documented_parameter_sets() {
    let emu = start();
    let (tokens, agent) = crate::harness::emulator_tokens(&emu);
    let exo = ExchangeClient::new(&tokens, agent);
    let refused = |cmdlet: &str, params: Value, needle: &str| {
        let err = exo.invoke(cmdlet, params.clone()).unwrap_err().to_string();
        assert!(err.contains(needle), "{cmdlet} {params}: {err}");
    };
    refused(
        "Get-MailboxFolderPermission",
        json!({}),
        "mandatory parameters: Identity",
    );
    refused(
        "Get-MailboxFolderStatistics",
        json!({"Identity": HANNAH, "FolderScope": "Posteingang"}),
        "FolderScope",
    );
    refused(
        "Get-MailboxFolderPermission",
        json!({"Identity": format!("{HANNAH}:\\Calendar")}),
        "couldn't be found",
    );
    refused(
        "Get-MailboxFolderPermission",
        json!({"Identity": format!("{HANNAH}:\\Kalender"), "User": "nobody@contoso.com"}),
        "no existing permission entry",
    );
    refused(
        "Set-MailboxFolderPermission",
        json!({"Identity": format!("{DANA}:\\Inbox"), "User": "Default"}),
        "mandatory parameters: AccessRights",
    );
    refused(
        "Set-MailboxFolderPermission",
        json!({"Identity": format!("{DANA}:\\Inbox"), "User": "Default", "AccessRights": ["AvailabilityOnly"]}),
        "only valid for calendar folders",
    );
    refused(
        "Set-MailboxFolderPermission",
        json!({"Identity": format!("{DANA}:\\Inbox"), "User": "Default", "AccessRights": ["Reader"]}),
        "AccessRights",
    );
    refused(
        "Get-MailboxFolderPermission",
        json!({"Identity": format!("{DANA}:\\"), "Bogus": 1}),
        "Bogus",
    );

    // The German mailbox: the statistics name the folders, the permissions use them.
    let stats = exo
        .invoke(
            "Get-MailboxFolderStatistics",
            json!({"Identity": HANNAH, "FolderScope": "Inbox"}),
        )
        .unwrap();
    let inbox: Vec<(&str, &str)> = stats
        .iter()
        .filter_map(|r| Some((r["FolderType"].as_str()?, r["FolderPath"].as_str()?)))
        .collect();
    assert_eq!(
        inbox,
        [
            ("Inbox", "/Posteingang"),
            ("User Created", "/Posteingang/Invoices")
        ]
    );
    let rows = exo
        .invoke(
            "Get-MailboxFolderPermission",
            json!({"Identity": format!("{HANNAH}:\\Kalender")}),
        )
        .unwrap();
    let users: BTreeSet<(&str, String)> = rows
        .iter()
        .filter_map(|r| Some((r["User"].as_str()?, r["AccessRights"].to_string())))
        .collect();
    assert_eq!(
        users,
        BTreeSet::from([
            ("Anonymous", "[\"None\"]".to_owned()),
            ("Default", "[\"Reviewer\"]".to_owned())
        ])
    );
    // Set changes the entry; a calendar delegate flag needs Editor.
    exo.invoke(
        "Set-MailboxFolderPermission",
        json!({"Identity": format!("{HANNAH}:\\Kalender"), "User": "Default", "AccessRights": ["LimitedDetails"]}),
    )
    .unwrap();
    let after = exo
        .invoke(
            "Get-MailboxFolderPermission",
            json!({"Identity": format!("{HANNAH}:\\Kalender"), "User": "Default"}),
        )
        .unwrap();
    assert_eq!(after[0]["AccessRights"], json!(["LimitedDetails"]));
    refused(
        "Set-MailboxFolderPermission",
        json!({"Identity": format!("{HANNAH}:\\Kalender"), "User": "Default", "AccessRights": ["Reviewer"], "SharingPermissionFlags": "Delegate"}),
        "Editor",
    );
}

// ---- remove_folder_permission (named users' entries, #11) -------------------------------

const PRIYA: &str = "Priya Shah (Adatum)";
const DELETED_SID: &str = "NT:S-1-5-21-2740581204-1834557290-3141592653-7001";

/// Gives `user` these rights on Dana's Inbox in the emulator (as an attacker would).
fn grant_on_danas_inbox(s: &Scenario, user: &str, rights: &[&str]) {
    let mut st = s.emu.state();
    let guid = st
        .mailboxes
        .iter()
        .find(|m| m.external_directory_object_id == DANA_ID)
        .expect("Dana's mailbox")
        .guid
        .clone();
    let dana = st.folders.mailboxes.get_mut(&guid).expect("Dana's folders");
    dana.entries
        .retain(|e| !(e.folder == Folder::Inbox && e.user == user));
    dana.entries.push(FolderEntry {
        folder: Folder::Inbox,
        user: user.into(),
        access_rights: rights.iter().map(|r| r.to_string()).collect(),
        sharing_permission_flags: Vec::new(),
    });
}

/// The entries of Dana's Inbox as the emulator holds them: (user, rights).
fn danas_inbox(s: &Scenario) -> BTreeSet<(String, Vec<String>)> {
    let st = s.emu.state();
    let guid = &st
        .mailboxes
        .iter()
        .find(|m| m.external_directory_object_id == DANA_ID)
        .expect("Dana's mailbox")
        .guid;
    st.folders.mailboxes[guid]
        .entries
        .iter()
        .filter(|e| e.folder == Folder::Inbox)
        .map(|e| (e.user.clone(), e.access_rights.clone()))
        .collect()
}

fn removes(s: &Scenario) -> Vec<(String, String, u16)> {
    s.writes()
        .iter()
        .filter(|w| w.operation == "Remove-MailboxFolderPermission")
        .map(|w| {
            (
                w.target.clone(),
                w.body["User"].as_str().unwrap_or_default().to_owned(),
                w.status,
            )
        })
        .collect()
}

/// plan → apply → re-scan: the guest's and the deleted account's entries are removed
/// (found again in the Inbox by folder type), nothing else; the evidence keeps each entry;
/// a second apply writes nothing.
#[test]
fn plan_apply_rescan_removes_named_users_entries_once() {
    let s = Scenario::contoso();
    let before = s.scan(&[]);
    grant_on_danas_inbox(&s, PRIYA, &["Reviewer"]);
    grant_on_danas_inbox(&s, DELETED_SID, &["Reviewer"]);
    let plan = s.plan(&["--rule", DELEGATE_RULE]);
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{plan}");
    assert!(actions
        .iter()
        .all(|a| a["kind"] == "remove_folder_permission"));
    let priya = actions
        .iter()
        .find(|a| a["target"]["id"] == format!("{DANA_ID}/inbox/priya shah (adatum)"))
        .unwrap();
    assert_eq!(
        priya["precondition"],
        json!({"access_rights": ["Reviewer"], "sharing_permission_flags": []})
    );
    assert_eq!(
        priya["rollback"],
        format!("Add-MailboxFolderPermission -Identity \"{DANA}:\\Inbox\" -User \"priya shah (adatum)\" -AccessRights Reviewer")
    );
    assert!(s.writes().is_empty(), "planning wrote");

    let out = s.apply(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("2 applied, 0 already done"),
        "{}",
        out.stdout
    );
    let inbox = format!("{DANA}:\\Inbox");
    assert_eq!(
        removes(&s).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            (inbox.clone(), PRIYA.to_owned(), 200),
            (inbox.clone(), DELETED_SID.to_owned(), 200),
        ])
    );
    assert_eq!(
        s.writes().len(),
        2,
        "only the two removals: {:?}",
        s.writes()
    );
    for line in s.audit() {
        assert_eq!(line["outcome"], "applied", "{line}");
        let def = &line["before"]["definition"];
        assert_eq!(def["access_rights"], json!(["Reviewer"]), "{line}");
        assert!(def["user"] == PRIYA || def["user"] == DELETED_SID, "{line}");
        assert_eq!(def["identity"], inbox, "{line}");
    }
    // Dana's Default and Anonymous entries are left as they were.
    let users: BTreeSet<String> = danas_inbox(&s).into_iter().map(|(u, _)| u).collect();
    assert_eq!(
        users,
        BTreeSet::from(["Anonymous".to_owned(), "Default".to_owned()])
    );

    let rescan = s.scan(&[]);
    assert_eq!(
        rescan.rule(DELEGATE_RULE)["status"],
        "passed",
        "{}",
        rescan.out.stderr
    );
    assert_eq!(rescan.findings(RULE), before.findings(RULE));

    let writes_before = s.writes().len();
    let again = s.apply(&[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 applied, 2 already done"),
        "{}",
        again.stdout
    );
    assert_eq!(s.writes().len(), writes_before, "a second apply wrote");
}

/// The plan's rollback, run as written (`Add-MailboxFolderPermission` with the rights the
/// plan saw), brings the entry — and the finding — back.
#[test]
fn the_rollback_re_adds_the_entry_with_its_rights() {
    let s = Scenario::contoso();
    grant_on_danas_inbox(&s, PRIYA, &["Reviewer"]);
    let plan = s.plan(&["--rule", DELEGATE_RULE]);
    let rollback = plan["actions"][0]["rollback"].as_str().unwrap().to_owned();
    let out = s.apply(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!danas_inbox(&s).iter().any(|(u, _)| u == PRIYA));

    // The rollback text's parameters, passed as the admin would type them.
    let quoted: Vec<&str> = rollback.split('"').collect();
    let (identity, user) = (quoted[1], quoted[3]);
    let rights = rollback.rsplit(' ').next().unwrap();
    assert!(rollback.starts_with("Add-MailboxFolderPermission -Identity "));
    let (tokens, agent) = crate::harness::emulator_tokens(&s.emu);
    ExchangeClient::new(&tokens, agent)
        .invoke(
            "Add-MailboxFolderPermission",
            json!({"Identity": identity, "User": user, "AccessRights": rights}),
        )
        .unwrap();
    assert!(danas_inbox(&s).contains(&(PRIYA.to_owned(), vec!["Reviewer".to_owned()])));
    let rescan = s.scan(&[]);
    assert_eq!(
        rescan.finding_ids(DELEGATE_RULE),
        BTreeSet::from([format!("{DANA_ID}/inbox/priya shah (adatum)")])
    );
}

/// An entry whose rights changed after the plan is not removed: apply skips it and says so.
#[test]
fn an_entry_changed_since_the_plan_is_not_removed() {
    let s = Scenario::contoso();
    grant_on_danas_inbox(&s, PRIYA, &["Reviewer"]);
    s.plan(&["--rule", DELEGATE_RULE]);
    grant_on_danas_inbox(&s, PRIYA, &["Editor"]);
    let out = s.apply(&[]);
    assert!(
        out.stdout.contains("0 applied"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let lines = s.audit();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "skipped", "{}", lines[0]);
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("changed since the plan") && detail.contains("Editor"),
        "{detail}"
    );
    assert!(removes(&s).is_empty(), "{:?}", s.writes());
    assert!(danas_inbox(&s).contains(&(PRIYA.to_owned(), vec!["Editor".to_owned()])));
}

/// A deleted account's entry (`NT:S-1-5-21-…`): the reference page does not say which
/// `-User` spelling the service takes, so both are tested — the shown name, and the bare
/// SID after the shown name finds no entry.
#[test]
fn a_deleted_accounts_entry_is_removed_whichever_spelling_the_service_takes() {
    let bare = DELETED_SID.trim_start_matches("NT:");
    let inbox = format!("{DANA}:\\Inbox");
    for (form, expected) in [
        (
            SidUserForm::AsShown,
            vec![(inbox.clone(), DELETED_SID.to_owned(), 200)],
        ),
        (
            SidUserForm::BareSid,
            vec![
                (inbox.clone(), DELETED_SID.to_owned(), 400),
                (inbox.clone(), bare.to_owned(), 200),
            ],
        ),
    ] {
        let s = Scenario::contoso();
        grant_on_danas_inbox(&s, DELETED_SID, &["Reviewer"]);
        s.emu.state().folders.sid_user_form = form;
        s.plan(&["--rule", DELEGATE_RULE]);
        let out = s.apply(&[]);
        assert_eq!(out.code, 0, "{form:?}: {}\n{}", out.stdout, out.stderr);
        assert_eq!(removes(&s), expected, "{form:?}");
        assert!(
            !danas_inbox(&s).iter().any(|(u, _)| u == DELETED_SID),
            "{form:?}"
        );
        let again = s.apply(&[]);
        assert!(
            again.stdout.contains("1 already done"),
            "{form:?}: {}",
            again.stdout
        );
    }
}

/// Without Exchange Administrator the removal fails (the service does not even expose the
/// cmdlet), the audit line names the role, and the entry stays.
#[test]
fn removing_without_exchange_administrator_names_the_role() {
    let s = Scenario::contoso();
    grant_on_danas_inbox(&s, PRIYA, &["Reviewer"]);
    s.plan(&["--rule", DELEGATE_RULE]);
    let mut grants = Grants::full();
    grants
        .directory_roles
        .retain(|r| r != role_ids::EXCHANGE_ADMINISTRATOR);
    s.emu.set_grants(grants);
    let out = s.apply(&["--no-verify"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let lines = s.audit();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "failed", "{}", lines[0]);
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("Remove-MailboxFolderPermission")
            && detail.contains("Exchange Administrator"),
        "{detail}"
    );
    assert!(danas_inbox(&s).contains(&(PRIYA.to_owned(), vec!["Reviewer".to_owned()])));
}

/// Remove- and Add-MailboxFolderPermission as their pages describe them: parameter sets
/// that cannot be mixed, mandatory parameters, an unknown entry, Default/Anonymous, an
/// existing entry, calendar-only roles; Add then Remove round-trips.
#[test]
fn emulator_remove_and_add_follow_their_parameter_sets() {
    let emu = start();
    let (tokens, agent) = crate::harness::emulator_tokens(&emu);
    let exo = ExchangeClient::new(&tokens, agent);
    let inbox = format!("{DANA}:\\Inbox");
    let refused = |cmdlet: &str, params: Value, needle: &str| {
        let err = exo.invoke(cmdlet, params.clone()).unwrap_err().to_string();
        assert!(err.contains(needle), "{cmdlet} {params}: {err}");
    };
    let remove = "Remove-MailboxFolderPermission";
    let add = "Add-MailboxFolderPermission";
    refused(
        remove,
        json!({"Identity": inbox}),
        "mandatory parameters: User",
    );
    refused(
        remove,
        json!({"Identity": inbox, "User": PRIYA, "ResetDelegateUserCollection": true}),
        "Parameter set cannot be resolved",
    );
    refused(
        remove,
        json!({"Identity": inbox, "User": PRIYA, "DomainController": "dc1", "Force": true}),
        "Parameter set cannot be resolved",
    );
    refused(
        remove,
        json!({"Identity": inbox, "User": PRIYA}),
        "no existing permission entry",
    );
    refused(
        remove,
        json!({"Identity": inbox, "User": "Default"}),
        "Set-MailboxFolderPermission",
    );
    refused(
        remove,
        json!({"Identity": inbox, "User": PRIYA, "Bogus": 1}),
        "Bogus",
    );
    refused(
        add,
        json!({"Identity": inbox, "User": "nobody@fabrikam.example", "AccessRights": "Reviewer"}),
        "couldn't be found",
    );
    refused(
        add,
        json!({"Identity": inbox, "User": PRIYA, "AccessRights": "LimitedDetails"}),
        "only valid for calendar folders",
    );
    refused(
        add,
        json!({"Identity": inbox, "User": PRIYA}),
        "mandatory parameters: AccessRights",
    );
    // Added by address, shown by display name; a second Add is refused; Remove by address.
    exo.invoke(
        add,
        json!({"Identity": inbox, "User": "priya.shah@adatum.example", "AccessRights": ["Reviewer"]}),
    )
    .unwrap();
    let rows = exo
        .invoke(
            "Get-MailboxFolderPermission",
            json!({"Identity": inbox, "User": PRIYA}),
        )
        .unwrap();
    assert_eq!(rows[0]["User"], PRIYA);
    assert_eq!(rows[0]["AccessRights"], json!(["Reviewer"]));
    refused(
        add,
        json!({"Identity": inbox, "User": PRIYA, "AccessRights": "Editor"}),
        "existing permission entry",
    );
    exo.invoke(
        remove,
        json!({"Identity": inbox, "User": "priya.shah@adatum.example", "Confirm": false, "SendNotificationToUser": false}),
    )
    .unwrap();
    refused(
        "Get-MailboxFolderPermission",
        json!({"Identity": inbox, "User": PRIYA}),
        "no existing permission entry",
    );
}
