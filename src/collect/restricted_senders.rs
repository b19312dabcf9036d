//! Source `restricted_senders`: `Get-BlockedSenderAddress` (users blocked from sending),
//! linked to their user/mailbox id by address.
//!
//! The link is derived from two other sources (`mailboxes`, else `users`). When one of them
//! failed, an address that finds no owner may simply belong to an object that was not
//! collected: the source is then `error` (incomplete), never `ok` with entries silently
//! missing their `user_id` (issue 15 item 16) — the respond and fix steps for the blocked
//! user depend on that link.

use serde_json::json;

use super::{s, time, Ctx};
use crate::snapshot::model::{RestrictedSender, Snapshot, SourceId, SourceState};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-BlockedSenderAddress", json!({}))
        .map(|items| {
            let senders: Vec<RestrictedSender> = items
                .iter()
                .filter_map(|r| {
                    let addr = s(r, "SenderAddress")?.to_lowercase();
                    Some(RestrictedSender {
                        user_id: owner(&ctx.snapshot, &addr),
                        reason: s(r, "Reason"),
                        created: time(r.get("CreatedDatetime")),
                        id: addr,
                    })
                })
                .collect();
            let n = senders.len() as u64;
            ctx.snapshot.outbound_spam.restricted_senders = senders;
            n
        });
    match (&outcome, unlinked_reason(&ctx.snapshot)) {
        (Ok(n), Some(reason)) => {
            ctx.set(SourceId::RestrictedSenders, SourceState::Error, &reason, *n)
        }
        _ => ctx.record(SourceId::RestrictedSenders, outcome),
    }
}

/// The mailbox (else user) id owning `addr`.
fn owner(snap: &Snapshot, addr: &str) -> Option<String> {
    snap.mailboxes
        .iter()
        .find(|m| {
            m.primary_smtp_address
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(addr))
                || m.user_principal_name.eq_ignore_ascii_case(addr)
        })
        .map(|m| m.id.clone())
        .or_else(|| {
            snap.users
                .iter()
                .find(|u| u.user_principal_name.eq_ignore_ascii_case(addr))
                .map(|u| u.id.clone())
        })
}

/// Why the blocked addresses could not all be linked, when a source the link depends on
/// was not collected completely; `None` when every address is linked or both sources are
/// `ok` (an unlinked address is then a sender that is not a user of this tenant).
fn unlinked_reason(snap: &Snapshot) -> Option<String> {
    let unlinked: Vec<&str> = snap
        .outbound_spam
        .restricted_senders
        .iter()
        .filter(|s| s.user_id.is_none())
        .map(|s| s.id.as_str())
        .collect();
    if unlinked.is_empty() {
        return None;
    }
    let failed: Vec<&str> = [SourceId::Mailboxes, SourceId::Users]
        .into_iter()
        .filter(|id| {
            snap.sources
                .get(id)
                .is_none_or(|status| status.status != SourceState::Ok)
        })
        .map(SourceId::as_str)
        .collect();
    if failed.is_empty() {
        return None;
    }
    Some(format!(
        "incomplete: {} of {} blocked sender(s) could not be linked to a user ({}) because {} \
         was not collected",
        unlinked.len(),
        snap.outbound_spam.restricted_senders.len(),
        unlinked.join(", "),
        failed.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::SourceStatus;

    fn sender(id: &str, user: Option<&str>) -> RestrictedSender {
        RestrictedSender {
            id: id.into(),
            user_id: user.map(str::to_owned),
            reason: None,
            created: None,
        }
    }

    fn with(
        users: SourceState,
        mailboxes: SourceState,
        senders: Vec<RestrictedSender>,
    ) -> Snapshot {
        let mut snap = Snapshot::default();
        let status = |status| SourceStatus {
            status,
            reason: None,
            items: 0,
        };
        snap.sources.insert(SourceId::Users, status(users));
        snap.sources.insert(SourceId::Mailboxes, status(mailboxes));
        snap.outbound_spam.restricted_senders = senders;
        snap
    }

    #[test]
    fn an_unlinked_sender_with_a_failed_link_source_is_incomplete() {
        let snap = with(
            SourceState::Error,
            SourceState::Error,
            vec![sender("lena@contoso.com", None)],
        );
        let reason = unlinked_reason(&snap).unwrap();
        assert!(reason.contains("lena@contoso.com"), "{reason}");
        assert!(reason.contains("mailboxes and users"), "{reason}");
        let one_failed = with(
            SourceState::Ok,
            SourceState::Error,
            vec![sender("lena@contoso.com", None)],
        );
        assert!(unlinked_reason(&one_failed)
            .unwrap()
            .contains("mailboxes was not"));
    }

    #[test]
    fn linked_senders_or_complete_link_sources_stay_ok() {
        let linked = with(
            SourceState::Error,
            SourceState::Error,
            vec![sender("lena@contoso.com", Some("u1"))],
        );
        assert_eq!(unlinked_reason(&linked), None);
        // Both sources complete: an unknown address is an outside sender, not a gap.
        let outside = with(
            SourceState::Ok,
            SourceState::Ok,
            vec![sender("someone@elsewhere.example", None)],
        );
        assert_eq!(unlinked_reason(&outside), None);
    }
}
