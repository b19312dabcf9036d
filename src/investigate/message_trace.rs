//! The message trace of the mail the user sent in the window, through the Exchange admin
//! REST endpoint the collectors use (`InvokeCommand`, [`crate::exchange`]).
//!
//! `Get-MessageTraceV2` (<https://learn.microsoft.com/powershell/module/exchange/get-messagetracev2>),
//! not Get-MessageTrace, which it replaces and which is to be deprecated
//! (<https://learn.microsoft.com/powershell/module/exchange/get-messagetrace>). As its page
//! says: data of the last 90 days; at most 10 days per query, so the window is split into
//! 10-day chunks; `ResultSize` up to 5000; and no paging — when a query returns a full
//! `ResultSize`, the next rows are asked for with `StartingRecipientAddress` and `EndDate`
//! set to the last row's `RecipientAddress` and `Received`. Whether the row at that exact
//! position is repeated is not documented, so rows are merged by message and recipient.
//!
//! External means: not one of the tenant's accepted domains (`Get-AcceptedDomain`; if that
//! read fails, the user's own domain).

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{epoch_of, DomainCount, MessageRow, MessagesSent, SourceOutcome, SourceState, Window};
use crate::exchange::ExchangeClient;
use crate::graph::ApiError;

/// The cmdlet.
pub const CMDLET: &str = "Get-MessageTraceV2";
/// Rows kept in the evidence (the summary counts all of them).
pub const MAX_ROWS: usize = 10_000;
/// The documented maximum `ResultSize`.
const RESULT_SIZE: usize = 5000;
/// The documented longest range of one query.
const CHUNK_DAYS: i64 = 10;
/// Follow-up queries per chunk before giving up (50 × 5000 rows).
const MAX_ROUNDS: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiRow {
    received: Option<String>,
    recipient_address: Option<String>,
    subject: Option<String>,
    status: Option<String>,
    #[serde(rename = "FromIP")]
    from_ip: Option<String>,
    message_trace_id: Option<String>,
}

/// The window in chunks of at most 10 days, oldest first.
pub fn chunks(window: &Window) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = window.since;
    while start < window.until {
        let end = (start + Duration::days(CHUNK_DAYS)).min(window.until);
        out.push(Window {
            since: start,
            until: end,
        });
        start = end;
    }
    out
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The tenant's accepted domains, lower-case; the user's own domain when unreadable.
fn accepted_domains(exchange: &ExchangeClient<'_>, upn: &str) -> HashSet<String> {
    let mut out: HashSet<String> = match exchange.invoke("Get-AcceptedDomain", json!({})) {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.get("DomainName").and_then(Value::as_str))
            .map(str::to_lowercase)
            .collect(),
        Err(e) => {
            tracing::warn!(
                "Get-AcceptedDomain failed, only the user's domain counts as internal: {e}"
            );
            HashSet::new()
        }
    };
    if let Some((_, domain)) = upn.rsplit_once('@') {
        out.insert(domain.to_lowercase());
    }
    out
}

/// Trace the mail `upn` sent in the window.
pub fn collect(
    exchange: &ExchangeClient<'_>,
    upn: &str,
    window: &Window,
) -> (SourceOutcome, MessagesSent) {
    collect_sized(exchange, upn, window, RESULT_SIZE)
}

/// [`collect`] with `ResultSize` rows per query (tests use a small one to make the
/// StartingRecipientAddress follow-ups happen).
pub fn collect_sized(
    exchange: &ExchangeClient<'_>,
    upn: &str,
    window: &Window,
    result_size: usize,
) -> (SourceOutcome, MessagesSent) {
    let result_size = result_size.clamp(1, RESULT_SIZE);
    let mut requests = Vec::new();
    let internal = accepted_domains(exchange, upn);
    let mut rows: BTreeMap<String, MessageRow> = BTreeMap::new();
    for chunk in chunks(window) {
        let (since, mut until) = (stamp(chunk.since), stamp(chunk.until));
        let mut starting: Option<String> = None;
        for round in 0.. {
            if round == MAX_ROUNDS {
                let reason = format!("{CMDLET}: more than {} rows between {since} and {until}; refusing to report partial data", MAX_ROUNDS * result_size);
                return (error(reason, requests), MessagesSent::default());
            }
            let mut params = json!({
                "SenderAddress": upn, "StartDate": since, "EndDate": until, "ResultSize": result_size,
            });
            if let (Some(from), Some(p)) = (&starting, params.as_object_mut()) {
                p.insert("StartingRecipientAddress".into(), json!(from));
            }
            requests.push(format!("InvokeCommand {CMDLET} {params}"));
            let page = match exchange.invoke(CMDLET, params) {
                Ok(page) => page,
                Err(e) => return (error(e.to_string(), requests), MessagesSent::default()),
            };
            let full = page.len() >= result_size;
            let mut last = None;
            for item in page {
                match to_row(item, &internal) {
                    Ok(row) => {
                        last = Some((row.recipient.clone(), row.time.clone()));
                        rows.insert(row.id.clone(), row);
                    }
                    Err(message) => {
                        let e = ApiError::BadResponse {
                            endpoint: format!("InvokeCommand {CMDLET}"),
                            message,
                        };
                        return (error(e.to_string(), requests), MessagesSent::default());
                    }
                }
            }
            match (full, last) {
                (true, Some((recipient, received))) => {
                    starting = Some(recipient);
                    until = received;
                }
                _ => break,
            }
        }
    }
    let mut all: Vec<MessageRow> = rows.into_values().collect();
    all.sort_by(|a, b| (a.epoch, &a.id).cmp(&(b.epoch, &b.id)));
    let mut counts: BTreeMap<(String, bool, String), u64> = BTreeMap::new();
    for r in &all {
        let status = r.status.clone().unwrap_or_else(|| "Unknown".into());
        *counts
            .entry((r.recipient_domain.clone(), r.external, status))
            .or_default() += 1;
    }
    let mut by_domain: Vec<DomainCount> = counts
        .into_iter()
        .map(|((domain, external, status), count)| DomainCount {
            domain,
            external,
            status,
            count,
        })
        .collect();
    by_domain.sort_by(|a, b| b.count.cmp(&a.count).then(a.domain.cmp(&b.domain)));
    let total = all.len() as u64;
    let external = all.iter().filter(|r| r.external).count() as u64;
    let rows_truncated = all.len() > MAX_ROWS;
    all.truncate(MAX_ROWS);
    let outcome = SourceOutcome {
        status: SourceState::Ok,
        reason: rows_truncated.then(|| format!("{total} rows traced, the first {MAX_ROWS} kept")),
        items: total,
        requests,
    };
    (
        outcome,
        MessagesSent {
            total,
            external,
            by_domain,
            rows: all,
            rows_truncated,
        },
    )
}

fn error(reason: String, requests: Vec<String>) -> SourceOutcome {
    SourceOutcome {
        status: SourceState::Error,
        reason: Some(reason),
        items: 0,
        requests,
    }
}

fn to_row(item: Map<String, Value>, internal: &HashSet<String>) -> Result<MessageRow, String> {
    let r: ApiRow = serde_json::from_value(Value::Object(item)).map_err(|e| e.to_string())?;
    let time = r.received.ok_or("a row without Received")?;
    let epoch = epoch_of(&time).ok_or("a row with an unreadable Received")?;
    let recipient = r
        .recipient_address
        .ok_or("a row without RecipientAddress")?
        .to_lowercase();
    let domain = recipient
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let trace = r.message_trace_id.unwrap_or_default();
    Ok(MessageRow {
        id: format!("{trace}/{recipient}"),
        time,
        epoch,
        external: !internal.contains(&domain),
        recipient_domain: domain,
        recipient,
        status: r.status.filter(|s| !s.is_empty()),
        subject: r.subject.filter(|s| !s.is_empty()),
        from_ip: r.from_ip.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_window_is_split_into_ten_day_chunks() {
        let w = Window {
            since: at("2025-12-01T00:00:00Z"),
            until: at("2026-01-05T12:00:00Z"),
        };
        let c = chunks(&w);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].until, at("2025-12-11T00:00:00Z"));
        assert_eq!(c[3].since, at("2025-12-31T00:00:00Z"));
        assert_eq!(c[3].until, w.until);
        assert!(c.iter().all(|x| x.until - x.since <= Duration::days(10)));
    }

    #[test]
    fn rows_need_a_time_and_a_recipient() {
        let internal: HashSet<String> = ["contoso.com".to_owned()].into();
        let Value::Object(m) = json!({"Received": "2025-12-31T02:48:00.0000000Z", "RecipientAddress": "AP@Northwind.example", "MessageTraceId": "t"})
        else {
            panic!()
        };
        let r = to_row(m, &internal).unwrap();
        assert_eq!(
            (r.id.as_str(), r.external, r.epoch),
            ("t/ap@northwind.example", true, 1_767_149_280)
        );
        let Value::Object(m) = json!({"RecipientAddress": "a@contoso.com"}) else {
            panic!()
        };
        assert!(to_row(m, &internal).is_err());
    }
}
