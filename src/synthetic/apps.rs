//! Synthetic enterprise applications: Microsoft's resource and first-party service
//! principals, and one line-of-business app per 50 users with a certificate, admin consent
//! for `User.Read` and an application permission to read users. Nothing here is a back
//! door: the app rules pass on a synthetic tenant, whose findings come from the mailbox and
//! identity data; the apps are there for collection cost and `diff`.

use chrono::Duration;

use super::Generator;
use crate::snapshot::model::*;

/// Microsoft's first-party tenant (`appOwnerOrganizationId` of its apps).
const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";
/// Graph's `User.Read.All` application permission (app role id).
const USER_READ_ALL_ROLE: &str = "df021288-bdef-4463-88db-98f22de89214";

impl Generator {
    pub(super) fn apps(&mut self, users: usize) -> Apps {
        let mut apps = Apps::default();
        let graph_id = self.rng.guid();
        for (app_id, name) in [
            (GRAPH_APP, "Microsoft Graph"),
            (
                "00000002-0000-0ff1-ce00-000000000000",
                "Office 365 Exchange Online",
            ),
            (
                "00000003-0000-0ff1-ce00-000000000000",
                "Office 365 SharePoint Online",
            ),
        ] {
            let id = if app_id == GRAPH_APP {
                graph_id.clone()
            } else {
                self.rng.guid()
            };
            apps.service_principals.push(ServicePrincipal {
                id,
                app_id: app_id.to_owned(),
                display_name: name.to_owned(),
                service_principal_type: Some("Application".to_owned()),
                account_enabled: true,
                app_owner_organization_id: Some(MICROSOFT_TENANT.to_owned()),
                publisher_name: Some("Microsoft Services".to_owned()),
                verified_publisher: None,
                sign_in_audience: Some("AzureADMultipleOrgs".to_owned()),
                created_date_time: None,
                application_id: None,
            });
        }
        for i in 1..=(users / 50).max(1) {
            let id = self.rng.guid();
            let app_id = self.rng.guid();
            let name = format!("Contoso LOB App {i:04}");
            let created = self.days_ago(60, 900);
            let application_id = self.rng.guid();
            apps.service_principals.push(ServicePrincipal {
                id: id.clone(),
                app_id: app_id.clone(),
                display_name: name.clone(),
                service_principal_type: Some("Application".to_owned()),
                account_enabled: true,
                app_owner_organization_id: Some(super::TENANT_ID.to_owned()),
                publisher_name: Some("Contoso".to_owned()),
                verified_publisher: None,
                sign_in_audience: Some("AzureADMyOrg".to_owned()),
                created_date_time: Some(created),
                application_id: Some(application_id.clone()),
            });
            let key_id = self.rng.guid();
            let start = self.days_ago(40, 300);
            apps.credentials.push(AppCredential {
                id: format!("{application_id}/{key_id}"),
                owner_kind: CredentialOwner::Application,
                owner_id: application_id,
                app_id: app_id.clone(),
                owner_name: name.clone(),
                credential_type: "certificate".to_owned(),
                key_id,
                display_name: Some("CN=contoso-lob".to_owned()),
                start_date_time: Some(start),
                end_date_time: Some(start + Duration::days(365)),
                usage: Some("Verify".to_owned()),
            });
            apps.consent_grants.push(ConsentGrant {
                id: self.rng.guid(),
                client_id: id.clone(),
                consent_type: "AllPrincipals".to_owned(),
                principal_id: None,
                resource_id: graph_id.clone(),
                scopes: vec!["User.Read".to_owned()],
            });
            apps.app_role_assignments.push(AppRoleGrant {
                id: self.rng.guid(),
                resource_id: graph_id.clone(),
                resource_app_id: Some(GRAPH_APP.to_owned()),
                resource_name: Some("Microsoft Graph".to_owned()),
                principal_id: id,
                principal_type: Some("ServicePrincipal".to_owned()),
                principal_name: Some(name),
                app_role_id: USER_READ_ALL_ROLE.to_owned(),
                permission: Some("User.Read.All".to_owned()),
                created_date_time: Some(created),
            });
        }
        // Users cannot consent; requests go to the admin consent workflow.
        apps.consent_policies.push(ConsentPolicy {
            id: "authorizationPolicy".to_owned(),
            permission_grant_policies_assigned: Vec::new(),
            admin_consent_workflow_enabled: Some(true),
        });
        // The tenant default app management policy, enabled: new secrets are capped at
        // 180 days (the line-of-business apps use certificates).
        let capped = AppRestrictions {
            password_credentials: vec![CredentialRestriction {
                restriction_type: "passwordLifetime".to_owned(),
                max_lifetime: Some("P180D".to_owned()),
                max_lifetime_days: Some(180),
                restrict_for_apps_created_after: None,
                state: Some("enabled".to_owned()),
            }],
            key_credentials: Vec::new(),
        };
        apps.management_policies.push(AppManagementPolicy {
            id: "00000000-0000-0000-0000-000000000000".to_owned(),
            policy_kind: "tenant_default".to_owned(),
            display_name: Some("Default app management tenant policy".to_owned()),
            is_enabled: Some(true),
            application_restrictions: Some(capped.clone()),
            service_principal_restrictions: Some(capped),
            applies_to: Vec::new(),
        });
        apps
    }
}
