//! Mailbox delegation cmdlets of the Exchange admin API: `Get-MailboxPermission`,
//! `Get-RecipientPermission`, `Remove-MailboxPermission`, `Remove-RecipientPermission`,
//! and the `GrantSendOnBehalfTo` property of `Get-Mailbox`/`Set-Mailbox`. `exchange.rs`
//! dispatches here; the state is [`TenantState::delegations`].
//!
//! As the reference pages describe them (parameter sets enforced, mandatory parameters
//! refused when missing, enumerations checked):
//! - <https://learn.microsoft.com/powershell/module/exchange/get-mailboxpermission>:
//!   `-Identity` is mandatory; `-User` and `-Owner` are in different parameter sets. Every
//!   mailbox lists its owner's `NT AUTHORITY\SELF` entry and inherited system entries
//!   (some of them Deny) besides what was granted.
//! - <https://learn.microsoft.com/powershell/module/exchange/get-recipientpermission>:
//!   `-Identity` optional (the whole organisation), `-AccessRights` accepts only `SendAs`,
//!   `-Trustee` filters; every mailbox lists `NT AUTHORITY\SELF` with SendAs.
//! - <https://learn.microsoft.com/powershell/module/exchange/remove-mailboxpermission>:
//!   `-Identity`, `-User` and `-AccessRights` are mandatory (AccessRights parameter set).
//! - <https://learn.microsoft.com/powershell/module/exchange/remove-recipientpermission>:
//!   `-Identity`, `-AccessRights SendAs` and `-Trustee` are mandatory.
//! - <https://learn.microsoft.com/powershell/module/exchange/set-mailbox>:
//!   `-GrantSendOnBehalfTo` replaces the list, or with `@{Add=…; Remove=…}` (a JSON object
//!   over this API) changes it without touching other entries; values must be recipients.

use serde_json::{json, Map, Value};

use crate::exchange::Obj;
use crate::http::Response;
use crate::respond::{exo_error, Ctx};
use crate::server::{lock, Shared};
use crate::state::{Delegation, Mailbox, TenantState};

/// Valid `-AccessRights` of the mailbox permission cmdlets.
const MAILBOX_RIGHTS: [&str; 6] = [
    "ChangeOwner",
    "ChangePermission",
    "DeleteItem",
    "ExternalAccount",
    "FullAccess",
    "ReadPermission",
];

/// One cmdlet call, as `exchange.rs` hands it over.
pub struct Req<'a> {
    pub shared: &'a Shared,
    pub ctx: &'a Ctx,
    pub cmdlet: &'a str,
    pub params: &'a Map<String, Value>,
}

impl Req<'_> {
    fn param(&self, name: &str) -> Option<&Value> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    fn text(&self, name: &str) -> Option<String> {
        match self.param(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    }

    /// A string or a list of strings.
    fn list(&self, name: &str) -> Vec<String> {
        match self.param(name) {
            Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_owned()).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn error(&self, status: u16, exception: &str, message: &str) -> Response {
        exo_error(
            status,
            "BadRequest",
            "Invalid Operation",
            exception,
            message,
            None,
            true,
            self.ctx,
        )
    }

    fn missing(&self, names: &[&str]) -> Result<(), Response> {
        let absent: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| self.param(n).is_none_or(Value::is_null))
            .collect();
        if absent.is_empty() {
            return Ok(());
        }
        Err(self.error(
            400,
            "System.Management.Automation.ParameterBindingException",
            &format!(
                "Cannot process command because of one or more missing mandatory parameters: {}.",
                absent.join(" ")
            ),
        ))
    }

    fn not_found(&self, identity: &str) -> Response {
        exo_error(
            self.shared.settings().options.exo_not_found_status,
            "NotFound",
            "Error executing cmdlet",
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            &format!("The operation couldn't be performed because object '{identity}' couldn't be found on 'EURPR00A001DC001.EURPR00A001.PROD.OUTLOOK.COM'."),
            Some("Ex6F9304"),
            false,
            self.ctx,
        )
    }

    /// `-AccessRights` values, each one of `valid` (case-insensitive), canonical case.
    fn rights(&self, valid: &[&'static str]) -> Result<Vec<&'static str>, Response> {
        let mut out = Vec::new();
        for v in self.list("AccessRights") {
            match valid.iter().find(|x| x.eq_ignore_ascii_case(&v)) {
                Some(x) => out.push(*x),
                None => return Err(self.error(
                    400,
                    "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException",
                    &format!("Cannot process argument transformation on parameter 'AccessRights'. Cannot convert value \"{v}\". Specify one of the following enumerator names and try again: {}", valid.join(", ")),
                )),
            }
        }
        Ok(out)
    }
}

fn row(pairs: Vec<(&str, Value)>) -> Obj {
    Obj(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The snapshot's `mailbox_delegates` as emulator state (mailboxes by their Entra id).
pub fn from_snapshot(snap: &Value, mailboxes: &[Mailbox]) -> Vec<Delegation> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    snap.get("mailbox_delegates")
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|d| {
            let mailbox_id = text(d, "mailbox_id")?;
            let mbx = mailboxes.iter().find(|m| {
                m.external_directory_object_id
                    .eq_ignore_ascii_case(&mailbox_id)
            })?;
            let right = text(d, "right")?;
            let mut access_rights: Vec<String> = d
                .get("access_rights")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if right == "full_access" && access_rights.is_empty() {
                access_rights.push("FullAccess".into());
            }
            Some(Delegation {
                mailbox_guid: mbx.guid.clone(),
                right,
                trustee: text(d, "trustee")?,
                access_rights,
            })
        })
        .collect()
}

/// A principal named two ways (UPN, alias, address, name) is the same one.
fn same_principal(st: &TenantState, a: &str, b: &str) -> bool {
    let key = |x: &str| {
        if let Some(m) = st.find_mailbox(x) {
            return format!("mailbox:{}", m.guid);
        }
        if let Some(u) = st.user(x) {
            return format!("user:{}", u.id);
        }
        if let Some(r) = st.recipients.iter().find(|r| r.matches_identity(x)) {
            return format!("recipient:{}", r.guid);
        }
        x.trim().to_lowercase()
    };
    a.trim().eq_ignore_ascii_case(b.trim()) || key(a) == key(b)
}

/// Is the name a principal Exchange knows (a mailbox, a directory user, a recipient)?
fn known_principal(st: &TenantState, name: &str) -> bool {
    st.find_mailbox(name).is_some()
        || st.user(name).is_some()
        || st.recipients.iter().any(|r| r.matches_identity(name))
}

/// `GrantSendOnBehalfTo` of a mailbox as Get-Mailbox shows it (recipient names).
pub fn send_on_behalf_of(st: &TenantState, m: &Mailbox) -> Option<Vec<String>> {
    let names: Vec<String> = st
        .delegations
        .iter()
        .filter(|d| d.mailbox_guid == m.guid && d.right == "send_on_behalf")
        .map(|d| d.trustee.clone())
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Faults for these cmdlets: a mailbox whose permissions cannot be read (500), and
/// cmdlets outside the app's role (403 with the NUL-byte body).
pub fn fault(req: &Req<'_>) -> Option<Response> {
    let faults = req.shared.settings().faults;
    if faults
        .forbid_cmdlets
        .iter()
        .any(|c| c.eq_ignore_ascii_case(req.cmdlet))
    {
        let mut r = Response::new(403).header("request-id", &req.ctx.request_id);
        r.body = vec![0u8; 16];
        return Some(r);
    }
    let fail = faults.fail_permissions_mailbox?;
    if req.cmdlet != "Get-MailboxPermission" {
        return None;
    }
    let asked = req.text("Identity")?;
    let same = {
        let st = lock(&req.shared.state);
        match (st.find_mailbox(&fail), st.find_mailbox(&asked)) {
            (Some(a), Some(b)) => a.guid == b.guid,
            _ => fail.eq_ignore_ascii_case(&asked),
        }
    };
    same.then(|| {
        exo_error(
            500,
            "InternalServerError",
            "Error executing cmdlet",
            "Microsoft.Exchange.Data.Storage.MailboxUnavailableException",
            &format!(
                "Cannot open mailbox '{asked}'. The mailbox database is temporarily unavailable."
            ),
            Some("Ex4D2A91"),
            true,
            req.ctx,
        )
    })
}

/// `Get-MailboxPermission` / `Get-RecipientPermission`.
pub fn read(req: &Req<'_>) -> Result<Vec<Obj>, Response> {
    match req.cmdlet {
        "Get-MailboxPermission" => get_mailbox_permission(req),
        _ => get_recipient_permission(req),
    }
}

fn get_mailbox_permission(req: &Req<'_>) -> Result<Vec<Obj>, Response> {
    req.missing(&["Identity"])?;
    if req.param("User").is_some() && req.param("Owner").is_some() {
        return Err(req.error(
            400,
            "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
            "Parameter set cannot be resolved using the specified named parameters. User, Owner",
        ));
    }
    let identity = req.text("Identity").unwrap_or_default();
    let st = lock(&req.shared.state);
    let m = st
        .find_mailbox(&identity)
        .ok_or_else(|| req.not_found(&identity))?;
    let entry = |user: &str, rights: Vec<String>, deny: bool, inherited: bool| {
        row(vec![
            ("AccessRights@odata.type", json!("#Collection(String)")),
            ("AccessRights", json!(rights)),
            ("Deny", json!(deny)),
            ("InheritanceType", json!("All")),
            ("User", json!(user)),
            ("Identity", json!(m.alias)),
            ("IsInherited", json!(inherited)),
            ("IsValid", json!(true)),
            ("ObjectState", json!("Unchanged")),
        ])
    };
    let full = || vec!["FullAccess".to_owned(), "ReadPermission".to_owned()];
    let mut out = vec![
        (
            "NT AUTHORITY\\SELF".to_owned(),
            entry("NT AUTHORITY\\SELF", full(), false, false),
        ),
        (
            "EURPR00A001\\Administrator".to_owned(),
            entry("EURPR00A001\\Administrator", full(), true, true),
        ),
        (
            "EURPR00A001\\Domain Admins".to_owned(),
            entry("EURPR00A001\\Domain Admins", full(), true, true),
        ),
        (
            "NT AUTHORITY\\SYSTEM".to_owned(),
            entry(
                "NT AUTHORITY\\SYSTEM",
                vec!["FullAccess".into()],
                false,
                true,
            ),
        ),
    ];
    for d in st
        .delegations
        .iter()
        .filter(|d| d.mailbox_guid == m.guid && d.right == "full_access")
    {
        out.push((
            d.trustee.clone(),
            entry(&d.trustee, d.access_rights.clone(), false, false),
        ));
    }
    if req.param("Owner").is_some() {
        return Ok(vec![row(vec![
            ("Owner", json!("EURPR00A001\\Administrator")),
            ("Identity", json!(m.alias)),
        ])]);
    }
    let user = req.text("User");
    Ok(out
        .into_iter()
        .filter(|(u, _)| user.as_deref().is_none_or(|x| same_principal(&st, u, x)))
        .map(|(_, o)| o)
        .collect())
}

fn get_recipient_permission(req: &Req<'_>) -> Result<Vec<Obj>, Response> {
    req.rights(&["SendAs"])?;
    let st = lock(&req.shared.state);
    let only: Option<&Mailbox> = match req.text("Identity") {
        Some(id) => Some(st.find_mailbox(&id).ok_or_else(|| req.not_found(&id))?),
        None => None,
    };
    let trustee = req.text("Trustee");
    let entry = |m: &Mailbox, trustee: &str| {
        row(vec![
            ("Identity", json!(m.alias)),
            ("Trustee", json!(trustee)),
            ("AccessControlType", json!("Allow")),
            ("AccessRights@odata.type", json!("#Collection(String)")),
            ("AccessRights", json!(["SendAs"])),
            ("IsInherited", json!(false)),
            ("InheritanceType", json!("None")),
            ("IsValid", json!(true)),
        ])
    };
    let mut out = Vec::new();
    for m in st
        .mailboxes
        .iter()
        .filter(|m| only.is_none_or(|o| o.guid == m.guid))
    {
        let mut trustees = vec!["NT AUTHORITY\\SELF".to_owned()];
        trustees.extend(
            st.delegations
                .iter()
                .filter(|d| d.mailbox_guid == m.guid && d.right == "send_as")
                .map(|d| d.trustee.clone()),
        );
        for t in trustees {
            if trustee
                .as_deref()
                .is_none_or(|x| same_principal(&st, &t, x))
            {
                out.push(entry(m, &t));
            }
        }
    }
    Ok(out)
}

/// `Remove-MailboxPermission` / `Remove-RecipientPermission`. Removing an entry that is
/// not there changes nothing (Exchange only warns).
pub fn write(req: &Req<'_>) -> Result<(), Response> {
    let (right, trustee_param, valid): (&str, &str, &[&'static str]) = match req.cmdlet {
        "Remove-MailboxPermission" => ("full_access", "User", &MAILBOX_RIGHTS),
        _ => ("send_as", "Trustee", &["SendAs"]),
    };
    req.missing(&["Identity", trustee_param, "AccessRights"])?;
    let rights = req.rights(valid)?;
    let identity = req.text("Identity").unwrap_or_default();
    let trustee = req.text(trustee_param).unwrap_or_default();
    let mut st = lock(&req.shared.state);
    let guid = st
        .find_mailbox(&identity)
        .map(|m| m.guid.clone())
        .ok_or_else(|| req.not_found(&identity))?;
    if !known_principal(&st, &trustee) && !trustee.contains('@') {
        return Err(req.not_found(&trustee));
    }
    let matches: Vec<usize> = st
        .delegations
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.mailbox_guid == guid && d.right == right && same_principal(&st, &d.trustee, &trustee)
        })
        .map(|(i, _)| i)
        .collect();
    for i in matches.into_iter().rev() {
        let d = &mut st.delegations[i];
        d.access_rights
            .retain(|a| !rights.iter().any(|r| r.eq_ignore_ascii_case(a)));
        if right == "send_as" || d.access_rights.is_empty() {
            st.delegations.remove(i);
        }
    }
    Ok(())
}

/// `Set-Mailbox -GrantSendOnBehalfTo`: a list replaces the entries, `{Add, Remove}`
/// changes them. Absent: nothing to do here.
pub fn set_send_on_behalf(req: &Req<'_>) -> Result<(), Response> {
    let Some(value) = req.param("GrantSendOnBehalfTo").cloned() else {
        return Ok(());
    };
    let names = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    let (replace, add, remove) = match &value {
        Value::Object(o) => {
            let get = |k: &str| {
                o.iter()
                    .find(|(x, _)| x.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            };
            if o.keys()
                .any(|k| !["add", "remove"].contains(&k.to_ascii_lowercase().as_str()))
            {
                return Err(req.error(400, "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", "Cannot process argument transformation on parameter 'GrantSendOnBehalfTo'. The hashtable may only contain the keys Add and Remove."));
            }
            (None, names(get("Add")), names(get("Remove")))
        }
        Value::Null => (Some(Vec::new()), Vec::new(), Vec::new()),
        other => (Some(names(Some(other))), Vec::new(), Vec::new()),
    };
    let identity = req.text("Identity").unwrap_or_default();
    let mut st = lock(&req.shared.state);
    let guid = st
        .find_mailbox(&identity)
        .map(|m| m.guid.clone())
        .ok_or_else(|| req.not_found(&identity))?;
    for n in replace.iter().flatten().chain(&add) {
        if !known_principal(&st, n) {
            return Err(req.not_found(n));
        }
    }
    let ours = |d: &Delegation| d.mailbox_guid == guid && d.right == "send_on_behalf";
    if let Some(list) = replace {
        st.delegations.retain(|d| !ours(d));
        add_names(&mut st, &guid, &list);
    }
    let keep: Vec<bool> = st
        .delegations
        .iter()
        .map(|d| !(ours(d) && remove.iter().any(|r| same_principal(&st, &d.trustee, r))))
        .collect();
    let mut flags = keep.into_iter();
    st.delegations.retain(|_| flags.next().unwrap_or(true));
    add_names(&mut st, &guid, &add);
    Ok(())
}

fn add_names(st: &mut TenantState, guid: &str, names: &[String]) {
    for n in names {
        let name = st.recipient_name(n).unwrap_or_else(|| n.clone());
        let present = st.delegations.iter().any(|d| {
            d.mailbox_guid == guid
                && d.right == "send_on_behalf"
                && same_principal(st, &d.trustee, &name)
        });
        if !present {
            st.delegations.push(Delegation {
                mailbox_guid: guid.to_owned(),
                right: "send_on_behalf".into(),
                trustee: name,
                access_rights: Vec::new(),
            });
        }
    }
}
