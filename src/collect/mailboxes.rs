//! Source `mailboxes`: `Get-Mailbox` forwarding properties. `ForwardingSmtpAddress`
//! loses its `smtp:` prefix; `ForwardingAddress` (a recipient name) is resolved to an
//! SMTP address when it names another collected mailbox.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{b, s, Ctx};
use crate::snapshot::model::{Mailbox, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-Mailbox", json!({"ResultSize": "Unlimited"}))
        .map(|items| {
            let mut names: HashMap<String, String> = HashMap::new();
            for m in &items {
                if let Some(smtp) = s(m, "PrimarySmtpAddress") {
                    for key in ["Name", "Alias", "DisplayName", "Identity"] {
                        if let Some(n) = s(m, key) {
                            names.insert(n.to_lowercase(), smtp.to_lowercase());
                        }
                    }
                }
            }
            // The discovery mailbox (one per organisation, eDiscovery's own) receives no
            // mail and has no user: nothing to check, only noise in every snapshot.
            let mut mailboxes: Vec<Mailbox> = items
                .iter()
                .filter_map(map)
                .filter(|m| m.recipient_type_details != "DiscoveryMailbox")
                .collect();
            for m in &mut mailboxes {
                m.forwarding_address_smtp = m
                    .forwarding_address
                    .as_ref()
                    .and_then(|f| names.get(&f.to_lowercase()).cloned());
            }
            ctx.snapshot.mailboxes = mailboxes;
            ctx.snapshot.mailboxes.len() as u64
        });
    ctx.record(SourceId::Mailboxes, outcome);
}

/// `smtp:x@y` / `SMTP:x@y` → `x@y`.
pub fn strip_smtp(addr: &str) -> String {
    let a = addr.trim();
    match a.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("smtp:") => a[5..].to_owned(),
        _ => a.to_owned(),
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
