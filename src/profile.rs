//! Opt-in phase timings for performance work: `M365GUARD_PROFILE=1` prints how long each
//! phase and rule took to stderr, with the process's resident memory at that point and its
//! peak so far (Linux: `/proc/self/status`), so a phase that allocates is visible too.
//! Off by default; costs one cached flag check per record.

use std::sync::OnceLock;
use std::time::Instant;

pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        let on = std::env::var_os("M365GUARD_PROFILE").is_some_and(|v| v != "0");
        if on {
            START.get_or_init(Instant::now);
        }
        on
    })
}

/// When profiling began (the first check of `enabled`, early in `main`): each line says how
/// far into the run it was printed, so phases that overlap on threads show as a timeline.
static START: OnceLock<Instant> = OnceLock::new();

fn at() -> String {
    START
        .get()
        .map(|start| format!(" (at {:.3} s)", start.elapsed().as_secs_f64()))
        .unwrap_or_default()
}

/// A start point: wall clock and the calling thread's CPU time, so a phase's own CPU use is
/// visible even on a busy machine where wall time is mostly waiting.
pub struct Mark {
    wall: Instant,
    cpu: Option<u64>,
}

impl Mark {
    pub fn now() -> Mark {
        Mark {
            wall: Instant::now(),
            cpu: enabled().then(thread_cpu_ns).flatten(),
        }
    }

    /// Print the wall and CPU time since the mark (CPU of this thread only).
    pub fn record(&self, what: &str) {
        if !enabled() {
            return;
        }
        let cpu = match (self.cpu, thread_cpu_ns()) {
            (Some(start), Some(now)) => {
                format!(", cpu {:.3} s", now.saturating_sub(start) as f64 / 1e9)
            }
            _ => String::new(),
        };
        eprintln!(
            "[profile] {what}: {:.3} s{cpu}{}{}",
            self.wall.elapsed().as_secs_f64(),
            at(),
            memory()
        );
    }
}

/// Nanoseconds the calling thread has run on a CPU (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn record(what: &str, since: Instant) {
    if enabled() {
        eprintln!(
            "[profile] {what}: {:.3} s{}{}",
            since.elapsed().as_secs_f64(),
            at(),
            memory()
        );
    }
}

/// ", rss X MiB, peak Y MiB" from `/proc/self/status`; empty where that does not exist.
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    let memory = match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(peak)) => format!(", rss {} MiB, peak {} MiB", rss / 1024, peak / 1024),
        _ => String::new(),
    };
    format!("{memory}{}", process_cpu())
}

/// ", process cpu U+S s": user and system CPU of the whole process so far, so the CPU a
/// phase cost on every thread is the difference between two lines.
#[cfg(unix)]
fn process_cpu() -> String {
    // SAFETY: getrusage writes into the zeroed struct we own; no other effect.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return String::new();
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    format!(
        ", process cpu {:.2}+{:.2} s",
        secs(usage.ru_utime),
        secs(usage.ru_stime)
    )
}

#[cfg(not(unix))]
fn process_cpu() -> String {
    String::new()
}
