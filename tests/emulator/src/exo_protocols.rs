//! Exchange client access and audit cmdlets: `Get-/Set-CASMailbox`, `Set-TransportConfig`
//! (its `SmtpClientAuthenticationDisabled`), `Get-/Set-AdminAuditLogConfig`,
//! `Set-OrganizationConfig` (its `AuditDisabled`) and `Get-/Set-MailboxAuditBypassAssociation`.
//! `exchange.rs` only dispatches here; the state lives in [`ProtocolState`] on the tenant.
//!
//! As documented:
//! - Get-CASMailbox (<https://learn.microsoft.com/powershell/module/exchange/get-casmailbox>):
//!   two parameter sets, `Identity` and `Anr`, never both; `ResultSize` defaults to 1000.
//! - Set-CASMailbox (<https://learn.microsoft.com/powershell/module/exchange/set-casmailbox>):
//!   `Identity` is mandatory; the protocol switches are Booleans, and
//!   `SmtpClientAuthenticationDisabled` also takes `$null` ("use the organisation's
//!   setting", <https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission>).
//! - Set-TransportConfig (<https://learn.microsoft.com/powershell/module/exchange/set-transportconfig>):
//!   `SmtpClientAuthenticationDisabled` is a Boolean (no `$null` at the organisation).
//! - Get-/Set-AdminAuditLogConfig (<https://learn.microsoft.com/powershell/module/exchange/set-adminauditlogconfig>):
//!   over this REST endpoint, turning `UnifiedAuditLogIngestionEnabled` *on* answers
//!   400 "Cmdlet needs proxy" while turning it off works (reported in
//!   <https://github.com/pnp/cli-microsoft365/issues/4677>); emulated so.
//! - Set-OrganizationConfig (<https://learn.microsoft.com/powershell/module/exchange/set-organizationconfig>):
//!   `AuditDisabled` Boolean.
//! - Get-MailboxAuditBypassAssociation (<https://learn.microsoft.com/powershell/module/exchange/get-mailboxauditbypassassociation>):
//!   one row per user account with `AuditBypassEnabled`; `Identity`, `ResultSize`.
//!   Set-MailboxAuditBypassAssociation (<https://learn.microsoft.com/powershell/module/exchange/set-mailboxauditbypassassociation>):
//!   `Identity` and `AuditBypassEnabled`, both mandatory.

use serde_json::{json, Map, Value};

use crate::exchange::Obj;
use crate::http::Response;
use crate::respond::{exo_error, Ctx};
use crate::server::{lock, Shared};
use crate::state::{Mailbox, TenantState};

/// One mailbox's client access settings, keyed by the mailbox's Exchange GUID.
#[derive(Debug, Clone, PartialEq)]
pub struct CasSettings {
    pub mailbox_guid: String,
    pub pop_enabled: bool,
    pub imap_enabled: bool,
    /// `None` = use the organisation's setting.
    pub smtp_client_authentication_disabled: Option<bool>,
    pub ews_enabled: bool,
    pub active_sync_enabled: bool,
    pub owa_enabled: bool,
    pub owa_for_devices_enabled: bool,
    pub mapi_enabled: bool,
}

/// An account bypassing mailbox audit logging.
#[derive(Debug, Clone, PartialEq)]
pub struct Bypass {
    pub identity: String,
    pub when_changed: String,
}

/// Client access and audit state of the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolState {
    /// `Get-TransportConfig` `SmtpClientAuthenticationDisabled`.
    pub smtp_client_authentication_disabled: bool,
    pub cas: Vec<CasSettings>,
    pub unified_audit_log_ingestion_enabled: bool,
    /// `Get-OrganizationConfig` `AuditDisabled`.
    pub audit_disabled: bool,
    pub bypass: Vec<Bypass>,
}

fn flag(v: Option<&Value>, key: &str) -> Option<bool> {
    v?.get(key)?.as_bool()
}

impl ProtocolState {
    /// From the snapshot's `mail_protocols` and `audit_config`. A snapshot without them
    /// (fixtures older than the sources) gets a tenant that followed the advice: SMTP AUTH
    /// off, POP and IMAP off, auditing on, so those fixtures stay quiet.
    pub fn from_snapshot(snap: &Value, mailboxes: &[Mailbox]) -> ProtocolState {
        let protocols = snap.get("mail_protocols");
        let rows: Vec<Value> = protocols
            .and_then(|p| p.get("mailboxes"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cas = mailboxes
            .iter()
            .map(|m| {
                let row = rows.iter().find(|r| {
                    r.get("id").and_then(Value::as_str).is_some_and(|id| {
                        id.eq_ignore_ascii_case(&m.external_directory_object_id)
                            || id.eq_ignore_ascii_case(&m.guid)
                    })
                });
                let on = |key: &str, default: bool| flag(row, key).unwrap_or(default);
                CasSettings {
                    mailbox_guid: m.guid.clone(),
                    pop_enabled: on("pop_enabled", false),
                    imap_enabled: on("imap_enabled", false),
                    smtp_client_authentication_disabled: flag(
                        row,
                        "smtp_client_authentication_disabled",
                    ),
                    ews_enabled: on("ews_enabled", true),
                    active_sync_enabled: on("active_sync_enabled", true),
                    owa_enabled: on("owa_enabled", true),
                    owa_for_devices_enabled: on("owa_for_devices_enabled", true),
                    mapi_enabled: on("mapi_enabled", true),
                }
            })
            .collect();
        let transport = protocols
            .and_then(|p| p.get("transport"))
            .and_then(Value::as_array)
            .and_then(|a| a.first());
        let audit = snap.get("audit_config");
        let org = audit
            .and_then(|a| a.get("organization"))
            .and_then(Value::as_array)
            .and_then(|a| a.first());
        let bypass = audit
            .and_then(|a| a.get("bypass_associations"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|b| flag(Some(b), "audit_bypass_enabled") != Some(false))
                    .filter_map(|b| {
                        Some(Bypass {
                            identity: b.get("id")?.as_str()?.to_owned(),
                            when_changed: b
                                .get("when_changed")
                                .and_then(Value::as_str)
                                .map(crate::state::dotnet_date)
                                .unwrap_or_else(|| "2025-06-01T09:00:00.0000000Z".into()),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        ProtocolState {
            smtp_client_authentication_disabled: flag(
                transport,
                "smtp_client_authentication_disabled",
            )
            .unwrap_or(true),
            cas,
            unified_audit_log_ingestion_enabled: flag(org, "unified_audit_log_ingestion_enabled")
                .unwrap_or(true),
            audit_disabled: flag(org, "audit_disabled").unwrap_or(false),
            bypass,
        }
    }
}

const READS: [&str; 3] = [
    "Get-CASMailbox",
    "Get-AdminAuditLogConfig",
    "Get-MailboxAuditBypassAssociation",
];
const WRITES: [&str; 5] = [
    "Set-CASMailbox",
    "Set-TransportConfig",
    "Set-AdminAuditLogConfig",
    "Set-OrganizationConfig",
    "Set-MailboxAuditBypassAssociation",
];

/// The canonical spelling of a cmdlet this module serves.
pub fn canonical(name: &str) -> Option<&'static str> {
    READS
        .into_iter()
        .chain(WRITES)
        .find(|c| c.eq_ignore_ascii_case(name))
}

pub fn is_read(cmdlet: &str) -> bool {
    READS.contains(&cmdlet)
}

pub fn is_write(cmdlet: &str) -> bool {
    WRITES.contains(&cmdlet)
}

/// Cmdlets whose default `ResultSize` is 1000.
pub fn limits_result_size(cmdlet: &str) -> bool {
    matches!(
        cmdlet,
        "Get-CASMailbox" | "Get-MailboxAuditBypassAssociation"
    )
}

/// The parameters the emulator implements; the rest are refused rather than ignored.
pub fn parameters_of(cmdlet: &str) -> Option<&'static [&'static str]> {
    Some(match cmdlet {
        "Get-CASMailbox" => &["Identity", "Anr", "ResultSize", "ProtocolSettings"],
        "Set-CASMailbox" => &[
            "Identity",
            "PopEnabled",
            "ImapEnabled",
            "SmtpClientAuthenticationDisabled",
            "ActiveSyncEnabled",
            "OWAforDevicesEnabled",
            "OWAEnabled",
            "EwsEnabled",
            "MAPIEnabled",
            "Confirm",
        ],
        "Set-TransportConfig" => &["Identity", "SmtpClientAuthenticationDisabled", "Confirm"],
        "Get-AdminAuditLogConfig" => &[],
        "Set-AdminAuditLogConfig" => &["UnifiedAuditLogIngestionEnabled", "Confirm", "Force"],
        "Set-OrganizationConfig" => &["AuditDisabled", "Confirm"],
        "Get-MailboxAuditBypassAssociation" => &["Identity", "ResultSize"],
        "Set-MailboxAuditBypassAssociation" => &["Identity", "AuditBypassEnabled", "Confirm"],
        _ => return None,
    })
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text(params: &Map<String, Value>, name: &str) -> Option<String> {
    param(params, name)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn obj(pairs: Vec<(&str, Value)>) -> Obj {
    Obj(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn not_found(shared: &Shared, ctx: &Ctx, identity: &str) -> Response {
    exo_error(
        shared.settings().options.exo_not_found_status,
        "NotFound",
        "Error executing cmdlet",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        &format!("The operation couldn't be performed because object '{identity}' couldn't be found on 'EURPR00A001DC001.EURPR00A001.PROD.OUTLOOK.COM'."),
        Some("Ex6F9304"),
        false,
        ctx,
    )
}

fn binding_error(ctx: &Ctx, message: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Invalid Operation",
        "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException",
        message,
        None,
        true,
        ctx,
    )
}

fn missing(ctx: &Ctx, cmdlet: &str, name: &str) -> Response {
    binding_error(
        ctx,
        &format!("Cannot process command because of one or more missing mandatory parameters: {name}. ({cmdlet})"),
    )
}

/// A Boolean parameter: `Some(Some(b))`, `Some(None)` for `$null` where `nullable`, `None`
/// when absent; anything else is the binding error PowerShell gives.
fn boolean(
    ctx: &Ctx,
    params: &Map<String, Value>,
    name: &str,
    nullable: bool,
) -> Result<Option<Option<bool>>, Response> {
    match param(params, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(Some(*b))),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(other) => Err(binding_error(
            ctx,
            &format!("Cannot bind parameter '{name}'. Cannot convert value \"{other}\" to type \"System.Boolean\"."),
        )),
    }
}

/// A read this module serves.
pub fn read(
    shared: &Shared,
    ctx: &Ctx,
    cmdlet: &str,
    params: &Map<String, Value>,
) -> Result<Vec<Obj>, Response> {
    let st = lock(&shared.state);
    match cmdlet {
        "Get-CASMailbox" => get_cas(shared, ctx, &st, params),
        "Get-AdminAuditLogConfig" => Ok(vec![obj(vec![
            (
                "UnifiedAuditLogIngestionEnabled",
                json!(st.protocols.unified_audit_log_ingestion_enabled),
            ),
            ("AdminAuditLogEnabled", json!(true)),
            ("Name", json!("Admin Audit Log Settings")),
            ("Identity", json!("Admin Audit Log Settings")),
            ("IsValid", json!(true)),
        ])]),
        _ => get_bypass(shared, ctx, &st, params),
    }
}

/// `Get-TransportConfig`'s object, with the tenant's SMTP AUTH switch.
pub fn transport_config(shared: &Shared) -> Obj {
    let st = lock(&shared.state);
    obj(vec![
        (
            "SmtpClientAuthenticationDisabled",
            json!(st.protocols.smtp_client_authentication_disabled),
        ),
        ("ExternalPostmasterAddress", Value::Null),
        ("Identity", json!("Transport Settings")),
    ])
}

fn render_cas(m: &Mailbox, c: &CasSettings) -> Obj {
    obj(vec![
        (
            "ExternalDirectoryObjectId",
            json!(m.external_directory_object_id),
        ),
        ("PrimarySmtpAddress", json!(m.primary_smtp_address)),
        ("DisplayName", json!(m.display_name)),
        ("ActiveSyncEnabled", json!(c.active_sync_enabled)),
        ("OWAEnabled", json!(c.owa_enabled)),
        ("OWAforDevicesEnabled", json!(c.owa_for_devices_enabled)),
        ("EwsEnabled", json!(c.ews_enabled)),
        ("PopEnabled", json!(c.pop_enabled)),
        ("ImapEnabled", json!(c.imap_enabled)),
        ("MAPIEnabled", json!(c.mapi_enabled)),
        (
            "SmtpClientAuthenticationDisabled",
            json!(c.smtp_client_authentication_disabled),
        ),
        ("Name", json!(m.alias)),
        ("Identity", json!(m.alias)),
        ("Guid", json!(m.guid)),
        ("IsValid", json!(true)),
    ])
}

fn get_cas(
    shared: &Shared,
    ctx: &Ctx,
    st: &TenantState,
    params: &Map<String, Value>,
) -> Result<Vec<Obj>, Response> {
    let identity = text(params, "Identity");
    let anr = text(params, "Anr");
    if identity.is_some() && anr.is_some() {
        return Err(exo_error(
            400,
            "BadRequest",
            "Invalid Operation",
            "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
            "Parameter set cannot be resolved using the specified named parameters. Identity, Anr",
            Some(""),
            false,
            ctx,
        ));
    }
    let pairs = st.mailboxes.iter().filter_map(|m| {
        let c = st.protocols.cas.iter().find(|c| c.mailbox_guid == m.guid)?;
        Some((m, c))
    });
    if let Some(id) = identity {
        return match pairs.into_iter().find(|(m, _)| m.matches_identity(&id)) {
            Some((m, c)) => Ok(vec![render_cas(m, c)]),
            None => Err(not_found(shared, ctx, &id)),
        };
    }
    let anr = anr.map(|a| a.to_lowercase());
    Ok(pairs
        .filter(|(m, _)| {
            anr.as_deref().is_none_or(|a| {
                [&m.alias, &m.display_name, &m.primary_smtp_address]
                    .iter()
                    .any(|v| v.to_lowercase().starts_with(a))
            })
        })
        .map(|(m, c)| render_cas(m, c))
        .collect())
}

fn get_bypass(
    shared: &Shared,
    ctx: &Ctx,
    st: &TenantState,
    params: &Map<String, Value>,
) -> Result<Vec<Obj>, Response> {
    let bypassed = |identity: &str| {
        st.protocols
            .bypass
            .iter()
            .find(|b| b.identity.eq_ignore_ascii_case(identity))
    };
    let row = |identity: &str, on: Option<&Bypass>| {
        obj(vec![
            ("AuditBypassEnabled", json!(on.is_some())),
            ("Name", json!(identity)),
            ("Identity", json!(identity)),
            ("WhenChangedUTC", json!(on.map(|b| b.when_changed.clone()))),
            ("IsValid", json!(true)),
        ])
    };
    // One row per user mailbox's account, then bypassed accounts without a mailbox.
    let mut rows: Vec<(String, Obj)> = st
        .mailboxes
        .iter()
        .filter(|m| m.recipient_type_details != "DiscoveryMailbox")
        .map(|m| (m.alias.clone(), row(&m.alias, bypassed(&m.alias))))
        .collect();
    for b in &st.protocols.bypass {
        if !st.mailboxes.iter().any(|m| m.matches_identity(&b.identity)) {
            rows.push((b.identity.clone(), row(&b.identity, Some(b))));
        }
    }
    match text(params, "Identity") {
        None => Ok(rows.into_iter().map(|(_, o)| o).collect()),
        Some(id) => {
            let alias = st
                .find_mailbox(&id)
                .map(|m| m.alias.clone())
                .unwrap_or(id.clone());
            rows.into_iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&alias))
                .map(|(_, o)| vec![o])
                .ok_or_else(|| not_found(shared, ctx, &id))
        }
    }
}

/// A write this module serves; its state changes under the tenant lock.
pub fn write(
    shared: &Shared,
    ctx: &Ctx,
    cmdlet: &str,
    params: &Map<String, Value>,
) -> Result<(), Response> {
    let mut st = lock(&shared.state);
    match cmdlet {
        "Set-CASMailbox" => {
            let id = text(params, "Identity").ok_or_else(|| missing(ctx, cmdlet, "Identity"))?;
            let mut changes = Vec::new();
            for name in [
                "PopEnabled",
                "ImapEnabled",
                "ActiveSyncEnabled",
                "OWAforDevicesEnabled",
                "OWAEnabled",
                "EwsEnabled",
                "MAPIEnabled",
            ] {
                if let Some(Some(v)) = boolean(ctx, params, name, false)? {
                    changes.push((name, v));
                }
            }
            let smtp = boolean(ctx, params, "SmtpClientAuthenticationDisabled", true)?;
            let guid = st
                .find_mailbox(&id)
                .map(|m| m.guid.clone())
                .ok_or_else(|| not_found(shared, ctx, &id))?;
            let c = st
                .protocols
                .cas
                .iter_mut()
                .find(|c| c.mailbox_guid == guid)
                .ok_or_else(|| not_found(shared, ctx, &id))?;
            for (name, v) in changes {
                match name {
                    "PopEnabled" => c.pop_enabled = v,
                    "ImapEnabled" => c.imap_enabled = v,
                    "ActiveSyncEnabled" => c.active_sync_enabled = v,
                    "OWAforDevicesEnabled" => c.owa_for_devices_enabled = v,
                    "OWAEnabled" => c.owa_enabled = v,
                    "EwsEnabled" => c.ews_enabled = v,
                    _ => c.mapi_enabled = v,
                }
            }
            if let Some(v) = smtp {
                c.smtp_client_authentication_disabled = v;
            }
            Ok(())
        }
        "Set-TransportConfig" => {
            if let Some(Some(v)) = boolean(ctx, params, "SmtpClientAuthenticationDisabled", false)? {
                st.protocols.smtp_client_authentication_disabled = v;
            }
            Ok(())
        }
        "Set-AdminAuditLogConfig" => match boolean(ctx, params, "UnifiedAuditLogIngestionEnabled", false)? {
            Some(Some(true)) => Err(exo_error(400, "BadRequest", "Cmdlet needs proxy. Current Server FQDN : AS8P190MB1862.EURP190.PROD.OUTLOOK.COM, Required Server FQDN : GV1P190MB2019.EURP190.PROD.OUTLOOK.COM", "System.InvalidOperationException", "Cmdlet needs proxy.", None, false, ctx)),
            Some(Some(false)) => {
                st.protocols.unified_audit_log_ingestion_enabled = false;
                Ok(())
            }
            _ => Ok(()),
        },
        "Set-OrganizationConfig" => {
            if let Some(Some(v)) = boolean(ctx, params, "AuditDisabled", false)? {
                st.protocols.audit_disabled = v;
            }
            Ok(())
        }
        _ => {
            let id = text(params, "Identity").ok_or_else(|| missing(ctx, cmdlet, "Identity"))?;
            let on = match boolean(ctx, params, "AuditBypassEnabled", false)? {
                Some(Some(v)) => v,
                _ => return Err(missing(ctx, cmdlet, "AuditBypassEnabled")),
            };
            let identity = match st.find_mailbox(&id) {
                Some(m) => m.alias.clone(),
                None => st
                    .protocols
                    .bypass
                    .iter()
                    .find(|b| b.identity.eq_ignore_ascii_case(&id))
                    .map(|b| b.identity.clone())
                    .ok_or_else(|| not_found(shared, ctx, &id))?,
            };
            st.protocols
                .bypass
                .retain(|b| !b.identity.eq_ignore_ascii_case(&identity));
            if on {
                st.protocols.bypass.push(Bypass {
                    identity,
                    when_changed: crate::util::dotnet_utc(crate::util::now_epoch()),
                });
            }
            Ok(())
        }
    }
}
