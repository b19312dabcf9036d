//! The snapshot schema, version 1: serde types for everything the collectors fetch.
//!
//! Field names are snake_case and normalised across Graph and Exchange (Exchange's
//! `smtp:` prefixes are stripped, Graph's `Member`/`member` casing is unified), so rules
//! never deal with API quirks. Optional data the tenant cannot provide (no licence, never
//! signed in) is `null`/absent, never a made-up default. Every resource array carries an
//! `id` that is unique within its array: the writer sorts by it and findings point at it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The schema version this build reads and writes. A newer snapshot is refused, not guessed.
pub const SCHEMA_VERSION: u32 = 1;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Schema version of this document; readers refuse versions newer than they know.
    pub schema_version: u32,
    pub tenant: Tenant,
    pub collection: CollectionInfo,
    /// Per-source collection status. A rule reading a source in `error` is not evaluated;
    /// one reading an `unavailable` source (no licence) is not applicable.
    pub sources: BTreeMap<SourceId, SourceStatus>,
    pub users: Vec<User>,
    pub mailboxes: Vec<Mailbox>,
    pub inbox_rules: Vec<InboxRule>,
    pub roles: Roles,
    pub outbound_spam: OutboundSpam,
    pub conditional_access: ConditionalAccess,
    pub security_defaults: SecurityDefaults,
    #[serde(default)]
    pub risky_users: Vec<RiskyUser>,
    /// Exchange remote domains (`Get-RemoteDomain`); empty in snapshots from before the
    /// source existed, whose `sources` then has no `remote_domains` status.
    #[serde(default)]
    pub remote_domains: Vec<RemoteDomain>,
    /// Exchange recipients that are not mailboxes (`Get-Recipient`: mail contacts, mail
    /// users, groups), which `ForwardingAddress` and inbox-rule recipients can name; empty
    /// in snapshots from before the source existed.
    #[serde(default)]
    pub recipients: Vec<MailRecipient>,
    /// Exchange transport (mail flow) rules (`Get-TransportRule`); empty in snapshots from
    /// before the source existed.
    #[serde(default)]
    pub transport_rules: Vec<TransportRule>,
    /// Exchange Online outbound connectors (`Get-OutboundConnector`).
    #[serde(default)]
    pub outbound_connectors: Vec<OutboundConnector>,
    /// Exchange Online inbound connectors (`Get-InboundConnector`).
    #[serde(default)]
    pub inbound_connectors: Vec<InboundConnector>,
    /// Delegations on mailboxes (FullAccess, SendAs, send on behalf); empty in snapshots
    /// from before the `mailbox_delegates` source existed.
    #[serde(default)]
    pub mailbox_delegates: Vec<MailboxDelegate>,
    /// Enterprise applications: service principals and their credentials, delegated and
    /// application permission grants, and the tenant's consent settings (sources
    /// `service_principals`, `consent_grants`, `app_role_assignments`, `consent_policy`);
    /// empty in snapshots from before they existed.
    #[serde(default)]
    pub apps: Apps,
    /// Client access per mailbox (`Get-CASMailbox`) and the organisation's SMTP AUTH
    /// switch (`Get-TransportConfig`); empty in snapshots from before the source existed.
    #[serde(default)]
    pub mail_protocols: MailProtocols,
    /// Audit settings (`Get-AdminAuditLogConfig`, `Get-OrganizationConfig`,
    /// `Get-MailboxAuditBypassAssociation`); empty in older snapshots.
    #[serde(default)]
    pub audit_config: AuditSettings,
    /// Authentication methods of privileged users (all users with `collect --deep`); empty
    /// in snapshots from before the source existed.
    #[serde(default)]
    pub auth_methods: Vec<AuthMethod>,
    /// The tenant's domains with their federation settings (`/domains`); empty in
    /// snapshots from before the source existed.
    #[serde(default)]
    pub domains: Vec<Domain>,
    /// Members of the privileged Exchange role groups (`Get-RoleGroup`,
    /// `Get-RoleGroupMember`); empty in snapshots from before the source existed.
    #[serde(default)]
    pub exchange_role_groups: Vec<ExchangeRoleGroupMember>,
    /// Permissions on each user mailbox's top of information store, Inbox and Calendar
    /// (`Get-MailboxFolderPermission`) beyond the baseline; empty in snapshots from before
    /// the `mailbox_folder_permissions` source existed.
    #[serde(default)]
    pub mailbox_folder_permissions: Vec<MailboxFolderPermission>,
    /// Management roles assigned directly to a user, group or service principal
    /// (`Get-ManagementRoleAssignment`); empty in snapshots from before the source existed.
    #[serde(default)]
    pub exchange_role_assignments: Vec<ExchangeRoleAssignment>,
    /// Exchange application access policies (`Get-ApplicationAccessPolicy`); empty in
    /// snapshots from before the source existed.
    #[serde(default)]
    pub application_access_policies: Vec<ApplicationAccessPolicy>,
}

/// The current schema with every section empty and no source statuses. Code that builds a
/// snapshot names what it fills and takes the rest from here (`..Snapshot::default()`), so
/// a new section needs no edit outside this file and the source table.
impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot {
            schema_version: SCHEMA_VERSION,
            tenant: Tenant::default(),
            collection: CollectionInfo::default(),
            sources: BTreeMap::new(),
            users: Vec::new(),
            mailboxes: Vec::new(),
            inbox_rules: Vec::new(),
            roles: Roles::default(),
            outbound_spam: OutboundSpam::default(),
            conditional_access: ConditionalAccess::default(),
            security_defaults: SecurityDefaults::default(),
            risky_users: Vec::new(),
            remote_domains: Vec::new(),
            recipients: Vec::new(),
            transport_rules: Vec::new(),
            outbound_connectors: Vec::new(),
            inbound_connectors: Vec::new(),
            mailbox_delegates: Vec::new(),
            apps: Apps::default(),
            mail_protocols: MailProtocols::default(),
            audit_config: AuditSettings::default(),
            auth_methods: Vec::new(),
            domains: Vec::new(),
            exchange_role_groups: Vec::new(),
            mailbox_folder_permissions: Vec::new(),
            exchange_role_assignments: Vec::new(),
            application_access_policies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Entra tenant id (GUID).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Verified domains (lower-case). Addresses in these domains or their subdomains are
    /// internal; everything else is external.
    pub verified_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_domain: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionInfo {
    pub collected_at: DateTime<Utc>,
    /// `m365guard` version that wrote the snapshot (or `synthetic`/`example`).
    pub tool_version: String,
    /// The app (client) id that collected, so fix mode can refuse to act on itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_app_id: Option<String>,
    /// Object id of the collecting service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_principal_id: Option<String>,
}

/// One independently collected source. Each collector owns one and sets its status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceId {
    /// Tenant id and verified domains (`/organization`, `/domains`).
    Organization,
    /// `/users`: identity, enabled, type.
    Users,
    /// `signInActivity` on users (Entra ID P1).
    SignInActivity,
    /// `userRegistrationDetails` report (Entra ID P1).
    MfaRegistration,
    /// beta `authentication/requirements` per user.
    PerUserMfa,
    SecurityDefaults,
    /// Conditional access policies (Entra ID P1).
    ConditionalAccess,
    /// Role definitions and active assignments.
    Roles,
    /// PIM eligible assignments (Entra ID P2 / Governance).
    RoleEligibility,
    /// `Get-Mailbox` forwarding properties.
    Mailboxes,
    /// Inbox rules of every mailbox.
    InboxRules,
    /// `Get-HostedOutboundSpamFilterPolicy`.
    OutboundSpamPolicies,
    /// `Get-BlockedSenderAddress`.
    RestrictedSenders,
    /// Identity Protection risky users (Entra ID P2).
    RiskyUsers,
    /// `Get-RemoteDomain`: per-domain auto-forwarding.
    RemoteDomains,
    /// Conditional access named locations (trusted flag, name): what a location condition
    /// of a CA policy leaves out.
    NamedLocations,
    /// Transitive user members of every group a CA policy includes or excludes.
    CaGroupMembers,
    /// `Get-Recipient`: mail contacts, mail users and groups forwarding can name.
    Recipients,
    /// `Get-TransportRule`: mail flow rules (copies, spam bypass, deletions).
    TransportRules,
    /// `Get-OutboundConnector`: smart hosts outbound mail is routed through.
    OutboundConnectors,
    /// `Get-InboundConnector`: who may send into the organisation and how it is checked.
    InboundConnectors,
    /// `Get-MailboxPermission`, `Get-RecipientPermission` and `GrantSendOnBehalfTo`: who
    /// may open or send as each mailbox.
    MailboxDelegates,
    /// `/servicePrincipals` and `/applications`: apps and their credential metadata.
    ServicePrincipals,
    /// `/oauth2PermissionGrants`: delegated permissions consented to apps.
    ConsentGrants,
    /// `appRoleAssignedTo` of Microsoft Graph, Exchange Online and SharePoint: application
    /// permissions.
    AppRoleAssignments,
    /// `authorizationPolicy` and `adminConsentRequestPolicy`: who may consent to apps.
    ConsentPolicy,
    /// `Get-CASMailbox` + `Get-TransportConfig`: POP, IMAP, SMTP AUTH and other client
    /// protocols per mailbox and SMTP AUTH organisation-wide.
    MailProtocols,
    /// `Get-AdminAuditLogConfig`, `Get-OrganizationConfig`, `Get-MailboxAuditBypassAssociation`.
    AuditConfig,
    /// `/users/{id}/authentication/methods` of privileged users (all with `--deep`).
    AuthMethods,
    /// `/domains` and the federation configuration of federated domains.
    Federation,
    /// `Get-RoleGroup` + `Get-RoleGroupMember`: who holds the privileged Exchange role groups.
    ExchangeRoleGroups,
    /// `Get-MailboxFolderStatistics` + `Get-MailboxFolderPermission`: who may open each
    /// user mailbox's top of information store, Inbox and Calendar.
    MailboxFolderPermissions,
    /// `Get-ManagementRoleAssignment`: roles assigned directly, not through a role group.
    ExchangeRoleAssignments,
    /// `Get-ApplicationAccessPolicy`: which mailboxes an app with a mail permission reaches.
    ApplicationAccessPolicies,
    /// `defaultAppManagementPolicy` and `appManagementPolicies`: limits on app secrets.
    AppManagementPolicies,
}

impl SourceId {
    pub const ALL: [SourceId; 35] = [
        SourceId::Organization,
        SourceId::Users,
        SourceId::SignInActivity,
        SourceId::MfaRegistration,
        SourceId::PerUserMfa,
        SourceId::SecurityDefaults,
        SourceId::ConditionalAccess,
        SourceId::Roles,
        SourceId::RoleEligibility,
        SourceId::Mailboxes,
        SourceId::InboxRules,
        SourceId::OutboundSpamPolicies,
        SourceId::RestrictedSenders,
        SourceId::RiskyUsers,
        SourceId::RemoteDomains,
        SourceId::NamedLocations,
        SourceId::CaGroupMembers,
        SourceId::Recipients,
        SourceId::TransportRules,
        SourceId::OutboundConnectors,
        SourceId::InboundConnectors,
        SourceId::MailboxDelegates,
        SourceId::ServicePrincipals,
        SourceId::ConsentGrants,
        SourceId::AppRoleAssignments,
        SourceId::ConsentPolicy,
        SourceId::MailProtocols,
        SourceId::AuditConfig,
        SourceId::AuthMethods,
        SourceId::Federation,
        SourceId::ExchangeRoleGroups,
        SourceId::MailboxFolderPermissions,
        SourceId::ExchangeRoleAssignments,
        SourceId::ApplicationAccessPolicies,
        SourceId::AppManagementPolicies,
    ];

    /// The snake_case name used in snapshots and `rule.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceId::Organization => "organization",
            SourceId::Users => "users",
            SourceId::SignInActivity => "sign_in_activity",
            SourceId::MfaRegistration => "mfa_registration",
            SourceId::PerUserMfa => "per_user_mfa",
            SourceId::SecurityDefaults => "security_defaults",
            SourceId::ConditionalAccess => "conditional_access",
            SourceId::Roles => "roles",
            SourceId::RoleEligibility => "role_eligibility",
            SourceId::Mailboxes => "mailboxes",
            SourceId::InboxRules => "inbox_rules",
            SourceId::OutboundSpamPolicies => "outbound_spam_policies",
            SourceId::RestrictedSenders => "restricted_senders",
            SourceId::RiskyUsers => "risky_users",
            SourceId::RemoteDomains => "remote_domains",
            SourceId::NamedLocations => "named_locations",
            SourceId::CaGroupMembers => "ca_group_members",
            SourceId::Recipients => "recipients",
            SourceId::TransportRules => "transport_rules",
            SourceId::OutboundConnectors => "outbound_connectors",
            SourceId::InboundConnectors => "inbound_connectors",
            SourceId::MailboxDelegates => "mailbox_delegates",
            SourceId::ServicePrincipals => "service_principals",
            SourceId::ConsentGrants => "consent_grants",
            SourceId::AppRoleAssignments => "app_role_assignments",
            SourceId::ConsentPolicy => "consent_policy",
            SourceId::MailProtocols => "mail_protocols",
            SourceId::AuditConfig => "audit_config",
            SourceId::AuthMethods => "auth_methods",
            SourceId::Federation => "federation",
            SourceId::ExchangeRoleGroups => "exchange_role_groups",
            SourceId::MailboxFolderPermissions => "mailbox_folder_permissions",
            SourceId::ExchangeRoleAssignments => "exchange_role_assignments",
            SourceId::ApplicationAccessPolicies => "application_access_policies",
            SourceId::AppManagementPolicies => "app_management_policies",
        }
    }

    pub fn parse(name: &str) -> Option<SourceId> {
        SourceId::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Collected completely.
    Ok,
    /// The tenant cannot provide it (no licence for the feature): rules are not applicable.
    Unavailable,
    /// Collection failed or is incomplete: rules reading it are not evaluated.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceStatus {
    pub status: SourceState,
    /// Why it is unavailable or failed (permission, licence, endpoint, error code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Items collected (for `ok`; may be partial for `error`).
    #[serde(default)]
    pub items: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Member,
    Guest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PerUserMfaState {
    Disabled,
    Enabled,
    Enforced,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Entra object id.
    pub id: String,
    pub user_principal_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub account_enabled: bool,
    pub user_type: UserType,
    /// From the MFA registration report; `null` when the user is not in the report
    /// (disabled users are excluded by Microsoft) or the source is unavailable.
    #[serde(default)]
    pub mfa: Option<MfaRegistration>,
    /// Legacy per-user MFA state (beta API); `null` when not collected.
    #[serde(default)]
    pub per_user_mfa_state: Option<PerUserMfaState>,
    /// Last interactive sign-in; `null` when never signed in or not licensed.
    #[serde(default)]
    pub last_sign_in: Option<DateTime<Utc>>,
    /// Synced from on-premises AD (password reset needs writeback).
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_premises_sync_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRegistration {
    pub is_mfa_registered: bool,
    pub is_mfa_capable: bool,
    /// Registration report's `isAdmin` (active directory roles only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_admin: bool,
    /// Registered method names as Graph reports them (`microsoftAuthenticatorPush`, `fido2`, …).
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mailbox {
    /// Entra user id of the owner (`ExternalDirectoryObjectId`), or the Exchange object id
    /// for mailboxes without one.
    pub id: String,
    pub user_principal_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_smtp_address: Option<String>,
    /// `UserMailbox`, `SharedMailbox`, …
    pub recipient_type_details: String,
    /// `ForwardingSmtpAddress` without its `smtp:` prefix.
    #[serde(default)]
    pub forwarding_smtp_address: Option<String>,
    /// `ForwardingAddress`: an internal recipient's identity (mail contact/user) as Exchange
    /// shows it; resolved to an SMTP address where the collector could.
    #[serde(default)]
    pub forwarding_address: Option<String>,
    /// Where mail sent to `forwarding_address` is delivered: a mailbox's primary SMTP
    /// address, or a mail contact's / mail user's external address (see `recipients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarding_address_smtp: Option<String>,
    #[serde(default)]
    pub deliver_to_mailbox_and_forward: bool,
    /// `LegacyExchangeDN`, the `EX:` form in which inbox rules name this mailbox. Only
    /// held while collecting (the inbox-rule collector resolves `EX:` recipients with it);
    /// never written to a snapshot.
    #[serde(skip)]
    #[schemars(skip)]
    pub legacy_exchange_dn: Option<String>,
    /// What Get-Mailbox said that only the `mailbox_delegates` collector needs. Only held
    /// while collecting (that source reads it instead of asking Get-Mailbox again); never
    /// written to a snapshot.
    #[serde(skip)]
    #[schemars(skip)]
    pub delegation: MailboxDelegation,
}

/// Get-Mailbox properties the `mailbox_delegates` collector reads (collection time only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailboxDelegation {
    /// `Name`, `Alias`, `DisplayName`, `Identity`: how Get-RecipientPermission's
    /// `Identity` and other mailboxes' `GrantSendOnBehalfTo` name this mailbox.
    pub names: Vec<String>,
    /// `GrantSendOnBehalfTo`: the recipients (by name) who may send on its behalf.
    pub grant_send_on_behalf_to: Vec<String>,
}

/// Where an inbox rule was read from; Graph hides hidden rules, Exchange shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    Graph,
    Exchange,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxRule {
    /// Unique across the snapshot: `<mailbox id>/<rule id>`.
    pub id: String,
    /// The owning mailbox (`mailboxes[].id`, the Entra user id).
    pub mailbox_id: String,
    pub mailbox_upn: String,
    /// The rule id as the source gives it (Graph messageRule id or Exchange RuleIdentity).
    pub rule_id: String,
    /// Exchange `Identity` (`alias\RuleIdentity`), needed by Disable-InboxRule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_identity: Option<String>,
    pub source: RuleSource,
    pub name: String,
    pub enabled: bool,
    #[serde(default)]
    pub priority: i64,
    /// Hidden from Outlook and Graph (only Exchange `-IncludeHidden` shows it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_error: bool,
    pub actions: RuleActions,
    #[serde(default)]
    pub conditions: RuleConditions,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleActions {
    /// Recipient SMTP addresses (lower-case, prefixes stripped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_as_attachment_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to_folder: Option<FolderRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_to_folder: Option<FolderRef>,
    /// Moves to Deleted Items.
    #[serde(default, skip_serializing_if = "is_false")]
    pub delete: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub permanent_delete: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mark_as_read: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stop_processing_rules: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderRef {
    /// Folder id (Graph) or path (Exchange); may be empty when only the name is known.
    #[serde(default)]
    pub id: String,
    /// Display name as resolved by the collector (`RSS Feeds`, `Archive`, …).
    #[serde(default)]
    pub name: Option<String>,
    /// Well-known folder name when the id matches one (`rssfeeds`, `junkemail`,
    /// `archive`, `conversationhistory`, `notes`, `deleteditems`) — language independent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub well_known_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConditions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_or_body_contains: Vec<String>,
    /// Sender SMTP addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sender_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub header_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipient_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_attachments: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    pub definitions: Vec<RoleDefinition>,
    /// Active assignments (standing or PIM-activated).
    pub assignments: Vec<RoleAssignment>,
    /// PIM eligible assignments; empty when `role_eligibility` is unavailable.
    #[serde(default)]
    pub eligible_assignments: Vec<RoleAssignment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    pub id: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default)]
    pub is_built_in: bool,
    /// A tier-0 role (Global Administrator, Privileged Role Administrator, Exchange
    /// Administrator, …), decided by the collector from the built-in template list.
    pub is_privileged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    User,
    Group,
    ServicePrincipal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: PrincipalType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_name: Option<String>,
    /// `/` for tenant-wide, `/administrativeUnits/{id}` otherwise.
    #[serde(default = "default_scope")]
    pub directory_scope_id: String,
    /// For a role-assignable group: its members' user ids (they hold the role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_member_ids: Vec<String>,
    /// End of the assignment; `null` = permanent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
}

fn default_scope() -> String {
    "/".to_owned()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundSpam {
    pub policies: Vec<OutboundSpamPolicy>,
    /// Users blocked from sending (Get-BlockedSenderAddress): very likely compromised.
    pub restricted_senders: Vec<RestrictedSender>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundSpamPolicy {
    /// Policy name/identity (`Default`, custom names).
    pub id: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `Automatic` (system-controlled, i.e. off), `On` or `Off`.
    pub auto_forwarding_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_when_threshold_reached: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_limit_external_per_hour: Option<u32>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictedSender {
    /// The blocked sender address (lower-case); doubles as the id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalAccess {
    pub policies: Vec<CaPolicy>,
    /// Named locations (source `named_locations`); empty in snapshots from before it.
    #[serde(default)]
    pub named_locations: Vec<NamedLocation>,
    /// Every group a policy includes or excludes, and the groups nested in those, with
    /// their transitive user members (source `ca_group_members`).
    #[serde(default)]
    pub groups: Vec<CaGroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaPolicy {
    pub id: String,
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced` (Graph's values).
    pub state: String,
    #[serde(default)]
    pub include_users: Vec<String>,
    #[serde(default)]
    pub exclude_users: Vec<String>,
    #[serde(default)]
    pub include_groups: Vec<String>,
    #[serde(default)]
    pub exclude_groups: Vec<String>,
    #[serde(default)]
    pub include_roles: Vec<String>,
    #[serde(default)]
    pub exclude_roles: Vec<String>,
    #[serde(default)]
    pub include_applications: Vec<String>,
    #[serde(default)]
    pub exclude_applications: Vec<String>,
    /// `all`, `browser`, `mobileAppsAndDesktopClients`, `exchangeActiveSync`, `other`.
    #[serde(default)]
    pub client_app_types: Vec<String>,
    /// `mfa`, `block`, `compliantDevice`, …
    #[serde(default)]
    pub built_in_controls: Vec<String>,
    /// `OR` / `AND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_operator: Option<String>,
    /// Display name of the required authentication strength, if any (counts as MFA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_strength: Option<String>,
    /// `conditions.locations.includeLocations`: `All`, `AllTrusted` or named location ids.
    /// Empty = no location condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_locations: Vec<String>,
    /// `conditions.locations.excludeLocations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_locations: Vec<String>,
    /// `conditions.platforms.includePlatforms` (`all`, `android`, `iOS`, `windows`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_platforms: Vec<String>,
    /// `conditions.platforms.excludePlatforms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_platforms: Vec<String>,
    /// `conditions.userRiskLevels`: the policy applies only at these user risk levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_risk_levels: Vec<String>,
    /// `conditions.signInRiskLevels`: the policy applies only at these sign-in risk levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sign_in_risk_levels: Vec<String>,
    /// `conditions.devices.deviceFilter.mode` (`include`/`exclude`) and its rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_filter_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_filter_rule: Option<String>,
    /// `users.includeGuestsOrExternalUsers.guestOrExternalUserTypes`, split
    /// (`internalGuest`, `b2bCollaborationGuest`, `b2bCollaborationMember`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_guest_or_external_user_types: Vec<String>,
    /// `users.excludeGuestsOrExternalUsers.guestOrExternalUserTypes`, split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_guest_or_external_user_types: Vec<String>,
}

/// A conditional access named location
/// (<https://learn.microsoft.com/graph/api/resources/namedlocation>): an IP range set
/// (`ipNamedLocation`, which may be marked trusted) or a set of countries
/// (`countryNamedLocation`, never trusted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedLocation {
    pub id: String,
    pub display_name: String,
    /// `ip` or `country` (from `@odata.type`); `unknown` for a type m365guard does not know.
    pub kind: String,
    /// `isTrusted` (IP locations only): sign-ins from here match `AllTrusted`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_trusted: bool,
    /// `ipRanges[].cidrAddress`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_ranges: Vec<String>,
    /// `countriesAndRegions` (ISO 3166-2 codes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries_and_regions: Vec<String>,
}

/// A group a conditional access policy names (or one nested in such a group), with its
/// members as `GET /groups/{id}/transitiveMembers` lists them: nested, dynamic and
/// ordinary security groups alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaGroup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// User ids among the transitive members.
    #[serde(default)]
    pub member_ids: Vec<String>,
    /// Group ids among the transitive members (nested groups, at any depth).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested_group_ids: Vec<String>,
    /// The group no longer exists (404): a policy still naming it covers nobody through it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_found: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityDefaults {
    /// `null` when the source was not collected.
    pub is_enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskyUser {
    /// Entra user id.
    pub id: String,
    pub user_principal_name: String,
    /// `low`, `medium`, `high`, `hidden`, `none`.
    pub risk_level: String,
    /// `atRisk`, `confirmedCompromised`, `remediated`, `dismissed`, …
    pub risk_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_last_updated: Option<DateTime<Utc>>,
}

/// An Exchange remote domain: mail-flow settings for messages to one external domain
/// (`*` = every domain without its own entry; Exchange Online names that one `Default`).
/// <https://learn.microsoft.com/powershell/module/exchange/get-remotedomain>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteDomain {
    /// The remote domain's name (`Identity`: `Default`, `Fabrikam`, …).
    pub id: String,
    /// The SMTP domain it applies to, lower-case (`*` for the default entry).
    pub domain_name: String,
    /// `AutoForwardEnabled`: whether messages auto-forwarded by client rules (inbox rules)
    /// and mailbox forwarding may go to this domain. `null` when Exchange did not say.
    #[serde(default)]
    pub auto_forward_enabled: Option<bool>,
    /// `AutoReplyEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_reply_enabled: Option<bool>,
    /// `IsInternal`: recipients in this domain count as internal.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_internal: bool,
    /// `WhenChanged`: when the entry was last changed (an attacker's change shows here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<DateTime<Utc>>,
}

/// An Exchange recipient that is not a mailbox: a mail contact, mail user or mail-enabled
/// group (`Get-Recipient`,
/// <https://learn.microsoft.com/powershell/module/exchange/get-recipient>). Mailbox
/// `ForwardingAddress` and inbox-rule recipients name such objects; mail sent to a mail
/// contact or mail user goes to its external address, which may be outside the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailRecipient {
    /// `ExternalDirectoryObjectId`, else Exchange's `Guid`.
    pub id: String,
    /// `Name`: how `ForwardingAddress` shows the recipient.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `MailContact`, `MailUser`, `GuestMailUser`, `MailUniversalDistributionGroup`, …
    pub recipient_type_details: String,
    /// Lower-case, without `smtp:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_smtp_address: Option<String>,
    /// `ExternalEmailAddress` of a mail contact or mail user, lower-case, without `SMTP:`:
    /// where Exchange delivers mail sent to the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_email_address: Option<String>,
    /// `LegacyExchangeDN`, lower-case: the `EX:` form in which inbox rules name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_exchange_dn: Option<String>,
}

impl MailRecipient {
    /// Where mail sent to this recipient ends up: the external address of a contact or
    /// mail user, else the primary SMTP address (groups, which deliver to their members).
    pub fn delivers_to(&self) -> Option<&str> {
        self.external_email_address
            .as_deref()
            .or(self.primary_smtp_address.as_deref())
    }
}

/// Client access protocols: the organisation's SMTP AUTH switch and every mailbox's
/// protocol settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailProtocols {
    /// `Get-TransportConfig` (one object: the organisation's transport settings).
    pub transport: Vec<TransportSettings>,
    /// `Get-CASMailbox -ResultSize Unlimited`, one entry per mailbox.
    pub mailboxes: Vec<CasMailbox>,
}

/// The organisation's transport settings, the part that decides SMTP AUTH
/// (<https://learn.microsoft.com/powershell/module/exchange/get-transportconfig>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransportSettings {
    /// `Identity` of the transport configuration object.
    pub id: String,
    /// `SmtpClientAuthenticationDisabled`: `true` turns authenticated SMTP submission off
    /// for every mailbox whose own setting is `null`. `null` when Exchange did not say.
    #[serde(default)]
    pub smtp_client_authentication_disabled: Option<bool>,
}

/// One mailbox's client access settings
/// (<https://learn.microsoft.com/powershell/module/exchange/get-casmailbox>). Every flag
/// is `null` when Exchange did not return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CasMailbox {
    /// The mailbox's id as in `mailboxes` (`ExternalDirectoryObjectId`, else the Exchange
    /// object id).
    pub id: String,
    /// `PrimarySmtpAddress` (lower-case): the identity fix mode passes to `Set-CASMailbox`.
    pub primary_smtp_address: String,
    #[serde(default)]
    pub pop_enabled: Option<bool>,
    #[serde(default)]
    pub imap_enabled: Option<bool>,
    /// `SmtpClientAuthenticationDisabled` of the mailbox: `true` off, `false` on, `null`
    /// "use the organisation's setting" (Microsoft's documented semantics).
    #[serde(default)]
    pub smtp_client_authentication_disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ews_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_sync_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owa_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owa_for_devices_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapi_enabled: Option<bool>,
}

/// Where the tenant's audit trail can be switched off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// One object: unified audit log ingestion and mailbox auditing organisation-wide.
    pub organization: Vec<AuditConfig>,
    /// Accounts whose mailbox access is not audited (`AuditBypassEnabled` true only; the
    /// others are read and not kept).
    pub bypass_associations: Vec<AuditBypass>,
}

/// The organisation's audit switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Always `organization` (the one object).
    pub id: String,
    /// `Get-AdminAuditLogConfig` `UnifiedAuditLogIngestionEnabled`: whether activity lands
    /// in the unified (Purview) audit log.
    /// <https://learn.microsoft.com/powershell/module/exchange/get-adminauditlogconfig>
    #[serde(default)]
    pub unified_audit_log_ingestion_enabled: Option<bool>,
    /// `Get-OrganizationConfig` `AuditDisabled`: `true` turns mailbox auditing off for the
    /// whole organisation. <https://learn.microsoft.com/powershell/module/exchange/get-organizationconfig>
    #[serde(default)]
    pub audit_disabled: Option<bool>,
}

/// An account whose actions on any mailbox are not audited
/// (<https://learn.microsoft.com/powershell/module/exchange/get-mailboxauditbypassassociation>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditBypass {
    /// `Identity` as Exchange shows it (what `Set-MailboxAuditBypassAssociation` takes).
    pub id: String,
    /// `Name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `AuditBypassEnabled` (always true in a snapshot; kept so the object says so).
    pub audit_bypass_enabled: bool,
    /// `WhenChanged`: when the association last changed (an attacker's change shows here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<DateTime<Utc>>,
}

/// An Exchange transport (mail flow) rule, the conditions and actions the mail-flow rules
/// judge (`Get-TransportRule`, <https://learn.microsoft.com/powershell/module/exchange/get-transportrule>;
/// the properties are the parameters of
/// <https://learn.microsoft.com/powershell/module/exchange/new-transportrule>). Recipient
/// lists hold what Exchange shows: SMTP addresses, or recipient names for internal objects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransportRule {
    /// The rule's `Guid` (its `Identity` is the name, which an admin can change).
    pub id: String,
    pub name: String,
    /// `State`: `Enabled` or `Disabled`; `null` when Exchange did not say.
    #[serde(default)]
    pub state: Option<String>,
    /// `Mode`: `Enforce`, `Audit` or `AuditAndNotify` (only `Enforce` acts on mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// `FromScope`: `InOrganization` / `NotInOrganization` (senders), `null` = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_scope: Option<String>,
    /// `SentToScope`: `InOrganization`, `NotInOrganization`, … (recipients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_to_scope: Option<String>,
    /// `SenderDomainIs`, lower-case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sender_domain_is: Vec<String>,
    /// `From`: sender addresses or names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// `SenderIpRanges`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sender_ip_ranges: Vec<String>,
    /// `SubjectContainsWords`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_contains_words: Vec<String>,
    /// `SubjectOrBodyContainsWords`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_or_body_contains_words: Vec<String>,
    /// Action `BlindCopyTo` (Bcc recipients added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blind_copy_to: Vec<String>,
    /// Action `RedirectMessageTo` (the message goes there instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_message_to: Vec<String>,
    /// Action `AddToRecipients` (To recipients added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_to_recipients: Vec<String>,
    /// Action `CopyTo` (Cc recipients added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_to: Vec<String>,
    /// Action `SetSCL`: -1 bypasses spam filtering, 0-9 set the spam confidence level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_scl: Option<i64>,
    /// Action `DeleteMessage`: silently drop the message (no NDR, no quarantine).
    #[serde(default, skip_serializing_if = "is_false")]
    pub delete_message: bool,
    /// Action `Quarantine`: hold the message in the hosted quarantine (recoverable).
    #[serde(default, skip_serializing_if = "is_false")]
    pub quarantine: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<DateTime<Utc>>,
}

/// An Exchange Online outbound connector (`Get-OutboundConnector`,
/// <https://learn.microsoft.com/powershell/module/exchange/get-outboundconnector>).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundConnector {
    /// The connector's `Guid` (its `Identity` is the name).
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `ConnectorType`: `Partner` or `OnPremises`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_type: Option<String>,
    /// `RecipientDomains`, lower-case; `*` = every external domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipient_domains: Vec<String>,
    /// `SmartHosts` (FQDNs or IP addresses), lower-case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smart_hosts: Vec<String>,
    /// `UseMXRecord`: deliver by the recipient domain's MX record instead of smart hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_mx_record: Option<bool>,
    /// `IsTransportRuleScoped`: used only for mail a transport rule sends to it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_transport_rule_scoped: bool,
    /// `TlsSettings`: `EncryptionOnly`, `CertificateValidation`, `DomainValidation` or null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_settings: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<DateTime<Utc>>,
}

/// An Exchange Online inbound connector (`Get-InboundConnector`,
/// <https://learn.microsoft.com/powershell/module/exchange/get-inboundconnector>).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundConnector {
    /// The connector's `Guid`.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `ConnectorType`: `Partner` or `OnPremises` (mail from an on-premises connector is
    /// treated as the organisation's own and may be relayed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_type: Option<String>,
    /// `SenderDomains`, lower-case (`smtp:*;1` style prefixes stripped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sender_domains: Vec<String>,
    /// `SenderIPAddresses`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sender_ip_addresses: Vec<String>,
    /// `RestrictDomainsToIPAddresses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_domains_to_ip_addresses: Option<bool>,
    /// `RequireTls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    /// `RestrictDomainsToCertificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_domains_to_certificate: Option<bool>,
    /// `TlsSenderCertificateName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_sender_certificate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<DateTime<Utc>>,
}

/// A right one principal holds on another's mailbox.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DelegateRight {
    /// `Get-MailboxPermission` FullAccess (open and read the whole mailbox), or
    /// ChangePermission/ChangeOwner (which let the holder grant himself FullAccess).
    FullAccess,
    /// `Get-RecipientPermission` SendAs: mail sent appears to come from the owner.
    SendAs,
    /// `GrantSendOnBehalfTo`: mail sent shows "on behalf of" the owner.
    SendOnBehalf,
}

impl DelegateRight {
    pub fn as_str(self) -> &'static str {
        match self {
            DelegateRight::FullAccess => "full_access",
            DelegateRight::SendAs => "send_as",
            DelegateRight::SendOnBehalf => "send_on_behalf",
        }
    }
}

/// A delegation on a mailbox: one trustee holding one right, explicitly granted (the
/// owner's own `NT AUTHORITY\SELF` entry, inherited and Deny entries are left out).
/// <https://learn.microsoft.com/powershell/module/exchange/get-mailboxpermission>,
/// <https://learn.microsoft.com/powershell/module/exchange/get-recipientpermission>,
/// <https://learn.microsoft.com/powershell/module/exchange/set-mailbox> (GrantSendOnBehalfTo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxDelegate {
    /// `<mailbox id>/<right>/<trustee>`, the trustee lower-case: unique in the snapshot.
    pub id: String,
    /// The mailbox (`mailboxes[].id`).
    pub mailbox_id: String,
    pub mailbox_upn: String,
    pub right: DelegateRight,
    /// The trustee as Exchange names it (`User`, `Trustee`, or a GrantSendOnBehalfTo entry);
    /// the fix actions pass it back to Exchange.
    pub trustee: String,
    /// Entra object id of the trustee (a mailbox owner or another recipient), when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustee_id: Option<String>,
    /// The trustee's UPN or delivery address, lower-case, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustee_address: Option<String>,
    /// The trustee's `RecipientTypeDetails` (`UserMailbox`, `GuestMailUser`, …), when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustee_type: Option<String>,
    /// `AccessRights` of a `full_access` entry (`FullAccess`, `ChangePermission`, …): what
    /// Remove-MailboxPermission must remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_rights: Vec<String>,
}

/// Enterprise applications and what they were granted. Microsoft Graph resource pages:
/// <https://learn.microsoft.com/graph/api/resources/serviceprincipal>,
/// <https://learn.microsoft.com/graph/api/resources/oauth2permissiongrant>,
/// <https://learn.microsoft.com/graph/api/resources/approleassignment>,
/// <https://learn.microsoft.com/graph/api/resources/authorizationpolicy>.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Apps {
    #[serde(default)]
    pub service_principals: Vec<ServicePrincipal>,
    /// Secrets and certificates of service principals and of the tenant's own app
    /// registrations: metadata only (key id, name, validity), never a secret value.
    #[serde(default)]
    pub credentials: Vec<AppCredential>,
    /// Delegated permission grants (`oAuth2PermissionGrant`).
    #[serde(default)]
    pub consent_grants: Vec<ConsentGrant>,
    /// Application permissions granted on Microsoft Graph, Exchange Online and SharePoint.
    #[serde(default)]
    pub app_role_assignments: Vec<AppRoleGrant>,
    /// The tenant's consent settings: one entry, id `authorizationPolicy`.
    #[serde(default)]
    pub consent_policies: Vec<ConsentPolicy>,
    /// App management policies (source `app_management_policies`): the tenant default and
    /// the custom ones; empty in snapshots from before the source existed.
    #[serde(default)]
    pub management_policies: Vec<AppManagementPolicy>,
}

/// A service principal: an application's instance in this tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePrincipal {
    /// Object id.
    pub id: String,
    /// The application (client) id.
    pub app_id: String,
    pub display_name: String,
    /// `Application`, `ManagedIdentity`, `Legacy`, `SocialIdp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_type: Option<String>,
    #[serde(default = "default_true")]
    pub account_enabled: bool,
    /// The tenant the application is registered in (Microsoft's own tenants for
    /// first-party apps, this tenant for its own apps, another tenant for multi-tenant
    /// apps of other publishers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_owner_organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_name: Option<String>,
    /// `verifiedPublisher.displayName`; `null` when the publisher is not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_audience: Option<String>,
    /// `createdDateTime` of the tenant's own app registration with this app id; `null`
    /// for apps registered elsewhere (a service principal has no creation time in v1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<DateTime<Utc>>,
    /// Object id of that app registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
}

/// Who holds a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialOwner {
    ServicePrincipal,
    Application,
}

/// A secret (`passwordCredential`) or certificate (`keyCredential`): metadata only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppCredential {
    /// `<owner object id>/<key id>`.
    pub id: String,
    pub owner_kind: CredentialOwner,
    /// Object id of the service principal or application.
    pub owner_id: String,
    pub app_id: String,
    pub owner_name: String,
    /// `password` (a client secret) or `certificate`.
    pub credential_type: String,
    pub key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
    /// `keyCredential.usage`: `Verify` (sign-in) or `Sign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// A delegated permission grant: the client app may call the resource API as the user
/// (`Principal`) or as any user (`AllPrincipals`, admin consent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentGrant {
    pub id: String,
    /// Object id of the client service principal.
    pub client_id: String,
    /// `AllPrincipals` or `Principal`.
    pub consent_type: String,
    /// The user the grant is for (`Principal` grants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Object id of the resource service principal (the API).
    pub resource_id: String,
    /// The delegated permissions (`scope`, split on spaces).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// An application permission (app role) granted to a principal on a resource API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRoleGrant {
    pub id: String,
    /// Object id of the resource service principal.
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The service principal (or user, group) holding the permission.
    pub principal_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_name: Option<String>,
    pub app_role_id: String,
    /// The permission's name (`Mail.ReadWrite`), from the resource's `appRoles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<DateTime<Utc>>,
}

/// Who may consent to apps (`authorizationPolicy`) and the admin consent workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentPolicy {
    /// `authorizationPolicy`.
    pub id: String,
    /// `defaultUserRolePermissions.permissionGrantPoliciesAssigned`: a
    /// `ManagePermissionGrantsForSelf.*` entry lets users consent themselves.
    #[serde(default)]
    pub permission_grant_policies_assigned: Vec<String>,
    /// `adminConsentRequestPolicy.isEnabled`; `null` when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_consent_workflow_enabled: Option<bool>,
}

/// An app management policy: what secrets and certificates apps may be given
/// (<https://learn.microsoft.com/graph/api/resources/tenantappmanagementpolicy>,
/// <https://learn.microsoft.com/graph/api/resources/appmanagementpolicy>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppManagementPolicy {
    /// The policy's id (the tenant default's is `00000000-0000-0000-0000-000000000000`).
    pub id: String,
    /// `tenant_default` (`/policies/defaultAppManagementPolicy`, applies to every app
    /// without a custom policy) or `custom` (`/policies/appManagementPolicies`).
    pub policy_kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `isEnabled`; `null` when the answer did not say.
    #[serde(default)]
    pub is_enabled: Option<bool>,
    /// The default's `applicationRestrictions` (the tenant's own app registrations), a
    /// custom policy's `restrictions`; `null` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_restrictions: Option<AppRestrictions>,
    /// The default's `servicePrincipalRestrictions` (apps provisioned from other tenants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_restrictions: Option<AppRestrictions>,
    /// A custom policy's `appliesTo`: object ids of the applications and service principals
    /// it governs instead of the default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_to: Vec<String>,
}

/// An `appManagementConfiguration`: restrictions on secrets (`passwordCredentials`) and
/// certificates (`keyCredentials`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRestrictions {
    #[serde(default)]
    pub password_credentials: Vec<CredentialRestriction>,
    #[serde(default)]
    pub key_credentials: Vec<CredentialRestriction>,
}

/// One restriction (`passwordCredentialConfiguration`, `keyCredentialConfiguration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRestriction {
    /// `passwordAddition`, `passwordLifetime`, `customPasswordAddition`,
    /// `symmetricKeyAddition`, `symmetricKeyLifetime`, `asymmetricKeyLifetime`, …
    pub restriction_type: String,
    /// `maxLifetime` as Graph gives it (ISO 8601 duration, `P365D`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lifetime: Option<String>,
    /// `maxLifetime` in whole days, rounded up (a year counts 365 days, a month 30);
    /// `null` when absent or not a duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lifetime_days: Option<u64>,
    /// `restrictForAppsCreatedAfterDateTime`: only apps created at or after it are held to
    /// the restriction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_for_apps_created_after: Option<DateTime<Utc>>,
    /// `state`: `enabled` or `disabled`; `null` in answers from before Graph had it (the
    /// restriction is then in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// One authentication method registered to a user
/// (<https://learn.microsoft.com/graph/api/authentication-list-methods>). Password methods
/// are not kept: every user has one and no rule judges it. Phone numbers are personal
/// data: they stay in the snapshot (the duplicate-number check needs them) and reports
/// show them masked (`lib.mask_phone`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthMethod {
    /// `{user id}/{method id}`: method ids are unique per user only (every user's mobile
    /// phone method has the same well-known id).
    pub id: String,
    pub user_id: String,
    pub user_principal_name: String,
    /// The method's id in Graph (the `{id}` of its per-type endpoint).
    pub method_id: String,
    /// `phone`, `microsoft_authenticator`, `fido2`, `temporary_access_pass`, `email`,
    /// `software_oath`, `windows_hello_for_business`, `platform_credential`, or Graph's
    /// type name for a type this version does not know.
    pub method_type: String,
    /// When it was registered; `null` for types without `createdDateTime` (phone, email).
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    /// Phone methods: the number as Graph shows it (`+31 612345678`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Phone methods: `mobile`, `alternateMobile`, `office`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<String>,
    /// Device, key model or display name where the type has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Email methods: the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
}

/// A domain of the tenant (<https://learn.microsoft.com/graph/api/domain-list>) with its
/// federation configuration when it is federated
/// (<https://learn.microsoft.com/graph/api/domain-list-federationconfiguration>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// The domain name, lower-case.
    pub id: String,
    pub is_verified: bool,
    /// `Managed` or `Federated`.
    pub authentication_type: String,
    /// Federated domains: the identity provider Entra trusts for sign-ins in this domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<DomainFederation>,
}

/// `internalDomainFederation`: who Entra trusts to sign users of a domain in. The signing
/// certificate itself is not kept, only its SHA-256 fingerprint and validity end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainFederation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `issuerUri`: the token issuer Entra accepts.
    #[serde(default)]
    pub issuer_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_sign_in_uri: Option<String>,
    /// `wsFed` or `saml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_authentication_protocol: Option<String>,
    /// `acceptIfMfaDoneByFederatedIdp`, `enforceMfaByFederatedIdp`,
    /// `rejectMfaByFederatedIdp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_idp_mfa_behavior: Option<String>,
    /// SHA-256 of the signing certificate (DER), upper-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate_sha256: Option<String>,
    /// The signing certificate's notAfter, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate_not_after: Option<DateTime<Utc>>,
}

/// One member of a privileged Exchange role group (`Get-RoleGroupMember`), with the group
/// it is in. Only the groups in [`PRIVILEGED_EXCHANGE_ROLE_GROUPS`] are collected.
/// <https://learn.microsoft.com/powershell/module/exchange/get-rolegroup>,
/// <https://learn.microsoft.com/powershell/module/exchange/get-rolegroupmember>.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRoleGroupMember {
    /// `<role group name>/<member>`, the member lower-case: unique in the snapshot.
    pub id: String,
    /// The role group's `Name` (`Organization Management`, …); the fix passes it back.
    pub role_group: String,
    /// The role group's `Guid`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_group_id: Option<String>,
    /// The member as Exchange names it (`Name`, else `Identity`); the fix passes it back
    /// as `-Member`.
    pub member: String,
    /// `ExternalDirectoryObjectId`: the Entra object id, when the member has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// `WindowsLiveID` or `PrimarySmtpAddress`, lower-case, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_address: Option<String>,
    /// `RecipientTypeDetails` (`UserMailbox`, `User`, `GuestMailUser`, `RoleGroup`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<String>,
}

/// The Exchange Online role groups whose members can take over mail or the organisation,
/// by the roles Microsoft assigns them
/// (<https://learn.microsoft.com/exchange/permissions-exo/permissions-exo#role-groups>):
/// Organization Management holds Role Management (grant itself anything); Recipient
/// Management holds Mail Recipients (mailbox permissions, forwarding); Discovery Management
/// holds Mailbox Search (search and export every mailbox); Compliance Management and
/// Records Management hold journaling and retention (copy or delete mail tenant-wide);
/// Hygiene Management holds Transport Hygiene (anti-spam and anti-malware policies,
/// allow lists); Security Administrator holds the same hygiene and security roles.
pub const PRIVILEGED_EXCHANGE_ROLE_GROUPS: [&str; 7] = [
    "Organization Management",
    "Recipient Management",
    "Discovery Management",
    "Compliance Management",
    "Records Management",
    "Hygiene Management",
    "Security Administrator",
];

/// A well-known mailbox folder whose permissions are read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MailFolderKind {
    /// The mailbox root (`<mailbox>:\`): a right here lets the holder see the folder tree.
    TopOfInformationStore,
    Inbox,
    Calendar,
}

impl MailFolderKind {
    pub const ALL: [MailFolderKind; 3] = [
        MailFolderKind::TopOfInformationStore,
        MailFolderKind::Inbox,
        MailFolderKind::Calendar,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailFolderKind::TopOfInformationStore => "top_of_information_store",
            MailFolderKind::Inbox => "inbox",
            MailFolderKind::Calendar => "calendar",
        }
    }

    pub fn parse(name: &str) -> Option<MailFolderKind> {
        MailFolderKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The right `Default` holds on a new mailbox's folder (`Anonymous` holds `None`
    /// everywhere): free/busy on the calendar, nothing on mail folders.
    /// <https://learn.microsoft.com/powershell/module/exchange/set-mailboxfolderpermission>
    pub fn default_right(self) -> &'static str {
        match self {
            MailFolderKind::Calendar => "AvailabilityOnly",
            _ => "None",
        }
    }
}

/// Who a folder permission entry is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FolderPrincipal {
    /// `Default`: every authenticated user of the organisation.
    Default,
    /// `Anonymous`: unauthenticated and external users.
    Anonymous,
    /// A named user or group.
    User,
}

/// One permission entry on a mailbox's top of information store, Inbox or Calendar
/// (`Get-MailboxFolderPermission`), kept when it is more than the folder's baseline
/// (`None`; `AvailabilityOnly` for `Default` on the calendar).
/// <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxFolderPermission {
    /// `<mailbox id>/<folder>/<user>`, the user lower-case: unique in the snapshot.
    pub id: String,
    pub mailbox_id: String,
    pub mailbox_upn: String,
    pub folder: MailFolderKind,
    /// The folder as the mailbox names it, after the `<mailbox>:` of an identity: `\` for
    /// the top of information store, else localised (`\Posteingang`, `\Kalender`).
    pub folder_path: String,
    pub principal: FolderPrincipal,
    /// The user as Exchange shows it (`Default`, `Anonymous`, a display name).
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustee_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustee_type: Option<String>,
    /// Roles (`Reviewer`, `Editor`, …) or single rights (`ReadItems`, …).
    pub access_rights: Vec<String>,
    /// Calendar delegate flags (`Delegate`, `CanViewPrivateItems`); `None` left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sharing_permission_flags: Vec<String>,
}

/// A management role assigned directly (not through a role group or a role assignment
/// policy): `Get-ManagementRoleAssignment`
/// (<https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment>).
/// Assignments to service principals are how RBAC for Applications grants an app mailbox
/// access (<https://learn.microsoft.com/exchange/permissions-exo/application-rbac>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRoleAssignment {
    /// The assignment's `Name` (unique in the organisation); the fix passes it back as
    /// `-Identity`.
    pub id: String,
    /// `Role`: the management role (`ApplicationImpersonation`, `Application Mail.Read`, …).
    pub role: String,
    /// `RoleAssigneeName`: the user, group or service principal as Exchange names it.
    pub assignee: String,
    /// `RoleAssigneeType`: `User`, `ServicePrincipal`, `SecurityGroup`, …
    pub assignee_type: String,
    /// `Guid` (or `ExchangeObjectId`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// `Enabled`: a disabled assignment grants nothing until it is enabled again.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `RecipientWriteScope` (`Organization`, `CustomRecipientScope`, `OU`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_write_scope: Option<String>,
    /// `CustomRecipientWriteScope`: a management scope's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_recipient_write_scope: Option<String>,
    /// `CustomResourceScope`: the scope an RBAC for Applications assignment reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_resource_scope: Option<String>,
    /// `RecipientOrganizationalUnitScope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_organizational_unit_scope: Option<String>,
    /// `RecipientAdministrativeUnitScope`: an Entra administrative unit's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_administrative_unit_scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<DateTime<Utc>>,
}

/// An Exchange application access policy: `Get-ApplicationAccessPolicy`
/// (<https://learn.microsoft.com/powershell/module/exchange/get-applicationaccesspolicy>).
/// Microsoft replaces these with RBAC for Applications
/// (<https://learn.microsoft.com/exchange/permissions-exo/application-rbac>); tenants
/// still have both, so both are collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationAccessPolicy {
    /// `Identity` (`<tenant>\<app id>:<scope sid>;<scope guid>`).
    pub id: String,
    /// `AppId`: the application (client) id the policy limits, lower-case.
    pub app_id: String,
    /// `AccessRight`: `RestrictAccess` (only the scope's mailboxes) or `DenyAccess`
    /// (every mailbox but the scope's).
    pub access_right: String,
    /// `ScopeName`: the mail-enabled security group (or mailbox) the policy names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_name: Option<String>,
    /// `ScopeIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `IsValid`: false when the scope group no longer exists (the policy then limits
    /// nothing the way it was meant to).
    #[serde(default = "default_true")]
    pub is_valid: bool,
}
