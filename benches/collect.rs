//! Live-collection benchmark: the real `m365guard collect` binary against the tenant
//! emulator on 127.0.0.1, serving a generated tenant with injected latency on every request
//! (50 ms by default) and Microsoft's per-mailbox concurrency limit on (4 → 429).
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
//!   to the first for a measured, not extrapolated, ratio);
//! - `M365GUARD_BENCH_RUNS=3` — timed runs per configuration (the median is reported);
//! - `M365GUARD_BENCH_LATENCY_MS=50`, `M365GUARD_BENCH_JITTER_MS=0` — injected latency.
//!
//! Targets (issue #3): 10k users ≤ 60 s, ≥ 15× faster than serial. Informational: the
//! table says PASS or MISS and the bench exits 0 either way; it exits non-zero only when a
//! collection fails (exit code other than 0, or a snapshot with a source not `ok`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
}

fn emulator(users: usize, setup: &Setup) -> Emulator {
    let mut cfg = EmulatorConfig::generated(users, 1);
    cfg.faults.latency_ms = setup.latency_ms;
    cfg.faults.jitter_ms = setup.jitter_ms;
    // Microsoft's limit: a fifth concurrent request to one mailbox is throttled.
    cfg.faults.mailbox_concurrency_limit = 4;
    spawn(cfg).unwrap_or_else(|e| fail(&format!("cannot start the emulator: {e}")))
}

struct Run {
    wall: Duration,
    requests: u64,
}

fn collect_once(bin: &Path, emu: &Emulator, concurrency: Option<u32>, out: &Path) -> Run {
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
    let start = Instant::now();
    let output = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("{}: {e}", bin.display())));
    let wall = start.elapsed();
    if output.status.code() != Some(0) {
        fail(&format!(
            "collect exited {:?}:\n{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // A fast but incomplete collection is no result: every source must be `ok`.
    let text = std::fs::read_to_string(out).unwrap_or_else(|e| fail(&format!("snapshot: {e}")));
    let snap: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(&e.to_string()));
    if let Some(sources) = snap["sources"].as_object() {
        for (name, st) in sources {
            if st["status"] != "ok" {
                fail(&format!(
                    "source {name} is {}: {}",
                    st["status"], st["reason"]
                ));
            }
        }
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
    let emu = emulator(users, setup);
    let out = dir.join(format!("{label}-{users}.json"));
    let mut walls = Vec::new();
    let mut requests = 0;
    for i in 0..runs {
        let r = collect_once(bin, &emu, concurrency, &out);
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

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let users = env_num("M365GUARD_BENCH_USERS", 10_000) as usize;
    let serial_users = env_num("M365GUARD_BENCH_SERIAL_USERS", 1_000) as usize;
    let runs = env_num("M365GUARD_BENCH_RUNS", 3).max(1);
    let setup = Setup {
        latency_ms: env_num("M365GUARD_BENCH_LATENCY_MS", 50),
        jitter_ms: env_num("M365GUARD_BENCH_JITTER_MS", 0),
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
    if serial_users != users {
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
    rows.push(measure(
        &bin,
        serial_users,
        "serial",
        Some(1),
        runs,
        &setup,
        dir.path(),
    ));

    println!();
    println!(
        "{:<10} {:>7} {:>10} {:>10}  runs (s)",
        "config", "users", "median s", "requests"
    );
    for r in &rows {
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
