//! `disable_outbound_auto_forwarding`: Set-HostedOutboundSpamFilterPolicy
//! AutoForwardingMode Off (CONTRACT §11 W9). `Automatic` (system-controlled) is flagged too
//! (it relies on the service default; CIS/ScubaGear-style checks want `Off`), so only an
//! explicit `Off` counts as done.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct DisableOutboundAutoForwarding;

impl Handler for DisableOutboundAutoForwarding {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live
            .outbound_policy(&target.id)?
            .map(|p| state([("auto_forwarding_mode", p["AutoForwardingMode"].clone())])))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| {
            s.get("auto_forwarding_mode")
                .and_then(Value::as_str)
                .is_some_and(|m| m.eq_ignore_ascii_case("Off"))
        })
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        live.exchange
            .invoke(
                "Set-HostedOutboundSpamFilterPolicy",
                json!({"Identity": target.id, "AutoForwardingMode": "Off"}),
            )
            .map_err(|e| {
                exchange_write_error(
                    e,
                    &ActionKind::DisableOutboundAutoForwarding.needs().summary(),
                )
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "Set-HostedOutboundSpamFilterPolicy -Identity '{}' -AutoForwardingMode Off",
            target.id
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-HostedOutboundSpamFilterPolicy: AutoForwardingMode is Off"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(format!(
            "Set-HostedOutboundSpamFilterPolicy -Identity '{}' -AutoForwardingMode On",
            target.id
        ))
    }
}
