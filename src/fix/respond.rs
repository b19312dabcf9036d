//! `m365guard respond --user UPN`: Microsoft's compromised-account procedure as a plan.
//!
//! It first collects what it needs for that one user — sign-in state, per-user MFA,
//! mailbox forwarding, inbox rules (hidden ones too), role assignments, the
//! restricted-senders entry — into a one-user snapshot, saves it as evidence, evaluates the
//! forwarding and inbox-rule rules on it (the same Rego as `scan`), and builds the plan:
//! block sign-in, and while it is blocked turn off ActiveSync, OWA for devices, POP, IMAP
//! and SMTP AUTH (Microsoft's step 5; restored as recorded by `--restore-access`);
//! revoke sessions; reset password; enforce MFA; clear mailbox forwarding;
//! disable forwarding and hiding inbox rules; remove admin roles, active and eligible, then
//! membership of the privileged Exchange role groups (opt-in, Microsoft's step 6); delete
//! the authentication methods registered in the compromise window (never the last);
//! revoke the OAuth consent grants the user gave in that window (`respond_consents`; all
//! of the user's grants are listed for review); unblock the
//! restricted sender (only once the account is secured); re-enable sign-in (opt-in,
//! only when everything before it succeeded).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::actions::{self, state, ActionKind};
use super::guards;
use super::live::Live;
use super::plan::{
    FindingRef, NotPlanned, Plan, PlanOrigin, Target, DEFAULT_VALIDITY, PLAN_VERSION,
};
use super::planner::{
    cas_mailbox_target, inbox_rule_target, secure_account, user_target, PlanBuilder,
};
use crate::auth::Settings;
use crate::collect::{self, Ctx};
use crate::config::Config;
use crate::findings::ScanResult;
use crate::graph::ApiError;
use crate::policy::pack::Pack;
use crate::scan;
use crate::snapshot::model::{PerUserMfaState, RestrictedSender, Snapshot, SourceId, SourceState};
use crate::snapshot::source::ResourceKind;

/// The rules evaluated on the one-user snapshot (the rest need the whole tenant).
pub const RULES: [&str; 3] = [
    "mailbox_external_forwarding",
    "inbox_rule_external_forwarding",
    "inbox_rule_hides_mail",
];

#[derive(Debug, Clone, Default)]
pub struct RespondOptions {
    pub user: String,
    pub remove_admin_roles: bool,
    pub restore_access: bool,
    pub break_glass: Vec<String>,
    /// Start of the review window (`--since`; default 30 days back): transport rules and
    /// connectors changed since then are listed.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error("user {0} was not found in the tenant")]
    NoSuchUser(String),
    #[error("{0}")]
    Refused(String),
    #[error("collecting {what} for {user}: {source}")]
    Collect {
        what: &'static str,
        user: String,
        source: Box<ApiError>,
    },
    #[error(transparent)]
    Scan(#[from] crate::scan::ScanError),
}

/// One user's collected state and the rules' verdict on it.
pub struct UserState {
    pub snapshot: Snapshot,
    /// The snapshot as written to evidence (stable JSON); its digest binds the plan.
    pub text: String,
    pub scan: ScanResult,
    /// The OAuth grants the user gave (issue 12), with their consent times.
    pub consents: super::respond_consents::UserConsents,
}

/// Collect one user's state (fails rather than planning on partial data). `config` gives
/// the rules their allowed forwarding domains.
pub fn collect_user(
    live: &Live<'_>,
    settings: &Settings,
    pack: &Pack,
    config: Option<&Config>,
    options: &RespondOptions,
) -> Result<UserState, RespondError> {
    let err = |what: &'static str| {
        let user = options.user.clone();
        move |source: ApiError| RespondError::Collect {
            what,
            user,
            source: Box::new(source),
        }
    };
    let raw = live
        .user(&options.user)
        .map_err(err("the user"))?
        .ok_or_else(|| RespondError::NoSuchUser(options.user.clone()))?;
    let mut user = collect::users::map_user(&raw)
        .ok_or_else(|| RespondError::NoSuchUser(options.user.clone()))?;
    let mut ctx = Ctx {
        graph: live.graph.clone(),
        exchange: live.exchange.clone(),
        snapshot: collect::empty_snapshot(settings),
        deep: false,
    };
    collect::organization::collect(&mut ctx);
    collect::roles::collect(&mut ctx);
    for source in [SourceId::Organization, SourceId::Roles] {
        let status = &ctx.snapshot.sources[&source];
        if status.status != SourceState::Ok {
            return Err(RespondError::Refused(format!(
                "cannot collect {source:?} for {}: {}",
                options.user,
                status.reason.clone().unwrap_or_default()
            )));
        }
    }
    if options.remove_admin_roles {
        // Eligible (PIM) roles too: an eligible attacker re-activates a removed role at
        // will. Without Entra ID P2 there is no PIM and so nothing eligible (`unavailable`);
        // any other failure leaves the eligibility unknown, so respond stops.
        collect::role_eligibility::collect(&mut ctx);
        let status = &ctx.snapshot.sources[&SourceId::RoleEligibility];
        if !matches!(status.status, SourceState::Ok | SourceState::Unavailable) {
            return Err(RespondError::Refused(format!(
                "cannot read the eligible (PIM) roles of {} for --remove-admin-roles: {}",
                options.user,
                status.reason.clone().unwrap_or_default()
            )));
        }
    }
    let mut snapshot = ctx.snapshot;
    let me = user.id.clone();
    if options.remove_admin_roles {
        // Step 6 goes on in Exchange: the privileged role groups the user is in. A failed
        // read would leave a way back in unseen, so respond stops as for PIM.
        let members = collect::exchange_role_groups::fetch_all(&live.exchange).map_err(|e| {
            RespondError::Refused(format!(
                "cannot read the Exchange role groups of {} for --remove-admin-roles: {e}",
                options.user
            ))
        })?;
        let upn = user.user_principal_name.to_lowercase();
        snapshot.exchange_role_groups = members
            .into_iter()
            .filter(|m| {
                m.member_id.as_deref() == Some(me.as_str())
                    || m.member_address.as_deref() == Some(upn.as_str())
            })
            .collect();
        snapshot.sources.insert(
            SourceId::ExchangeRoleGroups,
            crate::snapshot::model::SourceStatus {
                status: SourceState::Ok,
                reason: None,
                items: snapshot.exchange_role_groups.len() as u64,
            },
        );
        // And the management roles assigned to the user directly, outside any role group
        // (an attacker's `New-ManagementRoleAssignment -Role ApplicationImpersonation -User`).
        snapshot.exchange_role_assignments =
            collect::exchange_rbac::fetch_user_direct_assignments(
                &live.exchange,
                &user.user_principal_name,
            )
            .map_err(|e| {
                RespondError::Refused(format!(
                    "cannot read the Exchange management role assignments of {} for --remove-admin-roles: {e}",
                    options.user
                ))
            })?;
        snapshot.sources.insert(
            SourceId::ExchangeRoleAssignments,
            crate::snapshot::model::SourceStatus {
                status: SourceState::Ok,
                reason: None,
                items: snapshot.exchange_role_assignments.len() as u64,
            },
        );
    }
    snapshot
        .roles
        .assignments
        .retain(|a| a.principal_id == me || a.group_member_ids.contains(&me));
    snapshot
        .roles
        .eligible_assignments
        .retain(|a| a.principal_id == me || a.group_member_ids.contains(&me));

    user.per_user_mfa_state = live
        .per_user_mfa(&me)
        .map_err(err("per-user MFA state"))?
        .and_then(|s| serde_json::from_value::<PerUserMfaState>(json!(s)).ok());
    let mailbox = live
        .mailbox(&user.user_principal_name)
        .map_err(err("the mailbox"))?;
    let rules = match &mailbox {
        Some(m) => live.inbox_rules(m).map_err(err("inbox rules"))?,
        None => Vec::new(),
    };
    // Client access (step 5's evidence: what `--restore-access` puts back).
    let cas = match &mailbox {
        Some(m) => live
            .exchange
            .invoke("Get-CASMailbox", json!({"Identity": m.user_principal_name}))
            .map_err(err("client access settings"))?
            .first()
            .and_then(collect::mail_protocols::map_mailbox),
        None => None,
    };
    let addresses: Vec<String> = std::iter::once(user.user_principal_name.clone())
        .chain(
            mailbox
                .iter()
                .filter_map(|m| m.primary_smtp_address.clone()),
        )
        .collect();
    let address_refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let restricted: Vec<RestrictedSender> = live
        .blocked_sender(&address_refs)
        .map_err(err("the restricted-senders list"))?
        .map(|entry| {
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
            RestrictedSender {
                id: text("SenderAddress")
                    .unwrap_or_else(|| user.user_principal_name.clone())
                    .to_lowercase(),
                user_id: Some(me.clone()),
                reason: text("Reason"),
                created: text("CreatedDatetime")
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc)),
            }
        })
        .into_iter()
        .collect();

    // Issue 12: the user's authentication methods, for the methods registered in the
    // compromise window. Not fatal: without UserAuthenticationMethod.Read.All the plan
    // says why it proposes none.
    let upn = user.user_principal_name.clone();
    let methods = collect::auth_methods::user_methods(&live.graph, &me, &upn);
    // The apps the user consented to: listed for review, revoked when consented in the
    // compromise window. Not fatal either: what was not read is named.
    let window = compromise_window_start(&snapshot);
    let consents = super::respond_consents::collect(live, &mut snapshot, &me, window);
    snapshot.users = vec![user];
    snapshot.mailboxes = mailbox.into_iter().collect();
    snapshot.inbox_rules = rules;
    snapshot.mail_protocols.mailboxes = cas.into_iter().collect();
    snapshot.outbound_spam.restricted_senders = restricted;
    let counts = [
        (SourceId::Users, 1),
        (SourceId::PerUserMfa, 1),
        (SourceId::Mailboxes, snapshot.mailboxes.len() as u64),
        (SourceId::InboxRules, snapshot.inbox_rules.len() as u64),
        (
            SourceId::MailProtocols,
            snapshot.mail_protocols.mailboxes.len() as u64,
        ),
        (
            SourceId::RestrictedSenders,
            snapshot.outbound_spam.restricted_senders.len() as u64,
        ),
    ];
    let mut sources = std::mem::take(&mut snapshot.sources);
    let methods_status = match methods {
        Ok(methods) => {
            let items = methods.len() as u64;
            snapshot.auth_methods = methods;
            crate::snapshot::model::SourceStatus {
                status: SourceState::Ok,
                reason: None,
                items,
            }
        }
        Err(e) => crate::snapshot::model::SourceStatus {
            status: SourceState::Error,
            reason: Some(e.to_string()),
            items: 0,
        },
    };
    sources.insert(SourceId::AuthMethods, methods_status);
    if !consents.not_read.contains_key("grants") {
        let grants = snapshot.apps.consent_grants.len() as u64;
        let apps = snapshot.apps.service_principals.len() as u64;
        for (source, items, what) in [
            (
                SourceId::ConsentGrants,
                grants,
                "the grants the user gave (respond)",
            ),
            (
                SourceId::ServicePrincipals,
                apps,
                "the apps of those grants (respond)",
            ),
        ] {
            let status = crate::snapshot::model::SourceStatus {
                status: SourceState::Ok,
                reason: Some(what.into()),
                items,
            };
            sources.insert(source, status);
        }
    }
    for (source, items) in counts {
        sources.insert(
            source,
            crate::snapshot::model::SourceStatus {
                status: SourceState::Ok,
                reason: None,
                items,
            },
        );
    }
    for source in SourceId::ALL {
        sources
            .entry(source)
            .or_insert_with(|| crate::snapshot::model::SourceStatus {
                status: SourceState::Unavailable,
                reason: Some("not collected by respond (one-user collection)".into()),
                items: 0,
            });
    }
    snapshot.sources = sources;
    let text = crate::snapshot::io::to_stable_json(&snapshot);
    // The scan pipeline on the one-user snapshot: the config's allowed forwarding domains
    // reach the rules; its waivers are not applied (an incident reviews the account's
    // approved forwarding like any other).
    let mut scan_settings = scan::Settings::new(
        scan::Input::Text {
            name: PathBuf::from("respond-snapshot.json"),
            text: text.clone(),
        },
        pack,
        config,
    );
    scan_settings.apply_waivers = false;
    scan_settings.only_rules = Some(RULES.iter().map(|r| (*r).to_owned()).collect());
    let output = scan::run(&scan_settings)?;
    Ok(UserState {
        snapshot: output.snapshot,
        text,
        scan: output.result,
        consents,
    })
}

fn refs(scan: &ScanResult, rule_ids: &[&str], resource_id: &str) -> Vec<FindingRef> {
    scan.outcomes
        .iter()
        .filter(|o| rule_ids.contains(&o.rule.id.as_str()))
        .flat_map(|o| o.active_findings())
        .filter(|f| f.resource.id == resource_id)
        .map(|f| FindingRef {
            rule_id: f.rule_id.clone(),
            resource_kind: f.resource.kind,
            resource_id: f.resource.id.clone(),
            resource_name: f.resource.name.clone(),
            fingerprint: f.fingerprint.clone(),
        })
        .collect()
}

/// The playbook for the collected user, in Microsoft's order.
pub fn playbook(
    collected: &UserState,
    options: &RespondOptions,
    own_principal_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Plan, RespondError> {
    let snapshot = &collected.snapshot;
    let user = &snapshot.users[0];
    let (id, upn) = (user.id.as_str(), user.user_principal_name.as_str());
    let probe = user_target(id, upn);
    if let Some(reason) = guards::break_glass(&options.break_glass, &probe)
        .or_else(|| guards::own_identity(own_principal_id, &probe))
    {
        return Err(RespondError::Refused(reason));
    }
    let mut b = PlanBuilder::default();
    let step = |n: u8, what: &str| format!("respond step {n}: {what}");

    b.add(
        ActionKind::BlockSignIn,
        user_target(id, upn),
        state([("account_enabled", json!(user.account_enabled))]),
        &step(1, "block sign-in while the account is secured"),
        vec![],
        vec![],
    );
    // Microsoft's step 5, taken with the block: no mail client reaches the mailbox meanwhile.
    let access = snapshot.mail_protocols.mailboxes.first();
    if let Some((target, _)) = access.and_then(|m| cas_mailbox_target(snapshot, &m.id)) {
        let what = "while sign-in is blocked, turn off ActiveSync, OWA for devices, POP, IMAP and SMTP AUTH (Microsoft's step 5)";
        let pre = access.map(actions::mail_access_state).unwrap_or_default();
        b.add(
            ActionKind::SuspendMailAccess,
            target,
            pre,
            &step(1, what),
            vec![],
            vec![],
        );
    }
    let secured = secure_account(
        &mut b,
        id,
        upn,
        now,
        &step(2, "revoke every session and reset the password"),
        vec![],
    );
    let mfa = user
        .per_user_mfa_state
        .map(|s| state([("per_user_mfa_state", json!(s))]))
        .unwrap_or_default();
    b.add(
        ActionKind::EnforceMfa,
        user_target(id, upn),
        mfa,
        &step(3, "require MFA"),
        vec![],
        vec![],
    );
    if let Some(mailbox) = snapshot.mailboxes.first() {
        let forwarding = mailbox.forwarding_smtp_address.is_some()
            || mailbox.forwarding_address.is_some()
            || mailbox.deliver_to_mailbox_and_forward;
        if forwarding {
            b.add(
                ActionKind::ClearMailboxForwarding,
                Target {
                    kind: ResourceKind::Mailbox,
                    ..user_target(&mailbox.id, &mailbox.user_principal_name)
                },
                actions::clear_mailbox_forwarding_state(mailbox),
                &step(4, "remove mailbox forwarding"),
                refs(
                    &collected.scan,
                    &["mailbox_external_forwarding"],
                    &mailbox.id,
                ),
                vec![],
            );
        }
    }
    for rule in &snapshot.inbox_rules {
        let fixes = refs(
            &collected.scan,
            &["inbox_rule_external_forwarding", "inbox_rule_hides_mail"],
            &rule.id,
        );
        if fixes.is_empty() {
            continue;
        }
        b.add(
            ActionKind::DisableInboxRule,
            inbox_rule_target(rule),
            actions::inbox_rule_state(rule),
            &step(5, "disable inbox rules that forward or hide mail"),
            fixes,
            vec![],
        );
    }
    if options.remove_admin_roles {
        let active = snapshot.roles.assignments.iter().map(|a| {
            (
                ActionKind::RemoveRoleAssignment,
                ResourceKind::RoleAssignment,
                a,
            )
        });
        let eligible = snapshot.roles.eligible_assignments.iter().map(|a| {
            (
                ActionKind::RemoveRoleEligibility,
                ResourceKind::RoleEligibility,
                a,
            )
        });
        for (kind, resource_kind, assignment) in active.chain(eligible) {
            let definition = snapshot
                .roles
                .definitions
                .iter()
                .find(|d| d.id == assignment.role_definition_id);
            if !definition.is_some_and(|d| d.is_privileged) {
                continue;
            }
            let role_name = definition.map(|d| d.display_name.clone());
            if assignment.principal_id != id {
                // Held through a role-assignable group: removing the group's assignment
                // would demote every member, so it is left to a human.
                b.not_planned.push(NotPlanned {
                    rule_id: "respond".into(),
                    resource_name: format!("{} ({upn})", role_name.clone().unwrap_or_default()),
                    reason: format!(
                        "held through group {}: remove {upn} from the group by hand",
                        assignment
                            .principal_name
                            .clone()
                            .unwrap_or_else(|| assignment.principal_id.clone())
                    ),
                });
                continue;
            }
            let eligible = if kind == ActionKind::RemoveRoleEligibility {
                ", eligible"
            } else {
                ""
            };
            b.add(
                kind,
                Target {
                    user_id: Some(id.to_owned()),
                    user_principal_name: Some(upn.to_owned()),
                    role_definition_id: Some(assignment.role_definition_id.clone()),
                    role_name: role_name.clone(),
                    ..Target::new(
                        resource_kind,
                        &assignment.id,
                        &format!("{} ({upn}{eligible})", role_name.unwrap_or_default()),
                    )
                },
                state([
                    ("role_definition_id", json!(assignment.role_definition_id)),
                    ("principal_id", json!(assignment.principal_id)),
                ]),
                &step(6, "remove admin roles"),
                vec![],
                vec![],
            );
        }
        // After the Entra roles (ActionKind order): the privileged Exchange role groups.
        for m in &snapshot.exchange_role_groups {
            b.add(
                ActionKind::RemoveRoleGroupMember,
                actions::role_group_member_target(m, &format!("{upn} in {}", m.role_group)),
                actions::role_group_member_state(m),
                &step(6, "remove from privileged Exchange role groups"),
                vec![],
                vec![],
            );
        }
        for a in &snapshot.exchange_role_assignments {
            b.add(
                ActionKind::RemoveManagementRoleAssignment,
                actions::management_role_assignment_target(a, &format!("{} ({upn})", a.role)),
                actions::management_role_assignment_state(a),
                &step(6, "remove Exchange management roles assigned directly"),
                vec![],
                vec![],
            );
        }
    }
    delete_recent_methods(
        &mut b,
        snapshot,
        &step(
            6,
            "delete authentication methods registered in the compromise window",
        ),
    );
    super::respond_consents::plan(
        &mut b,
        snapshot,
        &collected.consents,
        compromise_window_start(snapshot),
        &step(
            6,
            "revoke the app consents the user gave in the compromise window",
        ),
    );
    if let Some(sender) = snapshot.outbound_spam.restricted_senders.first() {
        b.add(
            ActionKind::UnblockSender,
            Target {
                user_id: Some(id.to_owned()),
                user_principal_name: Some(upn.to_owned()),
                ..Target::new(ResourceKind::RestrictedSender, &sender.id, &sender.id)
            },
            state([("restricted", json!(true))]),
            &step(
                7,
                "lift the outbound sending block once the account is secured",
            ),
            vec![],
            secured.clone(),
        );
    }
    if let Some((mut target, _)) = access
        .filter(|_| options.restore_access)
        .and_then(|m| cas_mailbox_target(snapshot, &m.id))
    {
        // Exactly what was recorded before the response, once every earlier step is done.
        target.restore = access.map(actions::mail_access_state);
        let what = "restore mail access as it was before the response (--restore-access)";
        let everything = b.keys();
        let pre = actions::mail_access_suspended();
        b.add(
            ActionKind::RestoreMailAccess,
            target,
            pre,
            &step(8, what),
            vec![],
            everything,
        );
    }
    if options.restore_access && !user.account_enabled {
        b.not_planned.push(NotPlanned {
            rule_id: "respond".into(),
            resource_name: upn.to_owned(),
            reason: "--restore-access: the account was already disabled before the response; it stays disabled".into(),
        });
    } else if options.restore_access {
        // Only when every earlier step succeeded or was already done.
        let everything = b.keys();
        b.add(
            ActionKind::UnblockSignIn,
            user_target(id, upn),
            state([]),
            &step(8, "restore access (--restore-access)"),
            vec![],
            everything,
        );
    }
    let (actions, not_planned) = b.finish();
    Ok(Plan {
        plan_version: PLAN_VERSION,
        plan_id: crate::graph::new_guid(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        origin: PlanOrigin::Respond,
        tenant_id: snapshot.tenant.id.clone(),
        snapshot_digest: collected.scan.info.snapshot_digest.clone(),
        snapshot_collected_at: snapshot.collection.collected_at,
        created_at: now,
        expires_at: now + DEFAULT_VALIDITY,
        break_glass: options.break_glass.clone(),
        config: None,
        collector_principal_id: own_principal_id.map(str::to_owned),
        actions,
        not_planned,
    })
}

/// The compromise window's start: the review window's default, 30 days, before the
/// collection.
fn compromise_window_start(snapshot: &Snapshot) -> DateTime<Utc> {
    snapshot.collection.collected_at
        - chrono::Duration::days(i64::from(crate::config::DEFAULT_REVIEW_WINDOW_DAYS))
}

/// Respond's step for issue 12: delete the methods registered within the compromise window
/// (the review window's default, 30 days before the collection) — never the user's last
/// MFA method. Methods without a registration time (phone, email) are left to the scan's
/// `auth_method_suspicious` (duplicate numbers) and to the responder.
fn delete_recent_methods(b: &mut PlanBuilder, snapshot: &Snapshot, reason: &str) {
    let upn = snapshot
        .users
        .first()
        .map(|u| u.user_principal_name.clone())
        .unwrap_or_default();
    if let Some(st) = snapshot
        .sources
        .get(&SourceId::AuthMethods)
        .filter(|st| st.status != SourceState::Ok)
    {
        b.not_planned.push(NotPlanned {
            rule_id: "respond".into(),
            resource_name: upn,
            reason: format!(
                "authentication methods not read, so none registered in the compromise window is proposed for deletion: {}",
                st.reason.clone().unwrap_or_default()
            ),
        });
        return;
    }
    let since = compromise_window_start(snapshot);
    let mut recent: Vec<_> = snapshot
        .auth_methods
        .iter()
        .filter(|m| m.created_date_time.is_some_and(|t| t >= since))
        .collect();
    recent.sort_by_key(|m| std::cmp::Reverse(m.created_date_time));
    for method in recent {
        let name = format!(
            "{} {} of {}",
            method.method_type,
            method.display_name.as_deref().unwrap_or(&method.method_id),
            method.user_principal_name
        );
        if let Err(refused) =
            actions::plan_auth_method_deletion(b, snapshot, method, &name, reason, vec![])
        {
            b.not_planned.push(NotPlanned {
                rule_id: "respond".into(),
                resource_name: name,
                reason: refused,
            });
        }
    }
}
