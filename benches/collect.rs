//! Live-collection benchmark: the real `m365guard collect` binary against the tenant
//! emulator on 127.0.0.1, serving a synthetic tenant (`m365guard::synthetic`, seed 1, the
//! generator behind `m365guard generate` and the scan benchmark) with injected latency on
//! every request (50 ms by default) and Microsoft's per-mailbox concurrency limit on (4 → 429).
//!
//! Every collected snapshot is checked against the generated one: the same users, guests,
//! users without MFA, mailboxes, forwarding, inbox rules (hidden, forwarding, hiding in RSS
//! Feeds), standing and PIM-eligible admins, restricted senders and risky users. A count
//! that differs means the emulator or the collector lost data, and the bench fails.
//!
//! Two configurations, measured side by side in one run:
//! - **parallel**: the defaults (`$batch` for per-user calls, up to 32 requests in flight
//!   per resource, 3 per mailbox, Graph and Exchange collectors side by side);
//! - **serial**: `M365GUARD_CONCURRENCY=1` — one request at a time, no `$batch`, the way
//!   per-user PowerShell scripts collect.
//!
//! A serial run of 10k users takes ~30 minutes (≈ 31k requests × 50 ms), so by default the
//! serial baseline runs on a smaller tenant (1k users) and the 10k serial time is
//! extrapolated linearly from it (requests and time grow with users; the fixed part is a
//! few pages). The parallel configuration is also measured at the small size, so the
//! same-size ratio is printed too.
//!
//! `cargo bench --bench collect` (release build). Environment:
//! - `M365GUARD_BENCH_USERS=10000` — tenant size of the parallel run;
//! - `M365GUARD_BENCH_SERIAL_USERS=1000` — tenant size of the serial baseline (set it equal
//!   to the first for a measured, not extrapolated, ratio; `0` skips the serial baseline);
//! - `M365GUARD_BENCH_SERVICE_PRINCIPALS=2000` — grow the tenant's enterprise apps to this
//!   many service principals (the generator makes one line-of-business app per 50 users;
//!   each added one is a copy of the last, with its own ids, certificate, consent grant
//!   and application permission); unset or smaller: the generator's apps as they are;
//! - `M365GUARD_BENCH_RUNS=3` — timed runs per configuration (the median is reported);
//! - `M365GUARD_BENCH_LOG=path` — run `collect -v` and keep its log (the last run's) there:
//!   each source's "source collected" line is timestamped, for a per-source breakdown;
//! - `M365GUARD_BENCH_LATENCY_MS=50`, `M365GUARD_BENCH_JITTER_MS=0` — injected latency.
//!
//! Targets (issue #3): 10k users ≤ 60 s, ≥ 15× faster than serial. Informational: the
//! table says PASS or MISS and the bench exits 0 either way; it exits non-zero only when a
//! collection fails (exit code other than 0, or a snapshot with a source not `ok`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use m365guard::snapshot::io;
use m365guard::snapshot::model::{PrincipalType, Snapshot, UserType};
use m365guard::synthetic::{self, SyntheticOptions};
use m365guard_emulator::{spawn, Emulator, EmulatorConfig};

const TARGET_SECONDS: f64 = 60.0;
const TARGET_SPEEDUP: f64 = 15.0;

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| fail(&format!("{name}: {v:?} is not a number"))),
        Err(_) => default,
    }
}

fn fail(message: &str) -> ! {
    eprintln!("bench collect: {message}");
    std::process::exit(2)
}

struct Setup {
    latency_ms: u64,
    jitter_ms: u64,
    service_principals: usize,
}

/// Copies of the tenant's last line-of-business app (service principal, app registration
/// certificate, consent grant, application permission) with new ids, until the tenant has
/// `target` service principals: the volume issue #12 measures collection at.
fn grow_apps(s: &mut Snapshot, target: usize) {
    use m365guard::snapshot::model::SourceId;
    let apps = &mut s.apps;
    let Some(sp) = apps.service_principals.last().cloned() else {
        return;
    };
    let cred = apps
        .credentials
        .iter()
        .find(|c| c.app_id == sp.app_id)
        .cloned();
    let grant = apps
        .consent_grants
        .iter()
        .find(|g| g.client_id == sp.id)
        .cloned();
    let role = apps
        .app_role_assignments
        .iter()
        .find(|a| a.principal_id == sp.id)
        .cloned();
    // Distinct, stable GUID-shaped ids: the first group says what the object is.
    let guid = |kind: u32, i: usize| format!("{kind:08x}-b00c-4e00-8000-{i:012x}");
    let mut i = 0;
    while apps.service_principals.len() < target {
        i += 1;
        let name = format!("Bench App {i:05}");
        let mut copy = sp.clone();
        copy.id = guid(1, i);
        copy.app_id = guid(2, i);
        copy.display_name = name.clone();
        copy.application_id = sp.application_id.as_ref().map(|_| guid(3, i));
        if let (Some(c), Some(owner)) = (&cred, &copy.application_id) {
            let mut c = c.clone();
            c.key_id = guid(4, i);
            c.owner_id = owner.clone();
            c.id = format!("{owner}/{}", c.key_id);
            c.app_id = copy.app_id.clone();
            c.owner_name = name.clone();
            apps.credentials.push(c);
        }
        if let Some(g) = &grant {
            let mut g = g.clone();
            g.id = guid(5, i);
            g.client_id = copy.id.clone();
            apps.consent_grants.push(g);
        }
        if let Some(a) = &role {
            let mut a = a.clone();
            a.id = guid(6, i);
            a.principal_id = copy.id.clone();
            a.principal_name = Some(name);
            apps.app_role_assignments.push(a);
        }
        apps.service_principals.push(copy);
    }
    let counts = [
        (
            SourceId::ServicePrincipals,
            apps.service_principals.len() + apps.credentials.len(),
        ),
        (SourceId::ConsentGrants, apps.consent_grants.len()),
        (
            SourceId::AppRoleAssignments,
            apps.app_role_assignments.len(),
        ),
    ];
    for (id, n) in counts {
        if let Some(st) = s.sources.get_mut(&id) {
            st.items = n as u64;
        }
    }
}

/// The emulator serving a synthetic tenant of `users` users, and that tenant's shape.
fn emulator(users: usize, setup: &Setup) -> (Emulator, Vec<(&'static str, usize)>) {
    let mut snapshot = synthetic::generate(&SyntheticOptions {
        users,
        seed: 1,
        ..SyntheticOptions::default()
    });
    grow_apps(&mut snapshot, setup.service_principals);
    let value = serde_json::to_value(&snapshot).unwrap_or_else(|e| fail(&e.to_string()));
    let mut cfg = EmulatorConfig::from_snapshot_value(&value)
        .unwrap_or_else(|e| fail(&format!("the emulator refused the synthetic snapshot: {e}")));
    cfg.faults.latency_ms = setup.latency_ms;
    cfg.faults.jitter_ms = setup.jitter_ms;
    // Microsoft's limit: a fifth concurrent request to one mailbox is throttled.
    cfg.faults.mailbox_concurrency_limit = 4;
    let emu = spawn(cfg).unwrap_or_else(|e| fail(&format!("cannot start the emulator: {e}")));
    (emu, shape(&snapshot))
}

/// What the collect benchmark and the rules rely on a tenant to have, counted: the weak
/// spots and the volumes that drive the number of requests.
fn shape(s: &Snapshot) -> Vec<(&'static str, usize)> {
    let users = &s.users;
    let rules = &s.inbox_rules;
    let roles = &s.roles;
    vec![
        ("users", users.len()),
        (
            "guests",
            users
                .iter()
                .filter(|u| u.user_type == UserType::Guest)
                .count(),
        ),
        (
            "disabled users",
            users.iter().filter(|u| !u.account_enabled).count(),
        ),
        (
            "enabled users without MFA",
            users
                .iter()
                .filter(|u| u.account_enabled)
                .filter(|u| !u.mfa.as_ref().is_some_and(|m| m.is_mfa_registered))
                .count(),
        ),
        (
            "admins flagged by the MFA report",
            users
                .iter()
                .filter(|u| u.mfa.as_ref().is_some_and(|m| m.is_admin))
                .count(),
        ),
        (
            "users never signed in",
            users.iter().filter(|u| u.last_sign_in.is_none()).count(),
        ),
        ("mailboxes", s.mailboxes.len()),
        (
            "shared mailboxes",
            s.mailboxes
                .iter()
                .filter(|m| m.recipient_type_details == "SharedMailbox")
                .count(),
        ),
        (
            "mailboxes forwarding (SMTP)",
            s.mailboxes
                .iter()
                .filter(|m| m.forwarding_smtp_address.is_some())
                .count(),
        ),
        (
            "mailboxes forwarding (recipient)",
            s.mailboxes
                .iter()
                .filter(|m| m.forwarding_address.is_some())
                .count(),
        ),
        ("inbox rules", rules.len()),
        ("hidden rules", rules.iter().filter(|r| r.hidden).count()),
        (
            "rules forwarding or redirecting",
            rules
                .iter()
                .filter(|r| {
                    let a = &r.actions;
                    !(a.forward_to.is_empty()
                        && a.redirect_to.is_empty()
                        && a.forward_as_attachment_to.is_empty())
                })
                .count(),
        ),
        (
            "rules moving to RSS Feeds",
            rules
                .iter()
                .filter(|r| {
                    r.actions
                        .move_to_folder
                        .as_ref()
                        .is_some_and(|f| f.well_known_name.as_deref() == Some("rssfeeds"))
                })
                .count(),
        ),
        (
            "rules deleting mail",
            rules.iter().filter(|r| r.actions.delete).count(),
        ),
        ("active role assignments", roles.assignments.len()),
        (
            "active assignments to groups",
            roles
                .assignments
                .iter()
                .filter(|a| a.principal_type == PrincipalType::Group)
                .count(),
        ),
        (
            "eligible (PIM) assignments",
            roles.eligible_assignments.len(),
        ),
        (
            "restricted senders",
            s.outbound_spam.restricted_senders.len(),
        ),
        ("risky users", s.risky_users.len()),
        (
            "high-risk users",
            s.risky_users
                .iter()
                .filter(|r| r.risk_level == "high")
                .count(),
        ),
        (
            "conditional access policies",
            s.conditional_access.policies.len(),
        ),
        ("service principals", s.apps.service_principals.len()),
        ("app credentials", s.apps.credentials.len()),
        ("consent grants", s.apps.consent_grants.len()),
        ("application permissions", s.apps.app_role_assignments.len()),
    ]
}

struct Run {
    wall: Duration,
    requests: u64,
}

fn collect_once(
    bin: &Path,
    emu: &Emulator,
    expected: &[(&'static str, usize)],
    concurrency: Option<u32>,
    out: &Path,
) -> Run {
    let before = emu.request_count();
    let mut cmd = Command::new(bin);
    cmd.args(["collect", "-o"])
        .arg(out)
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("M365GUARD_CONCURRENCY")
        .env("AZURE_TENANT_ID", emu.tenant_id())
        .env("AZURE_CLIENT_ID", emu.client_id())
        .env(
            "AZURE_CLIENT_SECRET",
            emu.client_secret().unwrap_or_default(),
        )
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url);
    if let Some(n) = concurrency {
        cmd.env("M365GUARD_CONCURRENCY", n.to_string());
    }
    // Where each source's time goes: `-v` logs a timestamped "source collected" line per
    // source (the Graph and Exchange stages run side by side, each in table order).
    let log = std::env::var_os("M365GUARD_BENCH_LOG");
    if log.is_some() {
        cmd.arg("-v");
    }
    let start = Instant::now();
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("{}: {e}", bin.display())));
    let wall = start.elapsed();
    if let Some(log) = &log {
        std::fs::write(log, &output.stderr).unwrap_or_else(|e| fail(&format!("log: {e}")));
    }
    if output.status.code() != Some(0) {
        fail(&format!(
            "collect exited {:?}:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // A fast but incomplete collection is no result: every source must be `ok`, and the
    // snapshot must hold the tenant that was served.
    let text = std::fs::read_to_string(out).unwrap_or_else(|e| fail(&format!("snapshot: {e}")));
    let snap = io::parse(out, &text).unwrap_or_else(|e| fail(&e.to_string()));
    for (name, st) in &snap.sources {
        if st.status != m365guard::snapshot::model::SourceState::Ok {
            fail(&format!(
                "source {name} is {:?}: {}",
                st.status,
                st.reason.as_deref().unwrap_or_default()
            ));
        }
    }
    let got = shape(&snap);
    let differ: Vec<String> = expected
        .iter()
        .zip(&got)
        .filter(|(e, g)| e != g)
        .map(|((name, e), (_, g))| format!("{name}: generated {e}, collected {g}"))
        .collect();
    if !differ.is_empty() {
        fail(&format!(
            "the collected snapshot differs from the generated tenant:\n  {}",
            differ.join("\n  ")
        ));
    }
    Run {
        wall,
        requests: emu.request_count() - before,
    }
}

struct Measured {
    users: usize,
    label: &'static str,
    median: Duration,
    walls: Vec<Duration>,
    requests: u64,
}

fn measure(
    bin: &Path,
    users: usize,
    label: &'static str,
    concurrency: Option<u32>,
    runs: u64,
    setup: &Setup,
    dir: &Path,
) -> Measured {
    let (emu, expected) = emulator(users, setup);
    let counts: Vec<String> = expected.iter().map(|(n, c)| format!("{n} {c}")).collect();
    eprintln!("  tenant (synthetic, seed 1): {}", counts.join(", "));
    let out = dir.join(format!("{label}-{users}.json"));
    let mut walls = Vec::new();
    let mut requests = 0;
    for i in 0..runs {
        let r = collect_once(bin, &emu, &expected, concurrency, &out);
        eprintln!(
            "  {label:<8} {users:>6} users  run {}/{runs}: {:>8.2} s  {} requests",
            i + 1,
            r.wall.as_secs_f64(),
            r.requests
        );
        walls.push(r.wall);
        requests = r.requests;
    }
    let mut sorted = walls.clone();
    sorted.sort();
    Measured {
        users,
        label,
        median: sorted[sorted.len() / 2],
        walls,
        requests,
    }
}

fn print_rows(rows: &[Measured]) {
    println!();
    println!(
        "{:<10} {:>7} {:>10} {:>10}  runs (s)",
        "config", "users", "median s", "requests"
    );
    for r in rows {
        let runs: Vec<String> = r
            .walls
            .iter()
            .map(|w| format!("{:.2}", w.as_secs_f64()))
            .collect();
        println!(
            "{:<10} {:>7} {:>10.2} {:>10}  {}",
            r.label,
            r.users,
            r.median.as_secs_f64(),
            r.requests,
            runs.join(" ")
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let users = env_num("M365GUARD_BENCH_USERS", 10_000) as usize;
    let serial_users = env_num("M365GUARD_BENCH_SERIAL_USERS", 1_000) as usize;
    let runs = env_num("M365GUARD_BENCH_RUNS", 3).max(1);
    let setup = Setup {
        latency_ms: env_num("M365GUARD_BENCH_LATENCY_MS", 50),
        jitter_ms: env_num("M365GUARD_BENCH_JITTER_MS", 0),
        service_principals: env_num("M365GUARD_BENCH_SERVICE_PRINCIPALS", 0) as usize,
    };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_m365guard"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(&e.to_string()));
    println!(
        "collect benchmark: emulator latency {} ms (+0..{} ms jitter) per request, per-mailbox limit 4, median of {runs}",
        setup.latency_ms, setup.jitter_ms
    );
    let mut rows = vec![measure(
        &bin,
        users,
        "parallel",
        None,
        runs,
        &setup,
        dir.path(),
    )];
    if serial_users != users && serial_users > 0 {
        rows.push(measure(
            &bin,
            serial_users,
            "parallel",
            None,
            runs,
            &setup,
            dir.path(),
        ));
    }
    if serial_users == 0 {
        print_rows(&rows);
        let big_s = rows[0].median.as_secs_f64();
        let verdict = if big_s <= TARGET_SECONDS {
            "PASS"
        } else {
            "MISS"
        };
        println!();
        println!("target {users} users ≤ {TARGET_SECONDS:.0} s      : {big_s:>8.2} s   {verdict}");
        println!("(serial baseline skipped: M365GUARD_BENCH_SERIAL_USERS=0)");
        return;
    }
    rows.push(measure(
        &bin,
        serial_users,
        "serial",
        Some(1),
        runs,
        &setup,
        dir.path(),
    ));

    print_rows(&rows);
    let find = |label: &str, n: usize| rows.iter().find(|r| r.label == label && r.users == n);
    let (Some(big), Some(serial)) = (find("parallel", users), find("serial", serial_users)) else {
        fail("missing measurements");
    };
    let pass = |ok: bool| if ok { "PASS" } else { "MISS" };
    let big_s = big.median.as_secs_f64();
    println!();
    println!(
        "target {users} users ≤ {TARGET_SECONDS:.0} s      : {big_s:>8.2} s   {}",
        pass(big_s <= TARGET_SECONDS)
    );
    // Serial time scales with the tenant (every user and mailbox costs its own requests).
    let scale = users as f64 / serial_users as f64;
    let serial_at_size = serial.median.as_secs_f64() * scale;
    let speedup = serial_at_size / big_s;
    let how = if serial_users == users {
        "measured".to_owned()
    } else {
        format!(
            "serial {serial_users}-user median × {scale:.0} = {serial_at_size:.1} s, extrapolated"
        )
    };
    println!(
        "target speed-up ≥ {TARGET_SPEEDUP:.0}×        : {speedup:>8.1}×   {}  ({how})",
        pass(speedup >= TARGET_SPEEDUP)
    );
    if let Some(small) = find("parallel", serial_users).filter(|_| serial_users != users) {
        println!(
            "same-size speed-up at {serial_users} users: {:.1}× (serial {:.2} s / parallel {:.2} s, both measured)",
            serial.median.as_secs_f64() / small.median.as_secs_f64(),
            serial.median.as_secs_f64(),
            small.median.as_secs_f64()
        );
    }
}
