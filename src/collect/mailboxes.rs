//! Source `mailboxes`: `Get-Mailbox` forwarding properties. `ForwardingSmtpAddress`
//! loses its `smtp:` prefix; `ForwardingAddress` (a recipient's name, not an address) is
//! resolved to where the mail goes: another mailbox's primary SMTP address, or a mail
//! contact's / mail user's external address through the `recipients` source (asking
//! `Get-Recipient -Identity` for a name neither knows). A `ForwardingAddress` that cannot
//! be resolved leaves the source `error`: the forward is never silently dropped.
//!
//! `ForwardingAddress` accepts any internal recipient, mail contacts and mail users too:
//! <https://learn.microsoft.com/powershell/module/exchange/set-mailbox>.

use serde_json::{json, Map, Value};

// `strip_smtp` lives with the recipient resolution (which mailboxes use, not the reverse).
pub use super::recipients::strip_smtp;
use super::recipients::Resolver;
use super::{b, s, Ctx};
use crate::snapshot::model::{Mailbox, SourceId, SourceState};

pub fn collect(ctx: &mut Ctx<'_>) {
    let items = match ctx
        .exchange
        .invoke("Get-Mailbox", json!({"ResultSize": "Unlimited"}))
    {
        Ok(items) => items,
        Err(e) => return ctx.record(SourceId::Mailboxes, Err(e)),
    };
    // The discovery mailbox (one per organisation, eDiscovery's own) receives no
    // mail and has no user: nothing to check, only noise in every snapshot.
    let mut mailboxes: Vec<Mailbox> = items
        .iter()
        .filter_map(map)
        .filter(|m| m.recipient_type_details != "DiscoveryMailbox")
        .collect();
    let (failures, resolved) = {
        let mut resolver = Resolver::new(&ctx.exchange, &[], &ctx.snapshot.recipients);
        for m in &items {
            if let Some(smtp) = s(m, "PrimarySmtpAddress") {
                for key in [
                    "Name",
                    "Alias",
                    "DisplayName",
                    "Identity",
                    "PrimarySmtpAddress",
                ] {
                    if let Some(n) = s(m, key) {
                        resolver.add_name(&n, &smtp);
                    }
                }
            }
        }
        let mut failures = Vec::new();
        let mut resolved = Vec::with_capacity(mailboxes.len());
        for m in &mailboxes {
            let Some(target) = m.forwarding_address.as_deref() else {
                resolved.push(None);
                continue;
            };
            match resolver.identity(target) {
                Ok(Some(to)) => resolved.push(Some(to)),
                Ok(None) => {
                    failures.push(format!("{} → '{target}': no such recipient", label(m)));
                    resolved.push(None);
                }
                Err(e) => {
                    failures.push(format!("{} → '{target}': {e}", label(m)));
                    resolved.push(None);
                }
            }
        }
        (failures, resolved)
    };
    for (m, to) in mailboxes.iter_mut().zip(resolved) {
        m.forwarding_address_smtp = to;
    }
    let items = mailboxes.len() as u64;
    ctx.snapshot.mailboxes = mailboxes;
    match failures.first() {
        None => ctx.record(SourceId::Mailboxes, Ok(items)),
        // The mailboxes are kept, but the source must not pass as complete: the forward
        // that could not be followed may well leave the tenant.
        Some(first) => {
            let reason = format!(
                "ForwardingAddress of {} mailbox(es) could not be resolved to an address (first: {first}): incomplete",
                failures.len()
            );
            ctx.set(SourceId::Mailboxes, SourceState::Error, &reason, items)
        }
    }
}

fn label(m: &Mailbox) -> &str {
    if m.user_principal_name.is_empty() {
        &m.id
    } else {
        &m.user_principal_name
    }
}

pub(crate) fn map(m: &Map<String, Value>) -> Option<Mailbox> {
    let id = s(m, "ExternalDirectoryObjectId")
        .or_else(|| s(m, "ExchangeObjectId"))
        .or_else(|| s(m, "Guid"))?;
    Some(Mailbox {
        id,
        user_principal_name: s(m, "UserPrincipalName").unwrap_or_default(),
        primary_smtp_address: s(m, "PrimarySmtpAddress"),
        recipient_type_details: s(m, "RecipientTypeDetails").unwrap_or_default(),
        forwarding_smtp_address: s(m, "ForwardingSmtpAddress").map(|a| strip_smtp(&a)),
        forwarding_address: s(m, "ForwardingAddress"),
        forwarding_address_smtp: None,
        deliver_to_mailbox_and_forward: b(m, "DeliverToMailboxAndForward").unwrap_or(false),
        legacy_exchange_dn: s(m, "LegacyExchangeDN"),
        delegation: crate::snapshot::model::MailboxDelegation {
            names: ["Name", "Alias", "DisplayName", "Identity"]
                .iter()
                .filter_map(|k| s(m, k))
                .collect(),
            grant_send_on_behalf_to: super::strings(m.get("GrantSendOnBehalfTo")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::strip_smtp;

    #[test]
    fn smtp_prefix_any_case() {
        assert_eq!(strip_smtp("smtp:a@b.com"), "a@b.com");
        assert_eq!(strip_smtp("SMTP:a@b.com"), "a@b.com");
        assert_eq!(strip_smtp("Smtp:a@b.com"), "a@b.com");
        assert_eq!(strip_smtp("a@b.com"), "a@b.com");
    }
}
