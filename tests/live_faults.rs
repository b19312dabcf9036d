//! Issue #3, reliability: every fault kind of the tenant emulator against the real
//! `m365guard collect` binary over HTTP on 127.0.0.1 (scenario `contoso`). For each fault
//! the run either recovers with a snapshot identical to a fault-free collection of the
//! same scenario, or marks the affected sources `error` and exits 3 — never exit 0 with
//! missing data, never a loop, never a duplicated item.
//!
//! Faults already covered by `tests/live.rs` (429 with Retry-After and in-batch 429,
//! `drop_next`/`truncate_next`, Exchange truncation and expired cursors, licences, 1 rps)
//! are not repeated here.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use m365guard::snapshot::model::{RuleSource, Snapshot, SourceId, SourceState};
use m365guard_emulator::{spawn, Emulator, EmulatorConfig, Faults, Grants};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn start() -> Emulator {
    let cfg =
        EmulatorConfig::from_scenario_file(&root().join("tests/emulator/scenarios/contoso.toml"))
            .unwrap();
    spawn(cfg).unwrap()
}

struct Run {
    code: i32,
    stderr: String,
    snapshot_text: Option<String>,
    elapsed: Duration,
}

impl Run {
    fn snapshot(&self) -> Snapshot {
        let text = self
            .snapshot_text
            .as_deref()
            .unwrap_or_else(|| panic!("no snapshot written; stderr:\n{}", self.stderr));
        m365guard::snapshot::io::parse(Path::new("out.json"), text).unwrap()
    }
}

/// `m365guard collect` against the emulator. A watchdog kills a run that takes longer
/// than a minute: "never loops forever" must fail the test, not hang it.
fn collect(emu: &Emulator) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    let started = Instant::now();
    let mut child = crate::harness::command()
        .arg("collect")
        .arg("-o")
        .arg(&out)
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("M365GUARD_CONCURRENCY")
        .env("AZURE_TENANT_ID", emu.tenant_id())
        .env("AZURE_CLIENT_ID", emu.client_id())
        .env("AZURE_CLIENT_SECRET", emu.client_secret().unwrap())
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut { stderr_pipe }, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "collect did not finish within 60 s (a retry or paging loop?); stderr:\n{}",
                reader.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stderr = reader.join().unwrap();
    eprintln!("collect: exit {:?} in {elapsed:.2?}", status.code());
    Run {
        code: status.code().unwrap_or(-1),
        stderr,
        snapshot_text: std::fs::read_to_string(&out).ok(),
        elapsed,
    }
}

/// A fault-free collection of the scenario: the reference every faulty run is held to.
fn clean(emu: &Emulator) -> Snapshot {
    let run = collect(emu);
    assert_eq!(run.code, 0, "the fault-free run must pass:\n{}", run.stderr);
    let snap = run.snapshot();
    for source in SourceId::ALL {
        assert_eq!(snap.sources[&source].status, SourceState::Ok, "{source}");
    }
    assert_no_duplicates(&snap);
    snap
}

/// Copied from `tests/live.rs`: the snapshot with what differs between two collections
/// normalised away (collection metadata; for Graph-sourced rules, the ids Graph gives).
fn comparable(mut snap: Snapshot, reference: &Snapshot) -> Snapshot {
    snap.collection = reference.collection.clone();
    for rule in &mut snap.inbox_rules {
        let graph_sourced = reference.inbox_rules.iter().any(|r| {
            r.mailbox_upn == rule.mailbox_upn
                && r.name == rule.name
                && r.source == RuleSource::Graph
        });
        if graph_sourced || rule.source == RuleSource::Graph {
            rule.id = format!("{}/{}", rule.mailbox_id, rule.name);
            rule.rule_id = rule.name.clone();
            rule.source = RuleSource::Exchange;
            rule.exchange_identity = None;
            for f in [
                rule.actions.move_to_folder.as_mut(),
                rule.actions.copy_to_folder.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                f.id = String::new();
            }
        }
    }
    snap.inbox_rules
        .sort_by(|a, b| (&a.mailbox_upn, &a.name).cmp(&(&b.mailbox_upn, &b.name)));
    snap
}

/// Ids are unique within every section: a retried page or request never adds an item twice.
fn assert_no_duplicates(snap: &Snapshot) {
    fn unique<'a>(section: &str, ids: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for id in ids {
            assert!(seen.insert(id), "{section}: `{id}` appears twice");
        }
    }
    unique("users", snap.users.iter().map(|x| x.id.as_str()));
    unique("mailboxes", snap.mailboxes.iter().map(|x| x.id.as_str()));
    unique(
        "inbox_rules",
        snap.inbox_rules.iter().map(|x| x.id.as_str()),
    );
    unique(
        "roles.definitions",
        snap.roles.definitions.iter().map(|x| x.id.as_str()),
    );
    unique(
        "roles.assignments",
        snap.roles.assignments.iter().map(|x| x.id.as_str()),
    );
    unique(
        "roles.eligible_assignments",
        snap.roles
            .eligible_assignments
            .iter()
            .map(|x| x.id.as_str()),
    );
    unique(
        "outbound_spam.policies",
        snap.outbound_spam.policies.iter().map(|x| x.id.as_str()),
    );
    unique(
        "outbound_spam.restricted_senders",
        snap.outbound_spam
            .restricted_senders
            .iter()
            .map(|x| x.id.as_str()),
    );
    unique(
        "conditional_access.policies",
        snap.conditional_access
            .policies
            .iter()
            .map(|x| x.id.as_str()),
    );
    unique(
        "risky_users",
        snap.risky_users.iter().map(|x| x.id.as_str()),
    );
    unique(
        "tenant.verified_domains",
        snap.tenant.verified_domains.iter().map(String::as_str),
    );
}

/// Section by section first (readable failures), then the whole normalised snapshot.
fn assert_identical(got: &Snapshot, want: &Snapshot) {
    assert_eq!(got.sources, want.sources);
    assert_eq!(got.tenant, want.tenant);
    assert_eq!(got.users, want.users);
    assert_eq!(got.mailboxes, want.mailboxes);
    assert_eq!(got.inbox_rules, want.inbox_rules);
    assert_eq!(got.roles, want.roles);
    assert_eq!(got.outbound_spam, want.outbound_spam);
    assert_eq!(got.security_defaults, want.security_defaults);
    assert_eq!(got.conditional_access, want.conditional_access);
    assert_eq!(got.risky_users, want.risky_users);
    assert_eq!(
        comparable(got.clone(), want),
        comparable(want.clone(), want)
    );
}

/// The run recovered completely: exit 0 and the fault-free snapshot.
fn assert_recovered(run: &Run, want: &Snapshot) {
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let got = run.snapshot();
    assert_no_duplicates(&got);
    assert_identical(&got, want);
}

/// Which sources feed each section: a section may only differ from the fault-free run when
/// one of its sources is not `ok`.
fn sections(snap: &Snapshot) -> BTreeMap<&'static str, (Vec<SourceId>, serde_json::Value)> {
    use SourceId::*;
    fn v<T: serde::Serialize>(x: &T) -> serde_json::Value {
        serde_json::to_value(x).unwrap()
    }
    BTreeMap::from([
        ("tenant", (vec![Organization], v(&snap.tenant))),
        (
            "users",
            (
                vec![Users, SignInActivity, MfaRegistration, PerUserMfa],
                v(&snap.users),
            ),
        ),
        ("mailboxes", (vec![Mailboxes], v(&snap.mailboxes))),
        (
            "inbox_rules",
            (vec![Mailboxes, InboxRules], v(&snap.inbox_rules)),
        ),
        ("roles", (vec![Roles, RoleEligibility], v(&snap.roles))),
        (
            "outbound_spam.policies",
            (vec![OutboundSpamPolicies], v(&snap.outbound_spam.policies)),
        ),
        (
            "outbound_spam.restricted_senders",
            (
                vec![RestrictedSenders, Mailboxes, Users],
                v(&snap.outbound_spam.restricted_senders),
            ),
        ),
        (
            "security_defaults",
            (vec![SecurityDefaults], v(&snap.security_defaults)),
        ),
        (
            "conditional_access",
            (vec![ConditionalAccess], v(&snap.conditional_access)),
        ),
        ("risky_users", (vec![RiskyUsers], v(&snap.risky_users))),
    ])
}

/// The acceptance rule for faults that may defeat every retry: either recovered (exit 0,
/// identical), or exit 3 with the failed sources `error` (with a reason) and every section
/// whose sources are all `ok` identical to the fault-free run. Never exit 0 with a
/// difference, never a duplicate. Returns the sources in error.
fn assert_recovered_or_marked(run: &Run, want: &Snapshot) -> Vec<SourceId> {
    let got = run.snapshot();
    assert_no_duplicates(&got);
    let errors: Vec<SourceId> = SourceId::ALL
        .into_iter()
        .filter(|s| got.sources[s].status != SourceState::Ok)
        .collect();
    if errors.is_empty() {
        assert_recovered(run, want);
        return errors;
    }
    assert_eq!(run.code, 3, "sources not ok: {errors:?}\n{}", run.stderr);
    for s in &errors {
        let st = &got.sources[s];
        assert_eq!(st.status, SourceState::Error, "{s}: {st:?}");
        assert!(
            st.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "{s}: {st:?}"
        );
        assert!(run.stderr.contains(s.as_str()), "{s}:\n{}", run.stderr);
    }
    let (got_sections, want_sections) = (sections(&got), sections(want));
    for (name, (sources, value)) in &got_sections {
        if sources.iter().all(|s| !errors.contains(s)) {
            assert_eq!(
                value, &want_sections[name].1,
                "{name} differs although its sources are ok"
            );
        }
    }
    errors
}

#[test]
fn fixed_and_jittered_latency_gives_the_same_snapshot() {
    let emu = start();
    let want = clean(&emu);
    // 20 ms ± 15 ms on every request, token endpoint included.
    emu.set_faults(Faults {
        latency_ms: 5,
        jitter_ms: 30,
        ..Faults::default()
    });
    let run = collect(&emu);
    assert_recovered(&run, &want);
}

/// Collect repeatedly under the current faults until `fired` says the faults showed up in
/// the requests of the runs so far (at most `max_runs`; a run the fault missed is cheap).
/// Every run is held to `check`. Returns the number of runs.
fn collect_until_fired(
    emu: &Emulator,
    max_runs: usize,
    mut check: impl FnMut(&Run),
    fired: impl Fn(&[m365guard_emulator::RequestRecord], usize) -> bool,
) -> usize {
    let before = emu.requests().len();
    for n in 1..=max_runs {
        let run = collect(emu);
        check(&run);
        if fired(&emu.requests()[before..], n) {
            return n;
        }
    }
    panic!("the fault never fired in {max_runs} runs");
}

#[test]
fn throttling_without_retry_after_backs_off_and_recovers() {
    let emu = start();
    let want = clean(&emu);
    // A low rate (the client's own back-off starts at 1-1.5 s): about 2 of the ~50 requests
    // of a run are throttled. No Retry-After header: the client must back off by itself.
    emu.set_faults(Faults {
        rate_429: 0.04,
        retry_after: None,
        ..Faults::default()
    });
    let runs = collect_until_fired(
        &emu,
        5,
        |run| {
            assert_recovered(run, &want);
        },
        |requests, _| requests.iter().any(|r| r.status == 429),
    );
    eprintln!("429 fired within {runs} run(s)");
}

#[test]
fn batch_item_throttling_without_retry_after_recovers() {
    let emu = start();
    let want = clean(&emu);
    let before = emu.requests().len();
    let batches = |requests: &[m365guard_emulator::RequestRecord]| {
        requests
            .iter()
            .filter(|r| r.path.ends_with("/$batch"))
            .count()
    };
    let per_run = batches(&emu.requests());
    assert!(per_run > 0, "per-user MFA is batched");
    // Per-user MFA items answer 429 without Retry-After: only they are resent, after the
    // client's own back-off.
    emu.set_faults(Faults {
        batch_item_429_rate: 0.1,
        retry_after: None,
        ..Faults::default()
    });
    let runs = collect_until_fired(
        &emu,
        5,
        |run| {
            assert_recovered(run, &want);
        },
        |requests, runs| batches(requests) > per_run * runs,
    );
    let resent = batches(&emu.requests()[before..]) - per_run * runs;
    eprintln!("{resent} $batch round(s) resent for throttled items in {runs} run(s)");
}

#[test]
fn service_unavailable_bursts_recover_to_the_same_snapshot() {
    let emu = start();
    let want = clean(&emu);
    let before = emu.requests().len();
    // The first three API requests of the run (Graph and Exchange) answer 503.
    emu.set_faults(Faults {
        burst_503: 3,
        ..Faults::default()
    });
    let run = collect(&emu);
    assert_recovered(&run, &want);
    let unavailable: Vec<String> = emu.requests()[before..]
        .iter()
        .filter(|r| r.status == 503)
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(unavailable.len(), 3, "{unavailable:?}");
    eprintln!("503 for {unavailable:?}");
    assert_eq!(emu.faults().burst_503, 0);
}

#[test]
fn random_drops_and_truncations_recover_or_mark_sources_error() {
    let emu = start();
    let want = clean(&emu);
    let before = emu.requests().len();
    emu.set_faults(Faults {
        drop_rate: 0.03,
        truncate_rate: 0.03,
        ..Faults::default()
    });
    let mut errors = Vec::new();
    let runs = collect_until_fired(
        &emu,
        6,
        |run| errors.extend(assert_recovered_or_marked(run, &want)),
        |requests, _| {
            let fired = |kind: &str| requests.iter().any(|r| r.fault.as_deref() == Some(kind));
            fired("drop") && fired("truncate")
        },
    );
    let faults = emu.requests()[before..]
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    eprintln!("{faults} transport faults in {runs} run(s); sources in error: {errors:?}");
}

#[test]
fn token_expiry_mid_run_refreshes_and_gives_the_same_snapshot() {
    let emu = start();
    let want = clean(&emu);
    let before = emu.requests().len();
    // Slow enough that the run is still going when every token is revoked.
    emu.set_faults(Faults {
        latency_ms: 60,
        ..Faults::default()
    });
    let run = std::thread::scope(|s| {
        let expirer = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            emu.expire_all_tokens();
        });
        let run = collect(&emu);
        expirer.join().unwrap();
        run
    });
    assert!(
        run.elapsed > Duration::from_millis(600),
        "the run ended before the tokens expired: {:?}",
        run.elapsed
    );
    assert_recovered(&run, &want);
    let requests = &emu.requests()[before..];
    let unauthorized = requests.iter().filter(|r| r.status == 401).count();
    assert!(unauthorized > 0, "no request ever saw the expired token");
    let token_calls = requests
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count();
    // Graph and Exchange signed in once each, then signed in again after the expiry.
    assert!(token_calls >= 3, "{token_calls} token requests");
    eprintln!("{unauthorized} requests answered 401, {token_calls} token requests");
}

#[test]
fn per_mailbox_limit_of_four_is_never_reached() {
    let emu = start();
    let want = clean(&emu);
    // Latency keeps requests in flight long enough to overlap if the client let them.
    emu.set_faults(Faults {
        latency_ms: 15,
        mailbox_concurrency_limit: 4,
        ..Faults::default()
    });
    let run = collect(&emu);
    assert_recovered(&run, &want);
    assert_eq!(emu.mailbox_throttled(), 0, "the emulator had to throttle");
    // The client allows itself at most 3 per mailbox (Microsoft's limit is 4).
    let peak = emu.mailbox_peak_inflight();
    assert!(
        (1..=3).contains(&peak),
        "peak in flight per mailbox: {peak}"
    );
    eprintln!("peak requests in flight for one mailbox: {peak}");
    let inbox_rule_calls = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/InvokeCommand"))
        .count();
    assert!(inbox_rule_calls > want.mailboxes.len());
}

#[test]
fn a_mailbox_that_always_fails_marks_inbox_rules_error_and_scan_exits_3() {
    let emu = start();
    let want = clean(&emu);
    let victim = "lena.fischer@contoso.com";
    assert!(want.inbox_rules.iter().any(|r| r.mailbox_upn == victim));
    emu.set_faults(Faults {
        fail_mailbox: Some(victim.into()),
        ..Faults::default()
    });
    let run = collect(&emu);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let errors = assert_recovered_or_marked(&run, &want);
    assert_eq!(errors, [SourceId::InboxRules]);
    let got = run.snapshot();
    let st = &got.sources[&SourceId::InboxRules];
    let reason = st.reason.as_deref().unwrap();
    for needle in [victim, "Get-InboxRule failed for 1 of", "HTTP 500"] {
        assert!(reason.contains(needle), "{needle}: {reason}");
    }
    assert!(run.stderr.contains(victim), "{}", run.stderr);
    // The other mailboxes' rules are kept, the victim's are not invented.
    let others: Vec<_> = want
        .inbox_rules
        .iter()
        .filter(|r| r.mailbox_upn != victim)
        .cloned()
        .collect();
    assert_eq!(got.inbox_rules, others);
    assert_eq!(st.items, others.len() as u64);

    // A scan of that snapshot must not pass: exit 3, never 0.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.json");
    std::fs::write(&file, run.snapshot_text.as_deref().unwrap()).unwrap();
    let out = dir.path().join("report");
    let scan = crate::harness::command()
        .args(["scan", "--snapshot"])
        .arg(&file)
        .args(["-f", "json", "-q", "--out"])
        .arg(&out)
        .env_remove("AZURE_TENANT_ID")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&scan.stderr);
    assert_eq!(scan.status.code(), Some(3), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("m365guard.json")).unwrap())
            .unwrap();
    let inbox_rule_statuses: Vec<String> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["id"]
                .as_str()
                .or(r["rule_id"].as_str())
                .is_some_and(|id| id.starts_with("inbox_rule_"))
        })
        .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(!inbox_rule_statuses.is_empty(), "{report}");
    assert!(
        inbox_rule_statuses.iter().all(|s| s != "passed"),
        "{inbox_rule_statuses:?}"
    );
}

/// Remove `permission` and collect: the source fails naming the permission and the
/// endpoint (in the snapshot and on stderr), exit 3, every other source still `ok`.
fn missing_permission(permission: &str, source: SourceId, endpoint: &str) {
    let emu = start();
    let want = clean(&emu);
    let mut grants = Grants::full();
    let before = grants.graph.len();
    grants.graph.retain(|g| g != permission);
    assert_eq!(grants.graph.len(), before - 1, "{permission} not granted");
    emu.set_grants(grants);
    let run = collect(&emu);
    let errors = assert_recovered_or_marked(&run, &want);
    assert_eq!(errors, [source], "{}", run.stderr);
    let got = run.snapshot();
    let reason = got.sources[&source].reason.clone().unwrap();
    for needle in [permission, endpoint] {
        assert!(reason.contains(needle), "{needle}: {reason}");
        assert!(run.stderr.contains(needle), "{needle}:\n{}", run.stderr);
    }
}

#[test]
fn missing_risky_user_permission_names_permission_and_endpoint() {
    missing_permission(
        "IdentityRiskyUser.Read.All",
        SourceId::RiskyUsers,
        "/v1.0/identityProtection/riskyUsers",
    );
}

#[test]
fn missing_organization_permission_names_permission_and_endpoint() {
    missing_permission(
        "Organization.Read.All",
        SourceId::Organization,
        "/v1.0/organization",
    );
}

#[test]
fn missing_exchange_manage_as_app_names_permission_and_endpoint() {
    let emu = start();
    let want = clean(&emu);
    let mut grants = Grants::full();
    grants.exchange_manage_as_app = false;
    emu.set_grants(grants);
    let run = collect(&emu);
    let errors = assert_recovered_or_marked(&run, &want);
    // Every Exchange source fails; the Graph sources complete.
    assert!(errors.contains(&SourceId::Mailboxes), "{errors:?}");
    assert!(
        errors.contains(&SourceId::OutboundSpamPolicies),
        "{errors:?}"
    );
    for s in [
        SourceId::Users,
        SourceId::Roles,
        SourceId::ConditionalAccess,
        SourceId::RiskyUsers,
    ] {
        assert!(!errors.contains(&s), "{s}: {errors:?}");
    }
    let got = run.snapshot();
    let reason = got.sources[&SourceId::Mailboxes].reason.clone().unwrap();
    for needle in ["Exchange.ManageAsApp", "InvokeCommand Get-Mailbox"] {
        assert!(reason.contains(needle), "{needle}: {reason}");
        assert!(run.stderr.contains(needle), "{needle}:\n{}", run.stderr);
    }
}

/// Issue 15 item 16: users and mailboxes fail to collect (no User.Read.All; an Exchange
/// role that may read blocked senders but not mailboxes), so the blocked sender cannot be
/// linked to its user. The restricted_senders source must say it is incomplete, not stay
/// `ok` with the link silently missing.
#[test]
fn restricted_sender_that_cannot_be_linked_makes_its_source_incomplete() {
    let emu = start();
    let mut grants = Grants::full();
    grants.graph.retain(|p| {
        !matches!(
            p.as_str(),
            "User.Read.All"
                | "User.ReadWrite.All"
                | "Directory.Read.All"
                | "Directory.ReadWrite.All"
        )
    });
    grants.directory_roles = vec![m365guard_emulator::state::role_ids::SECURITY_READER.into()];
    emu.set_grants(grants);
    let run = collect(&emu);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let snap = run.snapshot();
    assert_eq!(snap.sources[&SourceId::Users].status, SourceState::Error);
    assert_eq!(
        snap.sources[&SourceId::Mailboxes].status,
        SourceState::Error
    );
    let senders = &snap.sources[&SourceId::RestrictedSenders];
    assert_eq!(senders.status, SourceState::Error, "{senders:?}");
    let reason = senders.reason.as_deref().unwrap();
    assert!(reason.contains("could not be linked"), "{reason}");
    // The entries themselves are kept (the data is real), only the status says what is missing.
    assert!(!snap.outbound_spam.restricted_senders.is_empty());
    assert!(snap
        .outbound_spam
        .restricted_senders
        .iter()
        .all(|s| s.user_id.is_none()));
}
