//! Planning the app fixes (`revoke_consent_grant`, `remove_app_role_assignment`,
//! `remove_credential`, `disable_service_principal`, `restrict_user_consent`) from the
//! snapshot's `apps` section, with their guards:
//! - never act on a Microsoft first-party application itself (its grants, its permissions,
//!   the app): only on what was added to it (a credential someone put on its service
//!   principal);
//! - `disable_service_principal` and `remove_credential` change apps that may run
//!   production workloads: they are planned only with `fix plan --allow app-changes`,
//!   otherwise listed under "not planned" with the manual step;
//! - certificates are never removed automatically (`removeKey` needs a proof of possession
//!   of an existing key, see `actions::remove_credential`).
//!
//! `app_consent_high_risk` names `revoke_consent_grant`; its findings on application
//! permissions (`app_role_assignment`) become `remove_app_role_assignment`.

use serde_json::json;

use super::actions::{ActionKind, State};
use super::plan::Target;
use crate::findings::{Finding, ResourceKind};
use crate::snapshot::model::{ServicePrincipal, Snapshot};

/// Microsoft's own tenants (`appOwnerOrganizationId` of first-party apps); the same list as
/// `microsoft_tenant_ids` in policies/lib/lib.rego.
const MICROSOFT_TENANTS: [&str; 2] = [
    "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
    "72f988bf-86f1-41af-91ab-2d7cd011db47",
];

fn is_first_party(sp: &ServicePrincipal) -> bool {
    sp.app_owner_organization_id
        .as_deref()
        .is_some_and(|t| MICROSOFT_TENANTS.contains(&t.to_lowercase().as_str()))
}

fn service_principal<'a>(snapshot: &'a Snapshot, id: &str) -> Option<&'a ServicePrincipal> {
    snapshot.apps.service_principals.iter().find(|s| s.id == id)
}

/// Grant ids are base64url strings.
fn is_grant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn first_party_guard(sp: Option<&ServicePrincipal>) -> Result<(), String> {
    match sp {
        Some(sp) if is_first_party(sp) => Err(format!(
            "guard: {} is a Microsoft first-party application; fix mode never changes it, only what was added to it",
            sp.display_name
        )),
        _ => Ok(()),
    }
}

fn needs_allow(kind: ActionKind, allow_app_changes: bool) -> Result<(), String> {
    if allow_app_changes {
        return Ok(());
    }
    Err(format!(
        "plan-only: {kind} changes an app that may run production workloads; review it, then plan again with `fix plan --allow app-changes` (or make the change in the Entra admin center)"
    ))
}

/// `revoke_consent_grant` of grant `id` of the snapshot (scan findings and `respond`'s
/// grants alike): never a first-party app's grant, only an id that is safe in a URL.
pub(crate) fn revoke_consent_grant(
    snapshot: &Snapshot,
    id: &str,
    name: &str,
) -> Result<(Target, State), String> {
    let g = snapshot
        .apps
        .consent_grants
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| format!("consent grant {id} is not in the snapshot"))?;
    first_party_guard(service_principal(snapshot, &g.client_id))?;
    if !is_grant_id(&g.id) {
        return Err(format!(
            "{} is not a grant id m365guard puts into a URL",
            g.id
        ));
    }
    let pre: State = super::actions::grant_state(
        &g.client_id,
        &g.consent_type,
        g.principal_id.as_deref(),
        &g.resource_id,
        &g.scopes.join(" "),
    );
    Ok((Target::new(ResourceKind::ConsentGrant, &g.id, name), pre))
}

/// The action for one app finding — its kind, target and precondition — for the planner
/// to add; `Err` is the reason it is not planned.
pub fn plan(
    snapshot: &Snapshot,
    finding: &Finding,
    kind: ActionKind,
    allow_app_changes: bool,
) -> Result<(ActionKind, Target, State), String> {
    let missing = |what: &str| format!("{what} {} is not in the snapshot", finding.resource.id);
    let apps = &snapshot.apps;
    match (kind, finding.resource.kind) {
        (ActionKind::RevokeConsentGrant, ResourceKind::AppRoleAssignment)
        | (ActionKind::RemoveAppRoleAssignment, _) => {
            let a = apps
                .app_role_assignments
                .iter()
                .find(|a| a.id == finding.resource.id)
                .ok_or_else(|| missing("app role assignment"))?;
            first_party_guard(service_principal(snapshot, &a.principal_id))?;
            if !crate::graph::path::is_object_id(&a.resource_id) || !is_grant_id(&a.id) {
                return Err(format!(
                    "{} has an id m365guard does not put into a URL",
                    a.id
                ));
            }
            let target = Target {
                parent_id: Some(a.resource_id.clone()),
                ..Target::new(
                    ResourceKind::AppRoleAssignment,
                    &a.id,
                    &finding.resource.name,
                )
            };
            let pre = super::actions::state([
                ("principal_id", json!(a.principal_id)),
                ("app_role_id", json!(a.app_role_id)),
            ]);
            Ok((ActionKind::RemoveAppRoleAssignment, target, pre))
        }
        (ActionKind::RevokeConsentGrant, _) => {
            let (target, pre) =
                revoke_consent_grant(snapshot, &finding.resource.id, &finding.resource.name)?;
            Ok((kind, target, pre))
        }
        (ActionKind::DisableServicePrincipal, _) => {
            let sp = service_principal(snapshot, &finding.resource.id)
                .ok_or_else(|| missing("service principal"))?;
            first_party_guard(Some(sp))?;
            if snapshot.collection.collector_app_id.as_deref() == Some(sp.app_id.as_str()) {
                return Err(
                    "guard: this is m365guard's own app; fix mode never disables it".into(),
                );
            }
            needs_allow(kind, allow_app_changes)?;
            if !crate::graph::path::is_object_id(&sp.id) {
                return Err(format!("{} is not an object id", sp.id));
            }
            let pre = super::actions::state([
                ("app_id", json!(sp.app_id)),
                (
                    "app_owner_organization_id",
                    json!(sp.app_owner_organization_id),
                ),
                ("account_enabled", json!(true)),
            ]);
            let target = Target::new(ResourceKind::ServicePrincipal, &sp.id, &sp.display_name);
            Ok((kind, target, pre))
        }
        (ActionKind::RemoveCredential, _) => {
            let c = apps
                .credentials
                .iter()
                .find(|c| c.id == finding.resource.id)
                .ok_or_else(|| missing("credential"))?;
            if c.credential_type != "password" {
                return Err(format!(
                    "manual step: certificate {} (key id {}) of {} cannot be removed app-only — removeKey needs a proof of possession signed by an existing key; remove it in the Entra admin center (Certificates & secrets) or with PATCH keyCredentials after reviewing the remaining keys",
                    c.display_name.as_deref().unwrap_or("(unnamed)"),
                    c.key_id,
                    c.owner_name
                ));
            }
            if snapshot.collection.collector_app_id.as_deref() == Some(c.app_id.as_str()) {
                return Err("guard: this is a credential of m365guard's own app; remove it by hand if it is not the one m365guard signs in with".into());
            }
            needs_allow(kind, allow_app_changes)?;
            if !crate::graph::path::is_object_id(&c.owner_id)
                || !crate::graph::path::is_object_id(&c.key_id)
            {
                return Err(format!(
                    "{} has an id m365guard does not put into a URL",
                    c.id
                ));
            }
            let target = Target {
                parent_id: Some(c.owner_id.clone()),
                parent_kind: Some(c.owner_kind),
                ..Target::new(ResourceKind::AppCredential, &c.id, &finding.resource.name)
            };
            let end = c
                .end_date_time
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let pre = super::actions::credential_state("password", end.as_deref());
            Ok((kind, target, pre))
        }
        (ActionKind::RestrictUserConsent, _) => {
            let p = apps
                .consent_policies
                .iter()
                .find(|p| p.id == finding.resource.id)
                .ok_or_else(|| missing("consent policy"))?;
            let target = Target::new(ResourceKind::ConsentPolicy, &p.id, "User consent settings");
            let pre = super::actions::consent_state(&p.permission_grant_policies_assigned);
            Ok((kind, target, pre))
        }
        (other, _) => Err(format!("{other} is not an app action")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::ResourceRef;
    use crate::snapshot::io::load;

    fn compromised() -> Snapshot {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/contoso-compromised.json");
        load(&path).unwrap().snapshot
    }

    fn finding(kind: ResourceKind, id: &str) -> Finding {
        Finding {
            rule_id: "test".into(),
            severity: crate::findings::Severity::High,
            resource: ResourceRef {
                kind,
                id: id.into(),
                name: id.into(),
            },
            message: String::new(),
            details: serde_json::Value::Null,
            fingerprint: String::new(),
            line: None,
            waiver: None,
            baseline_state: None,
            exception_keys: None,
            activity: None,
        }
    }

    #[test]
    fn application_permissions_become_remove_app_role_assignment() {
        let s = compromised();
        let f = finding(
            ResourceKind::AppRoleAssignment,
            "9LHgxP2bKkWz1pQyRr5tTh3sMail5end0ContosoPay",
        );
        let (kind, target, pre) = plan(&s, &f, ActionKind::RevokeConsentGrant, false).unwrap();
        assert_eq!(kind, ActionKind::RemoveAppRoleAssignment);
        assert_eq!(
            target.parent_id.as_deref(),
            Some("9f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b")
        );
        assert_eq!(pre["app_role_id"], "b633e1c5-b582-4048-a93e-9f11b44c7e96");
    }

    #[test]
    fn first_party_apps_are_never_changed() {
        let s = compromised();
        let graph = finding(
            ResourceKind::ServicePrincipal,
            "9f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b",
        );
        let err = plan(&s, &graph, ActionKind::DisableServicePrincipal, true).unwrap_err();
        assert!(
            err.starts_with("guard: Microsoft Graph is a Microsoft first-party application"),
            "{err}"
        );
    }

    #[test]
    fn app_changes_need_allow_and_certificates_are_manual() {
        let s = compromised();
        let secret = finding(
            ResourceKind::AppCredential,
            "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f/7f3e2d1c-5b4a-4c3d-9e8f-0a1b2c3d4e5f",
        );
        let err = plan(&s, &secret, ActionKind::RemoveCredential, false).unwrap_err();
        assert!(err.contains("--allow app-changes"), "{err}");
        let (_, target, _) = plan(&s, &secret, ActionKind::RemoveCredential, true).unwrap();
        assert_eq!(
            target.parent_kind,
            Some(crate::snapshot::model::CredentialOwner::ServicePrincipal)
        );
        let cert = finding(
            ResourceKind::AppCredential,
            "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f60/1a2b3c4d-0000-4000-8000-00000000c001",
        );
        let err = plan(&s, &cert, ActionKind::RemoveCredential, true).unwrap_err();
        assert!(err.starts_with("manual step: certificate"), "{err}");
        let mail_sync = finding(
            ResourceKind::ServicePrincipal,
            "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b",
        );
        assert!(plan(&s, &mail_sync, ActionKind::DisableServicePrincipal, false).is_err());
        let (_, target, pre) =
            plan(&s, &mail_sync, ActionKind::DisableServicePrincipal, true).unwrap();
        assert_eq!(target.name, "Mail Sync Pro");
        assert_eq!(pre["account_enabled"], true);
    }
}
