//! Mailbox folder permission cmdlets of the Exchange admin API:
//! `Get-MailboxFolderStatistics`, `Get-MailboxFolderPermission`,
//! `Set-MailboxFolderPermission`. `exchange.rs` only dispatches here; the state is
//! [`FolderState`] on the tenant.
//!
//! As the reference pages describe them (unknown parameters refused, mandatory ones
//! checked, enumerations validated):
//! - <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderstatistics>:
//!   Identity parameter set, `-Identity` mandatory; `-FolderScope` is an `ElcFolderType`
//!   and returns that folder with its subfolders. Rows carry `Name`, `FolderPath`
//!   (`/Posteingang`), `FolderType` (`Root`, `Inbox`, `Calendar`, `User Created`, …) and
//!   `Identity` (`alias\Posteingang`). Folder names are the mailbox's language.
//! - <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>:
//!   `-Identity <mailbox>:\<folder path>` mandatory (`<mailbox>:\` is the top of
//!   information store), `-User` optional. A folder that does not exist — an English name
//!   on a German mailbox — is `ManagementObjectNotFoundException`; `-User` without an
//!   entry is `UserNotFoundInPermissionEntryException`. Every folder lists `Default` and
//!   `Anonymous`.
//! - <https://learn.microsoft.com/powershell/module/exchange/set-mailboxfolderpermission>:
//!   `-Identity`, `-User`, `-AccessRights` mandatory; changes an existing entry only;
//!   `AvailabilityOnly` and `LimitedDetails` are calendar roles; `-SharingPermissionFlags`
//!   (`None`, `Delegate`, `CanViewPrivateItems`) only on a calendar with `Editor`.
//! - <https://learn.microsoft.com/powershell/module/exchange/remove-mailboxfolderpermission>:
//!   three parameter sets — Default (`-Identity -User [-DomainController]`), Identity
//!   (`-Identity -User [-Force] [-SendNotificationToUser]`) and ResetDelegateUserCollection
//!   (`-Identity -ResetDelegateUserCollection [-Force] [-SendNotificationToUser]`); mixing
//!   them is refused. Removes every right of the user on the folder; no entry for the user
//!   is `UserNotFoundInPermissionEntryException`. `Default` and `Anonymous` are refused (they
//!   are set, not removed; stricter than the page, which does not say).
//! - <https://learn.microsoft.com/powershell/module/exchange/add-mailboxfolderpermission>:
//!   `-Identity`, `-User`, `-AccessRights` mandatory; the user must resolve to a mailbox or
//!   mail recipient, and an existing entry is `UserAlreadyExistsInPermissionEntryException`.
//! - A deleted account's entry is shown as `NT:S-1-5-21-…`; the pages do not say which
//!   `-User` spelling removes it: [`SidUserForm`] chooses what the emulator accepts.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::exchange::Obj;
use crate::http::Response;
use crate::respond::{exo_application_throttled, exo_error, Ctx};
use crate::server::{lock, Shared};
use crate::state::{Mailbox, TenantState};

/// Inbox and Calendar names per mailbox language (English is the default).
const LOCALES: [(&str, &str); 3] = [
    ("Inbox", "Calendar"),
    ("Posteingang", "Kalender"),
    ("Boîte de réception", "Calendrier"),
];

/// Valid `-AccessRights` values (roles and single rights).
const RIGHTS: [&str; 21] = [
    "None",
    "CreateItems",
    "CreateSubfolders",
    "DeleteAllItems",
    "DeleteOwnedItems",
    "EditAllItems",
    "EditOwnedItems",
    "FolderContact",
    "FolderOwner",
    "FolderVisible",
    "ReadItems",
    "Author",
    "Contributor",
    "Editor",
    "NonEditingAuthor",
    "Owner",
    "PublishingAuthor",
    "PublishingEditor",
    "Reviewer",
    "AvailabilityOnly",
    "LimitedDetails",
];

/// `-FolderScope` values (`ElcFolderType`).
const SCOPES: [&str; 21] = [
    "All",
    "Archive",
    "Calendar",
    "Contacts",
    "ConversationHistory",
    "DeletedItems",
    "Drafts",
    "Inbox",
    "JunkEmail",
    "Journal",
    "LegacyArchiveJournals",
    "ManagedCustomFolder",
    "NonIpmRoot",
    "Notes",
    "Outbox",
    "Personal",
    "RecoverableItems",
    "RssSubscriptions",
    "SentItems",
    "SyncIssues",
    "Tasks",
];

/// Which of the three folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Root,
    Inbox,
    Calendar,
}

impl Folder {
    fn parse(snapshot_name: &str) -> Option<Folder> {
        match snapshot_name {
            "top_of_information_store" => Some(Folder::Root),
            "inbox" => Some(Folder::Inbox),
            "calendar" => Some(Folder::Calendar),
            _ => None,
        }
    }

    /// `Default`'s right on a new mailbox.
    fn default_right(self) -> &'static str {
        match self {
            Folder::Calendar => "AvailabilityOnly",
            _ => "None",
        }
    }
}

/// One permission entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderEntry {
    pub folder: Folder,
    /// `Default`, `Anonymous`, or a display name.
    pub user: String,
    pub access_rights: Vec<String>,
    pub sharing_permission_flags: Vec<String>,
}

/// One mailbox's folders: its language and every entry of the three folders.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxFolders {
    pub inbox: String,
    pub calendar: String,
    pub entries: Vec<FolderEntry>,
}

impl MailboxFolders {
    fn new((inbox, calendar): (&str, &str)) -> MailboxFolders {
        let mut entries = Vec::new();
        for folder in [Folder::Root, Folder::Inbox, Folder::Calendar] {
            for (user, right) in [("Default", folder.default_right()), ("Anonymous", "None")] {
                entries.push(FolderEntry {
                    folder,
                    user: user.to_owned(),
                    access_rights: vec![right.to_owned()],
                    sharing_permission_flags: Vec::new(),
                });
            }
        }
        MailboxFolders {
            inbox: inbox.to_owned(),
            calendar: calendar.to_owned(),
            entries,
        }
    }

    fn name(&self, folder: Folder) -> &str {
        match folder {
            Folder::Root => "Top of Information Store",
            Folder::Inbox => &self.inbox,
            Folder::Calendar => &self.calendar,
        }
    }
}

/// Folder permissions of the tenant, by mailbox GUID; a mailbox not here is English and
/// at the baseline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FolderState {
    pub mailboxes: BTreeMap<String, MailboxFolders>,
    /// Which `-User` spelling `Remove-MailboxFolderPermission` accepts for a deleted
    /// account's `NT:S-1-5-21-…` entry (the reference page does not say).
    pub sid_user_form: SidUserForm,
}

/// The `-User` spellings that name a deleted account's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidUserForm {
    /// `NT:S-1-5-21-…` as shown, and the bare `S-1-5-21-…`.
    #[default]
    Both,
    /// Only as shown.
    AsShown,
    /// Only the bare SID (the shown form finds no entry).
    BareSid,
}

impl FolderState {
    /// From the snapshot's `mailbox_folder_permissions`: each entry overrides the baseline
    /// of its folder, and a localised `folder_path` gives the mailbox its language.
    pub fn from_snapshot(snap: &Value, mailboxes: &[Mailbox]) -> FolderState {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let strs = |v: &Value, k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut state = FolderState::default();
        let rows = snap
            .get("mailbox_folder_permissions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for row in &rows {
            let (Some(mailbox_id), Some(folder), Some(user)) = (
                text(row, "mailbox_id"),
                text(row, "folder").as_deref().and_then(Folder::parse),
                text(row, "user"),
            ) else {
                continue;
            };
            let Some(m) = mailboxes.iter().find(|m| {
                m.external_directory_object_id
                    .eq_ignore_ascii_case(&mailbox_id)
            }) else {
                continue;
            };
            let path = text(row, "folder_path").unwrap_or_default();
            let name = path.trim_start_matches('\\');
            let locale = LOCALES
                .iter()
                .find(|(i, c)| name.eq_ignore_ascii_case(i) || name.eq_ignore_ascii_case(c))
                .copied()
                .unwrap_or(LOCALES[0]);
            let entry = state
                .mailboxes
                .entry(m.guid.clone())
                .or_insert_with(|| MailboxFolders::new(locale));
            if folder != Folder::Root && locale != LOCALES[0] {
                entry.inbox = locale.0.to_owned();
                entry.calendar = locale.1.to_owned();
            }
            entry
                .entries
                .retain(|e| !(e.folder == folder && e.user.eq_ignore_ascii_case(&user)));
            entry.entries.push(FolderEntry {
                folder,
                user,
                access_rights: strs(row, "access_rights"),
                sharing_permission_flags: strs(row, "sharing_permission_flags"),
            });
        }
        state
    }
}

const READS: [&str; 2] = ["Get-MailboxFolderStatistics", "Get-MailboxFolderPermission"];
const WRITES: [&str; 3] = [
    "Set-MailboxFolderPermission",
    "Remove-MailboxFolderPermission",
    "Add-MailboxFolderPermission",
];

/// The canonical spelling of a cmdlet this module serves.
pub fn canonical(name: &str) -> Option<&'static str> {
    READS
        .into_iter()
        .chain(WRITES)
        .find(|c| c.eq_ignore_ascii_case(name))
}

pub fn is_read(cmdlet: &str) -> bool {
    READS.contains(&cmdlet)
}

pub fn is_write(cmdlet: &str) -> bool {
    WRITES.contains(&cmdlet)
}

/// The parameters of the documented parameter sets (the Identity set of the statistics).
pub fn parameters_of(cmdlet: &str) -> Option<&'static [&'static str]> {
    Some(match cmdlet {
        "Get-MailboxFolderStatistics" => &[
            "Identity",
            "Archive",
            "DiagnosticInfo",
            "DomainController",
            "FolderScope",
            "IncludeAnalysis",
            "IncludeOldestAndNewestItems",
            "IncludeSoftDeletedRecipients",
            "ResultSize",
            "SkipCount",
            "UseCustomRouting",
        ],
        "Get-MailboxFolderPermission" => &["Identity", "DomainController", "GroupMailbox", "User"],
        "Set-MailboxFolderPermission" => &[
            "Identity",
            "AccessRights",
            "User",
            "Confirm",
            "DomainController",
            "SendNotificationToUser",
            "SharingPermissionFlags",
            "WhatIf",
        ],
        // The union of the three parameter sets; `remove` refuses a mix.
        "Remove-MailboxFolderPermission" => &[
            "Identity",
            "User",
            "Confirm",
            "DomainController",
            "Force",
            "ResetDelegateUserCollection",
            "SendNotificationToUser",
            "WhatIf",
        ],
        "Add-MailboxFolderPermission" => &[
            "Identity",
            "AccessRights",
            "User",
            "Confirm",
            "DomainController",
            "SendNotificationToUser",
            "SharingPermissionFlags",
            "WhatIf",
        ],
        _ => return None,
    })
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text(params: &Map<String, Value>, name: &str) -> Option<String> {
    match param(params, name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// A string, a comma-separated string or a list of strings.
fn list(params: &Map<String, Value>, name: &str) -> Vec<String> {
    match param(params, name) {
        Some(Value::String(s)) => s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn obj(pairs: Vec<(&str, Value)>) -> Obj {
    Obj(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn invalid(ctx: &Ctx, exception: &str, message: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Invalid Operation",
        exception,
        message,
        None,
        true,
        ctx,
    )
}

fn missing(ctx: &Ctx, params: &Map<String, Value>, names: &[&str]) -> Result<(), Response> {
    let absent: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| param(params, n).is_none_or(Value::is_null))
        .collect();
    if absent.is_empty() {
        return Ok(());
    }
    Err(invalid(
        ctx,
        "System.Management.Automation.ParameterBindingException",
        &format!(
            "Cannot process command because of one or more missing mandatory parameters: {}.",
            absent.join(" ")
        ),
    ))
}

fn not_found(shared: &Shared, ctx: &Ctx, identity: &str) -> Response {
    exo_error(
        shared.settings().options.exo_not_found_status,
        "NotFound",
        "Error executing cmdlet",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        &format!("The operation couldn't be performed because object '{identity}' couldn't be found on 'EURPR00A001DC001.EURPR00A001.PROD.OUTLOOK.COM'."),
        Some("Ex6F9304"),
        false,
        ctx,
    )
}

fn no_entry(ctx: &Ctx, user: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Error executing cmdlet",
        "Microsoft.Exchange.Management.StoreTasks.UserNotFoundInPermissionEntryException",
        &format!("There is no existing permission entry found for user: {user}."),
        Some("Ex1B3E6A"),
        false,
        ctx,
    )
}

/// Faults for these cmdlets: a mailbox whose folders fail (500) or stay throttled (429
/// with `Retry-After`, past every retry).
pub fn fault(
    shared: &Shared,
    ctx: &Ctx,
    cmdlet: &str,
    params: &Map<String, Value>,
) -> Option<Response> {
    if !is_read(cmdlet) && !is_write(cmdlet) {
        return None;
    }
    let faults = shared.settings().faults;
    let identity = text(params, "Identity")?;
    let mailbox = identity.split(":\\").next().unwrap_or(&identity).to_owned();
    let is = |which: &Option<String>| {
        let Some(which) = which else { return false };
        let st = lock(&shared.state);
        match (st.find_mailbox(which), st.find_mailbox(&mailbox)) {
            (Some(a), Some(b)) => a.guid == b.guid,
            _ => which.eq_ignore_ascii_case(&mailbox),
        }
    };
    if is(&faults.throttle_folders_mailbox) {
        return Some(exo_application_throttled(
            faults.retry_after.as_deref(),
            ctx,
        ));
    }
    is(&faults.fail_folders_mailbox).then(|| {
        exo_error(
            500,
            "InternalServerError",
            "Error executing cmdlet",
            "Microsoft.Exchange.Data.Storage.MailboxUnavailableException",
            &format!(
                "Cannot open mailbox '{mailbox}'. The mailbox database is temporarily unavailable."
            ),
            Some("Ex4D2A91"),
            true,
            ctx,
        )
    })
}

/// The mailbox and folder of a `<mailbox>:\<path>` identity (a bare mailbox is its top of
/// information store); `None` for a folder the mailbox does not have.
fn resolve(st: &TenantState, identity: &str) -> Option<(Mailbox, MailboxFolders, Folder)> {
    let (mailbox, path) = identity.split_once(":\\").unwrap_or((identity, ""));
    let m = st.find_mailbox(mailbox)?.clone();
    let folders = folders_of(st, &m);
    let path = path.trim_end_matches('\\');
    let folder = if path.is_empty() {
        Folder::Root
    } else if path.eq_ignore_ascii_case(&folders.inbox) {
        Folder::Inbox
    } else if path.eq_ignore_ascii_case(&folders.calendar) {
        Folder::Calendar
    } else {
        return None;
    };
    Some((m, folders, folder))
}

fn folders_of(st: &TenantState, m: &Mailbox) -> MailboxFolders {
    st.folders
        .mailboxes
        .get(&m.guid)
        .cloned()
        .unwrap_or_else(|| MailboxFolders::new(LOCALES[0]))
}

/// A user named two ways (display name, UPN, alias) is the same one.
fn same_user(st: &TenantState, a: &str, b: &str) -> bool {
    if a.trim().eq_ignore_ascii_case(b.trim()) {
        return true;
    }
    match (st.find_mailbox(a), st.find_mailbox(b)) {
        (Some(x), Some(y)) => x.guid == y.guid,
        // A mail user or guest named by its display name and by its address.
        _ => {
            let r = |x: &str| st.recipients.iter().position(|r| r.matches_identity(x));
            matches!((r(a), r(b)), (Some(x), Some(y)) if x == y)
        }
    }
}

/// A read this module serves.
pub fn read(
    shared: &Shared,
    ctx: &Ctx,
    cmdlet: &str,
    params: &Map<String, Value>,
) -> Result<Vec<Obj>, Response> {
    missing(ctx, params, &["Identity"])?;
    let identity = text(params, "Identity").unwrap_or_default();
    let st = lock(&shared.state);
    if cmdlet == "Get-MailboxFolderStatistics" {
        let m = st
            .find_mailbox(&identity)
            .ok_or_else(|| not_found(shared, ctx, &identity))?;
        let scope = match text(params, "FolderScope") {
            None => "All",
            Some(v) => SCOPES
                .into_iter()
                .find(|s| s.eq_ignore_ascii_case(&v))
                .ok_or_else(|| invalid(ctx, "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", &format!("Cannot process argument transformation on parameter 'FolderScope'. Cannot convert value \"{v}\" to type \"Microsoft.Exchange.Data.Directory.SystemConfiguration.ElcFolderType\". Specify one of the following enumerator names and try again: {}", SCOPES.join(", "))))?,
        };
        return Ok(statistics(m, &folders_of(&st, m), scope));
    }
    let (m, folders, folder) =
        resolve(&st, &identity).ok_or_else(|| not_found(shared, ctx, &identity))?;
    let user = text(params, "User");
    let rows: Vec<Obj> = folders
        .entries
        .iter()
        .filter(|e| e.folder == folder)
        .filter(|e| user.as_deref().is_none_or(|u| same_user(&st, &e.user, u)))
        .map(|e| {
            obj(vec![
                ("FolderName", json!(folders.name(folder))),
                ("User", json!(e.user)),
                ("AccessRights@odata.type", json!("#Collection(String)")),
                ("AccessRights", json!(e.access_rights)),
                (
                    "SharingPermissionFlags",
                    if e.sharing_permission_flags.is_empty() {
                        Value::Null
                    } else {
                        json!(e.sharing_permission_flags.join(", "))
                    },
                ),
                (
                    "Identity",
                    json!(format!(
                        "{}:\\{}\\{}",
                        m.alias,
                        path_of(&folders, folder),
                        e.user
                    )),
                ),
                ("IsValid", json!(true)),
                ("ObjectState", json!("Unchanged")),
            ])
        })
        .collect();
    if let (Some(u), true) = (&user, rows.is_empty()) {
        return Err(no_entry(ctx, u));
    }
    Ok(rows)
}

fn path_of(folders: &MailboxFolders, folder: Folder) -> &str {
    match folder {
        Folder::Root => "",
        _ => folders.name(folder),
    }
}

/// Statistics rows of a scope: the folder and a subfolder (so a reader must pick by
/// `FolderType`, not by position).
fn statistics(m: &Mailbox, folders: &MailboxFolders, scope: &str) -> Vec<Obj> {
    let row = |name: &str, path: &str, kind: &str, n: u32| {
        obj(vec![
            ("Name", json!(name)),
            ("FolderPath", json!(path)),
            ("FolderType", json!(kind)),
            (
                "FolderId",
                json!(format!("LgAAAAD{}{n:04}AQAA", m.guid.replace('-', ""))),
            ),
            (
                "Identity",
                json!(format!("{}{}", m.alias, path.replace('/', "\\"))),
            ),
            ("ItemsInFolder", json!(n * 7)),
            ("IsValid", json!(true)),
        ])
    };
    let inbox = &folders.inbox;
    let cal = &folders.calendar;
    let mut out = Vec::new();
    if scope == "All" {
        out.push(row("Top of Information Store", "/", "Root", 1));
        // A localised mailbox whose user made a folder called "Inbox" (listed before the
        // real one): only `FolderType` tells them apart.
        if inbox != "Inbox" {
            out.push(row("Inbox", "/Inbox", "User Created", 6));
        }
    }
    if matches!(scope, "All" | "Inbox") {
        out.push(row(inbox, &format!("/{inbox}"), "Inbox", 2));
        out.push(row(
            "Invoices",
            &format!("/{inbox}/Invoices"),
            "User Created",
            3,
        ));
    }
    if matches!(scope, "All" | "Calendar") {
        out.push(row(cal, &format!("/{cal}"), "Calendar", 4));
        out.push(row(
            "Holidays",
            &format!("/{cal}/Holidays"),
            "User Created",
            5,
        ));
    }
    out
}

/// `Set-MailboxFolderPermission`: changes an existing entry (`Remove-` and `Add-` are
/// [`remove`] and [`add`] below).
pub fn write(
    shared: &Shared,
    ctx: &Ctx,
    cmdlet: &str,
    params: &Map<String, Value>,
) -> Result<(), Response> {
    if cmdlet == "Remove-MailboxFolderPermission" {
        return remove(shared, ctx, params);
    }
    if cmdlet == "Add-MailboxFolderPermission" {
        return add(shared, ctx, params);
    }
    missing(ctx, params, &["Identity", "User", "AccessRights"])?;
    let identity = text(params, "Identity").unwrap_or_default();
    let user = text(params, "User").unwrap_or_default();
    let mut rights = Vec::new();
    for v in list(params, "AccessRights") {
        match RIGHTS.iter().find(|r| r.eq_ignore_ascii_case(&v)) {
            Some(r) => rights.push((*r).to_owned()),
            None => return Err(invalid(ctx, "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", &format!("Cannot process argument transformation on parameter 'AccessRights'. Cannot convert value \"{v}\" to type \"Microsoft.Exchange.Management.StoreTasks.MailboxFolderAccessRight[]\". Specify one of the following enumerator names and try again: {}", RIGHTS.join(", ")))),
        }
    }
    let flags: Vec<String> = list(params, "SharingPermissionFlags");
    for f in &flags {
        if !["None", "Delegate", "CanViewPrivateItems"]
            .iter()
            .any(|x| x.eq_ignore_ascii_case(f))
        {
            return Err(invalid(ctx, "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", &format!("Cannot process argument transformation on parameter 'SharingPermissionFlags'. Cannot convert value \"{f}\". Specify one of the following enumerator names and try again: None, Delegate, CanViewPrivateItems")));
        }
    }
    let flags: Vec<String> = flags
        .into_iter()
        .filter(|f| !f.eq_ignore_ascii_case("None"))
        .collect();
    let mut st = lock(&shared.state);
    let (m, mut folders, folder) =
        resolve(&st, &identity).ok_or_else(|| not_found(shared, ctx, &identity))?;
    check_rights_fit(ctx, folder, &rights, &flags)?;
    let i = folders
        .entries
        .iter()
        .position(|e| e.folder == folder && same_user(&st, &e.user, &user))
        .ok_or_else(|| no_entry(ctx, &user))?;
    folders.entries[i].access_rights = rights;
    folders.entries[i].sharing_permission_flags = flags;
    st.folders.mailboxes.insert(m.guid.clone(), folders);
    Ok(())
}

/// The rights and sharing flags `Set-` and `Add-MailboxFolderPermission` refuse on this
/// folder: the calendar-only rights elsewhere, and flags other than on a calendar with Editor.
fn check_rights_fit(
    ctx: &Ctx,
    folder: Folder,
    rights: &[String],
    flags: &[String],
) -> Result<(), Response> {
    let calendar_only = rights
        .iter()
        .any(|r| r == "AvailabilityOnly" || r == "LimitedDetails");
    if calendar_only && folder != Folder::Calendar {
        return Err(invalid(
            ctx,
            "Microsoft.Exchange.Management.StoreTasks.InvalidFolderPermissionException",
            "The permission AvailabilityOnly or LimitedDetails is only valid for calendar folders.",
        ));
    }
    if !flags.is_empty() && (folder != Folder::Calendar || rights != ["Editor"]) {
        return Err(invalid(ctx, "System.InvalidOperationException", "SharingPermissionFlags can only be set on a calendar folder with the Editor access right."));
    }
    Ok(())
}

fn ambiguous(ctx: &Ctx) -> Response {
    invalid(
        ctx,
        "System.Management.Automation.ParameterBindingException",
        "Parameter set cannot be resolved using the specified named parameters.",
    )
}

fn given(params: &Map<String, Value>, name: &str) -> bool {
    param(params, name).is_some_and(|v| !v.is_null())
}

/// Does `-User <user>` name this entry? A deleted account's `NT:S-1-5-21-…` entry is named
/// as [`SidUserForm`] says; any other through [`same_user`].
fn names_entry(st: &TenantState, entry_user: &str, user: &str) -> bool {
    let user = user.trim();
    let sid = entry_user
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case("NT:"))
        .and_then(|_| entry_user.get(3..))
        .filter(|rest| rest.to_ascii_uppercase().starts_with("S-1-"));
    let form = st.folders.sid_user_form;
    match sid {
        Some(sid) => {
            (form != SidUserForm::BareSid && entry_user.eq_ignore_ascii_case(user))
                || (form != SidUserForm::AsShown && sid.eq_ignore_ascii_case(user))
        }
        None => same_user(st, entry_user, user),
    }
}

fn is_default_or_anonymous(user: &str) -> bool {
    ["Default", "Anonymous"]
        .iter()
        .any(|d| d.eq_ignore_ascii_case(user.trim()))
}

/// `Remove-MailboxFolderPermission`: the user's whole entry, or (ResetDelegateUserCollection)
/// the folder's delegate flags.
pub fn remove(shared: &Shared, ctx: &Ctx, params: &Map<String, Value>) -> Result<(), Response> {
    let reset = given(params, "ResetDelegateUserCollection");
    let identity_set = given(params, "Force") || given(params, "SendNotificationToUser");
    if (reset && given(params, "User"))
        || (given(params, "DomainController") && (identity_set || reset))
    {
        return Err(ambiguous(ctx));
    }
    if reset {
        missing(ctx, params, &["Identity"])?;
    } else {
        missing(ctx, params, &["Identity", "User"])?;
    }
    let identity = text(params, "Identity").unwrap_or_default();
    let mut st = lock(&shared.state);
    let (m, mut folders, folder) =
        resolve(&st, &identity).ok_or_else(|| not_found(shared, ctx, &identity))?;
    if reset {
        for e in folders.entries.iter_mut().filter(|e| e.folder == folder) {
            e.sharing_permission_flags.clear();
        }
        st.folders.mailboxes.insert(m.guid.clone(), folders);
        return Ok(());
    }
    let user = text(params, "User").unwrap_or_default();
    if is_default_or_anonymous(&user) {
        return Err(invalid(
            ctx,
            "Microsoft.Exchange.Management.StoreTasks.InvalidInternalUserIdException",
            &format!("The permission entry for {user} can't be removed. Use Set-MailboxFolderPermission to change it."),
        ));
    }
    let i = folders
        .entries
        .iter()
        .position(|e| e.folder == folder && names_entry(&st, &e.user, &user))
        .ok_or_else(|| no_entry(ctx, &user))?;
    folders.entries.remove(i);
    st.folders.mailboxes.insert(m.guid.clone(), folders);
    Ok(())
}

/// `Add-MailboxFolderPermission`: a new entry for a mailbox or mail recipient, shown by its
/// display name.
pub fn add(shared: &Shared, ctx: &Ctx, params: &Map<String, Value>) -> Result<(), Response> {
    missing(ctx, params, &["Identity", "User", "AccessRights"])?;
    let identity = text(params, "Identity").unwrap_or_default();
    let user = text(params, "User").unwrap_or_default();
    let mut rights = Vec::new();
    for v in list(params, "AccessRights") {
        match RIGHTS.iter().find(|r| r.eq_ignore_ascii_case(&v)) {
            Some(r) => rights.push((*r).to_owned()),
            None => return Err(invalid(ctx, "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", &format!("Cannot process argument transformation on parameter 'AccessRights'. Cannot convert value \"{v}\" to type \"Microsoft.Exchange.Management.StoreTasks.MailboxFolderAccessRight[]\". Specify one of the following enumerator names and try again: {}", RIGHTS.join(", ")))),
        }
    }
    let flags: Vec<String> = list(params, "SharingPermissionFlags")
        .into_iter()
        .filter(|f| !f.eq_ignore_ascii_case("None"))
        .collect();
    let mut st = lock(&shared.state);
    let (m, mut folders, folder) =
        resolve(&st, &identity).ok_or_else(|| not_found(shared, ctx, &identity))?;
    check_rights_fit(ctx, folder, &rights, &flags)?;
    let shown = st
        .find_mailbox(&user)
        .map(|x| x.display_name.clone())
        .or_else(|| {
            st.recipients
                .iter()
                .find(|r| r.matches_identity(&user))
                .map(|r| r.display_name.clone())
        })
        .ok_or_else(|| not_found(shared, ctx, &user))?;
    if folders
        .entries
        .iter()
        .any(|e| e.folder == folder && same_user(&st, &e.user, &shown))
    {
        return Err(exo_error(
            400,
            "BadRequest",
            "Error executing cmdlet",
            "Microsoft.Exchange.Management.StoreTasks.UserAlreadyExistsInPermissionEntryException",
            &format!("An existing permission entry was found for user: {shown}."),
            Some("Ex4B7D12"),
            false,
            ctx,
        ));
    }
    folders.entries.push(FolderEntry {
        folder,
        user: shown,
        access_rights: rights,
        sharing_permission_flags: flags,
    });
    st.folders.mailboxes.insert(m.guid.clone(), folders);
    Ok(())
}
