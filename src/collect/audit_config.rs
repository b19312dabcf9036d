//! Source `audit_config`: the switches that decide whether there is an audit trail to
//! investigate with.
//!
//! - `Get-AdminAuditLogConfig` `UnifiedAuditLogIngestionEnabled`: activity recorded in the
//!   unified audit log (<https://learn.microsoft.com/powershell/module/exchange/get-adminauditlogconfig>).
//! - `Get-OrganizationConfig` `AuditDisabled`: mailbox auditing off for the whole
//!   organisation (<https://learn.microsoft.com/powershell/module/exchange/get-organizationconfig>).
//! - `Get-MailboxAuditBypassAssociation -ResultSize Unlimited`: one row per account, with
//!   `AuditBypassEnabled`; only the bypassed ones are kept
//!   (<https://learn.microsoft.com/powershell/module/exchange/get-mailboxauditbypassassociation>).
//!
//! Each is one tenant-wide call (the last paged by the client). If any fails the source is
//! `error`: half an audit picture must not pass.

use serde_json::{json, Map, Value};

use super::{b, s, time, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{AuditBypass, AuditConfig, SourceId};

/// The id of the one organisation-wide audit object.
pub const ORGANIZATION: &str = "organization";

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = fetch(ctx);
    ctx.record(SourceId::AuditConfig, outcome);
}

fn fetch(ctx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let admin = ctx.exchange.invoke("Get-AdminAuditLogConfig", json!({}))?;
    let org = ctx.exchange.invoke("Get-OrganizationConfig", json!({}))?;
    let rows = ctx.exchange.invoke(
        "Get-MailboxAuditBypassAssociation",
        json!({"ResultSize": "Unlimited"}),
    )?;
    let config = AuditConfig {
        id: ORGANIZATION.to_owned(),
        unified_audit_log_ingestion_enabled: admin
            .first()
            .and_then(|a| b(a, "UnifiedAuditLogIngestionEnabled")),
        audit_disabled: org.first().and_then(|o| b(o, "AuditDisabled")),
    };
    let mut bypass: Vec<AuditBypass> = rows.iter().filter_map(map_bypass).collect();
    bypass.dedup_by(|a, b| a.id == b.id);
    let items = 1 + bypass.len() as u64;
    ctx.snapshot.audit_config.organization = vec![config];
    ctx.snapshot.audit_config.bypass_associations = bypass;
    Ok(items)
}

/// A bypassed account, or `None` for an audited one (or a row without an identity).
pub(crate) fn map_bypass(r: &Map<String, Value>) -> Option<AuditBypass> {
    if b(r, "AuditBypassEnabled") != Some(true) {
        return None;
    }
    Some(AuditBypass {
        id: s(r, "Identity").or_else(|| s(r, "Name"))?,
        name: s(r, "Name"),
        audit_bypass_enabled: true,
        when_changed: time(r.get("WhenChangedUTC").or_else(|| r.get("WhenChanged"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn only_bypassed_accounts_are_kept() {
        let on = map_bypass(&obj(json!({
            "Identity": "svc-archive", "Name": "svc-archive", "AuditBypassEnabled": true,
            "WhenChangedUTC": "2025-12-30T18:20:00Z"
        })))
        .unwrap();
        assert_eq!(on.id, "svc-archive");
        assert!(on.when_changed.is_some());
        assert!(map_bypass(&obj(json!({"Identity": "x", "AuditBypassEnabled": false}))).is_none());
        assert!(map_bypass(&obj(json!({"Identity": "x"}))).is_none());
        assert!(map_bypass(&obj(json!({"AuditBypassEnabled": true}))).is_none());
    }
}
