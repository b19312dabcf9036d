//! `enable_audit_logging`: mailbox auditing back on for the organisation
//! (`Set-OrganizationConfig -AuditDisabled $false`,
//! <https://learn.microsoft.com/powershell/module/exchange/set-organizationconfig>) or an
//! account's audit bypass removed (`Set-MailboxAuditBypassAssociation -AuditBypassEnabled
//! $false`, <https://learn.microsoft.com/powershell/module/exchange/set-mailboxauditbypassassociation>).
//!
//! Unified audit log ingestion is not turned on here: over the Exchange admin REST endpoint
//! `Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true` answers 400 "Cmdlet
//! needs proxy" (<https://github.com/pnp/cli-microsoft365/issues/4677>; Microsoft documents
//! turning it on in the Purview portal or Exchange Online PowerShell,
//! <https://learn.microsoft.com/purview/audit-log-enable-disable>). The planner lists it as
//! a manual step.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::{ExoOrgSwitches, Live};
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::source::ResourceKind;

pub struct EnableAuditLogging;

/// The manual step for unified audit log ingestion, as plans show it.
pub const UNIFIED_AUDIT_LOG_MANUAL: &str = "unified audit log ingestion cannot be turned on through the Exchange admin REST endpoint (\"Cmdlet needs proxy\"): turn it on in the Microsoft Purview portal (Audit > Start recording user and admin activity) or run `Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true` in Exchange Online PowerShell";

fn is_bypass(target: &Target) -> bool {
    target.kind == ResourceKind::AuditBypass
}

fn opt(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

impl Handler for EnableAuditLogging {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        if is_bypass(target) {
            let row: Option<ExoOrgSwitches> = live.exo_one(
                "Get-MailboxAuditBypassAssociation",
                json!({"Identity": target.id}),
            )?;
            return Ok(row.map(|r| state([("audit_bypass_enabled", opt(r.audit_bypass_enabled))])));
        }
        let org: Option<ExoOrgSwitches> = live.exo_one("Get-OrganizationConfig", json!({}))?;
        Ok(org.map(|o| state([("audit_disabled", opt(o.audit_disabled))])))
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        let key = if is_bypass(target) {
            "audit_bypass_enabled"
        } else {
            "audit_disabled"
        };
        state.is_some_and(|s| s.get(key) == Some(&Value::Bool(false)))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let (cmdlet, parameters) = if is_bypass(target) {
            (
                "Set-MailboxAuditBypassAssociation",
                json!({"Identity": target.id, "AuditBypassEnabled": false}),
            )
        } else {
            ("Set-OrganizationConfig", json!({"AuditDisabled": false}))
        };
        live.exchange.invoke(cmdlet, parameters).map_err(|e| {
            exchange_write_error(e, &ActionKind::EnableAuditLogging.needs().summary())
        })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        if is_bypass(target) {
            format!(
                "Set-MailboxAuditBypassAssociation -Identity '{}' -AuditBypassEnabled $false",
                target.id
            )
        } else {
            "Set-OrganizationConfig -AuditDisabled $false".to_owned()
        }
    }

    fn describe_verify(&self) -> &'static str {
        "Get-OrganizationConfig: AuditDisabled false (Get-MailboxAuditBypassAssociation: AuditBypassEnabled false for a bypass)"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(if is_bypass(target) {
            format!(
                "Set-MailboxAuditBypassAssociation -Identity '{}' -AuditBypassEnabled $true",
                target.id
            )
        } else {
            "Set-OrganizationConfig -AuditDisabled $true".to_owned()
        })
    }
}
