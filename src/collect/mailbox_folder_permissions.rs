//! Source `mailbox_folder_permissions`: who else may open each user mailbox's top of
//! information store, Inbox and Calendar.
//!
//! Folder names are localised (a German mailbox's Inbox is `Posteingang`, its Calendar
//! `Kalender`), so for each mailbox the folders are first found by type:
//! `Get-MailboxFolderStatistics -Identity <mailbox> -FolderScope Inbox` (and `Calendar`)
//! lists that folder and its subfolders, and the row whose `FolderType` is `Inbox`
//! (`Calendar`) gives its `FolderPath` (`/Posteingang`).
//! <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderstatistics>
//! (Identity parameter set; `-FolderScope` is an `ElcFolderType`). The top of information
//! store needs no look-up: it is `<mailbox>:\` in every language.
//! Then `Get-MailboxFolderPermission -Identity <mailbox>:\<folder path>` for each of the
//! three. <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>
//!
//! Five calls per mailbox, by as many workers as the Exchange concurrency limit allows
//! ([`super::pool::map_concurrent`], as for delegates). One mailbox failing keeps the
//! others' entries but marks the source `error`, never `ok` with fewer items.
//!
//! Kept: every entry above the folder's baseline — `None` (every principal on a new
//! mailbox's mail folders, `Anonymous` on its calendar) and `AvailabilityOnly` for
//! `Default` on the calendar are left out, so a tenant where nobody shared anything has
//! no entries. Named users are resolved like delegates' trustees
//! ([`super::mailbox_delegates::Trustees`]).

use serde_json::{json, Map, Value};

use super::mailbox_delegates::{Trustee, Trustees};
use super::{s, strings, Ctx};
use crate::exchange::ExchangeClient;
use crate::graph::ApiError;
use crate::snapshot::model::{
    FolderPrincipal, MailFolderKind, Mailbox, MailboxFolderPermission, SourceId, SourceState,
};

/// Mailbox kinds whose folders are read: people's mailboxes.
const KINDS: [&str; 1] = ["UserMailbox"];

/// One raw entry of one folder: (folder, folder path, user, rights, sharing flags).
pub(crate) type RawEntry = (MailFolderKind, String, String, Vec<String>, Vec<String>);

/// One kept entry of a folder: (user, rights, sharing flags).
pub(crate) type FolderEntry = (String, Vec<String>, Vec<String>);

pub fn collect(ctx: &mut Ctx<'_>) {
    let id = SourceId::MailboxFolderPermissions;
    let mailboxes_ok = ctx
        .snapshot
        .sources
        .get(&SourceId::Mailboxes)
        .is_some_and(|st| st.status == SourceState::Ok);
    if !mailboxes_ok {
        ctx.set(
            id,
            SourceState::Error,
            "the mailbox list was not collected, so no mailbox's folder permissions could be read",
            0,
        );
        return;
    }
    let targets: Vec<&Mailbox> = ctx
        .snapshot
        .mailboxes
        .iter()
        .filter(|m| KINDS.contains(&m.recipient_type_details.as_str()))
        .collect();
    let exo = &ctx.exchange;
    let results = super::pool::map_concurrent(
        exo.limits().concurrency(),
        &targets,
        |mbx| fetch_mailbox(exo, label(mbx)).map_err(|e| e.to_string()),
        |_| Err("internal error: worker thread failed".into()),
    );
    let mut failures = Vec::new();
    let mut raw: Vec<(&Mailbox, RawEntry)> = Vec::new();
    for (mbx, result) in targets.iter().zip(results) {
        match result {
            Ok(entries) => raw.extend(entries.into_iter().map(|e| (*mbx, e))),
            Err(e) => failures.push(format!("{}: {e}", label(mbx))),
        }
    }
    let mut failure = failures.first().map(|first| {
        format!(
            "folder permissions could not be read for {} of {} mailboxes; first: {first}",
            failures.len(),
            targets.len()
        )
    });
    let mut resolver = Trustees::new(
        &ctx.exchange,
        &ctx.snapshot.mailboxes,
        &ctx.snapshot.recipients,
    );
    let mut out: Vec<MailboxFolderPermission> = Vec::new();
    for (mbx, (folder, path, user, rights, flags)) in raw {
        let principal = principal(&user);
        let found = if principal == FolderPrincipal::User {
            match resolver.trustee(&user) {
                Ok(found) => found,
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        format!("user '{user}' on {} could not be resolved: {e}", label(mbx))
                    });
                    None
                }
            }
        } else {
            None
        };
        out.push(entry(
            mbx, folder, &path, principal, &user, found, rights, flags,
        ));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    let items = out.len() as u64;
    ctx.snapshot.mailbox_folder_permissions = out;
    match failure {
        None => ctx.record(id, Ok(items)),
        // Partial data is kept, but the source must not pass as complete.
        Some(reason) => ctx.set(id, SourceState::Error, &reason, items),
    }
}

fn label(m: &Mailbox) -> &str {
    if m.user_principal_name.is_empty() {
        &m.id
    } else {
        &m.user_principal_name
    }
}

/// `Default`, `Anonymous`, or a named user.
pub(crate) fn principal(user: &str) -> FolderPrincipal {
    match user.trim() {
        u if u.eq_ignore_ascii_case("Default") => FolderPrincipal::Default,
        u if u.eq_ignore_ascii_case("Anonymous") => FolderPrincipal::Anonymous,
        _ => FolderPrincipal::User,
    }
}

#[allow(clippy::too_many_arguments)]
fn entry(
    mbx: &Mailbox,
    folder: MailFolderKind,
    path: &str,
    principal: FolderPrincipal,
    user: &str,
    found: Option<Trustee>,
    access_rights: Vec<String>,
    sharing_permission_flags: Vec<String>,
) -> MailboxFolderPermission {
    let key = user.trim().to_lowercase();
    MailboxFolderPermission {
        id: format!("{}/{}/{key}", mbx.id, folder.as_str()),
        mailbox_id: mbx.id.clone(),
        mailbox_upn: mbx.user_principal_name.clone(),
        folder,
        folder_path: path.to_owned(),
        principal,
        user: user.trim().to_owned(),
        trustee_id: found.as_ref().map(|t| t.id.clone()),
        trustee_address: found.as_ref().and_then(|t| t.address.clone()),
        trustee_type: found.and_then(|t| t.kind),
        access_rights,
        sharing_permission_flags,
    }
}

/// Every kept entry of one mailbox's three folders.
pub(crate) fn fetch_mailbox(
    exo: &ExchangeClient<'_>,
    mailbox: &str,
) -> Result<Vec<RawEntry>, ApiError> {
    let mut out = Vec::new();
    for folder in MailFolderKind::ALL {
        let path = folder_path(exo, mailbox, folder)?;
        for (user, rights, flags) in fetch_folder(exo, mailbox, &path, folder)? {
            out.push((folder, path.clone(), user, rights, flags));
        }
    }
    Ok(out)
}

/// The folder's path as the mailbox names it (`\Posteingang`); `\` for the top of
/// information store. Fix mode asks again before each write (the folder may have been
/// renamed, a mailbox's language changed).
pub(crate) fn folder_path(
    exo: &ExchangeClient<'_>,
    mailbox: &str,
    folder: MailFolderKind,
) -> Result<String, ApiError> {
    let (scope, folder_type) = match folder {
        MailFolderKind::TopOfInformationStore => return Ok("\\".to_owned()),
        MailFolderKind::Inbox => ("Inbox", "Inbox"),
        MailFolderKind::Calendar => ("Calendar", "Calendar"),
    };
    let rows = exo.invoke_anchored(
        "Get-MailboxFolderStatistics",
        json!({"Identity": mailbox, "FolderScope": scope}),
        &format!("UPN:{mailbox}"),
    )?;
    rows.iter()
        .find(|r| s(r, "FolderType").is_some_and(|t| t.eq_ignore_ascii_case(folder_type)))
        .and_then(|r| s(r, "FolderPath"))
        .map(|p| identity_path(&p))
        .ok_or_else(|| ApiError::BadResponse {
            endpoint: "InvokeCommand Get-MailboxFolderStatistics".into(),
            message: format!("no folder of type {folder_type} in mailbox {mailbox}"),
        })
}

/// `FolderPath` (`/Posteingang/Sub`) as the folder part of an identity (`\Posteingang\Sub`).
/// A `/` inside a folder name is shown as U+F8FF by Exchange, so `/` only separates.
fn identity_path(folder_path: &str) -> String {
    let inner = folder_path
        .trim()
        .trim_start_matches('/')
        .replace('/', "\\");
    format!("\\{inner}")
}

/// The kept entries of one folder, as (user, rights, sharing flags).
pub(crate) fn fetch_folder(
    exo: &ExchangeClient<'_>,
    mailbox: &str,
    path: &str,
    folder: MailFolderKind,
) -> Result<Vec<FolderEntry>, ApiError> {
    let rows = exo.invoke_anchored(
        "Get-MailboxFolderPermission",
        json!({"Identity": format!("{mailbox}:{path}")}),
        &format!("UPN:{mailbox}"),
    )?;
    Ok(rows.iter().filter_map(|r| permission(r, folder)).collect())
}

/// One row, unless it is the baseline.
fn permission(r: &Map<String, Value>, folder: MailFolderKind) -> Option<FolderEntry> {
    let user = user_name(r.get("User"))?;
    let rights = list(r.get("AccessRights"));
    if is_baseline(folder, principal(&user), &rights) {
        return None;
    }
    let flags = list(r.get("SharingPermissionFlags"))
        .into_iter()
        .filter(|f| !f.eq_ignore_ascii_case("None"))
        .collect();
    Some((user, rights, flags))
}

/// No rights, or the folder's normal right for `Default`.
pub(crate) fn is_baseline(folder: MailFolderKind, who: FolderPrincipal, rights: &[String]) -> bool {
    let only = |x: &str| rights.iter().all(|r| r.eq_ignore_ascii_case(x));
    rights.is_empty()
        || only("None")
        || (who == FolderPrincipal::Default && only(folder.default_right()))
}

/// `User` as a string (`Default`, a display name), or an object with a `DisplayName`.
fn user_name(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Object(o) => s(o, "DisplayName").filter(|d| !d.trim().is_empty()),
        _ => None,
    }
}

/// A list, or one comma-separated string.
fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(text)) => text
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        other => strings(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn baseline_entries_are_left_out_and_others_kept() {
        let row = |user: &str, rights: Value| obj(json!({"User": user, "AccessRights": rights}));
        let inbox = MailFolderKind::Inbox;
        let cal = MailFolderKind::Calendar;
        assert_eq!(permission(&row("Default", json!(["None"])), inbox), None);
        assert_eq!(permission(&row("Anonymous", json!(["None"])), cal), None);
        assert_eq!(
            permission(&row("Default", json!(["AvailabilityOnly"])), cal),
            None
        );
        assert_eq!(
            permission(&row("Default", json!(["Reviewer"])), inbox),
            Some(("Default".into(), vec!["Reviewer".into()], vec![]))
        );
        // AvailabilityOnly is the calendar's baseline, not the Inbox's.
        assert!(permission(&row("Default", json!(["AvailabilityOnly"])), inbox).is_some());
        // A comma-separated string, flags without None, a User object.
        let r = obj(json!({
            "User": {"DisplayName": "Raj Patel", "UserType": "Internal"},
            "AccessRights": "Editor", "SharingPermissionFlags": "Delegate, CanViewPrivateItems"
        }));
        assert_eq!(
            permission(&r, cal),
            Some((
                "Raj Patel".into(),
                vec!["Editor".into()],
                vec!["Delegate".into(), "CanViewPrivateItems".into()]
            ))
        );
        assert_eq!(
            permission(&obj(json!({"AccessRights": ["Owner"]})), cal),
            None
        );
    }

    #[test]
    fn folder_paths_become_identity_paths() {
        assert_eq!(identity_path("/Posteingang"), "\\Posteingang");
        assert_eq!(identity_path("/Inbox/Sub"), "\\Inbox\\Sub");
        assert_eq!(principal(" default "), FolderPrincipal::Default);
        assert_eq!(principal("ANONYMOUS"), FolderPrincipal::Anonymous);
        assert_eq!(principal("Raj Patel"), FolderPrincipal::User);
    }
}
