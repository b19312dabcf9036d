//! `remove_send_on_behalf`: `Set-Mailbox -Identity <mailbox> -GrantSendOnBehalfTo
//! @{Remove="<delegate>"}` — the hashtable form removes one entry and keeps the others
//! (<https://learn.microsoft.com/powershell/module/exchange/set-mailbox>; over the admin
//! API the hashtable is a JSON object). The live read is `Get-Mailbox`'s
//! `GrantSendOnBehalfTo`.

use serde_json::json;

use super::remove_mailbox_permission::{parts, with_definition};
use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RemoveSendOnBehalf;

impl Handler for RemoveSendOnBehalf {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (mailbox, trustee) = parts(target);
        let Some(m) = live.mailbox(&mailbox)? else {
            return Ok(None);
        };
        Ok(m.delegation
            .grant_send_on_behalf_to
            .iter()
            .find(|t| t.trim().eq_ignore_ascii_case(&trustee))
            .map(|t| {
                with_definition(
                    state([("send_on_behalf", json!(true))]),
                    &mailbox,
                    t,
                    "send_on_behalf",
                )
            }))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_none()
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let (mailbox, trustee) = parts(target);
        live.exchange
            .invoke(
                "Set-Mailbox",
                json!({"Identity": mailbox, "GrantSendOnBehalfTo": {"Remove": [trustee]}}),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::RemoveSendOnBehalf.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        let (mailbox, trustee) = parts(target);
        format!("Set-Mailbox -Identity {mailbox} -GrantSendOnBehalfTo @{{Remove=\"{trustee}\"}}")
    }

    fn describe_verify(&self) -> &'static str {
        "Get-Mailbox: the delegate is no longer in GrantSendOnBehalfTo"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        let (mailbox, trustee) = parts(target);
        Some(format!(
            "Set-Mailbox -Identity {mailbox} -GrantSendOnBehalfTo @{{Add=\"{trustee}\"}}"
        ))
    }
}
