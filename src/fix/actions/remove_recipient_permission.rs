//! `remove_recipient_permission`: `Remove-RecipientPermission -Identity <mailbox> -Trustee
//! <delegate> -AccessRights SendAs` (SendAs is the only value the parameter takes).
//! <https://learn.microsoft.com/powershell/module/exchange/remove-recipientpermission>;
//! the live read is `Get-RecipientPermission -Identity <mailbox> -AccessRights SendAs`
//! (<https://learn.microsoft.com/powershell/module/exchange/get-recipientpermission>).

use serde_json::json;

use super::remove_mailbox_permission::{parts, with_definition};
use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::collect::mailbox_delegates;
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RemoveRecipientPermission;

impl Handler for RemoveRecipientPermission {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (mailbox, trustee) = parts(target);
        let entries = match mailbox_delegates::fetch_send_as(&live.exchange, Some(&mailbox)) {
            Ok(entries) => entries,
            Err(e) if super::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(entries
            .into_iter()
            .find(|(_, t)| t.trim().eq_ignore_ascii_case(&trustee))
            .map(|(_, t)| {
                with_definition(state([("send_as", json!(true))]), &mailbox, &t, "send_as")
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
                "Remove-RecipientPermission",
                json!({
                    "Identity": mailbox,
                    "Trustee": trustee,
                    "AccessRights": ["SendAs"],
                    "Confirm": false,
                }),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::RemoveRecipientPermission.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        let (mailbox, trustee) = parts(target);
        format!(
            "Remove-RecipientPermission -Identity {mailbox} -Trustee {trustee} -AccessRights SendAs -Confirm:$false"
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-RecipientPermission: the delegate no longer has SendAs on the mailbox"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        let (mailbox, trustee) = parts(target);
        Some(format!(
            "Add-RecipientPermission -Identity {mailbox} -Trustee {trustee} -AccessRights SendAs"
        ))
    }
}
