//! Exchange Online admin API client (`InvokeCommand`, CONTRACT §6): runs read and write
//! cmdlets, strips `@odata.type`/`@data.type` sidecar keys, follows `@odata.nextLink` with
//! the same body, refuses truncated output, and digs the real error text out of Exchange's
//! envelope.
//!
//! Two service behaviours are handled, because both are reported for the same endpoint:
//! - Paging: Microsoft's module and CIPP (`New-ExoRequest`) POST the same body to the
//!   nextLink; graph2otel (live, 2026-07) found every nextLink answering 400 "Expired or
//!   Invalid pagination request" and defeats paging with the cmdlet's own `ResultSize`
//!   instead; it also saw a page cut by `Prefer: odata.maxpagesize` carry the truncation
//!   warning. So a nextLink is followed, and when it has expired (or the page came with the
//!   truncation warning) the cmdlet is POSTed once more *without* `Prefer` (the whole answer
//!   in one response); if that answer is paged or truncated too, the call fails: partial
//!   data is never returned.
//! - Write answers: a write cmdlet that outputs nothing may answer 200 with `"value": []`,
//!   200 with an empty body, or 204 (no capture settles which, CONTRACT §6.3); all three
//!   mean "accepted", and every fix verifies by reading back, never by the answer.
//!
//! A nextLink is followed only to the configured Exchange host (scheme, host and port, see
//! [`crate::http::same_origin`]), at most [`crate::http::max_pages`] times and never twice:
//! the bearer token never leaves the configured service.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::auth::{TokenProvider, EXCHANGE_SCOPE};
use crate::graph::error::{foreign_link, ApiError};
use crate::graph::send::{send_with_retry, Gate};
use crate::http::limits::{Limits, Resource};
use crate::http::{max_pages, new_guid, same_origin};

mod batch;
pub use batch::{Call, Rows, MAX_ITEMS as MAX_BATCH_ITEMS};

const PAGINATION_EXPIRED: &str = "Expired or Invalid pagination request";

/// The well-known system mailbox used to anchor tenant-wide cmdlets.
const SYSTEM_MAILBOX: &str = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

#[derive(Clone)]
pub struct ExchangeClient<'a> {
    tokens: &'a TokenProvider,
    agent: ureq::Agent,
    url: String,
    anchor: String,
    connection_id: String,
    page_size: u32,
    limits: Arc<Limits>,
    /// `{exchange}/adminapi/beta/{tenant}/$batch` ([`batch`]).
    batch_url: String,
    /// Set once the service refused `$batch`: every clone then calls one by one.
    batch_refused: Arc<AtomicBool>,
}

impl<'a> ExchangeClient<'a> {
    pub fn new(tokens: &'a TokenProvider, agent: ureq::Agent) -> ExchangeClient<'a> {
        let s = tokens.settings();
        ExchangeClient {
            tokens,
            agent,
            url: format!(
                "{}/adminapi/beta/{}/InvokeCommand",
                s.exchange_url, s.tenant
            ),
            batch_url: format!("{}/adminapi/beta/{}/$batch", s.exchange_url, s.tenant),
            anchor: format!("APP:{SYSTEM_MAILBOX}@{}", s.tenant),
            connection_id: new_guid(),
            page_size: 1000,
            limits: Arc::new(Limits::default()),
            batch_refused: Arc::new(AtomicBool::new(false)),
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

    /// The `Prefer: odata.maxpagesize` to ask for (1..=1000; Exchange's maximum is 1000).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, 1000);
        self
    }

    /// Run a cmdlet and return every output object (sidecar keys removed).
    ///
    /// An expired paging cursor ("Expired or Invalid pagination request", seen live in
    /// 2026) re-POSTs the cmdlet once without a page size, then fails: partial data is
    /// never returned (see the module doc).
    pub fn invoke(
        &self,
        cmdlet: &str,
        parameters: Value,
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
        self.invoke_anchored(cmdlet, parameters, &self.anchor)
    }

    /// Like [`invoke`](Self::invoke) with an explicit `X-AnchorMailbox` (`UPN:<upn>` for
    /// per-mailbox cmdlets such as Get-InboxRule, so the request lands on that mailbox's
    /// server instead of the system mailbox's).
    pub fn invoke_anchored(
        &self,
        cmdlet: &str,
        parameters: Value,
        anchor: &str,
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
        match self.invoke_once(cmdlet, &parameters, anchor, Some(self.page_size)) {
            // The cursor cannot be followed (graph2otel's live finding): ask again without
            // a page size, so `ResultSize` alone decides and the answer comes whole.
            Err(ApiError::Exchange { message, .. }) if message.contains(PAGINATION_EXPIRED) => {
                self.invoke_once(cmdlet, &parameters, anchor, None)
            }
            // graph2otel also saw the service honour the page size with the truncation
            // warning: that page may only be cut by the page size asked for, so ask again
            // without one; a second truncated answer is real truncation and fails.
            Err(ApiError::ExchangeTruncated { .. }) => {
                self.invoke_once(cmdlet, &parameters, anchor, None)
            }
            other => other,
        }
    }

    fn invoke_once(
        &self,
        cmdlet: &str,
        parameters: &Value,
        anchor: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
        self.pages_from(cmdlet, parameters, anchor, page_size, None)
    }

    /// The pages of one cmdlet: from the first POST, or (`first`) from a first page that
    /// already came back (a `$batch` item's answer), following its nextLink.
    fn pages_from(
        &self,
        cmdlet: &str,
        parameters: &Value,
        anchor: &str,
        page_size: Option<u32>,
        mut first: Option<Value>,
    ) -> Result<Vec<Map<String, Value>>, ApiError> {
        let body =
            json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}).to_string();
        let endpoint = format!("InvokeCommand {cmdlet}");
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut url = self.url.clone();
        let prefer = page_size.map(|n| format!("odata.maxpagesize={n}"));
        let limit = max_pages();
        // A per-mailbox cmdlet (anchored on `UPN:<upn>`) counts against that mailbox's
        // concurrency limit.
        let gate = Gate {
            limits: &self.limits,
            resource: Resource::Exchange,
            mailbox: anchor.strip_prefix("UPN:"),
            paced: None,
        };
        loop {
            let page = match first.take() {
                Some(page) => Some(page),
                None => self.post_page(&url, cmdlet, &body, anchor, prefer.as_deref(), &gate)?,
            };
            let Some(page) = page else {
                return Ok(out);
            };
            let Some(items) = page.get("value").and_then(Value::as_array) else {
                return Err(ApiError::BadResponse {
                    endpoint,
                    message: "response without `value`".into(),
                });
            };
            out.extend(
                items
                    .iter()
                    .filter_map(|v| v.as_object())
                    .map(strip_sidecars),
            );
            let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str) else {
                return Ok(out);
            };
            let warnings: Vec<&str> = page
                .get("@adminapi.warnings")
                .and_then(Value::as_array)
                .map(|w| w.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !warnings.is_empty() {
                return Err(ApiError::ExchangeTruncated {
                    endpoint,
                    cmdlet: cmdlet.to_owned(),
                    warnings: warnings.join("; "),
                });
            }
            if !same_origin(&self.url, next) {
                return Err(foreign_link(
                    &endpoint,
                    next,
                    &self.tokens.settings().exchange_url,
                ));
            }
            if !seen.insert(next.to_owned()) {
                return Err(ApiError::RepeatingNextLink {
                    endpoint,
                    link: next.chars().take(200).collect(),
                });
            }
            if seen.len() >= limit {
                return Err(ApiError::TooManyPages { endpoint, limit });
            }
            url = next.to_owned();
        }
    }
}

impl ExchangeClient<'_> {
    /// POST one page of a cmdlet (to `url`: the endpoint or a nextLink); `None` when the
    /// cmdlet answered nothing (a write cmdlet's 204 or empty 200).
    fn post_page(
        &self,
        url: &str,
        cmdlet: &str,
        body: &str,
        anchor: &str,
        prefer: Option<&str>,
        gate: &Gate<'_>,
    ) -> Result<Option<Value>, ApiError> {
        let endpoint = format!("InvokeCommand {cmdlet}");
        let reply = send_with_retry(self.tokens, EXCHANGE_SCOPE, &endpoint, gate, |tok| {
            let mut req = self
                .agent
                .post(url)
                .header("Authorization", &format!("Bearer {}", tok.expose()))
                .header("Content-Type", "application/json")
                .header("X-CmdletName", cmdlet);
            if let Some(prefer) = prefer {
                req = req.header("Prefer", prefer);
            }
            req.header("X-AnchorMailbox", anchor)
                .header("connection-id", &self.connection_id)
                .header("client-request-id", &new_guid())
                .header("X-ResponseFormat", "json")
                .send(body)
        })?;
        if !(200..300).contains(&reply.status) {
            return Err(exchange_error(&endpoint, cmdlet, reply.status, &reply.body));
        }
        // A cmdlet with no output (the write cmdlets) may answer 204 or an empty 200.
        if reply.status == 204 || reply.body.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&reply.body)
            .map(Some)
            .map_err(|e| ApiError::BadResponse {
                endpoint,
                message: e.to_string(),
            })
    }
}

fn strip_sidecars(obj: &Map<String, Value>) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, _)| !k.contains("@odata.") && !k.contains("@data."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Exchange hides the useful text: innererror.internalexception.message, then
/// details[0].message without its `id|Type|` prefix, then message.
pub fn error_text(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let err = v.get("error")?;
    let non_empty = |v: &Value| {
        v.as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    if let Some(m) = non_empty(&err["innererror"]["internalexception"]["message"]) {
        return Some(m);
    }
    if let Some(m) = non_empty(&err["details"][0]["message"]) {
        let stripped = match m.splitn(3, '|').collect::<Vec<_>>().as_slice() {
            [_, _, rest] => (*rest).to_owned(),
            _ => m,
        };
        return Some(stripped);
    }
    non_empty(&err["message"])
}

fn exchange_error(endpoint: &str, cmdlet: &str, status: u16, body: &str) -> ApiError {
    match error_text(body) {
        None if status == 403 => ApiError::ExchangeNoRole {
            endpoint: endpoint.to_owned(),
            cmdlet: cmdlet.to_owned(),
        },
        text => ApiError::Exchange {
            endpoint: endpoint.to_owned(),
            cmdlet: cmdlet.to_owned(),
            status,
            message: text.unwrap_or_else(|| {
                if status == 401 {
                    "unauthorized: the app needs the Exchange.ManageAsApp permission (Office 365 Exchange Online) with admin consent".into()
                } else {
                    "no error details in the response".into()
                }
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_precedence() {
        let full = r#"{"error":{"code":"BadRequest","message":"Invalid Operation",
          "details":[{"code":"Client","message":"|Ex.Type|from details"}],
          "innererror":{"internalexception":{"message":"from inner"}}}}"#;
        assert_eq!(error_text(full).as_deref(), Some("from inner"));
        let details = r#"{"error":{"message":"Error executing cmdlet",
          "details":[{"message":"Ex6F9304|Microsoft.X.NotFound|object 'x' not found"}]}}"#;
        assert_eq!(error_text(details).as_deref(), Some("object 'x' not found"));
        let plain = r#"{"error":{"message":"Invalid Operation"}}"#;
        assert_eq!(error_text(plain).as_deref(), Some("Invalid Operation"));
        assert_eq!(error_text("\0\0\0"), None);
    }

    #[test]
    fn nul_body_403_means_no_role() {
        let e = exchange_error("e", "Get-Mailbox", 403, "\0\0\0\0");
        assert!(e.to_string().contains("Global Reader"), "{e}");
    }

    #[test]
    fn sidecars_are_dropped() {
        let v = json!({"Guid@data.type":"System.Guid","Guid@odata.type":"#Guid","Guid":"x","A":1});
        let m = strip_sidecars(v.as_object().unwrap());
        assert_eq!(m.len(), 2);
        assert!(m.contains_key("Guid") && m.contains_key("A"));
    }
}
