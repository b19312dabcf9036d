//! Identity Protection's risk detections of the user in the window (`risk_detections` of
//! the evidence document), read-only.
//!
//! `GET /v1.0/identityProtection/riskDetections`
//! (<https://learn.microsoft.com/graph/api/riskdetection-list>, resource
//! <https://learn.microsoft.com/graph/api/resources/riskdetection>): application permission
//! IdentityRiskEvent.Read.All (a 403 is `error`, naming it); the page asks for Entra ID P1
//! or P2, and only P2 lists every detection, so a licence answer is `unavailable` (Entra ID
//! P2), never an empty pass. `$top` at most 500 (default 20), paged by `@odata.nextLink`.
//!
//! The only `$filter` form the docs show is `property eq 'literal'` (joined by `and`/`or`:
//! <https://learn.microsoft.com/graph/api/riskdetection-list?view=graph-rest-beta> example
//! 2, and `userDisplayName eq` in the Get-MgRiskDetection examples). No page shows a range
//! on `activityDateTime`, so the request filters on `userId eq` only and the window is
//! applied here, on `activityDateTime` (when the risky activity happened; `detectedDateTime`
//! is when Identity Protection noticed, possibly hours later for offline detections).
//!
//! A detection belongs to a sign-in through `requestId` (the sign-in's request id, which is
//! the signIn's `id`) — the rules join on it, and on the IP and time when it is absent.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{epoch_of, SourceOutcome, SourceState, Window};
use crate::graph::{ApiError, GraphClient};

/// One Identity Protection risk detection (`riskDetection`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskDetection {
    pub id: String,
    /// `activityDateTime` (when the risky activity happened), verbatim.
    pub time: String,
    /// `time` in seconds since 1970 (UTC).
    pub epoch: i64,
    /// `detectedDateTime`: when Identity Protection detected it.
    pub detected_time: Option<String>,
    /// `riskEventType`: `unfamiliarFeatures`, `anonymizedIPAddress`, `unlikelyTravel`, ….
    pub risk_event_type: Option<String>,
    /// `low`, `medium`, `high`, `hidden` (not licensed to see it), `none`.
    pub risk_level: Option<String>,
    /// `atRisk`, `confirmedCompromised`, `remediated`, `dismissed`, `confirmedSafe`, ….
    pub risk_state: Option<String>,
    pub risk_detail: Option<String>,
    /// `signin` or `user`.
    pub activity: Option<String>,
    /// `realtime`, `nearRealtime`, `offline`.
    pub detection_timing_type: Option<String>,
    pub source: Option<String>,
    pub ip_address: Option<String>,
    pub city: Option<String>,
    /// Two-letter country code (`location.countryOrRegion`).
    pub country: Option<String>,
    /// The request id of the sign-in it belongs to (the signIn's `id`).
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
}

/// The evidence source's name in `sources`.
pub const SOURCE: &str = "risk_detections";

/// The user's detections in the window, oldest first, and the source's outcome.
pub fn collect(
    graph: &GraphClient<'_>,
    user_id: &str,
    window: &Window,
    encode_filter: impl Fn(&str) -> String,
) -> (Vec<RiskDetection>, SourceOutcome) {
    let path = format!(
        "/v1.0/identityProtection/riskDetections?$filter={}&$top=500",
        encode_filter(&format!(
            "userId eq {}",
            crate::graph::path::odata_string(user_id)
        ))
    );
    let result = graph
        .get_all(&path)
        .and_then(|items| to_detections(&path, items));
    let requests = vec![path];
    match result {
        Ok(all) => {
            let (since, until) = (window.since.timestamp(), window.until.timestamp());
            let mut items: Vec<RiskDetection> = all
                .into_iter()
                .filter(|d| (since..=until).contains(&d.epoch))
                .collect();
            items.sort_by(|a, b| (a.epoch, &a.id).cmp(&(b.epoch, &b.id)));
            let outcome = SourceOutcome {
                status: SourceState::Ok,
                reason: None,
                items: items.len() as u64,
                requests,
            };
            (items, outcome)
        }
        Err(e) => (Vec::new(), failed(&e, requests)),
    }
}

/// A licence answer is `unavailable`; anything else (a 403 names IdentityRiskEvent.Read.All
/// through the permission table) is `error`.
fn failed(e: &ApiError, requests: Vec<String>) -> SourceOutcome {
    let (status, reason) = match e {
        ApiError::Licence { .. } => (
            SourceState::Unavailable,
            format!(
                "licence required (Entra ID P2 for Identity Protection's risk detections): {e}"
            ),
        ),
        _ => (SourceState::Error, e.to_string()),
    };
    SourceOutcome {
        status,
        reason: Some(reason),
        items: 0,
        requests,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiDetection {
    id: Option<String>,
    activity_date_time: Option<String>,
    detected_date_time: Option<String>,
    risk_event_type: Option<String>,
    // beta's name for it.
    risk_type: Option<String>,
    risk_level: Option<String>,
    risk_state: Option<String>,
    risk_detail: Option<String>,
    activity: Option<String>,
    detection_timing_type: Option<String>,
    source: Option<String>,
    ip_address: Option<String>,
    location: Option<ApiLocation>,
    request_id: Option<String>,
    correlation_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiLocation {
    city: Option<String>,
    country_or_region: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// A detection without an id or a readable time is a bad answer, not silently dropped.
fn to_detections(
    endpoint: &str,
    items: Vec<Map<String, Value>>,
) -> Result<Vec<RiskDetection>, ApiError> {
    items
        .into_iter()
        .map(|m| {
            let bad = |what: String| ApiError::BadResponse {
                endpoint: endpoint.to_owned(),
                message: what,
            };
            let d: ApiDetection =
                serde_json::from_value(Value::Object(m)).map_err(|e| bad(e.to_string()))?;
            let id = non_empty(d.id).ok_or_else(|| bad("a risk detection without an id".into()))?;
            // `activityDateTime`, else when it was detected.
            let time = non_empty(d.activity_date_time)
                .or_else(|| d.detected_date_time.clone())
                .ok_or_else(|| bad(format!("risk detection {id} without activityDateTime")))?;
            let epoch = epoch_of(&time)
                .ok_or_else(|| bad(format!("risk detection {id}: bad time {time:?}")))?;
            let (city, country) = match d.location {
                Some(l) => (l.city, l.country_or_region),
                None => (None, None),
            };
            Ok(RiskDetection {
                id,
                time,
                epoch,
                detected_time: non_empty(d.detected_date_time),
                risk_event_type: non_empty(d.risk_event_type.or(d.risk_type)),
                risk_level: non_empty(d.risk_level),
                risk_state: non_empty(d.risk_state),
                risk_detail: non_empty(d.risk_detail),
                activity: non_empty(d.activity),
                detection_timing_type: non_empty(d.detection_timing_type),
                source: non_empty(d.source),
                ip_address: non_empty(d.ip_address),
                city: non_empty(city),
                country: non_empty(country).map(|c| c.to_ascii_uppercase()),
                request_id: non_empty(d.request_id),
                correlation_id: non_empty(d.correlation_id),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: Value) -> Result<Vec<RiskDetection>, ApiError> {
        let Value::Object(m) = v else { panic!() };
        to_detections("GET x", vec![m])
    }

    #[test]
    fn missing_fields_are_none_and_beta_risk_type_is_read() {
        let d = one(
            serde_json::json!({"id": "d1", "activityDateTime": "2025-12-31T02:14:09.123Z",
            "riskType": "anonymizedIPAddress", "location": null}),
        )
        .unwrap();
        assert_eq!(d[0].epoch, 1_767_147_249);
        assert_eq!(d[0].risk_event_type.as_deref(), Some("anonymizedIPAddress"));
        assert_eq!(
            (d[0].country.clone(), d[0].request_id.clone()),
            (None, None)
        );
    }

    #[test]
    fn a_detection_without_id_or_time_is_a_bad_answer() {
        assert!(one(serde_json::json!({"activityDateTime": "2025-12-31T02:14:09Z"})).is_err());
        let err = one(serde_json::json!({"id": "d1"})).unwrap_err();
        assert!(err.to_string().contains("activityDateTime"), "{err}");
    }

    #[test]
    fn a_licence_answer_is_unavailable_and_a_403_an_error() {
        let licence = ApiError::Licence {
            endpoint: "GET /v1.0/identityProtection/riskDetections".into(),
            code: "AccessDenied".into(),
            message: "Your tenant is not licensed for this feature.".into(),
        };
        let o = failed(&licence, vec![]);
        assert_eq!(o.status, SourceState::Unavailable);
        assert!(o.reason.unwrap().contains("Entra ID P2"));
        let forbidden = ApiError::Forbidden {
            endpoint: "GET /v1.0/identityProtection/riskDetections".into(),
            permission: "IdentityRiskEvent.Read.All".into(),
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges".into(),
            request_id: "r".into(),
        };
        assert_eq!(failed(&forbidden, vec![]).status, SourceState::Error);
    }
}
