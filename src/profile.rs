//! Opt-in phase timings for performance work: `M365GUARD_PROFILE=1` prints how long each
//! phase and rule took to stderr. Off by default; costs one env lookup per record.

use std::time::Instant;

pub fn enabled() -> bool {
    std::env::var_os("M365GUARD_PROFILE").is_some_and(|v| v != "0")
}

pub fn record(what: &str, since: Instant) {
    if enabled() {
        eprintln!("[profile] {what}: {:.3} s", since.elapsed().as_secs_f64());
    }
}
