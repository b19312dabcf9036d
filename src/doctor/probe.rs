//! Doctor's live probes: one cheap read per snapshot source (an exhaustive match, so a
//! new source does not compile without one), and the service principal's directory roles.
//! Nothing is written.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{
    missing, needs_text, role, string_set, Check, Report, Status, EXCHANGE_READ_ROLE_HINT,
};
use crate::exchange::ExchangeClient;
use crate::graph::{ApiError, GraphClient};
use crate::permission::MANAGE_AS_APP;
use crate::snapshot::model::SourceId;
use crate::snapshot::source::SourceDef;

/// The service principal's directory roles: the token's `wids` claim (roles held directly
/// or through a group), plus its role assignments (`principalId eq oid`) mapped to role
/// templates through the role definitions.
pub(super) fn read_directory_roles(
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
pub(super) struct Probes {
    /// A user id for the per-user MFA probe.
    user_id: Option<String>,
    /// That user's UPN, for the inbox-rule probe when Get-Mailbox named no mailbox.
    user_upn: Option<String>,
    /// A mailbox for the inbox-rule probe.
    mailbox: Option<String>,
    /// The Exchange read probe answered "no Exchange role" (403 without a body).
    pub(super) exchange_no_role: bool,
}

/// Whether `source` can be collected: its grants first (from `SOURCES`), then its probe.
pub(super) fn check_source(
    graph: &GraphClient<'_>,
    exchange: &ExchangeClient<'_>,
    report: &Report,
    probes: &mut Probes,
    source: &SourceDef,
) -> Check {
    let needs = source.needs;
    let name = source.id.as_str();
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
    let outcome = probe(graph, exchange, probes, source.id);
    match outcome {
        Ok(()) => check(Status::Ok, String::new()),
        Err(ApiError::Licence { .. }) => check(
            Status::Unavailable,
            format!(
                "the tenant has no {} licence: collected as unavailable, its rules are not applicable",
                source.licence.unwrap_or("required")
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
        // A tenant that refuses Get-InboxRule to Global Reader (see
        // `role::INBOX_RULE_READ_IF_GLOBAL_READER_REFUSED`): say which role reads it.
        Err(ApiError::Exchange {
            cmdlet, message, ..
        }) if message.contains("read scope") => check(
            Status::Missing,
            format!(
                "{cmdlet} is out of the app's Exchange read scope: assign the {} directory role to the app's service principal ({message})",
                role::names(role::INBOX_RULE_READ_IF_GLOBAL_READER_REFUSED)
            ),
        ),
        Err(e) => check(Status::Error, e.to_string()),
    }
}

/// The read that shows whether a source can be collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// One Graph GET (a single item where the API lets us ask for one).
    Graph(&'static str),
    /// Graph `/users`, remembering the first user for later probes.
    FirstUser(&'static str),
    /// beta `authentication/requirements` of the user [`Probe::FirstUser`] found.
    PerUserMfa,
    /// `authentication/methods` of the user [`Probe::FirstUser`] found.
    AuthMethods,
    /// `Get-Mailbox -ResultSize 1`, remembering the mailbox for the inbox-rule probe.
    FirstMailbox,
    /// `Get-InboxRule` of that mailbox.
    InboxRules,
    /// One Exchange cmdlet without parameters.
    Cmdlet(&'static str),
    /// One Exchange list cmdlet with `-ResultSize 1` (the list itself may be long).
    FirstOf(&'static str),
    /// `Get-MailboxFolderPermission` of the top of information store (`<mailbox>:\`) of
    /// the mailbox [`Probe::FirstMailbox`] found.
    MailboxFolders,
}

/// The probe of every source. An exhaustive match: a new [`SourceId`] does not compile
/// until it has one.
pub(super) fn probe_for(source: SourceId) -> Probe {
    match source {
        SourceId::Organization => Probe::Graph("/v1.0/organization?$select=id"),
        SourceId::Users => Probe::FirstUser("/v1.0/users?$select=id,userPrincipalName&$top=1"),
        SourceId::SignInActivity => Probe::Graph("/v1.0/users?$select=id,signInActivity&$top=1"),
        SourceId::MfaRegistration => {
            Probe::Graph("/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=1")
        }
        SourceId::PerUserMfa => Probe::PerUserMfa,
        SourceId::SecurityDefaults => {
            Probe::Graph("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy")
        }
        SourceId::ConditionalAccess => {
            Probe::Graph("/v1.0/identity/conditionalAccess/policies?$top=1")
        }
        SourceId::Roles => Probe::Graph("/v1.0/roleManagement/directory/roleAssignments?$top=1"),
        SourceId::RoleEligibility => {
            Probe::Graph("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$top=1")
        }
        SourceId::RiskyUsers => Probe::Graph("/v1.0/identityProtection/riskyUsers?$top=1"),
        SourceId::Mailboxes => Probe::FirstMailbox,
        SourceId::InboxRules => Probe::InboxRules,
        SourceId::OutboundSpamPolicies => Probe::Cmdlet("Get-HostedOutboundSpamFilterPolicy"),
        SourceId::RestrictedSenders => Probe::Cmdlet("Get-BlockedSenderAddress"),
        SourceId::RemoteDomains => Probe::Cmdlet("Get-RemoteDomain"),
        SourceId::MailProtocols => Probe::FirstOf("Get-CASMailbox"),
        SourceId::AuditConfig => Probe::FirstOf("Get-MailboxAuditBypassAssociation"),
        SourceId::TransportRules => Probe::Cmdlet("Get-TransportRule"),
        SourceId::OutboundConnectors => Probe::Cmdlet("Get-OutboundConnector"),
        SourceId::InboundConnectors => Probe::Cmdlet("Get-InboundConnector"),
        SourceId::NamedLocations => {
            Probe::Graph("/v1.0/identity/conditionalAccess/namedLocations?$top=1")
        }
        // No group id is known up front; `/groups?$top=1` needs the same permission
        // (GroupMember.Read.All: <https://learn.microsoft.com/graph/api/group-list>).
        SourceId::CaGroupMembers => Probe::Graph("/v1.0/groups?$select=id&$top=1"),
        SourceId::Recipients => Probe::FirstOf("Get-Recipient"),
        // Get-MailboxPermission needs a mailbox; Get-RecipientPermission runs under the
        // same read role and takes none.
        SourceId::MailboxDelegates => Probe::FirstOf("Get-RecipientPermission"),
        SourceId::ServicePrincipals => Probe::Graph("/v1.0/servicePrincipals?$select=id&$top=1"),
        SourceId::ConsentGrants => Probe::Graph("/v1.0/oauth2PermissionGrants?$top=1"),
        // The Microsoft Graph resource's own service principal (same permission as its
        // appRoleAssignedTo list).
        SourceId::AppRoleAssignments => Probe::Graph(
            "/v1.0/servicePrincipals?$filter=appId%20eq%20'00000003-0000-0000-c000-000000000000'&$select=id",
        ),
        SourceId::ConsentPolicy => Probe::Graph("/v1.0/policies/authorizationPolicy"),
        SourceId::AuthMethods => Probe::AuthMethods,
        SourceId::Federation => Probe::Graph("/v1.0/domains?$select=id,authenticationType"),
        SourceId::ExchangeRoleGroups => Probe::FirstOf("Get-RoleGroup"),
        SourceId::MailboxFolderPermissions => Probe::MailboxFolders,
        // Neither cmdlet takes -ResultSize (their reference pages list none).
        SourceId::ExchangeRoleAssignments => Probe::Cmdlet("Get-ManagementRoleAssignment"),
        SourceId::ApplicationAccessPolicies => Probe::Cmdlet("Get-ApplicationAccessPolicy"),
        SourceId::AppManagementPolicies => {
            Probe::Graph("/v1.0/policies/defaultAppManagementPolicy?$select=id,isEnabled")
        }
    }
}

/// Run the probe of `source`.
fn probe(
    graph: &GraphClient<'_>,
    exchange: &ExchangeClient<'_>,
    probes: &mut Probes,
    source: SourceId,
) -> Result<(), ApiError> {
    let first_str = |v: &Value, key: &str| {
        v.get("value")
            .and_then(|items| items.get(0))
            .and_then(|item| item.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match probe_for(source) {
        Probe::Graph(path) => graph.get(path).map(drop),
        Probe::FirstUser(path) => {
            let v = graph.get(path)?;
            probes.user_id = first_str(&v, "id");
            probes.user_upn = first_str(&v, "userPrincipalName");
            Ok(())
        }
        Probe::PerUserMfa => match probes.user_id.as_deref() {
            Some(id) if id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') => graph
                .get(&format!("/beta/users/{id}/authentication/requirements"))
                .map(drop),
            // No user to ask about: the permission check above is all there is.
            _ => Ok(()),
        },
        Probe::AuthMethods => match probes.user_id.as_deref() {
            Some(id) if id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') => graph
                .get(&format!("/v1.0/users/{id}/authentication/methods"))
                .map(drop),
            _ => Ok(()),
        },
        Probe::FirstMailbox => match exchange.invoke("Get-Mailbox", json!({"ResultSize": 1})) {
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
        Probe::InboxRules => {
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
        Probe::MailboxFolders => {
            let Some(upn) = probes.mailbox.clone() else {
                // No mailbox to ask about: the Get-Mailbox probe speaks for the role.
                return Ok(());
            };
            // <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>
            exchange
                .invoke_anchored(
                    "Get-MailboxFolderPermission",
                    json!({"Identity": format!("{upn}:\\")}),
                    &format!("UPN:{upn}"),
                )
                .map(drop)
        }
        Probe::Cmdlet(cmdlet) => exchange.invoke(cmdlet, json!({})).map(drop),
        Probe::FirstOf(cmdlet) => match exchange.invoke(cmdlet, json!({"ResultSize": 1})) {
            // "More results are available": we asked for one, so the cmdlet ran.
            Err(ApiError::ExchangeTruncated { .. }) => Ok(()),
            other => other.map(drop),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::{graph_endpoint, AnyOf};
    use crate::snapshot::source::{Stage, SOURCES};

    /// Every permission that satisfies `source` also satisfies `endpoint`.
    fn implies(source: AnyOf, endpoint: AnyOf) -> bool {
        source.iter().all(|p| endpoint.contains(p))
    }

    #[test]
    fn every_source_has_a_probe_on_its_own_service_within_its_permissions() {
        for source in &SOURCES {
            let probe = probe_for(source.id);
            let path = match probe {
                Probe::Graph(path) | Probe::FirstUser(path) => Some(path),
                Probe::PerUserMfa => Some("/beta/users/{}/authentication/requirements"),
                Probe::AuthMethods => Some("/v1.0/users/{}/authentication/methods"),
                Probe::FirstMailbox
                | Probe::InboxRules
                | Probe::MailboxFolders
                | Probe::Cmdlet(_)
                | Probe::FirstOf(_) => None,
            };
            match (source.stage, path) {
                (Stage::Graph, Some(path)) => {
                    let endpoint = graph_endpoint(path).unwrap_or_else(|| {
                        panic!("{}: {path} is not in GRAPH_ENDPOINTS", source.id)
                    });
                    // The probe must not need more than the source says it does, or doctor
                    // would call OK a source collection then fails on.
                    for need in endpoint.needs {
                        assert!(
                            source.needs.graph.iter().any(|s| implies(s, need)),
                            "{}: the probe needs {need:?}, the source table does not say so",
                            source.id
                        );
                    }
                }
                (Stage::Exchange | Stage::Joined, None) => assert!(source.needs.exchange),
                (stage, _) => panic!(
                    "{}: a {stage:?} source probed on the other service",
                    source.id
                ),
            }
        }
    }
}
