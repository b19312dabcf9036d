//! Source `mailbox_folder_permissions`: who else may open each user and shared mailbox's
//! top of information store, Inbox and Calendar.
//!
//! Folder names are localised (a German mailbox's Inbox is `Posteingang`, its Calendar
//! `Kalender`), so for each mailbox the folders are first found by type:
//! `Get-MailboxFolderStatistics -Identity <mailbox>` (no `-FolderScope`: every folder, in
//! one call for both) and the rows whose `FolderType` is `Inbox` and `Calendar` give their
//! `FolderPath` (`/Posteingang`); never the name, since a user may have a folder called
//! "Inbox" that is not the inbox.
//! <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderstatistics>
//! (Identity parameter set; `-FolderScope` is optional, an `ElcFolderType`; `-ResultSize`
//! defaults to 1,000 rows). The top of information store needs no look-up: it is
//! `<mailbox>:\` in every language. Fix mode asks for one folder with `-FolderScope`.
//! Then `Get-MailboxFolderPermission -Identity <mailbox>:\<folder path>` for each of the
//! three. <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>
//!
//! Four calls per mailbox, sent ten to an Exchange `$batch` ([`crate::exchange::Call`]),
//! by as many workers as the Exchange concurrency limit allows
//! ([`super::pool::map_chunks`], as for delegates). One mailbox failing keeps the
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
use crate::exchange::{Call, ExchangeClient, MAX_BATCH_ITEMS};
use crate::graph::ApiError;
use crate::snapshot::model::{
    FolderPrincipal, MailFolderKind, Mailbox, MailboxFolderPermission, SourceId, SourceState,
};

/// Mailbox kinds whose folders are read: people's and shared mailboxes (a shared
/// mailbox's Inbox opened to `Default` exposes the team's mail as much as a person's).
const KINDS: [&str; 2] = ["UserMailbox", "SharedMailbox"];

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
    let results = super::pool::map_chunks(
        exo.limits().concurrency(),
        MAX_BATCH_ITEMS,
        &targets,
        |chunk| fetch_chunk(exo, chunk),
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

/// Every kept entry of each mailbox's three folders, one answer per mailbox: one
/// `Get-MailboxFolderStatistics` per mailbox (all folders, so Inbox and Calendar are found
/// by `FolderType` in one call instead of two), then the three
/// `Get-MailboxFolderPermission` calls of each — both in Exchange `$batch`es of ten
/// ([`ExchangeClient::invoke_many`]; at most three items of one mailbox per batch, under
/// its concurrency limit).
fn fetch_chunk(exo: &ExchangeClient<'_>, chunk: &[&Mailbox]) -> Vec<Result<Vec<RawEntry>, String>> {
    // Without `-FolderScope` every folder of the mailbox comes back; `ResultSize` lifts
    // the default cap of 1,000 rows (docs: Get-MailboxFolderStatistics, Identity set).
    let calls: Vec<Call> = chunk
        .iter()
        .map(|m| {
            Call::on_mailbox(
                "Get-MailboxFolderStatistics",
                json!({"Identity": label(m), "ResultSize": "Unlimited"}),
                label(m),
            )
        })
        .collect();
    let paths: Vec<Result<Vec<(MailFolderKind, String)>, String>> = chunk
        .iter()
        .zip(exo.invoke_many(&calls))
        .map(|(m, rows)| {
            let rows = rows.map_err(|e| e.to_string())?;
            MailFolderKind::ALL
                .into_iter()
                .map(|folder| Ok((folder, path_in(&rows, label(m), folder)?)))
                .collect::<Result<Vec<_>, ApiError>>()
                .map_err(|e| e.to_string())
        })
        .collect();
    let mut wanted: Vec<(usize, MailFolderKind, String)> = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        if let Ok(p) = p {
            wanted.extend(p.iter().map(|(folder, path)| (i, *folder, path.clone())));
        }
    }
    let calls: Vec<Call> = wanted
        .iter()
        .filter_map(|(i, _, path)| chunk.get(*i).map(|m| permission_call(label(m), path)))
        .collect();
    let mut out: Vec<Result<Vec<RawEntry>, String>> =
        paths.into_iter().map(|p| p.map(|_| Vec::new())).collect();
    for ((i, folder, path), rows) in wanted.into_iter().zip(exo.invoke_many(&calls)) {
        let Some(Ok(entries)) = out.get_mut(i) else {
            continue;
        };
        match rows {
            Ok(rows) => entries.extend(
                rows.iter()
                    .filter_map(|r| permission(r, folder))
                    .map(|(user, rights, flags)| (folder, path.clone(), user, rights, flags)),
            ),
            Err(e) => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Err(e.to_string());
                }
            }
        }
    }
    out
}

/// The folder's path as the mailbox names it (`\Posteingang`); `\` for the top of
/// information store. Fix mode asks again before each write (the folder may have been
/// renamed, a mailbox's language changed).
pub(crate) fn folder_path(
    exo: &ExchangeClient<'_>,
    mailbox: &str,
    folder: MailFolderKind,
) -> Result<String, ApiError> {
    let scope = match folder {
        MailFolderKind::TopOfInformationStore => return Ok("\\".to_owned()),
        MailFolderKind::Inbox => "Inbox",
        MailFolderKind::Calendar => "Calendar",
    };
    let rows = exo.invoke_anchored(
        "Get-MailboxFolderStatistics",
        json!({"Identity": mailbox, "FolderScope": scope}),
        &format!("UPN:{mailbox}"),
    )?;
    path_in(&rows, mailbox, folder)
}

/// The path of the mailbox's `folder` among its statistics rows: picked by `FolderType`,
/// never by name (a German mailbox may hold a user folder named "Inbox" next to its real
/// inbox `Posteingang`).
fn path_in(
    rows: &[Map<String, Value>],
    mailbox: &str,
    folder: MailFolderKind,
) -> Result<String, ApiError> {
    let folder_type = match folder {
        MailFolderKind::TopOfInformationStore => return Ok("\\".to_owned()),
        MailFolderKind::Inbox => "Inbox",
        MailFolderKind::Calendar => "Calendar",
    };
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

fn permission_call(mailbox: &str, path: &str) -> Call {
    Call::on_mailbox(
        "Get-MailboxFolderPermission",
        json!({"Identity": format!("{mailbox}:{path}")}),
        mailbox,
    )
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
/// Fix mode reads an entry again with the same two functions.
pub(crate) fn user_name(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Object(o) => s(o, "DisplayName").filter(|d| !d.trim().is_empty()),
        _ => None,
    }
}

/// A list, or one comma-separated string (`SharingPermissionFlags` is `"Delegate, …"`).
pub(crate) fn list(v: Option<&Value>) -> Vec<String> {
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
