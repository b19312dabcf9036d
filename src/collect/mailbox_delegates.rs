//! Source `mailbox_delegates`: who else may open or send as each mailbox.
//!
//! - FullAccess (and ChangePermission/ChangeOwner, which let the holder grant himself
//!   FullAccess): `Get-MailboxPermission -Identity <mailbox>`, one call per user and
//!   shared mailbox (ten to an Exchange `$batch`, [`crate::exchange::Call`]), by as many workers as the Exchange concurrency limit allows (the
//!   per-mailbox limit is kept by the client, as for inbox rules). One mailbox failing
//!   keeps the others' entries but marks the source `error`.
//!   <https://learn.microsoft.com/powershell/module/exchange/get-mailboxpermission>
//! - SendAs: `Get-RecipientPermission -AccessRights SendAs` once for the organisation
//!   (`-Identity` is optional; `SendAs` is the only valid `-AccessRights` value), paged.
//!   <https://learn.microsoft.com/powershell/module/exchange/get-recipientpermission>
//! - Send on behalf: the `GrantSendOnBehalfTo` property the `mailboxes` collector already
//!   read with Get-Mailbox (not asked again).
//!   <https://learn.microsoft.com/powershell/module/exchange/set-mailbox>
//!
//! Left out, as both cmdlet pages show them on every mailbox: the owner's own
//! `NT AUTHORITY\SELF` entry and other `NT AUTHORITY\…` system principals, inherited
//! entries (`IsInherited`, which come from the organisation's defaults), Deny entries
//! (they take rights away) and unresolved SIDs (`S-1-5-…`, a deleted principal's
//! leftover that nobody can use). Trustees are resolved to an object id, address and
//! recipient type through the collected mailboxes and recipients, else by asking
//! `Get-Recipient -Identity` once per name; one Exchange does not know (a user without
//! a mailbox, a guest) keeps only the name Exchange gave, which rules match by UPN; one
//! that matches no collected user either (a deleted or outside principal) is a finding of
//! `mailbox_delegate_unexpected` when it holds FullAccess or SendAs.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::{b, s, strings, Ctx};
use crate::exchange::{Call, ExchangeClient, MAX_BATCH_ITEMS};
use crate::graph::ApiError;
use crate::snapshot::model::{
    DelegateRight, MailRecipient, Mailbox, MailboxDelegate, SourceId, SourceState,
};

/// Mailbox kinds whose delegations are read (as for inbox rules): people's and shared
/// mailboxes. Room, equipment and system mailboxes are skipped.
const KINDS: [&str; 2] = ["UserMailbox", "SharedMailbox"];

/// Mailbox rights that give the holder the mailbox: FullAccess itself, and the two that
/// let him grant it to himself.
const MAILBOX_RIGHTS: [&str; 3] = ["FullAccess", "ChangePermission", "ChangeOwner"];

pub fn collect(ctx: &mut Ctx<'_>) {
    let mailboxes_ok = ctx
        .snapshot
        .sources
        .get(&SourceId::Mailboxes)
        .is_some_and(|st| st.status == SourceState::Ok);
    if !mailboxes_ok {
        ctx.set(
            SourceId::MailboxDelegates,
            SourceState::Error,
            "the mailbox list was not collected, so no mailbox's delegates could be read",
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
    let results = permissions_of(&ctx.exchange, &targets);
    let mut failures = Vec::new();
    let mut raw: Vec<(&Mailbox, DelegateRight, String, Vec<String>)> = Vec::new();
    for (mbx, result) in targets.iter().zip(results) {
        match result {
            Ok(entries) => raw.extend(
                entries
                    .into_iter()
                    .map(|(user, rights)| (*mbx, DelegateRight::FullAccess, user, rights)),
            ),
            Err(e) => failures.push(format!("{}: {e}", label(mbx))),
        }
    }
    let mut failure = failures.first().map(|first| {
        format!(
            "Get-MailboxPermission failed for {} of {} mailboxes; first: {first}",
            failures.len(),
            targets.len()
        )
    });

    let mut resolver = Trustees::new(
        &ctx.exchange,
        &ctx.snapshot.mailboxes,
        &ctx.snapshot.recipients,
    );
    match fetch_send_as(&ctx.exchange, None) {
        Ok(entries) => {
            for (identity, trustee) in entries {
                match resolver.mailbox(&identity, &ctx.snapshot.mailboxes) {
                    Ok(Some(mbx)) if KINDS.contains(&mbx.recipient_type_details.as_str()) => {
                        raw.push((mbx, DelegateRight::SendAs, trustee, Vec::new()))
                    }
                    // SendAs on a group or a recipient that is not a collected mailbox.
                    Ok(_) => {}
                    Err(e) => {
                        failure.get_or_insert_with(|| {
                            format!("SendAs entry on '{identity}' could not be resolved: {e}")
                        });
                    }
                }
            }
        }
        Err(e) => {
            failure = Some(format!("Get-RecipientPermission: {e}"));
        }
    }
    for mbx in &targets {
        for name in &mbx.delegation.grant_send_on_behalf_to {
            raw.push((mbx, DelegateRight::SendOnBehalf, name.clone(), Vec::new()));
        }
    }

    let mut out: BTreeMap<String, MailboxDelegate> = BTreeMap::new();
    for (mbx, right, trustee, rights) in raw {
        let found = match resolver.trustee(&trustee) {
            Ok(found) => found,
            Err(e) => {
                failure.get_or_insert_with(|| {
                    format!(
                        "trustee '{trustee}' of {} could not be resolved: {e}",
                        label(mbx)
                    )
                });
                None
            }
        };
        let d = delegate(mbx, right, &trustee, found, rights);
        // Two entries for one trustee (two ACEs): one delegation with both rights.
        match out.get_mut(&d.id) {
            Some(existing) => {
                for r in d.access_rights {
                    if !existing.access_rights.contains(&r) {
                        existing.access_rights.push(r);
                    }
                }
            }
            None => {
                out.insert(d.id.clone(), d);
            }
        }
    }
    let delegates: Vec<MailboxDelegate> = out.into_values().collect();
    let items = delegates.len() as u64;
    ctx.snapshot.mailbox_delegates = delegates;
    match failure {
        None => ctx.record(SourceId::MailboxDelegates, Ok(items)),
        // Partial data is kept, but the source must not pass as complete.
        Some(reason) => ctx.set(
            SourceId::MailboxDelegates,
            SourceState::Error,
            &reason,
            items,
        ),
    }
}

/// A resolved trustee: object id, UPN or delivery address, recipient type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trustee {
    pub id: String,
    pub address: Option<String>,
    pub kind: Option<String>,
}

fn delegate(
    mbx: &Mailbox,
    right: DelegateRight,
    trustee: &str,
    found: Option<Trustee>,
    access_rights: Vec<String>,
) -> MailboxDelegate {
    let key = trustee.trim().to_lowercase();
    let address = found
        .as_ref()
        .and_then(|t| t.address.clone())
        .or_else(|| key.contains('@').then(|| key.clone()));
    MailboxDelegate {
        id: format!("{}/{}/{key}", mbx.id, right.as_str()),
        mailbox_id: mbx.id.clone(),
        mailbox_upn: mbx.user_principal_name.clone(),
        right,
        trustee: trustee.trim().to_owned(),
        trustee_id: found.as_ref().map(|t| t.id.clone()),
        trustee_address: address,
        trustee_type: found.and_then(|t| t.kind),
        access_rights,
    }
}

fn label(m: &Mailbox) -> &str {
    if m.user_principal_name.is_empty() {
        &m.id
    } else {
        &m.user_principal_name
    }
}

/// One explicit mailbox permission: (trustee, rights).
type Permission = (String, Vec<String>);

/// Every target's explicit mailbox permissions, in order: mailboxes in chunks of one
/// Exchange `$batch` ([`ExchangeClient::invoke_many`]), by up to the Exchange concurrency
/// limit of workers.
fn permissions_of(
    exo: &ExchangeClient<'_>,
    targets: &[&Mailbox],
) -> Vec<Result<Vec<Permission>, String>> {
    super::pool::map_chunks(
        exo.limits().concurrency(),
        MAX_BATCH_ITEMS,
        targets,
        |chunk| {
            let calls: Vec<Call> = chunk.iter().map(|m| permission_call(label(m))).collect();
            exo.invoke_many(&calls)
                .into_iter()
                .map(|r| match r {
                    Ok(rows) => Ok(rows.iter().filter_map(mailbox_permission).collect()),
                    Err(e) => Err(e.to_string()),
                })
                .collect()
        },
        |_| Err("internal error: worker thread failed".into()),
    )
}

fn permission_call(mailbox: &str) -> Call {
    Call::on_mailbox(
        "Get-MailboxPermission",
        json!({"Identity": mailbox, "ResultSize": "Unlimited"}),
        mailbox,
    )
}

/// The explicit FullAccess/ChangePermission/ChangeOwner entries of one mailbox, as
/// (trustee, rights). Fix mode reads a mailbox again with it before removing one.
pub(crate) fn fetch_mailbox_permissions(
    exo: &ExchangeClient<'_>,
    mailbox: &str,
) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let call = permission_call(mailbox);
    let rows = exo.invoke_anchored(&call.cmdlet, call.parameters, &call.anchor)?;
    Ok(rows.iter().filter_map(mailbox_permission).collect())
}

fn mailbox_permission(r: &Map<String, Value>) -> Option<(String, Vec<String>)> {
    let user = s(r, "User")?;
    if is_system(&user) || flag(r, "IsInherited") || flag(r, "Deny") {
        return None;
    }
    let rights: Vec<String> = access_rights(r)
        .into_iter()
        .filter(|a| MAILBOX_RIGHTS.iter().any(|m| m.eq_ignore_ascii_case(a)))
        .collect();
    (!rights.is_empty()).then_some((user, rights))
}

/// The explicit SendAs entries, as (recipient identity, trustee): of the organisation, or
/// of one recipient (`identity`, fix mode's read).
pub(crate) fn fetch_send_as(
    exo: &ExchangeClient<'_>,
    identity: Option<&str>,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = json!({"AccessRights": ["SendAs"], "ResultSize": "Unlimited"});
    if let (Some(id), Some(obj)) = (identity, params.as_object_mut()) {
        obj.insert("Identity".into(), json!(id));
    }
    let rows = exo.invoke("Get-RecipientPermission", params)?;
    Ok(rows.iter().filter_map(send_as).collect())
}

fn send_as(r: &Map<String, Value>) -> Option<(String, String)> {
    let trustee = s(r, "Trustee")?;
    let identity = s(r, "Identity")?;
    let deny = s(r, "AccessControlType").is_some_and(|t| t.eq_ignore_ascii_case("Deny"));
    let is_send_as = access_rights(r)
        .iter()
        .any(|a| a.eq_ignore_ascii_case("SendAs"));
    (is_send_as && !deny && !is_system(&trustee) && !flag(r, "IsInherited"))
        .then_some((identity, trustee))
}

/// `NT AUTHORITY\SELF` and the other built-in principals, and unresolved SIDs.
fn is_system(principal: &str) -> bool {
    let p = principal.trim().to_ascii_uppercase();
    p.starts_with("NT AUTHORITY\\") || p.starts_with("S-1-5-")
}

/// A boolean property that may arrive as `true` or `"True"`.
fn flag(r: &Map<String, Value>, key: &str) -> bool {
    b(r, key).unwrap_or_else(|| s(r, key).is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

/// `AccessRights` as a list, or as one comma-separated string.
fn access_rights(r: &Map<String, Value>) -> Vec<String> {
    match r.get("AccessRights") {
        Some(Value::String(text)) => text
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        other => strings(other),
    }
}

/// Resolves trustee names to objects through what was collected, asking
/// `Get-Recipient -Identity` once for a name it does not know.
pub(crate) struct Trustees<'c, 'a> {
    exo: &'c ExchangeClient<'a>,
    known: HashMap<String, Trustee>,
    asked: HashMap<String, Option<Trustee>>,
}

impl<'c, 'a> Trustees<'c, 'a> {
    pub fn new(
        exo: &'c ExchangeClient<'a>,
        mailboxes: &[Mailbox],
        recipients: &[MailRecipient],
    ) -> Self {
        let mut known = HashMap::new();
        for r in recipients {
            let t = Trustee {
                id: r.id.clone(),
                address: r.delivers_to().map(str::to_lowercase),
                kind: Some(r.recipient_type_details.clone()),
            };
            for key in [
                Some(&r.name),
                r.display_name.as_ref(),
                r.alias.as_ref(),
                r.primary_smtp_address.as_ref(),
                Some(&r.id),
            ]
            .into_iter()
            .flatten()
            {
                known.insert(key.trim().to_lowercase(), t.clone());
            }
        }
        // Mailboxes win over other recipients of the same name.
        for m in mailboxes {
            let address = Some(m.user_principal_name.to_lowercase())
                .filter(|u| !u.is_empty())
                .or_else(|| m.primary_smtp_address.as_ref().map(|a| a.to_lowercase()));
            let t = Trustee {
                id: m.id.clone(),
                address,
                kind: Some(m.recipient_type_details.clone()),
            };
            let keys = [
                Some(&m.id),
                Some(&m.user_principal_name),
                m.primary_smtp_address.as_ref(),
            ];
            for key in keys
                .into_iter()
                .flatten()
                .chain(&m.delegation.names)
                .filter(|k| !k.is_empty())
            {
                known.insert(key.trim().to_lowercase(), t.clone());
            }
        }
        Trustees {
            exo,
            known,
            asked: HashMap::new(),
        }
    }

    /// The object a trustee name stands for; `Ok(None)` when Exchange knows no recipient
    /// by that name (a user without a mailbox, a guest without a mail user).
    pub fn trustee(&mut self, name: &str) -> Result<Option<Trustee>, ApiError> {
        let key = name.trim().to_lowercase();
        if let Some(t) = self.known.get(&key) {
            return Ok(Some(t.clone()));
        }
        if let Some(answer) = self.asked.get(&key) {
            return Ok(answer.clone());
        }
        let answer = match self
            .exo
            .invoke("Get-Recipient", json!({"Identity": name.trim()}))
        {
            Ok(rows) => match rows.as_slice() {
                [one] => super::recipients::map(one).map(|r| Trustee {
                    address: s(one, "UserPrincipalName")
                        .or_else(|| r.delivers_to().map(str::to_owned))
                        .map(|a| a.to_lowercase()),
                    kind: Some(r.recipient_type_details),
                    id: r.id,
                }),
                _ => None,
            },
            Err(e) if crate::fix::actions::is_not_found(&e) => None,
            Err(e) => return Err(e),
        };
        self.asked.insert(key, answer.clone());
        Ok(answer)
    }

    /// The collected mailbox a recipient identity names, if any.
    fn mailbox<'m>(
        &mut self,
        identity: &str,
        mailboxes: &'m [Mailbox],
    ) -> Result<Option<&'m Mailbox>, ApiError> {
        Ok(self
            .trustee(identity)?
            .and_then(|t| mailboxes.iter().find(|m| m.id == t.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn self_inherited_deny_and_sid_entries_are_left_out() {
        let keep = obj(json!({
            "User": "lena.fischer@contoso.com", "AccessRights": ["FullAccess", "ReadPermission"],
            "IsInherited": false, "Deny": false
        }));
        assert_eq!(
            mailbox_permission(&keep),
            Some((
                "lena.fischer@contoso.com".to_owned(),
                vec!["FullAccess".to_owned()]
            ))
        );
        for skip in [
            json!({"User": "NT AUTHORITY\\SELF", "AccessRights": ["FullAccess"], "IsInherited": false, "Deny": false}),
            json!({"User": "a@contoso.com", "AccessRights": ["FullAccess"], "IsInherited": true, "Deny": false}),
            json!({"User": "a@contoso.com", "AccessRights": ["FullAccess"], "IsInherited": false, "Deny": "True"}),
            json!({"User": "S-1-5-21-1-2-3-1001", "AccessRights": ["FullAccess"], "IsInherited": false}),
            json!({"User": "a@contoso.com", "AccessRights": ["ReadPermission"], "IsInherited": false}),
        ] {
            assert_eq!(mailbox_permission(&obj(skip.clone())), None, "{skip}");
        }
        // A comma-separated string, and ChangePermission alone (it can grant FullAccess).
        let text = obj(
            json!({"User": "b@contoso.com", "AccessRights": "ChangePermission, ReadPermission"}),
        );
        assert_eq!(
            mailbox_permission(&text).map(|(_, r)| r),
            Some(vec!["ChangePermission".to_owned()])
        );
    }

    #[test]
    fn send_as_keeps_explicit_allow_entries_only() {
        let row = |trustee: &str, kind: &str, inherited: bool| {
            obj(json!({
                "Identity": "dana.whitfield", "Trustee": trustee, "AccessControlType": kind,
                "AccessRights": ["SendAs"], "IsInherited": inherited
            }))
        };
        assert_eq!(
            send_as(&row("lena.fischer@contoso.com", "Allow", false)),
            Some((
                "dana.whitfield".to_owned(),
                "lena.fischer@contoso.com".to_owned()
            ))
        );
        assert_eq!(send_as(&row("NT AUTHORITY\\SELF", "Allow", false)), None);
        assert_eq!(send_as(&row("x@contoso.com", "Deny", false)), None);
        assert_eq!(send_as(&row("x@contoso.com", "Allow", true)), None);
    }

    #[test]
    fn an_unresolved_trustee_keeps_its_address_and_ids_are_lower_case() {
        let mbx = Mailbox {
            id: "m1".into(),
            user_principal_name: "dana@contoso.com".into(),
            primary_smtp_address: None,
            recipient_type_details: "UserMailbox".into(),
            forwarding_smtp_address: None,
            forwarding_address: None,
            forwarding_address_smtp: None,
            deliver_to_mailbox_and_forward: false,
            legacy_exchange_dn: None,
            delegation: Default::default(),
        };
        let d = delegate(
            &mbx,
            DelegateRight::SendAs,
            " Guest_X#EXT#@contoso.onmicrosoft.com ",
            None,
            vec![],
        );
        assert_eq!(d.id, "m1/send_as/guest_x#ext#@contoso.onmicrosoft.com");
        assert_eq!(d.trustee, "Guest_X#EXT#@contoso.onmicrosoft.com");
        assert_eq!(
            d.trustee_address.as_deref(),
            Some("guest_x#ext#@contoso.onmicrosoft.com")
        );
        assert_eq!(d.trustee_id, None);
        let named = delegate(
            &mbx,
            DelegateRight::SendOnBehalf,
            "Tom Becker",
            None,
            vec![],
        );
        assert_eq!(named.trustee_address, None);
    }
}
