//! Source `remote_domains`: `Get-RemoteDomain`, the per-domain mail-flow settings. Its
//! `AutoForwardEnabled` decides whether auto-forwarded mail (inbox rules, mailbox
//! forwarding) may leave for that domain; the `*` entry covers every domain without its own.
//!
//! Cmdlet: <https://learn.microsoft.com/powershell/module/exchange/get-remotedomain>
//! (no parameters = every remote domain). How it combines with the outbound spam policy
//! ("when one setting allows external forwarding but another blocks it, the block wins"):
//! <https://learn.microsoft.com/defender-office-365/outbound-spam-policies-external-email-forwarding>.

use serde_json::{json, Map, Value};

use super::{b, s, time, Ctx};
use crate::snapshot::model::{RemoteDomain, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-RemoteDomain", json!({}))
        .map(|items| {
            ctx.snapshot.remote_domains = items.iter().filter_map(map).collect();
            ctx.snapshot.remote_domains.len() as u64
        });
    ctx.record(SourceId::RemoteDomains, outcome);
}

fn map(d: &Map<String, Value>) -> Option<RemoteDomain> {
    Some(RemoteDomain {
        id: s(d, "Identity").or_else(|| s(d, "Name"))?,
        domain_name: s(d, "DomainName")
            .map(|n| n.to_lowercase())
            .unwrap_or_default(),
        auto_forward_enabled: b(d, "AutoForwardEnabled"),
        auto_reply_enabled: b(d, "AutoReplyEnabled"),
        is_internal: b(d, "IsInternal").unwrap_or(false),
        when_changed: time(d.get("WhenChangedUTC").or_else(|| d.get("WhenChanged"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn maps_the_default_entry_and_keeps_a_missing_flag_unknown() {
        let d = map(&obj(json!({
            "Identity": "Default", "DomainName": "*", "AutoForwardEnabled": true,
            "AutoReplyEnabled": true, "IsInternal": false,
            "WhenChangedUTC": "2026-01-01T06:42:17.0000000Z"
        })))
        .unwrap();
        assert_eq!((d.id.as_str(), d.domain_name.as_str()), ("Default", "*"));
        assert_eq!(d.auto_forward_enabled, Some(true));
        assert!(d.when_changed.is_some());
        let bare = map(&obj(
            json!({"Name": "Partner", "DomainName": "Fabrikam.EXAMPLE"}),
        ))
        .unwrap();
        assert_eq!(bare.id, "Partner");
        assert_eq!(bare.domain_name, "fabrikam.example");
        assert_eq!(bare.auto_forward_enabled, None);
    }

    #[test]
    fn an_entry_without_a_name_is_skipped() {
        assert!(map(&obj(json!({"DomainName": "*"}))).is_none());
    }
}
