//! Microsoft Graph client: GET of one object ([`GraphClient::get`]), `@odata.nextLink`
//! paging ([`GraphClient::get_all`]), writes for fix mode ([`GraphClient::write`]) and
//! per-user reads batched 20 to a JSON `$batch` ([`GraphClient::get_each`], [`batch`]).
//!
//! Built on the layers below it: [`crate::http`] (the agent, retry policy, body budget,
//! same-origin checks, client-side limits), [`crate::auth`] (tokens), the authenticated
//! request loop shared with the Exchange client (`send`) and the typed errors
//! ([`error`]) that keep Graph's `code`, `message`, `request-id` and the endpoint.
//!
//! Every answer may be hostile (a compromised tenant, a man in the middle with a trusted
//! certificate, a misconfigured proxy), so the bearer token stays on the configured hosts:
//! no redirect is ever followed (the agent has `max_redirects(0)` and a 3xx is a permanent
//! error naming the endpoint), and an absolute URL taken from an answer (`@odata.nextLink`)
//! is followed only when its scheme, host and port equal the configured base URL's
//! ([`same_origin`]). Paging is bounded ([`crate::http::MAX_PAGES`], `M365GUARD_MAX_PAGES`)
//! and a repeated link is an error, so an endless chain of pages cannot run forever.

pub mod batch;
pub mod error;
pub mod path;
pub(crate) mod send;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::auth::{TokenProvider, GRAPH_SCOPE};
use crate::http::limits::{Limits, Resource};
use crate::http::{max_pages, parse_retry_after, same_origin, shown_link, Reply, MAX_RETRIES};
use batch::BatchRequest;
use error::{foreign_link, graph_error};
use send::{send_with_retry, Gate};

// Paths many callers use, kept where they were before the HTTP layer and the errors moved
// out of this file.
pub use crate::http::limits;
pub(crate) use crate::http::new_guid;
pub use error::{permission_for, ApiError};

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
        // Waits the server asks for between rounds (`Retry-After` in items) count against
        // the retry budget of one request: a server answering every item 429
        // `Retry-After: 120` must not hold us for minutes. Our own back-off is bounded by
        // the round count (at most ~45 s over MAX_RETRIES rounds).
        let budget = crate::http::retry::max_retry_time();
        let mut waited = Duration::ZERO;
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
            let throttled: Vec<&batch::BatchItem> =
                again.iter().filter_map(|id| answers.get(id)).collect();
            let delay = batch::retry_delay(&throttled, round);
            let asked = throttled.iter().any(|i| {
                i.header("retry-after")
                    .and_then(parse_retry_after)
                    .is_some()
            });
            let counted = if asked { delay } else { Duration::ZERO };
            let exhausted = round > MAX_RETRIES || waited + counted > budget;
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
            waited += counted;
            std::thread::sleep(delay);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

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
        let agent = crate::http::agent();
        let tokens = TokenProvider::new(settings, agent.clone());
        let err = GraphClient::new(&tokens, agent)
            .get_all("/v1.0/loop")
            .unwrap_err();
        assert!(matches!(err, ApiError::RepeatingNextLink { .. }), "{err}");
    }
}
