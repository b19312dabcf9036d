//! `m365guard doctor`: the pre-flight for live collection and fix mode.
//!
//! Signs in to both resources (Graph and Exchange need separate tokens), then answers per
//! snapshot source and per fix action whether it will work and, when not, exactly what is
//! missing. What the app was granted is read from its own app-only access tokens (`roles`:
//! application permissions, `wids`: directory roles) and from the service principal's role
//! assignments; a cheap live read per source then shows what no token tells — a missing
//! licence (Entra ID P1/P2) or a missing Exchange role. Writes are never tried: fix actions
//! are judged from the grants alone. No token, secret or assertion is ever printed: only
//! permission and role names, and ids that are not secret (tenant, client, principal).
//!
//! What each source and action needs is not defined here: sources carry it in
//! `snapshot::source::SOURCES`, fix actions in `ActionKind::needs`. This module judges the
//! grants against them; [`probe`] holds the live reads, [`report`] the rendering.

mod investigate;
mod probe;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::auth::{AuthError, Secret, Settings, TokenProvider, EXCHANGE_SCOPE, GRAPH_SCOPE};
use crate::exchange::ExchangeClient;
use crate::fix::actions::ActionKind;
use crate::graph::GraphClient;
use crate::permission::{AnyOf, MANAGE_AS_APP};
use crate::snapshot::source::SOURCES;

/// Built-in directory role template ids and names (they live with the permissions).
pub use crate::permission::role;
use probe::Probes;

const EXCHANGE_READ_ROLE_HINT: &str = "an Exchange role: assign Global Reader (enough to collect; Exchange Administrator for fixes) to the app's service principal";

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// A permission or role is missing: this source cannot be collected / action cannot run.
    Missing,
    /// The tenant has no licence for it: collected as `unavailable`, not a failure.
    Unavailable,
    /// Works, with a limit worth knowing (e.g. admin targets need a directory role).
    Warn,
    /// The probe failed for another reason (network, service error).
    Error,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Missing => "MISSING",
            Status::Unavailable => "unavailable (licence)",
            Status::Warn => "WARN",
            Status::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    /// The source (`sign_in_activity`) or fix action (`reset_password`).
    pub name: &'static str,
    pub status: Status,
    /// What is missing, or why; empty when there is nothing to say.
    pub detail: String,
}

/// Everything doctor found.
#[derive(Debug, Clone)]
pub struct Report {
    pub tenant: String,
    pub client_id: String,
    pub credential: String,
    /// `app_displayname` of the Graph token.
    pub app_name: Option<String>,
    /// `oid` of the Graph token: the app's service principal in this tenant.
    pub principal_id: Option<String>,
    /// Application permissions in the Graph token; `None` when the token is not a JWT.
    pub graph_permissions: Option<BTreeSet<String>>,
    /// Application permissions in the Exchange token.
    pub exchange_permissions: Option<BTreeSet<String>>,
    /// Directory role template ids of the service principal; `None` when unreadable.
    pub directory_roles: Option<BTreeSet<String>>,
    /// Names of directory roles doctor does not know by heart (from roleDefinitions).
    pub role_names: BTreeMap<String, String>,
    pub sources: Vec<Check>,
    pub actions: Vec<Check>,
    /// What `investigate` can read, per evidence source (grants only; never fails doctor).
    pub investigation: Vec<Check>,
}

/// The claims of a JWT-shaped access token, decoded without verification: only to read
/// what we were granted, never to trust anything.
fn claims(token: &Secret) -> Option<serde_json::Map<String, Value>> {
    use base64::Engine as _;
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A claim holding a list of strings (`roles`, `wids`); absent = empty.
fn string_set(claims: &serde_json::Map<String, Value>, key: &str) -> BTreeSet<String> {
    claims
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The least-privileged name of every requirement none of whose permissions is granted.
fn missing(granted: &BTreeSet<String>, needs: &[AnyOf]) -> Vec<&'static str> {
    needs
        .iter()
        .filter(|any| !any.iter().any(|p| granted.contains(*p)))
        .filter_map(|any| any.first().copied())
        .collect()
}

fn holds(roles: &BTreeSet<String>, any_of: &[&str]) -> bool {
    any_of
        .iter()
        .any(|r| roles.iter().any(|held| held.eq_ignore_ascii_case(r)))
}

fn needs_text(perms: &[&str]) -> String {
    format!(
        "needs {} (application permission, admin consent)",
        perms.join(" + ")
    )
}

/// Sign in to Graph and Exchange, then check every source and fix action. Only a failed
/// sign-in is an error; everything else is in the report.
pub fn run(settings: Settings) -> Result<Report, AuthError> {
    let agent = crate::collect::agent();
    let tokens = TokenProvider::new(settings.clone(), agent.clone());
    let graph_token = tokens.token(GRAPH_SCOPE)?;
    let exchange_token = tokens.token(EXCHANGE_SCOPE)?;
    tracing::info!("signed in to Graph and Exchange");
    let graph_claims = claims(&graph_token);
    let exchange_claims = claims(&exchange_token);
    let graph = GraphClient::new(&tokens, agent.clone());
    let exchange = ExchangeClient::new(&tokens, agent);

    let mut report = Report {
        tenant: settings.tenant.clone(),
        client_id: settings.client_id.clone(),
        credential: settings.credential.describe(),
        app_name: graph_claims
            .as_ref()
            .and_then(|c| c.get("app_displayname")?.as_str().map(str::to_owned)),
        principal_id: graph_claims
            .as_ref()
            .and_then(|c| c.get("oid")?.as_str().map(str::to_owned)),
        graph_permissions: graph_claims.as_ref().map(|c| string_set(c, "roles")),
        exchange_permissions: exchange_claims.as_ref().map(|c| string_set(c, "roles")),
        directory_roles: None,
        role_names: BTreeMap::new(),
        sources: Vec::new(),
        actions: Vec::new(),
        investigation: Vec::new(),
    };
    probe::read_directory_roles(&graph, graph_claims.as_ref(), &mut report);

    let total = SOURCES.len() as u64;
    tracing::info!(progress_total = total, "checking {total} sources");
    let mut probes = Probes::default();
    // Table order: a later probe may use what an earlier one found (a user, a mailbox).
    for source in &SOURCES {
        let check = probe::check_source(&graph, &exchange, &report, &mut probes, source);
        tracing::info!(
            step = source.id.as_str(),
            status = check.status.label(),
            detail = %check.detail,
            "source checked"
        );
        report.sources.push(check);
    }
    for kind in ActionKind::ALL {
        let check = check_action(&report, &probes, kind);
        tracing::info!(
            action = kind.as_str(),
            status = check.status.label(),
            detail = %check.detail,
            "fix action checked"
        );
        report.actions.push(check);
    }
    report.investigation = investigate::checks(&report);
    Ok(report)
}

fn check_action(report: &Report, probes: &Probes, kind: ActionKind) -> Check {
    let needs = kind.needs();
    let name = kind.as_str();
    let mut lacking: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    match &report.graph_permissions {
        Some(granted) => {
            let perms = missing(granted, needs.graph);
            if !perms.is_empty() {
                lacking.push(needs_text(&perms));
            }
            if let Some((perms, why)) = needs.variant {
                let lacking = missing(granted, perms);
                if !lacking.is_empty() {
                    warnings.push(format!("{} {why}", lacking.join(" + ")));
                }
            }
        }
        None if !needs.graph.is_empty() => warnings.push(format!(
            "cannot read the granted permissions from the token; needs {}",
            needs.graph_text()
        )),
        None => {}
    }
    if let Some(roles) = needs.exchange_roles {
        let role_names = || role::names(roles);
        if let Some(granted) = &report.exchange_permissions {
            if !granted.contains(MANAGE_AS_APP) {
                lacking.push(format!(
                    "needs {MANAGE_AS_APP} (Office 365 Exchange Online application permission)"
                ));
            }
        }
        match &report.directory_roles {
            Some(held) if holds(held, roles) => {}
            Some(_) => lacking.push(format!(
                "needs the {} directory role on the app's service principal",
                role_names()
            )),
            None if probes.exchange_no_role => lacking.push(format!(
                "needs the {} directory role on the app's service principal",
                role_names()
            )),
            None => warnings.push(format!(
                "cannot read the service principal's directory roles; needs {}",
                role_names()
            )),
        }
    }
    if let Some((roles, why)) = needs.directory_role {
        match &report.directory_roles {
            Some(held) if holds(held, roles) => {}
            Some(_) => lacking.push(format!(
                "needs the {} directory role on the app's service principal ({why})",
                role::names(roles)
            )),
            None => warnings.push(format!(
                "cannot read the service principal's directory roles; {why}: {}",
                role::names(roles)
            )),
        }
    }
    if let Some((roles, why)) = needs.target_role {
        let name = role::name(roles[0]).unwrap_or(roles[0]);
        match &report.directory_roles {
            Some(held) if holds(held, roles) => {}
            Some(_) => warnings.push(format!("{why} the app needs the {name} directory role")),
            None => warnings.push(format!(
                "{why} the app needs the {name} directory role (could not read its roles)"
            )),
        }
    }
    if let Some((source, why)) = needs.licensed_variant {
        let unlicensed = report
            .sources
            .iter()
            .any(|c| c.name == source.as_str() && c.status == Status::Unavailable);
        if unlicensed {
            warnings.push(why.to_owned());
        }
    }
    let (status, detail) = if !lacking.is_empty() {
        (Status::Missing, lacking.join("; "))
    } else if !warnings.is_empty() {
        (Status::Warn, warnings.join("; "))
    } else {
        (Status::Ok, String::new())
    };
    Check {
        name,
        status,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::ExitStatus;
    use crate::permission::{AUDIT_READ, PASSWORD, USER_READ};

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn report(graph: &[&str], exchange: &[&str], roles: Option<&[&str]>) -> Report {
        Report {
            tenant: "t".into(),
            client_id: "c".into(),
            credential: "client secret".into(),
            app_name: None,
            principal_id: None,
            graph_permissions: Some(set(graph)),
            exchange_permissions: Some(set(exchange)),
            directory_roles: roles.map(set),
            role_names: BTreeMap::new(),
            sources: Vec::new(),
            actions: Vec::new(),
            investigation: Vec::new(),
        }
    }

    #[test]
    fn a_higher_permission_satisfies_a_requirement_and_the_least_privileged_is_named() {
        let granted = set(&["User.ReadWrite.All"]);
        assert!(missing(&granted, &[USER_READ]).is_empty());
        assert_eq!(
            missing(&granted, &[USER_READ, AUDIT_READ]),
            vec!["AuditLog.Read.All"]
        );
        // User.ReadWrite.All does not cover password resets for app-only callers.
        assert_eq!(
            missing(&granted, &[PASSWORD]),
            vec!["User-PasswordProfile.ReadWrite.All"]
        );
    }

    #[test]
    fn actions_name_what_is_missing_and_warn_about_admin_targets() {
        let r = report(&["User-PasswordProfile.ReadWrite.All"], &[], Some(&[]));
        let probes = Probes::default();
        // App-only, the permission alone cannot reset any password (issue 10).
        let reset = check_action(&r, &probes, ActionKind::ResetPassword);
        assert_eq!(reset.status, Status::Missing, "{reset:?}");
        assert!(reset.detail.contains("User Administrator"), "{reset:?}");
        let with_role = report(
            &["User-PasswordProfile.ReadWrite.All"],
            &[],
            Some(&[role::USER_ADMINISTRATOR]),
        );
        let reset = check_action(&with_role, &probes, ActionKind::ResetPassword);
        assert_eq!(reset.status, Status::Warn, "{reset:?}");
        assert!(reset
            .detail
            .contains("Privileged Authentication Administrator"));
        let revoke = check_action(&r, &probes, ActionKind::RevokeSessions);
        assert_eq!(revoke.status, Status::Missing);
        assert!(
            revoke.detail.contains("User.RevokeSessions.All"),
            "{revoke:?}"
        );
        let forward = check_action(&r, &probes, ActionKind::ClearMailboxForwarding);
        assert_eq!(forward.status, Status::Missing);
        assert!(forward.detail.contains(MANAGE_AS_APP), "{forward:?}");
        assert!(
            forward.detail.contains("Exchange Administrator"),
            "{forward:?}"
        );

        let r = report(
            &["RoleManagement.ReadWrite.Directory"],
            &[MANAGE_AS_APP],
            Some(&[
                role::PRIVILEGED_ROLE_ADMINISTRATOR,
                role::SECURITY_ADMINISTRATOR,
            ]),
        );
        assert_eq!(
            check_action(&r, &probes, ActionKind::RemoveRoleAssignment).status,
            Status::Ok
        );
        // Security Administrator may run the spam-policy cmdlets, not Set-Mailbox.
        assert_eq!(
            check_action(&r, &probes, ActionKind::DisableOutboundAutoForwarding).status,
            Status::Ok
        );
        assert_eq!(
            check_action(&r, &probes, ActionKind::ClearMailboxForwarding).status,
            Status::Missing
        );
    }

    #[test]
    fn every_source_and_action_has_a_requirement() {
        for source in &SOURCES {
            assert!(
                source.needs.exchange || !source.needs.graph.is_empty(),
                "{}",
                source.id
            );
        }
        for kind in ActionKind::ALL {
            let needs = kind.needs();
            assert!(
                needs.exchange_roles.is_some() || !needs.graph.is_empty(),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_permission_only_the_conditional_access_variant_needs_is_a_warning() {
        let r = report(&["Policy.ReadWrite.AuthenticationMethod"], &[], Some(&[]));
        let mfa = check_action(&r, &Probes::default(), ActionKind::EnforceMfa);
        assert_eq!(mfa.status, Status::Warn, "{mfa:?}");
        assert!(
            mfa.detail
                .contains("Policy.ReadWrite.ConditionalAccess + Policy.Read.All"),
            "{mfa:?}"
        );
    }

    #[test]
    fn claims_are_read_from_the_token_payload() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"roles":["User.Read.All"],"wids":["X"],"oid":"o"}"#);
        let token = Secret::new(format!("e30.{payload}.sig"));
        let c = claims(&token).unwrap();
        assert_eq!(string_set(&c, "roles"), set(&["User.Read.All"]));
        assert!(string_set(&c, "missing").is_empty());
        assert!(claims(&Secret::new("opaque")).is_none());
    }

    #[test]
    fn licence_gaps_do_not_fail_the_run_but_missing_permissions_do() {
        let mut r = report(&[], &[], None);
        r.sources.push(Check {
            name: "risky_users",
            status: Status::Unavailable,
            detail: String::new(),
        });
        assert_eq!(r.exit_status(), ExitStatus::Compliant);
        r.sources.push(Check {
            name: "mfa_registration",
            status: Status::Missing,
            detail: needs_text(&["AuditLog.Read.All"]),
        });
        assert_eq!(r.exit_status(), ExitStatus::Incomplete);
        let text = r.render();
        assert!(text.contains("unavailable (licence)"), "{text}");
        assert!(
            text.contains("1 source(s) cannot be collected (mfa_registration)"),
            "{text}"
        );
    }
}
