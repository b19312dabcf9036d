//! `revoke_sessions`: POST revokeSignInSessions (CONTRACT §11 W1). The service answers 200
//! with a boolean although the docs say 204: any 2xx is success. Done means the user's
//! `signInSessionsValidFromDateTime` moved past the action's threshold.

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RevokeSessions;

impl Handler for RevokeSessions {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        Ok(live.graph_user(&target.id)?.map(|u| {
            state([
                ("user_principal_name", json!(u.user_principal_name)),
                (
                    "sign_in_sessions_valid_from",
                    json!(u.sign_in_sessions_valid_from_date_time),
                ),
            ])
        }))
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        timestamp_reached(target, state, "sign_in_sessions_valid_from")
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let reply = live.graph.write(
            "POST",
            &format!("/v1.0/users/{}/revokeSignInSessions", target.id),
            Some(&json!({})),
            &ActionKind::RevokeSessions.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!("POST /v1.0/users/{}/revokeSignInSessions", target.id)
    }

    fn describe_verify(&self) -> &'static str {
        "GET the user: signInSessionsValidFromDateTime is at or after the apply time (refresh tokens take minutes to stop working everywhere)"
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        None
    }
}

/// Clock skew allowed between this machine (which set the threshold) and Entra ID (which
/// stamps the change).
const CLOCK_SKEW_SECS: i64 = 120;

/// Whether the timestamp field `key` is at or after the target's threshold (less the
/// allowed clock skew).
pub(super) fn timestamp_reached(target: &Target, state: Option<&State>, key: &str) -> bool {
    let (Some(state), Some(threshold)) = (state, target.done_if_changed_after) else {
        return false;
    };
    state
        .get(key)
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t.timestamp() >= threshold.timestamp() - CLOCK_SKEW_SECS)
}
