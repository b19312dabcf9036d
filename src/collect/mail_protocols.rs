//! Source `mail_protocols`: which client protocols can reach each mailbox, and whether
//! authenticated SMTP submission (SMTP AUTH) is on for the organisation.
//!
//! One tenant-wide `Get-CASMailbox -ResultSize Unlimited` (paged by the client) instead of
//! a call per mailbox: the cmdlet's default parameter set returns every mailbox's client
//! access settings, `-ResultSize Unlimited` lifts its 1000-object default
//! (<https://learn.microsoft.com/powershell/module/exchange/get-casmailbox>). Then
//! `Get-TransportConfig` for the organisation's `SmtpClientAuthenticationDisabled`
//! (<https://learn.microsoft.com/powershell/module/exchange/get-transportconfig>).
//!
//! A mailbox's `SmtpClientAuthenticationDisabled` is `$true`/`$false` to override the
//! organisation, or `$null` to use it: "Enable or disable authenticated client SMTP
//! submission (SMTP AUTH) in Exchange Online",
//! <https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission>.
//! The snapshot keeps the three states apart; the rule combines them.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::{b, s, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{CasMailbox, SourceId, TransportSettings};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = fetch(ctx);
    ctx.record(SourceId::MailProtocols, outcome);
}

fn fetch(ctx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let rows = ctx
        .exchange
        .invoke("Get-CASMailbox", json!({"ResultSize": "Unlimited"}))?;
    let mut seen = HashSet::new();
    let mailboxes: Vec<CasMailbox> = rows
        .iter()
        .filter(|m| !is_discovery(m))
        .filter_map(map_mailbox)
        .filter(|m| seen.insert(m.id.clone()))
        .collect();
    let transport = ctx.exchange.invoke("Get-TransportConfig", json!({}))?;
    let transport: Vec<TransportSettings> = transport.iter().take(1).map(map_transport).collect();
    let items = (mailboxes.len() + transport.len()) as u64;
    ctx.snapshot.mail_protocols.mailboxes = mailboxes;
    ctx.snapshot.mail_protocols.transport = transport;
    Ok(items)
}

/// The organisation's discovery mailbox (eDiscovery's own, one per organisation, no user):
/// `mailboxes` leaves it out by its type, which `Get-CASMailbox` does not show, so it is
/// recognised by its fixed name, `DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}`.
fn is_discovery(m: &Map<String, Value>) -> bool {
    ["Name", "PrimarySmtpAddress"].iter().any(|k| {
        s(m, k).is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("discoverysearchmailbox{")
        })
    })
}

pub(crate) fn map_mailbox(m: &Map<String, Value>) -> Option<CasMailbox> {
    let smtp = s(m, "PrimarySmtpAddress")?.to_lowercase();
    Some(CasMailbox {
        id: s(m, "ExternalDirectoryObjectId")
            .or_else(|| s(m, "ExchangeObjectId"))
            .or_else(|| s(m, "Guid"))
            .unwrap_or_else(|| smtp.clone()),
        primary_smtp_address: smtp,
        pop_enabled: b(m, "PopEnabled"),
        imap_enabled: b(m, "ImapEnabled"),
        smtp_client_authentication_disabled: b(m, "SmtpClientAuthenticationDisabled"),
        ews_enabled: b(m, "EwsEnabled"),
        active_sync_enabled: b(m, "ActiveSyncEnabled"),
        owa_enabled: b(m, "OWAEnabled"),
        owa_for_devices_enabled: b(m, "OWAforDevicesEnabled"),
        mapi_enabled: b(m, "MAPIEnabled"),
    })
}

fn map_transport(t: &Map<String, Value>) -> TransportSettings {
    TransportSettings {
        id: s(t, "Identity").unwrap_or_else(|| "Transport Settings".to_owned()),
        smtp_client_authentication_disabled: b(t, "SmtpClientAuthenticationDisabled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn a_null_smtp_setting_stays_null_and_flags_map_by_name() {
        let m = map_mailbox(&obj(json!({
            "ExternalDirectoryObjectId": "u1", "PrimarySmtpAddress": "Lena@Contoso.com",
            "PopEnabled": false, "ImapEnabled": true, "SmtpClientAuthenticationDisabled": null,
            "ActiveSyncEnabled": true, "OWAforDevicesEnabled": false, "EwsEnabled": true
        })))
        .unwrap();
        assert_eq!(
            (m.id.as_str(), m.primary_smtp_address.as_str()),
            ("u1", "lena@contoso.com")
        );
        assert_eq!((m.pop_enabled, m.imap_enabled), (Some(false), Some(true)));
        assert_eq!(m.smtp_client_authentication_disabled, None);
        assert_eq!(m.owa_for_devices_enabled, Some(false));
        assert_eq!(m.mapi_enabled, None);
    }

    #[test]
    fn the_discovery_mailbox_is_recognised_by_its_fixed_name() {
        let name = "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}";
        assert!(is_discovery(&obj(json!({"Name": name}))));
        assert!(!is_discovery(&obj(json!({"Name": "lena.fischer"}))));
    }

    #[test]
    fn a_row_without_an_address_is_skipped_and_transport_defaults_its_name() {
        assert!(map_mailbox(&obj(json!({"PopEnabled": true}))).is_none());
        let t = map_transport(&obj(json!({"SmtpClientAuthenticationDisabled": false})));
        assert_eq!(t.id, "Transport Settings");
        assert_eq!(t.smtp_client_authentication_disabled, Some(false));
    }
}
