//! Exchange message trace, `Get-MessageTraceV2` over InvokeCommand, and the contoso story it
//! tells (`story`): Lena's ordinary mail in December, then, minutes after the Amsterdam
//! sign-in, 60 messages to an outside domain she never wrote to.
//!
//! As documented (<https://learn.microsoft.com/powershell/module/exchange/get-messagetracev2>;
//! Get-MessageTrace is being replaced by it,
//! <https://learn.microsoft.com/powershell/module/exchange/get-messagetrace>):
//! - parameters `EndDate`, `FromIP`, `MessageId`, `MessageTraceId`, `RecipientAddress`,
//!   `ResultSize`, `SenderAddress`, `StartDate`, `StartingRecipientAddress`, `Status`,
//!   `SubjectFilterType`, `Subject`, `ToIP`;
//! - data of the last 90 days only, at most 10 days per query, without dates the last 48
//!   hours; `ResultSize` 1000 by default, at most 5000;
//! - no paging: the next rows are asked for with `StartingRecipientAddress` and `EndDate`
//!   set to the last row's `RecipientAddress` and `Received` (rows come newest first).
//!
//! The error texts of the refused ranges are not documented (UNVERIFIED): the emulator
//! answers 400 with a `ParameterBindingException`-style text naming the limit. "Today" for
//! the 90 days is `Options::message_trace_today` (the story's present, 2026-01-05), so the
//! December story stays traceable whatever the machine's clock says.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use crate::exchange::Obj;
use crate::http::Response;
use crate::respond::{exo_error, Ctx};
use crate::server::{lock, Shared};
use crate::state::User;
use crate::util::stable_guid;

pub const CMDLET: &str = "Get-MessageTraceV2";

pub const PARAMETERS: &[&str] = &[
    "EndDate",
    "FromIP",
    "MessageId",
    "MessageTraceId",
    "RecipientAddress",
    "ResultSize",
    "SenderAddress",
    "StartDate",
    "StartingRecipientAddress",
    "Status",
    "SubjectFilterType",
    "Subject",
    "ToIP",
];

const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
/// The outside domain of the bulk mail.
pub const BULK_DOMAIN: &str = "northwind-traders.example";

/// One row: (received, recipient, subject, status, message key).
fn row(
    sender: &str,
    received: &str,
    recipient: &str,
    subject: &str,
    status: &str,
    key: &str,
) -> Value {
    json!({
        "Received": received,
        "SenderAddress": sender,
        "RecipientAddress": recipient,
        "Subject": subject,
        "Status": status,
        "FromIP": "2a01:111:f403:c200::1",
        "ToIP": null,
        "Size": 48213,
        "MessageId": format!("<{}@contoso.com>", stable_guid(&format!("msgid/{key}"))),
        "MessageTraceId": stable_guid(&format!("trace/{key}")),
    })
}

/// Lena's sent mail: a few ordinary messages (colleagues, one partner), then the bulk.
pub fn story(users: &[User]) -> Vec<Value> {
    let Some(lena) = users.iter().find(|u| u.id == LENA) else {
        return Vec::new();
    };
    let from = lena.user_principal_name.to_lowercase();
    let mut out = vec![
        row(
            &from,
            "2025-12-02T09:30:00Z",
            "jonas.weber@contoso.com",
            "Quarterly numbers",
            "Delivered",
            "o1",
        ),
        row(
            &from,
            "2025-12-02T09:30:00Z",
            "mia.schulz@contoso.com",
            "Quarterly numbers",
            "Delivered",
            "o1",
        ),
        row(
            &from,
            "2025-12-09T14:05:00Z",
            "orders@fabrikam.example",
            "PO 4711",
            "Delivered",
            "o2",
        ),
        row(
            &from,
            "2025-12-16T10:45:00Z",
            "jonas.weber@contoso.com",
            "Re: Offsite",
            "Delivered",
            "o3",
        ),
        row(
            &from,
            "2025-12-23T16:20:00Z",
            "orders@fabrikam.example",
            "Re: PO 4711",
            "Delivered",
            "o4",
        ),
        row(
            &from,
            "2025-12-23T16:20:00Z",
            "billing@fabrikam.example",
            "Re: PO 4711",
            "Delivered",
            "o4",
        ),
    ];
    // Three messages of 20 BCC recipients each, 02:48–02:58, a few bouncing.
    for (m, minute) in [(0, "48"), (1, "53"), (2, "58")] {
        for r in 0..20 {
            let n = m * 20 + r;
            let status = if n % 15 == 7 { "Failed" } else { "Delivered" };
            out.push(row(
                &from,
                &format!("2025-12-31T02:{minute}:00Z"),
                &format!("ap{n:02}@{BULK_DOMAIN}"),
                "Invoice overdue - updated bank details",
                status,
                &format!("bulk{m}"),
            ));
        }
    }
    out
}

fn refused(ctx: &Ctx, text: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Error executing cmdlet",
        "Microsoft.Exchange.Management.FfoReporting.InvalidParameterException",
        text,
        None,
        false,
        ctx,
    )
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text(params: &Map<String, Value>, name: &str) -> Option<String> {
    match param(params, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

fn date(
    params: &Map<String, Value>,
    name: &str,
    ctx: &Ctx,
) -> Result<Option<DateTime<Utc>>, Response> {
    let Some(s) = text(params, name) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(&s)
        .map(|d| Some(d.with_timezone(&Utc)))
        .map_err(|_| refused(ctx, &format!("Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{s}\" to type \"System.DateTime\".")))
}

/// `Get-MessageTraceV2`.
pub fn read(shared: &Shared, ctx: &Ctx, params: &Map<String, Value>) -> Result<Vec<Obj>, Response> {
    let today = DateTime::parse_from_rfc3339(&shared.settings().options.message_trace_today)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let end = date(params, "EndDate", ctx)?;
    let start = date(params, "StartDate", ctx)?;
    let (start, end) = match (start, end) {
        (None, None) => (today - Duration::hours(48), today),
        (Some(s), Some(e)) => (s, e),
        _ => {
            return Err(refused(
                ctx,
                "StartDate and EndDate must be specified together.",
            ))
        }
    };
    if start > end {
        return Err(refused(ctx, "StartDate must be earlier than EndDate."));
    }
    if end - start > Duration::days(10) {
        return Err(refused(ctx, "The time range cannot exceed 10 days. You can only return 10 days worth of data per query."));
    }
    if start < today - Duration::days(90) {
        return Err(refused(
            ctx,
            "StartDate is older than 90 days. You can search message data for the last 90 days.",
        ));
    }
    let result_size = match param(params, "ResultSize") {
        None => 1000,
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
            Some(n @ 1..=5000) => n as usize,
            _ => return Err(refused(ctx, &format!("Cannot validate argument on parameter 'ResultSize'. The {v} argument is greater than the maximum allowed range of 5000."))),
        },
    };
    let starting = text(params, "StartingRecipientAddress").map(|s| s.to_lowercase());
    let senders: Vec<String> = text(params, "SenderAddress")
        .map(|s| s.split(',').map(|x| x.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let st = lock(&shared.state);
    let mut rows: Vec<&Value> = st
        .message_trace
        .iter()
        .filter(|r| {
            let received = r["Received"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc));
            let sender = r["SenderAddress"].as_str().unwrap_or("").to_lowercase();
            received.is_some_and(|t| t >= start && t <= end)
                && (senders.is_empty() || senders.contains(&sender))
        })
        .collect();
    // Newest first, then by recipient: the order StartingRecipientAddress continues.
    rows.sort_by(|a, b| {
        let key = |r: &Value| {
            (
                r["Received"].as_str().unwrap_or("").to_owned(),
                r["RecipientAddress"].as_str().unwrap_or("").to_lowercase(),
            )
        };
        let (ka, kb) = (key(a), key(b));
        kb.0.cmp(&ka.0).then(ka.1.cmp(&kb.1))
    });
    if let Some(from) = &starting {
        let end_text = end.format("%Y-%m-%dT%H:%M:%S").to_string();
        rows.retain(|r| {
            let received = r["Received"].as_str().unwrap_or("");
            let recipient = r["RecipientAddress"].as_str().unwrap_or("").to_lowercase();
            received.get(..19) < Some(end_text.as_str())
                || (received.get(..19) == Some(end_text.as_str()) && recipient > *from)
        });
    }
    Ok(rows
        .into_iter()
        .take(result_size)
        .map(|r| {
            let mut o = Vec::new();
            o.push(("Received@data.type".to_owned(), json!("System.DateTime")));
            o.push((
                "Received".to_owned(),
                json!(crate::state::dotnet_date(
                    r["Received"].as_str().unwrap_or("")
                )),
            ));
            for k in [
                "SenderAddress",
                "RecipientAddress",
                "Subject",
                "Status",
                "ToIP",
                "FromIP",
                "Size",
                "MessageId",
            ] {
                o.push((k.to_owned(), r[k].clone()));
            }
            o.push(("MessageTraceId@data.type".to_owned(), json!("System.Guid")));
            o.push(("MessageTraceId".to_owned(), r["MessageTraceId"].clone()));
            Obj(o)
        })
        .collect())
}
