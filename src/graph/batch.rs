//! JSON `$batch` (CONTRACT §9): up to 20 requests in one POST, answers matched by id in any
//! order, per-item 429/503/504 retried — only the failed items — after the largest
//! `Retry-After` among them, 424 for a failed `dependsOn`, items that come back without
//! `headers` or `body`, and per-item errors kept typed like top-level ones.
//!
//! The pure pieces (request body, response parsing, retry delay, batch planning) live here
//! so they can be unit-tested; the HTTP round trips are in [`super::GraphClient::batch`].

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::error::{graph_error, ApiError};
use crate::http::{backoff, limits, parse_retry_after, Reply};

/// Microsoft's limit; more items make the whole batch fail with 400.
pub const MAX_ITEMS: usize = 20;

/// One request inside a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    /// Unique (case-insensitively) within its batch.
    pub id: String,
    pub method: String,
    /// Relative to the batch's version, without it: `/users/{id}/authentication/requirements`.
    pub url: String,
    pub body: Option<Value>,
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> BatchRequest {
        BatchRequest {
            id: id.into(),
            method: "GET".into(),
            url: url.into(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(self.id));
        o.insert("method".into(), json!(self.method));
        o.insert("url".into(), json!(self.url));
        if let Some(body) = &self.body {
            // Graph rejects an item whose body comes without a Content-Type.
            o.insert(
                "headers".into(),
                json!({"Content-Type": "application/json"}),
            );
            o.insert("body".into(), body.clone());
        }
        if !self.depends_on.is_empty() {
            o.insert("dependsOn".into(), json!(self.depends_on));
        }
        Value::Object(o)
    }
}

/// The JSON body of a `$batch` POST.
pub fn request_body(requests: &[&BatchRequest]) -> String {
    json!({"requests": requests.iter().map(|r| r.to_json()).collect::<Vec<_>>()}).to_string()
}

/// One answer of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub id: String,
    pub status: u16,
    /// Header names lower-cased: their casing inside items varies (CONTRACT §13.10).
    pub headers: HashMap<String, String>,
    /// `Null` when the item has no body (204, some 424s).
    pub body: Value,
}

impl BatchItem {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn retryable(&self) -> bool {
        matches!(self.status, 429 | 503 | 504)
    }
}

/// Answers of a batch keyed by lower-cased id (ids are case-insensitive).
pub fn parse_response(body: &str) -> Result<HashMap<String, BatchItem>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let items = v
        .get("responses")
        .and_then(Value::as_array)
        .ok_or("batch response without `responses`")?;
    let mut out = HashMap::new();
    for item in items {
        let id = match item.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("batch item without an id".into()),
        };
        let status = item
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("batch item {id} without a status"))?;
        let headers = item
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.to_ascii_lowercase(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = item.get("body").cloned().unwrap_or(Value::Null);
        out.insert(
            id.to_ascii_lowercase(),
            BatchItem {
                id,
                status,
                headers,
                body,
            },
        );
    }
    Ok(out)
}

/// How long to wait before resending the throttled items of round `attempt` (1-based):
/// the largest `Retry-After` among them, else exponential back-off with jitter.
pub fn retry_delay(throttled: &[&BatchItem], attempt: u32) -> Duration {
    throttled
        .iter()
        .filter_map(|i| i.header("retry-after").and_then(parse_retry_after))
        .max()
        .unwrap_or_else(|| backoff(attempt))
}

/// The error of a failed item, typed like a top-level error: Graph's `code`, `message`,
/// `request-id`, the endpoint, and for a 403 the permission it needs.
pub fn item_error(version: &str, request: &BatchRequest, item: &BatchItem) -> ApiError {
    let endpoint = endpoint(version, request);
    let body = match &item.body {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let reply = Reply {
        status: item.status,
        request_id: item
            .header("request-id")
            .map(str::to_owned)
            .unwrap_or_default(),
        body,
    };
    graph_error(&endpoint, &reply)
}

/// An absolute `@odata.nextLink` in an item's body that leaves the service at `base`. Such
/// an item is an error rather than data: whoever pages on from it would hand the token to
/// another host (see [`crate::http::same_origin`]).
pub fn foreign_next_link<'v>(base: &str, body: &'v Value) -> Option<&'v str> {
    body.get("@odata.nextLink")
        .and_then(Value::as_str)
        .filter(|link| !crate::http::same_origin(base, link))
}

/// `GET /beta/users/{id}/authentication/requirements` — how an item is named in errors.
pub fn endpoint(version: &str, request: &BatchRequest) -> String {
    format!("{} /{version}{}", request.method, request.url)
}

/// Split independent requests into batches of at most [`MAX_ITEMS`], with at most
/// [`limits::PER_MAILBOX`] items for any one mailbox per batch (Outlook executes at most
/// four per mailbox at once and answers the rest 429 `ApplicationThrottled`). Order is
/// kept within each batch.
pub fn plan(requests: Vec<BatchRequest>) -> Vec<Vec<BatchRequest>> {
    let mut batches: Vec<(Vec<BatchRequest>, HashMap<String, usize>)> = Vec::new();
    for r in requests {
        let mailbox = limits::mailbox_of(&r.url).map(str::to_ascii_lowercase);
        let fits = |(items, per): &(Vec<BatchRequest>, HashMap<String, usize>)| {
            items.len() < MAX_ITEMS
                && mailbox
                    .as_ref()
                    .is_none_or(|m| per.get(m).copied().unwrap_or(0) < limits::PER_MAILBOX)
        };
        let slot = match batches.iter().position(fits) {
            Some(i) => i,
            None => {
                batches.push((Vec::new(), HashMap::new()));
                batches.len() - 1
            }
        };
        let (items, per) = &mut batches[slot];
        if let Some(m) = mailbox {
            *per.entry(m).or_insert(0) += 1;
        }
        items.push(r);
    }
    batches.into_iter().map(|(items, _)| items).collect()
}

/// Which of `pending` must go again after a round: throttled or unanswered items, and
/// items that failed only because a dependency is being retried (424).
pub fn to_retry(pending: &[&BatchRequest], answers: &HashMap<String, BatchItem>) -> Vec<String> {
    let mut again: Vec<String> = pending
        .iter()
        .filter(|r| {
            answers
                .get(&r.id.to_ascii_lowercase())
                .is_none_or(BatchItem::retryable)
        })
        .map(|r| r.id.to_ascii_lowercase())
        .collect();
    // A 424 whose dependency will be retried is retried with it (transitively).
    loop {
        let before = again.len();
        for r in pending {
            let id = r.id.to_ascii_lowercase();
            let failed_dep = answers.get(&id).is_some_and(|i| i.status == 424);
            if failed_dep
                && !again.contains(&id)
                && r.depends_on
                    .iter()
                    .any(|d| again.contains(&d.to_ascii_lowercase()))
            {
                again.push(id);
            }
        }
        if again.len() == before {
            return again;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/m365-api/fixtures")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn parses_the_contract_fixture_out_of_order() {
        let items = parse_response(&fixture("batch.response.json")).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(items["1"].status, 200);
        assert_eq!(items["1"].body["value"][0]["displayName"], ".");
        assert_eq!(items["3"].status, 204);
        assert_eq!(items["3"].body, Value::Null);
        // Header names are matched case-insensitively.
        assert_eq!(items["2"].header("Retry-After"), Some("7"));
        assert_eq!(items["2"].header("retry-after"), Some("7"));
    }

    #[test]
    fn item_links_off_the_service_are_flagged() {
        let base = "https://graph.microsoft.com";
        let on = json!({"value": [], "@odata.nextLink": "https://graph.microsoft.com/v1.0/x?$skiptoken=1"});
        let off =
            json!({"value": [], "@odata.nextLink": "https://graph.microsoft.com.evil/v1.0/x"});
        let port = json!({"@odata.nextLink": "https://graph.microsoft.com:8443/v1.0/x"});
        assert_eq!(foreign_next_link(base, &on), None);
        assert!(foreign_next_link(base, &off).is_some());
        assert!(foreign_next_link(base, &port).is_some());
        assert_eq!(foreign_next_link(base, &json!({"id": "1"})), None);
    }

    #[test]
    fn items_without_headers_or_body() {
        let items = parse_response(
            r#"{"responses":[{"id":"a","status":204},
            {"id":7,"status":424,"body":{"error":{"code":"FailedDependency","message":"m"}}}]}"#,
        )
        .unwrap();
        assert_eq!(items["a"].body, Value::Null);
        assert!(items["a"].headers.is_empty());
        assert_eq!(items["7"].status, 424);
        assert!(parse_response(r#"{"value":[]}"#).is_err());
    }

    #[test]
    fn retry_after_is_the_largest_among_throttled_items() {
        let item = |id: &str, h: Option<(&str, &str)>| BatchItem {
            id: id.into(),
            status: 429,
            headers: h
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                .into_iter()
                .collect(),
            body: Value::Null,
        };
        let a = item("a", Some(("Retry-After", "2.128")));
        let b = item("b", Some(("retry-after", "0.5")));
        let c = item("c", None);
        assert_eq!(retry_delay(&[&a, &b, &c], 1), Duration::from_millis(2128));
        // None given: exponential back-off with jitter.
        let d = retry_delay(&[&c], 1);
        assert!(d >= Duration::from_millis(1000) && d <= Duration::from_millis(1500));
    }

    #[test]
    fn failed_items_keep_code_request_id_and_permission() {
        let items = parse_response(&fixture("batch.response.failed-dependency.json")).unwrap();
        let req = BatchRequest {
            id: "3".into(),
            method: "PATCH".into(),
            url: "/users/u1".into(),
            body: Some(json!({"accountEnabled": false})),
            depends_on: vec![],
        };
        let err = item_error("v1.0", &req, &items["3"]);
        match &err {
            ApiError::Forbidden {
                endpoint,
                code,
                request_id,
                permission,
                ..
            } => {
                assert_eq!(endpoint, "PATCH /v1.0/users/u1");
                assert_eq!(code, "Authorization_RequestDenied");
                assert_eq!(request_id, "1a2b3c4d-0000-4000-8000-00000000b006");
                assert_eq!(permission, "User.Read.All");
            }
            other => panic!("{other:?}"),
        }
        let dep = BatchRequest::get("4", "/users/u1/revokeSignInSessions");
        let err = item_error("v1.0", &dep, &items["4"]);
        assert!(
            matches!(&err, ApiError::Status { status: 424, code, .. } if code == "FailedDependency"),
            "{err:?}"
        );
    }

    #[test]
    fn only_throttled_items_and_their_dependants_are_retried() {
        let mut a = BatchRequest::get("A", "/x");
        a.method = "PATCH".into();
        let mut b = BatchRequest::get("b", "/y");
        b.depends_on = vec!["a".into()];
        let c = BatchRequest::get("c", "/z");
        let d = BatchRequest::get("d", "/w");
        let answers = parse_response(
            r#"{"responses":[{"id":"a","status":429,"headers":{"Retry-After":"1"}},
            {"id":"b","status":424},{"id":"c","status":200,"body":{}}]}"#,
        )
        .unwrap();
        let again = to_retry(&[&a, &b, &c, &d], &answers);
        // a throttled, b failed only because of a, d never answered; c is done.
        assert_eq!(again, ["a", "d", "b"]);
    }

    #[test]
    fn plans_at_most_twenty_per_batch_and_three_per_mailbox() {
        let mut reqs: Vec<BatchRequest> = (0..45)
            .map(|i| {
                BatchRequest::get(
                    i.to_string(),
                    format!("/users/u{i}/authentication/requirements"),
                )
            })
            .collect();
        reqs.extend((0..7).map(|i| {
            BatchRequest::get(
                format!("m{i}"),
                "/users/lena/mailFolders/inbox/messageRules",
            )
        }));
        let batches = plan(reqs);
        assert!(batches.iter().all(|b| b.len() <= MAX_ITEMS));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 52);
        for b in &batches {
            let lena = b.iter().filter(|r| r.url.contains("lena")).count();
            assert!(lena <= limits::PER_MAILBOX, "{lena}");
        }
        let body: Value =
            serde_json::from_str(&request_body(&batches[0].iter().collect::<Vec<_>>())).unwrap();
        assert_eq!(
            body["requests"][0],
            json!({"id": "0", "method": "GET", "url": "/users/u0/authentication/requirements"})
        );
    }
}
