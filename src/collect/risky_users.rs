//! Source `risky_users`: Identity Protection risky users (Entra ID P2).

use super::{s, time, Ctx};
use crate::snapshot::model::{RiskyUser, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .graph
        .get_all("/v1.0/identityProtection/riskyUsers?$top=500")
        .map(|items| {
            ctx.snapshot.risky_users = items
                .iter()
                .filter_map(|r| {
                    Some(RiskyUser {
                        id: s(r, "id")?,
                        user_principal_name: s(r, "userPrincipalName").unwrap_or_default(),
                        risk_level: s(r, "riskLevel").unwrap_or_else(|| "none".to_owned()),
                        risk_state: s(r, "riskState").unwrap_or_else(|| "none".to_owned()),
                        risk_detail: s(r, "riskDetail"),
                        risk_last_updated: time(r.get("riskLastUpdatedDateTime")),
                    })
                })
                .collect();
            ctx.snapshot.risky_users.len() as u64
        });
    ctx.record(SourceId::RiskyUsers, outcome);
}
