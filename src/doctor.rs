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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::auth::{AuthError, Secret, Settings, TokenProvider, EXCHANGE_SCOPE, GRAPH_SCOPE};
use crate::exchange::ExchangeClient;
use crate::findings::ExitStatus;
use crate::fix::actions::ActionKind;
use crate::graph::{ApiError, GraphClient};
use crate::snapshot::model::SourceId;

use crate::permission::*;

/// Built-in directory role template ids (Microsoft-wide constants, CONTRACT §7.2).
pub mod role {
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str =
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
    pub const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    pub const EXCHANGE_RECIPIENT_ADMINISTRATOR: &str = "31392ffb-586c-42d1-9346-e59415a2cc4e";
    pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
    pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
    pub const PASSWORD_ADMINISTRATOR: &str = "966707d0-3269-4727-9be2-8c3a10f19b9d";
    pub const COMPLIANCE_ADMINISTRATOR: &str = "17315797-102d-40b4-93e0-432062caca18";
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
    /// Pseudo-role in every app token's `wids`; not a role anyone assigned.
    pub const DEFAULT_APP_PERMISSIONS: &str = "0997a1d0-0d1d-4acb-b408-d5ca73121e90";

    pub const NAMES: [(&str, &str); 12] = [
        (GLOBAL_ADMINISTRATOR, "Global Administrator"),
        (
            PRIVILEGED_ROLE_ADMINISTRATOR,
            "Privileged Role Administrator",
        ),
        (
            PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
            "Privileged Authentication Administrator",
        ),
        (SECURITY_ADMINISTRATOR, "Security Administrator"),
        (EXCHANGE_ADMINISTRATOR, "Exchange Administrator"),
        (
            EXCHANGE_RECIPIENT_ADMINISTRATOR,
            "Exchange Recipient Administrator",
        ),
        (USER_ADMINISTRATOR, "User Administrator"),
        (HELPDESK_ADMINISTRATOR, "Helpdesk Administrator"),
        (PASSWORD_ADMINISTRATOR, "Password Administrator"),
        (COMPLIANCE_ADMINISTRATOR, "Compliance Administrator"),
        (GLOBAL_READER, "Global Reader"),
        (SECURITY_READER, "Security Reader"),
    ];

    /// The display name of a built-in role template, if it is one doctor knows.
    pub fn name(template_id: &str) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(template_id))
            .map(|(_, name)| *name)
    }
}

/// Exchange write cmdlets run under Exchange Administrator (or Global Administrator); the
/// spam policy and restricted-sender cmdlets also under Security Administrator (CONTRACT W6-W9).
const EXCHANGE_WRITE_ROLES: &[&str] = &[role::EXCHANGE_ADMINISTRATOR, role::GLOBAL_ADMINISTRATOR];
const EXCHANGE_SECURITY_WRITE_ROLES: &[&str] = &[
    role::EXCHANGE_ADMINISTRATOR,
    role::SECURITY_ADMINISTRATOR,
    role::GLOBAL_ADMINISTRATOR,
];
const PRIVILEGED_AUTH_ROLES: &[&str] = &[
    role::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    role::GLOBAL_ADMINISTRATOR,
];
const PRIVILEGED_ROLE_ROLES: &[&str] = &[
    role::PRIVILEGED_ROLE_ADMINISTRATOR,
    role::GLOBAL_ADMINISTRATOR,
];

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
}

impl Report {
    /// 0 when every source can be collected (a licence gap is not a failure), 3 otherwise.
    pub fn exit_status(&self) -> ExitStatus {
        if self.failing_sources().next().is_some() {
            ExitStatus::Incomplete
        } else {
            ExitStatus::Compliant
        }
    }

    fn failing_sources(&self) -> impl Iterator<Item = &Check> {
        self.sources
            .iter()
            .filter(|c| matches!(c.status, Status::Missing | Status::Error))
    }

    fn role_name(&self, template_id: &str) -> String {
        role::name(template_id)
            .map(str::to_owned)
            .or_else(|| self.role_names.get(template_id).cloned())
            .unwrap_or_else(|| template_id.to_owned())
    }

    /// The report as printed on stdout: who signed in, what it holds, one table per area.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let list = |set: &Option<BTreeSet<String>>| match set {
            None => "unknown (the access token is not a readable JWT)".to_owned(),
            Some(s) if s.is_empty() => "none".to_owned(),
            Some(s) => s.iter().cloned().collect::<Vec<_>>().join(", "),
        };
        let _ = writeln!(out, "tenant      {}", self.tenant);
        let _ = writeln!(
            out,
            "app         {}{}",
            self.client_id,
            self.app_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        if let Some(oid) = &self.principal_id {
            let _ = writeln!(out, "principal   {oid} (service principal)");
        }
        let _ = writeln!(
            out,
            "sign-in     Graph ok, Exchange ok, with the {}",
            self.credential
        );
        let _ = writeln!(
            out,
            "Graph application permissions: {}",
            list(&self.graph_permissions)
        );
        let _ = writeln!(
            out,
            "Exchange application permissions: {}",
            list(&self.exchange_permissions)
        );
        let roles = match &self.directory_roles {
            None => {
                "unknown (neither the token's wids claim nor the role assignments were readable)"
                    .to_owned()
            }
            Some(r) if r.is_empty() => "none".to_owned(),
            Some(r) => {
                let mut names: Vec<String> = r.iter().map(|id| self.role_name(id)).collect();
                names.sort();
                names.join(", ")
            }
        };
        let _ = writeln!(out, "Directory roles: {roles}");
        for (title, checks) in [("SOURCE", &self.sources), ("FIX ACTION", &self.actions)] {
            let _ = writeln!(out);
            let _ = writeln!(out, "{title:<34} {:<21} DETAIL", "STATUS");
            for c in checks.iter() {
                let line = format!("{:<34} {:<21} {}", c.name, c.status.label(), c.detail);
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        let _ = writeln!(out);
        let failing: Vec<&str> = self.failing_sources().map(|c| c.name).collect();
        if failing.is_empty() {
            let _ = writeln!(out, "every source can be collected");
        } else {
            let _ = writeln!(
                out,
                "{} source(s) cannot be collected ({}): grant what is missing above, then run doctor again",
                failing.len(),
                failing.join(", ")
            );
        }
        out
    }
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

/// What one source needs besides the probe.
struct SourceNeeds {
    graph: &'static [AnyOf],
    exchange: bool,
    /// The licence a licence error means.
    licence: Option<&'static str>,
}

fn source_needs(source: SourceId) -> SourceNeeds {
    let graph = |graph: &'static [AnyOf], licence| SourceNeeds {
        graph,
        exchange: false,
        licence,
    };
    let exchange = SourceNeeds {
        graph: &[],
        exchange: true,
        licence: None,
    };
    match source {
        SourceId::Organization => graph(&[ORG_READ], None),
        SourceId::Users => graph(&[USER_READ], None),
        SourceId::SignInActivity => graph(&[USER_READ, AUDIT_READ], Some("Entra ID P1")),
        SourceId::MfaRegistration => graph(&[AUDIT_READ], Some("Entra ID P1")),
        SourceId::PerUserMfa => graph(&[USER_READ, POLICY_READ], None),
        SourceId::SecurityDefaults => graph(&[POLICY_READ], None),
        SourceId::ConditionalAccess => graph(&[CA_READ], Some("Entra ID P1")),
        SourceId::Roles => graph(&[ROLE_READ, GROUP_MEMBER_READ], None),
        SourceId::RoleEligibility => graph(
            &[ELIGIBILITY_READ, ROLE_READ],
            Some("Entra ID P2 or Entra ID Governance"),
        ),
        SourceId::RiskyUsers => graph(&[RISKY_READ], Some("Entra ID P2")),
        SourceId::Mailboxes
        | SourceId::InboxRules
        | SourceId::OutboundSpamPolicies
        | SourceId::RestrictedSenders => exchange,
    }
}

/// What one fix action needs. Every field is judged from the grants; nothing is written.
struct ActionNeeds {
    /// Required Graph application permissions.
    graph: &'static [AnyOf],
    /// Exchange cmdlets: Exchange.ManageAsApp plus one of these directory roles.
    exchange_roles: Option<&'static [&'static str]>,
    /// A permission only one variant of the action needs: WARN when absent.
    optional: Option<(AnyOf, &'static str)>,
    /// A directory role only some targets need: WARN when absent.
    target_role: Option<(&'static [&'static str], &'static str)>,
    /// A variant that needs the licence of this source: WARN when the tenant lacks it.
    licensed_variant: Option<(SourceId, &'static str)>,
}

fn action_needs(kind: ActionKind) -> ActionNeeds {
    let none = ActionNeeds {
        graph: &[],
        exchange_roles: None,
        optional: None,
        target_role: None,
        licensed_variant: None,
    };
    match kind {
        ActionKind::BlockSignIn | ActionKind::UnblockSignIn => ActionNeeds {
            graph: &[ENABLE_DISABLE, USER_READ],
            target_role: Some((PRIVILEGED_AUTH_ROLES, "for admin targets")),
            ..none
        },
        ActionKind::RevokeSessions => ActionNeeds {
            graph: &[REVOKE],
            ..none
        },
        ActionKind::ResetPassword => ActionNeeds {
            graph: &[PASSWORD],
            target_role: Some((PRIVILEGED_AUTH_ROLES, "for admin targets")),
            ..none
        },
        ActionKind::EnforceMfa => ActionNeeds {
            graph: &[PER_USER_MFA_WRITE],
            optional: Some((
                CA_WRITE,
                "for the tenant-wide conditional access policy (also needs Entra ID P1)",
            )),
            licensed_variant: Some((
                SourceId::ConditionalAccess,
                "the tenant-wide conditional access policy needs Entra ID P1, which the tenant lacks (per-user MFA still works)",
            )),
            ..none
        },
        ActionKind::ClearMailboxForwarding => ActionNeeds {
            exchange_roles: Some(EXCHANGE_WRITE_ROLES),
            ..none
        },
        ActionKind::DisableInboxRule | ActionKind::DeleteInboxRule => ActionNeeds {
            exchange_roles: Some(EXCHANGE_WRITE_ROLES),
            optional: Some((
                MAILBOX_SETTINGS_WRITE,
                "for inbox rules collected through Graph (older snapshots)",
            )),
            ..none
        },
        ActionKind::RemoveRoleAssignment => ActionNeeds {
            graph: &[ROLE_WRITE],
            target_role: Some((PRIVILEGED_ROLE_ROLES, "for privileged roles")),
            ..none
        },
        ActionKind::UnblockSender | ActionKind::DisableOutboundAutoForwarding => ActionNeeds {
            exchange_roles: Some(EXCHANGE_SECURITY_WRITE_ROLES),
            ..none
        },
    }
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
    };
    read_directory_roles(&graph, graph_claims.as_ref(), &mut report);

    let total = SourceId::ALL.len() as u64;
    tracing::info!(progress_total = total, "checking {total} sources");
    let mut probes = Probes::default();
    for source in SourceId::ALL {
        let check = check_source(&graph, &exchange, &report, &mut probes, source);
        tracing::info!(
            step = source.as_str(),
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
    Ok(report)
}

/// The service principal's directory roles: the token's `wids` claim (roles held directly
/// or through a group), plus its role assignments (`principalId eq oid`) mapped to role
/// templates through the role definitions.
fn read_directory_roles(
    graph: &GraphClient<'_>,
    claims: Option<&serde_json::Map<String, Value>>,
    report: &mut Report,
) {
    let mut roles: Option<BTreeSet<String>> = claims
        .filter(|c| c.contains_key("wids"))
        .map(|c| string_set(c, "wids"));
    let Some(oid) = report.principal_id.clone() else {
        report.directory_roles = roles.map(without_pseudo_roles);
        return;
    };
    // Graph ids are GUIDs; anything else is not put into a URL.
    if !oid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        report.directory_roles = roles.map(without_pseudo_roles);
        return;
    }
    let definitions = graph.get_all(
        "/v1.0/roleManagement/directory/roleDefinitions?$select=id,templateId,displayName",
    );
    let mut template_of: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(defs) = &definitions {
        for d in defs {
            let id = d.get("id").and_then(Value::as_str).unwrap_or_default();
            let template = d
                .get("templateId")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .unwrap_or(id);
            template_of.insert(id.to_ascii_lowercase(), template.to_ascii_lowercase());
            if let Some(name) = d.get("displayName").and_then(Value::as_str) {
                report
                    .role_names
                    .insert(template.to_ascii_lowercase(), name.to_owned());
            }
        }
    }
    let path = format!(
        "/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'{oid}'"
    );
    match graph.get_all(&path) {
        Ok(assignments) => {
            let set = roles.get_or_insert_with(BTreeSet::new);
            for a in assignments {
                if let Some(def) = a.get("roleDefinitionId").and_then(Value::as_str) {
                    let def = def.to_ascii_lowercase();
                    // Built-in roles: the definition id is the template id.
                    set.insert(template_of.get(&def).cloned().unwrap_or(def));
                }
            }
        }
        Err(e) => {
            tracing::info!(error = %e, "cannot read the service principal's role assignments")
        }
    }
    report.directory_roles = roles.map(without_pseudo_roles);
}

fn without_pseudo_roles(roles: BTreeSet<String>) -> BTreeSet<String> {
    roles
        .into_iter()
        .map(|r| r.to_ascii_lowercase())
        .filter(|r| r != role::DEFAULT_APP_PERMISSIONS)
        .collect()
}

/// What earlier probes found that later ones build on.
#[derive(Default)]
struct Probes {
    /// A user id for the per-user MFA probe.
    user_id: Option<String>,
    /// That user's UPN, for the inbox-rule probe when Get-Mailbox named no mailbox.
    user_upn: Option<String>,
    /// A mailbox for the inbox-rule probe.
    mailbox: Option<String>,
    /// The Exchange read probe answered "no Exchange role" (403 without a body).
    exchange_no_role: bool,
}

fn check_source(
    graph: &GraphClient<'_>,
    exchange: &ExchangeClient<'_>,
    report: &Report,
    probes: &mut Probes,
    source: SourceId,
) -> Check {
    let needs = source_needs(source);
    let name = source.as_str();
    let check = |status, detail: String| Check {
        name,
        status,
        detail,
    };
    if let Some(granted) = &report.graph_permissions {
        let lacking = missing(granted, needs.graph);
        if !lacking.is_empty() {
            return check(Status::Missing, needs_text(&lacking));
        }
    }
    if needs.exchange {
        if let Some(granted) = &report.exchange_permissions {
            if !granted.contains(MANAGE_AS_APP) {
                return check(
                    Status::Missing,
                    format!("needs {MANAGE_AS_APP} (application permission of Office 365 Exchange Online, admin consent)"),
                );
            }
        }
        if probes.exchange_no_role {
            return check(Status::Missing, format!("needs {EXCHANGE_READ_ROLE_HINT}"));
        }
    }
    let outcome = probe(graph, exchange, probes, source);
    match outcome {
        Ok(()) => check(Status::Ok, String::new()),
        Err(ApiError::Licence { .. }) => check(
            Status::Unavailable,
            format!(
                "the tenant has no {} licence: collected as unavailable, its rules are not applicable",
                needs.licence.unwrap_or("required")
            ),
        ),
        Err(ApiError::Forbidden {
            permission,
            endpoint,
            ..
        }) => check(
            Status::Missing,
            format!("needs {permission} (GET {endpoint} answered 403)"),
        ),
        Err(ApiError::ExchangeNoRole { cmdlet, .. }) => {
            probes.exchange_no_role = true;
            check(
                Status::Missing,
                format!("needs {EXCHANGE_READ_ROLE_HINT} ({cmdlet} answered 403 without a body)"),
            )
        }
        Err(ApiError::Exchange {
            status: 401,
            cmdlet,
            ..
        }) => check(
            Status::Missing,
            format!("needs {MANAGE_AS_APP} with admin consent ({cmdlet} answered 401)"),
        ),
        Err(e) => check(Status::Error, e.to_string()),
    }
}

/// One cheap read that shows whether the source can be collected: a single item, where
/// the API lets us ask for one.
fn probe(
    graph: &GraphClient<'_>,
    exchange: &ExchangeClient<'_>,
    probes: &mut Probes,
    source: SourceId,
) -> Result<(), ApiError> {
    let first_str = |v: &Value, key: &str| {
        v["value"][0][key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match source {
        SourceId::Organization => graph.get("/v1.0/organization?$select=id").map(drop),
        SourceId::Users => {
            let v = graph.get("/v1.0/users?$select=id,userPrincipalName&$top=1")?;
            probes.user_id = first_str(&v, "id");
            probes.user_upn = first_str(&v, "userPrincipalName");
            Ok(())
        }
        SourceId::SignInActivity => graph
            .get("/v1.0/users?$select=id,signInActivity&$top=1")
            .map(drop),
        SourceId::MfaRegistration => graph
            .get("/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=1")
            .map(drop),
        SourceId::PerUserMfa => match probes.user_id.as_deref() {
            Some(id) if id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') => graph
                .get(&format!("/beta/users/{id}/authentication/requirements"))
                .map(drop),
            // No user to ask about: the permission check above is all there is.
            _ => Ok(()),
        },
        SourceId::SecurityDefaults => graph
            .get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy")
            .map(drop),
        SourceId::ConditionalAccess => graph
            .get("/v1.0/identity/conditionalAccess/policies?$top=1")
            .map(drop),
        SourceId::Roles => graph
            .get("/v1.0/roleManagement/directory/roleAssignments?$top=1")
            .map(drop),
        SourceId::RoleEligibility => graph
            .get("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$top=1")
            .map(drop),
        SourceId::RiskyUsers => graph
            .get("/v1.0/identityProtection/riskyUsers?$top=1")
            .map(drop),
        SourceId::Mailboxes => match exchange.invoke("Get-Mailbox", json!({"ResultSize": 1})) {
            Ok(items) => {
                probes.mailbox = items.first().and_then(|m| {
                    ["UserPrincipalName", "PrimarySmtpAddress"]
                        .iter()
                        .find_map(|k| m.get(*k).and_then(Value::as_str))
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                });
                Ok(())
            }
            // "More results are available": we asked for one, so the cmdlet ran.
            Err(ApiError::ExchangeTruncated { .. }) => Ok(()),
            Err(e) => Err(e),
        },
        SourceId::InboxRules => {
            let Some(upn) = probes.mailbox.clone().or_else(|| probes.user_upn.clone()) else {
                // Nobody to ask about: the Get-Mailbox probe speaks for the Exchange role.
                return Ok(());
            };
            let rules = exchange.invoke_anchored(
                "Get-InboxRule",
                json!({"Mailbox": upn, "IncludeHidden": true}),
                &format!("UPN:{upn}"),
            );
            match rules {
                // A user without a mailbox: the cmdlet itself was allowed to run.
                Err(e) if crate::fix::actions::is_not_found(&e) => Ok(()),
                other => other.map(drop),
            }
        }
        SourceId::OutboundSpamPolicies => exchange
            .invoke("Get-HostedOutboundSpamFilterPolicy", json!({}))
            .map(drop),
        SourceId::RestrictedSenders => exchange
            .invoke("Get-BlockedSenderAddress", json!({}))
            .map(drop),
    }
}

fn check_action(report: &Report, probes: &Probes, kind: ActionKind) -> Check {
    let needs = action_needs(kind);
    let name = kind.as_str();
    let mut lacking: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    match &report.graph_permissions {
        Some(granted) => {
            let perms = missing(granted, needs.graph);
            if !perms.is_empty() {
                lacking.push(needs_text(&perms));
            }
            if let Some((perm, why)) = needs.optional {
                if !missing(granted, &[perm]).is_empty() {
                    warnings.push(format!("{} {why}", perm[0]));
                }
            }
        }
        None if !needs.graph.is_empty() => warnings.push(format!(
            "cannot read the granted permissions from the token; needs {}",
            needs
                .graph
                .iter()
                .map(|p| p[0])
                .collect::<Vec<_>>()
                .join(" + ")
        )),
        None => {}
    }
    if let Some(roles) = needs.exchange_roles {
        let role_names = || {
            let names: Vec<&str> = roles.iter().filter_map(|r| role::name(r)).collect();
            match names.split_first() {
                Some((first, [])) => (*first).to_owned(),
                Some((first, rest)) => format!("{first} (or {})", rest.join(", ")),
                None => String::new(),
            }
        };
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
        let reset = check_action(&r, &probes, ActionKind::ResetPassword);
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
        for source in SourceId::ALL {
            let needs = source_needs(source);
            assert!(
                needs.exchange || !needs.graph.is_empty(),
                "{}",
                source.as_str()
            );
        }
        for kind in ActionKind::ALL {
            let needs = action_needs(kind);
            assert!(
                needs.exchange_roles.is_some() || !needs.graph.is_empty(),
                "{kind}"
            );
        }
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
