//! Graph JSON batching (`POST /v1.0/$batch`, CONTRACT §9): at most 20 items, relative URLs
//! without the version, `Content-Type` required with a body, `dependsOn` → 424, items
//! executed in order but answered in shuffled order, per-item 429s (injected, or several
//! items against one mailbox beyond the concurrency limit) with `Retry-After` in the item.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::graph::GraphReq;
use crate::http::Response;
use crate::respond::{bad_request, graph_json, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::util::percent_decode;

fn item_from_response(id: &str, r: &Response) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        if [
            "content-type",
            "retry-after",
            "cache-control",
            "location",
            "odata-version",
        ]
        .contains(&k.to_ascii_lowercase().as_str())
        {
            headers.insert(k.clone(), json!(v));
        }
    }
    let body = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&r.body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&r.body)))
    };
    json!({"id": id, "status": r.status, "headers": headers, "body": body})
}

pub fn batch(
    shared: &Shared,
    caller: &Caller,
    version: &str,
    req: &crate::http::Request,
    ctx: &Ctx,
) -> Response {
    let parsed: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return bad_request("BadRequest", "Invalid batch payload format.", ctx),
    };
    let Some(requests) = parsed.get("requests").and_then(Value::as_array) else {
        return bad_request("BadRequest", "Invalid batch payload format.", ctx);
    };
    if requests.len() > 20 {
        return bad_request(
            "BadRequest",
            "Number of requests inside batch exceeds the limit.",
            ctx,
        );
    }
    let mut seen = Vec::new();
    for r in requests {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("");
        if id.is_empty() || seen.iter().any(|s: &String| s.eq_ignore_ascii_case(id)) {
            return bad_request(
                "BadRequest",
                "Batch request ids must be unique and non-empty.",
                ctx,
            );
        }
        seen.push(id.to_owned());
        let has_ct = r
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
        if r.get("body").is_some_and(|b| !b.is_null()) && !has_ct {
            return bad_request(
                "BadRequest",
                &format!("Write request id : {id} does not contain Content-Type header or body."),
                ctx,
            );
        }
    }
    let faults = shared.settings().faults;
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut per_mailbox: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::new();
    for r in requests {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let url = r.get("url").and_then(Value::as_str).unwrap_or("");
        let deps: Vec<String> = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let failed_dep = deps
            .iter()
            .find(|d| statuses.get(*d).is_none_or(|s| !(200..300).contains(s)));
        if let Some(d) = failed_dep {
            statuses.insert(id.clone(), 424);
            out.push(json!({"id": id, "status": 424, "body": {"error": {"code": "FailedDependency", "message": format!("Dependent request failed. Request Id: {d}")}}}));
            continue;
        }
        let item_ctx = shared.new_ctx(&[]);
        let rel = url.strip_prefix('/').unwrap_or(url);
        let (path, query) = rel.split_once('?').unwrap_or((rel, ""));
        let path = format!("/{}", percent_decode(path, false));
        let resp = if path.starts_with("/v1.0/")
            || path.starts_with("/beta/")
            || url.starts_with("http")
        {
            bad_request("BadRequest", "Invalid request URL: a batch item's url must be relative and must not include the version.", &item_ctx)
        } else if shared.chance(faults.batch_item_429_rate) {
            // `retry_after: None` sends the item's 429 without the header (the client must
            // then back off on its own).
            crate::respond::too_many_requests(faults.retry_after.as_deref(), &item_ctx)
        } else {
            let mbx = crate::server::mailbox_key(shared, &path);
            let over = mbx.is_some_and(|k| {
                let n = per_mailbox.entry(k).or_insert(0);
                *n += 1;
                faults.mailbox_concurrency_limit > 0 && *n > faults.mailbox_concurrency_limit
            });
            if over {
                shared
                    .mailbox_throttled
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                crate::respond::application_throttled(
                    faults.retry_after.as_deref().or(Some("1")),
                    &item_ctx,
                )
            } else {
                let body = r
                    .get("body")
                    .filter(|b| !b.is_null())
                    .map(|b| serde_json::to_vec(b).unwrap_or_default())
                    .unwrap_or_default();
                let headers: Vec<(String, String)> = r
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                crate::graph::handle(
                    shared,
                    caller,
                    &GraphReq {
                        method: &method,
                        version,
                        path: &path,
                        query,
                        headers: &headers,
                        body: &body,
                        in_batch: true,
                    },
                    &item_ctx,
                )
            }
        };
        statuses.insert(id.clone(), resp.status);
        out.push(item_from_response(&id, &resp));
    }
    lock(&shared.prng).shuffle(&mut out);
    graph_json(200, &json!({"responses": out}), ctx)
}
