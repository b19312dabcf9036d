//! `disable_transport_rule`: Exchange `Disable-TransportRule`
//! (<https://learn.microsoft.com/powershell/module/exchange/disable-transportrule>) for a
//! transport rule that copies mail outside the organisation, bypasses spam filtering or
//! deletes mail. Disable, never delete: the rule stays for the investigation, its full
//! definition (every condition and action Exchange returns) is saved as evidence first,
//! and `Enable-TransportRule` undoes it.
//!
//! Target: the rule's `Guid` (`Identity` accepts GUID or name; the GUID survives a rename).
//! Read: `Get-TransportRule -Identity <guid>`
//! (<https://learn.microsoft.com/powershell/module/exchange/get-transportrule>); done when
//! `State` is `Disabled`.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::TransportRule;

pub struct DisableTransportRule;

/// The precondition vocabulary: the rule's name and what it does to mail. Conditions are
/// evidence, not precondition (a reworded subject filter does not make a Bcc safe).
pub fn rule_state(r: &TransportRule) -> State {
    let list = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|a| a.to_lowercase()).collect();
        v.sort();
        json!(v)
    };
    state([
        ("name", json!(r.name)),
        ("blind_copy_to", list(&r.blind_copy_to)),
        ("redirect_message_to", list(&r.redirect_message_to)),
        ("add_to_recipients", list(&r.add_to_recipients)),
        ("copy_to", list(&r.copy_to)),
        ("set_scl", json!(r.set_scl)),
        ("delete_message", json!(r.delete_message)),
    ])
}

fn identity(target: &Target) -> &str {
    target.exchange_identity.as_deref().unwrap_or(&target.id)
}

impl Handler for DisableTransportRule {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.transport_rule(identity(target))?.map(|(rule, raw)| {
            let mut s = rule_state(&rule);
            // `state` is what the action changes: part of the read, not of the precondition.
            s.insert("state".into(), json!(rule.state));
            s.insert(DEFINITION.into(), Value::Object(raw));
            s
        }))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| {
            s.get("state")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("Disabled"))
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
                "Disable-TransportRule",
                json!({"Identity": identity(target), "Confirm": false}),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::DisableTransportRule.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "Disable-TransportRule -Identity '{}' -Confirm:$false",
            identity(target)
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-TransportRule: State is Disabled (the rule is kept, not deleted)"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(format!(
            "Enable-TransportRule -Identity '{}'",
            identity(target)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::source::ResourceKind;

    #[test]
    fn done_only_when_disabled_and_the_state_is_the_actions() {
        let rule = TransportRule {
            id: "g1".into(),
            name: "Invoice archive".into(),
            state: Some("Enabled".into()),
            blind_copy_to: vec!["B@x.example".into(), "a@x.example".into()],
            ..TransportRule::default()
        };
        let s = rule_state(&rule);
        assert_eq!(s["blind_copy_to"], json!(["a@x.example", "b@x.example"]));
        assert!(!s.contains_key("state"), "state is not a precondition");
        let target = Target::new(ResourceKind::TransportRule, "g1", "Invoice archive");
        let h = DisableTransportRule;
        assert!(!h.is_done(&target, None));
        assert!(!h.is_done(&target, Some(&state([("state", json!("Enabled"))]))));
        assert!(h.is_done(&target, Some(&state([("state", json!("disabled"))]))));
        assert_eq!(
            h.describe_write(&target),
            "Disable-TransportRule -Identity 'g1' -Confirm:$false"
        );
        assert_eq!(
            h.rollback(&target, &s).as_deref(),
            Some("Enable-TransportRule -Identity 'g1'")
        );
    }
}
