//! Source `security_defaults`: `identitySecurityDefaultsEnforcementPolicy.isEnabled`.

use super::Ctx;
use crate::graph::ApiError;
use crate::snapshot::model::SourceId;

pub fn collect(ctx: &mut Ctx<'_>) {
    let path = "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy";
    let outcome = ctx.graph.get(path).and_then(|v| {
        let enabled = v
            .get("isEnabled")
            .and_then(serde_json::Value::as_bool)
            .ok_or_else(|| ApiError::BadResponse {
                endpoint: path.into(),
                message: "missing isEnabled".into(),
            })?;
        ctx.snapshot.security_defaults.is_enabled = Some(enabled);
        Ok(1)
    });
    ctx.record(SourceId::SecurityDefaults, outcome);
}
