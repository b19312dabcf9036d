//! Source `outbound_spam_policies`: `Get-HostedOutboundSpamFilterPolicy`.

use serde_json::{json, Value};

use super::{b, s, Ctx};
use crate::snapshot::model::{OutboundSpamPolicy, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-HostedOutboundSpamFilterPolicy", json!({}))
        .map(|items| {
            ctx.snapshot.outbound_spam.policies = items
                .iter()
                .filter_map(|p| {
                    Some(OutboundSpamPolicy {
                        id: s(p, "Identity").or_else(|| s(p, "Name"))?,
                        is_default: b(p, "IsDefault").unwrap_or(false),
                        enabled: b(p, "Enabled").unwrap_or(true),
                        auto_forwarding_mode: s(p, "AutoForwardingMode")
                            .unwrap_or_else(|| "Automatic".to_owned()),
                        action_when_threshold_reached: s(p, "ActionWhenThresholdReached"),
                        recipient_limit_external_per_hour: p
                            .get("RecipientLimitExternalPerHour")
                            .and_then(|v| match v {
                                Value::String(t) => t.parse().ok(),
                                other => other.as_u64(),
                            })
                            .and_then(|n| u32::try_from(n).ok()),
                    })
                })
                .collect();
            ctx.snapshot.outbound_spam.policies.len() as u64
        });
    ctx.record(SourceId::OutboundSpamPolicies, outcome);
}
