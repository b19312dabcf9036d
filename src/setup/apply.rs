//! `setup --apply`: create (or complete) the app registration through Microsoft Graph,
//! signed in as an administrator with a delegated token ([`super::device_code`]).
//!
//! Idempotent: an application with the same display name is reused (two are an error:
//! which one was meant cannot be guessed), and every grant, role assignment and federated
//! credential is created only when missing. App-role ids are read from each resource's
//! service principal (`GET /servicePrincipals(appId='…')`, `appRoles`), never from the
//! printed forms' table, so `--apply` grants what the tenant itself calls that permission.
//!
//! Requests (Microsoft's pages):
//! - <https://learn.microsoft.com/graph/api/application-list> (`$filter=displayName eq`)
//! - <https://learn.microsoft.com/graph/api/application-post-applications>
//! - <https://learn.microsoft.com/graph/api/application-update> (`requiredResourceAccess`)
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-get> (by `appId`)
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals>
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments>
//! - <https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments>
//! - <https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments>
//! - <https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments>
//! - <https://learn.microsoft.com/graph/api/application-list-federatedidentitycredentials>
//! - <https://learn.microsoft.com/graph/api/application-post-federatedidentitycredentials>

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::app_roles::{EXCHANGE_APP_ID, GRAPH_APP_ID};
use super::device_code::{DeviceCodeError, SignIn};
use super::{GithubSubject, Requirements, FEDERATION_AUDIENCE, GITHUB_ISSUER};
use crate::auth::Secret;
use crate::http::body::{read_body, BodyError};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    SignIn(#[from] DeviceCodeError),
    #[error("{method} {endpoint}: HTTP {status} {code}: {message}{hint}")]
    Graph {
        method: String,
        endpoint: String,
        status: u16,
        code: String,
        message: String,
        hint: &'static str,
    },
    #[error("{endpoint}: {message}")]
    BadResponse { endpoint: String, message: String },
    #[error("{0}")]
    Setup(String),
}

const FORBIDDEN_HINT: &str = " (sign in as a Privileged Role Administrator or Global Administrator, and consent to the scopes asked for)";

/// What `--apply` needs besides the requirements.
pub struct ApplyOptions<'a> {
    pub authority: &'a str,
    pub graph_url: &'a str,
    /// Tenant id, verified domain or `organizations`.
    pub tenant: &'a str,
    pub admin_client_id: &'a str,
    pub display_name: &'a str,
    pub github: Option<&'a GithubSubject>,
    pub requirements: &'a Requirements,
}

/// What `--apply` left in the tenant.
#[derive(Debug)]
pub struct Outcome {
    pub tenant_id: String,
    pub client_id: String,
    pub application_id: String,
    pub service_principal_id: String,
}

/// Sign in, then create or complete everything; `say` receives one line per step.
pub fn apply(
    opts: &ApplyOptions<'_>,
    show_sign_in: &mut dyn FnMut(&str),
    say: &mut dyn FnMut(String),
) -> Result<Outcome, ApplyError> {
    let agent = crate::http::agent();
    let token = SignIn {
        agent: &agent,
        authority: opts.authority,
        tenant: opts.tenant,
        client_id: opts.admin_client_id,
    }
    .run(show_sign_in, &mut std::thread::sleep)?;
    let tenant_id =
        crate::auth::token_claim(&token, "tid").unwrap_or_else(|| opts.tenant.to_owned());
    let graph = Delegated {
        agent,
        base: format!("{}/v1.0", opts.graph_url),
        token,
    };
    let mut outcome = complete(&graph, opts, say)?;
    outcome.tenant_id = tenant_id;
    Ok(outcome)
}

#[derive(Deserialize)]
struct Collection<T> {
    value: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Application {
    id: String,
    app_id: String,
    #[serde(default)]
    required_resource_access: Vec<ResourceAccessList>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ResourceAccessList {
    resource_app_id: String,
    #[serde(default)]
    resource_access: Vec<ResourceAccess>,
}

#[derive(Deserialize, Clone, PartialEq)]
struct ResourceAccess {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePrincipal {
    id: String,
    #[serde(default)]
    app_roles: Vec<AppRole>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppRole {
    id: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    allowed_member_types: Vec<String>,
    #[serde(default = "yes")]
    is_enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppRoleAssignment {
    resource_id: String,
    app_role_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleAssignment {
    role_definition_id: String,
}

#[derive(Deserialize)]
struct FederatedCredential {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    subject: String,
}

/// One permission to grant: its resource's service principal and the app-role id.
struct Wanted {
    name: &'static str,
    resource_sp: String,
    resource_app_id: &'static str,
    app_role_id: String,
}

fn complete(
    graph: &Delegated,
    opts: &ApplyOptions<'_>,
    say: &mut dyn FnMut(String),
) -> Result<Outcome, ApplyError> {
    let req = opts.requirements;
    // 1. What each permission is called in this tenant.
    let mut wanted = Vec::new();
    for (resource, names) in [(GRAPH_APP_ID, &req.graph), (EXCHANGE_APP_ID, &req.exchange)] {
        if names.is_empty() {
            continue;
        }
        let sp: ServicePrincipal = graph.get_as(&format!(
            "/servicePrincipals(appId='{resource}')?$select=id,appId,appRoles"
        ))?;
        for name in names.iter() {
            let role = sp
                .app_roles
                .iter()
                .find(|r| {
                    r.value.as_deref() == Some(name)
                        && r.is_enabled
                        && r.allowed_member_types.iter().any(|t| t == "Application")
                })
                .ok_or_else(|| {
                    ApplyError::Setup(format!(
                        "the service principal of {resource} has no application permission {name} in this tenant"
                    ))
                })?;
            wanted.push(Wanted {
                name,
                resource_sp: sp.id.clone(),
                resource_app_id: resource,
                app_role_id: role.id.clone(),
            });
        }
    }
    let required_resource_access: Vec<Value> = [GRAPH_APP_ID, EXCHANGE_APP_ID]
        .iter()
        .filter_map(|resource| {
            let access: Vec<Value> = wanted
                .iter()
                .filter(|w| w.resource_app_id == *resource)
                .map(|w| json!({"id": w.app_role_id, "type": "Role"}))
                .collect();
            (!access.is_empty())
                .then(|| json!({"resourceAppId": resource, "resourceAccess": access}))
        })
        .collect();

    // 2. The application: reuse one with this display name, else create it.
    let filter = format!("displayName eq '{}'", opts.display_name.replace('\'', "''"));
    let found: Collection<Application> = graph.get_as(&format!(
        "/applications?$filter={}&$select=id,appId,displayName,requiredResourceAccess",
        encode_query(&filter)
    ))?;
    let app = match found.value.len() {
        0 => {
            let created: Application = graph.post_as(
                "/applications",
                &json!({
                    "displayName": opts.display_name,
                    "signInAudience": "AzureADMyOrg",
                    "requiredResourceAccess": required_resource_access,
                }),
            )?;
            say(format!(
                "created application {} (client id {})",
                opts.display_name, created.app_id
            ));
            created
        }
        1 => {
            let existing = found
                .value
                .into_iter()
                .next()
                .ok_or_else(|| ApplyError::Setup("lost the application".into()))?;
            say(format!(
                "reusing application {} (client id {})",
                opts.display_name, existing.app_id
            ));
            let merged = merge_access(&existing.required_resource_access, &wanted);
            if let Some(merged) = merged {
                graph.send(
                    "PATCH",
                    &format!("/applications/{}", existing.id),
                    Some(&json!({"requiredResourceAccess": merged})),
                )?;
                say("added the missing permissions to its requiredResourceAccess".into());
            }
            existing
        }
        n => {
            return Err(ApplyError::Setup(format!(
                "{n} applications are named {:?}: rename or delete the extra ones, or pass --name",
                opts.display_name
            )))
        }
    };

    // 3. Its service principal.
    let sp_path = format!(
        "/servicePrincipals(appId='{}')?$select=id,appId",
        app.app_id
    );
    let sp: ServicePrincipal = match graph.send("GET", &sp_path, None)? {
        (404, _) => {
            let sp: ServicePrincipal = until_replicated(say, || {
                graph.post_as("/servicePrincipals", &json!({"appId": app.app_id}))
            })?;
            say(format!("created service principal {}", sp.id));
            sp
        }
        (_, body) => parse(&sp_path, body)?,
    };

    // 4. Application permissions (app role assignments = admin consent).
    let path = format!("/servicePrincipals/{}/appRoleAssignments", sp.id);
    let have: Collection<AppRoleAssignment> = graph.get_as(&path)?;
    for w in &wanted {
        let granted = have.value.iter().any(|a| {
            a.resource_id.eq_ignore_ascii_case(&w.resource_sp)
                && a.app_role_id.eq_ignore_ascii_case(&w.app_role_id)
        });
        if granted {
            say(format!("already granted {}", w.name));
            continue;
        }
        until_replicated(say, || {
            graph.send_ok(
                "POST",
                &path,
                &json!({"principalId": sp.id, "resourceId": w.resource_sp, "appRoleId": w.app_role_id}),
            )
        })?;
        say(format!("granted {}", w.name));
    }

    // 5. Directory roles. For built-in roles the role definition id is the template id.
    let filter = format!("principalId eq '{}'", sp.id);
    let roles: Collection<RoleAssignment> = graph.get_as(&format!(
        "/roleManagement/directory/roleAssignments?$filter={}",
        encode_query(&filter)
    ))?;
    for r in &req.roles {
        if roles
            .value
            .iter()
            .any(|a| a.role_definition_id.eq_ignore_ascii_case(r.template_id))
        {
            say(format!("already assigned directory role {}", r.name));
            continue;
        }
        until_replicated(say, || {
            graph.send_ok(
                "POST",
                "/roleManagement/directory/roleAssignments",
                &json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
                    "roleDefinitionId": r.template_id,
                    "principalId": sp.id,
                    "directoryScopeId": "/",
                }),
            )
        })?;
        say(format!("assigned directory role {}", r.name));
    }

    // 6. The federated credential for GitHub Actions.
    if let Some(g) = opts.github {
        let path = format!("/applications/{}/federatedIdentityCredentials", app.id);
        let have: Collection<FederatedCredential> = graph.get_as(&path)?;
        let subject = g.subject();
        if have
            .value
            .iter()
            .any(|f| f.issuer == GITHUB_ISSUER && f.subject == subject)
        {
            say(format!("already trusts {subject}"));
        } else {
            graph.send_ok(
                "POST",
                &path,
                &json!({
                    "name": g.credential_name(),
                    "issuer": GITHUB_ISSUER,
                    "subject": subject,
                    "audiences": [FEDERATION_AUDIENCE],
                    "description": "m365guard in GitHub Actions",
                }),
            )?;
            say(format!("added federated credential for {subject}"));
        }
    }
    Ok(Outcome {
        tenant_id: String::new(),
        client_id: app.app_id,
        application_id: app.id,
        service_principal_id: sp.id,
    })
}

/// Run `step` again (up to 6 times, backing off 1, 2, 4, … s) while Graph answers that an
/// object just created does not exist yet: Entra replicates a new application and service
/// principal within seconds, and a request reaching another replica meanwhile gets 400
/// "… does not reference a valid application object" or 404 `Request_ResourceNotFound`.
fn until_replicated<T>(
    say: &mut dyn FnMut(String),
    mut step: impl FnMut() -> Result<T, ApplyError>,
) -> Result<T, ApplyError> {
    let mut attempt = 0;
    loop {
        match step() {
            Err(ApplyError::Graph {
                status,
                code,
                message,
                ..
            }) if attempt < 5
                && matches!(status, 400 | 404)
                && (code == "Request_ResourceNotFound"
                    || message.contains("does not reference a valid application object")
                    || message.contains("does not exist")) =>
            {
                attempt += 1;
                say(format!(
                    "waiting for Entra to replicate the new objects ({code}: {message})"
                ));
                std::thread::sleep(crate::http::backoff(attempt));
            }
            other => return other,
        }
    }
}

/// The app's `requiredResourceAccess` with the wanted permissions added, or `None` when
/// nothing is missing. Nothing already there is removed.
fn merge_access(existing: &[ResourceAccessList], wanted: &[Wanted]) -> Option<Vec<Value>> {
    let mut lists: Vec<ResourceAccessList> = existing.to_vec();
    let mut changed = false;
    for w in wanted {
        let entry = ResourceAccess {
            id: w.app_role_id.clone(),
            kind: "Role".into(),
        };
        match lists
            .iter_mut()
            .find(|l| l.resource_app_id.eq_ignore_ascii_case(w.resource_app_id))
        {
            Some(list)
                if list
                    .resource_access
                    .iter()
                    .any(|a| a.id.eq_ignore_ascii_case(&entry.id) && a.kind == "Role") => {}
            Some(list) => {
                list.resource_access.push(entry);
                changed = true;
            }
            None => {
                lists.push(ResourceAccessList {
                    resource_app_id: w.resource_app_id.to_owned(),
                    resource_access: vec![entry],
                });
                changed = true;
            }
        }
    }
    changed.then(|| {
        lists
            .iter()
            .map(|l| {
                json!({
                    "resourceAppId": l.resource_app_id,
                    "resourceAccess": l.resource_access.iter().map(|a| json!({"id": a.id, "type": a.kind})).collect::<Vec<_>>(),
                })
            })
            .collect()
    })
}

/// Percent-encode a query value (everything but RFC 3986 unreserved characters).
fn encode_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse<T: serde::de::DeserializeOwned>(endpoint: &str, body: String) -> Result<T, ApplyError> {
    serde_json::from_str(&body).map_err(|e| ApplyError::BadResponse {
        endpoint: endpoint.split('?').next().unwrap_or_default().to_owned(),
        message: e.to_string(),
    })
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphErrorInner,
}

#[derive(Deserialize, Default)]
struct GraphErrorInner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Microsoft Graph with the admin's delegated token: JSON requests, retried on throttling
/// (`Retry-After`) and dropped connections, no redirect followed.
struct Delegated {
    agent: ureq::Agent,
    /// `{graph}/v1.0`.
    base: String,
    token: Secret,
}

impl Delegated {
    fn get_as<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ApplyError> {
        let body = self.send_expect("GET", path, None)?;
        parse(path, body)
    }

    fn post_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ApplyError> {
        let text = self.send_expect("POST", path, Some(body))?;
        parse(path, text)
    }

    fn send_ok(&self, method: &str, path: &str, body: &Value) -> Result<(), ApplyError> {
        self.send_expect(method, path, Some(body)).map(|_| ())
    }

    fn send_expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, ApplyError> {
        let (status, text) = self.send(method, path, body)?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let err: GraphErrorBody = serde_json::from_str(&text).unwrap_or_default();
        Err(ApplyError::Graph {
            method: method.to_owned(),
            endpoint: path.split('?').next().unwrap_or_default().to_owned(),
            status,
            code: err.error.code,
            message: err.error.message,
            hint: if status == 403 { FORBIDDEN_HINT } else { "" },
        })
    }

    /// The status and body of a request (any status but 3xx and throttling, which is
    /// retried up to 5 times).
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), ApplyError> {
        let url = format!("{}{}", self.base, path);
        let endpoint = path.split('?').next().unwrap_or_default().to_owned();
        let text = body.map(Value::to_string).unwrap_or_default();
        let mut last = String::new();
        for attempt in 0..6u32 {
            let request = ureq::http::Request::builder()
                .method(method)
                .uri(&url)
                .header("Authorization", format!("Bearer {}", self.token.expose()))
                .header("client-request-id", crate::http::new_guid())
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .body(text.clone())
                .map_err(|e| ApplyError::BadResponse {
                    endpoint: endpoint.clone(),
                    message: e.to_string(),
                })?;
            let wait = match self.agent.run(request) {
                Err(e) if crate::http::is_transient(&e) => {
                    last = e.to_string();
                    crate::http::backoff(attempt + 1)
                }
                Err(e) => {
                    return Err(ApplyError::BadResponse {
                        endpoint,
                        message: e.to_string(),
                    })
                }
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    if (300..400).contains(&status) {
                        return Err(ApplyError::BadResponse {
                            endpoint,
                            message: format!("HTTP {status}, a redirect; m365guard follows no redirect with a token"),
                        });
                    }
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(crate::http::parse_retry_after);
                    match read_body(resp.body_mut(), None) {
                        Err(BodyError::Permanent(m)) => {
                            return Err(ApplyError::BadResponse {
                                endpoint,
                                message: m,
                            })
                        }
                        Err(BodyError::Transient(m)) => {
                            last = m;
                            crate::http::backoff(attempt + 1)
                        }
                        Ok(_) if matches!(status, 429 | 503 | 504) => {
                            last = format!("HTTP {status}");
                            retry_after.unwrap_or_else(|| crate::http::backoff(attempt + 1))
                        }
                        Ok(body) => return Ok((status, body)),
                    }
                }
            };
            std::thread::sleep(wait.min(Duration::from_secs(60)));
        }
        Err(ApplyError::BadResponse {
            endpoint,
            message: format!("gave up after 6 attempts: {last}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_percent_encoded_and_quotes_doubled() {
        let filter = format!("displayName eq '{}'", "it's".replace('\'', "''"));
        assert_eq!(encode_query(&filter), "displayName%20eq%20%27it%27%27s%27");
    }

    #[test]
    fn merging_adds_only_what_is_missing() {
        let wanted = vec![Wanted {
            name: "User.Read.All",
            resource_sp: "sp".into(),
            resource_app_id: GRAPH_APP_ID,
            app_role_id: "r1".into(),
        }];
        let have = vec![ResourceAccessList {
            resource_app_id: GRAPH_APP_ID.into(),
            resource_access: vec![ResourceAccess {
                id: "r1".into(),
                kind: "Role".into(),
            }],
        }];
        assert!(merge_access(&have, &wanted).is_none());
        let merged = merge_access(&[], &wanted).unwrap();
        assert_eq!(merged[0]["resourceAccess"][0]["id"], "r1");
    }
}
