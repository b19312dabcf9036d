//! Source `recipients`: `Get-Recipient` for the mail-enabled objects that are not mailboxes
//! (mail contacts, mail users, guest mail users, groups), and the resolution of forwarding
//! targets through them.
//!
//! Mailbox `ForwardingAddress` and inbox-rule `ForwardTo`/`RedirectTo`/
//! `ForwardAsAttachmentTo` can name a recipient object instead of an SMTP address; mail
//! sent to a mail contact or mail user goes to its `ExternalEmailAddress`, which may be
//! outside the tenant (create a contact, forward to it: the classic BEC move). The
//! mailbox and inbox-rule collectors resolve such targets with [`Resolver`]; a target they
//! cannot resolve makes their source incomplete, never a silently dropped forward.
//!
//! Cmdlet: <https://learn.microsoft.com/powershell/module/exchange/get-recipient>
//! (`-RecipientTypeDetails` takes a list; "this cmdlet returns all mail-enabled objects";
//! Microsoft 365 Groups only when `GroupMailbox` is asked for). Filterable properties
//! (`LegacyExchangeDN`, for `EX:` references):
//! <https://learn.microsoft.com/powershell/exchange/filter-properties>.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{s, Ctx};
use crate::exchange::ExchangeClient;
use crate::graph::ApiError;
use crate::snapshot::model::{MailRecipient, Mailbox, SourceId};

/// The recipient kinds listed: every mail-enabled object that is not a mailbox.
/// (`GuestMailUser`: a guest's external address; `GroupMailbox`: Microsoft 365 Groups.)
pub const KINDS: [&str; 8] = [
    "MailContact",
    "MailUser",
    "GuestMailUser",
    "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup",
    "DynamicDistributionGroup",
    "GroupMailbox",
    "RoomList",
];

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke(
            "Get-Recipient",
            json!({"RecipientTypeDetails": KINDS, "ResultSize": "Unlimited"}),
        )
        .map(|items| {
            ctx.snapshot.recipients = items.iter().filter_map(map).collect();
            ctx.snapshot.recipients.len() as u64
        });
    ctx.record(SourceId::Recipients, outcome);
}

/// `smtp:x@y` / `SMTP:x@y` → `x@y`.
pub fn strip_smtp(addr: &str) -> String {
    let a = addr.trim();
    match a.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("smtp:") => a[5..].to_owned(),
        _ => a.to_owned(),
    }
}

pub(crate) fn map(r: &Map<String, Value>) -> Option<MailRecipient> {
    let id = s(r, "ExternalDirectoryObjectId")
        .or_else(|| s(r, "Guid"))
        .or_else(|| s(r, "ExchangeObjectId"))?;
    let smtp = |key: &str| {
        s(r, key)
            .map(|a| strip_smtp(&a).to_lowercase())
            .filter(|a| a.contains('@'))
    };
    Some(MailRecipient {
        id,
        name: s(r, "Name").or_else(|| s(r, "Identity"))?,
        display_name: s(r, "DisplayName"),
        alias: s(r, "Alias"),
        recipient_type_details: s(r, "RecipientTypeDetails").unwrap_or_default(),
        primary_smtp_address: smtp("PrimarySmtpAddress"),
        external_email_address: smtp("ExternalEmailAddress"),
        legacy_exchange_dn: s(r, "LegacyExchangeDN").map(|d| d.to_lowercase()),
    })
}

/// Resolves forwarding targets named by recipient identity or `EX:` legacy DN to the SMTP
/// address mail actually goes to. Built from what was collected; what it does not know it
/// asks Exchange once (`Get-Recipient`), remembering the answer.
pub(crate) struct Resolver<'c, 'a> {
    exo: &'c ExchangeClient<'a>,
    /// Lower-case name/alias/display name/address/id → delivery address.
    names: HashMap<String, String>,
    /// Lower-case legacy DN (without `ex:`) → delivery address.
    dns: HashMap<String, String>,
    /// Answers from Exchange (`None`: not found), by lower-case question.
    asked: HashMap<String, Option<String>>,
}

impl<'c, 'a> Resolver<'c, 'a> {
    pub fn new(
        exo: &'c ExchangeClient<'a>,
        mailboxes: &[Mailbox],
        recipients: &[MailRecipient],
    ) -> Self {
        let mut r = Resolver {
            exo,
            names: HashMap::new(),
            dns: HashMap::new(),
            asked: HashMap::new(),
        };
        for m in mailboxes {
            let Some(to) = m
                .primary_smtp_address
                .clone()
                .or_else(|| Some(m.user_principal_name.clone()).filter(|u| !u.is_empty()))
            else {
                continue;
            };
            let to = to.to_lowercase();
            if let Some(dn) = &m.legacy_exchange_dn {
                r.dns.insert(dn.to_lowercase(), to.clone());
            }
        }
        for rec in recipients {
            let Some(to) = rec.delivers_to().map(str::to_lowercase) else {
                continue;
            };
            for key in [
                Some(&rec.name),
                rec.display_name.as_ref(),
                rec.alias.as_ref(),
                rec.primary_smtp_address.as_ref(),
                Some(&rec.id),
            ]
            .into_iter()
            .flatten()
            {
                r.names.entry(key.to_lowercase()).or_insert(to.clone());
            }
            if let Some(dn) = &rec.legacy_exchange_dn {
                r.dns.insert(dn.to_lowercase(), to.clone());
            }
        }
        r
    }

    /// Add a name a mailbox is known by (mailboxes win over other recipients).
    pub fn add_name(&mut self, name: &str, delivers_to: &str) {
        self.names
            .insert(name.to_lowercase(), delivers_to.to_lowercase());
    }

    /// A `ForwardingAddress` value (a recipient's name or other identity) → delivery
    /// address. `Ok(None)`: Exchange knows no such recipient.
    pub fn identity(&mut self, identity: &str) -> Result<Option<String>, ApiError> {
        let key = identity.trim().to_lowercase();
        if let Some(to) = self.names.get(&key) {
            return Ok(Some(to.clone()));
        }
        self.ask(key, json!({"Identity": identity.trim()}))
    }

    /// An `ex:/o=…` inbox-rule recipient (lower-case, as the rule mapper keeps it) →
    /// delivery address.
    pub fn legacy_dn(&mut self, reference: &str) -> Result<Option<String>, ApiError> {
        let dn = dn_of(reference);
        if let Some(to) = self.dns.get(&dn) {
            return Ok(Some(to.clone()));
        }
        self.ask(format!("ex:{dn}"), legacy_dn_query(&dn))
    }

    /// Ask Exchange, with the client's concurrency, about every `ex:` reference in `refs`
    /// that the collected data does not resolve, so [`Self::legacy_dn`] then answers from
    /// memory. Asked one at a time these lookups dominated collection: about 1,800
    /// sequential `Get-Recipient` calls for a 10k-user tenant (≈ 95 s at 50 ms each,
    /// `cargo bench --bench collect`). Errors are not remembered: `legacy_dn` asks again
    /// and reports the error where the reference is resolved.
    pub fn prefetch_legacy_dns(&mut self, refs: &[String]) {
        let mut todo: Vec<String> = refs
            .iter()
            .map(|r| dn_of(r))
            .filter(|dn| {
                !self.dns.contains_key(dn) && !self.asked.contains_key(&format!("ex:{dn}"))
            })
            .collect();
        todo.sort_unstable();
        todo.dedup();
        if todo.is_empty() {
            return;
        }
        let exo = self.exo;
        // A question a panicking worker left unanswered is asked again by `legacy_dn`.
        let answers = super::pool::map_concurrent(
            exo.limits().concurrency(),
            &todo,
            |dn| Some(ask_exchange(exo, legacy_dn_query(dn))),
            |_| None,
        );
        let answers = todo
            .iter()
            .zip(answers)
            .filter_map(|(dn, a)| Some((dn, a?)));
        for (dn, answer) in answers {
            if let Ok(answer) = answer {
                self.asked.insert(format!("ex:{dn}"), answer);
            }
        }
    }

    fn ask(&mut self, key: String, params: Value) -> Result<Option<String>, ApiError> {
        if let Some(answer) = self.asked.get(&key) {
            return Ok(answer.clone());
        }
        let answer = ask_exchange(self.exo, params)?;
        self.asked.insert(key, answer.clone());
        Ok(answer)
    }
}

/// The lower-case legacy DN of an `ex:` reference.
fn dn_of(reference: &str) -> String {
    reference.trim().trim_start_matches("ex:").to_lowercase()
}

/// `Get-Recipient -Filter "LegacyExchangeDN -eq '…'"` (OPATH string values are quoted with
/// ' and a ' inside is doubled).
fn legacy_dn_query(dn: &str) -> Value {
    json!({"Filter": format!("LegacyExchangeDN -eq '{}'", dn.replace('\'', "''"))})
}

/// One `Get-Recipient` question → the delivery address; `Ok(None)`: no such recipient, or
/// the name is ambiguous (more than one object) and so not resolvable.
fn ask_exchange(exo: &ExchangeClient<'_>, params: Value) -> Result<Option<String>, ApiError> {
    match exo.invoke("Get-Recipient", params) {
        Ok(items) => Ok(match items.as_slice() {
            [one] => delivery_address(one),
            _ => None,
        }),
        Err(e) if crate::fix::actions::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where Exchange delivers mail for a `Get-Recipient`/`Get-Mailbox` object.
fn delivery_address(r: &Map<String, Value>) -> Option<String> {
    ["ExternalEmailAddress", "PrimarySmtpAddress"]
        .iter()
        .filter_map(|k| s(r, k))
        .map(|a| strip_smtp(&a).to_lowercase())
        .find(|a| a.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn a_mail_contact_delivers_to_its_external_address() {
        let c = map(&obj(json!({
            "Name": "AP Archive", "DisplayName": "AP Archive", "Alias": "aparchive",
            "RecipientTypeDetails": "MailContact",
            "PrimarySmtpAddress": "AP.Archive@Securemail-Box.example",
            "ExternalEmailAddress": "SMTP:AP.Archive@Securemail-Box.example",
            "LegacyExchangeDN": "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=1f2e-aparchive",
            "Guid": "1f2e3d4c-0000-4000-8000-000000000001"
        })))
        .unwrap();
        assert_eq!(c.id, "1f2e3d4c-0000-4000-8000-000000000001");
        assert_eq!(
            c.external_email_address.as_deref(),
            Some("ap.archive@securemail-box.example")
        );
        assert_eq!(c.delivers_to(), Some("ap.archive@securemail-box.example"));
        assert!(c
            .legacy_exchange_dn
            .unwrap()
            .starts_with("/o=exchangelabs/"));
    }

    #[test]
    fn a_group_delivers_to_its_own_address_and_a_non_smtp_external_address_is_dropped() {
        let g = map(&obj(json!({
            "Name": "All Staff", "RecipientTypeDetails": "MailUniversalDistributionGroup",
            "PrimarySmtpAddress": "allstaff@contoso.com", "ExternalEmailAddress": "X500:/o=x",
            "ExternalDirectoryObjectId": "g1"
        })))
        .unwrap();
        assert_eq!(g.external_email_address, None);
        assert_eq!(g.delivers_to(), Some("allstaff@contoso.com"));
        assert!(map(&obj(json!({"Name": "no id"}))).is_none());
    }

    #[test]
    fn delivery_address_prefers_the_external_address() {
        let m = obj(
            json!({"PrimarySmtpAddress": "u@contoso.com", "ExternalEmailAddress": "smtp:U@Home.example"}),
        );
        assert_eq!(delivery_address(&m).as_deref(), Some("u@home.example"));
        let m = obj(json!({"PrimarySmtpAddress": "u@contoso.com", "ExternalEmailAddress": null}));
        assert_eq!(delivery_address(&m).as_deref(), Some("u@contoso.com"));
    }
}
