//! `remove_folder_permission`: `Remove-MailboxFolderPermission -Identity
//! <mailbox>:\<folder> -User <the entry's user> -Confirm:$false` for a named user's entry
//! that `mailbox_folder_delegate_unexpected` flags (a guest, an outside address, a disabled
//! or an unresolvable user reading another user's top of information store, Inbox or
//! Calendar). <https://learn.microsoft.com/powershell/module/exchange/remove-mailboxfolderpermission>:
//! `-Identity` and `-User` are mandatory (Default parameter set; `-Force` and
//! `-SendNotificationToUser` belong to the other sets and are not needed: the cmdlet removes
//! every right the user holds on the folder, and `-Confirm:$false` answers the prompt).
//! `Default` and `Anonymous` are never removed here: `reset_folder_permission` sets them.
//!
//! The target is a `mailbox_folder_permission` (`<mailbox id>/<folder>/<user, lower-case>`).
//! As in `reset_folder_permission`, the localised folder is looked up again by type
//! (`Get-MailboxFolderStatistics`) before each read and write; the entry is found in the
//! folder's `Get-MailboxFolderPermission` listing by the name Exchange shows, and that
//! shown name is what `-User` gets. The reference page lists the identities `-User` takes
//! (name, alias, address, GUID, …) but says nothing of an entry left by a deleted account,
//! which Exchange shows as `NT:S-1-5-21-…`: the write passes the shown name first and, if
//! the service finds no such entry, the bare SID (`S-1-5-21-…`); both are tested.
//! Rollback re-adds the entry: <https://learn.microsoft.com/powershell/module/exchange/add-mailboxfolderpermission>.

use serde_json::{json, Map, Value};

use super::reset_folder_permission::parts;
use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::collect::mailbox_folder_permissions::{folder_path, list, principal, user_name};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::{FolderPrincipal, MailFolderKind};

pub struct RemoveFolderPermission;

/// The precondition vocabulary: the entry's rights and calendar sharing flags, sorted
/// (`None` is no flag).
pub fn entry_state(access_rights: &[String], sharing_permission_flags: &[String]) -> State {
    let mut rights: Vec<String> = access_rights.to_vec();
    rights.sort();
    let mut flags: Vec<String> = sharing_permission_flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("None"))
        .cloned()
        .collect();
    flags.sort();
    state([
        ("access_rights", json!(rights)),
        ("sharing_permission_flags", json!(flags)),
    ])
}

/// One entry as the folder's listing shows it now.
struct LiveEntry {
    identity: String,
    user: String,
    rights: Vec<String>,
    flags: Vec<String>,
}

fn invalid_target(target: &Target) -> ApiError {
    ApiError::BadResponse {
        endpoint: "remove_folder_permission".into(),
        message: format!(
            "'{}' is not a named user's folder permission this action removes (Default and Anonymous are reset, never removed)",
            target.id
        ),
    }
}

/// The target's folder and user, refusing Default and Anonymous.
fn checked(target: &Target) -> Result<(String, MailFolderKind, String), ApiError> {
    let (mailbox, folder, user) = parts(target);
    match (folder, principal(&user)) {
        (Some(folder), FolderPrincipal::User) if !user.is_empty() => Ok((mailbox, folder, user)),
        _ => Err(invalid_target(target)),
    }
}

/// The entry whose shown name is the target's user, found again in the folder looked up
/// again; `None` when the folder, the mailbox or the entry is gone.
fn find_entry(
    live: &Live<'_>,
    mailbox: &str,
    folder: MailFolderKind,
    key: &str,
) -> Result<Option<LiveEntry>, ApiError> {
    let path = match folder_path(&live.exchange, mailbox, folder) {
        Ok(p) => p,
        Err(e) if super::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let identity = format!("{mailbox}:{path}");
    let rows = match live.exchange.invoke_anchored(
        "Get-MailboxFolderPermission",
        json!({"Identity": identity}),
        &format!("UPN:{mailbox}"),
    ) {
        Ok(rows) => rows,
        Err(e) if super::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(rows.iter().find_map(|r: &Map<String, Value>| {
        let user = user_name(r.get("User"))?;
        (user.trim().to_lowercase() == key).then(|| LiveEntry {
            identity: identity.clone(),
            user,
            rights: crate::collect::strings(r.get("AccessRights")),
            flags: list(r.get("SharingPermissionFlags")),
        })
    }))
}

/// The `-User` values to try, in order: the shown name, then a deleted account's bare SID.
pub fn user_candidates(shown: &str) -> Vec<String> {
    let mut out = vec![shown.to_owned()];
    let bare = shown
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case("NT:"))
        .and_then(|_| shown.get(3..))
        .filter(|rest| rest.to_ascii_uppercase().starts_with("S-1-"));
    if let Some(sid) = bare {
        out.push(sid.to_owned());
    }
    out
}

/// The service found no entry for that `-User` spelling (try the next one).
fn no_such_entry(e: &ApiError) -> bool {
    super::is_not_found(e)
        || matches!(e, ApiError::Exchange { message, .. }
            if message.contains("no existing permission entry") || message.contains("UserNotFoundInPermissionEntry"))
}

impl Handler for RemoveFolderPermission {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (mailbox, folder, key) = checked(target)?;
        Ok(find_entry(live, &mailbox, folder, &key)?.map(|e| {
            let mut st = entry_state(&e.rights, &e.flags);
            st.insert(
                DEFINITION.to_owned(),
                json!({
                    "mailbox": mailbox, "folder": folder.as_str(), "identity": e.identity,
                    "user": e.user, "access_rights": e.rights,
                    "sharing_permission_flags": e.flags,
                }),
            );
            st
        }))
    }

    /// Done when the entry is gone (read-back: the listing no longer shows it).
    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_none()
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let (mailbox, folder, key) = checked(target)?;
        let Some(entry) = find_entry(live, &mailbox, folder, &key)? else {
            return Ok(WriteReceipt::default());
        };
        // The live name must still be a named user (never Default or Anonymous).
        if principal(&entry.user) != FolderPrincipal::User {
            return Err(invalid_target(target));
        }
        let needs = ActionKind::RemoveFolderPermission.needs().summary();
        let candidates = user_candidates(&entry.user);
        for (i, user) in candidates.iter().enumerate() {
            let result = live.exchange.invoke(
                "Remove-MailboxFolderPermission",
                json!({"Identity": entry.identity, "User": user, "Confirm": false}),
            );
            match result {
                Ok(_) => return Ok(WriteReceipt::default()),
                Err(e) if i + 1 < candidates.len() && no_such_entry(&e) => continue,
                Err(e) => return Err(exchange_write_error(e, &needs)),
            }
        }
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        let (mailbox, _, user) = parts(target);
        let identity = target
            .exchange_identity
            .clone()
            .unwrap_or_else(|| format!("{mailbox}:\\<folder>"));
        format!(
            "Remove-MailboxFolderPermission -Identity \"{identity}\" -User \"{user}\" -Confirm:$false"
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-MailboxFolderPermission: the folder no longer lists the user"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let (mailbox, _, user) = parts(target);
        let identity = target
            .exchange_identity
            .clone()
            .unwrap_or_else(|| format!("{mailbox}:\\<folder>"));
        let texts = |key: &str| -> Vec<&str> {
            precondition
                .get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let rights = texts("access_rights");
        let flags = texts("sharing_permission_flags");
        (!rights.is_empty()).then(|| {
            let mut text = format!(
                "Add-MailboxFolderPermission -Identity \"{identity}\" -User \"{user}\" -AccessRights {}",
                rights.join(",")
            );
            if !flags.is_empty() {
                text.push_str(&format!(" -SharingPermissionFlags {}", flags.join(",")));
            }
            text
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::ResourceKind;

    fn target(id: &str) -> Target {
        let mut t = Target::new(ResourceKind::MailboxFolderPermission, id, "x");
        t.user_principal_name = Some("dana@contoso.com".into());
        t.exchange_identity = Some("dana@contoso.com:\\Inbox".into());
        t
    }

    #[test]
    fn a_named_entry_is_removed_and_re_added_with_its_rights() {
        let t = target("m1/inbox/priya shah (adatum)");
        assert!(checked(&t).is_ok());
        assert!(RemoveFolderPermission.is_done(&t, None));
        let pre = entry_state(&["Reviewer".into()], &["None".into()]);
        assert_eq!(
            pre.get("sharing_permission_flags"),
            Some(&json!([])),
            "None is no flag"
        );
        assert!(!RemoveFolderPermission.is_done(&t, Some(&pre)));
        assert_eq!(
            RemoveFolderPermission.describe_write(&t),
            "Remove-MailboxFolderPermission -Identity \"dana@contoso.com:\\Inbox\" -User \"priya shah (adatum)\" -Confirm:$false"
        );
        assert_eq!(
            RemoveFolderPermission.rollback(&t, &pre).unwrap(),
            "Add-MailboxFolderPermission -Identity \"dana@contoso.com:\\Inbox\" -User \"priya shah (adatum)\" -AccessRights Reviewer"
        );
        let cal = entry_state(&["Editor".into()], &["Delegate".into()]);
        assert!(RemoveFolderPermission
            .rollback(&t, &cal)
            .unwrap()
            .ends_with("-AccessRights Editor -SharingPermissionFlags Delegate"));
    }

    #[test]
    fn default_and_anonymous_are_never_targets() {
        for user in ["default", "anonymous"] {
            let t = target(&format!("m1/inbox/{user}"));
            assert!(checked(&t).is_err(), "{user}");
        }
    }

    #[test]
    fn a_deleted_accounts_entry_is_tried_as_shown_then_as_its_sid() {
        assert_eq!(
            user_candidates("NT:S-1-5-21-1-2-3-7001"),
            ["NT:S-1-5-21-1-2-3-7001", "S-1-5-21-1-2-3-7001"]
        );
        assert_eq!(user_candidates("Priya Shah"), ["Priya Shah"]);
        assert_eq!(user_candidates("NT:x"), ["NT:x"]);
    }
}
