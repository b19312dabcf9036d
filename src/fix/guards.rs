//! Guards no plan can override. Each returns the refusal reason, or `None` when the action
//! may proceed. They run at planning time (so the plan shows what it leaves alone) and
//! again at apply time against live state and the apply-time configuration.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::actions::ActionKind;
use super::live::GLOBAL_ADMINISTRATOR;
use super::plan::{PlannedAction, Target};

pub const DEFAULT_MAX_ACTIONS: usize = 25;

/// Break-glass accounts (UPNs or object ids, as written in m365guard.toml).
pub fn break_glass(accounts: &[String], target: &Target) -> Option<String> {
    let candidates = [
        target.user_id.as_deref(),
        target.user_principal_name.as_deref(),
        (target.kind == "user").then_some(target.id.as_str()),
    ];
    let hit = accounts.iter().find(|account| {
        candidates
            .iter()
            .flatten()
            .any(|c| c.eq_ignore_ascii_case(account))
    })?;
    Some(format!(
        "guard: {hit} is a break-glass account (m365guard.toml); fix mode never acts on it"
    ))
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

/// Distinct targets of actions that lock people out or take power away.
pub fn bounded_targets(actions: &[PlannedAction]) -> BTreeSet<String> {
    actions
        .iter()
        .filter(|a| a.kind.is_bounded())
        .map(|a| {
            a.target
                .user_id
                .clone()
                .unwrap_or_else(|| a.target.id.clone())
        })
        .collect()
}

/// `--max-actions`: refuse the whole run rather than half of it.
pub fn max_actions(actions: &[PlannedAction], limit: usize) -> Result<(), String> {
    let targets = bounded_targets(actions);
    if targets.len() > limit {
        let kinds: BTreeSet<ActionKind> = actions
            .iter()
            .filter(|a| a.kind.is_bounded())
            .map(|a| a.kind)
            .collect();
        let kinds: Vec<&str> = kinds.into_iter().map(ActionKind::as_str).collect();
        return Err(format!(
            "the plan would {} for {} accounts, more than --max-actions {limit}; review the plan and pass a higher --max-actions explicitly if this is intended",
            kinds.join("/"),
            targets.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user_target(id: &str, upn: &str) -> Target {
        Target {
            kind: "user".into(),
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
        }
    }

    #[test]
    fn break_glass_matches_upn_or_id_case_insensitively() {
        let t = user_target("id-1", "BreakGlass01@contoso.onmicrosoft.com");
        let list = vec!["breakglass01@contoso.onmicrosoft.com".to_owned()];
        assert!(break_glass(&list, &t).unwrap().contains("break-glass"));
        assert!(break_glass(&["id-1".to_owned()], &t).is_some());
        assert!(break_glass(&["someone@contoso.com".to_owned()], &t).is_none());
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
        t.kind = "role_assignment".into();
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
