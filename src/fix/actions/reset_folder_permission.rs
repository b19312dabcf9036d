//! `reset_folder_permission`: `Set-MailboxFolderPermission -Identity <mailbox>:\<folder>
//! -User Default|Anonymous -AccessRights <the folder's normal right>` — `None` on the top
//! of information store and the Inbox, `AvailabilityOnly` for `Default` on the Calendar
//! (`None` for `Anonymous`). `Default` and `Anonymous` cannot be removed, only set.
//! <https://learn.microsoft.com/powershell/module/exchange/set-mailboxfolderpermission>
//! (`Identity`, `User` and `AccessRights` are mandatory).
//!
//! The target is a `mailbox_folder_permission`; its id is `<mailbox id>/<folder>/<user>`.
//! Folder names are localised, so the live read and the write find the folder again by
//! type (`Get-MailboxFolderStatistics`, as the collector does) instead of trusting the
//! planned path; then `Get-MailboxFolderPermission -User` reads the one entry.
//! <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::collect::mailbox_folder_permissions::folder_path;
use crate::collect::s;
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::{FolderPrincipal, MailFolderKind};

pub struct ResetFolderPermission;

/// The mailbox (its UPN, else its id), the folder and the user of a target.
pub(super) fn parts(target: &Target) -> (String, Option<MailFolderKind>, String) {
    let mut it = target.id.splitn(3, '/');
    let mailbox_id = it.next().unwrap_or_default();
    let folder = it.next().and_then(MailFolderKind::parse);
    let user = it.next().unwrap_or_default().to_owned();
    let mailbox = target
        .user_principal_name
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| mailbox_id.to_owned());
    (mailbox, folder, user)
}

/// The right the entry is set back to.
pub fn normal_right(folder: MailFolderKind, who: FolderPrincipal) -> &'static str {
    match who {
        FolderPrincipal::Default => folder.default_right(),
        _ => "None",
    }
}

/// The precondition vocabulary: the entry's rights, sorted.
pub fn entry_state(access_rights: &[String]) -> State {
    let mut rights: Vec<String> = access_rights.to_vec();
    rights.sort();
    state([("access_rights", json!(rights))])
}

fn invalid_target(target: &Target) -> ApiError {
    ApiError::BadResponse {
        endpoint: "reset_folder_permission".into(),
        message: format!(
            "'{}' is not a folder permission this action resets (Default or Anonymous on the top of information store, Inbox or Calendar)",
            target.id
        ),
    }
}

/// Default or Anonymous, as Exchange spells them.
fn user_param(user: &str) -> Option<&'static str> {
    match crate::collect::mailbox_folder_permissions::principal(user) {
        FolderPrincipal::Default => Some("Default"),
        FolderPrincipal::Anonymous => Some("Anonymous"),
        FolderPrincipal::User => None,
    }
}

impl Handler for ResetFolderPermission {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (mailbox, folder, user) = parts(target);
        let (Some(folder), Some(user)) = (folder, user_param(&user)) else {
            return Err(invalid_target(target));
        };
        let path = match folder_path(&live.exchange, &mailbox, folder) {
            Ok(p) => p,
            Err(e) if super::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let identity = format!("{mailbox}:{path}");
        let rows = match live.exchange.invoke_anchored(
            "Get-MailboxFolderPermission",
            json!({"Identity": identity, "User": user}),
            &format!("UPN:{mailbox}"),
        ) {
            Ok(rows) => rows,
            Err(e) if super::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(rows.first().map(|r| {
            let rights = crate::collect::strings(r.get("AccessRights"));
            let mut st = entry_state(&rights);
            st.insert(
                DEFINITION.to_owned(),
                json!({
                    "mailbox": mailbox, "folder": folder.as_str(), "identity": identity,
                    "user": user, "access_rights": rights,
                    "sharing_permission_flags": s(r, "SharingPermissionFlags"),
                }),
            );
            st
        }))
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        let (_, folder, user) = parts(target);
        let Some(state) = state else { return true };
        let Some(folder) = folder else { return false };
        let normal = normal_right(
            folder,
            crate::collect::mailbox_folder_permissions::principal(&user),
        );
        let rights: Vec<&str> = state
            .get("access_rights")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        rights.iter().all(|r| r.eq_ignore_ascii_case(normal))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let (mailbox, folder, user) = parts(target);
        let (Some(folder), Some(user)) = (folder, user_param(&user)) else {
            return Err(invalid_target(target));
        };
        let path = folder_path(&live.exchange, &mailbox, folder)?;
        live.exchange
            .invoke(
                "Set-MailboxFolderPermission",
                json!({
                    "Identity": format!("{mailbox}:{path}"),
                    "User": user,
                    "AccessRights": [normal_right(folder, crate::collect::mailbox_folder_permissions::principal(user))],
                    "Confirm": false,
                }),
            )
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::ResetFolderPermission.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        let (mailbox, folder, user) = parts(target);
        let identity = target
            .exchange_identity
            .clone()
            .unwrap_or_else(|| format!("{mailbox}:\\<folder>"));
        let right = folder
            .map(|f| {
                normal_right(
                    f,
                    crate::collect::mailbox_folder_permissions::principal(&user),
                )
            })
            .unwrap_or("None");
        format!(
            "Set-MailboxFolderPermission -Identity \"{identity}\" -User {} -AccessRights {right} -Confirm:$false",
            user_param(&user).unwrap_or("Default")
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-MailboxFolderPermission -User: the entry holds only the folder's normal right"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let (mailbox, _, user) = parts(target);
        let identity = target
            .exchange_identity
            .clone()
            .unwrap_or_else(|| format!("{mailbox}:\\<folder>"));
        let rights: Vec<&str> = precondition
            .get("access_rights")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        (!rights.is_empty()).then(|| {
            format!(
                "Set-MailboxFolderPermission -Identity \"{identity}\" -User {} -AccessRights {}",
                user_param(&user).unwrap_or("Default"),
                rights.join(",")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::ResourceKind;

    fn target(id: &str) -> Target {
        let mut t = Target::new(ResourceKind::MailboxFolderPermission, id, "x");
        t.user_principal_name = Some("hannah@contoso.com".into());
        t.exchange_identity = Some("hannah@contoso.com:\\Kalender".into());
        t
    }

    #[test]
    fn the_normal_right_depends_on_folder_and_principal() {
        let cal = target("m1/calendar/default");
        assert_eq!(
            parts(&cal),
            (
                "hannah@contoso.com".to_owned(),
                Some(MailFolderKind::Calendar),
                "default".to_owned()
            )
        );
        let st = |r: &[&str]| entry_state(&r.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert!(ResetFolderPermission.is_done(&cal, Some(&st(&["AvailabilityOnly"]))));
        assert!(!ResetFolderPermission.is_done(&cal, Some(&st(&["Reviewer"]))));
        let anon = target("m1/calendar/anonymous");
        assert!(ResetFolderPermission.is_done(&anon, Some(&st(&["None"]))));
        assert!(!ResetFolderPermission.is_done(&anon, Some(&st(&["AvailabilityOnly"]))));
        let inbox = target("m1/inbox/default");
        assert!(!ResetFolderPermission.is_done(&inbox, Some(&st(&["AvailabilityOnly"]))));
        assert_eq!(
            ResetFolderPermission.describe_write(&cal),
            "Set-MailboxFolderPermission -Identity \"hannah@contoso.com:\\Kalender\" -User Default -AccessRights AvailabilityOnly -Confirm:$false"
        );
        assert_eq!(
            ResetFolderPermission.rollback(&cal, &st(&["Reviewer"])).unwrap(),
            "Set-MailboxFolderPermission -Identity \"hannah@contoso.com:\\Kalender\" -User Default -AccessRights Reviewer"
        );
    }
}
