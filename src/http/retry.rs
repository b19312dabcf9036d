//! The retry policy shared by sign-in and both API clients: which transport failures are
//! worth another attempt, how long to wait (back-off with jitter, or the server's
//! `Retry-After`), and how many attempts and how much waiting one request may spend.

use std::time::Duration;

pub const MAX_RETRIES: u32 = 5;

/// The longest one request may spend waiting between retries (`Retry-After` and back-off
/// together); `M365GUARD_MAX_RETRY_SECONDS` overrides it. A server that keeps answering
/// 429 with `Retry-After: 120` cannot hold a request for more than this.
pub const MAX_RETRY_TIME: Duration = Duration::from_secs(300);

pub(crate) fn max_retry_time() -> Duration {
    std::env::var("M365GUARD_MAX_RETRY_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(MAX_RETRY_TIME, Duration::from_secs)
}

/// Whether a transport error is worth retrying: dropped or timed-out connections are;
/// a malformed answer (bad status line or header, CR/LF in a header, TLS failure, an
/// oversized header or body) is the same on every attempt, so it fails at once.
pub(crate) fn is_transient(err: &ureq::Error) -> bool {
    matches!(
        err,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::BodyStalled
    )
}

/// Back-off for retry `attempt` (1-based) when the server gave no `Retry-After`:
/// 1 s doubling (1, 2, 4, … s), capped at 30 s, plus up to 50 % jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = 0.5_f64 * f64::from(1u32 << attempt.min(6));
    let base = base.min(30.0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = f64::from(nanos % 1000) / 1000.0 * base * 0.5;
    Duration::from_secs_f64(base + jitter)
}

/// `Retry-After` as (possibly fractional) seconds, capped at 120 s.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(120.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_fractional() {
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_is_bounded() {
        for a in 1..20 {
            assert!(backoff(a) <= Duration::from_secs(45));
        }
        assert!(backoff(1) >= Duration::from_millis(1000));
    }
}
