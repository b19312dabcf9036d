//! `disable_connector`: `Set-OutboundConnector -Enabled $false`
//! (<https://learn.microsoft.com/powershell/module/exchange/set-outboundconnector>) or
//! `Set-InboundConnector -Enabled $false`
//! (<https://learn.microsoft.com/powershell/module/exchange/set-inboundconnector>), by the
//! target's kind. Connectors carry real mail flow, so the planner includes this action only
//! with `fix plan --allow connector`; otherwise the finding is listed as plan-only.
//! Disabled, not removed: the connector's full definition is saved as evidence and
//! `-Enabled $true` undoes it.
//!
//! Read: `Get-OutboundConnector` / `Get-InboundConnector -Identity <guid>`; done when
//! `Enabled` is false.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::{InboundConnector, OutboundConnector};
use crate::snapshot::source::ResourceKind;

pub struct DisableConnector;

/// The precondition of an outbound connector: where it sends mail.
pub fn outbound_state(c: &OutboundConnector) -> State {
    let mut hosts = c.smart_hosts.clone();
    hosts.sort();
    let mut domains = c.recipient_domains.clone();
    domains.sort();
    state([
        ("name", json!(c.name)),
        ("smart_hosts", json!(hosts)),
        ("recipient_domains", json!(domains)),
    ])
}

/// The precondition of an inbound connector: whom it trusts and how.
pub fn inbound_state(c: &InboundConnector) -> State {
    let mut ips = c.sender_ip_addresses.clone();
    ips.sort();
    state([
        ("name", json!(c.name)),
        ("sender_ip_addresses", json!(ips)),
        (
            "restrict_domains_to_certificate",
            json!(c.restrict_domains_to_certificate),
        ),
    ])
}

/// `Outbound` or `Inbound`, the noun of the cmdlets for this target.
fn noun(target: &Target) -> &'static str {
    match target.kind {
        ResourceKind::InboundConnector => "InboundConnector",
        _ => "OutboundConnector",
    }
}

fn identity(target: &Target) -> &str {
    target.exchange_identity.as_deref().unwrap_or(&target.id)
}

impl Handler for DisableConnector {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let read = match target.kind {
            ResourceKind::InboundConnector => live
                .inbound_connector(identity(target))?
                .map(|(c, raw)| (inbound_state(&c), c.enabled, raw)),
            _ => live
                .outbound_connector(identity(target))?
                .map(|(c, raw)| (outbound_state(&c), c.enabled, raw)),
        };
        Ok(read.map(|(mut s, enabled, raw)| {
            s.insert("enabled".into(), json!(enabled));
            s.insert(DEFINITION.into(), Value::Object(raw));
            s
        }))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| s.get("enabled") == Some(&Value::Bool(false)))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        live.exchange
            .invoke(
                &format!("Set-{}", noun(target)),
                json!({"Identity": identity(target), "Enabled": false, "Confirm": false}),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::DisableConnector.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "Set-{} -Identity '{}' -Enabled $false -Confirm:$false",
            noun(target),
            identity(target)
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-OutboundConnector / Get-InboundConnector: Enabled is False (the connector is kept)"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(format!(
            "Set-{} -Identity '{}' -Enabled $true",
            noun(target),
            identity(target)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cmdlet_follows_the_target_kind() {
        let h = DisableConnector;
        let out = Target::new(ResourceKind::OutboundConnector, "g1", "Partner relay");
        let inb = Target::new(ResourceKind::InboundConnector, "g2", "Legacy scanner");
        assert_eq!(
            h.describe_write(&out),
            "Set-OutboundConnector -Identity 'g1' -Enabled $false -Confirm:$false"
        );
        assert_eq!(
            h.rollback(&inb, &State::new()).as_deref(),
            Some("Set-InboundConnector -Identity 'g2' -Enabled $true")
        );
        assert!(h.is_done(&out, Some(&state([("enabled", json!(false))]))));
        assert!(!h.is_done(&out, Some(&state([("enabled", json!(null))]))));
        assert!(!h.is_done(&out, None));
    }
}
