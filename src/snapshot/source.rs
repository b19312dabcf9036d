//! The one definition of every snapshot source and every resource kind.
//!
//! A *source* is what one collector fills and gives one status in `sources`; a *resource
//! kind* is one array of objects with unique ids that findings, fix targets and `diff`
//! point at. Everything that used to list sources or arrays by hand derives from
//! [`SOURCES`] and [`ResourceKind`]: the collector run order and the merge of the Graph and
//! Exchange threads (`collect`), id uniqueness and sort order (`snapshot::io`), line
//! lookup (`snapshot::locate`), the array a finding points at (`findings`), the objects
//! `diff` compares, and the permissions and licence doctor checks.
//!
//! Adding a source: a variant of [`SourceId`], its section in [`Snapshot`], one
//! [`SourceDef`] here (with a [`ResourceArray`] per array it owns), its collector in
//! `collect::collector_for`, its doctor probe, emulator data, rules and example data.
//! `tests` walk every entry of this table, so a half-wired source fails a test.

use serde::{Deserialize, Serialize};

use super::model::*;
use crate::permission::{self, AnyOf};

/// What a finding, a fix target or a diff entry points at. The serialised names are the
/// `resource_type` a rule returns and the `kind` in reports and plans.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// The tenant itself (tenant-wide settings): no array, the `tenant` line.
    Tenant,
    User,
    Mailbox,
    InboxRule,
    RoleDefinition,
    RoleAssignment,
    /// A PIM eligible role assignment (`roles.eligible_assignments`).
    RoleEligibility,
    OutboundSpamPolicy,
    RestrictedSender,
    ConditionalAccessPolicy,
    RiskyUser,
    RemoteDomain,
    /// A conditional access named location (`conditional_access.named_locations`).
    NamedLocation,
    /// A group a conditional access policy names (`conditional_access.groups`).
    ConditionalAccessGroup,
    Recipient,
    /// The organisation's transport settings (`mail_protocols.transport`).
    TransportSettings,
    /// A mailbox's client access settings (`mail_protocols.mailboxes`).
    CasMailbox,
    /// The organisation's audit switches (`audit_config.organization`).
    AuditConfig,
    /// An account that bypasses mailbox auditing (`audit_config.bypass_associations`).
    AuditBypass,
    TransportRule,
    OutboundConnector,
    InboundConnector,
    /// A delegation on a mailbox (`mailbox_delegates`).
    MailboxDelegate,
    ServicePrincipal,
    /// A secret or certificate of a service principal or app registration.
    AppCredential,
    /// A delegated permission grant (`apps.consent_grants`).
    ConsentGrant,
    /// An application permission (`apps.app_role_assignments`).
    AppRoleAssignment,
    /// The tenant's consent settings (`apps.consent_policies`).
    ConsentPolicy,
    /// A user's authentication method (`auth_methods`).
    AuthMethod,
    /// A domain of the tenant (`domains`).
    Domain,
    /// A member of a privileged Exchange role group (`exchange_role_groups`).
    ExchangeRoleGroupMember,
    /// A permission on a mailbox folder (`mailbox_folder_permissions`).
    MailboxFolderPermission,
    /// A directly assigned Exchange management role (`exchange_role_assignments`).
    ExchangeRoleAssignment,
    /// An Exchange application access policy (`application_access_policies`).
    ApplicationAccessPolicy,
    /// An app management policy (`apps.management_policies`).
    AppManagementPolicy,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 35] = [
        ResourceKind::Tenant,
        ResourceKind::User,
        ResourceKind::Mailbox,
        ResourceKind::InboxRule,
        ResourceKind::RoleDefinition,
        ResourceKind::RoleAssignment,
        ResourceKind::RoleEligibility,
        ResourceKind::OutboundSpamPolicy,
        ResourceKind::RestrictedSender,
        ResourceKind::ConditionalAccessPolicy,
        ResourceKind::RiskyUser,
        ResourceKind::RemoteDomain,
        ResourceKind::NamedLocation,
        ResourceKind::ConditionalAccessGroup,
        ResourceKind::Recipient,
        ResourceKind::TransportSettings,
        ResourceKind::CasMailbox,
        ResourceKind::AuditConfig,
        ResourceKind::AuditBypass,
        ResourceKind::TransportRule,
        ResourceKind::OutboundConnector,
        ResourceKind::InboundConnector,
        ResourceKind::MailboxDelegate,
        ResourceKind::ServicePrincipal,
        ResourceKind::AppCredential,
        ResourceKind::ConsentGrant,
        ResourceKind::AppRoleAssignment,
        ResourceKind::ConsentPolicy,
        ResourceKind::AuthMethod,
        ResourceKind::Domain,
        ResourceKind::ExchangeRoleGroupMember,
        ResourceKind::MailboxFolderPermission,
        ResourceKind::ExchangeRoleAssignment,
        ResourceKind::ApplicationAccessPolicy,
        ResourceKind::AppManagementPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Tenant => "tenant",
            ResourceKind::User => "user",
            ResourceKind::Mailbox => "mailbox",
            ResourceKind::InboxRule => "inbox_rule",
            ResourceKind::RoleDefinition => "role_definition",
            ResourceKind::RoleAssignment => "role_assignment",
            ResourceKind::RoleEligibility => "role_eligibility",
            ResourceKind::OutboundSpamPolicy => "outbound_spam_policy",
            ResourceKind::RestrictedSender => "restricted_sender",
            ResourceKind::ConditionalAccessPolicy => "conditional_access_policy",
            ResourceKind::RiskyUser => "risky_user",
            ResourceKind::RemoteDomain => "remote_domain",
            ResourceKind::NamedLocation => "named_location",
            ResourceKind::ConditionalAccessGroup => "conditional_access_group",
            ResourceKind::Recipient => "recipient",
            ResourceKind::TransportSettings => "transport_settings",
            ResourceKind::CasMailbox => "cas_mailbox",
            ResourceKind::AuditConfig => "audit_config",
            ResourceKind::AuditBypass => "audit_bypass",
            ResourceKind::TransportRule => "transport_rule",
            ResourceKind::OutboundConnector => "outbound_connector",
            ResourceKind::InboundConnector => "inbound_connector",
            ResourceKind::MailboxDelegate => "mailbox_delegate",
            ResourceKind::ServicePrincipal => "service_principal",
            ResourceKind::AppCredential => "app_credential",
            ResourceKind::ConsentGrant => "consent_grant",
            ResourceKind::AppRoleAssignment => "app_role_assignment",
            ResourceKind::ConsentPolicy => "consent_policy",
            ResourceKind::AuthMethod => "auth_method",
            ResourceKind::Domain => "domain",
            ResourceKind::ExchangeRoleGroupMember => "exchange_role_group_member",
            ResourceKind::MailboxFolderPermission => "mailbox_folder_permission",
            ResourceKind::ExchangeRoleAssignment => "exchange_role_assignment",
            ResourceKind::ApplicationAccessPolicy => "application_access_policy",
            ResourceKind::AppManagementPolicy => "app_management_policy",
        }
    }

    /// The kind a rule names in `resource_type`; `None` for an unknown name.
    pub fn parse(name: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The array holding this kind; `None` for [`ResourceKind::Tenant`].
    pub fn array(self) -> Option<&'static dyn ResourceArray> {
        SOURCES
            .iter()
            .flat_map(|s| s.resources.iter().copied())
            .find(|a| a.kind() == self)
    }

    /// The array's section path (`roles.assignments`); `None` for the tenant.
    pub fn snapshot_path(self) -> Option<&'static str> {
        self.array().map(|a| a.path())
    }

    /// Every name [`ResourceKind::parse`] accepts, for error messages.
    pub fn names() -> String {
        ResourceKind::ALL.map(ResourceKind::as_str).join(", ")
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which service a source is read from, and so which collection thread runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Microsoft Graph, on the main thread, in table order.
    Graph,
    /// The Exchange admin API, on the second thread, in table order; its arrays are moved
    /// into the snapshot when both threads are done.
    Exchange,
    /// Exchange, after both threads: needs what both sides collected.
    Joined,
}

/// What reading a source needs. Doctor checks it, `m365guard permissions` prints it.
#[derive(Debug, Clone, Copy)]
pub struct ReadNeeds {
    /// Graph application permissions, each requirement any-of.
    pub graph: &'static [AnyOf],
    /// Exchange: `Exchange.ManageAsApp` and an Entra role that can run the read cmdlets.
    pub exchange: bool,
    /// The Graph endpoint or Exchange cmdlet(s) read, for tables and 403 messages.
    pub reads: &'static str,
}

/// One snapshot source.
pub struct SourceDef {
    pub id: SourceId,
    pub stage: Stage,
    pub needs: ReadNeeds,
    /// The licence without which the source is `unavailable` (rules not applicable).
    pub licence: Option<&'static str>,
    /// The arrays this source fills.
    pub resources: &'static [&'static dyn ResourceArray],
    /// Top-level sections it fills that are not resource arrays (`tenant`,
    /// `security_defaults`).
    pub sections: &'static [&'static str],
    /// Fields it adds to another source's objects (`mfa` on users): `diff` does not compare
    /// them while this source is not `ok`.
    pub enriches: &'static [(ResourceKind, &'static str)],
}

/// The definition of `id`.
pub fn def(id: SourceId) -> &'static SourceDef {
    // Every id has an entry: `tests::every_source_id_is_defined_once` keeps it so.
    SOURCES.iter().find(|s| s.id == id).unwrap_or(&SOURCES[0])
}

/// One array of resources in the snapshot: where it is, how its objects are keyed, and
/// typed access for sorting, uniqueness, merging and diffing.
pub trait ResourceArray: Sync {
    fn kind(&self) -> ResourceKind;
    /// Section path in the document (`users`, `roles.assignments`).
    fn path(&self) -> &'static str;
    fn len(&self, snapshot: &Snapshot) -> usize;
    fn is_empty(&self, snapshot: &Snapshot) -> bool {
        self.len(snapshot) == 0
    }
    /// The ids in array order.
    fn ids<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a str>;
    /// Sort by id (the stable layout).
    fn sort(&self, snapshot: &mut Snapshot);
    /// Move this array from `from` into `into` (the Exchange thread's snapshot into the
    /// assembled one).
    fn move_into(&self, from: &mut Snapshot, into: &mut Snapshot);
    /// Each object as JSON, keyed by id (`diff` compares these).
    fn objects(&self, snapshot: &Snapshot) -> Vec<(String, serde_json::Value)>;
}

/// An object in a resource array.
pub trait Resource: Serialize {
    fn id(&self) -> &str;
}

macro_rules! resources {
    ($($t:ty),*) => {$(
        impl Resource for $t {
            fn id(&self) -> &str {
                &self.id
            }
        }
    )*};
}
resources!(
    User,
    Mailbox,
    InboxRule,
    RoleDefinition,
    RoleAssignment,
    OutboundSpamPolicy,
    RestrictedSender,
    CaPolicy,
    RiskyUser,
    RemoteDomain,
    NamedLocation,
    CaGroup,
    MailRecipient,
    TransportRule,
    OutboundConnector,
    InboundConnector,
    MailboxDelegate,
    ServicePrincipal,
    AppCredential,
    ConsentGrant,
    AppRoleGrant,
    ConsentPolicy,
    TransportSettings,
    CasMailbox,
    AuditConfig,
    AuditBypass,
    AuthMethod,
    Domain,
    ExchangeRoleGroupMember,
    MailboxFolderPermission,
    ExchangeRoleAssignment,
    ApplicationAccessPolicy,
    AppManagementPolicy
);

/// A [`ResourceArray`] of `T`, given by two accessor functions.
pub struct Array<T: 'static> {
    kind: ResourceKind,
    path: &'static str,
    get: fn(&Snapshot) -> &Vec<T>,
    get_mut: fn(&mut Snapshot) -> &mut Vec<T>,
}

impl<T: Resource + Sync + 'static> ResourceArray for Array<T> {
    fn kind(&self) -> ResourceKind {
        self.kind
    }

    fn path(&self) -> &'static str {
        self.path
    }

    fn len(&self, snapshot: &Snapshot) -> usize {
        (self.get)(snapshot).len()
    }

    fn ids<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a str> {
        (self.get)(snapshot).iter().map(Resource::id).collect()
    }

    fn sort(&self, snapshot: &mut Snapshot) {
        (self.get_mut)(snapshot).sort_by(|a, b| a.id().cmp(b.id()));
    }

    fn move_into(&self, from: &mut Snapshot, into: &mut Snapshot) {
        *(self.get_mut)(into) = std::mem::take((self.get_mut)(from));
    }

    fn objects(&self, snapshot: &Snapshot) -> Vec<(String, serde_json::Value)> {
        (self.get)(snapshot)
            .iter()
            .map(|item| {
                let value = serde_json::to_value(item).unwrap_or(serde_json::Value::Null);
                (item.id().to_owned(), value)
            })
            .collect()
    }
}

static USERS: Array<User> = Array {
    kind: ResourceKind::User,
    path: "users",
    get: |s| &s.users,
    get_mut: |s| &mut s.users,
};
static MAILBOXES: Array<Mailbox> = Array {
    kind: ResourceKind::Mailbox,
    path: "mailboxes",
    get: |s| &s.mailboxes,
    get_mut: |s| &mut s.mailboxes,
};
static INBOX_RULES: Array<InboxRule> = Array {
    kind: ResourceKind::InboxRule,
    path: "inbox_rules",
    get: |s| &s.inbox_rules,
    get_mut: |s| &mut s.inbox_rules,
};
static ROLE_DEFINITIONS: Array<RoleDefinition> = Array {
    kind: ResourceKind::RoleDefinition,
    path: "roles.definitions",
    get: |s| &s.roles.definitions,
    get_mut: |s| &mut s.roles.definitions,
};
static ROLE_ASSIGNMENTS: Array<RoleAssignment> = Array {
    kind: ResourceKind::RoleAssignment,
    path: "roles.assignments",
    get: |s| &s.roles.assignments,
    get_mut: |s| &mut s.roles.assignments,
};
static ROLE_ELIGIBILITY: Array<RoleAssignment> = Array {
    kind: ResourceKind::RoleEligibility,
    path: "roles.eligible_assignments",
    get: |s| &s.roles.eligible_assignments,
    get_mut: |s| &mut s.roles.eligible_assignments,
};
static OUTBOUND_SPAM_POLICIES: Array<OutboundSpamPolicy> = Array {
    kind: ResourceKind::OutboundSpamPolicy,
    path: "outbound_spam.policies",
    get: |s| &s.outbound_spam.policies,
    get_mut: |s| &mut s.outbound_spam.policies,
};
static RESTRICTED_SENDERS: Array<RestrictedSender> = Array {
    kind: ResourceKind::RestrictedSender,
    path: "outbound_spam.restricted_senders",
    get: |s| &s.outbound_spam.restricted_senders,
    get_mut: |s| &mut s.outbound_spam.restricted_senders,
};
static CONDITIONAL_ACCESS_POLICIES: Array<CaPolicy> = Array {
    kind: ResourceKind::ConditionalAccessPolicy,
    path: "conditional_access.policies",
    get: |s| &s.conditional_access.policies,
    get_mut: |s| &mut s.conditional_access.policies,
};
static RISKY_USERS: Array<RiskyUser> = Array {
    kind: ResourceKind::RiskyUser,
    path: "risky_users",
    get: |s| &s.risky_users,
    get_mut: |s| &mut s.risky_users,
};

static REMOTE_DOMAINS: Array<RemoteDomain> = Array {
    kind: ResourceKind::RemoteDomain,
    path: "remote_domains",
    get: |s| &s.remote_domains,
    get_mut: |s| &mut s.remote_domains,
};

static NAMED_LOCATIONS: Array<NamedLocation> = Array {
    kind: ResourceKind::NamedLocation,
    path: "conditional_access.named_locations",
    get: |s| &s.conditional_access.named_locations,
    get_mut: |s| &mut s.conditional_access.named_locations,
};

static CA_GROUPS: Array<CaGroup> = Array {
    kind: ResourceKind::ConditionalAccessGroup,
    path: "conditional_access.groups",
    get: |s| &s.conditional_access.groups,
    get_mut: |s| &mut s.conditional_access.groups,
};

static RECIPIENTS: Array<MailRecipient> = Array {
    kind: ResourceKind::Recipient,
    path: "recipients",
    get: |s| &s.recipients,
    get_mut: |s| &mut s.recipients,
};

static TRANSPORT_SETTINGS: Array<TransportSettings> = Array {
    kind: ResourceKind::TransportSettings,
    path: "mail_protocols.transport",
    get: |s| &s.mail_protocols.transport,
    get_mut: |s| &mut s.mail_protocols.transport,
};

static CAS_MAILBOXES: Array<CasMailbox> = Array {
    kind: ResourceKind::CasMailbox,
    path: "mail_protocols.mailboxes",
    get: |s| &s.mail_protocols.mailboxes,
    get_mut: |s| &mut s.mail_protocols.mailboxes,
};

static AUDIT_ORGANIZATION: Array<AuditConfig> = Array {
    kind: ResourceKind::AuditConfig,
    path: "audit_config.organization",
    get: |s| &s.audit_config.organization,
    get_mut: |s| &mut s.audit_config.organization,
};

static AUDIT_BYPASS: Array<AuditBypass> = Array {
    kind: ResourceKind::AuditBypass,
    path: "audit_config.bypass_associations",
    get: |s| &s.audit_config.bypass_associations,
    get_mut: |s| &mut s.audit_config.bypass_associations,
};

static TRANSPORT_RULES: Array<TransportRule> = Array {
    kind: ResourceKind::TransportRule,
    path: "transport_rules",
    get: |s| &s.transport_rules,
    get_mut: |s| &mut s.transport_rules,
};

static OUTBOUND_CONNECTORS: Array<OutboundConnector> = Array {
    kind: ResourceKind::OutboundConnector,
    path: "outbound_connectors",
    get: |s| &s.outbound_connectors,
    get_mut: |s| &mut s.outbound_connectors,
};

static INBOUND_CONNECTORS: Array<InboundConnector> = Array {
    kind: ResourceKind::InboundConnector,
    path: "inbound_connectors",
    get: |s| &s.inbound_connectors,
    get_mut: |s| &mut s.inbound_connectors,
};

static MAILBOX_DELEGATES: Array<MailboxDelegate> = Array {
    kind: ResourceKind::MailboxDelegate,
    path: "mailbox_delegates",
    get: |s| &s.mailbox_delegates,
    get_mut: |s| &mut s.mailbox_delegates,
};

static SERVICE_PRINCIPALS: Array<ServicePrincipal> = Array {
    kind: ResourceKind::ServicePrincipal,
    path: "apps.service_principals",
    get: |s| &s.apps.service_principals,
    get_mut: |s| &mut s.apps.service_principals,
};

static APP_CREDENTIALS: Array<AppCredential> = Array {
    kind: ResourceKind::AppCredential,
    path: "apps.credentials",
    get: |s| &s.apps.credentials,
    get_mut: |s| &mut s.apps.credentials,
};

static CONSENT_GRANTS: Array<ConsentGrant> = Array {
    kind: ResourceKind::ConsentGrant,
    path: "apps.consent_grants",
    get: |s| &s.apps.consent_grants,
    get_mut: |s| &mut s.apps.consent_grants,
};

static APP_ROLE_ASSIGNMENTS: Array<AppRoleGrant> = Array {
    kind: ResourceKind::AppRoleAssignment,
    path: "apps.app_role_assignments",
    get: |s| &s.apps.app_role_assignments,
    get_mut: |s| &mut s.apps.app_role_assignments,
};

static CONSENT_POLICIES: Array<ConsentPolicy> = Array {
    kind: ResourceKind::ConsentPolicy,
    path: "apps.consent_policies",
    get: |s| &s.apps.consent_policies,
    get_mut: |s| &mut s.apps.consent_policies,
};

static AUTH_METHODS: Array<AuthMethod> = Array {
    kind: ResourceKind::AuthMethod,
    path: "auth_methods",
    get: |s| &s.auth_methods,
    get_mut: |s| &mut s.auth_methods,
};

static DOMAINS: Array<Domain> = Array {
    kind: ResourceKind::Domain,
    path: "domains",
    get: |s| &s.domains,
    get_mut: |s| &mut s.domains,
};

static EXCHANGE_ROLE_GROUPS: Array<ExchangeRoleGroupMember> = Array {
    kind: ResourceKind::ExchangeRoleGroupMember,
    path: "exchange_role_groups",
    get: |s| &s.exchange_role_groups,
    get_mut: |s| &mut s.exchange_role_groups,
};

static MAILBOX_FOLDER_PERMISSIONS: Array<MailboxFolderPermission> = Array {
    kind: ResourceKind::MailboxFolderPermission,
    path: "mailbox_folder_permissions",
    get: |s| &s.mailbox_folder_permissions,
    get_mut: |s| &mut s.mailbox_folder_permissions,
};

static EXCHANGE_ROLE_ASSIGNMENTS: Array<ExchangeRoleAssignment> = Array {
    kind: ResourceKind::ExchangeRoleAssignment,
    path: "exchange_role_assignments",
    get: |s| &s.exchange_role_assignments,
    get_mut: |s| &mut s.exchange_role_assignments,
};

static APPLICATION_ACCESS_POLICIES: Array<ApplicationAccessPolicy> = Array {
    kind: ResourceKind::ApplicationAccessPolicy,
    path: "application_access_policies",
    get: |s| &s.application_access_policies,
    get_mut: |s| &mut s.application_access_policies,
};

static APP_MANAGEMENT_POLICIES: Array<AppManagementPolicy> = Array {
    kind: ResourceKind::AppManagementPolicy,
    path: "apps.management_policies",
    get: |s| &s.apps.management_policies,
    get_mut: |s| &mut s.apps.management_policies,
};

const fn graph(graph: &'static [AnyOf], reads: &'static str) -> ReadNeeds {
    ReadNeeds {
        graph,
        exchange: false,
        reads,
    }
}

const fn exchange(reads: &'static str) -> ReadNeeds {
    ReadNeeds {
        graph: &[],
        exchange: true,
        reads,
    }
}

/// Every source, in collection order within its stage. Later sources of a stage may build
/// on earlier ones (users before per-user MFA, roles before PIM, mailboxes before rules).
pub static SOURCES: [SourceDef; 35] = [
    SourceDef {
        id: SourceId::Organization,
        stage: Stage::Graph,
        needs: graph(&[permission::ORG_READ], "GET /organization"),
        licence: None,
        resources: &[],
        sections: &["tenant"],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::Users,
        stage: Stage::Graph,
        needs: graph(&[permission::USER_READ], "GET /users"),
        licence: None,
        resources: &[&USERS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::SignInActivity,
        stage: Stage::Graph,
        needs: graph(
            &[permission::USER_READ, permission::AUDIT_READ],
            "GET /users?$select=signInActivity",
        ),
        licence: Some("Entra ID P1"),
        resources: &[],
        sections: &[],
        enriches: &[(ResourceKind::User, "last_sign_in")],
    },
    SourceDef {
        id: SourceId::MfaRegistration,
        stage: Stage::Graph,
        needs: graph(
            &[permission::AUDIT_READ],
            "GET /reports/authenticationMethods/userRegistrationDetails",
        ),
        licence: Some("Entra ID P1"),
        resources: &[],
        sections: &[],
        enriches: &[(ResourceKind::User, "mfa")],
    },
    SourceDef {
        id: SourceId::PerUserMfa,
        stage: Stage::Graph,
        needs: graph(
            &[permission::USER_READ, permission::PER_USER_MFA_READ],
            "GET /beta/users/{id}/authentication/requirements",
        ),
        licence: None,
        resources: &[],
        sections: &[],
        enriches: &[(ResourceKind::User, "per_user_mfa_state")],
    },
    SourceDef {
        id: SourceId::SecurityDefaults,
        stage: Stage::Graph,
        needs: graph(
            &[permission::SECURITY_DEFAULTS_READ],
            "GET /policies/identitySecurityDefaultsEnforcementPolicy",
        ),
        licence: None,
        resources: &[],
        sections: &["security_defaults"],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::ConditionalAccess,
        stage: Stage::Graph,
        needs: graph(
            &[permission::CA_READ],
            "GET /identity/conditionalAccess/policies",
        ),
        licence: Some("Entra ID P1"),
        resources: &[&CONDITIONAL_ACCESS_POLICIES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::NamedLocations,
        stage: Stage::Graph,
        needs: graph(
            &[permission::NAMED_LOCATION_READ],
            "GET /identity/conditionalAccess/namedLocations",
        ),
        licence: None,
        resources: &[&NAMED_LOCATIONS],
        sections: &[],
        enriches: &[],
    },
    // After conditional_access: it reads the groups the collected policies name.
    SourceDef {
        id: SourceId::CaGroupMembers,
        stage: Stage::Graph,
        needs: graph(
            &[permission::GROUP_MEMBER_READ],
            "GET /groups/{id} and /groups/{id}/transitiveMembers (groups named by CA policies)",
        ),
        licence: None,
        resources: &[&CA_GROUPS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::Roles,
        stage: Stage::Graph,
        needs: graph(
            &[permission::ROLE_READ, permission::GROUP_MEMBER_READ],
            "GET /roleManagement/directory/roleDefinitions, roleAssignments; group members",
        ),
        licence: None,
        resources: &[&ROLE_DEFINITIONS, &ROLE_ASSIGNMENTS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::RoleEligibility,
        stage: Stage::Graph,
        needs: graph(
            // Eligible groups' members are read too (`with_group_members`), and activated
            // assignments' end dates from roleAssignmentScheduleInstances.
            &[
                permission::ELIGIBILITY_READ,
                permission::ROLE_READ,
                permission::ASSIGNMENT_SCHEDULE_READ,
                permission::GROUP_MEMBER_READ,
            ],
            "GET /roleManagement/directory/roleEligibilityScheduleInstances, roleAssignmentScheduleInstances; group members",
        ),
        licence: Some("Entra ID P2 or Entra ID Governance"),
        resources: &[&ROLE_ELIGIBILITY],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::RiskyUsers,
        stage: Stage::Graph,
        needs: graph(
            &[permission::RISKY_READ],
            "GET /identityProtection/riskyUsers",
        ),
        licence: Some("Entra ID P2"),
        resources: &[&RISKY_USERS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::ServicePrincipals,
        stage: Stage::Graph,
        needs: graph(
            &[permission::APP_READ],
            "GET /servicePrincipals, /applications (credential metadata)",
        ),
        licence: None,
        resources: &[&SERVICE_PRINCIPALS, &APP_CREDENTIALS],
        sections: &[],
        enriches: &[],
    },
    // After roles and role_eligibility (and risky users): it reads the methods of the
    // users holding a privileged role, active or eligible (everyone with `--deep`).
    SourceDef {
        id: SourceId::AuthMethods,
        stage: Stage::Graph,
        needs: graph(
            &[permission::AUTH_METHOD_READ],
            "GET /users/{id}/authentication/methods (privileged users; all with --deep)",
        ),
        licence: None,
        resources: &[&AUTH_METHODS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::ConsentGrants,
        stage: Stage::Graph,
        needs: graph(&[permission::GRANT_READ], "GET /oauth2PermissionGrants"),
        licence: None,
        resources: &[&CONSENT_GRANTS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::AppRoleAssignments,
        stage: Stage::Graph,
        needs: graph(
            &[permission::APP_READ],
            "GET /servicePrincipals/{id}/appRoleAssignedTo (Microsoft Graph, Exchange Online, SharePoint)",
        ),
        licence: None,
        resources: &[&APP_ROLE_ASSIGNMENTS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::ConsentPolicy,
        stage: Stage::Graph,
        needs: graph(
            &[permission::CONSENT_POLICY_READ],
            "GET /policies/authorizationPolicy, /policies/adminConsentRequestPolicy",
        ),
        licence: None,
        resources: &[&CONSENT_POLICIES],
        sections: &[],
        enriches: &[],
    },
    // Answered without the licence by some tenants and refused by others (the Graph pages
    // require Workload ID Premium for "all app policy management operations"): a refusal
    // makes the source `unavailable`, never a pass.
    SourceDef {
        id: SourceId::AppManagementPolicies,
        stage: Stage::Graph,
        needs: graph(
            &[permission::APP_MANAGEMENT_POLICY_READ],
            "GET /policies/defaultAppManagementPolicy, /policies/appManagementPolicies (+ appliesTo)",
        ),
        licence: Some("Microsoft Entra Workload ID Premium"),
        resources: &[&APP_MANAGEMENT_POLICIES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::Federation,
        stage: Stage::Graph,
        needs: graph(
            &[permission::DOMAIN_AND_FEDERATION_READ],
            "GET /domains, /domains/{id}/federationConfiguration (federated domains)",
        ),
        licence: None,
        resources: &[&DOMAINS],
        sections: &[],
        enriches: &[],
    },
    // Before mailboxes and inbox rules: their collectors resolve forwarding targets that
    // name a contact, mail user or group through it.
    SourceDef {
        id: SourceId::Recipients,
        stage: Stage::Exchange,
        needs: exchange("Get-Recipient (mail contacts, mail users, groups)"),
        licence: None,
        resources: &[&RECIPIENTS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::Mailboxes,
        stage: Stage::Exchange,
        needs: exchange("Get-Mailbox"),
        licence: None,
        resources: &[&MAILBOXES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::InboxRules,
        stage: Stage::Exchange,
        needs: exchange("Get-InboxRule -IncludeHidden (per mailbox)"),
        licence: None,
        resources: &[&INBOX_RULES],
        sections: &[],
        enriches: &[],
    },
    // After mailboxes and recipients: it reads every mailbox's permissions, takes
    // GrantSendOnBehalfTo from the mailboxes' Get-Mailbox answer, and resolves trustees
    // through both.
    SourceDef {
        id: SourceId::MailboxDelegates,
        stage: Stage::Exchange,
        needs: exchange(
            "Get-MailboxPermission (per mailbox), Get-RecipientPermission -AccessRights SendAs, Get-Mailbox GrantSendOnBehalfTo",
        ),
        licence: None,
        resources: &[&MAILBOX_DELEGATES],
        sections: &[],
        enriches: &[],
    },
    // After mailboxes and recipients: one worker per mailbox, trustees resolved as for
    // delegates.
    SourceDef {
        id: SourceId::MailboxFolderPermissions,
        stage: Stage::Exchange,
        needs: exchange(
            "Get-MailboxFolderStatistics -FolderScope Inbox/Calendar, Get-MailboxFolderPermission (per mailbox)",
        ),
        licence: None,
        resources: &[&MAILBOX_FOLDER_PERMISSIONS],
        sections: &[],
        enriches: &[],
    },
    // After recipients: a member is one of them (its address and type come with
    // Get-RoleGroupMember, so nothing is looked up).
    SourceDef {
        id: SourceId::ExchangeRoleGroups,
        stage: Stage::Exchange,
        needs: exchange("Get-RoleGroup, Get-RoleGroupMember (per privileged role group)"),
        licence: None,
        resources: &[&EXCHANGE_ROLE_GROUPS],
        sections: &[],
        enriches: &[],
    },
    // Roles held outside the role groups; one call lists every assignment.
    SourceDef {
        id: SourceId::ExchangeRoleAssignments,
        stage: Stage::Exchange,
        needs: exchange("Get-ManagementRoleAssignment (direct assignments)"),
        licence: None,
        resources: &[&EXCHANGE_ROLE_ASSIGNMENTS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::ApplicationAccessPolicies,
        stage: Stage::Exchange,
        needs: exchange("Get-ApplicationAccessPolicy"),
        licence: None,
        resources: &[&APPLICATION_ACCESS_POLICIES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::OutboundSpamPolicies,
        stage: Stage::Exchange,
        needs: exchange("Get-HostedOutboundSpamFilterPolicy"),
        licence: None,
        resources: &[&OUTBOUND_SPAM_POLICIES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::RemoteDomains,
        stage: Stage::Exchange,
        needs: exchange("Get-RemoteDomain"),
        licence: None,
        resources: &[&REMOTE_DOMAINS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::MailProtocols,
        stage: Stage::Exchange,
        needs: exchange("Get-CASMailbox -ResultSize Unlimited, Get-TransportConfig"),
        licence: None,
        resources: &[&TRANSPORT_SETTINGS, &CAS_MAILBOXES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::AuditConfig,
        stage: Stage::Exchange,
        needs: exchange(
            "Get-AdminAuditLogConfig, Get-OrganizationConfig, Get-MailboxAuditBypassAssociation -ResultSize Unlimited",
        ),
        licence: None,
        resources: &[&AUDIT_ORGANIZATION, &AUDIT_BYPASS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::TransportRules,
        stage: Stage::Exchange,
        needs: exchange("Get-TransportRule"),
        licence: None,
        resources: &[&TRANSPORT_RULES],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::OutboundConnectors,
        stage: Stage::Exchange,
        needs: exchange("Get-OutboundConnector"),
        licence: None,
        resources: &[&OUTBOUND_CONNECTORS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::InboundConnectors,
        stage: Stage::Exchange,
        needs: exchange("Get-InboundConnector"),
        licence: None,
        resources: &[&INBOUND_CONNECTORS],
        sections: &[],
        enriches: &[],
    },
    SourceDef {
        id: SourceId::RestrictedSenders,
        stage: Stage::Joined,
        needs: exchange("Get-BlockedSenderAddress"),
        licence: None,
        resources: &[&RESTRICTED_SENDERS],
        sections: &[],
        enriches: &[],
    },
];

/// Every resource array, in table order.
pub fn arrays() -> impl Iterator<Item = &'static dyn ResourceArray> {
    SOURCES.iter().flat_map(|s| s.resources.iter().copied())
}

/// The source that fills the array holding `kind` (`None` for the tenant).
pub fn source_of(kind: ResourceKind) -> Option<SourceId> {
    SOURCES
        .iter()
        .find(|s| s.resources.iter().any(|a| a.kind() == kind))
        .map(|s| s.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_id_is_defined_once() {
        for id in SourceId::ALL {
            let n = SOURCES.iter().filter(|s| s.id == id).count();
            assert_eq!(n, 1, "{id} has {n} definitions in SOURCES");
        }
        assert_eq!(SOURCES.len(), SourceId::ALL.len());
    }

    #[test]
    fn every_resource_kind_but_the_tenant_has_exactly_one_array() {
        for kind in ResourceKind::ALL {
            let n = arrays().filter(|a| a.kind() == kind).count();
            let expected = usize::from(kind != ResourceKind::Tenant);
            assert_eq!(n, expected, "{kind} is held by {n} arrays");
        }
        let mut paths: Vec<_> = arrays().map(|a| a.path()).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), arrays().count(), "two arrays share a path");
    }

    #[test]
    fn kind_names_round_trip_and_match_serde() {
        for kind in ResourceKind::ALL {
            assert_eq!(ResourceKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::from(kind.as_str()));
        }
        assert_eq!(ResourceKind::parse("users"), None);
    }

    #[test]
    fn graph_sources_name_a_permission_and_exchange_sources_need_exchange() {
        for source in &SOURCES {
            match source.stage {
                Stage::Graph => assert!(!source.needs.graph.is_empty(), "{}", source.id),
                Stage::Exchange | Stage::Joined => assert!(source.needs.exchange, "{}", source.id),
            }
        }
    }
}
