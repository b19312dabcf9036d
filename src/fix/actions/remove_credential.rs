//! `remove_credential`: remove a client secret from a service principal or app
//! registration, `POST /servicePrincipals/{id}/removePassword` or
//! `/applications/{id}/removePassword` with the key id
//! (<https://learn.microsoft.com/graph/api/serviceprincipal-removepassword>,
//! <https://learn.microsoft.com/graph/api/application-removepassword>). Evidence keeps the
//! credential's metadata (key id, name, validity), never a secret: the typed view has no
//! field for one. Plan-only unless `fix plan --allow app-changes`.
//!
//! Certificates are not removed: `removeKey` requires a proof-of-possession JWT signed by
//! one of the object's *existing* keys
//! (<https://learn.microsoft.com/graph/api/serviceprincipal-removekey>), which an app-only
//! caller does not hold (and must not: it would be the attacker's key). The planner lists
//! them as a manual step instead (portal, or `PATCH keyCredentials` by an admin who
//! reviews the remaining keys).

use serde_json::{json, Value};

use super::{state, ActionKind, Handler, State, WriteReceipt, DEFINITION};
use crate::fix::live::{GraphCredential, Live};
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::CredentialOwner;

pub struct RemoveCredential;

/// The key id: the part of the target id after `<owner id>/`.
fn key_id(target: &Target) -> &str {
    target.id.rsplit('/').next().unwrap_or_default()
}

fn owner(target: &Target) -> (CredentialOwner, &str) {
    (
        target
            .parent_kind
            .unwrap_or(CredentialOwner::ServicePrincipal),
        target.parent_id.as_deref().unwrap_or_default(),
    )
}

fn owner_path(target: &Target) -> String {
    match owner(target) {
        (CredentialOwner::ServicePrincipal, id) => format!("/v1.0/servicePrincipals/{id}"),
        (CredentialOwner::Application, id) => format!("/v1.0/applications/{id}"),
    }
}

/// A credential's state: which kind it is and its validity.
pub fn credential_state(credential_type: &str, end: Option<&str>) -> State {
    state([
        ("credential_type", json!(credential_type)),
        ("end_date_time", json!(end.map(normalise_time))),
    ])
}

/// Graph may write `2027-12-31T02:31:07Z` with fractional seconds; compare to the second.
fn normalise_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| t.to_owned())
}

impl Handler for RemoveCredential {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        let (kind, id) = owner(target);
        let Some(object) = live.app_object(kind, id)? else {
            return Ok(None);
        };
        let find = |list: Option<Vec<GraphCredential>>| {
            list.unwrap_or_default()
                .into_iter()
                .find(|c| c.key_id.as_deref() == Some(key_id(target)))
        };
        let found = find(object.password_credentials)
            .map(|c| ("password", c))
            .or_else(|| find(object.key_credentials).map(|c| ("certificate", c)));
        Ok(found.map(|(credential_type, c)| {
            let mut s = credential_state(credential_type, c.end_date_time.as_deref());
            s.insert(
                DEFINITION.to_owned(),
                serde_json::to_value(&c).unwrap_or(Value::Null),
            );
            s
        }))
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
        let reply = live.graph.write(
            "POST",
            &format!("{}/removePassword", owner_path(target)),
            Some(&json!({"keyId": key_id(target)})),
            &ActionKind::RemoveCredential.needs().summary(),
        )?;
        Ok(WriteReceipt {
            request_id: Some(reply.request_id),
            created_id: None,
        })
    }

    fn describe_write(&self, target: &Target) -> String {
        format!(
            "POST {}/removePassword {{\"keyId\": \"{}\"}}",
            owner_path(target),
            key_id(target)
        )
    }

    fn describe_verify(&self) -> &'static str {
        "GET the owner's passwordCredentials: the key id is gone"
    }

    fn rollback(&self, _target: &Target, _precondition: &State) -> Option<String> {
        // A secret value is shown once, at creation: a removed secret cannot come back.
        None
    }
}
