//! Findings → plan. Each rule names its fix action (`rule.toml`); the planner resolves the
//! finding's target in the snapshot, records the state it saw as the precondition, adds
//! prerequisites (an account is secured before its sender block is lifted), merges
//! duplicates (three MFA rules on one user are one `enforce_mfa`), applies the guards,
//! and orders everything in playbook order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::actions::{state, ActionKind, State};
use super::guards;
use super::plan::{
    FindingRef, NotPlanned, Plan, PlanOrigin, PlannedAction, Target, DEFAULT_VALIDITY, PLAN_VERSION,
};
use crate::findings::ResourceKind;
use crate::findings::{Finding, RuleStatus, ScanResult, Severity};
use crate::snapshot::model::{DelegateRight, InboxRule, RuleSource, Snapshot};

/// What `fix plan` was asked to cover.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only findings of these rules (empty: all).
    pub rules: Vec<String>,
    /// Only findings at or above this severity.
    pub min_severity: Option<Severity>,
    /// Only findings about these users (UPN or object id; empty: all).
    pub users: Vec<String>,
    /// `delete_inbox_rule` instead of the default `disable_inbox_rule`.
    pub delete_rules: bool,
    /// Tenant-wide report-only CA policy instead of per-user MFA for `mfa_not_enforced`.
    pub mfa_via_conditional_access: bool,
    pub break_glass: Vec<String>,
    /// How long the plan may be applied (`None`: 24 h).
    pub valid_for: Option<chrono::Duration>,
    /// `--allow connector`: plan `disable_connector` (plan-only otherwise: connectors
    /// carry real mail flow).
    pub allow_connector: bool,
    /// `--allow app-changes`: plan `disable_service_principal` and `remove_credential`
    /// (otherwise listed as not planned, with the manual step).
    pub allow_app_changes: bool,
}

/// An action before ids are assigned.
struct Draft {
    kind: ActionKind,
    target: Target,
    precondition: State,
    fixes: Vec<FindingRef>,
    reason: String,
    /// Keys of actions that must run first.
    after: Vec<DraftKey>,
}

type DraftKey = (ActionKind, ResourceKind, String);

fn key(kind: ActionKind, target: &Target) -> DraftKey {
    (kind, target.kind, target.id.to_lowercase())
}

/// Collects actions, merging duplicates, and turns them into an ordered plan.
#[derive(Default)]
pub struct PlanBuilder {
    drafts: BTreeMap<DraftKey, Draft>,
    pub not_planned: Vec<NotPlanned>,
}

impl PlanBuilder {
    /// Add (or merge into) an action; returns its key for dependants.
    pub fn add(
        &mut self,
        kind: ActionKind,
        target: Target,
        precondition: State,
        reason: &str,
        fixes: Vec<FindingRef>,
        after: Vec<DraftKey>,
    ) -> DraftKey {
        let k = key(kind, &target);
        match self.drafts.get_mut(&k) {
            Some(existing) => {
                for f in fixes {
                    if !existing.fixes.contains(&f) {
                        existing.fixes.push(f);
                    }
                }
                for a in after {
                    if !existing.after.contains(&a) {
                        existing.after.push(a);
                    }
                }
                // The stricter "done" threshold wins when two findings ask for one reset.
                if let (Some(old), Some(new)) = (
                    existing.target.done_if_changed_after,
                    target.done_if_changed_after,
                ) {
                    existing.target.done_if_changed_after = Some(old.max(new));
                }
            }
            None => {
                self.drafts.insert(
                    k.clone(),
                    Draft {
                        kind,
                        target,
                        precondition,
                        fixes,
                        reason: reason.to_owned(),
                        after,
                    },
                );
            }
        }
        k
    }

    pub fn keys(&self) -> Vec<DraftKey> {
        self.drafts.keys().cloned().collect()
    }

    /// Ordered actions: playbook order of kinds, then target name; ids `a01`, `a02`, ….
    pub fn finish(self) -> (Vec<PlannedAction>, Vec<NotPlanned>) {
        let mut drafts: Vec<(DraftKey, Draft)> = self.drafts.into_iter().collect();
        drafts.sort_by(|(ka, a), (kb, b)| {
            (a.kind, a.target.name.to_lowercase(), ka).cmp(&(
                b.kind,
                b.target.name.to_lowercase(),
                kb,
            ))
        });
        let width = drafts.len().to_string().len().max(2);
        let ids: BTreeMap<DraftKey, String> = drafts
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), format!("a{:0width$}", i + 1)))
            .collect();
        let actions = drafts
            .into_iter()
            .map(|(k, d)| {
                let handler = d.kind.handler();
                let mut depends_on: Vec<String> =
                    d.after.iter().filter_map(|a| ids.get(a).cloned()).collect();
                depends_on.sort();
                PlannedAction {
                    id: ids[&k].clone(),
                    kind: d.kind,
                    write: handler.describe_write(&d.target),
                    verify: handler.describe_verify().to_owned(),
                    rollback: handler.rollback(&d.target, &d.precondition),
                    target: d.target,
                    precondition: d.precondition,
                    depends_on,
                    fixes: d.fixes,
                    reason: d.reason,
                }
            })
            .collect();
        let mut not_planned = self.not_planned;
        not_planned
            .sort_by(|a, b| (&a.rule_id, &a.resource_name).cmp(&(&b.rule_id, &b.resource_name)));
        not_planned.dedup();
        (actions, not_planned)
    }
}

pub fn user_target(id: &str, upn: &str) -> Target {
    Target {
        user_id: Some(id.to_owned()),
        user_principal_name: Some(upn.to_owned()),
        ..Target::new(ResourceKind::User, id, upn)
    }
}

pub fn inbox_rule_target(rule: &InboxRule) -> Target {
    Target {
        name: format!("{} (in {})", rule.name, rule.mailbox_upn),
        user_id: Some(rule.mailbox_id.clone()),
        user_principal_name: Some(rule.mailbox_upn.clone()),
        exchange_identity: match rule.source {
            RuleSource::Exchange => rule
                .exchange_identity
                .clone()
                .or_else(|| Some(rule.rule_id.clone())),
            RuleSource::Graph => None,
        },
        rule_id: Some(rule.rule_id.clone()),
        ..Target::new(ResourceKind::InboxRule, &rule.id, &rule.name)
    }
}

/// A mailbox's client access target and its `disable_mail_protocols` precondition: the
/// identity `Set-CASMailbox` gets is the primary SMTP address, the user is the mailbox's.
pub fn cas_mailbox_target(snapshot: &Snapshot, id: &str) -> Option<(Target, State)> {
    let m = snapshot
        .mail_protocols
        .mailboxes
        .iter()
        .find(|m| m.id == id)?;
    let upn = snapshot
        .mailboxes
        .iter()
        .find(|x| x.id == m.id)
        .map(|x| x.user_principal_name.clone())
        .unwrap_or_else(|| m.primary_smtp_address.clone());
    let target = Target {
        kind: ResourceKind::CasMailbox,
        exchange_identity: Some(m.primary_smtp_address.clone()),
        ..user_target(&m.id, &upn)
    };
    Some((target, super::actions::cas_mailbox_state(m)))
}

/// Reset the password and revoke sessions for a user (in that plan order: revoke runs
/// first by playbook order, both count as done when changed after `since`). Returns the
/// keys for dependants such as `unblock_sender`.
pub fn secure_account(
    builder: &mut PlanBuilder,
    user_id: &str,
    upn: &str,
    since: DateTime<Utc>,
    reason: &str,
    fixes: Vec<FindingRef>,
) -> Vec<DraftKey> {
    let mut target = user_target(user_id, upn);
    target.done_if_changed_after = Some(since);
    let pre = state([("user_principal_name", json!(upn))]);
    let reset = builder.add(
        ActionKind::ResetPassword,
        target.clone(),
        pre.clone(),
        reason,
        fixes.clone(),
        vec![],
    );
    let revoke = builder.add(
        ActionKind::RevokeSessions,
        target,
        pre,
        reason,
        fixes,
        vec![],
    );
    vec![revoke, reset]
}

fn finding_ref(f: &Finding) -> FindingRef {
    FindingRef {
        rule_id: f.rule_id.clone(),
        resource_kind: f.resource.kind,
        resource_id: f.resource.id.clone(),
        resource_name: f.resource.name.clone(),
        fingerprint: f.fingerprint.clone(),
    }
}

/// The user a finding is about, as (object id, UPN), when there is one.
fn finding_user(snapshot: &Snapshot, f: &Finding) -> Option<(String, String)> {
    let upn_of = |id: &str| {
        snapshot
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.user_principal_name.clone())
    };
    match f.resource.kind {
        ResourceKind::User | ResourceKind::RiskyUser => Some((
            f.resource.id.clone(),
            upn_of(&f.resource.id).unwrap_or_else(|| f.resource.name.clone()),
        )),
        ResourceKind::Mailbox => snapshot
            .mailboxes
            .iter()
            .find(|m| m.id == f.resource.id)
            .map(|m| (m.id.clone(), m.user_principal_name.clone())),
        ResourceKind::InboxRule => snapshot
            .inbox_rules
            .iter()
            .find(|r| r.id == f.resource.id)
            .map(|r| (r.mailbox_id.clone(), r.mailbox_upn.clone())),
        ResourceKind::MailboxDelegate => snapshot
            .mailbox_delegates
            .iter()
            .find(|d| d.id == f.resource.id)
            .map(|d| (d.mailbox_id.clone(), d.mailbox_upn.clone())),
        ResourceKind::MailboxFolderPermission => snapshot
            .mailbox_folder_permissions
            .iter()
            .find(|p| p.id == f.resource.id)
            .map(|p| (p.mailbox_id.clone(), p.mailbox_upn.clone())),
        ResourceKind::ExchangeRoleGroupMember => snapshot
            .exchange_role_groups
            .iter()
            .find(|m| m.id == f.resource.id)
            .and_then(|m| Some((m.member_id.clone()?, m.member_address.clone()?))),
        // A user's direct Exchange role: Exchange names the user, by UPN or display name.
        ResourceKind::ExchangeRoleAssignment => snapshot
            .exchange_role_assignments
            .iter()
            .find(|a| a.id == f.resource.id && a.assignee_type.eq_ignore_ascii_case("User"))
            .and_then(|a| {
                snapshot.users.iter().find(|u| {
                    u.user_principal_name.eq_ignore_ascii_case(&a.assignee)
                        || u.display_name.as_deref() == Some(a.assignee.as_str())
                })
            })
            .map(|u| (u.id.clone(), u.user_principal_name.clone())),
        ResourceKind::RestrictedSender => snapshot
            .outbound_spam
            .restricted_senders
            .iter()
            .find(|s| s.id == f.resource.id)
            .and_then(|s| s.user_id.clone())
            .map(|id| {
                let upn = upn_of(&id).unwrap_or_else(|| f.resource.id.clone());
                (id, upn)
            }),
        ResourceKind::CasMailbox => cas_mailbox_target(snapshot, &f.resource.id)
            .and_then(|(t, _)| Some((t.user_id?, t.user_principal_name?))),
        ResourceKind::RoleAssignment => snapshot
            .roles
            .assignments
            .iter()
            .find(|a| a.id == f.resource.id)
            .map(|a| {
                let upn = upn_of(&a.principal_id)
                    .or_else(|| a.principal_name.clone())
                    .unwrap_or_default();
                (a.principal_id.clone(), upn)
            }),
        ResourceKind::AuthMethod => snapshot
            .auth_methods
            .iter()
            .find(|m| m.id == f.resource.id)
            .map(|m| (m.user_id.clone(), m.user_principal_name.clone())),
        _ => None,
    }
}

/// Plan the fixes for a scan's failed findings.
pub fn from_scan(
    result: &ScanResult,
    snapshot: &Snapshot,
    options: &PlanOptions,
    now: DateTime<Utc>,
) -> Plan {
    let mut builder = PlanBuilder::default();
    let own = snapshot.collection.collector_principal_id.as_deref();
    let wanted_user = |user: Option<&(String, String)>| {
        options.users.is_empty()
            || user.is_some_and(|(id, upn)| {
                options
                    .users
                    .iter()
                    .any(|u| u.eq_ignore_ascii_case(id) || u.eq_ignore_ascii_case(upn))
            })
    };
    for outcome in &result.outcomes {
        // Not evaluated / not applicable: there are no findings to act on.
        if !matches!(outcome.status, RuleStatus::Failed | RuleStatus::Passed) {
            continue;
        }
        let rule = &outcome.rule;
        if !options.rules.is_empty() && !options.rules.contains(&rule.id) {
            continue;
        }
        for finding in outcome.findings.iter().filter(|f| f.is_waived()) {
            if let Some(w) = &finding.waiver {
                builder.not_planned.push(NotPlanned {
                    rule_id: rule.id.clone(),
                    resource_name: finding.resource.name.clone(),
                    reason: format!("waived in m365guard.toml until {}: {}", w.expires, w.reason),
                });
            }
        }
        for finding in outcome.active_findings() {
            if options.min_severity.is_some_and(|s| finding.severity < s) {
                continue;
            }
            let user = finding_user(snapshot, finding);
            if !wanted_user(user.as_ref()) {
                continue;
            }
            let refuse = |builder: &mut PlanBuilder, reason: String| {
                builder.not_planned.push(NotPlanned {
                    rule_id: rule.id.clone(),
                    resource_name: finding.resource.name.clone(),
                    reason,
                });
            };
            let Some(action) = rule.fix_action else {
                refuse(
                    &mut builder,
                    "no automatic fix: see `m365guard rules explain` for the manual remediation"
                        .into(),
                );
                continue;
            };
            if let Some((id, upn)) = &user {
                let probe = user_target(id, upn);
                let guard = guards::break_glass(&options.break_glass, &probe)
                    .or_else(|| guards::own_identity(own, &probe));
                if let Some(reason) = guard {
                    refuse(&mut builder, reason);
                    continue;
                }
            }
            if let Err(reason) = plan_finding(
                &mut builder,
                snapshot,
                finding,
                action.into(),
                user,
                options,
                now,
            ) {
                refuse(&mut builder, reason);
            }
        }
    }
    // Findings on break-glass accounts became exemptions when the config was applied.
    for exemption in &result.exemptions {
        builder.not_planned.push(NotPlanned {
            rule_id: "(any)".into(),
            resource_name: exemption.account.clone(),
            reason: "guard: break-glass account (m365guard.toml); fix mode never acts on it".into(),
        });
    }
    let (actions, not_planned) = builder.finish();
    Plan {
        plan_version: PLAN_VERSION,
        plan_id: crate::graph::new_guid(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        origin: PlanOrigin::Scan,
        tenant_id: result.info.tenant_id.clone(),
        snapshot_digest: result.info.snapshot_digest.clone(),
        snapshot_collected_at: result.info.collected_at,
        created_at: now,
        expires_at: now + options.valid_for.unwrap_or(DEFAULT_VALIDITY),
        break_glass: options.break_glass.clone(),
        config: None,
        collector_principal_id: own.map(str::to_owned),
        actions,
        not_planned,
    }
}

/// The snapshot's folder permission entry a finding names, and the target both folder
/// actions plan on: the planned folder goes into the plan's text, the write finds the
/// localised folder again live.
fn folder_permission_target<'s>(
    snapshot: &'s Snapshot,
    finding: &Finding,
) -> Result<(&'s crate::snapshot::model::MailboxFolderPermission, Target), String> {
    let p = snapshot
        .mailbox_folder_permissions
        .iter()
        .find(|p| p.id == finding.resource.id)
        .ok_or_else(|| {
            format!(
                "mailbox folder permission {} is not in the snapshot",
                finding.resource.id
            )
        })?;
    let target = Target {
        user_id: Some(p.mailbox_id.clone()),
        user_principal_name: Some(p.mailbox_upn.clone()),
        exchange_identity: Some(format!("{}:{}", p.mailbox_upn, p.folder_path)),
        ..Target::new(
            ResourceKind::MailboxFolderPermission,
            &p.id,
            &finding.resource.name,
        )
    };
    Ok((p, target))
}

fn plan_finding(
    builder: &mut PlanBuilder,
    snapshot: &Snapshot,
    finding: &Finding,
    kind: ActionKind,
    user: Option<(String, String)>,
    options: &PlanOptions,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let fixes = vec![finding_ref(finding)];
    let reason = format!("{}: {}", finding.rule_id, finding.message);
    let missing = |what: &str| format!("{what} {} is not in the snapshot", finding.resource.id);
    match kind {
        ActionKind::EnforceMfa
            if options.mfa_via_conditional_access && finding.rule_id == "mfa_not_enforced" =>
        {
            let exclude: Vec<String> = snapshot
                .users
                .iter()
                .filter(|u| {
                    options.break_glass.iter().any(|b| {
                        b.eq_ignore_ascii_case(&u.id)
                            || b.eq_ignore_ascii_case(&u.user_principal_name)
                    })
                })
                .map(|u| u.id.clone())
                .collect();
            let name = snapshot
                .tenant
                .display_name
                .clone()
                .unwrap_or_else(|| snapshot.tenant.id.clone());
            let target = Target {
                exclude_user_ids: exclude,
                ..Target::new(ResourceKind::Tenant, &snapshot.tenant.id, &name)
            };
            let pre = state([("m365guard_policy_state", Value::Null)]);
            builder.add(
                kind,
                target,
                pre,
                "mfa_not_enforced: create a report-only conditional access policy requiring MFA for all users (switch it on after review)",
                fixes,
                vec![],
            );
        }
        ActionKind::EnforceMfa => {
            let (id, upn) = user.ok_or_else(|| missing("user"))?;
            let seen = snapshot
                .users
                .iter()
                .find(|u| u.id == id)
                .and_then(|u| u.per_user_mfa_state)
                .map(|s| serde_json::to_value(s).unwrap_or(Value::Null));
            // Without per-user MFA data in the snapshot there is nothing to compare.
            let pre = seen
                .map(|s| state([("per_user_mfa_state", s)]))
                .unwrap_or_default();
            builder.add(kind, user_target(&id, &upn), pre, &reason, fixes, vec![]);
        }
        ActionKind::ResetPassword | ActionKind::RevokeSessions => {
            let (id, upn) = user.ok_or_else(|| missing("user"))?;
            secure_account(builder, &id, &upn, now, &reason, fixes);
        }
        ActionKind::BlockSignIn | ActionKind::UnblockSignIn => {
            let (id, upn) = user.ok_or_else(|| missing("user"))?;
            let pre = state([("account_enabled", json!(kind == ActionKind::BlockSignIn))]);
            builder.add(kind, user_target(&id, &upn), pre, &reason, fixes, vec![]);
        }
        ActionKind::ClearMailboxForwarding => {
            let mailbox = snapshot
                .mailboxes
                .iter()
                .find(|m| m.id == finding.resource.id)
                .ok_or_else(|| missing("mailbox"))?;
            let target = Target {
                kind: ResourceKind::Mailbox,
                ..user_target(&mailbox.id, &mailbox.user_principal_name)
            };
            let pre = super::actions::clear_mailbox_forwarding_state(mailbox);
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::DisableInboxRule | ActionKind::DeleteInboxRule => {
            let rule = snapshot
                .inbox_rules
                .iter()
                .find(|r| r.id == finding.resource.id)
                .ok_or_else(|| missing("inbox rule"))?;
            let kind = if options.delete_rules {
                ActionKind::DeleteInboxRule
            } else {
                kind
            };
            let pre = super::actions::inbox_rule_state(rule);
            builder.add(kind, inbox_rule_target(rule), pre, &reason, fixes, vec![]);
        }
        ActionKind::RemoveRoleAssignment | ActionKind::RemoveRoleEligibility => {
            // A finding about an eligible (PIM) assignment (`resource_type`
            // `role_eligibility`) is fixed by removing the eligibility: removing only
            // active assignments would leave its holder able to re-activate the role.
            let active = snapshot
                .roles
                .assignments
                .iter()
                .find(|a| a.id == finding.resource.id);
            let eligible = || {
                snapshot
                    .roles
                    .eligible_assignments
                    .iter()
                    .find(|a| a.id == finding.resource.id)
            };
            let (kind, resource_kind, assignment) = match (active, eligible()) {
                (Some(a), _) => (
                    ActionKind::RemoveRoleAssignment,
                    ResourceKind::RoleAssignment,
                    a,
                ),
                (None, Some(a)) => (
                    ActionKind::RemoveRoleEligibility,
                    ResourceKind::RoleEligibility,
                    a,
                ),
                (None, None) => {
                    return Err(format!(
                        "{} is neither an active nor an eligible assignment in the snapshot",
                        finding.resource.name
                    ))
                }
            };
            if assignment.principal_type == crate::snapshot::model::PrincipalType::Group {
                return Err(format!(
                    "{} is held through a group: removing the assignment would demote every member; remove the guest from the group instead",
                    finding.resource.name
                ));
            }
            let role_name = snapshot
                .roles
                .definitions
                .iter()
                .find(|d| d.id == assignment.role_definition_id)
                .map(|d| d.display_name.clone());
            let target = Target {
                user_id: Some(assignment.principal_id.clone()),
                user_principal_name: user.map(|(_, upn)| upn),
                role_definition_id: Some(assignment.role_definition_id.clone()),
                role_name,
                ..Target::new(resource_kind, &assignment.id, &finding.resource.name)
            };
            let pre = state([
                ("role_definition_id", json!(assignment.role_definition_id)),
                ("principal_id", json!(assignment.principal_id)),
            ]);
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::DeleteAuthMethod => {
            super::actions::plan_delete_auth_method(builder, snapshot, finding, &reason, fixes)?;
        }
        ActionKind::UnblockSender => {
            let sender = snapshot
                .outbound_spam
                .restricted_senders
                .iter()
                .find(|s| s.id == finding.resource.id)
                .ok_or_else(|| missing("restricted sender"))?;
            let Some((id, upn)) = user else {
                return Err(format!(
                    "{} cannot be tied to a user in the snapshot: secure that account by hand before unblocking it",
                    sender.id
                ));
            };
            // Secured means: password changed and sessions revoked after the block.
            let since = sender.created.unwrap_or(now).min(now);
            let after = secure_account(
                builder,
                &id,
                &upn,
                since,
                "restricted_sender: secure the account before lifting the sending block",
                vec![],
            );
            let target = Target {
                user_id: Some(id.clone()),
                user_principal_name: Some(upn.clone()),
                ..Target::new(ResourceKind::RestrictedSender, &sender.id, &sender.id)
            };
            let pre = state([("restricted", json!(true))]);
            builder.add(kind, target, pre, &reason, fixes, after);
        }
        ActionKind::DisableMailProtocols => {
            let target = match finding.resource.kind {
                ResourceKind::TransportSettings => {
                    let t = snapshot
                        .mail_protocols
                        .transport
                        .iter()
                        .find(|t| t.id == finding.resource.id)
                        .ok_or_else(|| missing("transport settings"))?;
                    let pre = state([(
                        "smtp_client_authentication_disabled",
                        json!(t.smtp_client_authentication_disabled),
                    )]);
                    let target =
                        Target::new(ResourceKind::TransportSettings, &t.id, "organisation");
                    builder.add(kind, target, pre, &reason, fixes, vec![]);
                    return Ok(());
                }
                _ => cas_mailbox_target(snapshot, &finding.resource.id)
                    .ok_or_else(|| missing("mailbox"))?,
            };
            builder.add(kind, target.0, target.1, &reason, fixes, vec![]);
        }
        ActionKind::EnableAuditLogging => {
            let target = match finding.resource.kind {
                ResourceKind::AuditBypass => {
                    let pre = state([("audit_bypass_enabled", json!(true))]);
                    (
                        Target::new(
                            ResourceKind::AuditBypass,
                            &finding.resource.id,
                            &finding.resource.name,
                        ),
                        pre,
                    )
                }
                _ => {
                    let config = snapshot
                        .audit_config
                        .organization
                        .iter()
                        .find(|c| c.id == finding.resource.id)
                        .ok_or_else(|| missing("audit configuration"))?;
                    let manual = config.unified_audit_log_ingestion_enabled == Some(false);
                    if config.audit_disabled != Some(true) {
                        return Err(super::actions::UNIFIED_AUDIT_LOG_MANUAL.to_owned());
                    }
                    if manual {
                        builder.not_planned.push(NotPlanned {
                            rule_id: finding.rule_id.clone(),
                            resource_name: finding.resource.name.clone(),
                            reason: super::actions::UNIFIED_AUDIT_LOG_MANUAL.to_owned(),
                        });
                    }
                    let pre = state([("audit_disabled", json!(true))]);
                    (
                        Target::new(
                            ResourceKind::AuditConfig,
                            &config.id,
                            &finding.resource.name,
                        ),
                        pre,
                    )
                }
            };
            builder.add(kind, target.0, target.1, &reason, fixes, vec![]);
        }
        ActionKind::SuspendMailAccess | ActionKind::RestoreMailAccess => {
            return Err("respond-only action (respond --user)".to_owned());
        }
        ActionKind::DisableTransportRule => {
            let rule = snapshot
                .transport_rules
                .iter()
                .find(|r| r.id == finding.resource.id)
                .ok_or_else(|| missing("transport rule"))?;
            let target = Target {
                exchange_identity: Some(rule.id.clone()),
                ..Target::new(ResourceKind::TransportRule, &rule.id, &rule.name)
            };
            let pre = super::actions::transport_rule_state(rule);
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::DisableConnector if !options.allow_connector => {
            return Err("plan-only: disabling a connector changes real mail flow; review it, then plan again with `--allow connector` to include disable_connector".into());
        }
        ActionKind::DisableConnector => {
            let (name, pre) = match finding.resource.kind {
                ResourceKind::InboundConnector => snapshot
                    .inbound_connectors
                    .iter()
                    .find(|c| c.id == finding.resource.id)
                    .map(|c| (c.name.clone(), super::actions::inbound_connector_state(c))),
                _ => snapshot
                    .outbound_connectors
                    .iter()
                    .find(|c| c.id == finding.resource.id)
                    .map(|c| (c.name.clone(), super::actions::outbound_connector_state(c))),
            }
            .ok_or_else(|| missing("connector"))?;
            let target = Target {
                exchange_identity: Some(finding.resource.id.clone()),
                ..Target::new(finding.resource.kind, &finding.resource.id, &name)
            };
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::RevokeConsentGrant
        | ActionKind::RemoveAppRoleAssignment
        | ActionKind::RemoveCredential
        | ActionKind::DisableServicePrincipal
        | ActionKind::RestrictUserConsent => {
            let (kind, target, pre) =
                super::apps_plan::plan(snapshot, finding, kind, options.allow_app_changes)?;
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::DisableOutboundAutoForwarding => {
            let policy = snapshot
                .outbound_spam
                .policies
                .iter()
                .find(|p| p.id == finding.resource.id)
                .ok_or_else(|| missing("outbound spam policy"))?;
            let target = Target::new(ResourceKind::OutboundSpamPolicy, &policy.id, &policy.id);
            let pre = state([("auto_forwarding_mode", json!(policy.auto_forwarding_mode))]);
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        // One rule, three cmdlets: the delegate's right decides which removes it.
        ActionKind::RemoveMailboxPermission
        | ActionKind::RemoveRecipientPermission
        | ActionKind::RemoveSendOnBehalf => {
            let d = snapshot
                .mailbox_delegates
                .iter()
                .find(|d| d.id == finding.resource.id)
                .ok_or_else(|| missing("mailbox delegate"))?;
            let (kind, pre) = match d.right {
                DelegateRight::FullAccess => (
                    ActionKind::RemoveMailboxPermission,
                    super::actions::mailbox_permission_state(&d.access_rights),
                ),
                DelegateRight::SendAs => (
                    ActionKind::RemoveRecipientPermission,
                    state([("send_as", json!(true))]),
                ),
                DelegateRight::SendOnBehalf => (
                    ActionKind::RemoveSendOnBehalf,
                    state([("send_on_behalf", json!(true))]),
                ),
            };
            let target = Target {
                user_id: Some(d.mailbox_id.clone()),
                user_principal_name: Some(d.mailbox_upn.clone()),
                ..Target::new(ResourceKind::MailboxDelegate, &d.id, &finding.resource.name)
            };
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::ResetFolderPermission => {
            let (p, target) = folder_permission_target(snapshot, finding)?;
            let pre = super::actions::folder_permission_state(&p.access_rights);
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        // A named user's entry: removed, never a Default or Anonymous one (reset above).
        ActionKind::RemoveFolderPermission => {
            let (p, target) = folder_permission_target(snapshot, finding)?;
            if p.principal != crate::snapshot::model::FolderPrincipal::User {
                return Err(format!(
                    "'{}' is the folder's {} entry: mailbox_folder_open's reset_folder_permission sets it, it is never removed",
                    p.id, p.user
                ));
            }
            let pre = super::actions::named_folder_permission_state(
                &p.access_rights,
                &p.sharing_permission_flags,
            );
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::RemoveManagementRoleAssignment => {
            let a = snapshot
                .exchange_role_assignments
                .iter()
                .find(|a| a.id == finding.resource.id)
                .ok_or_else(|| missing("management role assignment"))?;
            if a.assignee_type.eq_ignore_ascii_case("ServicePrincipal")
                && !options.allow_app_changes
            {
                return Err("plan-only: the role is assigned to a service principal (RBAC for Applications); an app's process may depend on it: review it, then plan again with `--allow app-changes` to include remove_management_role_assignment".into());
            }
            let mut target =
                super::actions::management_role_assignment_target(a, &finding.resource.name);
            // A user's assignment names the user (for `--user` and the account guards).
            if let Some((id, upn)) = finding_user(snapshot, finding) {
                target.user_id = Some(id);
                target.user_principal_name = Some(upn);
            }
            let pre = super::actions::management_role_assignment_state(a);
            builder.add(kind, target, pre, &reason, fixes, vec![]);
        }
        ActionKind::RemoveRoleGroupMember => {
            let m = snapshot
                .exchange_role_groups
                .iter()
                .find(|m| m.id == finding.resource.id)
                .ok_or_else(|| missing("role group member"))?;
            let target = super::actions::role_group_member_target(m, &finding.resource.name);
            builder.add(
                kind,
                target,
                super::actions::role_group_member_state(m),
                &reason,
                fixes,
                vec![],
            );
        }
    }
    Ok(())
}
