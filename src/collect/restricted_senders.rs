//! Source `restricted_senders`: `Get-BlockedSenderAddress` (users blocked from sending),
//! linked to their user/mailbox id by address.

use serde_json::json;

use super::{s, time, Ctx};
use crate::snapshot::model::{RestrictedSender, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-BlockedSenderAddress", json!({}))
        .map(|items| {
            let snap = &ctx.snapshot;
            let owner = |addr: &str| {
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
            };
            let senders: Vec<RestrictedSender> = items
                .iter()
                .filter_map(|r| {
                    let addr = s(r, "SenderAddress")?.to_lowercase();
                    Some(RestrictedSender {
                        user_id: owner(&addr),
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
    ctx.record(SourceId::RestrictedSenders, outcome);
}
