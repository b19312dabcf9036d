//! Graph application permissions, Entra directory roles and Exchange roles, named once.
//!
//! A requirement is an [`AnyOf`]: any one of the listed permissions satisfies it, and the
//! first (the least-privileged) is the one named when none is granted (CONTRACT §11, §12).
//! Sources (`snapshot::source`) and fix actions (`fix::actions::ActionKind::needs`) refer to
//! these constants; doctor, 403 messages ([`graph_endpoint`]) and `m365guard permissions`
//! read them from there. This module imports nothing of the crate, so every layer can use
//! it without an import cycle.
//!
//! Every list follows the "Permissions" section of the Microsoft Graph API page cited above
//! it (application permissions: least privileged first, then the higher ones the page
//! names). The permissions themselves are described in the Microsoft Graph permissions
//! reference, <https://learn.microsoft.com/graph/permissions-reference>.

/// Any one of these application permissions satisfies the requirement.
pub type AnyOf = &'static [&'static str];

/// `GET /organization`: <https://learn.microsoft.com/graph/api/organization-get>.
pub const ORG_READ: AnyOf = &[
    "Organization.Read.All",
    "Directory.Read.All",
    "Organization.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// `GET /users`, `GET /users/{id}`: <https://learn.microsoft.com/graph/api/user-list>,
/// <https://learn.microsoft.com/graph/api/user-get>.
pub const USER_READ: AnyOf = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// `signInActivity` on `/users` (with [`USER_READ`]), and
/// `GET /reports/authenticationMethods/userRegistrationDetails`, which names no higher
/// permission: <https://learn.microsoft.com/graph/api/resources/signinactivity>,
/// <https://learn.microsoft.com/graph/api/authenticationmethodsroot-list-userregistrationdetails>.
pub const AUDIT_READ: AnyOf = &["AuditLog.Read.All"];
/// Read by two sources whose pages name different higher permissions (security defaults:
/// Policy.ReadWrite.SecurityDefaults; per-user MFA: Policy.ReadWrite.AuthenticationMethod),
/// so only what both accept: see [`SECURITY_DEFAULTS_READ`] and [`PER_USER_MFA_READ`].
/// (It used to accept Policy.ReadWrite.ConditionalAccess, which neither page lists.)
pub const POLICY_READ: AnyOf = &["Policy.Read.All"];
/// `GET /policies/identitySecurityDefaultsEnforcementPolicy`:
/// <https://learn.microsoft.com/graph/api/identitysecuritydefaultsenforcementpolicy-get>.
pub const SECURITY_DEFAULTS_READ: AnyOf = &["Policy.Read.All", "Policy.ReadWrite.SecurityDefaults"];
/// beta `GET /users/{id}/authentication/requirements` ("per-user MFA state, acting on
/// others"): <https://learn.microsoft.com/graph/api/authentication-get?view=graph-rest-beta>.
pub const PER_USER_MFA_READ: AnyOf = &["Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"];
/// `GET /identity/conditionalAccess/policies`:
/// <https://learn.microsoft.com/graph/api/conditionalaccessroot-list-policies>.
pub const CA_READ: AnyOf = &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"];
/// `GET /identity/conditionalAccess/namedLocations`: the page names Policy.Read.All as the
/// only application permission:
/// <https://learn.microsoft.com/graph/api/conditionalaccessroot-list-namedlocations>.
pub const NAMED_LOCATION_READ: AnyOf = &["Policy.Read.All"];
/// `GET /roleManagement/directory/roleAssignments` and `roleDefinitions`:
/// <https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments>,
/// <https://learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions>.
pub const ROLE_READ: AnyOf = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagement.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// `GET /groups/{id}/members`: <https://learn.microsoft.com/graph/api/group-list-members>;
/// the same list for `GET /groups/{id}/transitiveMembers` (with the `microsoft.graph.user`
/// and `microsoft.graph.group` casts) and `GET /groups/{id}`:
/// <https://learn.microsoft.com/graph/api/group-list-transitivemembers>,
/// <https://learn.microsoft.com/graph/api/group-get>.
pub const GROUP_MEMBER_READ: AnyOf = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// `GET /roleManagement/directory/roleEligibilityScheduleInstances`:
/// <https://learn.microsoft.com/graph/api/rbacapplication-list-roleeligibilityscheduleinstances>.
pub const ELIGIBILITY_READ: AnyOf = &[
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagement.Read.All",
];
/// `GET /roleManagement/directory/roleAssignmentScheduleInstances` (PIM activations, read
/// by `role_eligibility`; Directory.Read.All is not enough here):
/// <https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignmentscheduleinstances>.
pub const ASSIGNMENT_SCHEDULE_READ: AnyOf = &[
    "RoleAssignmentSchedule.Read.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];
/// `GET /identityProtection/riskyUsers`; the page names no higher permission (it used to
/// list IdentityRiskyUser.ReadWrite.All here):
/// <https://learn.microsoft.com/graph/api/riskyuser-list>.
pub const RISKY_READ: AnyOf = &["IdentityRiskyUser.Read.All"];
/// `GET /identityProtection/riskDetections` (`investigate`); the page names no higher
/// permission: <https://learn.microsoft.com/graph/api/riskdetection-list>.
pub const RISK_EVENT_READ: AnyOf = &["IdentityRiskEvent.Read.All"];
/// The Graph audit log query API, `POST /security/auditLog/queries` and its results
/// (`investigate`'s unified audit log): AuditLogsQuery.Read.All reads every workload
/// (<https://learn.microsoft.com/graph/api/security-auditcoreroot-post-auditlogqueries>).
pub const AUDIT_QUERY_READ: AnyOf = &["AuditLogsQuery.Read.All"];
/// `GET /users/{id}/mailFolders/inbox/messageRules/{id}` (inbox rules collected through
/// Graph): <https://learn.microsoft.com/graph/api/messagerule-get>.
pub const MAILBOX_SETTINGS_READ: AnyOf = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];
/// `GET /users/{id}/authentication/methods`:
/// <https://learn.microsoft.com/graph/api/authentication-list-methods> (acting on other
/// users, application).
pub const AUTH_METHOD_READ: AnyOf = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
/// `GET /domains`: <https://learn.microsoft.com/graph/api/domain-list>.
pub const DOMAIN_READ: AnyOf = &[
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// `GET /domains/{id}/federationConfiguration`: the list page names Domain.Read.All
/// (<https://learn.microsoft.com/graph/api/domain-list-federationconfiguration>), the get
/// page Domain-InternalFederation.Read.All
/// (<https://learn.microsoft.com/graph/api/internaldomainfederation-get>); either works.
pub const FEDERATION_READ: AnyOf = &[
    "Domain.Read.All",
    "Domain-InternalFederation.Read.All",
    "Domain.ReadWrite.All",
    "Domain-InternalFederation.ReadWrite.All",
];
/// Source `federation` reads both: only these two permissions cover `/domains` and the
/// federation configuration alike (Directory.Read.All lacks the latter,
/// Domain-InternalFederation.Read.All the former).
pub const DOMAIN_AND_FEDERATION_READ: AnyOf = &["Domain.Read.All", "Domain.ReadWrite.All"];

/// `GET /servicePrincipals` (<https://learn.microsoft.com/graph/api/serviceprincipal-list>),
/// `GET /applications` (<https://learn.microsoft.com/graph/api/application-list>) and
/// `GET /servicePrincipals/{id}/appRoleAssignedTo`
/// (<https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto>): the
/// permissions all three pages accept (Application.ReadWrite.OwnedBy reads only on the
/// first two, Directory.ReadWrite.All only on the last).
pub const APP_READ: AnyOf = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
];
/// `GET /oauth2PermissionGrants`: the page names Directory.Read.All as the least
/// privileged application permission:
/// <https://learn.microsoft.com/graph/api/oauth2permissiongrant-list>.
pub const GRANT_READ: AnyOf = &[
    "Directory.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// `GET /policies/authorizationPolicy`:
/// <https://learn.microsoft.com/graph/api/authorizationpolicy-get>.
pub const AUTHORIZATION_POLICY_READ: AnyOf = &["Policy.Read.All", "Policy.ReadWrite.Authorization"];
/// `GET /policies/adminConsentRequestPolicy`:
/// <https://learn.microsoft.com/graph/api/adminconsentrequestpolicy-get>.
pub const CONSENT_REQUEST_POLICY_READ: AnyOf = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConsentRequest",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Source `consent_policy` reads both policies: only Policy.Read.All serves both pages.
pub const CONSENT_POLICY_READ: AnyOf = &["Policy.Read.All"];
/// `GET /policies/defaultAppManagementPolicy`
/// (<https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get>) and
/// `GET /policies/appManagementPolicies`
/// (<https://learn.microsoft.com/graph/api/appmanagementpolicy-list>): both pages name
/// Policy.Read.All as least privileged, then Policy.Read.ApplicationConfiguration and
/// Policy.ReadWrite.ApplicationConfiguration. Source `app_management_policies` also reads
/// each custom policy's `appliesTo`, whose page names Application.Read.All first and all
/// three as higher (<https://learn.microsoft.com/graph/api/appmanagementpolicy-list-appliesto>),
/// so they serve every read of the source. Policy.Read.ApplicationConfiguration is left out
/// of these lists: every permission named here needs its app-role id in `setup::app_roles`,
/// and no citable source has one — the published `appRoles` of the Microsoft Graph service
/// principal (<https://github.com/merill/microsoft-info/blob/main/_info/GraphAppRoles.csv>)
/// go from Policy.Read.All to Policy.Read.ConditionalAccess without it, and
/// <https://graphpermissions.merill.net/permission/Policy.Read.ApplicationConfiguration>
/// shows no id for it, application or delegated. Nor would it be the least privileged here:
/// the pages above rank it after Policy.Read.All. The emulator accepts it all the same, as
/// the pages say the service does.
pub const APP_MANAGEMENT_POLICY_READ: AnyOf = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ApplicationConfiguration",
];
/// `GET /policies/appManagementPolicies/{id}/appliesTo`:
/// <https://learn.microsoft.com/graph/api/appmanagementpolicy-list-appliesto> (see
/// [`APP_MANAGEMENT_POLICY_READ`] for the one left out).
pub const APP_POLICY_APPLIES_TO_READ: AnyOf = &[
    "Application.Read.All",
    "Policy.ReadWrite.ApplicationConfiguration",
    "Policy.Read.All",
];

/// `DELETE /oauth2PermissionGrants/{id}`:
/// <https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete>.
pub const GRANT_WRITE: AnyOf = &[
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// `DELETE /servicePrincipals/{id}/appRoleAssignedTo/{id}`:
/// <https://learn.microsoft.com/graph/api/serviceprincipal-delete-approleassignedto>.
pub const APP_ROLE_ASSIGNMENT_WRITE: AnyOf = &[
    "AppRoleAssignment.ReadWrite.All",
    "Application.ReadWrite.All",
];
/// `PATCH /servicePrincipals/{id}` (<https://learn.microsoft.com/graph/api/serviceprincipal-update>),
/// `POST /servicePrincipals/{id}/removePassword`
/// (<https://learn.microsoft.com/graph/api/serviceprincipal-removepassword>) and
/// `POST /applications/{id}/removePassword`
/// (<https://learn.microsoft.com/graph/api/application-removepassword>). The pages' least
/// privileged Application.ReadWrite.OwnedBy covers only apps the caller owns, never an
/// attacker's app or a first-party service principal, so it is not listed.
pub const APP_WRITE: AnyOf = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];
/// `PATCH /policies/authorizationPolicy`:
/// <https://learn.microsoft.com/graph/api/authorizationpolicy-update>.
pub const AUTHORIZATION_POLICY_WRITE: AnyOf = &["Policy.ReadWrite.Authorization"];

/// `POST /users/{id}/revokeSignInSessions`:
/// <https://learn.microsoft.com/graph/api/user-revokesigninsessions> (User.RevokeSessions.All
/// is the current least-privileged permission, CONTRACT §13.11; older pages list only the
/// broader ones).
pub const REVOKE: AnyOf = &[
    "User.RevokeSessions.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// `PATCH /users/{id}` `accountEnabled`: <https://learn.microsoft.com/graph/api/user-update>.
pub const ENABLE_DISABLE: AnyOf = &[
    "User.EnableDisableAccount.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// `PATCH /users/{id}` `passwordProfile`: <https://learn.microsoft.com/graph/api/user-update>.
/// User.ReadWrite.All does not cover passwordProfile for app-only callers (CONTRACT W3).
pub const PASSWORD: AnyOf = &["User-PasswordProfile.ReadWrite.All"];
/// beta `PATCH /users/{id}/authentication/requirements`:
/// <https://learn.microsoft.com/graph/api/authentication-update?view=graph-rest-beta>.
pub const PER_USER_MFA_WRITE: AnyOf = &["Policy.ReadWrite.AuthenticationMethod"];
/// `POST /identity/conditionalAccess/policies` (with [`POLICY_READ`]):
/// <https://learn.microsoft.com/graph/api/conditionalaccessroot-post-policies>.
pub const CA_WRITE: AnyOf = &["Policy.ReadWrite.ConditionalAccess"];
/// `PATCH`/`DELETE /users/{id}/mailFolders/inbox/messageRules/{id}`:
/// <https://learn.microsoft.com/graph/api/messagerule-update>,
/// <https://learn.microsoft.com/graph/api/messagerule-delete>.
pub const MAILBOX_SETTINGS_WRITE: AnyOf = &["MailboxSettings.ReadWrite"];
/// `DELETE /roleManagement/directory/roleAssignments/{id}`:
/// <https://learn.microsoft.com/graph/api/unifiedroleassignment-delete>.
/// Also PIM's `adminRemove` of an active assignment, `POST
/// /roleManagement/directory/roleAssignmentScheduleRequests` (whose page lists
/// RoleAssignmentSchedule.ReadWrite.Directory as least privileged and this one as higher),
/// and the `roleAssignmentScheduleInstances` read that tells the two apart:
/// <https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignmentschedulerequests>.
pub const ROLE_WRITE: AnyOf = &["RoleManagement.ReadWrite.Directory"];
/// `POST /roleManagement/directory/roleEligibilityScheduleRequests` (`adminRemove`), which
/// also covers [`ELIGIBILITY_READ`]:
/// <https://learn.microsoft.com/graph/api/rbacapplication-post-roleeligibilityschedulerequests>.
pub const ELIGIBILITY_WRITE: AnyOf = &[
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];

/// `DELETE /users/{id}/authentication/{type}Methods/{id}` (every per-type page names
/// UserAuthenticationMethod.ReadWrite.All for applications), e.g.
/// <https://learn.microsoft.com/graph/api/phoneauthenticationmethod-delete>.
pub const AUTH_METHOD_WRITE: AnyOf = &["UserAuthenticationMethod.ReadWrite.All"];

/// The Exchange Online application permission (on the Office 365 Exchange Online API):
/// <https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>.
pub const MANAGE_AS_APP: &str = "Exchange.ManageAsApp";

/// The Entra role that lets the app read Exchange through `InvokeCommand` (collect).
pub const EXCHANGE_READ_ROLE: &str = "Global Reader";

/// The least-privileged name of each requirement, joined: `User.Read.All + AuditLog.Read.All`.
pub fn least(needs: &[AnyOf]) -> String {
    needs
        .iter()
        .filter_map(|any| any.first().copied())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A Graph endpoint m365guard reads, and the permissions it needs.
#[derive(Debug)]
pub struct GraphEndpoint {
    /// Path after the version (`/v1.0`, `/beta`), `{}` for one id segment.
    pub path: &'static str,
    /// A query word that changes what the read needs (`signInActivity`); the longest
    /// match wins, so `/users?$select=…,signInActivity` finds the entry with it.
    pub query: Option<&'static str>,
    pub needs: &'static [AnyOf],
}

const fn read(path: &'static str, needs: &'static [AnyOf]) -> GraphEndpoint {
    GraphEndpoint {
        path,
        query: None,
        needs,
    }
}

/// Every Graph endpoint m365guard reads (collect, doctor, fix mode's live reads). A 403
/// names the permissions of its entry; `tests` check every path the code uses is here.
/// Writes name their own permission (`graph::GraphClient::write`).
pub static GRAPH_ENDPOINTS: &[GraphEndpoint] = &[
    read("/organization", &[ORG_READ]),
    read("/users", &[USER_READ]),
    GraphEndpoint {
        path: "/users",
        query: Some("signinactivity"),
        needs: &[USER_READ, AUDIT_READ],
    },
    read("/users/{}", &[USER_READ]),
    read(
        "/users/{}/authentication/requirements",
        &[PER_USER_MFA_READ],
    ),
    read(
        "/users/{}/mailFolders/inbox/messageRules/{}",
        &[MAILBOX_SETTINGS_READ],
    ),
    read(
        "/reports/authenticationMethods/userRegistrationDetails",
        &[AUDIT_READ],
    ),
    read(
        "/policies/identitySecurityDefaultsEnforcementPolicy",
        &[SECURITY_DEFAULTS_READ],
    ),
    read("/identity/conditionalAccess/policies", &[CA_READ]),
    read("/roleManagement/directory/roleDefinitions", &[ROLE_READ]),
    read("/roleManagement/directory/roleAssignments", &[ROLE_READ]),
    read(
        "/roleManagement/directory/roleEligibilityScheduleInstances",
        &[ELIGIBILITY_READ],
    ),
    read(
        "/roleManagement/directory/roleAssignmentScheduleInstances",
        &[ASSIGNMENT_SCHEDULE_READ],
    ),
    read("/groups/{}/members", &[GROUP_MEMBER_READ]),
    read(
        "/identity/conditionalAccess/namedLocations",
        &[NAMED_LOCATION_READ],
    ),
    // doctor's probe of `ca_group_members`: <https://learn.microsoft.com/graph/api/group-list>.
    read("/groups", &[GROUP_MEMBER_READ]),
    read("/groups/{}", &[GROUP_MEMBER_READ]),
    read(
        "/groups/{}/transitiveMembers/microsoft.graph.user",
        &[GROUP_MEMBER_READ],
    ),
    read(
        "/groups/{}/transitiveMembers/microsoft.graph.group",
        &[GROUP_MEMBER_READ],
    ),
    read("/identityProtection/riskyUsers", &[RISKY_READ]),
    read("/servicePrincipals", &[APP_READ]),
    read("/servicePrincipals/{}", &[APP_READ]),
    read("/applications", &[APP_READ]),
    read("/applications/{}", &[APP_READ]),
    read("/servicePrincipals/{}/appRoleAssignedTo", &[APP_READ]),
    read("/oauth2PermissionGrants", &[GRANT_READ]),
    read("/oauth2PermissionGrants/{}", &[GRANT_READ]),
    read(
        "/policies/authorizationPolicy",
        &[AUTHORIZATION_POLICY_READ],
    ),
    read(
        "/policies/adminConsentRequestPolicy",
        &[CONSENT_REQUEST_POLICY_READ],
    ),
    read(
        "/policies/defaultAppManagementPolicy",
        &[APP_MANAGEMENT_POLICY_READ],
    ),
    read(
        "/policies/appManagementPolicies",
        &[APP_MANAGEMENT_POLICY_READ],
    ),
    read(
        "/policies/appManagementPolicies/{}/appliesTo",
        &[APP_POLICY_APPLIES_TO_READ],
    ),
    read("/users/{}/authentication/methods", &[AUTH_METHOD_READ]),
    read("/domains", &[DOMAIN_READ]),
    read("/domains/{}/federationConfiguration", &[FEDERATION_READ]),
    // `investigate`: <https://learn.microsoft.com/graph/api/signin-list> (with Entra ID P1),
    // <https://learn.microsoft.com/graph/api/directoryaudit-list>.
    read("/auditLogs/signIns", &[AUDIT_READ]),
    read("/auditLogs/directoryAudits", &[AUDIT_READ]),
    read("/identityProtection/riskDetections", &[RISK_EVENT_READ]),
];

/// One evidence source of `investigate` and what it needs: printed as its own group by
/// `m365guard permissions` and checked by `doctor`.
#[derive(Debug)]
pub struct InvestigationNeed {
    /// The source's name in the evidence document's `sources`.
    pub source: &'static str,
    pub reads: &'static str,
    pub graph: &'static [AnyOf],
    /// Read through Exchange Online (`Exchange.ManageAsApp` and one of these Entra roles).
    pub exchange_roles: Option<&'static [&'static str]>,
    pub licence: Option<&'static str>,
}

/// What `m365guard investigate` (and `respond --user`, which runs it first) reads.
pub static INVESTIGATION: &[InvestigationNeed] = &[
    InvestigationNeed {
        source: "user",
        reads: "GET /users/{upn}",
        graph: &[USER_READ],
        exchange_roles: None,
        licence: None,
    },
    InvestigationNeed {
        source: "sign_ins",
        reads: "GET /beta/auditLogs/signIns",
        graph: &[AUDIT_READ],
        exchange_roles: None,
        licence: Some("Entra ID P1"),
    },
    InvestigationNeed {
        source: "directory_audits",
        reads: "GET /auditLogs/directoryAudits",
        graph: &[AUDIT_READ],
        exchange_roles: None,
        licence: None,
    },
    InvestigationNeed {
        source: "risk_detections",
        reads: "GET /identityProtection/riskDetections",
        graph: &[RISK_EVENT_READ],
        exchange_roles: None,
        licence: Some("Entra ID P2"),
    },
    InvestigationNeed {
        source: "audit_events",
        reads: "POST /security/auditLog/queries",
        graph: &[AUDIT_QUERY_READ],
        exchange_roles: None,
        licence: None,
    },
    // Get-MessageTraceV2 (<https://learn.microsoft.com/powershell/module/exchange/get-messagetracev2>)
    // has no permission section of its own (it points at "Find the permissions required to
    // run any Exchange cmdlet"). Microsoft's message trace page names the Exchange role
    // groups Organization Management, Compliance Management or Help Desk, and of the Entra
    // roles Global Administrator or Compliance Administrator
    // (<https://learn.microsoft.com/defender-office-365/message-trace-defender-portal>,
    // "What do you need to know before you begin?"): Compliance Administrator is named
    // first, as the narrower of the two Entra roles the page names; Exchange Administrator
    // (Organization Management) serves too. Global Reader is not named (UNVERIFIED).
    InvestigationNeed {
        source: "messages_sent",
        reads: "Get-MessageTraceV2",
        graph: &[],
        exchange_roles: Some(&[
            role::COMPLIANCE_ADMINISTRATOR,
            role::EXCHANGE_ADMINISTRATOR,
            role::GLOBAL_ADMINISTRATOR,
        ]),
        licence: None,
    },
];

/// The entry for a request: `endpoint` is a path (`/v1.0/users?$top=1`), a full URL, or an
/// error's endpoint with its method (`PATCH /v1.0/users/u1`). Segments are compared
/// case-insensitively, `{}` matches one segment; `None` for a path m365guard does not read.
pub fn graph_endpoint(endpoint: &str) -> Option<&'static GraphEndpoint> {
    // Drop a leading method and a scheme + host.
    let endpoint = endpoint.rsplit(' ').next().unwrap_or(endpoint);
    let endpoint = match endpoint.find("://") {
        Some(i) => {
            let rest = &endpoint[i + 3..];
            rest.find('/').map_or("", |j| &rest[j..])
        }
        None => endpoint,
    };
    let (path, query) = endpoint.split_once('?').unwrap_or((endpoint, ""));
    let query = query.to_ascii_lowercase();
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if matches!(segments.first(), Some(&"v1.0") | Some(&"beta")) {
        segments.remove(0);
    }
    GRAPH_ENDPOINTS
        .iter()
        .filter(|e| {
            let pattern: Vec<&str> = e.path.split('/').filter(|s| !s.is_empty()).collect();
            pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| *p == "{}" || p.eq_ignore_ascii_case(s))
                && e.query.is_none_or(|word| query.contains(word))
        })
        .max_by_key(|e| e.query.is_some())
}

/// Built-in Entra directory role template ids (Microsoft-wide constants, CONTRACT §7.2;
/// <https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>).
pub mod role {
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str =
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
    pub const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    pub const EXCHANGE_RECIPIENT_ADMINISTRATOR: &str = "31392ffb-586c-42d1-9346-e59415a2cc4e";
    pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
    pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
    pub const PASSWORD_ADMINISTRATOR: &str = "966707d0-3269-4727-9be2-8c3a10f19b9d";
    pub const COMPLIANCE_ADMINISTRATOR: &str = "17315797-102d-40b4-93e0-432062caca18";
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
    /// Pseudo-role in every app token's `wids`; not a role anyone assigned.
    pub const DEFAULT_APP_PERMISSIONS: &str = "0997a1d0-0d1d-4acb-b408-d5ca73121e90";

    pub const NAMES: [(&str, &str); 12] = [
        (GLOBAL_ADMINISTRATOR, "Global Administrator"),
        (
            PRIVILEGED_ROLE_ADMINISTRATOR,
            "Privileged Role Administrator",
        ),
        (
            PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
            "Privileged Authentication Administrator",
        ),
        (SECURITY_ADMINISTRATOR, "Security Administrator"),
        (EXCHANGE_ADMINISTRATOR, "Exchange Administrator"),
        (
            EXCHANGE_RECIPIENT_ADMINISTRATOR,
            "Exchange Recipient Administrator",
        ),
        (USER_ADMINISTRATOR, "User Administrator"),
        (HELPDESK_ADMINISTRATOR, "Helpdesk Administrator"),
        (PASSWORD_ADMINISTRATOR, "Password Administrator"),
        (COMPLIANCE_ADMINISTRATOR, "Compliance Administrator"),
        (GLOBAL_READER, "Global Reader"),
        (SECURITY_READER, "Security Reader"),
    ];

    /// The display name of a built-in role template, if it is one m365guard knows.
    pub fn name(template_id: &str) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(template_id))
            .map(|(_, name)| *name)
    }

    /// `First (or Second, Third)` for a list of role template ids.
    pub fn names(any_of: &[&str]) -> String {
        let names: Vec<&str> = any_of.iter().filter_map(|r| name(r)).collect();
        match names.split_first() {
            Some((first, [])) => (*first).to_owned(),
            Some((first, rest)) => format!("{first} (or {})", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Exchange write cmdlets run under Exchange Administrator (or Global Administrator)
    /// (CONTRACT W6, W8).
    pub const EXCHANGE_WRITE: &[&str] = &[EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR];
    /// The spam-policy and restricted-sender cmdlets also run under Security Administrator
    /// (CONTRACT W7, W9).
    pub const EXCHANGE_SECURITY_WRITE: &[&str] = &[
        EXCHANGE_ADMINISTRATOR,
        SECURITY_ADMINISTRATOR,
        GLOBAL_ADMINISTRATOR,
    ];
    /// Blocking or resetting the password of an admin (CONTRACT W2, W3).
    pub const PRIVILEGED_AUTH: &[&str] = &[
        PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        GLOBAL_ADMINISTRATOR,
    ];
    /// Removing a privileged role assignment (CONTRACT W10). The Graph pages name Privileged
    /// Role Administrator for delegated callers only
    /// (<https://learn.microsoft.com/graph/api/unifiedroleassignment-delete>); it stays a
    /// WARN for app-only callers, the conservative reading (UNVERIFIED for app-only).
    pub const PRIVILEGED_ROLE: &[&str] = &[PRIVILEGED_ROLE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR];
    /// Resetting any password app-only: "In app-only scenarios, the calling app must be
    /// assigned a supported permission and at least the User Administrator Microsoft Entra
    /// role" (user resource, `passwordProfile`:
    /// <https://learn.microsoft.com/graph/api/resources/user>;
    /// <https://learn.microsoft.com/graph/api/user-update>). The permission alone gets 403
    /// `Authorization_RequestDenied`. Admin targets need [`PRIVILEGED_AUTH`] on top.
    pub const PASSWORD_RESET: &[&str] = &[
        USER_ADMINISTRATOR,
        PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        GLOBAL_ADMINISTRATOR,
    ];
    /// `Get-InboxRule` of other users' mailboxes. No Microsoft page documents an exception
    /// for Global Reader, but a report on Microsoft's own docs repository shows Global Reader
    /// refused with "…out of the current user's read scope…"
    /// (<https://github.com/MicrosoftDocs/OfficeDocs-O365ITPro/issues/780>). Where a tenant
    /// answers that, these roles (which hold the Mail Recipients role in Exchange) read
    /// inbox rules; doctor names them.
    pub const INBOX_RULE_READ_IF_GLOBAL_READER_REFUSED: &[&str] = &[
        EXCHANGE_RECIPIENT_ADMINISTRATOR,
        EXCHANGE_ADMINISTRATOR,
        GLOBAL_ADMINISTRATOR,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_by_path_method_url_and_query() {
        let needs = |e: &str| graph_endpoint(e).map(|e| least(e.needs));
        assert_eq!(
            needs("/v1.0/identity/conditionalAccess/policies?$top=1").as_deref(),
            Some("Policy.Read.All")
        );
        assert_eq!(
            needs("/v1.0/users?$select=id,signInActivity&$top=999").as_deref(),
            Some("User.Read.All + AuditLog.Read.All")
        );
        assert_eq!(
            needs("/v1.0/users?$select=id&$top=999").as_deref(),
            Some("User.Read.All")
        );
        assert_eq!(
            needs("GET /beta/users/u2/authentication/requirements").as_deref(),
            Some("Policy.Read.All")
        );
        assert_eq!(
            needs("https://graph.microsoft.com/v1.0/groups/g1/members?$select=id&$skiptoken=x")
                .as_deref(),
            Some("GroupMember.Read.All")
        );
        assert_eq!(
            needs("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances").as_deref(),
            Some("RoleAssignmentSchedule.Read.Directory")
        );
        assert_eq!(needs("/v1.0/sites"), None);
        assert_eq!(needs("/v1.0/users/u1/extra/segments/here"), None);
    }

    #[test]
    fn least_names_the_first_of_each_requirement() {
        assert_eq!(
            least(&[USER_READ, AUDIT_READ]),
            "User.Read.All + AuditLog.Read.All"
        );
        assert_eq!(least(&[]), "");
    }

    #[test]
    fn role_names_read_as_a_list() {
        assert_eq!(
            role::names(role::EXCHANGE_SECURITY_WRITE),
            "Exchange Administrator (or Security Administrator, Global Administrator)"
        );
        assert_eq!(
            role::name(&role::GLOBAL_READER.to_uppercase()),
            Some("Global Reader")
        );
    }
}
