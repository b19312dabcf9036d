//! Source `app_management_policies`: the tenant's app management policies — whether new
//! client secrets may be added to apps and for how long they may be valid. Without a
//! policy that blocks or caps them, an attacker who controls an app (or an admin tricked
//! into it) adds a secret valid for decades: a back door that survives every password reset.
//!
//! Graph (v1.0, every read needs Policy.Read.All or an ApplicationConfiguration permission):
//! - `GET /policies/defaultAppManagementPolicy`
//!   (<https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get>): the tenant
//!   default, one object that always exists and is disabled until an admin enables it;
//!   `applicationRestrictions` hold the tenant's own app registrations,
//!   `servicePrincipalRestrictions` apps provisioned from other tenants
//!   (<https://learn.microsoft.com/graph/api/resources/tenantappmanagementpolicy>).
//! - `GET /policies/appManagementPolicies`
//!   (<https://learn.microsoft.com/graph/api/appmanagementpolicy-list>; `$select` and `$top`
//!   supported): custom policies that replace the default for the apps they are applied
//!   to, and for each `GET /policies/appManagementPolicies/{id}/appliesTo`
//!   (<https://learn.microsoft.com/graph/api/appmanagementpolicy-list-appliesto>): custom
//!   policies are few, so one call each is cheap.
//! - Restrictions: <https://learn.microsoft.com/graph/api/resources/passwordcredentialconfiguration>
//!   and <https://learn.microsoft.com/graph/api/resources/keycredentialconfiguration>
//!   (`restrictionType`, `maxLifetime` as an ISO 8601 duration,
//!   `restrictForAppsCreatedAfterDateTime`, `state`).
//!
//! Licence: the API overview says "all app policy management operations require a
//! Microsoft Entra Workload Identities Premium license"
//! (<https://learn.microsoft.com/graph/api/resources/applicationauthenticationmethodpolicy>),
//! but does not say what a read answers without it, and tenants without the licence have
//! been served the (disabled) default. Both answers are handled: a refusal that names a
//! licence (`graph::error` tells it from a missing permission) makes the source
//! `unavailable` (its rule not applicable, never a pass); a
//! policy that is served is judged like any other. When the default is served but the
//! custom list is refused for the licence, there can be no custom policy: the source is
//! `ok` with the default alone and says so in its reason.

use serde_json::{Map, Value};

use super::{b, s, time, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{
    AppManagementPolicy, AppRestrictions, CredentialRestriction, SourceId, SourceState,
};

const DEFAULT_PATH: &str = "/v1.0/policies/defaultAppManagementPolicy";
const CUSTOM_PATH: &str =
    "/v1.0/policies/appManagementPolicies?$select=id,displayName,isEnabled,restrictions";

pub fn collect(ctx: &mut Ctx<'_>) {
    let default = match ctx.graph.get(DEFAULT_PATH) {
        Ok(value) => value,
        Err(e) => return ctx.record(SourceId::AppManagementPolicies, Err(e)),
    };
    let Some(default) = default.as_object().and_then(|o| map_policy(o, true)) else {
        let e = ApiError::BadResponse {
            endpoint: DEFAULT_PATH.into(),
            message: "not a tenantAppManagementPolicy object".into(),
        };
        return ctx.record(SourceId::AppManagementPolicies, Err(e));
    };
    let mut policies = vec![default];
    match read_custom(ctx) {
        Ok(custom) => {
            policies.extend(custom);
            let n = policies.len() as u64;
            ctx.snapshot.apps.management_policies = policies;
            ctx.record(SourceId::AppManagementPolicies, Ok(n));
        }
        Err(e @ ApiError::Licence { .. }) => {
            ctx.snapshot.apps.management_policies = policies;
            let reason = format!(
                "tenant default read; custom policies refused for the licence, so there are none: {e}"
            );
            ctx.set(SourceId::AppManagementPolicies, SourceState::Ok, &reason, 1);
        }
        Err(e) => ctx.record(SourceId::AppManagementPolicies, Err(e)),
    }
}

fn read_custom(ctx: &Ctx<'_>) -> Result<Vec<AppManagementPolicy>, ApiError> {
    let raw = ctx.graph.get_all(CUSTOM_PATH)?;
    let mut out = Vec::new();
    for p in &raw {
        let Some(mut policy) = map_policy(p, false) else {
            continue;
        };
        if crate::graph::path::is_object_id(&policy.id) {
            let applies = ctx.graph.get_all(&format!(
                "/v1.0/policies/appManagementPolicies/{}/appliesTo?$select=id",
                policy.id
            ))?;
            policy.applies_to = applies.iter().filter_map(|o| s(o, "id")).collect();
            policy.applies_to.sort();
        }
        out.push(policy);
    }
    Ok(out)
}

fn map_policy(p: &Map<String, Value>, tenant_default: bool) -> Option<AppManagementPolicy> {
    let restrictions = |key: &str| p.get(key).and_then(Value::as_object).map(map_restrictions);
    Some(AppManagementPolicy {
        id: s(p, "id")?,
        policy_kind: if tenant_default {
            "tenant_default"
        } else {
            "custom"
        }
        .to_owned(),
        display_name: s(p, "displayName"),
        is_enabled: b(p, "isEnabled"),
        application_restrictions: restrictions(if tenant_default {
            "applicationRestrictions"
        } else {
            "restrictions"
        }),
        service_principal_restrictions: if tenant_default {
            restrictions("servicePrincipalRestrictions")
        } else {
            None
        },
        applies_to: Vec::new(),
    })
}

fn map_restrictions(r: &Map<String, Value>) -> AppRestrictions {
    let list = |key: &str| -> Vec<CredentialRestriction> {
        r.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .filter_map(|c| {
                let max_lifetime = s(c, "maxLifetime");
                Some(CredentialRestriction {
                    restriction_type: s(c, "restrictionType")?,
                    max_lifetime_days: max_lifetime.as_deref().and_then(duration_days),
                    max_lifetime,
                    restrict_for_apps_created_after: time(
                        c.get("restrictForAppsCreatedAfterDateTime"),
                    ),
                    state: s(c, "state"),
                })
            })
            .collect()
    };
    AppRestrictions {
        password_credentials: list("passwordCredentials"),
        key_credentials: list("keyCredentials"),
    }
}

/// Whole days (rounded up) of an ISO 8601 duration `P[nY][nM][nW][nD][T[nH][nM][nS]]`; a
/// year counts 365 days and a month 30 (Graph's examples use days: `P90D`, `P365D`).
/// `None` for anything else, so a malformed limit is never taken for a short one.
pub(crate) fn duration_days(text: &str) -> Option<u64> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, clock) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds: f64 = 0.0;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, unit) = units.iter().find(|(u, _)| *u == c)?;
            let n: f64 = number.parse().ok()?;
            seconds += n * unit;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    const DAY: f64 = 86_400.0;
    add(
        date,
        &[
            ('Y', 365.0 * DAY),
            ('M', 30.0 * DAY),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(clock) = clock {
        add(clock, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any || !seconds.is_finite() {
        return None;
    }
    Some((seconds / DAY).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object;
    use serde_json::json;

    #[test]
    fn durations_become_whole_days() {
        assert_eq!(duration_days("P365D"), Some(365));
        assert_eq!(duration_days("P1Y"), Some(365));
        assert_eq!(duration_days("P4DT12H30M5S"), Some(5));
        assert_eq!(duration_days("PT36H"), Some(2));
        assert_eq!(duration_days("P2W"), Some(14));
        assert_eq!(duration_days("P"), None);
        assert_eq!(duration_days("365"), None);
        assert_eq!(duration_days("P10X"), None);
        assert_eq!(duration_days("P5DT"), None);
    }

    #[test]
    fn maps_the_tenant_default_with_both_restriction_sets() {
        let p = map_policy(
            &test_object(json!({
                "id": "00000000-0000-0000-0000-000000000000", "isEnabled": true,
                "displayName": "Default app management tenant policy",
                "applicationRestrictions": {"passwordCredentials": [
                    {"restrictionType": "passwordAddition", "maxLifetime": null,
                     "restrictForAppsCreatedAfterDateTime": "2021-01-01T10:37:00Z"},
                    {"restrictionType": "passwordLifetime", "maxLifetime": "P365D",
                     "restrictForAppsCreatedAfterDateTime": "2017-01-01T10:37:00Z", "state": "enabled"},
                    {"maxLifetime": "P1D"}
                ], "keyCredentials": []},
                "servicePrincipalRestrictions": {"passwordCredentials": []}
            })),
            true,
        )
        .unwrap();
        assert_eq!(p.policy_kind, "tenant_default");
        assert_eq!(p.is_enabled, Some(true));
        let app = p.application_restrictions.unwrap();
        assert_eq!(
            app.password_credentials.len(),
            2,
            "no restrictionType: dropped"
        );
        assert_eq!(app.password_credentials[0].max_lifetime_days, None);
        assert_eq!(app.password_credentials[1].max_lifetime_days, Some(365));
        assert_eq!(
            app.password_credentials[1].state.as_deref(),
            Some("enabled")
        );
        assert!(app.password_credentials[0]
            .restrict_for_apps_created_after
            .is_some());
        let sp = p.service_principal_restrictions.unwrap();
        assert!(sp.password_credentials.is_empty() && sp.key_credentials.is_empty());
    }

    #[test]
    fn custom_policies_keep_their_restrictions_and_unknown_is_unknown() {
        let p = map_policy(
            &test_object(json!({"id": "p1", "restrictions": {"passwordCredentials": [
                {"restrictionType": "passwordLifetime", "maxLifetime": "P90D"}]}})),
            false,
        )
        .unwrap();
        assert_eq!(p.policy_kind, "custom");
        assert_eq!(p.is_enabled, None);
        assert!(p.service_principal_restrictions.is_none());
        assert_eq!(
            p.application_restrictions.unwrap().password_credentials[0].max_lifetime_days,
            Some(90)
        );
        assert!(map_policy(&test_object(json!({"isEnabled": true})), true).is_none());
    }
}
