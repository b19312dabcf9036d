//! Live reads fix mode needs, over the same clients as collection. Reads return the
//! target's current state or `None` when it no longer exists; apply never trusts the plan's
//! copy of the state.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::TokenProvider;
use crate::collect;
use crate::exchange::ExchangeClient;
use crate::graph::{ApiError, GraphClient};
use crate::snapshot::model::{
    InboundConnector, InboxRule, Mailbox, OutboundConnector, RuleSource, TransportRule,
};

/// Role template id of Global Administrator (the "last GA" guard).
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Reads an API object into its typed view. A property of an unexpected type makes the
/// whole view empty (every field `None`), which apply treats as "not in the target state":
/// it then writes and verifies by reading back, never trusts a guess.
fn typed<T: serde::de::DeserializeOwned + Default>(object: &Map<String, Value>) -> T {
    serde_json::from_value(Value::Object(object.clone())).unwrap_or_default()
}

/// A Graph `user`, the properties fix mode reads
/// (<https://learn.microsoft.com/graph/api/resources/user>); any may be absent.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphUser {
    pub id: Option<String>,
    pub user_principal_name: Option<String>,
    pub account_enabled: Option<bool>,
    pub sign_in_sessions_valid_from_date_time: Option<String>,
    pub last_password_change_date_time: Option<String>,
}

/// A Graph `unifiedRoleAssignment`
/// (<https://learn.microsoft.com/graph/api/resources/unifiedroleassignment>).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphRoleAssignment {
    pub id: Option<String>,
    pub role_definition_id: Option<String>,
    pub principal_id: Option<String>,
}

/// A PIM schedule instance, active (`unifiedRoleAssignmentScheduleInstance`) or eligible
/// (`unifiedRoleEligibilityScheduleInstance`), the parts a removal reads
/// (<https://learn.microsoft.com/graph/api/resources/unifiedroleassignmentscheduleinstance>,
/// <https://learn.microsoft.com/graph/api/resources/unifiedroleeligibilityscheduleinstance>).
/// `assignmentType` is `Assigned` or `Activated`; `memberType` is `Direct`, `Group` or
/// `Inherited` (only a `Direct` one is removed for its principal).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphRoleScheduleInstance {
    pub id: Option<String>,
    pub principal_id: Option<String>,
    pub role_definition_id: Option<String>,
    pub directory_scope_id: Option<String>,
    pub assignment_type: Option<String>,
    pub member_type: Option<String>,
    pub role_assignment_origin_id: Option<String>,
}

/// A Graph `conditionalAccessPolicy`, the parts that say whether it requires MFA for
/// everyone (<https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy>).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaPolicy {
    pub display_name: Option<String>,
    pub state: Option<String>,
    pub conditions: Option<GraphCaConditions>,
    pub grant_controls: Option<GraphGrantControls>,
}

/// `conditionalAccessConditionSet`, the conditions that can narrow a policy
/// (<https://learn.microsoft.com/graph/api/resources/conditionalaccessconditionset>).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaConditions {
    pub users: Option<GraphCaUsers>,
    pub applications: Option<GraphCaApplications>,
    pub locations: Option<GraphCaLocations>,
    pub platforms: Option<GraphCaPlatforms>,
    pub user_risk_levels: Option<Vec<String>>,
    pub sign_in_risk_levels: Option<Vec<String>>,
    pub devices: Option<GraphCaDevices>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaUsers {
    pub include_users: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaApplications {
    pub include_applications: Option<Vec<String>>,
    pub exclude_applications: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaLocations {
    pub include_locations: Option<Vec<String>>,
    pub exclude_locations: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaPlatforms {
    pub include_platforms: Option<Vec<String>>,
    pub exclude_platforms: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCaDevices {
    pub device_filter: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphGrantControls {
    pub operator: Option<String>,
    pub built_in_controls: Option<Vec<String>>,
    pub authentication_strength: Option<Value>,
}

/// `Get-HostedOutboundSpamFilterPolicy` output, the properties fix mode reads
/// (<https://learn.microsoft.com/powershell/module/exchange/get-hostedoutboundspamfilterpolicy>).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ExoOutboundPolicy {
    pub identity: Option<String>,
    pub name: Option<String>,
    pub auto_forwarding_mode: Option<String>,
}

/// `Get-CASMailbox` output, the client access switches fix mode reads and writes
/// (<https://learn.microsoft.com/powershell/module/exchange/get-casmailbox>). A mailbox's
/// `SmtpClientAuthenticationDisabled` is `null` when it uses the organisation's setting.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExoCasMailbox {
    #[serde(rename = "PopEnabled")]
    pub pop_enabled: Option<bool>,
    #[serde(rename = "ImapEnabled")]
    pub imap_enabled: Option<bool>,
    #[serde(rename = "SmtpClientAuthenticationDisabled")]
    pub smtp_client_authentication_disabled: Option<bool>,
    #[serde(rename = "ActiveSyncEnabled")]
    pub active_sync_enabled: Option<bool>,
    #[serde(rename = "OWAforDevicesEnabled")]
    pub owa_for_devices_enabled: Option<bool>,
}

/// `Get-TransportConfig`, `Get-OrganizationConfig` and `Get-MailboxAuditBypassAssociation`
/// output, the switches fix mode reads
/// (<https://learn.microsoft.com/powershell/module/exchange/get-transportconfig>,
/// <https://learn.microsoft.com/powershell/module/exchange/get-organizationconfig>,
/// <https://learn.microsoft.com/powershell/module/exchange/get-mailboxauditbypassassociation>).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExoOrgSwitches {
    #[serde(rename = "SmtpClientAuthenticationDisabled")]
    pub smtp_client_authentication_disabled: Option<bool>,
    #[serde(rename = "AuditDisabled")]
    pub audit_disabled: Option<bool>,
    #[serde(rename = "AuditBypassEnabled")]
    pub audit_bypass_enabled: Option<bool>,
}

/// A Graph `messageRule`, the parts fix mode compares
/// (<https://learn.microsoft.com/graph/api/resources/messagerule>).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GraphMessageRule {
    id: Option<String>,
    display_name: Option<String>,
    is_enabled: Option<bool>,
    sequence: Option<i64>,
    has_error: Option<bool>,
    actions: Option<GraphMessageRuleActions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GraphMessageRuleActions {
    forward_to: Option<Vec<GraphRecipient>>,
    redirect_to: Option<Vec<GraphRecipient>>,
    forward_as_attachment_to: Option<Vec<GraphRecipient>>,
    delete: Option<bool>,
    permanent_delete: Option<bool>,
    mark_as_read: Option<bool>,
    stop_processing_rules: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GraphRecipient {
    email_address: Option<GraphEmailAddress>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GraphEmailAddress {
    address: Option<String>,
}

/// A typed Exchange object with the object as Exchange returned it (evidence keeps that).
pub type WithRaw<T> = (T, Map<String, Value>);
/// A Graph `oAuth2PermissionGrant`
/// (<https://learn.microsoft.com/graph/api/resources/oauth2permissiongrant>).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphGrant {
    pub id: Option<String>,
    pub client_id: Option<String>,
    pub consent_type: Option<String>,
    pub principal_id: Option<String>,
    pub resource_id: Option<String>,
    pub scope: Option<String>,
}

/// A Graph `appRoleAssignment`
/// (<https://learn.microsoft.com/graph/api/resources/approleassignment>).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphAppRoleAssignment {
    pub id: Option<String>,
    pub app_role_id: Option<String>,
    pub principal_id: Option<String>,
    pub principal_display_name: Option<String>,
    pub principal_type: Option<String>,
    pub resource_id: Option<String>,
    pub resource_display_name: Option<String>,
    pub created_date_time: Option<String>,
}

/// A `passwordCredential` or `keyCredential`, metadata only: `secretText`, `hint` and
/// `key` are not fields here, so they are dropped when an answer carries them
/// (<https://learn.microsoft.com/graph/api/resources/passwordcredential>).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphCredential {
    pub key_id: Option<String>,
    pub display_name: Option<String>,
    pub start_date_time: Option<String>,
    pub end_date_time: Option<String>,
}

/// A service principal or application, the parts fix mode reads
/// (<https://learn.microsoft.com/graph/api/resources/serviceprincipal>).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GraphAppObject {
    pub id: Option<String>,
    pub app_id: Option<String>,
    pub display_name: Option<String>,
    pub account_enabled: Option<bool>,
    pub app_owner_organization_id: Option<String>,
    pub password_credentials: Option<Vec<GraphCredential>>,
    pub key_credentials: Option<Vec<GraphCredential>>,
}

pub struct Live<'a> {
    pub graph: GraphClient<'a>,
    pub exchange: ExchangeClient<'a>,
}

impl<'a> Live<'a> {
    pub fn new(tokens: &'a TokenProvider, agent: ureq::Agent) -> Live<'a> {
        Live {
            graph: GraphClient::new(tokens, agent.clone()),
            exchange: ExchangeClient::new(tokens, agent),
        }
    }

    /// One object by path, typed; `None` on 404.
    fn object<T: serde::de::DeserializeOwned + Default>(
        &self,
        path: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.graph.get(path) {
            Ok(Value::Object(o)) => Ok(Some(typed(&o))),
            Ok(_) => Err(ApiError::BadResponse {
                endpoint: path.to_owned(),
                message: "expected an object".into(),
            }),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `GET /oauth2PermissionGrants/{id}`
    /// (<https://learn.microsoft.com/graph/api/oauth2permissiongrant-get>).
    pub fn consent_grant(&self, id: &str) -> Result<Option<GraphGrant>, ApiError> {
        self.object(&format!("/v1.0/oauth2PermissionGrants/{id}"))
    }

    /// The assignment `id` among `GET /servicePrincipals/{resource}/appRoleAssignedTo`
    /// (no single-item read is documented); `None` when absent or the resource is gone.
    pub fn app_role_assignment(
        &self,
        resource_id: &str,
        id: &str,
    ) -> Result<Option<GraphAppRoleAssignment>, ApiError> {
        let path = format!("/v1.0/servicePrincipals/{resource_id}/appRoleAssignedTo?$top=999");
        match self.graph.get_all(&path) {
            Ok(list) => Ok(list
                .iter()
                .map(typed::<GraphAppRoleAssignment>)
                .find(|a| a.id.as_deref() == Some(id))),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `GET /servicePrincipals/{id}` or `/applications/{id}` with its credentials' metadata.
    pub fn app_object(
        &self,
        owner: crate::snapshot::model::CredentialOwner,
        id: &str,
    ) -> Result<Option<GraphAppObject>, ApiError> {
        use crate::snapshot::model::CredentialOwner;
        let path = match owner {
            CredentialOwner::ServicePrincipal => format!(
                "/v1.0/servicePrincipals/{id}?$select=id,appId,displayName,accountEnabled,appOwnerOrganizationId,passwordCredentials,keyCredentials"
            ),
            CredentialOwner::Application => format!(
                "/v1.0/applications/{id}?$select=id,appId,displayName,passwordCredentials,keyCredentials"
            ),
        };
        self.object(&path)
    }

    /// `defaultUserRolePermissions.permissionGrantPoliciesAssigned` of
    /// `GET /policies/authorizationPolicy`
    /// (<https://learn.microsoft.com/graph/api/authorizationpolicy-get>).
    pub fn permission_grant_policies_assigned(&self) -> Result<Vec<String>, ApiError> {
        let path = "/v1.0/policies/authorizationPolicy";
        let policy = self.graph.get(path)?;
        policy
            .get("defaultUserRolePermissions")
            .and_then(|d| d.get("permissionGrantPoliciesAssigned"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .ok_or_else(|| ApiError::BadResponse {
                endpoint: path.into(),
                message: "missing defaultUserRolePermissions.permissionGrantPoliciesAssigned"
                    .into(),
            })
    }

    /// A user (by id or UPN, as given: it is escaped here) with the properties fix mode
    /// reads, or `None` (404).
    pub fn user(&self, id: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        let path = user_path(id);
        match self.graph.get(&path) {
            Ok(Value::Object(user)) => Ok(Some(user)),
            Ok(_) => Err(ApiError::BadResponse {
                endpoint: path,
                message: "expected a user object".into(),
            }),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The typed view of [`Live::user`].
    pub fn graph_user(&self, id: &str) -> Result<Option<GraphUser>, ApiError> {
        Ok(self.user(id)?.as_ref().map(typed))
    }

    /// Per-user (legacy) MFA state from the beta `authentication/requirements`.
    pub fn per_user_mfa(&self, user_id: &str) -> Result<Option<String>, ApiError> {
        let path = format!("/beta/users/{user_id}/authentication/requirements");
        match self.graph.get(&path) {
            Ok(v) => Ok(v
                .get("perUserMfaState")
                .and_then(Value::as_str)
                .map(str::to_owned)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `Get-Mailbox -Identity`, mapped like collection does.
    pub fn mailbox(&self, identity: &str) -> Result<Option<Mailbox>, ApiError> {
        match self
            .exchange
            .invoke("Get-Mailbox", json!({"Identity": identity}))
        {
            Ok(rows) => Ok(rows.first().and_then(collect::mailboxes::map)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Every inbox rule of a mailbox (hidden ones included), mapped like collection does.
    pub fn inbox_rules(&self, mailbox: &Mailbox) -> Result<Vec<InboxRule>, ApiError> {
        collect::inbox_rules::fetch_one(&self.exchange, mailbox)
    }

    /// One inbox rule by its rule id, whichever API collected it.
    pub fn inbox_rule(
        &self,
        user_id: &str,
        upn: &str,
        rule_id: &str,
        graph_source: bool,
    ) -> Result<Option<InboxRule>, ApiError> {
        if graph_source {
            let path = format!("/v1.0/users/{user_id}/mailFolders/inbox/messageRules/{rule_id}");
            return match self.graph.get(&path) {
                Ok(Value::Object(rule)) => Ok(Some(graph_rule(user_id, upn, &rule))),
                Ok(_) => Err(ApiError::BadResponse {
                    endpoint: path,
                    message: "expected a messageRule object".into(),
                }),
                Err(err) if is_not_found(&err) => Ok(None),
                Err(err) => Err(err),
            };
        }
        let Some(mailbox) = self.mailbox(upn)? else {
            return Ok(None);
        };
        Ok(self
            .inbox_rules(&mailbox)?
            .into_iter()
            .find(|r| r.rule_id == rule_id))
    }

    /// Active directory role assignments (all of them: a tenant has few).
    pub fn role_assignments(&self) -> Result<Vec<Map<String, Value>>, ApiError> {
        self.graph
            .get_all("/v1.0/roleManagement/directory/roleAssignments")
    }

    /// The restricted-senders list entry for any of `addresses` (one list read), if there.
    pub fn blocked_sender(
        &self,
        addresses: &[&str],
    ) -> Result<Option<Map<String, Value>>, ApiError> {
        let rows = self
            .exchange
            .invoke("Get-BlockedSenderAddress", json!({}))?;
        Ok(rows.into_iter().find(|r| {
            r.get("SenderAddress")
                .and_then(Value::as_str)
                .is_some_and(|a| addresses.iter().any(|x| a.eq_ignore_ascii_case(x)))
        }))
    }

    /// An outbound spam filter policy by identity/name.
    pub fn outbound_policy(&self, identity: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        let rows = self
            .exchange
            .invoke("Get-HostedOutboundSpamFilterPolicy", json!({}))?;
        Ok(rows.into_iter().find(|r| {
            ["Identity", "Name"].iter().any(|k| {
                r.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(identity))
            })
        }))
    }

    /// One active role assignment by id, typed.
    pub fn role_assignment(&self, id: &str) -> Result<Option<GraphRoleAssignment>, ApiError> {
        Ok(self
            .role_assignments()?
            .iter()
            .map(typed::<GraphRoleAssignment>)
            .find(|a| a.id.as_deref() == Some(id)))
    }

    /// Conditional access policies, typed.
    pub fn graph_ca_policies(&self) -> Result<Vec<GraphCaPolicy>, ApiError> {
        Ok(self.ca_policies()?.iter().map(typed).collect())
    }

    /// An outbound spam filter policy by identity/name, typed.
    pub fn exo_outbound_policy(
        &self,
        identity: &str,
    ) -> Result<Option<ExoOutboundPolicy>, ApiError> {
        Ok(self.outbound_policy(identity)?.as_ref().map(typed))
    }

    /// `Get-CASMailbox -Identity`, typed; `None` when the mailbox is gone.
    pub fn cas_mailbox(&self, identity: &str) -> Result<Option<ExoCasMailbox>, ApiError> {
        self.exo_one("Get-CASMailbox", json!({"Identity": identity}))
    }

    /// One object of a singleton or `-Identity` read, typed; `None` when not found.
    pub fn exo_one<T: serde::de::DeserializeOwned + Default>(
        &self,
        cmdlet: &str,
        parameters: Value,
    ) -> Result<Option<T>, ApiError> {
        match self.exchange.invoke(cmdlet, parameters) {
            Ok(rows) => Ok(rows.first().map(typed)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One transport rule by GUID or name (`Get-TransportRule -Identity`), mapped like
    /// collection does, with the raw object (the evidence keeps every property).
    pub fn transport_rule(
        &self,
        identity: &str,
    ) -> Result<Option<WithRaw<TransportRule>>, ApiError> {
        self.exchange_one("Get-TransportRule", identity, collect::transport_rules::map)
    }

    /// One outbound connector by GUID or name (`Get-OutboundConnector -Identity`).
    pub fn outbound_connector(
        &self,
        identity: &str,
    ) -> Result<Option<WithRaw<OutboundConnector>>, ApiError> {
        self.exchange_one(
            "Get-OutboundConnector",
            identity,
            collect::connectors::map_outbound,
        )
    }

    /// One inbound connector by GUID or name (`Get-InboundConnector -Identity`).
    pub fn inbound_connector(
        &self,
        identity: &str,
    ) -> Result<Option<WithRaw<InboundConnector>>, ApiError> {
        self.exchange_one(
            "Get-InboundConnector",
            identity,
            collect::connectors::map_inbound,
        )
    }

    /// `<cmdlet> -Identity <identity>`: the first object, typed by `map`, with the raw
    /// object; `None` when Exchange says it does not exist.
    fn exchange_one<T>(
        &self,
        cmdlet: &str,
        identity: &str,
        map: fn(&Map<String, Value>) -> Option<T>,
    ) -> Result<Option<WithRaw<T>>, ApiError> {
        match self.exchange.invoke(cmdlet, json!({"Identity": identity})) {
            Ok(rows) => Ok(rows
                .into_iter()
                .next()
                .and_then(|raw| map(&raw).map(|typed| (typed, raw)))),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Conditional access policies (raw Graph objects).
    pub fn ca_policies(&self) -> Result<Vec<Map<String, Value>>, ApiError> {
        self.graph
            .get_all("/v1.0/identity/conditionalAccess/policies")
    }
}

/// The parts of a Graph messageRule fix mode compares (the snapshot's Graph rules use the
/// same vocabulary).
fn graph_rule(user_id: &str, upn: &str, rule: &Map<String, Value>) -> InboxRule {
    let rule: GraphMessageRule = typed(rule);
    let actions = rule.actions.unwrap_or_default();
    let addresses = |recipients: Option<Vec<GraphRecipient>>| -> Vec<String> {
        recipients
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.email_address?.address)
            .map(|a| a.to_lowercase())
            .collect()
    };
    let id = rule.id.unwrap_or_default();
    InboxRule {
        id: format!("{user_id}/{id}"),
        mailbox_id: user_id.to_owned(),
        mailbox_upn: upn.to_owned(),
        rule_id: id,
        exchange_identity: None,
        source: RuleSource::Graph,
        name: rule.display_name.unwrap_or_default(),
        enabled: rule.is_enabled.unwrap_or(true),
        priority: rule.sequence.unwrap_or(0),
        hidden: false,
        in_error: rule.has_error.unwrap_or(false),
        actions: crate::snapshot::model::RuleActions {
            forward_to: addresses(actions.forward_to),
            redirect_to: addresses(actions.redirect_to),
            forward_as_attachment_to: addresses(actions.forward_as_attachment_to),
            delete: actions.delete.unwrap_or(false),
            permanent_delete: actions.permanent_delete.unwrap_or(false),
            mark_as_read: actions.mark_as_read.unwrap_or(false),
            stop_processing_rules: actions.stop_processing_rules.unwrap_or(false),
            ..Default::default()
        },
        conditions: Default::default(),
    }
}

/// Exchange says "couldn't be found" / "not found" for a missing object.
pub fn is_not_found(err: &ApiError) -> bool {
    match err {
        ApiError::Status { status, .. } => *status == 404,
        ApiError::Exchange {
            status, message, ..
        } => {
            *status == 404
                || message.contains("couldn't be found")
                || message.contains("could not be found")
        }
        _ => false,
    }
}

/// `GET /users/{id | userPrincipalName}` with fix mode's properties; the id or UPN is one
/// escaped path segment (a guest UPN holds `#`, which would end the path).
/// <https://learn.microsoft.com/graph/api/user-get>
fn user_path(id: &str) -> String {
    format!(
        "/v1.0/users/{}?$select=id,userPrincipalName,accountEnabled,userType,\
         signInSessionsValidFromDateTime,lastPasswordChangeDateTime",
        crate::graph::path::segment(id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object as object;

    /// respond takes the UPN as typed: `#`, `?`, `/` and `'` stay inside the one segment.
    #[test]
    fn a_user_path_escapes_the_upn() {
        let path = user_path("o'neil?x/y_fabrikam.com#EXT#@contoso.onmicrosoft.com");
        assert_eq!(
            path.split('?').next(),
            Some("/v1.0/users/o%27neil%3Fx%2Fy_fabrikam.com%23EXT%23@contoso.onmicrosoft.com")
        );
        assert_eq!(path.matches('?').count(), 1, "{path}");
        assert!(!path.contains('#'), "{path}");
    }

    /// Issue 9: revoke_sessions indexed `u["signInSessionsValidFromDateTime"]` on the raw
    /// map and panicked ("no entry found for key") when Graph omitted it, aborting apply.
    #[test]
    fn a_user_without_optional_properties_is_data_not_a_panic() {
        let user: GraphUser = typed(&object(json!({"id": "u1"})));
        assert_eq!(user.id.as_deref(), Some("u1"));
        assert_eq!(user.sign_in_sessions_valid_from_date_time, None);
        assert_eq!(user.account_enabled, None);
        // A property of an unexpected type: an empty view, never a panic.
        let odd: GraphUser = typed(&object(json!({"id": 7, "accountEnabled": "yes"})));
        assert_eq!(odd.id, None);
    }

    #[test]
    fn graph_message_rule_without_actions_maps_to_an_empty_rule() {
        let rule = graph_rule("u1", "a@contoso.com", &object(json!({"id": "r1"})));
        assert_eq!(rule.id, "u1/r1");
        assert!(rule.enabled);
        assert!(rule.actions.forward_to.is_empty());
        let forward = graph_rule(
            "u1",
            "a@contoso.com",
            &object(json!({"id": "r2", "actions": {"forwardTo": [
                {"emailAddress": {"address": "X@Evil.example"}}, {"emailAddress": null}, {}
            ]}})),
        );
        assert_eq!(forward.actions.forward_to, ["x@evil.example"]);
    }
}
