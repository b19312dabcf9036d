//! Response builders with Microsoft's exact envelopes: Graph success/error bodies and
//! headers, AADSTS token errors, and Exchange admin API errors (lower-case `innererror`).

use serde_json::{json, Value};

use crate::http::Response;
use crate::util::{aad_timestamp, graph_error_date, now_epoch};

/// Content type of Graph (and Exchange) success bodies.
pub const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Per-request correlation ids echoed in headers and `innerError`.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub client_request_id: String,
    pub base_url: String,
}

pub fn json_body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn with_ids(r: Response, ctx: &Ctx) -> Response {
    r.header("request-id", &ctx.request_id)
        .header("client-request-id", &ctx.client_request_id)
        .header("x-ms-ags-diagnostic", "{\"ServerInfo\":{\"DataCenter\":\"Emulator\",\"Slice\":\"E\",\"Ring\":\"0\",\"ScaleUnit\":\"000\",\"RoleInstance\":\"EMU\"}}")
}

pub fn graph_json(status: u16, v: &Value, ctx: &Ctx) -> Response {
    let mut r = with_ids(Response::new(status), ctx)
        .header("Content-Type", ODATA_JSON)
        .header("OData-Version", "4.0")
        .header("Cache-Control", "no-cache");
    r.body = json_body(v);
    r
}

pub fn graph_no_content(ctx: &Ctx) -> Response {
    with_ids(Response::new(204), ctx).header("Cache-Control", "no-cache")
}

/// Graph error with `innerError {date, request-id, client-request-id}`.
pub fn graph_error(status: u16, code: &str, message: &str, ctx: &Ctx) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": graph_error_date(now_epoch()),
            "request-id": ctx.request_id,
            "client-request-id": ctx.client_request_id,
        }
    }});
    let mut r = with_ids(Response::new(status), ctx).header("Content-Type", "application/json");
    r.body = json_body(&body);
    r
}

/// Outlook-workload errors carry only code + message (no innerError).
pub fn outlook_error(status: u16, code: &str, message: &str, ctx: &Ctx) -> Response {
    let mut r = with_ids(Response::new(status), ctx).header("Content-Type", "application/json");
    r.body = json_body(&json!({"error": {"code": code, "message": message}}));
    r
}

pub fn forbidden(ctx: &Ctx) -> Response {
    graph_error(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
        ctx,
    )
}

pub fn not_found(id: &str, ctx: &Ctx) -> Response {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        ctx,
    )
}

pub fn bad_request(code: &str, message: &str, ctx: &Ctx) -> Response {
    graph_error(400, code, message, ctx)
}

pub fn too_many_requests(retry_after: Option<&str>, ctx: &Ctx) -> Response {
    let body = json!({"error": {
        "code": "TooManyRequests",
        "message": "Please retry again later.",
        "innerError": {
            "code": "429",
            "date": graph_error_date(now_epoch()),
            "message": "Please retry after",
            "request-id": ctx.request_id,
            "status": "429"
        }
    }});
    let mut r = with_ids(Response::new(429), ctx).header("Content-Type", "application/json");
    if let Some(ra) = retry_after {
        r = r.header("Retry-After", ra);
    }
    r.body = json_body(&body);
    r
}

pub fn application_throttled(retry_after: Option<&str>, ctx: &Ctx) -> Response {
    let mut r = outlook_error(
        429,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
        ctx,
    );
    if let Some(ra) = retry_after {
        r = r.header("Retry-After", ra);
    }
    r
}

/// Exchange (`InvokeCommand`) over the per-mailbox concurrency limit: 429 with
/// `Retry-After` when configured (CONTRACT §6.5 "429 + Retry-After sometimes") and the
/// Outlook throttling body of §10 (`ApplicationThrottled`), with the Exchange response
/// headers. UNVERIFIED: no capture of a per-mailbox InvokeCommand throttle exists; the body
/// mirrors `fixtures/error.429.ApplicationThrottled.json`.
pub fn exo_application_throttled(retry_after: Option<&str>, ctx: &Ctx) -> Response {
    let mut r = exo_headers(Response::new(429), ctx)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("X-ExceptionType", "ApplicationThrottled");
    if let Some(ra) = retry_after {
        r = r.header("Retry-After", ra);
    }
    r.body = json_body(&json!({"error": {
        "code": "ApplicationThrottled",
        "message": "Application is over its MailboxConcurrency limit.",
    }}));
    r
}

pub fn service_unavailable(ctx: &Ctx) -> Response {
    graph_error(
        503,
        "serviceNotAvailable",
        "The service is temporarily unavailable. Please retry later.",
        ctx,
    )
}

/// Graph 401 with the `WWW-Authenticate` challenge Graph sends.
pub fn graph_unauthorized(message: &str, ctx: &Ctx) -> Response {
    graph_error(401, "InvalidAuthenticationToken", message, ctx).header(
        "WWW-Authenticate",
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
    )
}

// ---- token endpoint ---------------------------------------------------------------------

/// An AADSTS error body; `spaces` uses the 2025–2026 single-space trailer instead of CRLF.
pub fn aadsts(
    status: u16,
    error: &str,
    code: u32,
    message: &str,
    spaces: bool,
    ctx: &Ctx,
) -> Response {
    let ts = aad_timestamp(now_epoch());
    let sep = if spaces { " " } else { "\r\n" };
    let description = format!(
        "AADSTS{code}: {message}{sep}Trace ID: {}{sep}Correlation ID: {}{sep}Timestamp: {ts}",
        ctx.request_id, ctx.client_request_id
    );
    let body = json!({
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": ctx.request_id,
        "correlation_id": ctx.client_request_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    let mut r = Response::new(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Cache-Control", "no-store, no-cache")
        .header("x-ms-request-id", &ctx.request_id);
    r.body = json_body(&body);
    r
}

// ---- Exchange ---------------------------------------------------------------------------

fn exo_headers(r: Response, ctx: &Ctx) -> Response {
    r.header("request-id", &ctx.request_id)
        .header("Cache-Control", "no-cache")
        .header("OData-Version", "4.0")
}

pub fn exo_json(v: &Value, ctx: &Ctx) -> Response {
    let mut r = exo_headers(Response::new(200), ctx)
        .header("Content-Type", ODATA_JSON)
        .header("Preference-Applied", "odata.include-annotations=\"*\"");
    r.body = json_body(v);
    r
}

/// Exchange error envelope: `error.message` hides the reason; the real text is in
/// `innererror.internalexception.message` and optionally `details[0].message`.
#[allow(clippy::too_many_arguments)] // mirrors the envelope's fields one to one
pub fn exo_error(
    status: u16,
    code: &str,
    message: &str,
    exception_type: &str,
    inner_message: &str,
    details_prefix: Option<&str>,
    warnings: bool,
    ctx: &Ctx,
) -> Response {
    let mut error = json!({
        "code": code,
        "message": message,
    });
    if let Some(prefix) = details_prefix {
        error["details"] = json!([{
            "code": "Client",
            "target": "",
            "message": format!("{prefix}|{exception_type}|{inner_message}"),
        }]);
    }
    error["innererror"] = json!({
        "message": message,
        "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        "stacktrace": "",
        "internalexception": {
            "message": inner_message,
            "type": exception_type,
            "stacktrace": "",
        }
    });
    let mut body = json!({ "error": error });
    if warnings {
        body["adminapi.warnings@odata.type"] = json!("#Collection(String)");
        body["@adminapi.warnings"] = json!([]);
    }
    let short_type = exception_type.rsplit('.').next().unwrap_or(exception_type);
    let mut r = exo_headers(Response::new(status), ctx)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("X-ExceptionType", short_type);
    r.body = json_body(&body);
    r
}
