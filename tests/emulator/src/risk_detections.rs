//! Identity Protection risk detections: `GET /identityProtection/riskDetections` (v1.0 and
//! beta) and the contoso story it tells for `m365guard investigate`: Lena Fischer's phishing
//! sign-in from Amsterdam raised an `unfamiliarFeatures` and an `anonymizedIPAddress`
//! detection (the attacker's address is a Tor exit).
//!
//! What the docs say, and what the emulator therefore does:
//! - List riskDetections (<https://learn.microsoft.com/graph/api/riskdetection-list>):
//!   application permission IdentityRiskEvent.Read.All, no higher one — without it 403
//!   `Authorization_RequestDenied`. The page says "You must have a Microsoft Entra ID P1 or
//!   P2 license"; P1 tenants see only part of the detections, so the emulator gates the
//!   list on P2 like riskyUsers (CONTRACT §8.1) and answers 403 "not licensed" without it.
//! - `$filter` and `$select`; default page 20, `$top` at most 500 (larger → 400).
//! - The only `$filter` forms the docs show are `property eq 'literal'` joined by `and` /
//!   `or` (<https://learn.microsoft.com/graph/api/riskdetection-list?view=graph-rest-beta>
//!   example 2; the Get-MgRiskDetection examples filter `userDisplayName eq` and `riskLevel
//!   eq`). The emulator accepts `eq` on the string properties of the riskDetection resource
//!   (<https://learn.microsoft.com/graph/api/resources/riskdetection>) joined by `and`;
//!   anything else (a range on a date, a function, `or`) is 400
//!   `Request_UnsupportedQuery`: stricter than the service, never more lenient.
//! - Items: the resource's properties; `requestId` and `correlationId` are those of the
//!   sign-in the detection belongs to.

use serde_json::{json, Value};

use crate::graph::GraphReq;
use crate::http::Response;
use crate::odata::{apply_select, page, PageSpec, Query};
use crate::respond::{bad_request, forbidden, graph_error, graph_json, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::state::User;
use crate::util::stable_guid;

type R = Result<Response, Response>;

const RISK_EVENT_READ: &[&str] = &["IdentityRiskEvent.Read.All"];

/// Lena Fischer (as in `audit_logs`).
const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";

/// The Amsterdam phishing sign-in: its time and its index in `audit_logs`' story (the
/// sign-in's `id` and `correlationId` are derived from it).
const PHISH_TIME: &str = "2025-12-31T02:14:09Z";
const PHISH_INDEX: usize = 5;

/// Properties `$filter` may compare with `eq`.
const FILTERABLE: [&str; 10] = [
    "id",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "riskEventType",
    "riskType",
    "riskLevel",
    "riskState",
    "ipAddress",
    "activity",
];

/// The detections of a tenant built from a snapshot: Lena's two when she exists.
pub fn story(users: &[User]) -> Vec<Value> {
    let Some(lena) = users.iter().find(|u| u.id == LENA) else {
        return Vec::new();
    };
    let sign_in = stable_guid(&format!("signin/{}/{PHISH_INDEX}", lena.id));
    let correlation = stable_guid(&format!("corr/{}/{PHISH_INDEX}", lena.id));
    let detection = |kind: &str, level: &str, detected: &str, timing: &str| {
        json!({
            "id": stable_guid(&format!("riskdetection/{}/{kind}", lena.id)),
            "requestId": sign_in,
            "correlationId": correlation,
            "riskEventType": kind,
            "riskState": "atRisk",
            "riskLevel": level,
            "riskDetail": "none",
            "source": "IdentityProtection",
            "detectionTimingType": timing,
            "activity": "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": crate::audit_logs::ATTACKER_IP,
            "location": {"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL",
                "geoCoordinates": {"altitude": null, "latitude": 52.3676, "longitude": 4.9041}},
            "activityDateTime": PHISH_TIME,
            "detectedDateTime": detected,
            "lastUpdatedDateTime": detected,
            "userId": lena.id,
            "userDisplayName": lena.display_name,
            "userPrincipalName": lena.user_principal_name,
            "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0 (X11; Linux x86_64)\"}]",
        })
    };
    vec![
        detection(
            "unfamiliarFeatures",
            "high",
            "2025-12-31T02:14:11Z",
            "realtime",
        ),
        detection(
            "anonymizedIPAddress",
            "medium",
            "2025-12-31T02:19:40Z",
            "nearRealtime",
        ),
    ]
}

/// `prop eq 'literal'` clauses joined by `and`; `None` = a form the emulator refuses.
fn parse(filter: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in filter.split(" and ") {
        let (prop, lit) = part.trim().split_once(" eq ")?;
        let prop = FILTERABLE
            .iter()
            .find(|p| p.eq_ignore_ascii_case(prop.trim()))?;
        let inner = lit.trim().strip_prefix('\'')?.strip_suffix('\'')?;
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        out.push(((*prop).to_owned(), inner.replace("''", "'")));
    }
    Some(out)
}

fn matches(item: &Value, clauses: &[(String, String)]) -> bool {
    clauses.iter().all(|(prop, want)| {
        // beta names `riskEventType` `riskType`.
        let key = if prop == "riskType" {
            "riskEventType"
        } else {
            prop
        };
        item.get(key)
            .and_then(Value::as_str)
            .is_some_and(|have| have.eq_ignore_ascii_case(want))
    })
}

/// `GET /{version}/identityProtection/riskDetections`.
pub fn list(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, q: &Query, ctx: &Ctx) -> R {
    if !caller.has_any(RISK_EVENT_READ) {
        return Err(forbidden(ctx));
    }
    let settings = shared.settings();
    if !settings.licences.p2 {
        return Err(graph_error(
            403,
            "AccessDenied",
            "Your tenant is not licensed for this feature.",
            ctx,
        ));
    }
    let mut items = story(&lock(&shared.state).users);
    if let Some(f) = q.get("$filter") {
        let clauses = parse(f)
            .ok_or_else(|| bad_request("Request_UnsupportedQuery", "Unsupported Query.", ctx))?;
        items.retain(|i| matches(i, &clauses));
    }
    let beta = req.version == "beta";
    let items = items
        .into_iter()
        .map(|mut v| {
            // beta also names the type `riskType` (deprecated there, kept by the service).
            if let (true, Some(o)) = (beta, v.as_object_mut()) {
                if let Some(kind) = o.get("riskEventType").cloned() {
                    o.insert("riskType".into(), kind);
                }
            }
            apply_select(v, &q.select())
        })
        .collect();
    let spec = PageSpec {
        version: req.version,
        path: "/identityProtection/riskDetections",
        context: "identityProtection/riskDetections".into(),
        default_top: settings.options.graph_page_size.min(20),
        max_top: 500,
        cap: None,
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_eq_clauses_on_resource_properties_joined_by_and_parse() {
        let c = parse("userId eq 'u1' and riskLevel eq 'high'").unwrap();
        assert!(matches(&json!({"userId": "U1", "riskLevel": "high"}), &c));
        assert!(!matches(&json!({"userId": "u2", "riskLevel": "high"}), &c));
        assert!(parse("detectedDateTime ge 2025-12-01T00:00:00Z").is_none());
        assert!(parse("userId eq 'a' or userId eq 'b'").is_none());
        assert!(parse("startswith(userId,'a')").is_none());
        assert!(parse("nonsense eq 'a'").is_none());
    }
}
