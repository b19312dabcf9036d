//! The one authenticated request loop shared by the Graph and Exchange clients: a bearer
//! token per attempt (a 401 refreshes it once), room under the client-side limits, the
//! retry policy of [`crate::http::retry`], no redirect ever followed, and the body read
//! within the budget of [`crate::http::body`].

use std::time::Duration;

use super::error::ApiError;
use crate::auth::{Secret, TokenProvider};
use crate::http::body::{read_body, BodyError};
use crate::http::limits::{Limits, Resource};
use crate::http::retry::{backoff, is_transient, max_retry_time, parse_retry_after, MAX_RETRIES};
use crate::http::{shown_link, Reply};

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
