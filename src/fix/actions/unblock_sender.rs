//! `unblock_sender`: Remove-BlockedSenderAddress (CONTRACT §11 W7). Microsoft's guidance
//! orders it last: only once the account is secured. The planner therefore makes it
//! depend on `reset_password` and `revoke_sessions` for the same user, and apply runs it
//! only when both succeeded or were already done.
//!
//! Remove-BlockedSenderAddress
//! (<https://learn.microsoft.com/powershell/module/exchange/remove-blockedsenderaddress>)
//! takes `-SenderAddress` and an optional `-Reason`, documented as "the reason the user was
//! blocked (the Reason property value)" — not a note from the admin — so it is not sent,
//! as in the page's example. The same page warns that the number of unblocks is limited:
//! past it "you get an error, and you need to contact Microsoft Support". That error is
//! reported as such ([`unblock_limit_error`]): never retried, never "done".

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
                json!({"SenderAddress": target.id}),
            )
            .map_err(|e| unblock_limit_error(e, &target.id))
            .map_err(|e| exchange_write_error(e, &ActionKind::UnblockSender.needs().summary()))?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        format!("Remove-BlockedSenderAddress -SenderAddress {}", target.id)
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

/// Where an admin unblocks a user by hand (and sees why the user is restricted).
const RESTRICTED_ENTITIES: &str = "https://security.microsoft.com/restrictedentities";

/// The service's "unblock limit exceeded" refusal, restated with what it means and what to
/// do. Microsoft documents the limit but neither its size nor the error text, so any
/// Remove-BlockedSenderAddress failure whose text speaks of a limit being exceeded is taken
/// for it; other errors pass through unchanged.
pub(crate) fn unblock_limit_error(err: ApiError, sender: &str) -> ApiError {
    match err {
        ApiError::Exchange {
            endpoint,
            cmdlet,
            status,
            message,
        } if is_limit_text(&message) => ApiError::Exchange {
            message: format!(
                "{sender} is still blocked: Exchange refused the unblock because the unblock limit is exceeded ({message}). \
                 Microsoft limits how many times accounts can be unblocked; m365guard does not retry. \
                 Wait for the limit to reset and unblock the user on the Restricted entities page ({RESTRICTED_ENTITIES}), \
                 or contact Microsoft Support to unblock them"
            ),
            endpoint,
            cmdlet,
            status,
        },
        other => other,
    }
}

fn is_limit_text(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("limit") && (m.contains("exceed") || m.contains("reached"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(status: u16, message: &str) -> ApiError {
        ApiError::Exchange {
            endpoint: "InvokeCommand Remove-BlockedSenderAddress".into(),
            cmdlet: "Remove-BlockedSenderAddress".into(),
            status,
            message: message.into(),
        }
    }

    #[test]
    fn the_limit_error_says_what_to_do() {
        let e = unblock_limit_error(
            exchange(
                400,
                "You have exceeded the unblock limit for your tenant (3 per day).",
            ),
            "raj@contoso.com",
        )
        .to_string();
        for needle in [
            "raj@contoso.com is still blocked",
            "unblock limit",
            "3 per day",
            "does not retry",
            RESTRICTED_ENTITIES,
            "Microsoft Support",
        ] {
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn other_errors_pass_through() {
        let e = unblock_limit_error(exchange(404, "object 'x' couldn't be found"), "x").to_string();
        assert!(!e.contains("still blocked"), "{e}");
    }
}
