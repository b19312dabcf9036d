//! `clear_mailbox_forwarding`: Set-Mailbox with ForwardingSmtpAddress and ForwardingAddress
//! cleared and DeliverToMailboxAndForward false (CONTRACT §11 W6).

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::Mailbox;

pub struct ClearMailboxForwarding;

/// The precondition vocabulary; the snapshot and the live read both go through it.
pub fn mailbox_state(m: &Mailbox) -> State {
    let lower = |v: &Option<String>| {
        v.as_deref()
            .map_or(Value::Null, |a| Value::String(a.to_lowercase()))
    };
    state([
        ("forwarding_smtp_address", lower(&m.forwarding_smtp_address)),
        ("forwarding_address", lower(&m.forwarding_address)),
        (
            "deliver_to_mailbox_and_forward",
            Value::Bool(m.deliver_to_mailbox_and_forward),
        ),
    ])
}

fn identity(target: &Target) -> &str {
    target.user_principal_name.as_deref().unwrap_or(&target.id)
}

impl Handler for ClearMailboxForwarding {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.mailbox(identity(target))?.as_ref().map(mailbox_state))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| {
            let null = |key: &str| s.get(key).is_none_or(Value::is_null);
            null("forwarding_smtp_address")
                && null("forwarding_address")
                && s.get("deliver_to_mailbox_and_forward") == Some(&Value::Bool(false))
        })
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        // A mailbox cmdlet is anchored on its mailbox (CONTRACT §6.2; CIPP's New-ExoRequest
        // anchors on `Identity`), so it is routed to that mailbox's server.
        let id = identity(target);
        let params = json!({
            "Identity": id,
            "ForwardingSmtpAddress": null,
            "ForwardingAddress": null,
            "DeliverToMailboxAndForward": false,
        });
        match id.contains('@') {
            true => live
                .exchange
                .invoke_anchored("Set-Mailbox", params, &format!("UPN:{id}")),
            false => live.exchange.invoke("Set-Mailbox", params),
        }
        .map_err(|e| {
            exchange_write_error(e, &ActionKind::ClearMailboxForwarding.needs().summary())
        })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "Set-Mailbox -Identity {} -ForwardingSmtpAddress $null -ForwardingAddress $null -DeliverToMailboxAndForward $false",
            identity(target)
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-Mailbox: no ForwardingSmtpAddress, no ForwardingAddress, DeliverToMailboxAndForward false"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let value = |key: &str| match precondition.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => format!("${b}"),
            _ => "$null".to_owned(),
        };
        Some(format!(
            "Set-Mailbox -Identity {} -ForwardingSmtpAddress {} -ForwardingAddress {} -DeliverToMailboxAndForward {}",
            identity(target),
            value("forwarding_smtp_address"),
            value("forwarding_address"),
            value("deliver_to_mailbox_and_forward"),
        ))
    }
}
