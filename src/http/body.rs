//! Reading an answer's body within bounds: [`MAX_BODY_BYTES`] per answer and a
//! process-wide budget for every body being received at once, so a hostile or broken
//! server cannot make the process hold unbounded memory.

use super::retry::is_transient;

/// The most one answer's body may hold (a Graph page of 999 users is a few MB).
pub const MAX_BODY_BYTES: u64 = 512 << 20;

/// The most all answers being received at once may hold together, unless
/// `M365GUARD_MAX_BODY_MEMORY` (bytes) says otherwise: with 32 requests in flight a
/// per-answer limit alone would still allow 16 GB.
pub const MAX_IN_FLIGHT_BYTES: u64 = 1 << 30;

/// Body bytes currently being received by every request of this process.
static IN_FLIGHT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn max_in_flight() -> u64 {
    std::env::var("M365GUARD_MAX_BODY_MEMORY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(MAX_IN_FLIGHT_BYTES)
}

/// Bytes of [`IN_FLIGHT`] held by one body being read; released when dropped.
struct Reservation(u64);

impl Reservation {
    /// Take `n` more bytes, unless that would pass `max`.
    fn grow(&mut self, n: u64, max: u64) -> bool {
        use std::sync::atomic::Ordering;
        let before = IN_FLIGHT.fetch_add(n, Ordering::SeqCst);
        self.0 += n;
        before + n <= max
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(self.0, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// The connection failed mid-body: worth another attempt.
    Transient(String),
    /// Too large, or malformed: the same on every attempt.
    Permanent(String),
}

/// Read a body within [`MAX_BODY_BYTES`] and the process-wide in-flight budget.
pub(crate) fn read_body(body: &mut ureq::Body, declared: Option<u64>) -> Result<String, BodyError> {
    use std::io::Read;
    let max = max_in_flight();
    if let Some(len) = declared.filter(|len| *len > MAX_BODY_BYTES.min(max)) {
        return Err(BodyError::Permanent(format!(
            "the answer announces {len} bytes, more than an answer may hold ({} bytes; 512 MiB each, M365GUARD_MAX_BODY_MEMORY for all in flight); not read",
            MAX_BODY_BYTES.min(max)
        )));
    }
    let mut reservation = Reservation(0);
    let mut reader = body.with_config().limit(MAX_BODY_BYTES).reader();
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>());
                return Err(match inner {
                    Some(u) if !is_transient(u) => BodyError::Permanent(u.to_string()),
                    _ => BodyError::Transient(e.to_string()),
                });
            }
        };
        if !reservation.grow(n as u64, max) {
            return Err(BodyError::Permanent(format!(
                "answers being received at once would hold more than {max} bytes (M365GUARD_MAX_BODY_MEMORY); refusing this one"
            )));
        }
        bytes.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    String::from_utf8(bytes).map_err(|e| BodyError::Permanent(format!("not UTF-8: {e}")))
}
