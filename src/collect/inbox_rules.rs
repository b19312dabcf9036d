//! Source `inbox_rules`: Exchange `Get-InboxRule -IncludeHidden` for every user and shared
//! mailbox (Graph cannot see hidden rules, CONTRACT §5). Mailboxes are read in chunks of one
//! Exchange `$batch` (ten calls in one round trip, [`crate::exchange::Call`]) by as many
//! workers as the Exchange concurrency limit allows (each mailbox by one worker, so well
//! under its per-mailbox limit); one mailbox failing does not lose the others' rules, but
//! marks the source `error`.
//!
//! Forward/redirect recipients that name a directory object come back as
//! `"Name" [EX:/o=…/cn=…]` (its `LegacyExchangeDN`), not as an SMTP address; they are
//! resolved to where the mail goes (a mailbox's address, a mail contact's or mail user's
//! external address) through the collected mailboxes and `recipients`, else by asking
//! `Get-Recipient -Filter "LegacyExchangeDN -eq '…'"`. One that cannot be resolved stays
//! in the rule as `ex:…` and leaves the source `error`.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::recipients::Resolver;
use super::{b, s, strings, Ctx};
use crate::exchange::{Call, ExchangeClient, MAX_BATCH_ITEMS};
use crate::snapshot::model::{
    FolderRef, InboxRule, Mailbox, RuleActions, RuleConditions, RuleSource, SourceId, SourceState,
};

/// Mailbox kinds whose rules matter; discovery, room and system mailboxes are skipped.
const KINDS: [&str; 2] = ["UserMailbox", "SharedMailbox"];

pub fn collect(ctx: &mut Ctx<'_>) {
    let mailboxes_ok = ctx
        .snapshot
        .sources
        .get(&SourceId::Mailboxes)
        .is_some_and(|st| st.status == SourceState::Ok);
    if !mailboxes_ok {
        ctx.set(
            SourceId::InboxRules,
            SourceState::Error,
            "the mailbox list was not collected, so no mailbox's rules could be read",
            0,
        );
        return;
    }
    let targets: Vec<Mailbox> = ctx
        .snapshot
        .mailboxes
        .iter()
        .filter(|m| KINDS.contains(&m.recipient_type_details.as_str()))
        .cloned()
        .collect();
    let results = fetch_all(&ctx.exchange, &targets);
    let (mut rules, failure) = merge(&targets, results);
    let unresolved = {
        let mut resolver = Resolver::new(
            &ctx.exchange,
            &ctx.snapshot.mailboxes,
            &ctx.snapshot.recipients,
        );
        let references: Vec<String> = rules
            .iter()
            .flat_map(|r| {
                let a = &r.actions;
                a.forward_to
                    .iter()
                    .chain(&a.redirect_to)
                    .chain(&a.forward_as_attachment_to)
            })
            .filter(|e| e.starts_with("ex:"))
            .cloned()
            .collect();
        resolver.prefetch_legacy_dns(&references);
        resolve_recipients(&mut rules, |dn| resolver.legacy_dn(dn))
    };
    let failure = failure.or_else(|| {
        unresolved.first().map(|first| {
            format!(
                "{} inbox-rule recipient(s) name a directory object that could not be resolved to an address (first: {first}): incomplete",
                unresolved.len()
            )
        })
    });
    let items = rules.len() as u64;
    ctx.snapshot.inbox_rules = rules;
    match failure {
        None => ctx.record(SourceId::InboxRules, Ok(items)),
        // Partial data is kept, but the source must not pass as complete.
        Some(reason) => ctx.set(SourceId::InboxRules, SourceState::Error, &reason, items),
    }
}

/// Replace every `ex:` forward/redirect recipient by the address it delivers to; returns
/// the ones that could not be resolved (they stay `ex:…` in the rule).
fn resolve_recipients(
    rules: &mut [InboxRule],
    mut resolve: impl FnMut(&str) -> Result<Option<String>, crate::graph::ApiError>,
) -> Vec<String> {
    let mut unresolved = Vec::new();
    for rule in rules.iter_mut() {
        let actions = &mut rule.actions;
        for list in [
            &mut actions.forward_to,
            &mut actions.redirect_to,
            &mut actions.forward_as_attachment_to,
        ] {
            for entry in list.iter_mut().filter(|e| e.starts_with("ex:")) {
                match resolve(entry) {
                    Ok(Some(to)) => *entry = to,
                    Ok(None) => unresolved.push(format!(
                        "{} rule '{}' → {entry}: no such recipient",
                        rule.mailbox_upn, rule.name
                    )),
                    Err(e) => unresolved.push(format!(
                        "{} rule '{}' → {entry}: {e}",
                        rule.mailbox_upn, rule.name
                    )),
                }
            }
        }
    }
    unresolved
}

/// All collected rules sorted by id, and the error reason when any mailbox failed.
fn merge(
    targets: &[Mailbox],
    results: Vec<Result<Vec<InboxRule>, String>>,
) -> (Vec<InboxRule>, Option<String>) {
    let mut rules = Vec::new();
    let mut failures = Vec::new();
    for (mbx, result) in targets.iter().zip(results) {
        match result {
            Ok(mut r) => rules.append(&mut r),
            Err(e) => failures.push(format!("{}: {e}", label(mbx))),
        }
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    let reason = failures.first().map(|first| {
        format!(
            "Get-InboxRule failed for {} of {} mailboxes; first: {first}",
            failures.len(),
            targets.len()
        )
    });
    (rules, reason)
}

fn label(m: &Mailbox) -> &str {
    if m.user_principal_name.is_empty() {
        &m.id
    } else {
        &m.user_principal_name
    }
}

/// One result per target, in order: mailboxes in chunks of one Exchange `$batch`
/// ([`ExchangeClient::invoke_many`]), the chunks by as many workers as the limit allows.
fn fetch_all(exo: &ExchangeClient<'_>, targets: &[Mailbox]) -> Vec<Result<Vec<InboxRule>, String>> {
    super::pool::map_chunks(
        exo.limits().concurrency(),
        MAX_BATCH_ITEMS,
        targets,
        |chunk| fetch_chunk(exo, chunk),
        |_| Err("internal error: worker thread failed".into()),
    )
}

fn rule_call(mbx: &Mailbox, hidden: bool) -> Call {
    let who = label(mbx);
    Call::on_mailbox(
        "Get-InboxRule",
        json!({"Mailbox": who, "IncludeHidden": hidden, "ResultSize": "Unlimited"}),
        who,
    )
}

/// [`fetch_unresolved`] for a chunk of mailboxes: the `-IncludeHidden` calls in one
/// batch, then the second calls for the mailboxes that have rules of their own.
fn fetch_chunk(exo: &ExchangeClient<'_>, chunk: &[Mailbox]) -> Vec<Result<Vec<InboxRule>, String>> {
    let calls: Vec<Call> = chunk.iter().map(|m| rule_call(m, true)).collect();
    let all: Vec<Result<Vec<Map<String, Value>>, String>> = exo
        .invoke_many(&calls)
        .into_iter()
        .map(|r| match r {
            Ok(rows) => Ok(rows.into_iter().filter(|r| !built_in(r)).collect()),
            Err(e) => Err(e.to_string()),
        })
        .collect();
    let second: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref().is_ok_and(|rows| !rows.is_empty()))
        .map(|(i, _)| i)
        .collect();
    let calls: Vec<Call> = second
        .iter()
        .filter_map(|&i| chunk.get(i))
        .map(|m| rule_call(m, false))
        .collect();
    let mut visible: HashMap<usize, Result<HashSet<String>, String>> = second
        .into_iter()
        .zip(exo.invoke_many(&calls))
        .map(|(i, r)| {
            let ids = r
                .map(|rows| rows.iter().filter_map(rule_identity).collect())
                .map_err(|e| e.to_string());
            (i, ids)
        })
        .collect();
    chunk
        .iter()
        .zip(all)
        .enumerate()
        .map(|(i, (mbx, rows))| {
            let rows = rows?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let visible = visible
                .remove(&i)
                .unwrap_or_else(|| Err("internal error: second Get-InboxRule call lost".into()))?;
            Ok(rows.iter().filter_map(|r| map(mbx, r, &visible)).collect())
        })
        .collect()
}

/// Every inbox rule of one mailbox, hidden ones included and marked, `EX:` recipients
/// resolved by asking Exchange (fix mode re-reads a rule with it before changing it, and
/// compares the recipients with what the collection saw).
pub(crate) fn fetch_one(
    exo: &ExchangeClient<'_>,
    mbx: &Mailbox,
) -> Result<Vec<InboxRule>, crate::graph::ApiError> {
    let mut rules = fetch_unresolved(exo, mbx)?;
    let mut resolver = Resolver::new(exo, &[], &[]);
    // An unresolved reference stays `ex:…`: the comparison then reports it as changed.
    resolve_recipients(&mut rules, |dn| resolver.legacy_dn(dn));
    Ok(rules)
}

/// [`fetch_one`] without resolving `EX:` recipients (the collector resolves them for all
/// mailboxes at once, from what it collected).
fn fetch_unresolved(
    exo: &ExchangeClient<'_>,
    mbx: &Mailbox,
) -> Result<Vec<InboxRule>, crate::graph::ApiError> {
    let who = label(mbx).to_owned();
    let anchor = format!("UPN:{who}");
    let call = |hidden: bool| {
        exo.invoke_anchored(
            "Get-InboxRule",
            json!({"Mailbox": who, "IncludeHidden": hidden, "ResultSize": "Unlimited"}),
            &anchor,
        )
    };
    let all: Vec<_> = call(true)?.into_iter().filter(|r| !built_in(r)).collect();
    // Most mailboxes have no rule of their own: then there is nothing to classify, and the
    // second call is saved (it halves the requests of a typical tenant).
    if all.is_empty() {
        return Ok(Vec::new());
    }
    // Get-InboxRule has no "hidden" property: a rule is hidden exactly when it shows up
    // only with -IncludeHidden, so ask a second time without it and compare.
    let visible: HashSet<String> = call(false)?.iter().filter_map(rule_identity).collect();
    Ok(all.iter().filter_map(|r| map(mbx, r, &visible)).collect())
}

/// The junk-mail rule and out-of-office templates exist in every mailbox and are managed
/// by Exchange itself; reporting them would only be noise (CIPP filters them too).
fn built_in(r: &Map<String, Value>) -> bool {
    let name = s(r, "Name").unwrap_or_default();
    name == "Junk E-Mail Rule" || name.starts_with("Microsoft.Exchange.OOF.")
}

/// `RuleIdentity` is a uint64 above 2^53; it may arrive as a JSON number or a string.
fn rule_identity(r: &Map<String, Value>) -> Option<String> {
    match r.get("RuleIdentity")? {
        Value::String(t) if !t.is_empty() => Some(t.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn map(
    mbx: &Mailbox,
    r: &Map<String, Value>,
    visible: &HashSet<String>,
) -> Option<InboxRule> {
    let rule_id = rule_identity(r)?;
    let addrs = |key: &str| -> Vec<String> {
        strings(r.get(key))
            .iter()
            .map(|a| address(a))
            .filter(|a| !a.is_empty())
            .collect()
    };
    let flag = |key: &str| b(r, key).unwrap_or(false);
    Some(InboxRule {
        id: format!("{}/{rule_id}", mbx.id),
        mailbox_id: mbx.id.clone(),
        mailbox_upn: mbx.user_principal_name.clone(),
        hidden: !visible.contains(&rule_id),
        rule_id,
        exchange_identity: s(r, "Identity"),
        source: RuleSource::Exchange,
        name: s(r, "Name").unwrap_or_default(),
        enabled: b(r, "Enabled").unwrap_or(true),
        priority: r.get("Priority").and_then(Value::as_i64).unwrap_or(0),
        in_error: flag("InError"),
        actions: RuleActions {
            forward_to: addrs("ForwardTo"),
            redirect_to: addrs("RedirectTo"),
            forward_as_attachment_to: addrs("ForwardAsAttachmentTo"),
            move_to_folder: s(r, "MoveToFolder").map(|f| folder(&f)),
            copy_to_folder: s(r, "CopyToFolder").map(|f| folder(&f)),
            // Exchange's DeleteMessage moves mail to Deleted Items (Graph `delete`);
            // SoftDeleteMessage sends it to Recoverable Items, out of the user's sight
            // (Graph `permanentDelete`, Set-InboxRule docs).
            delete: flag("DeleteMessage"),
            permanent_delete: flag("SoftDeleteMessage"),
            mark_as_read: flag("MarkAsRead"),
            stop_processing_rules: flag("StopProcessingRules"),
        },
        conditions: RuleConditions {
            subject_contains: strings(r.get("SubjectContainsWords")),
            body_contains: strings(r.get("BodyContainsWords")),
            subject_or_body_contains: strings(r.get("SubjectOrBodyContainsWords")),
            from_addresses: addrs("From"),
            sender_contains: strings(r.get("FromAddressContainsWords")),
            header_contains: strings(r.get("HeaderContainsWords")),
            recipient_contains: strings(r.get("RecipientAddressContainsWords")),
            has_attachments: flag("HasAttachment"),
        },
    })
}

/// `"Name" [SMTP:addr]` (prefix in any case) or a bare address → lower-case address;
/// `"Name" [EX:/o=…]` (a directory object, named by its legacy DN) → `ex:/o=…`, which
/// the collector then resolves. Anything else is kept verbatim, lower-cased, so a
/// recipient is never silently dropped.
pub fn address(display: &str) -> String {
    let lower = display.trim().to_lowercase();
    if let Some(start) = lower.find("smtp:") {
        let rest = &lower[start + 5..];
        let end = rest.find(']').unwrap_or(rest.len());
        return rest[..end].trim().to_owned();
    }
    if let Some(start) = lower.find("[ex:") {
        let rest = &lower[start + 1..];
        let end = rest.find(']').unwrap_or(rest.len());
        return rest[..end].trim().to_owned();
    }
    lower
}

/// Exchange `MoveToFolder` display string: `RSS Feeds` or `alias:\Inbox\RSS Feeds`.
fn folder(raw: &str) -> FolderRef {
    let name = raw
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(raw)
        .trim()
        .to_owned();
    // Only the English names can be recognised here: Exchange returns display names, which
    // are localised in non-English mailboxes (CONTRACT §16.3).
    let well_known = match name.to_lowercase().as_str() {
        "rss feeds" => Some("rssfeeds"),
        "rss subscriptions" => Some("rsssubscriptions"),
        "conversation history" => Some("conversationhistory"),
        "notes" => Some("notes"),
        "junk email" | "junk e-mail" => Some("junkemail"),
        "archive" => Some("archive"),
        "deleted items" => Some("deleteditems"),
        _ => None,
    };
    FolderRef {
        id: raw.to_owned(),
        name: Some(name),
        well_known_name: well_known.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_from_display_strings() {
        assert_eq!(
            address("\"Mallory\" [SMTP:Mallory@Evil-Mail.example]"),
            "mallory@evil-mail.example"
        );
        assert_eq!(address("\"x\" [smtp:a@b.com]"), "a@b.com");
        assert_eq!(address("smtp:A@B.com"), "a@b.com");
        assert_eq!(address(" a@b.com "), "a@b.com");
    }

    #[test]
    fn directory_recipients_keep_their_legacy_dn() {
        assert_eq!(
            address("\"AP Archive\" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=1f2e-aparchive]"),
            "ex:/o=exchangelabs/ou=exchange administrative group (fydibohf23spdlt)/cn=recipients/cn=1f2e-aparchive"
        );
        assert_eq!(address("EX:/o=X/cn=y"), "ex:/o=x/cn=y");
    }

    #[test]
    fn ex_recipients_are_resolved_and_an_unknown_one_is_reported() {
        let mbx = mailbox("u1", "lena@contoso.com");
        let raw = json!({
            "Name": "Sync", "RuleIdentity": 9,
            "ForwardTo": ["\"AP Archive\" [EX:/o=x/cn=aparchive]", "\"m\" [SMTP:m@evil.example]"],
            "RedirectTo": ["\"Gone\" [EX:/o=x/cn=deleted]"],
            "ForwardAsAttachmentTo": ["\"Dana\" [EX:/o=x/cn=dana]"]
        });
        let mut rules = vec![map(&mbx, raw.as_object().unwrap(), &HashSet::new()).unwrap()];
        let mut asked = Vec::new();
        let unresolved = resolve_recipients(&mut rules, |dn| {
            asked.push(dn.to_owned());
            Ok(match dn {
                "ex:/o=x/cn=aparchive" => Some("ap.archive@securemail-box.example".to_owned()),
                "ex:/o=x/cn=dana" => Some("dana@contoso.com".to_owned()),
                _ => None,
            })
        });
        let a = &rules[0].actions;
        assert_eq!(
            a.forward_to,
            ["ap.archive@securemail-box.example", "m@evil.example"]
        );
        assert_eq!(a.forward_as_attachment_to, ["dana@contoso.com"]);
        // Never dropped: the unresolved reference stays, and is reported.
        assert_eq!(a.redirect_to, ["ex:/o=x/cn=deleted"]);
        assert_eq!(
            unresolved,
            ["lena@contoso.com rule 'Sync' → ex:/o=x/cn=deleted: no such recipient"]
        );
        assert_eq!(
            asked.len(),
            3,
            "SMTP addresses are not looked up: {asked:?}"
        );
    }

    #[test]
    fn folders_keep_the_raw_path_and_name_the_last_component() {
        let f = folder("lena.fischer:\\RSS Feeds");
        assert_eq!(f.id, "lena.fischer:\\RSS Feeds");
        assert_eq!(f.name.as_deref(), Some("RSS Feeds"));
        assert_eq!(f.well_known_name.as_deref(), Some("rssfeeds"));
        let f = folder("Junk E-mail");
        assert_eq!(f.well_known_name.as_deref(), Some("junkemail"));
        let f = folder("mbx:\\Inbox\\Newsletters");
        assert_eq!(f.name.as_deref(), Some("Newsletters"));
        assert_eq!(f.well_known_name, None);
    }

    fn mailbox(id: &str, upn: &str) -> Mailbox {
        Mailbox {
            id: id.into(),
            user_principal_name: upn.into(),
            primary_smtp_address: None,
            recipient_type_details: "UserMailbox".into(),
            forwarding_smtp_address: None,
            forwarding_address: None,
            forwarding_address_smtp: None,
            deliver_to_mailbox_and_forward: false,
            legacy_exchange_dn: None,
            delegation: Default::default(),
        }
    }

    #[test]
    fn a_failed_mailbox_keeps_the_others_and_is_reported() {
        let targets = [
            mailbox("b", "b@contoso.com"),
            mailbox("a", "a@contoso.com"),
            mailbox("c", "c@contoso.com"),
        ];
        let rule = |mbx: &Mailbox, n: &str| {
            let raw = json!({"Name": n, "RuleIdentity": n});
            map(mbx, raw.as_object().unwrap(), &HashSet::new()).unwrap()
        };
        let results = vec![
            Ok(vec![rule(&targets[0], "2"), rule(&targets[0], "1")]),
            Err("HTTP 403: ErrorAccessDenied".to_owned()),
            Ok(vec![rule(&targets[2], "3")]),
        ];
        let (rules, reason) = merge(&targets, results);
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b/1", "b/2", "c/3"]);
        assert_eq!(
            reason.as_deref(),
            Some("Get-InboxRule failed for 1 of 3 mailboxes; first: a@contoso.com: HTTP 403: ErrorAccessDenied")
        );
        let (_, none) = merge(&targets[..1], vec![Ok(Vec::new())]);
        assert_eq!(none, None);
    }

    #[test]
    fn maps_a_contract_fixture_rule() {
        let mbx = mailbox("u1", "lena@contoso.com");
        let raw = json!({
            "Name": ".", "Enabled": true, "Priority": 1,
            "RuleIdentity": 4727603405627269121u64,
            "ForwardTo": ["\"m\" [SMTP:M@evil.example]"], "RedirectTo": null,
            "DeleteMessage": true, "SoftDeleteMessage": false, "MoveToFolder": null,
            "MarkAsRead": true, "StopProcessingRules": true,
            "SubjectOrBodyContainsWords": ["invoice"], "From": null, "InError": false,
            "Identity": "lena\\4727603405627269121"
        });
        let r = map(&mbx, raw.as_object().unwrap(), &HashSet::new()).unwrap();
        assert_eq!(r.id, "u1/4727603405627269121");
        assert_eq!(r.rule_id, "4727603405627269121");
        assert!(r.hidden, "absent from the non-hidden listing");
        assert_eq!(r.actions.forward_to, ["m@evil.example"]);
        assert!(r.actions.delete && r.actions.mark_as_read && !r.actions.permanent_delete);
        // SoftDeleteMessage sends mail to Recoverable Items: Graph's permanentDelete.
        let soft = json!({"Name": "s", "RuleIdentity": 7, "SoftDeleteMessage": true});
        let soft = map(&mbx, soft.as_object().unwrap(), &HashSet::new()).unwrap();
        assert!(soft.actions.permanent_delete && !soft.actions.delete);
        assert_eq!(r.conditions.subject_or_body_contains, ["invoice"]);

        let string_id = json!({"Name": "x", "RuleIdentity": "42"});
        let visible: HashSet<String> = ["42".to_owned()].into();
        let r = map(&mbx, string_id.as_object().unwrap(), &visible).unwrap();
        assert_eq!(r.rule_id, "42");
        assert!(!r.hidden);
        assert!(built_in(
            json!({"Name": "Microsoft.Exchange.OOF.KnownSenders.Template"})
                .as_object()
                .unwrap()
        ));
    }
}
