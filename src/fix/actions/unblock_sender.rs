//! `unblock_sender`: Remove-BlockedSenderAddress (CONTRACT §11 W7). Microsoft's guidance
//! orders it last: only once the account is secured. The planner therefore makes it
//! depend on `reset_password` and `revoke_sessions` for the same user, and apply runs it
//! only when both succeeded or were already done.

use serde_json::json;

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct UnblockSender;

impl Handler for UnblockSender {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live
            .blocked_sender(&[target.id.as_str()])?
            .map(|_| state([("restricted", json!(true))])))
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
        live.exchange
            .invoke(
                "Remove-BlockedSenderAddress",
                json!({
                    "SenderAddress": target.id,
                    "Reason": "m365guard: account secured (password reset, sessions revoked)",
                }),
            )
            .map_err(|e| exchange_write_error(e, &ActionKind::UnblockSender.needs().summary()))?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "Remove-BlockedSenderAddress -SenderAddress {} -Reason 'm365guard: account secured (password reset, sessions revoked)'",
            target.id
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-BlockedSenderAddress: the address is no longer restricted"
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        // There is no cmdlet to put a sender back on the list; Exchange re-adds it when
        // the outbound spam policy's limits are exceeded again.
        None
    }
}
