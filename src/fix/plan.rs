//! The plan document (`fix plan -o plan.json`, `m365guard schema plan`).
//!
//! A plan is bound to one tenant, to the snapshot it was made from and to the
//! m365guard.toml it was made with (path and SHA-256, see [`PlanConfig`]), expires (24 h by
//! default), and never contains a secret: a password reset says only that a password
//! will be generated at apply time.
//!
//! A plan file is untrusted input: it is reviewed by a human, but it may be edited after
//! review. Loading refuses what an edit could abuse: a validity longer than
//! [`MAX_VALIDITY`] (`expires_at` moved to 2099), a `plan_id` that is not a UUID (it names
//! files: `../../x` would move them), identifiers that are not what they claim to be (a
//! UPN with a newline, a user id that is not a GUID). Everything a plan *does* is checked
//! again at apply time against the live tenant (guards, preconditions), so no edit can
//! widen what apply may touch beyond what those checks allow.
//!
//! No HMAC over the plan: a key kept beside the audit log would be readable by whoever
//! can edit the plan on that machine (same user, same directory), and in CI the plan is
//! made in one job and applied in another, so the key would have to travel with the plan
//! — which an attacker who edits the plan can also do. It would add a key to manage
//! without stopping the edits that matter; the apply-time guards, the tenant binding
//! (token `tid`), the live preconditions and the bounded validity do.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::action_kind::ActionKind;
use crate::snapshot::source::ResourceKind;

/// 2: plans record the m365guard.toml they were made with (`config`). Version 1 plans
/// did not, and are refused (see [`PlanError::WithoutConfigRecord`]).
pub const PLAN_VERSION: u32 = 2;
pub const DEFAULT_VALIDITY: Duration = Duration::hours(24);
/// The longest validity `fix plan --valid-for` can give (168 h = 7 days); a plan claiming
/// more was edited.
pub const MAX_VALIDITY: Duration = Duration::hours(168);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanOrigin {
    /// `fix plan`: actions for scan findings.
    Scan,
    /// `respond --user`: the compromised-account playbook for one user.
    Respond,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub plan_version: u32,
    /// Random id, repeated in every audit-log line and evidence file of its runs.
    pub plan_id: String,
    pub tool_version: String,
    pub origin: PlanOrigin,
    /// The tenant (directory id) the plan may be applied to, and nothing else.
    pub tenant_id: String,
    /// sha256 of the snapshot the plan was made from (respond: of the collected state).
    pub snapshot_digest: String,
    pub snapshot_collected_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Break-glass accounts from m365guard.toml at planning time (apply re-checks them).
    #[serde(default)]
    pub break_glass: Vec<String>,
    /// Object id of the service principal that collected the snapshot, never a target.
    #[serde(default)]
    pub collector_principal_id: Option<String>,
    /// The m365guard.toml the plan was made with; `null` when none was used. `fix apply`
    /// refuses the plan when its own config differs (see [`Plan::check_config`]).
    pub config: Option<PlanConfig>,
    /// In execution order.
    pub actions: Vec<PlannedAction>,
    /// Findings the plan deliberately leaves alone, with the reason (guards, no fix).
    #[serde(default)]
    pub not_planned: Vec<NotPlanned>,
}

/// Which m365guard.toml a plan was made with.
///
/// The digest is SHA-256 over the file's bytes, not over a normalised form: it is what an
/// admin can check by hand (`sha256sum m365guard.toml`), it needs no rules about which
/// keys or spellings count as "the same", and it errs on the safe side — any edit, even a
/// comment, makes apply ask for a new plan or an explicit `--force-config-change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// The path as given when planning (for messages; apply compares digests only).
    pub path: String,
    /// `sha256:` and the hex SHA-256 of the file's bytes.
    pub digest: String,
}

impl PlanConfig {
    /// The record of `config`, or `None` for a config that was not read from a file.
    pub fn of(config: &crate::config::Config) -> Option<PlanConfig> {
        Some(PlanConfig {
            path: config.path()?.display().to_string(),
            digest: config.digest()?,
        })
    }
}

/// `fix apply` was given another m365guard.toml than the plan was made with.
#[derive(Debug, thiserror::Error)]
#[error("the plan was made with {planned}, but this run uses {current}: break-glass accounts, exceptions or forwarding domains may differ; make a new plan with the current config (`m365guard fix plan … --config FILE`), or pass --force-config-change to apply it anyway (the break-glass accounts of both configs are honoured)")]
pub struct ConfigChanged {
    planned: String,
    current: String,
}

fn describe_config(config: Option<&PlanConfig>) -> String {
    match config {
        Some(c) => format!("config {} ({})", c.path, c.digest),
        None => "no config".to_owned(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedAction {
    /// `a01`, `a02`, … in execution order.
    pub id: String,
    pub kind: ActionKind,
    pub target: Target,
    /// The target's state as the plan saw it (fields in the action's own vocabulary).
    /// Apply skips the action when the live state differs.
    pub precondition: serde_json::Map<String, Value>,
    /// The write, as an admin would read it (method + URL + body, or cmdlet + parameters).
    pub write: String,
    /// How apply checks that the write took effect.
    pub verify: String,
    /// How to undo it, when it can be undone.
    pub rollback: Option<String>,
    /// Ids of earlier actions that must succeed (or already be done) first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Findings this action resolves.
    #[serde(default)]
    pub fixes: Vec<FindingRef>,
    /// Why the action is in the plan (the playbook step or the rule).
    pub reason: String,
}

/// What an action acts on. `id` is the object's id in its API; the optional fields carry
/// what the write needs (mailbox, Exchange identity, role, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The kind of object, named as findings name it (`user`, `mailbox`, `inbox_rule`,
    /// `role_assignment`, `restricted_sender`, `outbound_spam_policy`, `tenant`, …).
    pub kind: ResourceKind,
    pub id: String,
    /// Human-readable: UPN, rule name, role + holder, policy name.
    pub name: String,
    /// The user the target belongs to (guards: break-glass, own identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Inbox rules: the Exchange `Identity` (Exchange-collected rules) or absent (Graph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_identity: Option<String>,
    /// Inbox rules: the rule id (Exchange RuleIdentity or Graph messageRule id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Role assignments: the role definition id and display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_definition_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// Password reset / session revocation count as done when the live timestamp is at or
    /// after this instant (e.g. the time the account was blocked for spam).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_if_changed_after: Option<DateTime<Utc>>,
    /// Tenant-wide MFA policy: object ids it must exclude (break-glass accounts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_user_ids: Vec<String>,
    /// Settings the write puts back (`restore_mail_access`: the client access settings
    /// recorded before the response, `null` included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<serde_json::Map<String, serde_json::Value>>,
    /// App targets: the object id the target hangs off — the resource service principal
    /// of an app role assignment, the owner of a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Credentials: whether the owner is a `service_principal` or an `application`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_kind: Option<crate::snapshot::model::CredentialOwner>,
    /// Authentication methods: the method's Graph id and type (`phone`, `fido2`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_type: Option<String>,
}

impl Target {
    /// A target with only kind, id and name set.
    pub fn new(kind: ResourceKind, id: &str, name: &str) -> Target {
        Target {
            kind,
            id: id.to_owned(),
            name: name.to_owned(),
            user_id: None,
            user_principal_name: None,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingRef {
    pub rule_id: String,
    pub resource_kind: ResourceKind,
    pub resource_id: String,
    pub resource_name: String,
    /// The finding's stable fingerprint: verification looks for it in the re-scan.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotPlanned {
    pub rule_id: String,
    pub resource_name: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid m365guard plan: {message} (see `m365guard schema plan`)")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: plan version {found} is not supported (this m365guard reads version {PLAN_VERSION})")]
    Version { path: String, found: u32 },
    #[error("{path}: plan version 1 does not record the m365guard.toml it was made with (its break-glass accounts and digest), so apply cannot check it against the current config; refusing: make a new plan (`m365guard fix plan … --config FILE`)")]
    WithoutConfigRecord { path: String },
    #[error("{path}: the plan expired at {expires_at} (made {created_at}); make a new plan from a fresh scan")]
    Expired {
        path: String,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    #[error("{path}: the plan claims to be valid from {created_at} to {expires_at}, longer than the 168 hours `fix plan --valid-for` allows; it was edited after it was made: refusing")]
    TooLong {
        path: String,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    #[error("{path}: the plan was made at {created_at}, which is in the future; refusing")]
    FromTheFuture {
        path: String,
        created_at: DateTime<Utc>,
    },
    #[error("{path}: {message}")]
    Inconsistent { path: String, message: String },
}

impl Plan {
    /// Read and validate a plan file: schema (strict, unknown fields rejected), version,
    /// expiry and internal consistency (ids, dependencies).
    pub fn load(path: &Path, now: DateTime<Utc>) -> Result<Plan, PlanError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: shown.clone(),
            source,
        })?;
        Plan::parse(&shown, &text, now)
    }

    pub fn parse(path: &str, text: &str, now: DateTime<Utc>) -> Result<Plan, PlanError> {
        let invalid = |e: serde_json::Error| PlanError::Invalid {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        // The version first, so an old/new plan gets a version error, not a field error.
        let raw: Value = serde_json::from_str(text).map_err(invalid)?;
        let version = raw.get("plan_version").and_then(Value::as_u64);
        if version == Some(1) {
            return Err(PlanError::WithoutConfigRecord {
                path: path.to_owned(),
            });
        }
        if let Some(found) = version.filter(|v| *v != u64::from(PLAN_VERSION)) {
            return Err(PlanError::Version {
                path: path.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        let plan: Plan = serde_json::from_str(text).map_err(invalid)?;
        if plan.expires_at <= now {
            return Err(PlanError::Expired {
                path: path.to_owned(),
                created_at: plan.created_at,
                expires_at: plan.expires_at,
            });
        }
        if plan.expires_at > plan.created_at + MAX_VALIDITY {
            return Err(PlanError::TooLong {
                path: path.to_owned(),
                created_at: plan.created_at,
                expires_at: plan.expires_at,
            });
        }
        // A few minutes of clock skew between machines is normal.
        if plan.created_at > now + Duration::minutes(5) {
            return Err(PlanError::FromTheFuture {
                path: path.to_owned(),
                created_at: plan.created_at,
            });
        }
        plan.check_consistency()
            .map_err(|message| PlanError::Inconsistent {
                path: path.to_owned(),
                message,
            })?;
        Ok(plan)
    }

    /// Ids, dependencies and identifiers: what apply may rely on before it reads anything
    /// live. Apply runs it again (a plan may also be built in memory by `respond`).
    pub fn check_consistency(&self) -> Result<(), String> {
        if !is_guid(&self.plan_id) {
            return Err(format!(
                "plan_id {:?} is not a UUID (it names the evidence and password files)",
                shown(&self.plan_id)
            ));
        }
        if !is_guid(&self.tenant_id) && !is_domain(&self.tenant_id) {
            return Err(format!(
                "tenant_id {:?} is neither a directory id nor a domain",
                shown(&self.tenant_id)
            ));
        }
        if let Some(own) = &self.collector_principal_id {
            check_guid("collector_principal_id", own)?;
        }
        for account in &self.break_glass {
            if !is_guid(account) && !is_upn(account) {
                return Err(format!(
                    "break_glass entry {:?} is neither an object id nor a UPN",
                    shown(account)
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for action in &self.actions {
            if !is_action_id(&action.id) {
                return Err(format!(
                    "action id {:?} is not a short id such as a01",
                    shown(&action.id)
                ));
            }
            check_target(&action.target)
                .map_err(|message| format!("action {}: {message}", action.id))?;
            for dep in &action.depends_on {
                if !seen.contains(dep.as_str()) {
                    return Err(format!(
                        "action {} depends on {dep}, which is not an earlier action",
                        action.id
                    ));
                }
            }
            if !seen.insert(action.id.as_str()) {
                return Err(format!("action id {} appears twice", action.id));
            }
        }
        Ok(())
    }

    /// Apply-time check that `current` (the config apply was given, `None` for none) is the
    /// one the plan was made with, by digest. With `force`, a difference is allowed and
    /// described in the returned warning; apply then guards with both configs'
    /// break-glass accounts (the plan's list and the current config's).
    pub fn check_config(
        &self,
        current: Option<&PlanConfig>,
        force: bool,
    ) -> Result<Option<String>, ConfigChanged> {
        let digest = |c: Option<&PlanConfig>| c.map(|c| c.digest.clone());
        if digest(self.config.as_ref()) == digest(current) {
            return Ok(None);
        }
        let changed = ConfigChanged {
            planned: describe_config(self.config.as_ref()),
            current: describe_config(current),
        };
        if force {
            Ok(Some(format!(
                "--force-config-change: the plan was made with {}, this run uses {}; the break-glass accounts of both are honoured",
                changed.planned, changed.current
            )))
        } else {
            Err(changed)
        }
    }

    /// Pretty JSON, one document; contains no secrets by construction.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}

/// `s` shortened and without control characters, for messages about a bad value.
fn shown(s: &str) -> String {
    s.chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A GUID in its canonical 8-4-4-4-12 hex form (object ids, plan ids).
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A user principal name: `local@domain`, at most 1024 characters, no whitespace, control
/// characters or URL delimiters. Guest UPNs (`alice_fabrikam.com#EXT#@contoso.com`) pass.
pub fn is_upn(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 1024
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || "._-'!#^~+&$={}|`*".contains(c)
                || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
        })
        && is_domain(domain)
}

/// A DNS name (`contoso.onmicrosoft.com`).
pub fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `a01`-style action ids (they become parts of evidence file names).
fn is_action_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_guid(what: &str, value: &str) -> Result<(), String> {
    if is_guid(value) {
        Ok(())
    } else {
        Err(format!(
            "{what} {:?} is not an object id (GUID)",
            shown(value)
        ))
    }
}

/// Free text that ends up in URLs, cmdlet parameters, file lines and terminal output: no
/// control characters (a newline would inject a line), bounded length.
fn check_text(what: &str, value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) || value.len() > 1024 {
        return Err(format!(
            "{what} {:?} contains control characters or is too long",
            shown(value)
        ));
    }
    Ok(())
}

/// Every identifier of a target has the syntax of what it claims to be.
fn check_target(t: &Target) -> Result<(), String> {
    // The kind is an enum: serde already refused anything else.
    check_text("target id", &t.id)?;
    check_text("target name", &t.name)?;
    // Users and mailboxes are acted on by object id (a UPN or `%40` form would reach the
    // account without naming its id).
    if matches!(t.kind, ResourceKind::User | ResourceKind::Mailbox) {
        check_guid("target id", &t.id)?;
    }
    if let Some(id) = &t.user_id {
        check_guid("user_id", id)?;
    }
    if let Some(upn) = &t.user_principal_name {
        if !is_upn(upn) {
            return Err(format!(
                "user_principal_name {:?} is not a user principal name",
                shown(upn)
            ));
        }
    }
    for id in &t.exclude_user_ids {
        check_guid("exclude_user_ids entry", id)?;
    }
    if let Some(id) = &t.role_definition_id {
        check_guid("role_definition_id", id)?;
    }
    for (what, value) in [
        ("exchange_identity", &t.exchange_identity),
        ("rule_id", &t.rule_id),
        ("role_name", &t.role_name),
    ] {
        if let Some(v) = value {
            check_text(what, v)?;
        }
    }
    Ok(())
}

pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(now: DateTime<Utc>) -> Plan {
        Plan {
            plan_version: PLAN_VERSION,
            plan_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            tool_version: "t".into(),
            origin: PlanOrigin::Scan,
            tenant_id: "7c1d2e3f-0000-4000-8000-000000000001".into(),
            snapshot_digest: "d".into(),
            snapshot_collected_at: now,
            created_at: now,
            expires_at: now + DEFAULT_VALIDITY,
            break_glass: vec![],
            collector_principal_id: None,
            config: None,
            actions: vec![],
            not_planned: vec![],
        }
    }

    #[test]
    fn round_trips_and_expires() {
        let now = Utc::now();
        let text = minimal(now).to_json().unwrap();
        assert!(Plan::parse("p.json", &text, now).is_ok());
        let later = now + Duration::hours(25);
        let err = Plan::parse("p.json", &text, later).unwrap_err();
        assert!(matches!(err, PlanError::Expired { .. }), "{err}");
        assert!(err.to_string().contains("expired"), "{err}");
    }

    #[test]
    fn identifier_syntax() {
        assert!(is_guid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_guid("../../0f8fad5b-d9cb-469f-a165-7086772895"));
        assert!(!is_guid("0f8fad5b-d9cb-469f-a165-70867728950g"));
        assert!(is_upn("lena.fischer@contoso.com"));
        assert!(is_upn("alice_fabrikam.com#EXT#@contoso.onmicrosoft.com"));
        for bad in [
            "lena\n@contoso.com",
            "lena@contoso.com\nx\ty",
            "a b@contoso.com",
            "@contoso.com",
            "lena@",
            "lena@contoso/x",
            "lena%40contoso.com",
        ] {
            assert!(!is_upn(bad), "{bad:?}");
        }
    }

    #[test]
    fn validity_longer_than_the_maximum_is_refused() {
        let now = Utc::now();
        let mut plan = minimal(now);
        plan.expires_at = now + MAX_VALIDITY;
        assert!(Plan::parse("p.json", &plan.to_json().unwrap(), now).is_ok());
        plan.expires_at = now + MAX_VALIDITY + Duration::seconds(1);
        let err = Plan::parse("p.json", &plan.to_json().unwrap(), now).unwrap_err();
        assert!(matches!(err, PlanError::TooLong { .. }), "{err}");
    }

    #[test]
    fn a_version_1_plan_is_refused_for_lack_of_a_config_record() {
        let now = Utc::now();
        let mut v: Value = serde_json::from_str(&minimal(now).to_json().unwrap()).unwrap();
        v["plan_version"] = 1.into();
        v.as_object_mut().unwrap().remove("config");
        let err = Plan::parse("p.json", &v.to_string(), now).unwrap_err();
        assert!(
            matches!(err, PlanError::WithoutConfigRecord { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("make a new plan"), "{err}");
    }

    #[test]
    fn the_config_must_match_unless_forced() {
        let record = |path: &str, digest: &str| PlanConfig {
            path: path.into(),
            digest: digest.into(),
        };
        let mut plan = minimal(Utc::now());
        plan.config = Some(record("a.toml", "sha256:aa"));
        assert_eq!(
            plan.check_config(Some(&record("elsewhere/a.toml", "sha256:aa")), false)
                .unwrap(),
            None,
            "the digest decides, not the path"
        );
        let err = plan
            .check_config(Some(&record("b.toml", "sha256:bb")), false)
            .unwrap_err()
            .to_string();
        for needle in [
            "a.toml",
            "sha256:aa",
            "b.toml",
            "sha256:bb",
            "--force-config-change",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let err = plan.check_config(None, false).unwrap_err().to_string();
        assert!(err.contains("this run uses no config"), "{err}");
        let warning = plan.check_config(None, true).unwrap().unwrap();
        assert!(warning.contains("sha256:aa"), "{warning}");
        plan.config = None;
        assert_eq!(plan.check_config(None, false).unwrap(), None);
        assert!(plan
            .check_config(Some(&record("b.toml", "sha256:bb")), false)
            .is_err());
    }

    #[test]
    fn unknown_fields_and_versions_are_rejected() {
        let now = Utc::now();
        let mut v: Value = serde_json::from_str(&minimal(now).to_json().unwrap()).unwrap();
        v["surprise"] = Value::Bool(true);
        let err = Plan::parse("p.json", &v.to_string(), now).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `surprise`"),
            "{err}"
        );
        v.as_object_mut().unwrap().remove("surprise");
        v["plan_version"] = 9.into();
        let err = Plan::parse("p.json", &v.to_string(), now).unwrap_err();
        assert!(matches!(err, PlanError::Version { found: 9, .. }), "{err}");
        let err = Plan::parse("p.json", "{\n  \"plan_version\": 1,\n", now).unwrap_err();
        assert!(err.to_string().starts_with("p.json:3:"), "{err}");
    }
}
