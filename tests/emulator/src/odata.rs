//! OData query handling shared by Graph collections: `$select`, a small `$filter`
//! evaluator (`prop eq literal`, `and`, `any` on string collections), `$top` limits and
//! paging with an opaque `$skiptoken` carried in an absolute `@odata.nextLink`.

use serde_json::{json, Map, Value};

use crate::http::Response;
use crate::respond::{bad_request, Ctx};
use crate::util::{b64url, b64url_decode, percent_decode};

/// Decoded query parameters plus the raw pairs (for rebuilding nextLinks verbatim).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub params: Vec<(String, String)>,
    raw: Vec<String>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let mut q = Query::default();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = percent_decode(k, true);
            let k = if !k.starts_with('$')
                && [
                    "select",
                    "top",
                    "filter",
                    "expand",
                    "count",
                    "skiptoken",
                    "orderby",
                    "search",
                    "skip",
                ]
                .contains(&k.as_str())
            {
                format!("${k}")
            } else {
                k
            };
            q.params.push((k.clone(), percent_decode(v, true)));
            if k != "$skiptoken" {
                q.raw.push(part.to_owned());
            }
        }
        q
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `$select` as a list (empty when absent).
    pub fn select(&self) -> Vec<String> {
        self.get("$select")
            .map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn selects(&self, prop: &str) -> bool {
        self.select().iter().any(|s| s.eq_ignore_ascii_case(prop))
    }

    pub fn count(&self) -> bool {
        self.get("$count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    }

    fn raw_without_skiptoken(&self) -> String {
        self.raw.join("&")
    }
}

/// Keeps only selected properties (case-insensitive match; `@odata.type` is kept).
pub fn apply_select(obj: Value, select: &[String]) -> Value {
    if select.is_empty() {
        return obj;
    }
    match obj {
        Value::Object(m) => {
            let mut out = Map::new();
            for s in select {
                if let Some((k, v)) = m.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)) {
                    out.insert(k.clone(), v.clone());
                }
            }
            if let Some(t) = m.get("@odata.type") {
                out.insert("@odata.type".into(), t.clone());
            }
            Value::Object(out)
        }
        other => other,
    }
}

#[derive(Debug, Clone)]
enum Clause {
    Eq(String, Value),
    Ne(String, Value),
    Any(String, Value),
    In(String, Vec<Value>),
}

fn literal(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        return Some(Value::String(inner.replace("''", "'")));
    }
    match s {
        "true" => Some(json!(true)),
        "false" => Some(json!(false)),
        "null" => Some(Value::Null),
        _ => s.parse::<f64>().ok().map(|f| json!(f)),
    }
}

/// Parses the small `$filter` subset the tool uses; `None` = unsupported.
fn parse_filter(f: &str) -> Option<Vec<Clause>> {
    let mut out = Vec::new();
    for part in split_and(f) {
        let part = part.trim();
        if let Some((prop, rest)) = part.split_once("/any(") {
            // methodsRegistered/any(m:m eq 'x')
            let body = rest.strip_suffix(')')?;
            let (_, cond) = body.split_once(':')?;
            let (_, lit) = cond.split_once(" eq ")?;
            out.push(Clause::Any(prop.trim().to_owned(), literal(lit)?));
            continue;
        }
        let mut words = part.splitn(3, ' ');
        let (prop, op, lit) = (words.next()?, words.next()?, words.next()?);
        match op {
            "eq" => out.push(Clause::Eq(prop.to_owned(), literal(lit)?)),
            "ne" => out.push(Clause::Ne(prop.to_owned(), literal(lit)?)),
            "in" => {
                let inner = lit.trim().strip_prefix('(')?.strip_suffix(')')?;
                let vals = inner.split(',').map(literal).collect::<Option<Vec<_>>>()?;
                out.push(Clause::In(prop.to_owned(), vals));
            }
            _ => return None,
        }
    }
    Some(out)
}

fn split_and(f: &str) -> Vec<String> {
    // Split on " and " outside quoted literals; ' ' is always a char boundary.
    let b = f.as_bytes();
    let (mut parts, mut start, mut in_q, mut i) = (Vec::new(), 0, false, 0);
    while i < b.len() {
        if b[i] == b'\'' {
            in_q = !in_q;
        }
        if !in_q && b[i..].starts_with(b" and ") {
            parts.push(f[start..i].to_owned());
            i += 5;
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(f[start..].to_owned());
    parts
}

fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path.split('/') {
        cur = cur
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))
            .map(|(_, v)| v)?;
    }
    Some(cur)
}

fn eq(a: Option<&Value>, b: &Value) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Some(Value::Number(x)), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Some(x), y) => x == y,
        (None, Value::Null) => true,
        (None, _) => false,
    }
}

/// Applies `$filter` when present; unsupported expressions → 400 `Request_UnsupportedQuery`.
pub fn apply_filter(items: Vec<Value>, q: &Query, ctx: &Ctx) -> Result<Vec<Value>, Response> {
    let Some(f) = q.get("$filter") else {
        return Ok(items);
    };
    let clauses = parse_filter(f)
        .ok_or_else(|| bad_request("Request_UnsupportedQuery", "Unsupported Query.", ctx))?;
    Ok(items
        .into_iter()
        .filter(|item| {
            clauses.iter().all(|c| match c {
                Clause::Eq(p, v) => eq(lookup(item, p), v),
                Clause::Ne(p, v) => !eq(lookup(item, p), v),
                Clause::In(p, vs) => vs.iter().any(|v| eq(lookup(item, p), v)),
                Clause::Any(p, v) => lookup(item, p)
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| eq(Some(x), v))),
            })
        })
        .collect())
}

/// Paging parameters of one collection endpoint.
pub struct PageSpec<'a> {
    pub version: &'a str,
    /// Path after the version, as the nextLink should repeat it (`/users`).
    pub path: &'a str,
    /// `@odata.context` fragment after `$metadata#`.
    pub context: String,
    pub default_top: usize,
    pub max_top: usize,
    /// Server-side cap regardless of `$top` (signInActivity's historical 120).
    pub cap: Option<usize>,
}

fn encode_skiptoken(offset: usize) -> String {
    let mut bytes = b"DSpt\x02\x00\x01\x00".to_vec();
    bytes.extend_from_slice(&(offset as u64).to_le_bytes());
    b64url(&bytes)
}

fn decode_skiptoken(t: &str) -> Option<usize> {
    let bytes = b64url_decode(t)?;
    if bytes.len() != 16 || &bytes[..4] != b"DSpt" {
        return None;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[8..16]);
    Some(u64::from_le_bytes(n) as usize)
}

/// Validates `$top` against the API's limit (400 with Graph's message when out of range).
pub fn top(q: &Query, max_top: usize, ctx: &Ctx) -> Result<Option<usize>, Response> {
    let Some(t) = q.get("$top") else {
        return Ok(None);
    };
    match t.trim().parse::<i64>() {
        Ok(n) if n >= 1 && n as usize <= max_top => Ok(Some(n as usize)),
        _ => Err(bad_request(
            "Request_UnsupportedQuery",
            &format!(
                "Invalid page size specified: '{t}'. Must be between 1 and {max_top} inclusive."
            ),
            ctx,
        )),
    }
}

/// One page of `items` with `@odata.context`, `@odata.count` (first page, `$count=true`),
/// `@odata.nextLink` (absolute, on the emulator's host) and `value`.
pub fn page(
    items: Vec<Value>,
    q: &Query,
    spec: &PageSpec<'_>,
    ctx: &Ctx,
) -> Result<Value, Response> {
    let total = items.len();
    page_with(total, &|from, to| items[from..to].to_vec(), q, spec, ctx)
}

/// Like `page`, rendering only the items of the page (`fetch(from, to)`), for big tenants.
pub fn page_with(
    total: usize,
    fetch: &dyn Fn(usize, usize) -> Vec<Value>,
    q: &Query,
    spec: &PageSpec<'_>,
    ctx: &Ctx,
) -> Result<Value, Response> {
    let t = top(q, spec.max_top, ctx)?;
    let offset = match q.get("$skiptoken") {
        Some(tok) => decode_skiptoken(tok).ok_or_else(|| {
            bad_request(
                "Request_BadRequest",
                "Invalid continuation token: $skiptoken is not valid.",
                ctx,
            )
        })?,
        None => 0,
    };
    let mut size = t.unwrap_or(spec.default_top).max(1);
    if let Some(cap) = spec.cap {
        size = size.min(cap.max(1));
    }
    let start = offset.min(total);
    let end = (offset + size).min(total);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/{}/$metadata#{}",
            ctx.base_url, spec.version, spec.context
        )),
    );
    if q.count() && offset == 0 {
        out.insert("@odata.count".into(), json!(total));
    }
    if end < total {
        let raw = q.raw_without_skiptoken();
        let sep = if raw.is_empty() { "" } else { "&" };
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/{}{}?{raw}{sep}$skiptoken={}",
                ctx.base_url,
                spec.version,
                spec.path,
                encode_skiptoken(end)
            )),
        );
    }
    out.insert("value".into(), Value::Array(fetch(start, end)));
    Ok(Value::Object(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filter_subset_evaluates() {
        let items = vec![
            json!({"id": "a", "roleDefinitionId": "X", "methodsRegistered": ["fido2"]}),
            json!({"id": "b", "roleDefinitionId": "Y", "methodsRegistered": []}),
        ];
        let ctx = Ctx {
            request_id: "r".into(),
            client_request_id: "c".into(),
            base_url: "http://x".into(),
        };
        let q = Query::parse("$filter=roleDefinitionId%20eq%20'X'");
        let out = apply_filter(items.clone(), &q, &ctx).unwrap();
        assert_eq!(out.len(), 1);
        let q = Query::parse("$filter=methodsRegistered/any(m:m eq 'fido2')");
        assert_eq!(apply_filter(items.clone(), &q, &ctx).unwrap()[0]["id"], "a");
        let q = Query::parse("$filter=startswith(id,'a')");
        assert!(apply_filter(items, &q, &ctx).is_err());
    }

    #[test]
    fn skiptoken_round_trips_and_rejects_garbage() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(42)), Some(42));
        assert_eq!(decode_skiptoken("garbage"), None);
    }
}
