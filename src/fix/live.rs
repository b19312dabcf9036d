//! Live reads fix mode needs, over the same clients as collection. Reads return the
//! target's current state or `None` when it no longer exists; apply never trusts the plan's
//! copy of the state.

use serde_json::{json, Map, Value};

use crate::auth::TokenProvider;
use crate::collect;
use crate::exchange::ExchangeClient;
use crate::graph::{ApiError, GraphClient};
use crate::snapshot::model::{InboxRule, Mailbox, RuleSource};

/// Role template id of Global Administrator (the "last GA" guard).
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

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

    /// A user with the properties fix mode reads, or `None` (404).
    pub fn user(&self, id: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        let path = format!(
            "/v1.0/users/{id}?$select=id,userPrincipalName,accountEnabled,userType,\
             signInSessionsValidFromDateTime,lastPasswordChangeDateTime"
        );
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

    /// Per-user (legacy) MFA state from the beta `authentication/requirements`.
    pub fn per_user_mfa(&self, user_id: &str) -> Result<Option<String>, ApiError> {
        let path = format!("/beta/users/{user_id}/authentication/requirements");
        match self.graph.get(&path) {
            Ok(v) => Ok(v["perUserMfaState"].as_str().map(str::to_owned)),
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

    /// Conditional access policies (raw Graph objects).
    pub fn ca_policies(&self) -> Result<Vec<Map<String, Value>>, ApiError> {
        self.graph
            .get_all("/v1.0/identity/conditionalAccess/policies")
    }
}

/// The parts of a Graph messageRule fix mode compares (the snapshot's Graph rules use the
/// same vocabulary).
fn graph_rule(user_id: &str, upn: &str, rule: &Map<String, Value>) -> InboxRule {
    let addresses = |key: &str| -> Vec<String> {
        rule["actions"][key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["emailAddress"]["address"].as_str())
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    };
    let flag = |key: &str| rule["actions"][key].as_bool().unwrap_or(false);
    let id = rule
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    InboxRule {
        id: format!("{user_id}/{id}"),
        mailbox_id: user_id.to_owned(),
        mailbox_upn: upn.to_owned(),
        rule_id: id,
        exchange_identity: None,
        source: RuleSource::Graph,
        name: rule
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        enabled: rule
            .get("isEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        priority: rule.get("sequence").and_then(Value::as_i64).unwrap_or(0),
        hidden: false,
        in_error: rule
            .get("hasError")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        actions: crate::snapshot::model::RuleActions {
            forward_to: addresses("forwardTo"),
            redirect_to: addresses("redirectTo"),
            forward_as_attachment_to: addresses("forwardAsAttachmentTo"),
            delete: flag("delete"),
            permanent_delete: flag("permanentDelete"),
            mark_as_read: flag("markAsRead"),
            stop_processing_rules: flag("stopProcessingRules"),
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
