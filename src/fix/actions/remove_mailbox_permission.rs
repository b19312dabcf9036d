//! `remove_mailbox_permission`: `Remove-MailboxPermission -Identity <mailbox> -User
//! <delegate> -AccessRights FullAccess,ChangePermission,ChangeOwner` — the rights that give
//! the delegate the mailbox (a ReadPermission left behind gives nothing).
//! <https://learn.microsoft.com/powershell/module/exchange/remove-mailboxpermission>
//! (AccessRights parameter set: Identity, User and AccessRights are mandatory).
//!
//! The target is a `mailbox_delegate`; its id is `<mailbox id>/<right>/<trustee>`, so the
//! trustee travels in the plan without a field of its own. The live read is the
//! collector's `Get-MailboxPermission` read of that one mailbox.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::collect::mailbox_delegates;
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

/// The rights removed (those the collector reports as `full_access`).
const RIGHTS: [&str; 3] = ["FullAccess", "ChangePermission", "ChangeOwner"];

pub struct RemoveMailboxPermission;

/// The mailbox (its UPN, else its id) and the trustee of a `mailbox_delegate` target.
pub(super) fn parts(target: &Target) -> (String, String) {
    let mut it = target.id.splitn(3, '/');
    let mailbox_id = it.next().unwrap_or_default();
    let trustee = it.nth(1).unwrap_or_default().to_owned();
    let mailbox = target
        .user_principal_name
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| mailbox_id.to_owned());
    (mailbox, trustee)
}

/// The evidence kept with a delegate's state: what was granted, to whom, on which mailbox.
pub(super) fn with_definition(mut s: State, mailbox: &str, trustee: &str, right: &str) -> State {
    s.insert(
        DEFINITION.to_owned(),
        json!({"mailbox": mailbox, "trustee": trustee, "right": right, "state": s.clone()}),
    );
    s
}

/// The precondition vocabulary for a `full_access` delegate.
pub fn full_access_state(access_rights: &[String]) -> State {
    let mut rights: Vec<String> = access_rights.to_vec();
    rights.sort();
    state([("access_rights", json!(rights))])
}

impl Handler for RemoveMailboxPermission {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (mailbox, trustee) = parts(target);
        let entries = match mailbox_delegates::fetch_mailbox_permissions(&live.exchange, &mailbox) {
            Ok(entries) => entries,
            Err(e) if super::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(entries
            .into_iter()
            .find(|(user, _)| user.trim().eq_ignore_ascii_case(&trustee))
            .map(|(user, rights)| {
                with_definition(full_access_state(&rights), &mailbox, &user, "full_access")
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
                "Remove-MailboxPermission",
                json!({
                    "Identity": mailbox,
                    "User": trustee,
                    "AccessRights": RIGHTS,
                    "InheritanceType": "All",
                    "Confirm": false,
                }),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::RemoveMailboxPermission.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        let (mailbox, trustee) = parts(target);
        format!(
            "Remove-MailboxPermission -Identity {mailbox} -User {trustee} -AccessRights {} -InheritanceType All -Confirm:$false",
            RIGHTS.join(",")
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-MailboxPermission: the delegate holds none of FullAccess, ChangePermission, ChangeOwner"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let (mailbox, trustee) = parts(target);
        let rights: Vec<&str> = precondition
            .get("access_rights")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let rights = if rights.is_empty() {
            "FullAccess".to_owned()
        } else {
            rights.join(",")
        };
        Some(format!(
            "Add-MailboxPermission -Identity {mailbox} -User {trustee} -AccessRights {rights} -InheritanceType All"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::ResourceKind;

    #[test]
    fn the_trustee_comes_from_the_id_and_may_contain_slashes() {
        let mut t = Target::new(
            ResourceKind::MailboxDelegate,
            "m1/full_access/ou=x/lena@contoso.com",
            "x",
        );
        assert_eq!(
            parts(&t),
            ("m1".to_owned(), "ou=x/lena@contoso.com".to_owned())
        );
        t.user_principal_name = Some("dana@contoso.com".into());
        assert_eq!(parts(&t).0, "dana@contoso.com");
        let pre = full_access_state(&["FullAccess".into(), "ChangeOwner".into()]);
        assert_eq!(
            RemoveMailboxPermission.rollback(&t, &pre).unwrap(),
            "Add-MailboxPermission -Identity dana@contoso.com -User ou=x/lena@contoso.com -AccessRights ChangeOwner,FullAccess -InheritanceType All"
        );
    }
}
