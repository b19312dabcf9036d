//! Sources `outbound_connectors` and `inbound_connectors`: `Get-OutboundConnector` and
//! `Get-InboundConnector`, the Exchange Online connectors. An outbound connector with an
//! attacker's smart host reroutes (and can read) the organisation's outbound mail; an
//! inbound connector that trusts senders by IP address alone, without TLS or a
//! certificate, lets whoever holds that address send as the organisation.
//!
//! Cmdlets: <https://learn.microsoft.com/powershell/module/exchange/get-outboundconnector>
//! (`-ResultSize Unlimited` documented) and
//! <https://learn.microsoft.com/powershell/module/exchange/get-inboundconnector> (run
//! without parameters: every connector). Property names as in
//! <https://learn.microsoft.com/powershell/module/exchange/set-outboundconnector> and
//! <https://learn.microsoft.com/powershell/module/exchange/set-inboundconnector>.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::transport_rules::texts;
use super::{time, Ctx};
use crate::snapshot::model::{InboundConnector, OutboundConnector, SourceId};

pub fn collect_outbound(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-OutboundConnector", json!({"ResultSize": "Unlimited"}))
        .map(|items| {
            ctx.snapshot.outbound_connectors = items.iter().filter_map(map_outbound).collect();
            ctx.snapshot.outbound_connectors.len() as u64
        });
    ctx.record(SourceId::OutboundConnectors, outcome);
}

pub fn collect_inbound(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-InboundConnector", json!({}))
        .map(|items| {
            ctx.snapshot.inbound_connectors = items.iter().filter_map(map_inbound).collect();
            ctx.snapshot.inbound_connectors.len() as u64
        });
    ctx.record(SourceId::InboundConnectors, outcome);
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ExoOutbound {
    guid: Option<String>,
    identity: Option<String>,
    name: Option<String>,
    enabled: Option<bool>,
    connector_type: Option<String>,
    recipient_domains: Option<Vec<Value>>,
    smart_hosts: Option<Vec<Value>>,
    #[serde(rename = "UseMXRecord")]
    use_mx_record: Option<bool>,
    is_transport_rule_scoped: Option<bool>,
    tls_settings: Option<String>,
    comment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ExoInbound {
    guid: Option<String>,
    identity: Option<String>,
    name: Option<String>,
    enabled: Option<bool>,
    connector_type: Option<String>,
    sender_domains: Option<Vec<Value>>,
    #[serde(rename = "SenderIPAddresses")]
    sender_ip_addresses: Option<Vec<Value>>,
    #[serde(rename = "RestrictDomainsToIPAddresses")]
    restrict_domains_to_ip_addresses: Option<bool>,
    require_tls: Option<bool>,
    restrict_domains_to_certificate: Option<bool>,
    tls_sender_certificate_name: Option<String>,
    comment: Option<String>,
}

fn lower(v: Option<Vec<Value>>) -> Vec<String> {
    texts(v).into_iter().map(|x| x.to_lowercase()).collect()
}

/// `SenderDomains` entries look like `smtp:*;1` or `smtp:fabrikam.com;1` (address space
/// type, domain, cost): keep the domain.
fn sender_domain(entry: &str) -> String {
    let d = super::mailboxes::strip_smtp(entry);
    d.split(';').next().unwrap_or_default().to_lowercase()
}

pub(crate) fn map_outbound(raw: &Map<String, Value>) -> Option<OutboundConnector> {
    let when_changed = time(raw.get("WhenChangedUTC").or_else(|| raw.get("WhenChanged")));
    let c: ExoOutbound = serde_json::from_value(Value::Object(raw.clone())).ok()?;
    let name = c.name.or_else(|| c.identity.clone())?;
    Some(OutboundConnector {
        id: c.guid.or(c.identity).unwrap_or_else(|| name.clone()),
        name,
        enabled: c.enabled,
        connector_type: c.connector_type,
        recipient_domains: lower(c.recipient_domains),
        smart_hosts: lower(c.smart_hosts),
        use_mx_record: c.use_mx_record,
        is_transport_rule_scoped: c.is_transport_rule_scoped.unwrap_or(false),
        tls_settings: c.tls_settings,
        comment: c.comment,
        when_changed,
    })
}

pub(crate) fn map_inbound(raw: &Map<String, Value>) -> Option<InboundConnector> {
    let when_changed = time(raw.get("WhenChangedUTC").or_else(|| raw.get("WhenChanged")));
    let c: ExoInbound = serde_json::from_value(Value::Object(raw.clone())).ok()?;
    let name = c.name.or_else(|| c.identity.clone())?;
    Some(InboundConnector {
        id: c.guid.or(c.identity).unwrap_or_else(|| name.clone()),
        name,
        enabled: c.enabled,
        connector_type: c.connector_type,
        sender_domains: texts(c.sender_domains)
            .iter()
            .map(|d| sender_domain(d))
            .filter(|d| !d.is_empty())
            .collect(),
        sender_ip_addresses: texts(c.sender_ip_addresses),
        restrict_domains_to_ip_addresses: c.restrict_domains_to_ip_addresses,
        require_tls: c.require_tls,
        restrict_domains_to_certificate: c.restrict_domains_to_certificate,
        tls_sender_certificate_name: c.tls_sender_certificate_name.filter(|n| !n.is_empty()),
        comment: c.comment,
        when_changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn maps_an_outbound_connector() {
        let c = map_outbound(&obj(json!({
            "Identity": "Partner relay", "Name": "Partner relay",
            "Guid": "7d0e0000-0000-4000-8000-000000000002", "Enabled": true,
            "ConnectorType": "Partner", "RecipientDomains": ["*"],
            "SmartHosts": ["MX.Relay.example"], "UseMXRecord": false,
            "IsTransportRuleScoped": false, "TlsSettings": null,
            "WhenChangedUTC": "2026-01-01T06:50:00.0000000Z"
        })))
        .unwrap();
        assert_eq!(c.id, "7d0e0000-0000-4000-8000-000000000002");
        assert_eq!(c.smart_hosts, ["mx.relay.example"]);
        assert_eq!(c.recipient_domains, ["*"]);
        assert_eq!((c.enabled, c.use_mx_record), (Some(true), Some(false)));
        assert!(c.when_changed.is_some());
        assert!(map_outbound(&obj(json!({"Enabled": true}))).is_none());
    }

    #[test]
    fn maps_an_inbound_connector_and_its_sender_domains() {
        let c = map_inbound(&obj(json!({
            "Name": "Scanner", "Enabled": true, "ConnectorType": "OnPremises",
            "SenderDomains": ["smtp:*;1", "SMTP:Contoso.com;1"],
            "SenderIPAddresses": ["198.51.100.0/24"], "RequireTls": false,
            "RestrictDomainsToCertificate": false, "TlsSenderCertificateName": ""
        })))
        .unwrap();
        assert_eq!(c.id, "Scanner");
        assert_eq!(c.sender_domains, ["*", "contoso.com"]);
        assert_eq!(c.sender_ip_addresses, ["198.51.100.0/24"]);
        assert_eq!(c.tls_sender_certificate_name, None);
        assert_eq!(c.require_tls, Some(false));
    }
}
