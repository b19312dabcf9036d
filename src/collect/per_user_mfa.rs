//! Source `per_user_mfa`: the legacy per-user MFA state of every user, from beta
//! `GET /users/{id}/authentication/requirements` (CONTRACT §4.2) — one call per user, so
//! they go through `$batch`, 20 to a batch with a few batches in flight. Guests are
//! included: per-user MFA can be set on them too. Any user whose state could not be read
//! makes the source `error` naming the endpoint and the permission; a partial answer is
//! never `ok`.

use serde_json::Value;

use super::Ctx;
use crate::graph::ApiError;
use crate::snapshot::model::{PerUserMfaState, SourceId, SourceState};

const ENDPOINT: &str = "GET /beta/users/{id}/authentication/requirements";
const PERMISSION: &str = "Policy.Read.All";

pub fn collect(ctx: &mut Ctx<'_>) {
    let users_ok = ctx
        .snapshot
        .sources
        .get(&SourceId::Users)
        .is_some_and(|st| st.status == SourceState::Ok);
    if !users_ok {
        ctx.set(
            SourceId::PerUserMfa,
            SourceState::Error,
            "the user list was not collected, so no user's per-user MFA state could be read",
            0,
        );
        return;
    }
    let paths: Vec<String> = ctx
        .snapshot
        .users
        .iter()
        .map(|u| format!("/users/{}/authentication/requirements", u.id))
        .collect();
    let results = ctx.graph.get_each("beta", &paths);
    let (states, reason) = summarise(results);
    let mut items = 0;
    for (user, state) in ctx.snapshot.users.iter_mut().zip(states) {
        if state.is_some() {
            items += 1;
        }
        user.per_user_mfa_state = state.flatten();
    }
    match reason {
        None => ctx.record(SourceId::PerUserMfa, Ok(items)),
        Some(reason) => ctx.set(SourceId::PerUserMfa, SourceState::Error, &reason, items),
    }
}

/// Per user: `None` when the call failed, `Some(None)` for a state this version does not
/// know (`unknownFutureValue`); and the error reason when any call failed.
fn summarise(
    results: Vec<Result<Value, ApiError>>,
) -> (Vec<Option<Option<PerUserMfaState>>>, Option<String>) {
    let total = results.len();
    let mut failed = 0;
    let mut first: Option<ApiError> = None;
    let states = results
        .into_iter()
        .map(|r| match r {
            Ok(body) => Some(parse_state(&body)),
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
                None
            }
        })
        .collect();
    let reason = first.map(|e| {
        format!(
            "{ENDPOINT} (application permission {PERMISSION}) failed for {failed} of {total} users; first: {e}"
        )
    });
    (states, reason)
}

fn parse_state(body: &Value) -> Option<PerUserMfaState> {
    match body.get("perUserMfaState")?.as_str()? {
        "disabled" => Some(PerUserMfaState::Disabled),
        "enabled" => Some(PerUserMfaState::Enabled),
        "enforced" => Some(PerUserMfaState::Enforced),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_from_the_contract_fixture() {
        let fixture = json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#users('x')/authentication/requirements",
            "perUserMfaState": "disabled"
        });
        assert_eq!(parse_state(&fixture), Some(PerUserMfaState::Disabled));
        assert_eq!(
            parse_state(&json!({"perUserMfaState": "enforced"})),
            Some(PerUserMfaState::Enforced)
        );
        assert_eq!(
            parse_state(&json!({"perUserMfaState": "unknownFutureValue"})),
            None
        );
    }

    #[test]
    fn one_failed_user_makes_the_source_an_error_naming_endpoint_and_permission() {
        let results = vec![
            Ok(json!({"perUserMfaState": "enabled"})),
            Err(ApiError::RetriesExhausted {
                endpoint: "GET /beta/users/u2/authentication/requirements".into(),
                attempts: 6,
                last: "HTTP 429".into(),
            }),
        ];
        let (states, reason) = summarise(results);
        assert_eq!(states, [Some(Some(PerUserMfaState::Enabled)), None]);
        let reason = reason.unwrap();
        assert!(reason.contains("Policy.Read.All"), "{reason}");
        assert!(reason.contains("/authentication/requirements"), "{reason}");
        assert!(reason.contains("1 of 2 users"), "{reason}");
        let (_, none) = summarise(vec![Ok(json!({"perUserMfaState": "disabled"}))]);
        assert_eq!(none, None);
    }
}
