//! Source `conditional_access`: CA policies mapped to the flat model `CaPolicy`.

use serde_json::{Map, Value};

use super::{s, strings, Ctx};
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

fn map(p: &Map<String, Value>) -> Option<CaPolicy> {
    let null = Value::Null;
    let cond = p.get("conditions").unwrap_or(&null);
    let users = &cond["users"];
    let apps = &cond["applications"];
    let grant = p.get("grantControls").unwrap_or(&null);
    let strength = &grant["authenticationStrength"];
    Some(CaPolicy {
        id: s(p, "id")?,
        display_name: s(p, "displayName").unwrap_or_default(),
        state: s(p, "state").unwrap_or_default(),
        include_users: strings(users.get("includeUsers")),
        exclude_users: strings(users.get("excludeUsers")),
        include_groups: strings(users.get("includeGroups")),
        exclude_groups: strings(users.get("excludeGroups")),
        include_roles: strings(users.get("includeRoles")),
        exclude_roles: strings(users.get("excludeRoles")),
        include_applications: strings(apps.get("includeApplications")),
        exclude_applications: strings(apps.get("excludeApplications")),
        client_app_types: strings(cond.get("clientAppTypes")),
        built_in_controls: strings(grant.get("builtInControls")),
        grant_operator: grant["operator"].as_str().map(str::to_owned),
        authentication_strength: strength
            .get("displayName")
            .and_then(Value::as_str)
            .or_else(|| strength.get("id").and_then(Value::as_str))
            .map(str::to_owned),
    })
}
