//! `delete_inbox_rule` (explicit, `fix plan --delete-rules`): Remove-InboxRule or Graph
//! DELETE (CONTRACT §11 W5, W8). Cannot be undone except by re-creating the rule from the
//! evidence file saved before the delete.

use serde_json::{json, Value};

use super::disable_inbox_rule::{
    full_rule, graph_rule_path, graph_source, read_rule, EXCHANGE_PERMISSION, GRAPH_PERMISSION,
};
use super::{exchange_write_error, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct DeleteInboxRule;

impl Handler for DeleteInboxRule {
    fn permission(&self) -> &'static str {
        "Exchange.ManageAsApp + Exchange Administrator role (Exchange-collected rules); MailboxSettings.ReadWrite (Graph-collected rules)"
    }

    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        read_rule(live, target)
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_none()
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        if graph_source(target) {
            let reply =
                live.graph
                    .write("DELETE", &graph_rule_path(target), None, GRAPH_PERMISSION)?;
            return Ok(WriteReceipt {
                request_id: Some(reply.request_id),
                created_id: None,
            });
        }
        live.exchange
            .invoke(
                "Remove-InboxRule",
                json!({
                    "Identity": target.exchange_identity,
                    "Mailbox": target.user_principal_name,
                    "Confirm": false,
                }),
            )
            .map_err(|e| exchange_write_error(e, EXCHANGE_PERMISSION))?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        match &target.exchange_identity {
            None => format!("DELETE {}", graph_rule_path(target)),
            Some(identity) => format!(
                "Remove-InboxRule -Identity '{identity}' -Mailbox {} -Confirm:$false",
                target.user_principal_name.as_deref().unwrap_or_default()
            ),
        }
    }

    fn describe_verify(&self) -> &'static str {
        "re-read the mailbox's rules: the rule is gone"
    }

    fn evidence(&self, live: &Live<'_>, target: &Target) -> Result<Option<Value>, ApiError> {
        full_rule(live, target)
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        None
    }
}
