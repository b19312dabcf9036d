//! Source `transport_rules`: `Get-TransportRule`, the organisation's mail flow rules. A
//! rule that Bcc's, redirects or copies mail outside the organisation, sets SCL -1 (skips
//! spam filtering) or silently deletes mail is a back door an attacker with an Exchange
//! role leaves behind; the mail-flow rules judge them from what this collector keeps.
//!
//! Cmdlet: <https://learn.microsoft.com/powershell/module/exchange/get-transportrule>
//! (`-ResultSize Unlimited`: every rule; paging follows `@odata.nextLink`). Property names
//! are the parameters of <https://learn.microsoft.com/powershell/module/exchange/new-transportrule>
//! (`BlindCopyTo`, `RedirectMessageTo`, `AddToRecipients`, `CopyTo`, `SetSCL`,
//! `DeleteMessage`, `Quarantine`, `FromScope`, `SentToScope`, `SenderDomainIs`, …).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{time, Ctx};
use crate::snapshot::model::{SourceId, TransportRule};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .exchange
        .invoke("Get-TransportRule", json!({"ResultSize": "Unlimited"}))
        .map(|items| {
            ctx.snapshot.transport_rules = items.iter().filter_map(map).collect();
            ctx.snapshot.transport_rules.len() as u64
        });
    ctx.record(SourceId::TransportRules, outcome);
}

/// The properties read, each optional: Exchange leaves unused conditions and actions null.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ExoTransportRule {
    guid: Option<String>,
    identity: Option<String>,
    name: Option<String>,
    state: Option<String>,
    mode: Option<String>,
    priority: Option<Value>,
    from_scope: Option<String>,
    sent_to_scope: Option<String>,
    sender_domain_is: Option<Vec<Value>>,
    from: Option<Vec<Value>>,
    sender_ip_ranges: Option<Vec<Value>>,
    subject_contains_words: Option<Vec<Value>>,
    subject_or_body_contains_words: Option<Vec<Value>>,
    blind_copy_to: Option<Vec<Value>>,
    redirect_message_to: Option<Vec<Value>>,
    add_to_recipients: Option<Vec<Value>>,
    copy_to: Option<Vec<Value>>,
    #[serde(rename = "SetSCL")]
    set_scl: Option<Value>,
    delete_message: Option<bool>,
    quarantine: Option<bool>,
}

/// Strings of a multi-valued property; anything that is not a string is skipped.
pub(crate) fn texts(v: Option<Vec<Value>>) -> Vec<String> {
    v.unwrap_or_default()
        .into_iter()
        .filter_map(|x| x.as_str().map(str::trim).map(str::to_owned))
        .filter(|x| !x.is_empty())
        .collect()
}

/// Recipients as Exchange shows them: an SMTP address (lower-case, without `smtp:`), or a
/// recipient's name (kept as written: the rules resolve names through `recipients`).
fn recipients(v: Option<Vec<Value>>) -> Vec<String> {
    texts(v)
        .into_iter()
        .map(|r| {
            let r = super::mailboxes::strip_smtp(&r);
            if r.contains('@') {
                r.to_lowercase()
            } else {
                r
            }
        })
        .collect()
}

/// An integer that Exchange may serialise as a number or as text (`"-1"`).
pub(crate) fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn map(raw: &Map<String, Value>) -> Option<TransportRule> {
    let when_changed = time(raw.get("WhenChangedUTC").or_else(|| raw.get("WhenChanged")));
    let r: ExoTransportRule = serde_json::from_value(Value::Object(raw.clone())).ok()?;
    let name = r.name.or_else(|| r.identity.clone())?;
    Some(TransportRule {
        id: r.guid.or(r.identity).unwrap_or_else(|| name.clone()),
        name,
        state: r.state,
        mode: r.mode,
        priority: int(r.priority.as_ref()),
        from_scope: r.from_scope,
        sent_to_scope: r.sent_to_scope,
        sender_domain_is: texts(r.sender_domain_is)
            .into_iter()
            .map(|d| d.to_lowercase())
            .collect(),
        from: recipients(r.from),
        sender_ip_ranges: texts(r.sender_ip_ranges),
        subject_contains_words: texts(r.subject_contains_words),
        subject_or_body_contains_words: texts(r.subject_or_body_contains_words),
        blind_copy_to: recipients(r.blind_copy_to),
        redirect_message_to: recipients(r.redirect_message_to),
        add_to_recipients: recipients(r.add_to_recipients),
        copy_to: recipients(r.copy_to),
        set_scl: int(r.set_scl.as_ref()),
        delete_message: r.delete_message.unwrap_or(false),
        quarantine: r.quarantine.unwrap_or(false),
        when_changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as obj;

    #[test]
    fn maps_actions_and_conditions() {
        let r = map(&obj(json!({
            "Identity": "Invoice archive", "Name": "Invoice archive",
            "Guid": "5b1c0d2e-0000-4000-8000-000000000001", "State": "Enabled",
            "Mode": "Enforce", "Priority": 0, "SubjectContainsWords": ["invoice"],
            "BlindCopyTo": ["SMTP:AP.Archive@Gmail.com", "Finance Team"], "SetSCL": "-1",
            "DeleteMessage": false, "SenderDomainIs": ["Billing.EXAMPLE"],
            "WhenChangedUTC": "2026-01-01T06:42:17.0000000Z"
        })))
        .unwrap();
        assert_eq!(r.id, "5b1c0d2e-0000-4000-8000-000000000001");
        assert_eq!(r.blind_copy_to, ["ap.archive@gmail.com", "Finance Team"]);
        assert_eq!(r.set_scl, Some(-1));
        assert_eq!(r.sender_domain_is, ["billing.example"]);
        assert_eq!(r.priority, Some(0));
        assert!(r.when_changed.is_some());
        assert!(!r.delete_message);
    }

    #[test]
    fn nulls_and_odd_types_are_absent_not_a_panic() {
        let r = map(&obj(json!({
            "Name": "Bare", "BlindCopyTo": null, "SetSCL": null, "Priority": "x"
        })))
        .unwrap();
        assert_eq!(r.id, "Bare");
        assert!(r.blind_copy_to.is_empty());
        assert_eq!(
            (r.set_scl, r.priority, r.state.as_deref()),
            (None, None, None)
        );
        // A property of an unexpected type drops the object rather than guessing.
        assert!(map(&obj(json!({"Name": "Odd", "DeleteMessage": "yes"}))).is_none());
        assert!(map(&obj(json!({"State": "Enabled"}))).is_none());
    }
}
