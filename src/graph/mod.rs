//! Microsoft Graph client and the one HTTP retry loop shared with the Exchange client.
//!
//! Owns: bearer auth per resource, retries (429/503/504 honouring `Retry-After`, dropped
//! connections, bounded exponential back-off with jitter), typed errors that keep Graph's
//! `code`, `message`, `request-id` and the endpoint, `@odata.nextLink` paging, JSON
//! `$batch` ([`batch`]) and the client-side concurrency limits ([`limits`]).
//!
//! Every answer may be hostile (a compromised tenant, a man in the middle with a trusted
//! certificate, a misconfigured proxy), so the bearer token stays on the configured hosts:
//! no redirect is ever followed (the agent has `max_redirects(0)` and a 3xx is a permanent
//! error naming the endpoint), and an absolute URL taken from an answer (`@odata.nextLink`)
//! is followed only when its scheme, host and port equal the configured base URL's
//! ([`same_origin`]). Paging is bounded ([`MAX_PAGES`], `M365GUARD_MAX_PAGES`) and a
//! repeated link is an error, so an endless chain of pages cannot run forever.

pub mod batch;
pub mod limits;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::auth::{AuthError, Secret, TokenProvider, GRAPH_SCOPE};
use batch::BatchRequest;
use limits::{Limits, Resource};

pub const MAX_RETRIES: u32 = 5;

/// The longest one request may spend waiting between retries (`Retry-After` and back-off
/// together); `M365GUARD_MAX_RETRY_SECONDS` overrides it. A server that keeps answering
/// 429 with `Retry-After: 120` cannot hold a request for more than this.
pub const MAX_RETRY_TIME: Duration = Duration::from_secs(300);

fn max_retry_time() -> Duration {
    std::env::var("M365GUARD_MAX_RETRY_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(MAX_RETRY_TIME, Duration::from_secs)
}

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
enum BodyError {
    /// The connection failed mid-body: worth another attempt.
    Transient(String),
    /// Too large, or malformed: the same on every attempt.
    Permanent(String),
}

/// Read a body within [`MAX_BODY_BYTES`] and the process-wide in-flight budget.
fn read_body(body: &mut ureq::Body, declared: Option<u64>) -> Result<String, BodyError> {
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

/// Pages followed per collection unless `M365GUARD_MAX_PAGES` says otherwise. Graph pages
/// hold up to 999 objects (users: 999, Exchange: 1000), so 20,000 pages cover tenants of
/// several million objects even at the default page size of 100.
pub const MAX_PAGES: usize = 20_000;

/// The page ceiling of this process (`M365GUARD_MAX_PAGES`, at least 1).
pub fn max_pages() -> usize {
    std::env::var("M365GUARD_MAX_PAGES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(MAX_PAGES, |n| n.max(1))
}

/// Scheme, lower-cased host and port (explicit, or the scheme's default) of an absolute
/// `http(s)` URL; `None` for anything else (relative links, other schemes, user info).
fn origin(url: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    if host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    Some((scheme, host.to_ascii_lowercase(), port))
}

/// Whether `link` (taken from an answer) may be requested with the token of the service
/// at `base`: same scheme, host and port.
pub fn same_origin(base: &str, link: &str) -> bool {
    match (origin(base), origin(link)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `link` for an error message: bounded, one line (it came from an untrusted answer).
fn shown_link(link: &str) -> String {
    let mut out: String = link
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect();
    if link.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The error for a link that leaves the configured service.
pub(crate) fn foreign_link(endpoint: &str, link: &str, base: &str) -> ApiError {
    ApiError::ForeignLink {
        endpoint: endpoint.to_owned(),
        link: shown_link(link),
        base: base.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{endpoint}: HTTP 403 {code}: {message} (the app needs the {permission} application permission with admin consent; request-id {request_id})")]
    Forbidden {
        endpoint: String,
        permission: String,
        code: String,
        message: String,
        request_id: String,
    },
    #[error("{endpoint}: not licensed: {code}: {message}")]
    Licence {
        endpoint: String,
        code: String,
        message: String,
    },
    #[error("{endpoint}: HTTP {status} {code}: {message} (request-id {request_id})")]
    Status {
        endpoint: String,
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    #[error("{endpoint}: gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        endpoint: String,
        attempts: u32,
        last: String,
    },
    #[error("{endpoint}: invalid response: {message}")]
    BadResponse { endpoint: String, message: String },
    #[error("{endpoint}: @odata.nextLink repeats ({link}); refusing to loop")]
    RepeatingNextLink { endpoint: String, link: String },
    /// A link in an answer points away from the configured service: following it would
    /// hand the bearer token to another host.
    #[error("{endpoint}: the answer links to {link}, which is not on the configured service {base} (scheme, host and port must match); refusing to send the token there")]
    ForeignLink {
        endpoint: String,
        link: String,
        base: String,
    },
    /// The service answered with a redirect; the token is never sent after one.
    #[error("{endpoint}: HTTP {status} redirect to {location}; m365guard follows no redirect with its token (check the configured service URL)")]
    Redirect {
        endpoint: String,
        status: u16,
        location: String,
    },
    #[error("{endpoint}: more than {limit} pages in one collection; refusing to page on (raise M365GUARD_MAX_PAGES if the tenant really is this large)")]
    TooManyPages { endpoint: String, limit: usize },
    #[error("{endpoint}: {cmdlet}: HTTP 403 without a JSON body: the app has no Exchange role (assign Global Reader to its service principal; Exchange.ManageAsApp is also required)")]
    ExchangeNoRole { endpoint: String, cmdlet: String },
    #[error("{endpoint}: {cmdlet}: HTTP {status}: {message}")]
    Exchange {
        endpoint: String,
        cmdlet: String,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: {cmdlet}: output truncated by Exchange ({warnings}); refusing to report partial data")]
    ExchangeTruncated {
        endpoint: String,
        cmdlet: String,
        warnings: String,
    },
}

/// A raw response that passed the retry loop.
pub struct Reply {
    pub status: u16,
    pub request_id: String,
    pub body: String,
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

/// Where a request stands in the client-side limits: its resource budget, the mailbox it
/// touches and its 1-rps family, if any.
pub(crate) struct Gate<'a> {
    pub limits: &'a Limits,
    pub resource: Resource,
    pub mailbox: Option<&'a str>,
    pub paced: Option<&'static str>,
}

/// Send one request with retries. `send` makes a fresh request each attempt (with a
/// current token); the caller interprets the final status. A 401 refreshes the token
/// once without counting as a retry. Each attempt waits for room under `gate`; back-off
/// sleeps do not hold it.
pub(crate) fn send_with_retry(
    tokens: &TokenProvider,
    scope: &str,
    endpoint: &str,
    gate: &Gate<'_>,
    mut send: impl FnMut(&Secret) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, ApiError> {
    let mut last = String::new();
    let mut refreshed = false;
    let mut attempt = 0;
    let mut waited = Duration::ZERO;
    let budget = max_retry_time();
    let malformed = |e: &ureq::Error| ApiError::BadResponse {
        endpoint: endpoint.split('?').next().unwrap_or_default().to_owned(),
        message: format!("malformed answer, not retried: {e}"),
    };
    while attempt <= MAX_RETRIES {
        let token = tokens.token(scope)?;
        let entered = gate.limits.enter(gate.resource, gate.mailbox, gate.paced);
        let wait = match send(&token) {
            Err(e) if !is_transient(&e) => return Err(malformed(&e)),
            Err(e) => {
                last = format!("connection error: {e}");
                backoff(attempt + 1)
            }
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let request_id = header("request-id").unwrap_or_default();
                let retry_after = header("retry-after");
                // The agent follows no redirect (`max_redirects(0)`): a 3xx is permanent,
                // never retried and never followed with the token.
                if (300..400).contains(&status) {
                    return Err(ApiError::Redirect {
                        endpoint: endpoint.split('?').next().unwrap_or_default().to_owned(),
                        status,
                        location: header("location")
                            .map(|l| shown_link(&l))
                            .unwrap_or_else(|| "(no Location)".into()),
                    });
                }
                tracing::debug!(
                    method = if scope == crate::auth::EXCHANGE_SCOPE {
                        "POST"
                    } else {
                        endpoint
                            .split_once(' ')
                            .map(|(m, _)| m)
                            .filter(|m| m.bytes().all(|b| b.is_ascii_uppercase()))
                            .unwrap_or("GET")
                    },
                    endpoint = endpoint.split('?').next().unwrap_or_default(),
                    status,
                    attempt = attempt + 1,
                    request_id = request_id.as_str(),
                    retry_after = retry_after.as_deref().unwrap_or(""),
                    "HTTP response"
                );
                let declared = header("content-length").and_then(|v| v.trim().parse().ok());
                match read_body(resp.body_mut(), declared) {
                    Err(BodyError::Permanent(message)) => {
                        return Err(ApiError::BadResponse {
                            endpoint: endpoint.split('?').next().unwrap_or_default().to_owned(),
                            message,
                        })
                    }
                    Err(BodyError::Transient(e)) => {
                        last = format!("connection error reading the body: {e}");
                        backoff(attempt + 1)
                    }
                    Ok(_) if status == 401 && !refreshed => {
                        refreshed = true;
                        tokens.invalidate(scope, &token);
                        continue;
                    }
                    // Exchange also throttles with a plain-text body on other statuses.
                    Ok(body)
                        if matches!(status, 429 | 503 | 504)
                            || (status >= 400
                                && body.contains("maximum number of concurrent requests")) =>
                    {
                        last = format!("HTTP {status}");
                        retry_after
                            .as_deref()
                            .and_then(parse_retry_after)
                            .unwrap_or_else(|| backoff(attempt + 1))
                    }
                    Ok(body) => {
                        return Ok(Reply {
                            status,
                            request_id,
                            body,
                        })
                    }
                }
            }
        };
        drop(entered);
        attempt += 1;
        if waited + wait > budget {
            return Err(ApiError::RetriesExhausted {
                endpoint: endpoint.to_owned(),
                attempts: attempt,
                last: format!(
                    "{last}; waiting {} s more would exceed the {} s retry budget per request",
                    wait.as_secs(),
                    budget.as_secs()
                ),
            });
        }
        waited += wait;
        if attempt <= MAX_RETRIES {
            tracing::debug!(
                endpoint = endpoint.split('?').next().unwrap_or_default(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                reason = last.as_str(),
                "retrying"
            );
            std::thread::sleep(wait);
        }
    }
    Err(ApiError::RetriesExhausted {
        endpoint: endpoint.to_owned(),
        attempts: MAX_RETRIES + 1,
        last,
    })
}

/// The application permission(s) a Graph read needs, for a 403 message: the least
/// privileged of each requirement of the endpoint's entry in
/// [`crate::permission::GRAPH_ENDPOINTS`] (`User.Read.All + AuditLog.Read.All`).
pub fn permission_for(path: &str) -> String {
    match crate::permission::graph_endpoint(path) {
        Some(endpoint) => crate::permission::least(endpoint.needs),
        None => "the documented read permission".to_owned(),
    }
}

fn is_licence_error(code: &str, message: &str) -> bool {
    code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        || code == "AadPremiumLicenseRequired"
        || message.to_ascii_lowercase().contains("not licensed")
}

/// Batches in flight at once for per-user calls: each carries 20 requests, so a few
/// already keep 80 items moving without spending Graph's per-tenant budget in bursts.
pub const BATCHES_IN_FLIGHT: usize = 4;

#[derive(Clone)]
pub struct GraphClient<'a> {
    tokens: &'a TokenProvider,
    agent: ureq::Agent,
    base: String,
    limits: Arc<Limits>,
}

impl<'a> GraphClient<'a> {
    pub fn new(tokens: &'a TokenProvider, agent: ureq::Agent) -> GraphClient<'a> {
        let base = tokens.settings().graph_url.clone();
        GraphClient {
            tokens,
            agent,
            base,
            limits: Arc::new(Limits::default()),
        }
    }

    /// Share one set of limits with the other clients of a run.
    pub fn with_limits(mut self, limits: Arc<Limits>) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The `tid` claim of the Graph token this client signs in with: the tenant every
    /// request of this client reaches. Decoded without verifying the signature — the token
    /// came from the configured authority — and used only to *refuse* (fix apply stops when
    /// it is missing or not the plan's tenant), never to grant anything.
    pub fn token_tenant(&self) -> Result<Option<String>, ApiError> {
        let token = self.tokens.token(GRAPH_SCOPE)?;
        Ok(crate::auth::token_claim(&token, "tid"))
    }

    fn gate<'g>(&'g self, path: &'g str) -> Gate<'g> {
        Gate {
            limits: &self.limits,
            resource: Resource::Graph,
            mailbox: limits::mailbox_of(path),
            paced: limits::paced_family(path),
        }
    }

    /// GET `{graph}{path}` (path starts with `/v1.0/` or `/beta/`) as JSON.
    pub fn get(&self, path: &str) -> Result<Value, ApiError> {
        let url = format!("{}{}", self.base, path);
        self.get_url(&url, path)
    }

    fn get_url(&self, url: &str, endpoint: &str) -> Result<Value, ApiError> {
        let gate = self.gate(url.strip_prefix(&self.base).unwrap_or(url));
        let reply = send_with_retry(self.tokens, GRAPH_SCOPE, endpoint, &gate, |tok| {
            self.agent
                .get(url)
                .header("Authorization", &format!("Bearer {}", tok.expose()))
                .header("client-request-id", &new_guid())
                .header("Accept", "application/json")
                .call()
        })?;
        if (200..300).contains(&reply.status) {
            return serde_json::from_str(&reply.body).map_err(|e| ApiError::BadResponse {
                endpoint: endpoint.to_owned(),
                message: e.to_string(),
            });
        }
        Err(graph_error(endpoint, &reply))
    }

    /// A write (fix mode): `method` on `{graph}{path}` with an optional JSON body.
    /// `permission` is the application permission the write needs; a 403 names it.
    /// Returns the 2xx reply (status, request-id, body) or a typed error.
    pub fn write(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        permission: &str,
    ) -> Result<Reply, ApiError> {
        let url = format!("{}{}", self.base, path);
        let endpoint = format!("{method} {path}");
        let text = body.map(Value::to_string).unwrap_or_default();
        let gate = self.gate(path);
        let reply = send_with_retry(self.tokens, GRAPH_SCOPE, &endpoint, &gate, |tok| {
            let builder = ureq::http::Request::builder()
                .method(method)
                .uri(&url)
                .header("Authorization", format!("Bearer {}", tok.expose()))
                .header("client-request-id", new_guid())
                .header("Accept", "application/json")
                .header("Content-Type", "application/json");
            let request = builder
                .body(text.clone())
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            self.agent.run(request)
        })?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        Err(match graph_error(&endpoint, &reply) {
            ApiError::Forbidden {
                endpoint,
                code,
                message,
                request_id,
                ..
            } => ApiError::Forbidden {
                endpoint,
                permission: permission.to_owned(),
                code,
                message,
                request_id,
            },
            other => other,
        })
    }

    /// GET a collection and follow `@odata.nextLink` verbatim until absent — only to the
    /// configured Graph host, at most [`max_pages`] pages, never the same link twice.
    pub fn get_all(&self, path: &str) -> Result<Vec<Map<String, Value>>, ApiError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut page = self.get(path)?;
        let limit = max_pages();
        loop {
            let obj = match page {
                Value::Object(o) => o,
                _ => {
                    return Err(ApiError::BadResponse {
                        endpoint: path.to_owned(),
                        message: "expected a JSON object".into(),
                    })
                }
            };
            if let Some(Value::Array(items)) = obj.get("value") {
                out.extend(items.iter().filter_map(|v| v.as_object().cloned()));
            } else {
                return Err(ApiError::BadResponse {
                    endpoint: path.to_owned(),
                    message: "collection without `value`".into(),
                });
            }
            let Some(next) = obj.get("@odata.nextLink").and_then(Value::as_str) else {
                return Ok(out);
            };
            if !same_origin(&self.base, next) {
                return Err(foreign_link(path, next, &self.base));
            }
            if !seen.insert(next.to_owned()) {
                return Err(ApiError::RepeatingNextLink {
                    endpoint: path.to_owned(),
                    link: shown_link(next),
                });
            }
            if seen.len() >= limit {
                return Err(ApiError::TooManyPages {
                    endpoint: path.to_owned(),
                    limit,
                });
            }
            page = self.get_url(next, path)?;
        }
    }
}

impl GraphClient<'_> {
    /// Send up to [`batch::MAX_ITEMS`] requests as one `POST /{version}/$batch` and return
    /// one result per request, in the order given (answers come back in any order and are
    /// matched by id). Throttled items (429/503/504, or no answer at all) are resent — only
    /// they, with the 424s that depended on them — after the largest `Retry-After` among
    /// them, for at most [`MAX_RETRIES`] rounds. `Err` only when the batch itself failed.
    pub fn batch(
        &self,
        version: &str,
        requests: &[BatchRequest],
    ) -> Result<Vec<Result<Value, ApiError>>, ApiError> {
        let endpoint = format!("POST /{version}/$batch");
        if requests.len() > batch::MAX_ITEMS {
            return Err(ApiError::BadResponse {
                endpoint,
                message: format!(
                    "{} requests in one batch; Graph accepts at most {}",
                    requests.len(),
                    batch::MAX_ITEMS
                ),
            });
        }
        let url = format!("{}/{version}/$batch", self.base);
        let mut results: Vec<Option<Result<Value, ApiError>>> =
            requests.iter().map(|_| None).collect();
        let mut pending: Vec<BatchRequest> = requests.to_vec();
        let mut round = 0;
        while !pending.is_empty() {
            let refs: Vec<&BatchRequest> = pending.iter().collect();
            let text = batch::request_body(&refs);
            let gate = self.gate("/$batch");
            let reply = send_with_retry(self.tokens, GRAPH_SCOPE, &endpoint, &gate, |tok| {
                self.agent
                    .post(&url)
                    .header("Authorization", &format!("Bearer {}", tok.expose()))
                    .header("client-request-id", &new_guid())
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    .send(text.as_str())
            })?;
            if !(200..300).contains(&reply.status) {
                return Err(graph_error(&endpoint, &reply));
            }
            let answers =
                batch::parse_response(&reply.body).map_err(|message| ApiError::BadResponse {
                    endpoint: endpoint.clone(),
                    message,
                })?;
            let again = batch::to_retry(&refs, &answers);
            round += 1;
            let exhausted = round > MAX_RETRIES;
            for r in &pending {
                let key = r.id.to_ascii_lowercase();
                let retry = again.contains(&key);
                if retry && !exhausted {
                    continue;
                }
                let Some(slot) = requests
                    .iter()
                    .position(|q| q.id.eq_ignore_ascii_case(&r.id))
                else {
                    continue;
                };
                results[slot] = Some(match answers.get(&key) {
                    Some(item) if (200..300).contains(&item.status) => {
                        match batch::foreign_next_link(&self.base, &item.body) {
                            Some(link) => {
                                Err(foreign_link(&batch::endpoint(version, r), link, &self.base))
                            }
                            None => Ok(item.body.clone()),
                        }
                    }
                    Some(item) if retry => Err(ApiError::RetriesExhausted {
                        endpoint: batch::endpoint(version, r),
                        attempts: round,
                        last: batch::item_error(version, r, item).to_string(),
                    }),
                    Some(item) => Err(batch::item_error(version, r, item)),
                    None => Err(ApiError::RetriesExhausted {
                        endpoint: batch::endpoint(version, r),
                        attempts: round,
                        last: "no answer for this item in the batch response".into(),
                    }),
                });
            }
            if exhausted || again.is_empty() {
                break;
            }
            let throttled: Vec<&batch::BatchItem> =
                again.iter().filter_map(|id| answers.get(id)).collect();
            std::thread::sleep(batch::retry_delay(&throttled, round));
            // Dependencies that succeeded are not resent: drop them from dependsOn.
            let done: Vec<String> = pending
                .iter()
                .map(|r| r.id.to_ascii_lowercase())
                .filter(|id| !again.contains(id))
                .collect();
            pending.retain(|r| again.contains(&r.id.to_ascii_lowercase()));
            for r in &mut pending {
                r.depends_on
                    .retain(|d| !done.contains(&d.to_ascii_lowercase()));
            }
        }
        Ok(results
            .into_iter()
            .zip(requests)
            .map(|(r, req)| {
                r.unwrap_or_else(|| {
                    Err(ApiError::BadResponse {
                        endpoint: batch::endpoint(version, req),
                        message: "no result for this batch item".into(),
                    })
                })
            })
            .collect())
    }

    /// GET every path (relative to `version`, e.g. `/users/{id}/authentication/requirements`)
    /// and return one result per path, in order. Batched 20 to a `$batch` with
    /// [`BATCHES_IN_FLIGHT`] batches at a time; one plain GET after another when batching
    /// is off (the serial baseline).
    pub fn get_each(&self, version: &str, paths: &[String]) -> Vec<Result<Value, ApiError>> {
        if !self.limits.batching() {
            return paths
                .iter()
                .map(|p| self.get(&format!("/{version}{p}")))
                .collect();
        }
        let requests: Vec<BatchRequest> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| BatchRequest::get(i.to_string(), p.clone()))
            .collect();
        let batches = batch::plan(requests);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut slots: Vec<Option<Result<Value, ApiError>>> = paths.iter().map(|_| None).collect();
        let workers = BATCHES_IN_FLIGHT
            .min(self.limits.concurrency())
            .min(batches.len());
        let done: Vec<Vec<(usize, Result<Value, ApiError>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(chunk) = batches.get(b) else {
                                return out;
                            };
                            let index = |r: &BatchRequest| r.id.parse::<usize>().unwrap_or(0);
                            match self.batch(version, chunk) {
                                Ok(results) => out.extend(chunk.iter().map(index).zip(results)),
                                // The batch itself failed: its first item carries the error,
                                // the others point at it.
                                Err(e) => {
                                    let mut e = Some(e);
                                    for r in chunk {
                                        let err =
                                            e.take().unwrap_or_else(|| ApiError::BadResponse {
                                                endpoint: batch::endpoint(version, r),
                                                message: "the $batch carrying this request failed"
                                                    .into(),
                                            });
                                        out.push((index(r), Err(err)));
                                    }
                                }
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (i, r) in done.into_iter().flatten() {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(r);
            }
        }
        slots
            .into_iter()
            .zip(paths)
            .map(|(r, p)| {
                r.unwrap_or_else(|| {
                    Err(ApiError::BadResponse {
                        endpoint: format!("GET /{version}{p}"),
                        message: "internal error: a batch worker failed".into(),
                    })
                })
            })
            .collect()
    }
}

fn graph_error(endpoint: &str, reply: &Reply) -> ApiError {
    let v: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    let err = &v["error"];
    let code = err["code"].as_str().unwrap_or_default().to_owned();
    let message = err["message"].as_str().unwrap_or_default().to_owned();
    let request_id = err["innerError"]["request-id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| reply.request_id.clone());
    if matches!(reply.status, 400 | 403) && is_licence_error(&code, &message) {
        return ApiError::Licence {
            endpoint: endpoint.to_owned(),
            code,
            message,
        };
    }
    if reply.status == 403 {
        return ApiError::Forbidden {
            endpoint: endpoint.to_owned(),
            permission: permission_for(endpoint),
            code,
            message,
            request_id,
        };
    }
    ApiError::Status {
        endpoint: endpoint.to_owned(),
        status: reply.status,
        code,
        message,
        request_id,
    }
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

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let base = "https://graph.microsoft.com";
        assert!(same_origin(
            base,
            "https://graph.microsoft.com/v1.0/users?$skiptoken=a"
        ));
        assert!(same_origin(
            base,
            "HTTPS://Graph.Microsoft.com:443/v1.0/users"
        ));
        for bad in [
            "http://graph.microsoft.com/v1.0/users",
            "https://graph.microsoft.com:444/v1.0/users",
            "https://graph.microsoft.com.evil.example/v1.0/users",
            "https://graph.microsoft.com@evil.example/v1.0/users",
            "https://evil.example\\@graph.microsoft.com/v1.0/users",
            "//graph.microsoft.com/v1.0/users",
            "/v1.0/users",
            "ftp://graph.microsoft.com/",
            "",
        ] {
            assert!(!same_origin(base, bad), "{bad}");
        }
        assert!(same_origin(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/x"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:8080",
            "http://localhost:8080/x"
        ));
        assert!(same_origin("http://[::1]:9", "http://[::1]:9/x"));
    }

    #[test]
    fn permissions_per_endpoint() {
        assert_eq!(
            permission_for("/v1.0/identity/conditionalAccess/policies"),
            "Policy.Read.All"
        );
        assert_eq!(
            permission_for("/v1.0/reports/authenticationMethods/userRegistrationDetails"),
            "AuditLog.Read.All"
        );
        assert_eq!(
            permission_for("/v1.0/roleManagement/directory/roleAssignments?$expand=principal"),
            "RoleManagement.Read.Directory"
        );
        assert_eq!(
            permission_for("GET /v1.0/users?$select=id,signInActivity&$top=999"),
            "User.Read.All + AuditLog.Read.All"
        );
        assert_eq!(
            permission_for(
                "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$expand=principal"
            ),
            "RoleEligibilitySchedule.Read.Directory"
        );
        assert_eq!(
            permission_for("/v1.0/groups/g1/members?$select=id"),
            "GroupMember.Read.All"
        );
        assert_eq!(
            permission_for("/v1.0/unknown"),
            "the documented read permission"
        );
    }

    /// A one-route server whose every answer is both a token response and a Graph page
    /// pointing back at itself.
    fn self_linking_server() -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let body = format!(
            r#"{{"access_token":"t","expires_in":3600,"value":[{{"id":"1"}}],"@odata.nextLink":"{base}/v1.0/loop?$skiptoken=a"}}"#
        );
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 65536];
                let _ = conn.read(&mut buf);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        base
    }

    #[test]
    fn repeating_next_link_is_an_error() {
        let base = self_linking_server();
        let settings = crate::auth::Settings::validate(crate::auth::RawSettings {
            tenant: Some("t".into()),
            client_id: Some("c".into()),
            client_secret: Some(Secret::new("s")),
            authority: Some(base.clone()),
            graph_url: Some(base.clone()),
            exchange_url: Some(base),
        })
        .unwrap();
        let agent = crate::collect::agent();
        let tokens = TokenProvider::new(settings, agent.clone());
        let err = GraphClient::new(&tokens, agent)
            .get_all("/v1.0/loop")
            .unwrap_err();
        assert!(matches!(err, ApiError::RepeatingNextLink { .. }), "{err}");
    }
}
