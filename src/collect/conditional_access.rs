//! Source `conditional_access`: CA policies mapped to the flat model `CaPolicy`.
//!
//! Graph: `GET /identity/conditionalAccess/policies`
//! (<https://learn.microsoft.com/en-us/graph/api/conditionalaccessroot-list-policies>);
//! the object is read into typed structs where every property is optional, so a policy
//! missing `conditions` or `grantControls` is data, not a crash.
//!
//! Every condition that can narrow a policy is kept, because a rule that ignores one
//! passes a policy that does not apply everywhere: `conditionalAccessConditionSet`
//! (<https://learn.microsoft.com/graph/api/resources/conditionalaccessconditionset>:
//! locations, platforms, user and sign-in risk levels, devices, client app types),
//! `conditionalAccessLocations` (<https://learn.microsoft.com/graph/api/resources/conditionalaccesslocations>:
//! `All`, `AllTrusted` or named location ids), `conditionalAccessPlatforms`
//! (<https://learn.microsoft.com/graph/api/resources/conditionalaccessplatforms>) and
//! `conditionalAccessUsers` with its guest/external-user conditions
//! (<https://learn.microsoft.com/graph/api/resources/conditionalaccessusers>,
//! <https://learn.microsoft.com/graph/api/resources/conditionalaccessguestsorexternalusers>:
//! `guestOrExternalUserTypes` is one comma-separated string).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::Ctx;
use crate::snapshot::model::{CaPolicy, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .graph
        .get_all("/v1.0/identity/conditionalAccess/policies")
        .map(|items| {
            ctx.snapshot.conditional_access.policies = items.iter().filter_map(map).collect();
            ctx.snapshot.conditional_access.policies.len() as u64
        });
    ctx.record(SourceId::ConditionalAccess, outcome);
}

/// `conditionalAccessPolicy`, the properties we read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GraphPolicy {
    id: Option<String>,
    display_name: Option<String>,
    state: Option<String>,
    conditions: Option<Conditions>,
    grant_controls: Option<GrantControls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Conditions {
    users: Option<UserConditions>,
    applications: Option<AppConditions>,
    client_app_types: Option<Vec<String>>,
    locations: Option<Locations>,
    platforms: Option<Platforms>,
    user_risk_levels: Option<Vec<String>>,
    sign_in_risk_levels: Option<Vec<String>>,
    devices: Option<Devices>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Locations {
    include_locations: Option<Vec<String>>,
    exclude_locations: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Platforms {
    include_platforms: Option<Vec<String>>,
    exclude_platforms: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Devices {
    device_filter: Option<DeviceFilter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct DeviceFilter {
    mode: Option<String>,
    rule: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GuestsOrExternalUsers {
    guest_or_external_user_types: Option<String>,
}

/// `internalGuest,b2bCollaborationGuest` → its parts (Graph sends one flags string).
fn user_types(g: Option<GuestsOrExternalUsers>) -> Vec<String> {
    g.and_then(|g| g.guest_or_external_user_types)
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty() && *t != "none")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct UserConditions {
    include_users: Option<Vec<String>>,
    exclude_users: Option<Vec<String>>,
    include_groups: Option<Vec<String>>,
    exclude_groups: Option<Vec<String>>,
    include_roles: Option<Vec<String>>,
    exclude_roles: Option<Vec<String>>,
    include_guests_or_external_users: Option<GuestsOrExternalUsers>,
    exclude_guests_or_external_users: Option<GuestsOrExternalUsers>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AppConditions {
    include_applications: Option<Vec<String>>,
    exclude_applications: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GrantControls {
    operator: Option<String>,
    built_in_controls: Option<Vec<String>>,
    authentication_strength: Option<AuthenticationStrength>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AuthenticationStrength {
    id: Option<String>,
    display_name: Option<String>,
}

fn map(p: &Map<String, Value>) -> Option<CaPolicy> {
    // A property of an unexpected type makes the whole object unreadable; keep the policy
    // visible by its id rather than dropping it silently.
    let policy: GraphPolicy = match serde_json::from_value(Value::Object(p.clone())) {
        Ok(policy) => policy,
        Err(err) => {
            tracing::warn!(error = %err, "conditional access policy with unexpected shape");
            GraphPolicy {
                id: p.get("id").and_then(Value::as_str).map(str::to_owned),
                ..GraphPolicy::default()
            }
        }
    };
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let conditions = policy.conditions.unwrap_or_default();
    let users = conditions.users.unwrap_or_default();
    let apps = conditions.applications.unwrap_or_default();
    let grant = policy.grant_controls.unwrap_or_default();
    let locations = conditions.locations.unwrap_or_default();
    let platforms = conditions.platforms.unwrap_or_default();
    let device_filter = conditions
        .devices
        .and_then(|d| d.device_filter)
        .unwrap_or_default();
    Some(CaPolicy {
        id: non_empty(policy.id)?,
        display_name: policy.display_name.unwrap_or_default(),
        state: policy.state.unwrap_or_default(),
        include_users: users.include_users.unwrap_or_default(),
        exclude_users: users.exclude_users.unwrap_or_default(),
        include_groups: users.include_groups.unwrap_or_default(),
        exclude_groups: users.exclude_groups.unwrap_or_default(),
        include_roles: users.include_roles.unwrap_or_default(),
        exclude_roles: users.exclude_roles.unwrap_or_default(),
        include_applications: apps.include_applications.unwrap_or_default(),
        exclude_applications: apps.exclude_applications.unwrap_or_default(),
        client_app_types: conditions.client_app_types.unwrap_or_default(),
        built_in_controls: grant.built_in_controls.unwrap_or_default(),
        grant_operator: grant.operator,
        authentication_strength: grant
            .authentication_strength
            .and_then(|s| non_empty(s.display_name).or(non_empty(s.id))),
        include_locations: locations.include_locations.unwrap_or_default(),
        exclude_locations: locations.exclude_locations.unwrap_or_default(),
        include_platforms: platforms.include_platforms.unwrap_or_default(),
        exclude_platforms: platforms.exclude_platforms.unwrap_or_default(),
        user_risk_levels: conditions.user_risk_levels.unwrap_or_default(),
        sign_in_risk_levels: conditions.sign_in_risk_levels.unwrap_or_default(),
        device_filter_mode: non_empty(device_filter.mode),
        device_filter_rule: non_empty(device_filter.rule),
        include_guest_or_external_user_types: user_types(users.include_guests_or_external_users),
        exclude_guest_or_external_user_types: user_types(users.exclude_guests_or_external_users),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn a_policy_without_conditions_or_grant_controls_is_data_not_a_crash() {
        let p = map(&obj(serde_json::json!({"id": "p1", "state": "enabled"}))).unwrap();
        assert_eq!(p.id, "p1");
        assert!(p.include_users.is_empty() && p.built_in_controls.is_empty());
        assert_eq!(p.grant_operator, None);
    }

    #[test]
    fn nulls_and_odd_types_keep_the_policy() {
        let p = map(&obj(serde_json::json!({
            "id": "p2", "displayName": null,
            "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": null}, "applications": null},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength": {"displayName": "Phishing-resistant MFA"}}
        })))
        .unwrap();
        assert_eq!(p.include_users, ["All"]);
        assert_eq!(p.built_in_controls, ["mfa"]);
        assert_eq!(
            p.authentication_strength.as_deref(),
            Some("Phishing-resistant MFA")
        );
        let odd = map(&obj(
            serde_json::json!({"id": "p3", "conditions": "not an object"}),
        ))
        .unwrap();
        assert_eq!(odd.id, "p3");
    }

    #[test]
    fn narrowing_conditions_are_kept() {
        let p = map(&obj(serde_json::json!({
            "id": "p4", "state": "enabled",
            "conditions": {
                "users": {
                    "includeUsers": ["All"],
                    "excludeGuestsOrExternalUsers": {
                        "guestOrExternalUserTypes": "internalGuest,b2bCollaborationMember",
                        "externalTenants": {"membershipKind": "all"}
                    }
                },
                "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted", "loc-1"]},
                "platforms": {"includePlatforms": ["all"], "excludePlatforms": ["iOS"]},
                "userRiskLevels": ["high"], "signInRiskLevels": ["medium", "high"],
                "devices": {"deviceFilter": {"mode": "exclude", "rule": "device.isCompliant -eq True"}}
            }
        })))
        .unwrap();
        assert_eq!(p.include_locations, ["All"]);
        assert_eq!(p.exclude_locations, ["AllTrusted", "loc-1"]);
        assert_eq!(p.exclude_platforms, ["iOS"]);
        assert_eq!(p.user_risk_levels, ["high"]);
        assert_eq!(p.sign_in_risk_levels, ["medium", "high"]);
        assert_eq!(p.device_filter_mode.as_deref(), Some("exclude"));
        assert_eq!(
            p.exclude_guest_or_external_user_types,
            ["internalGuest", "b2bCollaborationMember"]
        );
        assert!(p.include_guest_or_external_user_types.is_empty());
        // `null` conditions (as Graph sends them when unset) are no condition.
        let bare = map(&obj(serde_json::json!({
            "id": "p5", "conditions": {"locations": null, "platforms": null, "devices": null}
        })))
        .unwrap();
        assert!(bare.include_locations.is_empty() && bare.exclude_platforms.is_empty());
    }

    #[test]
    fn a_policy_without_an_id_is_skipped() {
        assert!(map(&obj(serde_json::json!({"displayName": "x"}))).is_none());
    }
}
