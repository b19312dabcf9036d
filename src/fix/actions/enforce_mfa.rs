//! `enforce_mfa`, two forms:
//! * per user (target kind `user`): per-user MFA `enforced` via the beta
//!   `authentication/requirements` (CONTRACT §4.2, §11 W11);
//! * tenant-wide (target kind `tenant`): create a conditional access policy requiring MFA
//!   for all users in **report-only** state (`enabledForReportingButNotEnforced`, §11 W12),
//!   excluding the break-glass accounts, for the admin to review and switch on. A
//!   report-only policy enforces nothing, so the rule keeps failing until it is switched on.

use serde_json::{json, Value};

use super::{state, Handler, State, WriteReceipt};
use crate::fix::live::{GraphCaPolicy, Live};
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::permission::{least, CA_WRITE, PER_USER_MFA_WRITE, POLICY_READ};
use crate::snapshot::source::ResourceKind;

/// Display name of the policy m365guard creates; how apply recognises it on a re-run.
pub const CA_POLICY_NAME: &str = "m365guard: require MFA for all users";

pub struct EnforceMfa;

fn tenant_wide(target: &Target) -> bool {
    target.kind == ResourceKind::Tenant
}

/// An enabled policy requiring MFA for all users and all apps, everywhere: as the rule
/// `mfa_not_enforced` judges it, a location, platform, risk or device condition, an
/// excluded app or an `OR` alternative to MFA means it does not (policies/lib/lib.rego).
fn requires_mfa_for_all(p: &GraphCaPolicy) -> bool {
    let has = |list: &Option<Vec<String>>, item: &str| {
        list.as_ref().is_some_and(|l| l.iter().any(|x| x == item))
    };
    let empty = |list: &Option<Vec<String>>| list.as_ref().is_none_or(Vec::is_empty);
    let conditions = p.conditions.clone().unwrap_or_default();
    let users = conditions.users.unwrap_or_default();
    let apps = conditions.applications.unwrap_or_default();
    let locations = conditions.locations.unwrap_or_default();
    let platforms = conditions.platforms.unwrap_or_default();
    let grant = p.grant_controls.clone().unwrap_or_default();
    let everywhere = (empty(&locations.include_locations)
        || has(&locations.include_locations, "All"))
        && empty(&locations.exclude_locations)
        && (empty(&platforms.include_platforms) || has(&platforms.include_platforms, "all"))
        && empty(&platforms.exclude_platforms)
        && empty(&conditions.user_risk_levels)
        && empty(&conditions.sign_in_risk_levels)
        && conditions
            .devices
            .as_ref()
            .and_then(|d| d.device_filter.as_ref())
            .is_none_or(Value::is_null)
        && empty(&apps.exclude_applications);
    let no_alternative = grant.operator.as_deref() == Some("AND")
        || grant
            .built_in_controls
            .as_ref()
            .is_none_or(|c| c.iter().all(|x| x == "mfa"));
    p.state.as_deref() == Some("enabled")
        && has(&users.include_users, "All")
        && has(&apps.include_applications, "All")
        && (has(&grant.built_in_controls, "mfa")
            || grant
                .authentication_strength
                .as_ref()
                .is_some_and(|s| !s.is_null()))
        && everywhere
        && no_alternative
}

impl Handler for EnforceMfa {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        if tenant_wide(target) {
            let policies = live.graph_ca_policies()?;
            let ours = policies
                .iter()
                .find(|p| p.display_name.as_deref() == Some(CA_POLICY_NAME))
                .map(|p| json!(p.state))
                .unwrap_or(Value::Null);
            return Ok(Some(state([
                (
                    "mfa_for_all_enforced",
                    Value::Bool(policies.iter().any(requires_mfa_for_all)),
                ),
                ("m365guard_policy_state", ours),
            ])));
        }
        if live.user(&target.id)?.is_none() {
            return Ok(None);
        }
        let mfa = live.per_user_mfa(&target.id)?;
        Ok(Some(state([(
            "per_user_mfa_state",
            mfa.map_or(Value::Null, Value::String),
        )])))
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        let Some(state) = state else { return false };
        if tenant_wide(target) {
            return state.get("mfa_for_all_enforced") == Some(&Value::Bool(true))
                || !state
                    .get("m365guard_policy_state")
                    .unwrap_or(&Value::Null)
                    .is_null();
        }
        state.get("per_user_mfa_state").and_then(Value::as_str) == Some("enforced")
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        if tenant_wide(target) {
            let reply = live.graph.write(
                "POST",
                "/v1.0/identity/conditionalAccess/policies",
                Some(&ca_policy_body(target)),
                &least(&[CA_WRITE, POLICY_READ]),
            )?;
            let created: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
            return Ok(WriteReceipt {
                request_id: Some(reply.request_id),
                created_id: created.get("id").and_then(Value::as_str).map(str::to_owned),
            });
        }
        let reply = live.graph.write(
            "PATCH",
            &format!("/beta/users/{}/authentication/requirements", target.id),
            Some(&json!({"perUserMfaState": "enforced"})),
            &least(&[PER_USER_MFA_WRITE]),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        if tenant_wide(target) {
            return format!(
                "POST /v1.0/identity/conditionalAccess/policies {}",
                ca_policy_body(target)
            );
        }
        format!(
            "PATCH /beta/users/{}/authentication/requirements {{\"perUserMfaState\": \"enforced\"}}",
            target.id
        )
    }

    fn describe_verify(&self) -> &'static str {
        "per user: GET authentication/requirements shows perUserMfaState enforced; tenant-wide: the report-only policy exists (switch it on after reviewing its sign-in impact)"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        if tenant_wide(target) {
            return Some(format!(
                "DELETE /v1.0/identity/conditionalAccess/policies/<id of \"{CA_POLICY_NAME}\">"
            ));
        }
        let before = precondition
            .get("per_user_mfa_state")
            .and_then(Value::as_str)
            .unwrap_or("disabled");
        Some(format!(
            "PATCH /beta/users/{}/authentication/requirements {{\"perUserMfaState\": \"{before}\"}}",
            target.id
        ))
    }
}

/// The report-only policy (fixture conditionalAccess.policy.create.request.json),
/// excluding the break-glass accounts.
fn ca_policy_body(target: &Target) -> Value {
    let exclude = &target.exclude_user_ids;
    json!({
        "displayName": CA_POLICY_NAME,
        "state": "enabledForReportingButNotEnforced",
        "conditions": {
            "users": {"includeUsers": ["All"], "excludeUsers": exclude},
            "applications": {"includeApplications": ["All"]},
            "clientAppTypes": ["all"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    })
}
