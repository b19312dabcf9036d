//! Exchange admin API JSON batching: `POST /adminapi/beta/{tenant}/$batch` with up to ten
//! `InvokeCommand` items. Microsoft documents no such route; its shape is the one CIPP
//! (`New-ExoBulkRequest.ps1`) has used in production — `{"requests":[{id, method:"POST",
//! url:"…/InvokeCommand", body:{CmdletInput}, headers}]}` in tens, answered
//! `{"responses":[{id, status, headers, body}]}` — in the OData JSON batch format (as
//! Graph's, <https://learn.microsoft.com/graph/json-batching>). Strict where that is
//! justified, and the client handles the other answer where it is not:
//! - more than ten items, no `requests`, a missing or repeated id: 400 for the whole batch;
//! - an item that is not a POST to this tenant's `InvokeCommand`: that item 405/404;
//! - each item runs like its own `InvokeCommand` (roles, parameter sets, the Exchange
//!   error body shape, paging with `@odata.nextLink` in the item's body), with its own
//!   headers (`X-AnchorMailbox`, `Prefer`);
//! - items run side by side: each holds its mailbox's in-flight slot for the whole batch,
//!   so an item over the per-mailbox concurrency limit answers 429 `ApplicationThrottled`
//!   with `Retry-After` in the item, as do items hit by `batch_item_429_rate`;
//! - answers come back in shuffled order (read them by id);
//! - `Options::exo_batch_refused` answers the whole batch with that status (a tenant or
//!   service version without the route), to test the client's fallback.

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::respond::{exo_error, exo_json, Ctx};
use crate::server::{acquire_mailbox, exo_mailbox_key, lock, Caller, Shared};

/// Items per batch (CIPP's split; the limit this emulator enforces).
pub const MAX_ITEMS: usize = 10;

fn bad_batch(ctx: &Ctx, message: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        message,
        "Microsoft.OData.ODataException",
        message,
        None,
        false,
        ctx,
    )
}

fn item_answer(id: &str, r: &Response) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        if ["content-type", "retry-after", "x-exceptiontype"]
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

/// Whether `url` (absolute or relative) names `InvokeCommand` of `tenant_segment`.
fn is_invoke_command(url: &str, tenant_segment: &str) -> bool {
    let path = url.split('?').next().unwrap_or_default();
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => path,
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    segs.len() == 4
        && segs[0].eq_ignore_ascii_case("adminapi")
        && segs[1].eq_ignore_ascii_case("beta")
        && segs[2].eq_ignore_ascii_case(tenant_segment)
        && segs[3].eq_ignore_ascii_case("InvokeCommand")
}

pub fn batch(
    shared: &Shared,
    caller: &Caller,
    tenant_segment: &str,
    req: &Request,
    ctx: &Ctx,
) -> Response {
    let settings = shared.settings();
    if let Some(status) = settings.options.exo_batch_refused {
        let mut r = Response::new(status).header("Content-Type", "application/json");
        r.body = serde_json::to_vec(&json!({"error": {"code": "NotFound", "message": "The requested resource does not exist."}}))
            .unwrap_or_default();
        return r;
    }
    if req.method != "POST" {
        return Response::new(405).header("Allow", "POST");
    }
    let parsed: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let Some(requests) = parsed.get("requests").and_then(Value::as_array) else {
        return bad_batch(ctx, "Invalid batch payload format.");
    };
    if requests.is_empty() || requests.len() > MAX_ITEMS {
        return bad_batch(
            ctx,
            &format!("A batch must hold between 1 and {MAX_ITEMS} requests."),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for r in requests {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("");
        if id.is_empty() || seen.iter().any(|s| s.eq_ignore_ascii_case(id)) {
            return bad_batch(ctx, "Batch request ids must be unique and non-empty.");
        }
        seen.push(id.to_owned());
    }
    let faults = settings.faults;
    let mut guards = Vec::new();
    let mut out = Vec::new();
    for r in requests {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let item_ctx = shared.new_ctx(&[]);
        let method = r.get("method").and_then(Value::as_str).unwrap_or("");
        let url = r.get("url").and_then(Value::as_str).unwrap_or("");
        if !method.eq_ignore_ascii_case("POST") {
            out.push(item_answer(
                &id,
                &Response::new(405).header("Allow", "POST"),
            ));
            continue;
        }
        if !is_invoke_command(url, tenant_segment) {
            out.push(item_answer(&id, &bad_batch(&item_ctx, &format!("Invalid request URL '{url}': a batch item must POST to this tenant's InvokeCommand."))));
            continue;
        }
        let headers: Vec<(String, String)> = r
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let item = Request {
            method: "POST".into(),
            path: format!("/adminapi/beta/{tenant_segment}/InvokeCommand"),
            query: url
                .split_once('?')
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default(),
            headers,
            body: r
                .get("body")
                .map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default(),
        };
        if shared.chance(faults.batch_item_429_rate) {
            let throttled =
                crate::respond::exo_application_throttled(faults.retry_after.as_deref(), &item_ctx);
            out.push(item_answer(&id, &throttled));
            continue;
        }
        if faults.mailbox_concurrency_limit > 0 {
            if let Some(key) = exo_mailbox_key(shared, &item) {
                let (g, n) = acquire_mailbox(shared, &key);
                if n > faults.mailbox_concurrency_limit {
                    drop(g);
                    shared
                        .mailbox_throttled
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let throttled = crate::respond::exo_application_throttled(
                        faults.retry_after.as_deref().or(Some("1")),
                        &item_ctx,
                    );
                    out.push(item_answer(&id, &throttled));
                    continue;
                }
                // Held until the batch is answered: the items run side by side.
                guards.push(g);
            }
        }
        let resp =
            crate::exchange::invoke_command(shared, caller, tenant_segment, &item, &item_ctx);
        out.push(item_answer(&id, &resp));
    }
    drop(guards);
    lock(&shared.prng).shuffle(&mut out);
    exo_json(&json!({"responses": out}), ctx)
}

/// `Faults::throttle_cmdlets`: a throttled cmdlet answers 429 with Exchange's throttling
/// body, for the next `throttle_cmdlets_times` calls (`u32::MAX`: every call).
pub fn cmdlet_throttle(shared: &Shared, ctx: &Ctx, cmdlet: &str) -> Option<Response> {
    let mut settings = lock(&shared.settings);
    let f = &mut settings.faults;
    if f.throttle_cmdlets_times == 0
        || !f
            .throttle_cmdlets
            .iter()
            .any(|c| c.eq_ignore_ascii_case(cmdlet))
    {
        return None;
    }
    if f.throttle_cmdlets_times != u32::MAX {
        f.throttle_cmdlets_times -= 1;
    }
    let retry_after = f.retry_after.clone();
    drop(settings);
    Some(crate::respond::exo_application_throttled(
        retry_after.as_deref(),
        ctx,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_urls_must_name_this_tenants_invoke_command() {
        let t = "contoso.onmicrosoft.com";
        assert!(is_invoke_command(
            "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
            t
        ));
        assert!(is_invoke_command(
            "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand?$skip=1",
            t
        ));
        assert!(!is_invoke_command(
            "/adminapi/beta/fabrikam.com/InvokeCommand",
            t
        ));
        assert!(!is_invoke_command(
            "/adminapi/beta/contoso.onmicrosoft.com/$batch",
            t
        ));
    }
}
