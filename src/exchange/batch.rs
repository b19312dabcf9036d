//! Exchange admin API JSON batching: up to [`MAX_ITEMS`] `InvokeCommand` calls in one
//! `POST {exchange}/adminapi/beta/{tenant}/$batch`, for the per-mailbox read cmdlets of
//! the collectors (Get-InboxRule, Get-MailboxPermission, Get-MailboxFolderStatistics,
//! Get-MailboxFolderPermission), which are otherwise one round trip per mailbox.
//!
//! CONTRACT (what is known, and from where). Microsoft documents no `$batch` for the
//! Exchange admin API; everything here comes from callers:
//! - CIPP (`KelvinTegelaar/CIPP-API`, `Modules/CIPPCore/Public/GraphHelper/
//!   New-ExoBulkRequest.ps1`, used in production for years; also quoted in
//!   `invictus-ir/Microsoft-Extractor-Suite` issue #75): body
//!   `{"requests":[{"id","method":"POST","url":"<absolute …/InvokeCommand URL>",
//!   "body":{"CmdletInput":{…}},"headers":{…}}]}`, **at most 10 items** per batch (CIPP
//!   splits into tens), each item with its own `X-AnchorMailbox` (the mailbox the cmdlet
//!   works on) and `X-CmdletName`; the outer request carries the same headers and
//!   `Prefer: odata.maxpagesize=1000;odata.continue-on-error`. The answer is
//!   `{"responses":[{…,"body":{…}}]}`; CIPP reads each item's `body.value`, and
//!   `body.error` (`details[].message`, else `message`) for a failed item.
//! - The OData JSON batch format the route is named after (and Graph's implementation of
//!   it, <https://learn.microsoft.com/graph/json-batching>): each response carries `id`,
//!   `status`, `headers`, `body`, in any order; a malformed batch is a 400 for the whole
//!   batch; a throttled item answers 429 with `Retry-After` in its own headers while the
//!   batch answers 200 (<https://learn.microsoft.com/graph/throttling#throttling-and-batching>).
//!
//! UNVERIFIED (no capture, no documentation), and so handled both ways:
//! - that items answer with `status`: an item without one is judged by its body (an
//!   `error` object = failed);
//! - per-item throttling: a 429/503/504 item, or one whose error says "maximum number of
//!   concurrent requests", is sent again (with the other throttled items of its batch,
//!   after the largest item `Retry-After` or a back-off) until the retry budget of
//!   [`crate::http::retry`] is spent, then fails like a throttled single call — never
//!   dropped; a throttled *batch* is retried whole by the ordinary request loop;
//! - paging inside an item: an item's `@odata.nextLink` is followed outside the batch
//!   with the ordinary single-call loop (same origin check, truncation warnings, the
//!   expired-cursor re-ask of [`super::ExchangeClient::invoke_anchored`]);
//! - whether the route exists for every tenant: a batch answered 400/404/405/501 means
//!   "not supported here", and the rest of the run (every clone of this client) uses
//!   single `InvokeCommand` calls, logged once; any other failure of a batch re-runs its
//!   items as single calls, so each gets its own answer;
//! - how the service counts a batch against its concurrency limits: one batch is one
//!   request under the client-side limit, and callers put at most
//!   [`crate::http::limits::PER_MAILBOX`] items for one mailbox into a batch;
//! - a missing answer for an item is re-run as a single call.
//!
//! `--concurrency 1` (the serial baseline) never batches, as for Graph.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde_json::{json, Map, Value};

use super::{exchange_error, ExchangeClient, PAGINATION_EXPIRED};
use crate::auth::EXCHANGE_SCOPE;
use crate::graph::error::ApiError;
use crate::graph::send::{send_with_retry, Gate};
use crate::http::limits::Resource;
use crate::http::new_guid;
use crate::http::retry::{backoff, max_retry_time, parse_retry_after, MAX_RETRIES};

/// Items per batch (CIPP's split; no documented limit).
pub const MAX_ITEMS: usize = 10;

/// One cmdlet call of a batch.
#[derive(Debug, Clone)]
pub struct Call {
    pub cmdlet: String,
    pub parameters: Value,
    /// `X-AnchorMailbox` of the item (`UPN:<mailbox>` for a per-mailbox cmdlet).
    pub anchor: String,
}

impl Call {
    /// A per-mailbox cmdlet anchored on `mailbox`.
    pub fn on_mailbox(cmdlet: &str, parameters: Value, mailbox: &str) -> Call {
        Call {
            cmdlet: cmdlet.to_owned(),
            parameters,
            anchor: format!("UPN:{mailbox}"),
        }
    }
}

/// Output rows of one call.
pub type Rows = Vec<Map<String, Value>>;

/// One item's answer, as the batch gave it.
struct Item {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

enum BatchError {
    /// The route is not there (400/404/405/501).
    Unsupported(u16),
    /// Anything else that leaves the items unanswered.
    Failed(String),
}

impl ExchangeClient<'_> {
    /// Every call's rows (or error), in the calls' order: in batches of [`MAX_ITEMS`]
    /// when batching is on and supported, else one `InvokeCommand` each.
    pub fn invoke_many(&self, calls: &[Call]) -> Vec<Result<Rows, ApiError>> {
        let mut results: Vec<Option<Result<Rows, ApiError>>> =
            (0..calls.len()).map(|_| None).collect();
        let indices: Vec<usize> = (0..calls.len()).collect();
        for chunk in indices.chunks(MAX_ITEMS) {
            if self.batches() && chunk.len() > 1 {
                self.run_batch(calls, chunk, &mut results);
            }
        }
        results
            .into_iter()
            .zip(calls)
            .map(|(r, call)| r.unwrap_or_else(|| self.single(call)))
            .collect()
    }

    fn batches(&self) -> bool {
        self.limits.batching() && !self.batch_refused.load(Ordering::Relaxed)
    }

    fn single(&self, call: &Call) -> Result<Rows, ApiError> {
        self.invoke_anchored(&call.cmdlet, call.parameters.clone(), &call.anchor)
    }

    /// Answer the items of one chunk, retrying throttled items; items left `None` are run
    /// as single calls by the caller.
    fn run_batch(
        &self,
        calls: &[Call],
        chunk: &[usize],
        results: &mut [Option<Result<Rows, ApiError>>],
    ) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0;
        let mut waited = std::time::Duration::ZERO;
        let budget = max_retry_time();
        while !pending.is_empty() {
            if !self.batches() {
                return;
            }
            let mut answers = match self.post_batch(calls, &pending) {
                Ok(answers) => answers,
                Err(BatchError::Unsupported(status)) => {
                    if !self.batch_refused.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            status,
                            "the Exchange admin API refused $batch; single InvokeCommand calls for the rest of the run"
                        );
                    }
                    return;
                }
                Err(BatchError::Failed(reason)) => {
                    tracing::debug!(
                        reason = reason.as_str(),
                        "Exchange $batch failed; its items run as single calls"
                    );
                    return;
                }
            };
            let mut throttled = Vec::new();
            let mut wait = None;
            let mut last_status = 429;
            for &i in &pending {
                let Some(call) = calls.get(i) else { continue };
                match answers.remove(&i.to_string()) {
                    // No answer for this item: the caller runs it alone.
                    None => {}
                    Some(item) if is_throttled(&item) => {
                        let after = item.retry_after.as_deref().and_then(parse_retry_after);
                        wait = wait.max(after);
                        last_status = item.status;
                        throttled.push(i);
                    }
                    Some(item) => {
                        if let Some(slot) = results.get_mut(i) {
                            *slot = Some(self.finish(call, item));
                        }
                    }
                }
            }
            if throttled.is_empty() {
                return;
            }
            attempt += 1;
            let wait = wait.unwrap_or_else(|| backoff(attempt));
            if attempt > MAX_RETRIES || waited + wait > budget {
                for &i in &throttled {
                    if let (Some(slot), Some(call)) = (results.get_mut(i), calls.get(i)) {
                        *slot = Some(Err(ApiError::RetriesExhausted {
                            endpoint: format!("InvokeCommand {}", call.cmdlet),
                            attempts: attempt,
                            last: format!(
                                "HTTP {last_status} (throttled in $batch); within the {} s retry budget per request",
                                budget.as_secs()
                            ),
                        }));
                    }
                }
                return;
            }
            waited += wait;
            std::thread::sleep(wait);
            pending = throttled;
        }
    }

    /// POST the calls `pending` (ids = their index in `calls`) as one batch.
    fn post_batch(
        &self,
        calls: &[Call],
        pending: &[usize],
    ) -> Result<HashMap<String, Item>, BatchError> {
        let prefer = format!("odata.maxpagesize={}", self.page_size);
        let requests: Vec<Value> = pending
            .iter()
            .filter_map(|&i| calls.get(i).map(|c| (i, c)))
            .map(|(i, c)| {
                json!({
                    "id": i.to_string(),
                    "method": "POST",
                    "url": self.url,
                    "body": {"CmdletInput": {"CmdletName": c.cmdlet, "Parameters": c.parameters}},
                    "headers": {
                        "Content-Type": "application/json",
                        "X-CmdletName": c.cmdlet,
                        "X-AnchorMailbox": c.anchor,
                        "Prefer": prefer,
                    },
                })
            })
            .collect();
        let anchor = pending
            .first()
            .and_then(|&i| calls.get(i))
            .map_or(self.anchor.as_str(), |c| c.anchor.as_str());
        let body = json!({ "requests": requests }).to_string();
        let gate = Gate {
            limits: &self.limits,
            resource: Resource::Exchange,
            mailbox: None,
            paced: None,
        };
        let reply = send_with_retry(
            self.tokens,
            EXCHANGE_SCOPE,
            "InvokeCommand $batch",
            &gate,
            |tok| {
                self.agent
                    .post(&self.batch_url)
                    .header("Authorization", &format!("Bearer {}", tok.expose()))
                    .header("Content-Type", "application/json")
                    .header("Prefer", "odata.continue-on-error")
                    .header("X-AnchorMailbox", anchor)
                    .header("connection-id", &self.connection_id)
                    .header("client-request-id", &new_guid())
                    .header("X-ResponseFormat", "json")
                    .send(body.as_str())
            },
        )
        .map_err(|e| BatchError::Failed(e.to_string()))?;
        if matches!(reply.status, 400 | 404 | 405 | 501) {
            return Err(BatchError::Unsupported(reply.status));
        }
        if !(200..300).contains(&reply.status) {
            return Err(BatchError::Failed(format!("HTTP {}", reply.status)));
        }
        parse_responses(&reply.body).map_err(BatchError::Failed)
    }

    /// An item's rows: its first page, then its nextLinks (outside the batch); an error
    /// item mapped like a single call's error.
    fn finish(&self, call: &Call, item: Item) -> Result<Rows, ApiError> {
        let endpoint = format!("InvokeCommand {}", call.cmdlet);
        if !(200..300).contains(&item.status) {
            let text = match &item.body {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return Err(exchange_error(&endpoint, &call.cmdlet, item.status, &text));
        }
        if item.body.is_null() {
            return Ok(Vec::new());
        }
        let first = self.pages_from(
            &call.cmdlet,
            &call.parameters,
            &call.anchor,
            Some(self.page_size),
            Some(item.body),
        );
        match first {
            // The same re-asks as a single call (see `invoke_anchored`).
            Err(ApiError::Exchange { message, .. }) if message.contains(PAGINATION_EXPIRED) => {
                self.invoke_once(&call.cmdlet, &call.parameters, &call.anchor, None)
            }
            Err(ApiError::ExchangeTruncated { .. }) => {
                self.invoke_once(&call.cmdlet, &call.parameters, &call.anchor, None)
            }
            other => other,
        }
    }
}

/// Throttled: 429/503/504, or Exchange's concurrency error on another status.
fn is_throttled(item: &Item) -> bool {
    matches!(item.status, 429 | 503 | 504)
        || (item.status >= 400
            && item
                .body
                .to_string()
                .contains("maximum number of concurrent requests"))
}

/// `{"responses":[{id, status, headers, body}]}` by id. A missing `status` is judged by
/// the body (UNVERIFIED shape, see the module doc).
fn parse_responses(body: &str) -> Result<HashMap<String, Item>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("batch answer: {e}"))?;
    let responses = v
        .get("responses")
        .and_then(Value::as_array)
        .ok_or("batch answer without `responses`")?;
    let mut out = HashMap::new();
    for r in responses {
        let Some(id) = r.get("id").and_then(|id| match id {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }) else {
            continue;
        };
        let body = r.get("body").cloned().unwrap_or(Value::Null);
        let status = r
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(if body.get("error").is_some() {
                500
            } else {
                200
            });
        let retry_after = r.get("headers").and_then(Value::as_object).and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        });
        out.insert(
            id,
            Item {
                status,
                retry_after,
                body,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_by_id_with_or_without_status() {
        let body = r#"{"responses":[
            {"id":"3","status":429,"headers":{"Retry-After":"2"},"body":{"error":{"message":"slow down"}}},
            {"id":4,"body":{"value":[{"A":1}]}},
            {"id":"5","body":{"error":{"message":"no such mailbox"}}},
            {"body":{"value":[]}}
        ]}"#;
        let items = parse_responses(body).unwrap();
        assert_eq!(items.len(), 3);
        let throttled = &items["3"];
        assert!(is_throttled(throttled));
        assert_eq!(throttled.retry_after.as_deref(), Some("2"));
        assert_eq!(items["4"].status, 200);
        assert!(!is_throttled(&items["4"]));
        assert_eq!(items["5"].status, 500);
        assert!(parse_responses("{}").is_err());
    }

    #[test]
    fn a_concurrency_error_on_another_status_is_throttling() {
        let item = Item {
            status: 400,
            retry_after: None,
            body: json!({"error":{"message":"The user has exceeded the maximum number of concurrent requests"}}),
        };
        assert!(is_throttled(&item));
    }
}
