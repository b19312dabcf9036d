//! `delete_inbox_rule` (explicit, `fix plan --delete-rules`): Remove-InboxRule or Graph
//! DELETE (CONTRACT §11 W5, W8). Cannot be undone except by re-creating the rule from the
//! evidence file saved before the delete.

use super::disable_inbox_rule::{
    graph_permission, graph_rule_path, graph_source, read_rule, rule_cmdlet_text, run_rule_cmdlet,
};
use super::{Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct DeleteInboxRule;

impl Handler for DeleteInboxRule {
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
            let reply = live.graph.write(
                "DELETE",
                &graph_rule_path(target),
                None,
                &graph_permission(),
            )?;
            return Ok(WriteReceipt {
                request_id: Some(reply.request_id),
                created_id: None,
            });
        }
        run_rule_cmdlet(live, target, "Remove-InboxRule")
    }

    fn describe_write(&self, target: &Target) -> String {
        match &target.exchange_identity {
            None => format!("DELETE {}", graph_rule_path(target)),
            Some(_) => rule_cmdlet_text(target, "Remove-InboxRule"),
        }
    }

    fn describe_verify(&self) -> &'static str {
        "re-read the mailbox's rules: the rule is gone"
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        None
    }
}
