//! `block_sign_in` / `unblock_sign_in`: PATCH `accountEnabled` (CONTRACT §11 W2).

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct BlockSignIn {
    /// `true` for `unblock_sign_in` (respond `--restore-access`).
    pub enable: bool,
}

impl Handler for BlockSignIn {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.graph_user(&target.id)?.map(|u| {
            state([
                ("user_principal_name", json!(u.user_principal_name)),
                ("account_enabled", json!(u.account_enabled)),
            ])
        }))
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| s.get("account_enabled") == Some(&Value::Bool(self.enable)))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let reply = live.graph.write(
            "PATCH",
            &format!("/v1.0/users/{}", target.id),
            Some(&json!({"accountEnabled": self.enable})),
            &ActionKind::BlockSignIn.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "PATCH /v1.0/users/{} {{\"accountEnabled\": {}}}",
            target.id, self.enable
        )
    }

    fn describe_verify(&self) -> &'static str {
        "GET the user: accountEnabled has the new value"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(format!(
            "PATCH /v1.0/users/{} {{\"accountEnabled\": {}}}",
            target.id, !self.enable
        ))
    }
}
