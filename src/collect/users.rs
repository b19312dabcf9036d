//! Sources `users` and `sign_in_activity` (`/users`). Without Entra ID P1 the whole
//! request fails when `signInActivity` is selected: retry without it and mark
//! `sign_in_activity` unavailable (or `error` when only AuditLog.Read.All is missing).

use serde_json::{Map, Value};

use super::{b, s, time, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{SourceId, SourceState, User, UserType};

const BASE: &str = "id,userPrincipalName,displayName,accountEnabled,userType,onPremisesSyncEnabled";

pub fn collect(ctx: &mut Ctx<'_>) {
    let with_activity = format!("/v1.0/users?$select={BASE},signInActivity&$top=999");
    match ctx.graph.get_all(&with_activity) {
        Ok(items) => {
            let (users, with_sign_in) = map_all(&items);
            ctx.snapshot.users = users;
            ctx.record(SourceId::SignInActivity, Ok(with_sign_in));
            let n = ctx.snapshot.users.len() as u64;
            ctx.record(SourceId::Users, Ok(n));
        }
        // No P1 licence (the whole request fails), or no AuditLog.Read.All: the user list
        // itself is still readable without signInActivity.
        Err(err @ (ApiError::Licence { .. } | ApiError::Forbidden { .. })) => {
            let (state, reason) = match err {
                ApiError::Licence { .. } => (
                    SourceState::Unavailable,
                    format!("licence required (Entra ID P1): {err}"),
                ),
                _ => (SourceState::Error, err.to_string()),
            };
            ctx.set(SourceId::SignInActivity, state, &reason, 0);
            let outcome = ctx
                .graph
                .get_all(&format!("/v1.0/users?$select={BASE}&$top=999"))
                .map(|items| {
                    let (users, _) = map_all(&items);
                    let n = users.len() as u64;
                    ctx.snapshot.users = users;
                    n
                });
            ctx.record(SourceId::Users, outcome);
        }
        Err(err) => {
            let reason = err.to_string();
            ctx.set(SourceId::SignInActivity, SourceState::Error, &reason, 0);
            ctx.set(SourceId::Users, SourceState::Error, &reason, 0);
        }
    }
}

fn map_all(items: &[Map<String, Value>]) -> (Vec<User>, u64) {
    let mut with_sign_in = 0;
    let users = items
        .iter()
        .filter_map(|u| {
            let user = map_user(u)?;
            if user.last_sign_in.is_some() {
                with_sign_in += 1;
            }
            Some(user)
        })
        .collect();
    (users, with_sign_in)
}

pub(crate) fn map_user(u: &Map<String, Value>) -> Option<User> {
    Some(User {
        id: s(u, "id")?,
        user_principal_name: s(u, "userPrincipalName")?,
        display_name: s(u, "displayName"),
        account_enabled: b(u, "accountEnabled").unwrap_or(true),
        user_type: match s(u, "userType").map(|t| t.to_ascii_lowercase()).as_deref() {
            Some("guest") => UserType::Guest,
            _ => UserType::Member,
        },
        mfa: None,
        per_user_mfa_state: None,
        // Omitted entirely for users who never signed in.
        last_sign_in: u
            .get("signInActivity")
            .and_then(|a| time(a.get("lastSignInDateTime"))),
        on_premises_sync_enabled: b(u, "onPremisesSyncEnabled").unwrap_or(false),
    })
}
