//! Apply a plan, one action at a time, each:
//! dependencies satisfied? → guards → read the live target → already done? → changed
//! since the plan? → save evidence → write → read back until the change shows (directory
//! writes are eventually consistent) → one fsync'd audit-log line.
//!
//! A failed action does not stop independent actions; a failed prerequisite stops the
//! actions that depend on it. Nothing here acts on the plan's copy of the state.
//!
//! Before the first action, the whole run stops (no write at all) when the plan's
//! identifiers are malformed, when the token has no `tid` claim or names another tenant
//! than the plan's, or when the declared break-glass accounts cannot be resolved live.
//! (Earlier still, before signing in, `fix apply` refuses a plan made with another
//! m365guard.toml than its own: `Plan::check_config`.) The break-glass guard uses the union
//! of the plan's accounts and the apply-time config's, so a config change can only add
//! protection.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Error, ErrorKind};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::actions::{changed_fields, State};
use super::audit::{AuditLog, Entry, Outcome};
use super::evidence::Evidence;
use super::guards;
use super::live::Live;
use super::password::PasswordSink;
use super::plan::{is_guid, is_upn, Plan, PlannedAction, Target};

pub struct ApplyOptions {
    /// Break-glass accounts from the apply-time m365guard.toml (the plan's own list is
    /// always honoured too).
    pub break_glass: Vec<String>,
    /// Object id of the signed-in service principal (`oid` of our token).
    pub own_principal_id: Option<String>,
    /// Pauses between read-back attempts after a write.
    pub verify_delays: Vec<Duration>,
    /// Actions of this plan an earlier run completed (from the audit log).
    pub completed_earlier: BTreeSet<String>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            break_glass: Vec::new(),
            own_principal_id: None,
            verify_delays: [0, 1, 2, 4, 8]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            completed_earlier: BTreeSet::new(),
        }
    }
}

/// What happened to one action.
#[derive(Debug, Clone)]
pub struct ActionResult {
    pub id: String,
    pub kind: super::actions::ActionKind,
    pub target: String,
    pub outcome: Outcome,
    pub detail: String,
}

pub struct Sinks<'a> {
    pub audit: &'a mut AuditLog,
    pub evidence: &'a Evidence,
    pub passwords: &'a mut PasswordSink,
}

/// Run every action of `plan` in order; `report` sees each result as it happens.
pub fn apply(
    plan: &Plan,
    live: &Live<'_>,
    options: &ApplyOptions,
    sinks: &mut Sinks<'_>,
    mut report: impl FnMut(&ActionResult),
) -> std::io::Result<Vec<ActionResult>> {
    let refuse = |message: String| Error::new(ErrorKind::InvalidInput, message);
    plan.check_consistency()
        .map_err(|m| refuse(format!("refusing the plan: {m}")))?;
    check_tenant(plan, live)?;
    let break_glass = declared_break_glass(plan, options, live)?;
    let mut outcomes: BTreeMap<&str, Outcome> = BTreeMap::new();
    let mut results = Vec::new();
    for action in &plan.actions {
        let mut run = Run {
            before: None,
            after: None,
            request_id: None,
        };
        let (outcome, detail) = run_one(
            plan,
            action,
            live,
            options,
            &break_glass,
            sinks,
            &outcomes,
            &mut run,
        );
        outcomes.insert(&action.id, outcome);
        tracing::info!(
            action = action.id.as_str(),
            kind = action.kind.as_str(),
            outcome = outcome.as_str(),
            detail = detail.as_str(),
            "fix action"
        );
        sinks.audit.append(&Entry {
            time: Utc::now(),
            tenant: &plan.tenant_id,
            plan_id: &plan.plan_id,
            action_id: &action.id,
            action: action.kind,
            target: &action.target,
            outcome,
            detail: detail.clone(),
            before: run.before.as_ref(),
            after: run.after.as_ref(),
            request_id: run.request_id.as_deref(),
        })?;
        let result = ActionResult {
            id: action.id.clone(),
            kind: action.kind,
            target: action.target.name.clone(),
            outcome,
            detail,
        };
        report(&result);
        results.push(result);
    }
    Ok(results)
}

/// The token must say which tenant it is for, and it must be the plan's: a plan made for
/// one tenant is never applied to another (a token without `tid` cannot prove it).
fn check_tenant(plan: &Plan, live: &Live<'_>) -> std::io::Result<()> {
    let tid = live
        .graph
        .token_tenant()
        .map_err(|e| Error::other(format!("cannot check which tenant the sign-in is for: {e}")))?;
    match tid {
        None => Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "the access token has no `tid` claim, so it cannot be shown to be for tenant {}; refusing to apply",
                plan.tenant_id
            ),
        )),
        Some(tid) if !tid.eq_ignore_ascii_case(&plan.tenant_id) => Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "the plan is for tenant {}, but the access token is for tenant {tid}; refusing to apply",
                plan.tenant_id
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// The declared break-glass accounts (the plan's and the apply-time config's) in every
/// form: as written, and each resolved live to its object id and UPN — so a plan naming
/// the account by id is caught when the config lists its UPN, and the reverse.
fn declared_break_glass(
    plan: &Plan,
    options: &ApplyOptions,
    live: &Live<'_>,
) -> std::io::Result<BTreeSet<String>> {
    let written: BTreeSet<String> = plan
        .break_glass
        .iter()
        .chain(&options.break_glass)
        .map(|a| guards::normalize(a))
        .collect();
    let mut all = written.clone();
    all.extend(
        live_identities(live, written.iter().map(String::as_str)).map_err(|e| {
            Error::other(format!(
                "cannot resolve the break-glass accounts, so the guard cannot be checked: {e}"
            ))
        })?,
    );
    Ok(all)
}

/// Object id and UPN (normalized) of every user that one of `candidates` names. Only
/// GUID- and UPN-shaped candidates are looked up (anything else cannot be a user and must
/// not become part of a URL).
fn live_identities<'c>(
    live: &Live<'_>,
    candidates: impl Iterator<Item = &'c str>,
) -> Result<BTreeSet<String>, crate::graph::ApiError> {
    let mut out = BTreeSet::new();
    let mut looked_up = BTreeSet::new();
    for candidate in candidates {
        if !(is_guid(candidate) || is_upn(candidate)) || !looked_up.insert(candidate.to_owned()) {
            continue;
        }
        // `Live::user` escapes the UPN (a guest's `#` would end the URL path).
        if let Some(user) = live.user(candidate)? {
            for key in ["id", "userPrincipalName"] {
                if let Some(v) = user.get(key).and_then(Value::as_str) {
                    out.insert(guards::normalize(v));
                }
            }
        }
    }
    Ok(out)
}

/// The break-glass guard for one target: its identifiers as written, then resolved live.
fn break_glass_guard(
    declared: &BTreeSet<String>,
    target: &Target,
    live: &Live<'_>,
) -> Result<Option<String>, String> {
    if declared.is_empty() {
        return Ok(None);
    }
    let mut ids = guards::target_identifiers(target);
    if let Some(reason) = guards::break_glass_hit(declared, &ids) {
        return Ok(Some(reason));
    }
    let resolved = live_identities(live, ids.iter().map(String::as_str))
        .map_err(|err| format!("cannot check the break-glass guard: {err}"))?;
    ids.extend(resolved);
    Ok(guards::break_glass_hit(declared, &ids))
}

/// When an earlier run of this plan completed `action` *and* a later action on the same
/// target (e.g. `unblock_sign_in` after `block_sign_in`), the live state differs from the
/// action's target state because the plan itself changed it: re-applying would undo the
/// later step. Returns that later step's id.
fn changed_on_purpose<'p>(
    plan: &'p Plan,
    action: &PlannedAction,
    completed: &BTreeSet<String>,
) -> Option<&'p str> {
    if !completed.contains(&action.id) {
        return None;
    }
    plan.actions
        .iter()
        .skip_while(|a| a.id != action.id)
        .skip(1)
        .find(|a| {
            a.target.kind == action.target.kind
                && a.target.id == action.target.id
                && completed.contains(&a.id)
        })
        .map(|a| a.id.as_str())
}

/// What one action saw and did, for its audit line.
struct Run {
    before: Option<Value>,
    after: Option<Value>,
    request_id: Option<String>,
}

fn as_value(state: &Option<State>) -> Value {
    state.clone().map_or(Value::Null, Value::Object)
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    plan: &Plan,
    action: &PlannedAction,
    live: &Live<'_>,
    options: &ApplyOptions,
    break_glass: &BTreeSet<String>,
    sinks: &mut Sinks<'_>,
    outcomes: &BTreeMap<&str, Outcome>,
    run: &mut Run,
) -> (Outcome, String) {
    let handler = action.kind.handler();
    for dep in &action.depends_on {
        let outcome = outcomes.get(dep.as_str()).copied();
        if !outcome.is_some_and(Outcome::satisfied) {
            let what = outcome.map_or("not run", Outcome::as_str);
            return (
                Outcome::Skipped,
                format!("prerequisite {dep} was {what}; not attempted"),
            );
        }
    }
    // Both the identity applying now and the one that collected the plan's snapshot.
    let own_identity = [
        options.own_principal_id.as_deref(),
        plan.collector_principal_id.as_deref(),
    ]
    .into_iter()
    .find_map(|own| guards::own_identity(own, &action.target));
    if let Some(reason) = own_identity {
        return (Outcome::Refused, reason);
    }
    // Every action kind: the plan may name the account by object id only while
    // m365guard.toml lists its UPN (or the reverse), URL-encoded, or under another kind.
    match break_glass_guard(break_glass, &action.target, live) {
        Ok(Some(reason)) => return (Outcome::Refused, reason),
        Ok(None) => {}
        Err(reason) => return (Outcome::Failed, reason),
    }
    if action.kind == super::actions::ActionKind::RemoveRoleAssignment {
        match live.role_assignments() {
            Ok(assignments) => {
                if let Some(reason) = guards::last_global_admin(&action.target, &assignments) {
                    return (Outcome::Refused, reason);
                }
            }
            Err(err) => return (Outcome::Failed, format!("cannot check the guard: {err}")),
        }
    }

    if let Some(later) = changed_on_purpose(plan, action, &options.completed_earlier) {
        return (
            Outcome::AlreadyDone,
            format!("done in an earlier run of this plan; its later step {later} has changed the target since, on purpose"),
        );
    }

    let state = match handler.read(live, &action.target) {
        Ok(state) => state,
        Err(err) => return (Outcome::Failed, format!("cannot read the target: {err}")),
    };
    run.before = Some(as_value(&state));
    if handler.is_done(&action.target, state.as_ref()) {
        return (
            Outcome::AlreadyDone,
            "the live state already is the target state".into(),
        );
    }
    let Some(current) = &state else {
        return (
            Outcome::Skipped,
            "the target no longer exists (changed since the plan); make a new plan".into(),
        );
    };
    let changes = changed_fields(&action.precondition, current);
    if !changes.is_empty() {
        return (
            Outcome::Skipped,
            format!(
                "changed since the plan ({}); make a new plan",
                changes.join("; ")
            ),
        );
    }

    let mut before = current.clone();
    let definition = before.remove(super::actions::DEFINITION);
    let record = serde_json::json!({
        "plan_id": plan.plan_id,
        "tenant": plan.tenant_id,
        "saved_at": Utc::now(),
        "action": action,
        "before": before,
        "definition": definition,
    });
    if let Err(err) = sinks
        .evidence
        .save(&format!("{}-{}-before", action.id, action.kind), &record)
    {
        // No evidence, no change: the definition could not be recovered afterwards.
        return (Outcome::Failed, format!("not applied: {err}"));
    }

    let receipt = match handler.write(live, &action.target, sinks.passwords) {
        Ok(receipt) => receipt,
        Err(err) => return (Outcome::Failed, err.to_string()),
    };
    run.request_id = receipt.request_id.filter(|r| !r.is_empty());
    let created = receipt
        .created_id
        .map(|id| format!(" (created {id})"))
        .unwrap_or_default();

    let mut last = None;
    for delay in &options.verify_delays {
        std::thread::sleep(*delay);
        match handler.read(live, &action.target) {
            Ok(after) => {
                let done = handler.is_done(&action.target, after.as_ref());
                run.after = Some(as_value(&after));
                if done {
                    return (Outcome::Applied, format!("applied and verified{created}"));
                }
                last = Some("the change is not visible yet".to_owned());
            }
            Err(err) => last = Some(format!("read-back failed: {err}")),
        }
    }
    (
        Outcome::Failed,
        format!(
            "the write was accepted{created} but verification failed: {}",
            last.unwrap_or_default()
        ),
    )
}
