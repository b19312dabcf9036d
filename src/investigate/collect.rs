//! Reading the evidence from Graph, read-only: the user, their sign-ins and the directory
//! audit events they initiated or were the target of, in the window.
//!
//! - Sign-ins: beta `GET /auditLogs/signIns`
//!   (<https://learn.microsoft.com/graph/api/signin-list?view=graph-rest-beta>). beta, not
//!   v1.0, because only the beta signIn resource documents `userAgent`,
//!   `authenticationRequirement` and `authenticationDetails`
//!   (<https://learn.microsoft.com/graph/api/resources/signin?view=graph-rest-beta>).
//!   `$filter` on `userId` (eq) and `createdDateTime` (ge, le); `$top` at most 1000 (the
//!   documented default and maximum); newest first, paged by `@odata.nextLink`. Twice: the
//!   interactive sign-ins the list gives by default, and the non-interactive ones, which
//!   only `signInEventTypes/any(t:t eq 'nonInteractiveUser')` lists (the resource's note);
//!   merged by id.
//!   AuditLog.Read.All and Entra ID P1/P2: a tenant without the licence answers 403
//!   `Authentication_RequestFromNonPremiumTenantOrB2CTenant`, recorded as `unavailable`.
//! - Directory audits: `GET /v1.0/auditLogs/directoryAudits`
//!   (<https://learn.microsoft.com/graph/api/directoryaudit-list>), twice — `initiatedBy/user/id
//!   eq` and `targetResources/any(t:t/id eq …)` (both documented `$filter` forms of
//!   <https://learn.microsoft.com/graph/api/resources/directoryaudit>; `or` across them is
//!   not), each with `activityDateTime ge/le`, merged by id. AuditLog.Read.All, no premium
//!   licence.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    epoch_of, AuditTarget, DirectoryAudit, Evidence, Initiator, ModifiedProperty, SignIn,
    SourceOutcome, SourceState, Subject, Window, SCHEMA_VERSION,
};
use crate::auth::{AuthError, Settings, TokenProvider, GRAPH_SCOPE};
use crate::graph::limits::Limits;
use crate::graph::{ApiError, GraphClient};

/// Why an investigation could not start.
#[derive(Debug, thiserror::Error)]
pub enum InvestigateError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot read the user {upn}: {source}")]
    User { upn: String, source: Box<ApiError> },
}

/// What to investigate.
#[derive(Debug, Clone)]
pub struct Request {
    pub user: String,
    pub window: Window,
    /// The unified audit log query: resume directory and wait bound.
    pub audit: super::audit_query::Options,
}

/// Collect the evidence (without rule verdicts). Only a failed sign-in or an unreadable
/// user is fatal; a failed or unlicensed source is recorded in `sources`.
pub fn collect(settings: Settings, request: &Request) -> Result<Evidence, InvestigateError> {
    let agent = crate::http::agent();
    let configured_tenant = settings.tenant.clone();
    let tokens = TokenProvider::new(settings, agent.clone());
    tokens.token(GRAPH_SCOPE)?;
    let limits = Arc::new(Limits::from_env());
    let graph = GraphClient::new(&tokens, agent.clone()).with_limits(limits.clone());
    // The tenant the token is for (a GUID), not the domain that may have been configured.
    let tenant_id = graph
        .token_tenant()
        .ok()
        .flatten()
        .unwrap_or(configured_tenant);
    let mut sources = BTreeMap::new();

    let user_path = format!(
        "/v1.0/users/{}?$select=id,userPrincipalName,displayName",
        crate::graph::path::segment(&request.user)
    );
    let user: ApiUser = graph
        .get(&user_path)
        .and_then(|v| parse(&user_path, v))
        .map_err(|source| InvestigateError::User {
            upn: request.user.clone(),
            source: Box::new(source),
        })?;
    let user_id = user.id.clone().unwrap_or_default();
    sources.insert("user".into(), ok(1, vec![user_path]));

    let (since, until) = (stamp(request.window.since), stamp(request.window.until));
    // The id comes from Graph, but it is quoted as any other string (`'` doubled).
    let quoted_id = crate::graph::path::odata_string(&user_id);
    let user_range = format!(
        "userId eq {quoted_id} and createdDateTime ge {since} and createdDateTime le {until}"
    );
    // Interactive sign-ins (listed by default), then the non-interactive ones (token
    // refreshes: where a stolen token is replayed), which only an explicit filter lists.
    let sign_in_paths: Vec<String> = [
        user_range.clone(),
        format!("signInEventTypes/any(t:t eq 'nonInteractiveUser') and {user_range}"),
    ]
    .iter()
    .map(|f| {
        format!(
            "/beta/auditLogs/signIns?$filter={}&$top=1000",
            crate::graph::path::query_value(f)
        )
    })
    .collect();
    let mut by_id: BTreeMap<String, SignIn> = BTreeMap::new();
    let mut sign_in_failure = None;
    for path in &sign_in_paths {
        match graph
            .get_all(path)
            .and_then(|items| to_sign_ins(path, items))
        {
            Ok(items) => by_id.extend(items.into_iter().map(|s| (s.id.clone(), s))),
            Err(e) => {
                sign_in_failure = Some(e);
                break;
            }
        }
    }
    let mut sign_ins: Vec<SignIn> = match sign_in_failure {
        Some(_) => Vec::new(),
        None => by_id.into_values().collect(),
    };
    sign_ins.sort_by(|a, b| (a.epoch, &a.id).cmp(&(b.epoch, &b.id)));
    let outcome = match sign_in_failure {
        Some(e) => Err(e),
        None => Ok(sign_ins.len()),
    };
    sources.insert("sign_ins".into(), outcome_of(&outcome, sign_in_paths));

    let range = format!("activityDateTime ge {since} and activityDateTime le {until}");
    let audit_paths: Vec<String> = [
        format!("initiatedBy/user/id eq {quoted_id} and {range}"),
        format!("targetResources/any(t:t/id eq {quoted_id}) and {range}"),
    ]
    .iter()
    .map(|f| {
        format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            crate::graph::path::query_value(f)
        )
    })
    .collect();
    let mut audits: BTreeMap<String, DirectoryAudit> = BTreeMap::new();
    let mut failure = None;
    for path in &audit_paths {
        match graph.get_all(path).and_then(|items| to_audits(path, items)) {
            Ok(items) => audits.extend(items.into_iter().map(|a| (a.id.clone(), a))),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let mut directory_audits: Vec<DirectoryAudit> = audits.into_values().collect();
    directory_audits.sort_by(|a, b| (a.epoch, &a.id).cmp(&(b.epoch, &b.id)));
    let audit_outcome = match failure {
        Some(e) => {
            directory_audits.clear();
            Err(e)
        }
        None => Ok(directory_audits.len()),
    };
    sources.insert(
        "directory_audits".into(),
        outcome_of(&audit_outcome, audit_paths),
    );

    // The unified audit log and the message trace filter by UPN, not object id.
    let upn = user
        .user_principal_name
        .clone()
        .unwrap_or_else(|| request.user.clone());
    let (outcome, audit_events) =
        super::audit_query::collect(&graph, &upn, &request.window, &request.audit);
    sources.insert("audit_events".into(), outcome);
    let exchange = crate::exchange::ExchangeClient::new(&tokens, agent).with_limits(limits);
    let (outcome, messages_sent) = super::message_trace::collect(&exchange, &upn, &request.window);
    sources.insert("messages_sent".into(), outcome);
    let (risk_detections, risk_outcome) = super::risk::collect(
        &graph,
        &user_id,
        &request.window,
        crate::graph::path::query_value,
    );
    sources.insert(super::risk::SOURCE.into(), risk_outcome);

    Ok(Evidence {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: Utc::now(),
        tenant_id,
        user: Subject {
            user_principal_name: user
                .user_principal_name
                .unwrap_or_else(|| request.user.clone()),
            id: user.id,
            display_name: user.display_name,
        },
        window: request.window,
        sources,
        sign_ins,
        directory_audits,
        audit_events,
        messages_sent,
        parameters: Default::default(),
        risk_detections,
        rules: Vec::new(),
        findings: Vec::new(),
    })
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn ok(items: u64, requests: Vec<String>) -> SourceOutcome {
    SourceOutcome {
        status: SourceState::Ok,
        reason: None,
        items,
        requests,
    }
}

/// A source's outcome: a licence error is `unavailable`, any other error `error`.
pub(crate) fn outcome_of<T>(outcome: &Result<T, ApiError>, requests: Vec<String>) -> SourceOutcome
where
    T: Len,
{
    match outcome {
        Ok(items) => ok(items.count(), requests),
        Err(e @ ApiError::Licence { .. }) => SourceOutcome {
            status: SourceState::Unavailable,
            reason: Some(format!("licence required (Entra ID P1 or P2): {e}")),
            items: 0,
            requests,
        },
        Err(e) => SourceOutcome {
            status: SourceState::Error,
            reason: Some(e.to_string()),
            items: 0,
            requests,
        },
    }
}

/// How many items a source's result holds.
pub(crate) trait Len {
    fn count(&self) -> u64;
}

impl<T> Len for Vec<T> {
    fn count(&self) -> u64 {
        self.len() as u64
    }
}

impl Len for usize {
    fn count(&self) -> u64 {
        *self as u64
    }
}

fn parse<T: for<'de> Deserialize<'de>>(endpoint: &str, v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::BadResponse {
        endpoint: endpoint.to_owned(),
        message: e.to_string(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiUser {
    id: Option<String>,
    user_principal_name: Option<String>,
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiSignIn {
    id: Option<String>,
    created_date_time: Option<String>,
    ip_address: Option<String>,
    client_app_used: Option<String>,
    user_agent: Option<String>,
    app_display_name: Option<String>,
    conditional_access_status: Option<String>,
    is_interactive: Option<bool>,
    authentication_requirement: Option<String>,
    risk_level_during_sign_in: Option<String>,
    #[serde(rename = "riskEventTypes_v2")]
    risk_event_types_v2: Option<Vec<String>>,
    status: Option<ApiStatus>,
    location: Option<ApiLocation>,
    authentication_details: Option<Vec<ApiAuthDetail>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiStatus {
    error_code: Option<i64>,
    failure_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiLocation {
    city: Option<String>,
    country_or_region: Option<String>,
    geo_coordinates: Option<ApiGeo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiGeo {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiAuthDetail {
    authentication_method: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// Sign-ins without an id or a readable time are a bad answer, not silently dropped.
pub(crate) fn to_sign_ins(
    endpoint: &str,
    items: Vec<Map<String, Value>>,
) -> Result<Vec<SignIn>, ApiError> {
    items
        .into_iter()
        .map(|m| {
            let s: ApiSignIn = parse(endpoint, Value::Object(m))?;
            let bad = |what: &str| ApiError::BadResponse {
                endpoint: endpoint.to_owned(),
                message: format!("a sign-in without {what}"),
            };
            let id = s.id.ok_or_else(|| bad("an id"))?;
            let time = s.created_date_time.ok_or_else(|| bad("createdDateTime"))?;
            let epoch = epoch_of(&time).ok_or_else(|| bad("a valid createdDateTime"))?;
            let (city, country, geo) = match s.location {
                Some(l) => (l.city, l.country_or_region, l.geo_coordinates),
                None => (None, None, None),
            };
            let (error_code, failure_reason) = match s.status {
                Some(st) => (st.error_code, st.failure_reason),
                None => (None, None),
            };
            let mut methods: Vec<String> = s
                .authentication_details
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| non_empty(d.authentication_method))
                .collect();
            methods.dedup();
            Ok(SignIn {
                id,
                time,
                epoch,
                ip_address: non_empty(s.ip_address),
                city: non_empty(city),
                country: non_empty(country).map(|c| c.to_ascii_uppercase()),
                latitude: geo.as_ref().and_then(|g| g.latitude),
                longitude: geo.as_ref().and_then(|g| g.longitude),
                client_app: non_empty(s.client_app_used),
                user_agent: non_empty(s.user_agent),
                app: non_empty(s.app_display_name),
                error_code,
                failure_reason: non_empty(failure_reason),
                authentication_requirement: non_empty(s.authentication_requirement),
                authentication_methods: methods,
                conditional_access_status: non_empty(s.conditional_access_status),
                is_interactive: s.is_interactive,
                risk_level: non_empty(s.risk_level_during_sign_in),
                risk_event_types: s.risk_event_types_v2.unwrap_or_default(),
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiAudit {
    id: Option<String>,
    activity_date_time: Option<String>,
    activity_display_name: Option<String>,
    category: Option<String>,
    result: Option<String>,
    result_reason: Option<String>,
    logged_by_service: Option<String>,
    initiated_by: Option<ApiInitiator>,
    target_resources: Option<Vec<ApiTarget>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiInitiator {
    user: Option<ApiInitiatorUser>,
    app: Option<ApiInitiatorApp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiInitiatorUser {
    id: Option<String>,
    user_principal_name: Option<String>,
    ip_address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiInitiatorApp {
    app_id: Option<String>,
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiTarget {
    id: Option<String>,
    display_name: Option<String>,
    // The docs' own example spells it `Type` once and `type` once.
    #[serde(alias = "Type")]
    r#type: Option<String>,
    user_principal_name: Option<String>,
    /// <https://learn.microsoft.com/graph/api/resources/targetresource>: `modifiedProperties`.
    modified_properties: Option<Vec<ApiModifiedProperty>>,
}

/// <https://learn.microsoft.com/graph/api/resources/modifiedproperty>: all three nullable.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiModifiedProperty {
    display_name: Option<String>,
    old_value: Option<String>,
    new_value: Option<String>,
}

/// A target's changed property for the evidence, summarised like an audit record's
/// parameters: secret-looking ones redacted, long values shortened.
fn modified_property(p: ApiModifiedProperty) -> Option<ModifiedProperty> {
    use super::audit_query::{is_secret, MAX_VALUE};
    let name = non_empty(p.display_name)?;
    let value = |v: Option<String>| {
        non_empty(v).map(|v| match v {
            _ if is_secret(&name) => "<redacted>".to_owned(),
            v if v.chars().count() > MAX_VALUE => {
                v.chars().take(MAX_VALUE).collect::<String>() + "…"
            }
            v => v,
        })
    };
    Some(ModifiedProperty {
        old_value: value(p.old_value),
        new_value: value(p.new_value),
        name,
    })
}

pub(crate) fn to_audits(
    endpoint: &str,
    items: Vec<Map<String, Value>>,
) -> Result<Vec<DirectoryAudit>, ApiError> {
    items
        .into_iter()
        .map(|m| {
            let a: ApiAudit = parse(endpoint, Value::Object(m))?;
            let bad = |what: &str| ApiError::BadResponse {
                endpoint: endpoint.to_owned(),
                message: format!("a directory audit without {what}"),
            };
            let id = a.id.ok_or_else(|| bad("an id"))?;
            let time = a
                .activity_date_time
                .ok_or_else(|| bad("activityDateTime"))?;
            let epoch = epoch_of(&time).ok_or_else(|| bad("a valid activityDateTime"))?;
            let (user, app) = match a.initiated_by {
                Some(i) => (i.user, i.app),
                None => (None, None),
            };
            Ok(DirectoryAudit {
                id,
                time,
                epoch,
                activity: a.activity_display_name.unwrap_or_default(),
                category: non_empty(a.category),
                result: non_empty(a.result),
                result_reason: non_empty(a.result_reason),
                logged_by_service: non_empty(a.logged_by_service),
                initiated_by: Initiator {
                    user_id: user.as_ref().and_then(|u| non_empty(u.id.clone())),
                    user_principal_name: user
                        .as_ref()
                        .and_then(|u| non_empty(u.user_principal_name.clone())),
                    ip_address: user.as_ref().and_then(|u| non_empty(u.ip_address.clone())),
                    app_id: app.as_ref().and_then(|a| non_empty(a.app_id.clone())),
                    app_display_name: app.as_ref().and_then(|a| non_empty(a.display_name.clone())),
                },
                targets: a
                    .target_resources
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| AuditTarget {
                        id: non_empty(t.id),
                        display_name: non_empty(t.display_name),
                        kind: non_empty(t.r#type),
                        user_principal_name: non_empty(t.user_principal_name),
                        modified_properties: t
                            .modified_properties
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(modified_property)
                            .collect(),
                    })
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_odata_syntax_and_encode_spaces() {
        assert_eq!(
            crate::graph::path::query_value(
                "targetResources/any(t:t/id eq 'a') and x ge 2025-12-01T00:00:00Z"
            ),
            "targetResources/any(t:t/id%20eq%20'a')%20and%20x%20ge%202025-12-01T00:00:00Z"
        );
        assert_eq!(crate::graph::path::segment("a#b@c.com"), "a%23b@c.com");
    }

    #[test]
    fn a_doubled_quote_survives_filter_encoding() {
        let f = format!("userId eq {}", crate::graph::path::odata_string("o'b?#/&x"));
        assert_eq!(
            crate::graph::path::query_value(&f),
            "userId%20eq%20'o''b%3F%23/%26x'"
        );
    }

    #[test]
    fn a_sign_in_without_a_time_is_a_bad_answer() {
        let item = serde_json::json!({"id": "1"});
        let Value::Object(m) = item else { panic!() };
        let err = to_sign_ins("GET x", vec![m]).unwrap_err();
        assert!(err.to_string().contains("createdDateTime"), "{err}");
    }

    #[test]
    fn missing_fields_are_none_not_a_panic() {
        let item = serde_json::json!({"id": "1", "createdDateTime": "2025-12-31T02:14:09Z",
            "location": {"geoCoordinates": null}, "status": {}});
        let Value::Object(m) = item else { panic!() };
        let s = to_sign_ins("GET x", vec![m]).unwrap();
        assert_eq!(s[0].epoch, 1_767_147_249);
        assert_eq!((s[0].latitude, s[0].error_code), (None, None));
    }
}
