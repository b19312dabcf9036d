//! The HTTP layer under sign-in and both API clients (Graph, Exchange): the one agent
//! ([`agent`]: every status handed back, no redirect followed), the retry policy
//! ([`retry`]: which failures are transient, back-off, `Retry-After`), the body-size budget
//! ([`body`]), what a link taken from an answer may make us request ([`links`]: same
//! origin, page ceiling) and the client-side concurrency limits ([`limits`]).
//!
//! It knows nothing of tokens or of either API's errors: [`crate::auth`] builds on it, and
//! [`crate::graph`] and [`crate::exchange`] build on both.

pub mod body;
pub mod limits;
pub mod links;
pub mod retry;

use std::time::Duration;

pub use body::{MAX_BODY_BYTES, MAX_IN_FLIGHT_BYTES};
pub(crate) use links::shown_link;
pub use links::{max_pages, same_origin, MAX_PAGES};
pub(crate) use retry::is_transient;
pub use retry::{backoff, parse_retry_after, MAX_RETRIES, MAX_RETRY_TIME};

use limits::{Limits, DEFAULT_CONCURRENCY};

/// An HTTP agent that hands every status back to us (the retry loop decides). The idle
/// pool is as large as the widest fan-out, so concurrent workers reuse connections instead
/// of opening a new one per request. It follows no redirect (ureq follows up to 10 by
/// default): a 3xx comes back as a response, and the Graph/Exchange clients and the token
/// request treat it as a permanent error, so no token or secret is sent anywhere else.
pub fn agent() -> ureq::Agent {
    let pool = 2 * DEFAULT_CONCURRENCY.max(Limits::from_env().concurrency());
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(120)))
        .max_idle_connections(pool)
        .max_idle_connections_per_host(pool)
        .user_agent(concat!("m365guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// A raw response that passed the retry loop.
pub struct Reply {
    pub status: u16,
    pub request_id: String,
    pub body: String,
}

pub(crate) fn new_guid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let x = (t as u64) ^ (n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ u64::from(std::process::id());
    let y = x.rotate_left(29).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ n;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        (x & 0xfff) as u16,
        (y >> 52) as u16 & 0xfff,
        y & 0xffff_ffff_ffff
    )
}
