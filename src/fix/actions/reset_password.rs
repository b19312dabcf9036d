//! `reset_password`: PATCH passwordProfile with a CSPRNG password and forced change at
//! next sign-in (CONTRACT §11 W3). The password goes to the password sink *before* the
//! write and nowhere else. Done means `lastPasswordChangeDateTime` moved past the
//! threshold. An admin-set temporary password also remediates Identity Protection risk.

use serde_json::json;

use super::revoke_sessions::timestamp_reached;
use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::{self, PasswordSink};
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct ResetPassword;

impl Handler for ResetPassword {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.graph_user(&target.id)?.map(|u| {
            state([
                ("user_principal_name", json!(u.user_principal_name)),
                (
                    "last_password_change",
                    json!(u.last_password_change_date_time),
                ),
            ])
        }))
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        timestamp_reached(target, state, "last_password_change")
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let upn = target
            .user_principal_name
            .as_deref()
            .unwrap_or(&target.name);
        let new_password = password::generate().map_err(|e| ApiError::BadResponse {
            endpoint: "password generator".into(),
            message: e.to_string(),
        })?;
        passwords
            .deliver(upn, &new_password)
            .map_err(|e| ApiError::BadResponse {
                endpoint: "password file".into(),
                message: format!("{e}; the password was not reset"),
            })?;
        let body = json!({"passwordProfile": {
            "forceChangePasswordNextSignIn": true,
            "password": new_password.expose(),
        }});
        match live.graph.write(
            "PATCH",
            &format!("/v1.0/users/{}", target.id),
            Some(&body),
            &ActionKind::ResetPassword.needs().summary(),
        ) {
            Ok(reply) => Ok(WriteReceipt {
                request_id: Some(reply.request_id),
                created_id: None,
            }),
            Err(err) => {
                passwords.not_applied(upn, &err.to_string());
                Err(err)
            }
        }
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "PATCH /v1.0/users/{} {{\"passwordProfile\": {{\"forceChangePasswordNextSignIn\": true, \"password\": <generated at apply time, written only to the 0600 password file>}}}}",
            target.id
        )
    }

    fn describe_verify(&self) -> &'static str {
        "GET the user: lastPasswordChangeDateTime is at or after the apply time"
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        None
    }
}
