//! `disable_inbox_rule` (the default for forwarding and hiding rules): Exchange
//! Disable-InboxRule for rules collected through Exchange, Graph PATCH `isEnabled: false`
//! for rules collected through Graph (CONTRACT §11 W4, W8). The rule stays in the mailbox,
//! so the user or an investigator can still see what the attacker set up, and the full
//! definition is saved as evidence first.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::InboxRule;

pub struct DisableInboxRule;

/// What the Exchange cmdlets need (the same for disabling and deleting a rule).
pub(super) fn exchange_permission() -> String {
    ActionKind::DisableInboxRule
        .needs()
        .exchange_text()
        .unwrap_or_default()
}

/// What the Graph `messageRules` writes need (rules collected through Graph).
pub(super) fn graph_permission() -> String {
    crate::permission::least(&[crate::permission::MAILBOX_SETTINGS_WRITE])
}

/// The precondition vocabulary: what the rule is and does. Conditions are evidence, not
/// precondition (a reworded condition does not make a forwarding rule safe).
pub fn rule_state(r: &InboxRule) -> State {
    let list = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|a| a.to_lowercase()).collect();
        v.sort();
        json!(v)
    };
    state([
        ("name", json!(r.name)),
        ("enabled", json!(r.enabled)),
        ("forward_to", list(&r.actions.forward_to)),
        ("redirect_to", list(&r.actions.redirect_to)),
        (
            "forward_as_attachment_to",
            list(&r.actions.forward_as_attachment_to),
        ),
        ("delete", json!(r.actions.delete)),
        ("permanent_delete", json!(r.actions.permanent_delete)),
    ])
}

pub(super) fn graph_source(target: &Target) -> bool {
    target.exchange_identity.is_none()
}

pub(super) fn read_rule(live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
    let rule = live.inbox_rule(
        target.user_id.as_deref().unwrap_or_default(),
        target.user_principal_name.as_deref().unwrap_or_default(),
        target.rule_id.as_deref().unwrap_or_default(),
        graph_source(target),
    )?;
    Ok(rule.map(|r| {
        let mut state = rule_state(&r);
        state.insert(
            super::DEFINITION.to_owned(),
            serde_json::to_value(&r).unwrap_or(Value::Null),
        );
        state
    }))
}

/// The parameters of an Exchange `*-InboxRule` write, in the order the plan shows them.
///
/// Disable-InboxRule, Enable-InboxRule and Remove-InboxRule document one parameter set
/// (<https://learn.microsoft.com/powershell/module/exchange/disable-inboxrule>,
/// <https://learn.microsoft.com/powershell/module/exchange/enable-inboxrule>,
/// <https://learn.microsoft.com/powershell/module/exchange/remove-inboxrule>): `-Identity`
/// is the rule's Name, its RuleIdentity, or `MailboxAlias\RuleIdentity`, and `-Mailbox`
/// names the mailbox when Identity does not. Their examples pair `-Mailbox <UPN>` with a
/// bare rule identity, which is what is sent here: the RuleIdentity (unique, unlike Name)
/// with the owner's UPN — never the alias-qualified Identity *and* Mailbox, which say the
/// mailbox twice. A rule known only by its qualified Identity is sent alone.
///
/// `-Force` is documented "to run tasks programmatically where prompting for administrative
/// input is inappropriate" (the prompt appears when the mailbox holds Outlook client-side
/// rules, which these cmdlets remove), `-AlwaysDeleteOutlookRulesBlob` hides the matching
/// warning, and `-Confirm:$false` skips the built-in pause.
fn rule_params(target: &Target) -> Vec<(&'static str, Value)> {
    let upn = target
        .user_principal_name
        .as_deref()
        .filter(|u| !u.is_empty());
    let rule = target.rule_id.as_deref().filter(|r| !r.is_empty());
    let mut params = match (upn, rule, target.exchange_identity.as_deref()) {
        (Some(upn), Some(rule), _) => vec![("Mailbox", json!(upn)), ("Identity", json!(rule))],
        (_, _, Some(identity)) => vec![("Identity", json!(identity))],
        (upn, rule, None) => vec![
            ("Mailbox", json!(upn.unwrap_or_default())),
            ("Identity", json!(rule.unwrap_or_default())),
        ],
    };
    params.extend([
        ("Force", json!(true)),
        ("AlwaysDeleteOutlookRulesBlob", json!(true)),
        ("Confirm", json!(false)),
    ]);
    params
}

/// `X-AnchorMailbox` for a rule write: the owner's mailbox, as other callers of the same
/// endpoint do (CIPP's Set-CIPPMailboxRule passes the user as `-Anchor`), so the request
/// is routed to that mailbox's server rather than the system mailbox's.
fn rule_anchor(target: &Target) -> Option<String> {
    target
        .user_principal_name
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(|u| format!("UPN:{u}"))
}

/// Run an Exchange `*-InboxRule` cmdlet on the target rule.
pub(super) fn run_rule_cmdlet(
    live: &Live<'_>,
    target: &Target,
    cmdlet: &str,
) -> Result<WriteReceipt, ApiError> {
    let params: serde_json::Map<String, Value> = rule_params(target)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let params = Value::Object(params);
    match rule_anchor(target) {
        Some(anchor) => live.exchange.invoke_anchored(cmdlet, params, &anchor),
        None => live.exchange.invoke(cmdlet, params),
    }
    .map_err(|e| exchange_write_error(e, &exchange_permission()))?;
    Ok(WriteReceipt::default())
}

/// The cmdlet as an admin would type it, for the plan: the same parameters that are sent.
pub(super) fn rule_cmdlet_text(target: &Target, cmdlet: &str) -> String {
    let mut text = cmdlet.to_owned();
    for (name, value) in rule_params(target) {
        match value {
            Value::Bool(true) => text.push_str(&format!(" -{name}")),
            Value::Bool(false) => text.push_str(&format!(" -{name}:$false")),
            Value::String(s) if name == "Identity" => {
                text.push_str(&format!(" -{name} '{}'", s.replace('\'', "''")))
            }
            Value::String(s) => text.push_str(&format!(" -{name} {s}")),
            other => text.push_str(&format!(" -{name} {other}")),
        }
    }
    text
}

pub(super) fn graph_rule_path(target: &Target) -> String {
    format!(
        "/v1.0/users/{}/mailFolders/inbox/messageRules/{}",
        target.user_id.as_deref().unwrap_or_default(),
        target.rule_id.as_deref().unwrap_or_default()
    )
}

impl Handler for DisableInboxRule {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        read_rule(live, target)
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| s.get("enabled") == Some(&Value::Bool(false)))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        if graph_source(target) {
            let reply = live.graph.write(
                "PATCH",
                &graph_rule_path(target),
                Some(&json!({"isEnabled": false})),
                &graph_permission(),
            )?;
            return Ok(WriteReceipt {
                request_id: Some(reply.request_id),
                created_id: None,
            });
        }
        run_rule_cmdlet(live, target, "Disable-InboxRule")
    }

    fn describe_write(&self, target: &Target) -> String {
        match &target.exchange_identity {
            None => format!("PATCH {} {{\"isEnabled\": false}}", graph_rule_path(target)),
            Some(_) => rule_cmdlet_text(target, "Disable-InboxRule"),
        }
    }

    fn describe_verify(&self) -> &'static str {
        "re-read the mailbox's rules: the rule is disabled"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(match &target.exchange_identity {
            None => format!("PATCH {} {{\"isEnabled\": true}}", graph_rule_path(target)),
            Some(_) => rule_cmdlet_text(target, "Enable-InboxRule"),
        })
    }
}
