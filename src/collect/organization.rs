//! Source `organization`: tenant id, display name and verified domains (`/organization`).

use serde_json::Value;

use super::{b, s, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::SourceId;

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = fetch(ctx);
    ctx.record(SourceId::Organization, outcome);
}

fn fetch(ctx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let orgs = ctx
        .graph
        .get_all("/v1.0/organization?$select=id,displayName,verifiedDomains")?;
    let endpoint = "/v1.0/organization";
    let org = orgs.first().ok_or_else(|| ApiError::BadResponse {
        endpoint: endpoint.into(),
        message: "no organization object".into(),
    })?;
    let tenant = &mut ctx.snapshot.tenant;
    if let Some(id) = s(org, "id") {
        tenant.id = id;
    }
    tenant.display_name = s(org, "displayName");
    let domains: Vec<_> = org
        .get("verifiedDomains")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    tenant.verified_domains = domains
        .iter()
        .filter_map(|d| s(d, "name"))
        .map(|n| n.to_ascii_lowercase())
        .collect();
    tenant.default_domain = domains
        .iter()
        .find(|d| b(d, "isDefault") == Some(true))
        .and_then(|d| s(d, "name"))
        .map(|n| n.to_ascii_lowercase());
    Ok(tenant.verified_domains.len() as u64)
}
