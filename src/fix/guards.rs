//! Guards no plan can override. Each returns the refusal reason, or `None` when the action
//! may proceed. They run at planning time (so the plan shows what it leaves alone) and
//! again at apply time against live state and the apply-time configuration.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::actions::ActionKind;
use super::live::GLOBAL_ADMINISTRATOR;
use super::plan::{PlannedAction, Target};

pub const DEFAULT_MAX_ACTIONS: usize = 25;

/// An identifier as Entra compares it: percent-decoded (repeatedly, so `%2540` is `@`
/// too), trimmed and lower-cased. UPNs and object ids are case-insensitive, and Graph
/// decodes `%40` in a URL path, so a plan naming `breakglass01%40contoso.com` reaches the
/// same account as `BreakGlass01@contoso.com`.
pub fn normalize(identifier: &str) -> String {
    let mut s = identifier.trim().to_owned();
    for _ in 0..3 {
        let decoded = percent_decode(&s);
        if decoded == s {
            break;
        }
        s = decoded;
    }
    s.trim().to_lowercase()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every identifier through which a target could reach an account, normalized: its id
/// (and the mailbox part of an inbox rule's `mailbox/rule` id), name, user id, UPN and
/// Exchange identity (`mailbox\rule`). Whatever the target's kind: a hand-edited plan may
/// put a user where a mailbox or a sender is expected.
pub fn target_identifiers(target: &Target) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: &str| {
        let n = normalize(s);
        if !n.is_empty() {
            out.insert(n);
        }
    };
    add(&target.id);
    if let Some((mailbox, _)) = target.id.split_once('/') {
        add(mailbox);
    }
    add(&target.name);
    for s in [
        &target.user_id,
        &target.user_principal_name,
        &target.exchange_identity,
    ]
    .into_iter()
    .flatten()
    {
        add(s);
        if let Some((mailbox, _)) = s.split_once('\\') {
            add(mailbox);
        }
    }
    out
}

/// The declared break-glass account among `identifiers` (both sides normalized), if any.
pub fn break_glass_hit(
    declared: &BTreeSet<String>,
    identifiers: &BTreeSet<String>,
) -> Option<String> {
    let hit = identifiers.intersection(declared).next()?;
    Some(format!(
        "guard: {hit} is a break-glass account (m365guard.toml); fix mode never acts on it"
    ))
}

/// Break-glass accounts (UPNs or object ids, as written in m365guard.toml) named by any
/// identifier of `target`. Apply also resolves both sides live (see `apply`): this alone
/// cannot see that an object id and a UPN are the same account.
pub fn break_glass(accounts: &[String], target: &Target) -> Option<String> {
    let declared: BTreeSet<String> = accounts.iter().map(|a| normalize(a)).collect();
    break_glass_hit(&declared, &target_identifiers(target))
}

/// The service principal m365guard runs as: changing it could lock the tool out mid-run.
pub fn own_identity(own_principal_id: Option<&str>, target: &Target) -> Option<String> {
    let own = own_principal_id?;
    let hit = target.user_id.as_deref() == Some(own) || target.id == own;
    hit.then(|| {
        format!(
            "guard: the target is m365guard's own service principal ({own}); refusing to act on it"
        )
    })
}

/// Removing a Global Administrator assignment must leave at least one other active one.
/// `assignments` is the live list of active role assignments.
pub fn last_global_admin(target: &Target, assignments: &[Map<String, Value>]) -> Option<String> {
    let is_ga = |a: &Map<String, Value>| {
        a.get("roleDefinitionId").and_then(Value::as_str) == Some(GLOBAL_ADMINISTRATOR)
    };
    // Trust the live assignment over the plan: a hand-edited plan must not hide that this
    // is a Global Administrator assignment.
    let live_is_ga = assignments
        .iter()
        .any(|a| a.get("id").and_then(Value::as_str) == Some(target.id.as_str()) && is_ga(a));
    if !live_is_ga && target.role_definition_id.as_deref() != Some(GLOBAL_ADMINISTRATOR) {
        return None;
    }
    let others = assignments
        .iter()
        .filter(|a| is_ga(a))
        .filter(|a| a.get("id").and_then(Value::as_str) != Some(target.id.as_str()))
        .count();
    (others == 0).then(|| {
        "guard: this is the last active Global Administrator assignment; removing it would leave the tenant without one".to_owned()
    })
}

/// `--max-actions`: refuse the whole run rather than half of it. Counts the writes that
/// lock people out or take power away (password resets, sign-in blocks, role and role
/// group removals),
/// not distinct ids: 26 actions that share one `user_id` but name 26 accounts are 26.
pub fn max_actions(actions: &[PlannedAction], limit: usize) -> Result<(), String> {
    let bounded: Vec<&PlannedAction> = actions.iter().filter(|a| a.kind.is_bounded()).collect();
    if bounded.len() > limit {
        let kinds: BTreeSet<ActionKind> = bounded.iter().map(|a| a.kind).collect();
        let kinds: Vec<&str> = kinds.into_iter().map(ActionKind::as_str).collect();
        let accounts: BTreeSet<String> = bounded
            .iter()
            .map(|a| {
                normalize(
                    a.target
                        .user_principal_name
                        .as_deref()
                        .unwrap_or(&a.target.id),
                )
            })
            .collect();
        return Err(format!(
            "the plan makes {} {} writes (on {} accounts), more than --max-actions {limit}; review the plan and pass a higher --max-actions explicitly if this is intended",
            bounded.len(),
            kinds.join("/"),
            accounts.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::source::ResourceKind;
    use serde_json::json;

    fn user_target(id: &str, upn: &str) -> Target {
        Target {
            kind: ResourceKind::User,
            id: id.into(),
            name: upn.into(),
            user_id: Some(id.into()),
            user_principal_name: Some(upn.into()),
            exchange_identity: None,
            rule_id: None,
            role_definition_id: None,
            role_name: None,
            done_if_changed_after: None,
            exclude_user_ids: vec![],
            restore: None,
            parent_id: None,
            parent_kind: None,
            method_id: None,
            method_type: None,
        }
    }

    #[test]
    fn break_glass_matches_upn_or_id_case_insensitively() {
        let t = user_target("id-1", "BreakGlass01@contoso.onmicrosoft.com");
        let list = vec!["breakglass01@contoso.onmicrosoft.com".to_owned()];
        assert!(break_glass(&list, &t).unwrap().contains("break-glass"));
        assert!(break_glass(&["id-1".to_owned()], &t).is_some());
        assert!(break_glass(&["someone@contoso.com".to_owned()], &t).is_none());
        // URL-encoded, any kind, any field.
        let mut t = Target::new(
            ResourceKind::RestrictedSender,
            "BreakGlass01%40Contoso.onmicrosoft.com",
            "x",
        );
        assert!(break_glass(&list, &t).is_some());
        t.id = "breakglass01%2540contoso.onmicrosoft.com".into();
        assert!(break_glass(&list, &t).is_some());
        let mut t = Target::new(ResourceKind::InboxRule, "id-1/rule-7", "r");
        assert!(break_glass(&["ID-1".to_owned()], &t).is_some());
        t.id = "other/rule".into();
        t.exchange_identity = Some("breakglass01@contoso.onmicrosoft.com\\rule".into());
        assert!(break_glass(&list, &t).is_some());
    }

    #[test]
    fn own_identity_is_refused() {
        let t = user_target("sp-1", "x");
        assert!(own_identity(Some("sp-1"), &t).is_some());
        assert!(own_identity(Some("sp-2"), &t).is_none());
        assert!(own_identity(None, &t).is_none());
    }

    #[test]
    fn last_global_admin_is_kept() {
        let mut t = user_target("a1", "x");
        t.kind = ResourceKind::RoleAssignment;
        t.role_definition_id = Some(GLOBAL_ADMINISTRATOR.into());
        let ga = |id: &str| {
            json!({"id": id, "roleDefinitionId": GLOBAL_ADMINISTRATOR})
                .as_object()
                .unwrap()
                .clone()
        };
        assert!(last_global_admin(&t, &[ga("a1")]).is_some());
        assert!(last_global_admin(&t, &[ga("a1"), ga("a2")]).is_none());
        // The plan says "other role" but the live assignment is GA: still refused.
        t.role_definition_id = Some("other-role".into());
        assert!(last_global_admin(&t, &[ga("a1")]).is_some());
        let other = json!({"id": "a1", "roleDefinitionId": "other-role"})
            .as_object()
            .unwrap()
            .clone();
        assert!(last_global_admin(&t, &[other, ga("a2")]).is_none());
    }
}
