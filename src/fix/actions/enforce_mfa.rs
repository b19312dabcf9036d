//! `enforce_mfa`, two forms:
//! * per user (target kind `user`): per-user MFA `enforced` via the beta
//!   `authentication/requirements` (CONTRACT §4.2, §11 W11);
//! * tenant-wide (target kind `tenant`): create a conditional access policy requiring MFA
//!   for all users in **report-only** state (`enabledForReportingButNotEnforced`, §11 W12),
//!   excluding the break-glass accounts, for the admin to review and switch on. A
//!   report-only policy enforces nothing, so the rule keeps failing until it is switched on.

use serde_json::{json, Map, Value};

use super::{state, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::permission::{least, CA_WRITE, PER_USER_MFA_WRITE, POLICY_READ};

/// Display name of the policy m365guard creates; how apply recognises it on a re-run.
pub const CA_POLICY_NAME: &str = "m365guard: require MFA for all users";

pub struct EnforceMfa;

fn tenant_wide(target: &Target) -> bool {
    target.kind == "tenant"
}

/// An enabled policy requiring MFA for all users and all apps, everywhere: as the rule
/// `mfa_not_enforced` judges it, a location, platform, risk or device condition, an
/// excluded app or an `OR` alternative to MFA means it does not (policies/lib/lib.rego).
fn requires_mfa_for_all(p: &Map<String, Value>) -> bool {
    let at = |path: &[&str]| -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(p.get(*first)?, |v, k| v.get(*k))
    };
    let has = |path: &[&str], item: &str| {
        at(path)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(item)))
    };
    let empty = |path: &[&str]| at(path).and_then(Value::as_array).is_none_or(Vec::is_empty);
    let present = |path: &[&str]| at(path).is_some_and(|v| !v.is_null());
    let everywhere = (empty(&["conditions", "locations", "includeLocations"])
        || has(&["conditions", "locations", "includeLocations"], "All"))
        && empty(&["conditions", "locations", "excludeLocations"])
        && (empty(&["conditions", "platforms", "includePlatforms"])
            || has(&["conditions", "platforms", "includePlatforms"], "all"))
        && empty(&["conditions", "platforms", "excludePlatforms"])
        && empty(&["conditions", "userRiskLevels"])
        && empty(&["conditions", "signInRiskLevels"])
        && !present(&["conditions", "devices", "deviceFilter"])
        && empty(&["conditions", "applications", "excludeApplications"]);
    let no_alternative = at(&["grantControls", "operator"]).and_then(Value::as_str) == Some("AND")
        || at(&["grantControls", "builtInControls"])
            .and_then(Value::as_array)
            .is_none_or(|a| a.iter().all(|x| x.as_str() == Some("mfa")));
    at(&["state"]).and_then(Value::as_str) == Some("enabled")
        && has(&["conditions", "users", "includeUsers"], "All")
        && has(
            &["conditions", "applications", "includeApplications"],
            "All",
        )
        && (has(&["grantControls", "builtInControls"], "mfa")
            || present(&["grantControls", "authenticationStrength"]))
        && everywhere
        && no_alternative
}

impl Handler for EnforceMfa {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        if tenant_wide(target) {
            let policies = live.ca_policies()?;
            let ours = policies
                .iter()
                .find(|p| p["displayName"] == CA_POLICY_NAME)
                .map(|p| p["state"].clone())
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
                created_id: created["id"].as_str().map(str::to_owned),
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
