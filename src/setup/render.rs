//! The three printed forms of `m365guard setup`: an Entra app manifest fragment
//! (`requiredResourceAccess`), `az` CLI commands, and the Microsoft Graph requests — each
//! with the directory roles and, with `--github`, the federated identity credential.
//!
//! Microsoft's pages for each request:
//! - create the app: <https://learn.microsoft.com/graph/api/application-post-applications>
//! - its service principal: <https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals>
//! - grant each application permission (an app role assignment):
//!   <https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignments>
//! - assign each directory role: <https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments>
//! - the federated credential: <https://learn.microsoft.com/graph/api/application-post-federatedidentitycredentials>
//! - `az ad app permission add` / `admin-consent`:
//!   <https://learn.microsoft.com/cli/azure/ad/app/permission>

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::app_roles::{self, EXCHANGE_APP_ID, GRAPH_APP_ID};
use super::{GithubSubject, Mode, Requirements, FEDERATION_AUDIENCE, GITHUB_ISSUER};

#[derive(Debug, thiserror::Error)]
#[error("no app-role id is known for the {resource} permission {name}: add it to src/setup/app_roles.rs (use `setup --apply`, which reads ids from the tenant, meanwhile)")]
pub struct UnknownPermission {
    resource: &'static str,
    name: String,
}

/// What to print: the requirements, the app's display name and the GitHub workload.
pub struct Setup<'a> {
    pub requirements: &'a Requirements,
    pub display_name: &'a str,
    pub github: Option<&'a GithubSubject>,
}

/// One permission with its resource and app-role id.
struct Grant {
    resource_app_id: &'static str,
    resource: &'static str,
    name: &'static str,
    id: &'static str,
}

impl Setup<'_> {
    fn grants(&self) -> Result<Vec<Grant>, UnknownPermission> {
        let mut out = Vec::new();
        for name in &self.requirements.graph {
            out.push(Grant {
                resource_app_id: GRAPH_APP_ID,
                resource: "Microsoft Graph",
                name,
                id: app_roles::graph(name).ok_or_else(|| UnknownPermission {
                    resource: "Microsoft Graph",
                    name: (*name).to_owned(),
                })?,
            });
        }
        for name in &self.requirements.exchange {
            out.push(Grant {
                resource_app_id: EXCHANGE_APP_ID,
                resource: "Office 365 Exchange Online",
                name,
                id: app_roles::exchange(name).ok_or_else(|| UnknownPermission {
                    resource: "Office 365 Exchange Online",
                    name: (*name).to_owned(),
                })?,
            });
        }
        Ok(out)
    }

    fn required_resource_access(&self) -> Result<Value, UnknownPermission> {
        let grants = self.grants()?;
        let mut out = Vec::new();
        for resource in [GRAPH_APP_ID, EXCHANGE_APP_ID] {
            let access: Vec<Value> = grants
                .iter()
                .filter(|g| g.resource_app_id == resource)
                .map(|g| json!({"id": g.id, "type": "Role"}))
                .collect();
            if !access.is_empty() {
                out.push(json!({"resourceAppId": resource, "resourceAccess": access}));
            }
        }
        Ok(Value::Array(out))
    }

    fn mode_flag(&self) -> &'static str {
        match (self.requirements.mode, self.requirements.investigation) {
            (Mode::ReadOnly, false) => "--read-only",
            (Mode::WithFix, false) => "--with-fix",
            (Mode::ReadOnly, true) => "--read-only --with-investigation",
            (Mode::WithFix, true) => "--with-fix --with-investigation",
        }
    }

    fn fic_body(&self, github: &GithubSubject) -> Value {
        json!({
            "name": github.credential_name(),
            "issuer": GITHUB_ISSUER,
            "subject": github.subject(),
            "audiences": [FEDERATION_AUDIENCE],
            "description": "m365guard in GitHub Actions",
        })
    }

    /// The Entra app manifest fragment: `{"requiredResourceAccess": […]}`, pure JSON (for
    /// `az ad app create --required-resource-accesses` or the manifest editor). What a
    /// manifest cannot hold (directory roles, the federated credential) is in [`notes`].
    pub fn manifest(&self) -> Result<String, UnknownPermission> {
        let v = json!({ "requiredResourceAccess": self.required_resource_access()? });
        Ok(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n")
    }

    /// What the manifest cannot hold, as `# ` comment lines.
    pub fn notes(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# The manifest grants nothing by itself: an administrator grants admin consent."
        );
        for r in &self.requirements.roles {
            let _ = writeln!(
                out,
                "# Assign the directory role {} ({}) to the app's service principal: {}.",
                r.name, r.template_id, r.why
            );
        }
        if let Some(g) = self.github {
            let _ = writeln!(
                out,
                "# Add a federated credential: issuer {GITHUB_ISSUER}, subject {}, audience {FEDERATION_AUDIENCE}.",
                g.subject()
            );
        }
        out
    }

    /// `az` commands (bash), run signed in as an administrator (`az login`).
    pub fn az(&self) -> Result<String, UnknownPermission> {
        let grants = self.grants()?;
        let mut out = String::new();
        let name = shell_single_quote(self.display_name);
        let _ = writeln!(out, "# m365guard setup {}: run after `az login` as an administrator (Privileged Role Administrator or Global Administrator).", self.mode_flag());
        let _ = writeln!(out, "APP_ID=$(az ad app create --display-name {name} --sign-in-audience AzureADMyOrg --query appId -o tsv)");
        let _ = writeln!(
            out,
            "SP_ID=$(az ad sp create --id \"$APP_ID\" --query id -o tsv)"
        );
        for resource in [GRAPH_APP_ID, EXCHANGE_APP_ID] {
            let list: Vec<&Grant> = grants
                .iter()
                .filter(|g| g.resource_app_id == resource)
                .collect();
            let Some(first) = list.first() else { continue };
            let _ = writeln!(
                out,
                "# {}: {}",
                first.resource,
                list.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
            );
            let ids: Vec<String> = list.iter().map(|g| format!("{}=Role", g.id)).collect();
            let _ = writeln!(
                out,
                "az ad app permission add --id \"$APP_ID\" --api {resource} --api-permissions {}",
                ids.join(" ")
            );
        }
        let _ = writeln!(out, "az ad app permission admin-consent --id \"$APP_ID\"");
        for r in &self.requirements.roles {
            let _ = writeln!(out, "# Directory role {}: {}", r.name, r.why);
            let _ = writeln!(
                out,
                "az rest --method POST --url https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments --headers Content-Type=application/json --body '{{\"@odata.type\":\"#microsoft.graph.unifiedRoleAssignment\",\"roleDefinitionId\":\"{}\",\"principalId\":\"'\"$SP_ID\"'\",\"directoryScopeId\":\"/\"}}'",
                r.template_id
            );
        }
        if let Some(g) = self.github {
            let body = self.fic_body(g).to_string();
            let _ = writeln!(
                out,
                "# Federated credential for GitHub Actions ({})",
                g.subject()
            );
            let _ = writeln!(
                out,
                "az ad app federated-credential create --id \"$APP_ID\" --parameters {}",
                shell_single_quote(&body)
            );
        }
        let _ = writeln!(out, "echo \"AZURE_TENANT_ID=$(az account show --query tenantId -o tsv) AZURE_CLIENT_ID=$APP_ID\"");
        Ok(out)
    }

    /// The Microsoft Graph requests, in order, with placeholders for the ids each answer
    /// gives (`{application-id}` is the `id` of the created application, `{app-id}` its
    /// `appId`, the client id).
    pub fn graph(&self) -> Result<String, UnknownPermission> {
        let grants = self.grants()?;
        let mut out = String::new();
        let base = "https://graph.microsoft.com/v1.0";
        let request =
            |out: &mut String, comment: &str, method: &str, path: &str, body: Option<Value>| {
                let _ = writeln!(out, "# {comment}");
                let _ = writeln!(out, "{method} {base}{path}");
                if let Some(body) = body {
                    let _ = writeln!(out, "Content-Type: application/json\n");
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&body).unwrap_or_default()
                    );
                }
                let _ = writeln!(out);
            };
        request(
            &mut out,
            "1. The app registration (application-post-applications); note `id` → {application-id}, `appId` → {app-id}",
            "POST",
            "/applications",
            Some(json!({
                "displayName": self.display_name,
                "signInAudience": "AzureADMyOrg",
                "requiredResourceAccess": self.required_resource_access()?,
            })),
        );
        request(
            &mut out,
            "2. Its service principal (serviceprincipal-post-serviceprincipals); note `id` → {service-principal-id}",
            "POST",
            "/servicePrincipals",
            Some(json!({"appId": "{app-id}"})),
        );
        for (resource, placeholder) in [
            (GRAPH_APP_ID, "{graph-sp-id}"),
            (EXCHANGE_APP_ID, "{exchange-sp-id}"),
        ] {
            if grants.iter().any(|g| g.resource_app_id == resource) {
                request(
                    &mut out,
                    &format!("3. The resource's service principal: note `id` → {placeholder}"),
                    "GET",
                    &format!("/servicePrincipals(appId='{resource}')?$select=id,appId,displayName"),
                    None,
                );
            }
        }
        for g in &grants {
            let resource = if g.resource_app_id == GRAPH_APP_ID {
                "{graph-sp-id}"
            } else {
                "{exchange-sp-id}"
            };
            request(
                &mut out,
                &format!("4. Grant {} ({}) with admin consent (serviceprincipal-post-approleassignments)", g.name, g.resource),
                "POST",
                "/servicePrincipals/{service-principal-id}/appRoleAssignments",
                Some(json!({"principalId": "{service-principal-id}", "resourceId": resource, "appRoleId": g.id})),
            );
        }
        for r in &self.requirements.roles {
            request(
                &mut out,
                &format!(
                    "5. Directory role {} ({}) (rbacapplication-post-roleassignments)",
                    r.name, r.why
                ),
                "POST",
                "/roleManagement/directory/roleAssignments",
                Some(json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
                    "roleDefinitionId": r.template_id,
                    "principalId": "{service-principal-id}",
                    "directoryScopeId": "/",
                })),
            );
        }
        if let Some(g) = self.github {
            request(
                &mut out,
                "6. Federated credential for GitHub Actions (application-post-federatedidentitycredentials)",
                "POST",
                "/applications/{application-id}/federatedIdentityCredentials",
                Some(self.fic_body(g)),
            );
        }
        Ok(out)
    }
}

/// `'…'` for a POSIX shell (a `'` inside becomes `'\''`).
fn shell_single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(mode: Mode, github: Option<&GithubSubject>) -> (Requirements, Option<GithubSubject>) {
        (Requirements::for_mode(mode), github.cloned())
    }

    #[test]
    fn manifest_lists_every_permission_as_a_role_of_its_resource() {
        let (req, _) = setup(Mode::ReadOnly, None);
        let s = Setup {
            requirements: &req,
            display_name: "m365guard",
            github: None,
        };
        let v: Value = serde_json::from_str(&s.manifest().unwrap()).unwrap();
        let rra = v["requiredResourceAccess"].as_array().unwrap();
        assert_eq!(rra.len(), 2);
        assert_eq!(rra[0]["resourceAppId"], GRAPH_APP_ID);
        assert_eq!(rra[1]["resourceAppId"], EXCHANGE_APP_ID);
        let graph = rra[0]["resourceAccess"].as_array().unwrap();
        assert_eq!(graph.len(), req.graph.len());
        assert!(graph.iter().all(|a| a["type"] == "Role"));
        assert!(
            graph.contains(&json!({"id": "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "type": "Role"}))
        );
        assert_eq!(
            rra[1]["resourceAccess"][0]["id"],
            "dc50a0fb-09a3-484d-be87-e023b12c6440"
        );
    }

    #[test]
    fn az_and_graph_forms_carry_roles_and_the_federated_credential() {
        let gh = GithubSubject::parse("contoso/guard:main").unwrap();
        let (req, _) = setup(Mode::WithFix, Some(&gh));
        let s = Setup {
            requirements: &req,
            display_name: "it's m365guard",
            github: Some(&gh),
        };
        let az = s.az().unwrap();
        assert!(az.contains("--display-name 'it'\\''s m365guard'"), "{az}");
        assert!(
            az.contains("--api 00000003-0000-0000-c000-000000000000 --api-permissions "),
            "{az}"
        );
        assert!(
            az.contains("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8=Role"),
            "{az}"
        );
        assert!(az.contains("az ad app permission admin-consent --id \"$APP_ID\""));
        for r in &req.roles {
            assert!(
                az.contains(&format!(
                    "\\\"roleDefinitionId\\\":\\\"{}\\\"",
                    r.template_id
                )) || az.contains(&format!("\"roleDefinitionId\":\"{}\"", r.template_id)),
                "{az}"
            );
        }
        assert!(
            az.contains("repo:contoso/guard:ref:refs/heads/main"),
            "{az}"
        );
        let graph = s.graph().unwrap();
        let assignments = graph.matches("/appRoleAssignments").count();
        assert_eq!(assignments, req.graph.len() + req.exchange.len(), "{graph}");
        assert_eq!(graph.matches("POST https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments").count(), req.roles.len());
        assert!(graph.contains("/applications/{application-id}/federatedIdentityCredentials"));
        assert!(graph.contains("\"api://AzureADTokenExchange\""));
        assert!(s
            .notes()
            .contains("subject repo:contoso/guard:ref:refs/heads/main"));
    }
}
