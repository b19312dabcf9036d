//! The emulated tenant's truth at API level: users, mailboxes with their rules and folders,
//! roles, policies. Handlers render Graph or Exchange shapes from these types and writes
//! mutate them, so a later read reflects an earlier write.
//!
//! `TenantState::from_snapshot` converts a m365guard snapshot (read as a `serde_json::Value`,
//! not through the m365guard crate) into this state, filling in what a snapshot does not
//! keep but the APIs show (folders, the built-in Junk E-Mail rule, a discovery mailbox,
//! Graph rule ids, Exchange RuleIdentity numbers).

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::util::{stable_guid, Prng};

/// Built-in role template ids (CONTRACT §7.2).
pub mod role_ids {
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str =
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
    pub const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    pub const EXCHANGE_RECIPIENT_ADMINISTRATOR: &str = "31392ffb-586c-42d1-9346-e59415a2cc4e";
    pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
    pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
    pub const COMPLIANCE_ADMINISTRATOR: &str = "17315797-102d-40b4-93e0-432062caca18";
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
    /// Pseudo-role every app token carries in `wids`.
    pub const DEFAULT_APP_PERMISSIONS: &str = "0997a1d0-0d1d-4acb-b408-d5ca73121e90";

    /// Display name ↔ template id for the roles a scenario may grant by name.
    pub const NAMED: [(&str, &str); 11] = [
        ("Global Administrator", GLOBAL_ADMINISTRATOR),
        (
            "Privileged Role Administrator",
            PRIVILEGED_ROLE_ADMINISTRATOR,
        ),
        (
            "Privileged Authentication Administrator",
            PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        ),
        ("Security Administrator", SECURITY_ADMINISTRATOR),
        ("Exchange Administrator", EXCHANGE_ADMINISTRATOR),
        (
            "Exchange Recipient Administrator",
            EXCHANGE_RECIPIENT_ADMINISTRATOR,
        ),
        ("User Administrator", USER_ADMINISTRATOR),
        ("Helpdesk Administrator", HELPDESK_ADMINISTRATOR),
        ("Compliance Administrator", COMPLIANCE_ADMINISTRATOR),
        ("Global Reader", GLOBAL_READER),
        ("Security Reader", SECURITY_READER),
    ];

    /// A role name or template id → template id.
    pub fn resolve(name_or_id: &str) -> Option<&'static str> {
        NAMED
            .iter()
            .find(|(n, id)| {
                n.eq_ignore_ascii_case(name_or_id) || id.eq_ignore_ascii_case(name_or_id)
            })
            .map(|(_, id)| *id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub name: String,
    pub is_verified: bool,
    pub is_default: bool,
    pub is_initial: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MfaRegistration {
    pub is_mfa_registered: bool,
    pub is_mfa_capable: bool,
    pub is_admin: bool,
    pub methods: Vec<String>,
    pub default_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub account_enabled: bool,
    /// `Member` or `Guest` (Graph's casing on /users).
    pub user_type: String,
    pub mail: Option<String>,
    /// Last interactive sign-in (ISO 8601); `None` = never signed in (signInActivity omitted).
    pub last_sign_in: Option<String>,
    pub last_non_interactive_sign_in: Option<String>,
    /// `None`: not in the registration report beyond "not registered".
    pub mfa: Option<MfaRegistration>,
    /// `disabled` | `enabled` | `enforced`.
    pub per_user_mfa_state: String,
    pub on_premises_sync_enabled: bool,
    pub assigned_sku_ids: Vec<String>,
    /// Times revokeSignInSessions was called.
    pub sessions_revoked: u32,
    /// Set by a password reset (the password itself is never stored).
    pub password_reset: bool,
    /// `signInSessionsValidFromDateTime`: moved to "now" by revokeSignInSessions.
    pub sessions_valid_from: Option<String>,
    /// `lastPasswordChangeDateTime`: moved to "now" by a password reset.
    pub password_changed_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MailFolder {
    pub id: String,
    pub display_name: String,
    /// Graph well-known name (`inbox`, `rssfeeds`, …) when it is a default folder.
    pub well_known_name: Option<String>,
    pub parent_folder_id: String,
    pub is_hidden: bool,
    pub total_item_count: u64,
    pub unread_item_count: u64,
}

/// A recipient as both APIs show it: Graph `{emailAddress:{name,address}}`, Exchange
/// `"Name" [SMTP:addr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboxRule {
    /// Graph messageRule id (short base64).
    pub graph_id: String,
    /// Exchange RuleIdentity (uint64).
    pub rule_identity: u64,
    pub name: String,
    pub enabled: bool,
    pub priority: i64,
    /// Only Exchange `-IncludeHidden` shows it (built-in junk rule, OOF templates, rules
    /// hidden by an attacker via MAPI).
    pub hidden: bool,
    pub in_error: bool,
    pub forward_to: Vec<Recipient>,
    pub redirect_to: Vec<Recipient>,
    pub forward_as_attachment_to: Vec<Recipient>,
    /// Folder id within the mailbox.
    pub move_to_folder: Option<String>,
    pub copy_to_folder: Option<String>,
    pub delete: bool,
    pub permanent_delete: bool,
    pub mark_as_read: bool,
    pub stop_processing_rules: bool,
    pub subject_contains: Vec<String>,
    pub body_contains: Vec<String>,
    pub subject_or_body_contains: Vec<String>,
    pub from_addresses: Vec<Recipient>,
    pub sender_contains: Vec<String>,
    pub header_contains: Vec<String>,
    pub recipient_contains: Vec<String>,
    /// `exceptions.hasAttachments` in the Graph fixture; kept as a condition flag.
    pub has_attachments: bool,
}

impl InboxRule {
    pub fn new(name: &str, graph_id: String, rule_identity: u64) -> InboxRule {
        InboxRule {
            graph_id,
            rule_identity,
            name: name.to_owned(),
            enabled: true,
            priority: 1,
            hidden: false,
            in_error: false,
            forward_to: vec![],
            redirect_to: vec![],
            forward_as_attachment_to: vec![],
            move_to_folder: None,
            copy_to_folder: None,
            delete: false,
            permanent_delete: false,
            mark_as_read: false,
            stop_processing_rules: false,
            subject_contains: vec![],
            body_contains: vec![],
            subject_or_body_contains: vec![],
            from_addresses: vec![],
            sender_contains: vec![],
            header_contains: vec![],
            recipient_contains: vec![],
            has_attachments: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mailbox {
    /// Entra user id, or `""` for system mailboxes (`ExternalDirectoryObjectId`).
    pub external_directory_object_id: String,
    pub exchange_object_id: String,
    pub guid: String,
    pub user_principal_name: String,
    pub primary_smtp_address: String,
    pub alias: String,
    pub display_name: String,
    pub recipient_type_details: String,
    /// Stored without the `smtp:` prefix; rendered with it.
    pub forwarding_smtp_address: Option<String>,
    pub forwarding_address: Option<String>,
    pub deliver_to_mailbox_and_forward: bool,
    pub account_disabled: bool,
    pub rules: Vec<InboxRule>,
    pub folders: Vec<MailFolder>,
}

impl Mailbox {
    pub fn folder(&self, id_or_well_known: &str) -> Option<&MailFolder> {
        self.folders.iter().find(|f| {
            f.id == id_or_well_known
                || f.well_known_name
                    .as_deref()
                    .is_some_and(|w| w.eq_ignore_ascii_case(id_or_well_known))
        })
    }

    /// `LegacyExchangeDN`: how inbox rules (`[EX:…]`) name this mailbox.
    pub fn legacy_exchange_dn(&self) -> String {
        legacy_dn(&self.guid, &self.alias)
    }

    /// Does an Exchange `Identity`/`Mailbox` parameter name this mailbox?
    pub fn matches_identity(&self, identity: &str) -> bool {
        let i = identity.trim();
        [
            &self.user_principal_name,
            &self.primary_smtp_address,
            &self.alias,
            &self.guid,
            &self.exchange_object_id,
            &self.display_name,
        ]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(i))
            || (!self.external_directory_object_id.is_empty()
                && self.external_directory_object_id.eq_ignore_ascii_case(i))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleDefinition {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub template_id: String,
    pub is_built_in: bool,
    pub is_privileged: bool,
}

/// `#microsoft.graph.user` | `group` | `servicePrincipal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Group,
    ServicePrincipal,
}

/// A non-user principal that can hold a role (groups, service principals).
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    pub display_name: String,
    pub member_ids: Vec<String>,
    pub app_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub directory_scope_id: String,
    pub start_date_time: Option<String>,
    pub end_date_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboundSpamPolicy {
    pub name: String,
    pub is_default: bool,
    pub enabled: bool,
    pub auto_forwarding_mode: String,
    pub action_when_threshold_reached: String,
    pub recipient_limit_external_per_hour: u32,
    pub recipient_limit_internal_per_hour: u32,
    pub recipient_limit_per_day: u32,
    pub notify_outbound_spam_recipients: Vec<String>,
    pub guid: String,
    pub when_changed: String,
}

/// `Get-RemoteDomain` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteDomain {
    pub name: String,
    pub domain_name: String,
    pub auto_forward_enabled: bool,
    pub auto_reply_enabled: bool,
    pub is_internal: bool,
    pub when_changed: String,
}

impl RemoteDomain {
    /// Exchange Online's `Default` (`*`) entry as a new tenant has it: auto-forwarding
    /// allowed (CISA SCuBA MS.EXO.1.1 exists to turn it off).
    pub fn default_entry() -> RemoteDomain {
        RemoteDomain {
            name: "Default".into(),
            domain_name: "*".into(),
            auto_forward_enabled: true,
            auto_reply_enabled: true,
            is_internal: false,
            when_changed: "2025-06-01T09:00:00.0000000Z".into(),
        }
    }
}

/// A mail-enabled recipient that is not a mailbox (`Get-Recipient`): a mail contact, mail
/// user or group. Mail to a contact or mail user goes to its `external_email_address`.
#[derive(Debug, Clone, PartialEq)]
pub struct MailRecipient {
    /// `ExternalDirectoryObjectId` (the snapshot's id).
    pub id: String,
    pub guid: String,
    pub name: String,
    pub alias: String,
    pub display_name: String,
    /// `MailContact`, `MailUser`, `GuestMailUser`, `MailUniversalDistributionGroup`, …
    pub recipient_type_details: String,
    pub primary_smtp_address: String,
    pub external_email_address: Option<String>,
    pub legacy_exchange_dn: String,
}

impl MailRecipient {
    /// Where Exchange delivers mail sent to the recipient.
    pub fn delivers_to(&self) -> &str {
        self.external_email_address
            .as_deref()
            .unwrap_or(&self.primary_smtp_address)
    }

    /// Does a `Get-Recipient -Identity` / `Set-Mailbox -ForwardingAddress` value name it?
    /// (Name, alias, display name, email address, GUID, directory id, legacy DN.)
    pub fn matches_identity(&self, identity: &str) -> bool {
        let i = identity.trim();
        let i = i
            .strip_prefix("smtp:")
            .or_else(|| i.strip_prefix("SMTP:"))
            .unwrap_or(i);
        [
            &self.name,
            &self.alias,
            &self.display_name,
            &self.primary_smtp_address,
            &self.guid,
            &self.id,
            &self.legacy_exchange_dn,
        ]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(i))
            || self
                .external_email_address
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(i))
    }
}

/// A legacy DN as Exchange Online gives its recipients.
pub fn legacy_dn(guid: &str, alias: &str) -> String {
    format!(
        "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}-{alias}",
        guid.replace('-', "").get(..32).unwrap_or_default()
    )
}

/// A transport rule or connector (`exchange::exo_mailflow` renders it): its GUID and name,
/// the switch the write cmdlets flip (`State Enabled/Disabled` for rules, `Enabled` for
/// connectors), and the snapshot object for everything else (snake_case fields).
#[derive(Debug, Clone, PartialEq)]
pub struct MailFlowObject {
    pub guid: String,
    pub name: String,
    pub enabled: bool,
    pub fields: Value,
    pub when_changed: String,
}

/// The snapshot's `transport_rules` / `*_connectors` array (`state` "Disabled" or
/// `enabled: false` turn the object off).
fn mail_flow_objects(v: Option<&Value>) -> Vec<MailFlowObject> {
    array_of(v)
        .into_iter()
        .filter_map(|o| {
            Some(MailFlowObject {
                guid: s(&o, "id")?,
                name: s(&o, "name")?,
                enabled: s(&o, "state").is_none_or(|st| !st.eq_ignore_ascii_case("disabled"))
                    && o.get("enabled").and_then(Value::as_bool) != Some(false),
                when_changed: s(&o, "when_changed")
                    .map(|t| dotnet_date(&t))
                    .unwrap_or_else(|| "2025-06-01T09:00:00.0000000Z".into()),
                fields: o,
            })
        })
        .collect()
}

/// A delegation on a mailbox (`crate::exo_delegation` serves and changes them): a
/// `Get-MailboxPermission` entry (`full_access`), a `Get-RecipientPermission` SendAs entry
/// (`send_as`) or a `GrantSendOnBehalfTo` value (`send_on_behalf`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delegation {
    /// The mailbox's `guid`.
    pub mailbox_guid: String,
    /// `full_access`, `send_as` or `send_on_behalf` (the snapshot's `right`).
    pub right: String,
    /// The trustee as Exchange shows it: a UPN in permissions, a recipient's Name in
    /// GrantSendOnBehalfTo.
    pub trustee: String,
    /// `full_access` only: FullAccess, ChangePermission, …
    pub access_rights: Vec<String>,
}

/// An Exchange role group (`crate::exchange`'s `exo_rolegroups` serves and changes them).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleGroup {
    pub name: String,
    pub guid: String,
    /// `ManagedBy`: who may change the membership without -BypassSecurityGroupManagerCheck.
    pub managed_by: Vec<String>,
    pub members: Vec<RoleGroupMember>,
}

/// A role group member as `Get-RoleGroupMember` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleGroupMember {
    pub name: String,
    pub external_directory_object_id: String,
    /// `WindowsLiveID` (the UPN), empty for a role group member.
    pub windows_live_id: String,
    pub primary_smtp_address: String,
    pub recipient_type_details: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockedSender {
    pub sender_address: String,
    pub reason: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RiskyUser {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub risk_level: String,
    pub risk_state: String,
    pub risk_detail: String,
    pub risk_last_updated: String,
}

/// The whole tenant. Public fields: tests read and mutate it through `Emulator::state()`.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantState {
    pub tenant_id: String,
    pub display_name: String,
    pub domains: Vec<Domain>,
    pub users: Vec<User>,
    pub mailboxes: Vec<Mailbox>,
    pub role_definitions: Vec<RoleDefinition>,
    pub role_assignments: Vec<RoleAssignment>,
    pub role_eligibilities: Vec<RoleAssignment>,
    pub principals: Vec<Principal>,
    pub security_defaults_enabled: bool,
    /// Graph-shaped conditionalAccessPolicy objects (without `@odata.context`).
    pub ca_policies: Vec<Value>,
    pub outbound_spam_policies: Vec<OutboundSpamPolicy>,
    pub blocked_senders: Vec<BlockedSender>,
    pub risky_users: Vec<RiskyUser>,
    /// `Get-RemoteDomain`: the snapshot's `remote_domains`, or the `Default` entry alone.
    pub remote_domains: Vec<RemoteDomain>,
    /// `Get-TransportRule`: the snapshot's `transport_rules`.
    pub transport_rules: Vec<MailFlowObject>,
    /// `Get-OutboundConnector` / `Get-InboundConnector`: the snapshot's connectors.
    pub outbound_connectors: Vec<MailFlowObject>,
    pub inbound_connectors: Vec<MailFlowObject>,
    /// Graph-shaped namedLocation objects (`ipNamedLocation` / `countryNamedLocation`).
    pub named_locations: Vec<Value>,
    /// `Get-Recipient` objects that are not mailboxes: the snapshot's `recipients`.
    pub recipients: Vec<MailRecipient>,
    /// Client access per mailbox, SMTP AUTH and audit settings (`exo_protocols`).
    pub protocols: crate::exo_protocols::ProtocolState,
    /// Mailbox delegations: the snapshot's `mailbox_delegates`.
    pub delegations: Vec<Delegation>,
    /// Folder permissions and folder languages (`crate::exo_folders`).
    pub folders: crate::exo_folders::FolderState,
    /// Exchange role groups: the privileged built-ins (members from the snapshot's
    /// `exchange_role_groups`) and View-Only Organization Management.
    pub role_groups: Vec<RoleGroup>,
    /// Management role assignments and application access policies (`exo_rbac`).
    pub exo_rbac: crate::exchange::ExoRbac,
    /// Service principals, app registrations, consent grants, app role assignments and the
    /// consent policies (`crate::apps`).
    pub apps: crate::apps::AppsState,
    /// App management policies: the snapshot's `apps.management_policies` and the licence
    /// answer (`crate::app_policies`).
    pub app_policies: crate::app_policies::AppPoliciesState,
    /// Registered authentication methods (the snapshot's `auth_methods`).
    pub auth_methods: Vec<crate::auth_methods::AuthMethodState>,
    /// Federation configurations of federated domains (the snapshot's `domains`).
    pub federations: Vec<crate::auth_methods::FederationState>,
    /// `/auditLogs/signIns` and `/auditLogs/directoryAudits` (Graph-shaped): the story of
    /// `audit_logs`.
    pub sign_in_log: Vec<Value>,
    pub directory_audit_log: Vec<Value>,
    /// The unified audit log (auditLogRecord-shaped) and the audit log queries created:
    /// `audit_query`.
    pub unified_audit_log: Vec<Value>,
    pub audit_queries: Vec<crate::audit_query::AuditQuery>,
    /// Message trace rows (`exo_message_trace`).
    pub message_trace: Vec<Value>,
}

impl TenantState {
    /// Add the tenant-wide part of the contoso story (`audit_logs::activity_story`,
    /// `audit_query::activity_story`): the consent, the phone registration, the FullAccess
    /// grant and the forwarding, all from the attacker's address.
    pub fn add_activity_story(&mut self) {
        let audits = crate::audit_logs::activity_story(&self.users);
        let records = crate::audit_query::activity_story(&self.users);
        self.directory_audit_log.extend(audits);
        self.unified_audit_log.extend(records);
    }

    /// The recipient object a `ForwardingAddress`/`-Identity` value names: a mailbox
    /// (rendered by its Name, the alias here) or another recipient (by its Name).
    pub fn recipient_name(&self, identity: &str) -> Option<String> {
        if let Some(m) = self.find_mailbox(identity) {
            return Some(m.alias.clone());
        }
        self.recipients
            .iter()
            .find(|r| r.matches_identity(identity))
            .map(|r| r.name.clone())
    }

    pub fn user(&self, id_or_upn: &str) -> Option<&User> {
        self.users.iter().find(|u| {
            u.id.eq_ignore_ascii_case(id_or_upn)
                || u.user_principal_name.eq_ignore_ascii_case(id_or_upn)
        })
    }

    pub fn user_mut(&mut self, id_or_upn: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| {
            u.id.eq_ignore_ascii_case(id_or_upn)
                || u.user_principal_name.eq_ignore_ascii_case(id_or_upn)
        })
    }

    /// The mailbox of a Graph user (by user id or UPN).
    pub fn mailbox_of_user(&self, user_id: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| {
            !m.external_directory_object_id.is_empty() && m.external_directory_object_id == user_id
        })
    }

    pub fn mailbox_of_user_mut(&mut self, user_id: &str) -> Option<&mut Mailbox> {
        self.mailboxes.iter_mut().find(|m| {
            !m.external_directory_object_id.is_empty() && m.external_directory_object_id == user_id
        })
    }

    pub fn find_mailbox(&self, identity: &str) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.matches_identity(identity))
    }

    pub fn find_mailbox_mut(&mut self, identity: &str) -> Option<&mut Mailbox> {
        self.mailboxes
            .iter_mut()
            .find(|m| m.matches_identity(identity))
    }

    pub fn initial_domain(&self) -> String {
        self.domains
            .iter()
            .find(|d| d.is_initial)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| "contoso.onmicrosoft.com".into())
    }

    /// Active-role holders (users directly or through a role-assignable group).
    pub fn admin_user_ids(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.role_assignments {
            if self.users.iter().any(|u| u.id == a.principal_id) {
                out.push(a.principal_id.clone());
            } else if let Some(p) = self.principals.iter().find(|p| p.id == a.principal_id) {
                out.extend(p.member_ids.iter().cloned());
            }
        }
        out
    }

    /// Does this user hold a privileged role (directly or via a group)?
    pub fn user_holds_privileged_role(&self, user_id: &str) -> bool {
        self.role_assignments.iter().any(|a| {
            let privileged = self
                .role_definitions
                .iter()
                .any(|d| d.id == a.role_definition_id && d.is_privileged);
            privileged
                && (a.principal_id == user_id
                    || self.principals.iter().any(|p| {
                        p.id == a.principal_id && p.member_ids.iter().any(|m| m == user_id)
                    }))
        })
    }
}

/// Default folders of a mailbox: (well-known name, display name, hidden).
const DEFAULT_FOLDERS: [(&str, &str, bool); 12] = [
    ("inbox", "Inbox", false),
    ("drafts", "Drafts", false),
    ("sentitems", "Sent Items", false),
    ("deleteditems", "Deleted Items", false),
    ("junkemail", "Junk Email", false),
    ("archive", "Archive", false),
    ("outbox", "Outbox", false),
    ("conversationhistory", "Conversation History", false),
    ("rssfeeds", "RSS Feeds", false),
    ("notes", "Notes", false),
    ("syncissues", "Sync Issues", true),
    ("scheduled", "Scheduled", true),
];

/// Exchange-style folder id (`AAMk…`), stable per mailbox and folder.
pub fn folder_id(mailbox_key: &str, folder: &str) -> String {
    let g = stable_guid(&format!("{mailbox_key}/{folder}")).replace('-', "");
    format!(
        "AAMkAD{}AAEAAAA=",
        crate::util::b64_std(g.as_bytes()).trim_end_matches('=')
    )
}

pub fn default_folders(mailbox_key: &str) -> Vec<MailFolder> {
    let root = folder_id(mailbox_key, "msgfolderroot");
    let mut p = Prng::new(mailbox_key.len() as u64 ^ 0x5eed);
    let mut out = vec![MailFolder {
        id: root.clone(),
        display_name: "Top of Information Store".into(),
        well_known_name: Some("msgfolderroot".into()),
        parent_folder_id: folder_id(mailbox_key, "root"),
        is_hidden: false,
        total_item_count: 0,
        unread_item_count: 0,
    }];
    for (wk, name, hidden) in DEFAULT_FOLDERS {
        let total = p.below(400);
        out.push(MailFolder {
            id: folder_id(mailbox_key, wk),
            display_name: name.into(),
            well_known_name: Some(wk.into()),
            parent_folder_id: root.clone(),
            is_hidden: hidden,
            total_item_count: total,
            unread_item_count: total / 3,
        });
    }
    out
}

/// Short base64 Graph rule id like `AQAAAFr3kQ8=`.
pub fn graph_rule_id(n: u64) -> String {
    let mut bytes = vec![1u8, 0, 0, 0];
    bytes.extend_from_slice(&(n as u32).to_be_bytes());
    crate::util::b64_std(&bytes)
}

/// Exchange RuleIdentity: a large uint64 like `4727603405627269121` (above 2^53 on purpose:
/// a client parsing it as a double loses digits).
pub fn rule_identity(seq: u64) -> u64 {
    4_727_603_405_627_269_120 + seq
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn b(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn recipients(v: &Value, key: &str) -> Vec<Recipient> {
    strs(v, key)
        .into_iter()
        .map(|a| Recipient {
            name: a.clone(),
            address: a,
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Roles a collector marks tier-0 when the snapshot does not say.
fn privileged_template(id: &str) -> bool {
    [
        role_ids::GLOBAL_ADMINISTRATOR,
        role_ids::PRIVILEGED_ROLE_ADMINISTRATOR,
        role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        role_ids::SECURITY_ADMINISTRATOR,
        role_ids::EXCHANGE_ADMINISTRATOR,
        role_ids::USER_ADMINISTRATOR,
    ]
    .contains(&id)
}

/// Builds a conditionalAccessPolicy in Graph's full shape (as the list and create return).
#[allow(clippy::too_many_arguments)] // one argument per policy section
pub fn ca_policy_graph(
    id: &str,
    display_name: &str,
    state: &str,
    conditions_users: Value,
    include_applications: Vec<String>,
    exclude_applications: Vec<String>,
    client_app_types: Vec<String>,
    grant: Option<(String, Vec<String>, Option<String>)>,
    created: &str,
) -> Value {
    let mut users = json!({
        "includeUsers": [], "excludeUsers": [], "includeGroups": [], "excludeGroups": [],
        "includeRoles": [], "excludeRoles": [],
        "includeGuestsOrExternalUsers": null, "excludeGuestsOrExternalUsers": null
    });
    if let (Some(u), Some(given)) = (users.as_object_mut(), conditions_users.as_object()) {
        for (k, v) in given {
            u.insert(k.clone(), v.clone());
        }
    }
    let grant_controls = match grant {
        Some((op, controls, strength)) => json!({
            "operator": op,
            "builtInControls": controls,
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies('{id}')/grantControls/authenticationStrength/$entity"),
            "authenticationStrength": strength.map(|name| json!({
                "id": stable_guid(&name),
                "displayName": name,
                "policyType": "builtIn",
                "requirementsSatisfied": "mfa",
                "allowedCombinations": ["fido2", "windowsHelloForBusiness"]
            })),
        }),
        None => Value::Null,
    };
    json!({
        "id": id,
        "templateId": null,
        "displayName": display_name,
        "createdDateTime": created,
        "modifiedDateTime": null,
        "state": state,
        "sessionControls": null,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": client_app_types,
            "servicePrincipalRiskLevels": [],
            "insiderRiskLevels": null,
            "platforms": null,
            "locations": null,
            "devices": null,
            "clientApplications": null,
            "authenticationFlows": null,
            "applications": {
                "includeApplications": include_applications,
                "excludeApplications": exclude_applications,
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
                "applicationFilter": null
            },
            "users": users
        },
        "grantControls": grant_controls
    })
}

impl TenantState {
    /// Converts a m365guard snapshot (schema v1) into API state. Unknown fields are ignored;
    /// missing optional data gets the defaults a real tenant would show.
    pub fn from_snapshot(
        snap: &Value,
        extra_unverified_domains: &[String],
    ) -> Result<TenantState, String> {
        let tenant = snap.get("tenant").ok_or("snapshot has no `tenant`")?;
        let tenant_id = s(tenant, "id").ok_or("snapshot tenant has no `id`")?;
        let verified = strs(tenant, "verified_domains");
        let default_domain = s(tenant, "default_domain")
            .or_else(|| {
                verified
                    .iter()
                    .find(|d| !d.ends_with(".onmicrosoft.com"))
                    .cloned()
            })
            .or_else(|| verified.first().cloned())
            .unwrap_or_else(|| "contoso.com".into());
        let mut domains: Vec<Domain> = verified
            .iter()
            .map(|d| Domain {
                name: d.clone(),
                is_verified: true,
                is_default: *d == default_domain,
                is_initial: d.ends_with(".onmicrosoft.com"),
            })
            .collect();
        if !domains.iter().any(|d| d.is_initial) {
            let base = default_domain.split('.').next().unwrap_or("contoso");
            domains.push(Domain {
                name: format!("{base}.onmicrosoft.com"),
                is_verified: true,
                is_default: false,
                is_initial: true,
            });
        }
        for d in extra_unverified_domains {
            domains.push(Domain {
                name: d.clone(),
                is_verified: false,
                is_default: false,
                is_initial: false,
            });
        }
        let federations = crate::auth_methods::federations_from_snapshot(snap);
        for f in &federations {
            if !domains.iter().any(|d| d.name == f.domain) {
                domains.push(Domain {
                    name: f.domain.clone(),
                    is_verified: true,
                    is_default: false,
                    is_initial: false,
                });
            }
        }
        let display_name = s(tenant, "display_name").unwrap_or_else(|| "Contoso".into());
        let empty = vec![];
        let arr = |v: Option<&Value>| -> Vec<Value> {
            v.and_then(Value::as_array).cloned().unwrap_or_default()
        };

        // Lookups go through hash indexes: a generated tenant has 10^4–10^5 users, mailboxes
        // and rules, and a linear search per item would make the conversion quadratic.
        let snap_mailboxes = arr(snap.get("mailboxes"));
        let mailbox_user_ids: HashSet<String> =
            snap_mailboxes.iter().filter_map(|m| s(m, "id")).collect();
        let mut users = Vec::new();
        for u in arr(snap.get("users")) {
            let id = s(&u, "id").ok_or("user without id")?;
            let upn = s(&u, "user_principal_name").unwrap_or_default();
            let guest = s(&u, "user_type").as_deref() == Some("guest");
            let mfa = u
                .get("mfa")
                .filter(|m| m.is_object())
                .map(|m| MfaRegistration {
                    is_mfa_registered: b(m, "is_mfa_registered"),
                    is_mfa_capable: b(m, "is_mfa_capable"),
                    is_admin: b(m, "is_admin"),
                    methods: strs(m, "methods"),
                    default_method: s(m, "default_method"),
                });
            let has_mailbox = mailbox_user_ids.contains(&id);
            users.push(User {
                display_name: s(&u, "display_name").unwrap_or_else(|| upn.clone()),
                mail: (!guest && has_mailbox).then(|| upn.clone()),
                user_type: if guest {
                    "Guest".into()
                } else {
                    "Member".into()
                },
                account_enabled: u
                    .get("account_enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                last_sign_in: s(&u, "last_sign_in"),
                last_non_interactive_sign_in: None,
                mfa,
                per_user_mfa_state: s(&u, "per_user_mfa_state")
                    .unwrap_or_else(|| "disabled".into()),
                on_premises_sync_enabled: b(&u, "on_premises_sync_enabled"),
                assigned_sku_ids: if guest || !has_mailbox {
                    vec![]
                } else {
                    vec!["aaaaaaaa-0000-4000-8000-0000000000e3".into()]
                },
                sessions_revoked: 0,
                password_reset: false,
                sessions_valid_from: None,
                password_changed_at: None,
                id,
                user_principal_name: upn,
            });
        }
        let user_index: HashMap<String, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.clone(), i))
            .collect();

        let mut rule_seq = 0u64;
        let mut mailboxes = Vec::new();
        for m in &snap_mailboxes {
            let id = s(m, "id").unwrap_or_default();
            let upn = s(m, "user_principal_name").unwrap_or_default();
            let alias = upn.split('@').next().unwrap_or("").to_owned();
            let user = user_index.get(&id).map(|&i| &users[i]);
            let display = user
                .map(|u| u.display_name.clone())
                .unwrap_or_else(|| alias.clone());
            let fwd = s(m, "forwarding_smtp_address").map(|a| {
                a.strip_prefix("smtp:")
                    .or_else(|| a.strip_prefix("SMTP:"))
                    .unwrap_or(&a)
                    .to_owned()
            });
            let rtd = s(m, "recipient_type_details").unwrap_or_else(|| "UserMailbox".into());
            mailboxes.push(Mailbox {
                // Shared mailboxes have a (disabled) Entra user too, so Exchange reports
                // their directory id; the snapshot's mailbox id is that id.
                external_directory_object_id: if user.is_some() || crate::util::is_guid(&id) {
                    id.clone()
                } else {
                    String::new()
                },
                exchange_object_id: stable_guid(&format!("exo/{upn}")),
                guid: stable_guid(&format!("guid/{upn}")),
                primary_smtp_address: s(m, "primary_smtp_address").unwrap_or_else(|| upn.clone()),
                display_name: display,
                account_disabled: rtd != "UserMailbox" || user.is_some_and(|u| !u.account_enabled),
                recipient_type_details: rtd,
                forwarding_smtp_address: fwd,
                forwarding_address: s(m, "forwarding_address"),
                deliver_to_mailbox_and_forward: b(m, "deliver_to_mailbox_and_forward"),
                rules: vec![],
                folders: default_folders(&upn),
                alias,
                user_principal_name: upn,
            });
        }
        let mut mailbox_by_id: HashMap<String, usize> = HashMap::new();
        let mut mailbox_by_upn: HashMap<String, usize> = HashMap::new();
        for (i, m) in mailboxes.iter().enumerate() {
            if !m.external_directory_object_id.is_empty() {
                mailbox_by_id
                    .entry(m.external_directory_object_id.clone())
                    .or_insert(i);
            }
            mailbox_by_upn
                .entry(m.user_principal_name.to_lowercase())
                .or_insert(i);
        }

        // Inbox rules: the snapshot may hold the same rule twice, a Graph and an Exchange
        // copy (same mailbox, same name); they become one rule with both ids. Two rules of
        // one source with the same name stay two rules (users do name rules alike).
        // Per mailbox and rule (in push order): the snapshot source it came from, and
        // whether a copy from the other source was merged into it already.
        let mut origins: Vec<Vec<(String, bool)>> = vec![Vec::new(); mailboxes.len()];
        for r in arr(snap.get("inbox_rules")) {
            let mailbox_id = s(&r, "mailbox_id").unwrap_or_default();
            let upn = s(&r, "mailbox_upn").unwrap_or_default().to_lowercase();
            let Some(&mi) = mailbox_by_id
                .get(&mailbox_id)
                .or_else(|| mailbox_by_upn.get(&upn))
            else {
                continue;
            };
            let mbx = &mut mailboxes[mi];
            let name = s(&r, "name").unwrap_or_default();
            let source = s(&r, "source").unwrap_or_default();
            let rule_id = s(&r, "rule_id").unwrap_or_default();
            let copy = mbx
                .rules
                .iter()
                .zip(origins[mi].iter())
                .position(|(x, (from, paired))| x.name == name && *from != source && !paired);
            if let Some(k) = copy {
                origins[mi][k].1 = true;
                let existing = &mut mbx.rules[k];
                if source == "exchange" {
                    if let Ok(n) = rule_id.parse() {
                        existing.rule_identity = n;
                    }
                    existing.hidden |= b(&r, "hidden");
                } else if !rule_id.is_empty() {
                    existing.graph_id = rule_id;
                }
                continue;
            }
            rule_seq += 1;
            let mut rule = InboxRule::new(
                &name,
                graph_rule_id(0x5af7_9100 + rule_seq as u32 as u64),
                rule_identity(rule_seq),
            );
            if source == "exchange" {
                if let Ok(n) = rule_id.parse() {
                    rule.rule_identity = n;
                }
            } else if !rule_id.is_empty() {
                rule.graph_id = rule_id;
            }
            rule.enabled = r.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            rule.priority = r.get("priority").and_then(Value::as_i64).unwrap_or(1);
            rule.hidden = b(&r, "hidden");
            rule.in_error = b(&r, "in_error");
            let a = r.get("actions").cloned().unwrap_or(json!({}));
            rule.forward_to = recipients(&a, "forward_to");
            rule.redirect_to = recipients(&a, "redirect_to");
            rule.forward_as_attachment_to = recipients(&a, "forward_as_attachment_to");
            rule.delete = b(&a, "delete");
            rule.permanent_delete = b(&a, "permanent_delete");
            rule.mark_as_read = b(&a, "mark_as_read");
            rule.stop_processing_rules = b(&a, "stop_processing_rules");
            for (key, slot) in [("move_to_folder", 0), ("copy_to_folder", 1)] {
                if let Some(f) = a.get(key).filter(|f| f.is_object()) {
                    let fid = resolve_folder(mbx, f);
                    if slot == 0 {
                        rule.move_to_folder = Some(fid);
                    } else {
                        rule.copy_to_folder = Some(fid);
                    }
                }
            }
            let c = r.get("conditions").cloned().unwrap_or(json!({}));
            rule.subject_contains = strs(&c, "subject_contains");
            rule.body_contains = strs(&c, "body_contains");
            rule.subject_or_body_contains = strs(&c, "subject_or_body_contains");
            rule.from_addresses = recipients(&c, "from_addresses");
            rule.sender_contains = strs(&c, "sender_contains");
            rule.header_contains = strs(&c, "header_contains");
            rule.recipient_contains = strs(&c, "recipient_contains");
            rule.has_attachments = b(&c, "has_attachments");
            mbx.rules.push(rule);
            origins[mi].push((source, false));
        }
        for mbx in mailboxes.iter_mut() {
            mbx.rules.sort_by_key(|r| r.priority);
            if mbx.recipient_type_details == "UserMailbox"
                && !mbx.rules.iter().any(|r| r.name == "Junk E-Mail Rule")
            {
                rule_seq += 1;
                let mut junk = InboxRule::new(
                    "Junk E-Mail Rule",
                    graph_rule_id(0x5af7_9100 + rule_seq),
                    rule_identity(rule_seq),
                );
                junk.hidden = true;
                junk.stop_processing_rules = true;
                junk.priority = mbx.rules.len() as i64 + 1;
                junk.move_to_folder = mbx.folder("junkemail").map(|f| f.id.clone());
                mbx.rules.push(junk);
            }
        }
        // Every Exchange Online organisation has a discovery mailbox without a directory id.
        let initial = domains
            .iter()
            .find(|d| d.is_initial)
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let disc =
            format!("DiscoverySearchMailbox{{D919BA05-46A6-415f-80AD-7E09334BB852}}@{initial}");
        mailboxes.push(Mailbox {
            external_directory_object_id: String::new(),
            exchange_object_id: stable_guid(&format!("exo/{disc}")),
            guid: stable_guid(&format!("guid/{disc}")),
            user_principal_name: disc.clone(),
            primary_smtp_address: disc.clone(),
            alias: "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}".into(),
            display_name: "Discovery Search Mailbox".into(),
            recipient_type_details: "DiscoveryMailbox".into(),
            forwarding_smtp_address: None,
            forwarding_address: None,
            deliver_to_mailbox_and_forward: false,
            account_disabled: false,
            rules: vec![],
            folders: default_folders(&disc),
        });

        let roles = snap.get("roles").cloned().unwrap_or(json!({}));
        let role_definitions: Vec<RoleDefinition> = arr(roles.get("definitions"))
            .iter()
            .map(|d| {
                let id = s(d, "id").unwrap_or_default();
                let template_id = s(d, "template_id").unwrap_or_else(|| id.clone());
                RoleDefinition {
                    display_name: s(d, "display_name").unwrap_or_default(),
                    description: format!("{} role.", s(d, "display_name").unwrap_or_default()),
                    is_built_in: d
                        .get("is_built_in")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    is_privileged: d
                        .get("is_privileged")
                        .and_then(Value::as_bool)
                        .unwrap_or_else(|| privileged_template(&template_id)),
                    template_id,
                    id,
                }
            })
            .collect();
        let mut principals: Vec<Principal> = Vec::new();
        let mut convert = |list: Vec<Value>, eligible: bool| -> Vec<RoleAssignment> {
            list.iter()
                .map(|a| {
                    let principal_id = s(a, "principal_id").unwrap_or_default();
                    let kind = match s(a, "principal_type").as_deref() {
                        Some("group") => Some(PrincipalKind::Group),
                        Some("service_principal") => Some(PrincipalKind::ServicePrincipal),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        if !principals.iter().any(|p| p.id == principal_id) {
                            principals.push(Principal {
                                id: principal_id.clone(),
                                kind,
                                display_name: s(a, "principal_name")
                                    .unwrap_or_else(|| principal_id.clone()),
                                member_ids: strs(a, "group_member_ids"),
                                app_id: (kind == PrincipalKind::ServicePrincipal)
                                    .then(|| stable_guid(&format!("app/{principal_id}"))),
                            });
                        }
                    }
                    let id = s(a, "id").unwrap_or_else(|| stable_guid(&principal_id));
                    RoleAssignment {
                        id: if eligible && !id.ends_with("-e") {
                            format!("{id}-1-e")
                        } else {
                            id
                        },
                        role_definition_id: s(a, "role_definition_id").unwrap_or_default(),
                        principal_id,
                        directory_scope_id: s(a, "directory_scope_id")
                            .unwrap_or_else(|| "/".into()),
                        start_date_time: eligible.then(|| "2025-09-01T00:00:00Z".to_owned()),
                        end_date_time: s(a, "end_date_time"),
                    }
                })
                .collect()
        };
        let role_assignments = convert(arr(roles.get("assignments")), false);
        let role_eligibilities = convert(arr(roles.get("eligible_assignments")), true);

        let ca_policies = snap
            .get("conditional_access")
            .and_then(|c| c.get("policies"))
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .map(|p| {
                let id = s(p, "id").unwrap_or_default();
                let users = json!({
                    "includeUsers": strs(p, "include_users"),
                    "excludeUsers": strs(p, "exclude_users"),
                    "includeGroups": strs(p, "include_groups"),
                    "excludeGroups": strs(p, "exclude_groups"),
                    "includeRoles": strs(p, "include_roles"),
                    "excludeRoles": strs(p, "exclude_roles"),
                });
                let controls = strs(p, "built_in_controls");
                let strength = s(p, "authentication_strength");
                let grant = (!controls.is_empty() || strength.is_some()).then(|| {
                    (
                        s(p, "grant_operator").unwrap_or_else(|| "OR".into()),
                        controls,
                        strength,
                    )
                });
                let mut graph = ca_policy_graph(
                    &id,
                    &s(p, "display_name").unwrap_or_default(),
                    &s(p, "state").unwrap_or_else(|| "enabled".into()),
                    users,
                    strs(p, "include_applications"),
                    strs(p, "exclude_applications"),
                    strs(p, "client_app_types"),
                    grant,
                    "2025-06-01T09:00:00Z",
                );
                ca_conditions(p, &mut graph);
                graph
            })
            .collect();
        ca_groups(snap, &mut principals);
        let named_locations = named_locations(snap);

        let mut remote_domains: Vec<RemoteDomain> = arr(snap.get("remote_domains"))
            .iter()
            .filter_map(|d| {
                Some(RemoteDomain {
                    name: s(d, "id")?,
                    domain_name: s(d, "domain_name").unwrap_or_else(|| "*".into()),
                    auto_forward_enabled: d
                        .get("auto_forward_enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    auto_reply_enabled: d
                        .get("auto_reply_enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    is_internal: b(d, "is_internal"),
                    when_changed: s(d, "when_changed")
                        .map(|t| dotnet_date(&t))
                        .unwrap_or_else(|| "2025-06-01T09:00:00.0000000Z".into()),
                })
            })
            .collect();
        if remote_domains.is_empty() {
            remote_domains.push(RemoteDomain::default_entry());
        }

        let spam = snap.get("outbound_spam").cloned().unwrap_or(json!({}));
        let outbound_spam_policies = arr(spam.get("policies"))
            .iter()
            .map(|p| {
                let name = s(p, "id").unwrap_or_else(|| "Default".into());
                OutboundSpamPolicy {
                    is_default: b(p, "is_default") || name == "Default",
                    enabled: p.get("enabled").and_then(Value::as_bool).unwrap_or(true),
                    auto_forwarding_mode: s(p, "auto_forwarding_mode")
                        .unwrap_or_else(|| "Automatic".into()),
                    action_when_threshold_reached: s(p, "action_when_threshold_reached")
                        .unwrap_or_else(|| "BlockUserForToday".into()),
                    recipient_limit_external_per_hour: p
                        .get("recipient_limit_external_per_hour")
                        .and_then(Value::as_u64)
                        .unwrap_or(0) as u32,
                    recipient_limit_internal_per_hour: 0,
                    recipient_limit_per_day: 0,
                    notify_outbound_spam_recipients: vec![],
                    guid: stable_guid(&format!("spam/{name}")),
                    when_changed: "2025-10-02T11:22:33.0000000Z".into(),
                    name,
                }
            })
            .collect();
        let blocked_senders = arr(spam.get("restricted_senders"))
            .iter()
            .map(|r| BlockedSender {
                sender_address: s(r, "id").unwrap_or_default(),
                reason: s(r, "reason").unwrap_or_else(|| {
                    "EmailSendingLimitExceeded;InternalRecipientCountToday=0;ExternalRecipientCountToday=1503;ExceedingLimitType=External;".into()
                }),
                created: s(r, "created")
                    .map(|c| dotnet_date(&c))
                    .unwrap_or_else(|| "2026-01-01T06:42:17.0000000Z".into()),
            })
            .collect();

        let risky_users = arr(snap.get("risky_users"))
            .iter()
            .map(|r| {
                let id = s(r, "id").unwrap_or_default();
                RiskyUser {
                    display_name: user_index
                        .get(&id)
                        .map(|&i| users[i].display_name.clone())
                        .unwrap_or_default(),
                    user_principal_name: s(r, "user_principal_name").unwrap_or_default(),
                    risk_level: s(r, "risk_level").unwrap_or_else(|| "none".into()),
                    risk_state: s(r, "risk_state").unwrap_or_else(|| "none".into()),
                    risk_detail: s(r, "risk_detail").unwrap_or_else(|| "none".into()),
                    risk_last_updated: s(r, "risk_last_updated")
                        .unwrap_or_else(|| "2025-12-31T02:20:41Z".into()),
                    id,
                }
            })
            .collect();

        let recipients: Vec<MailRecipient> = arr(snap.get("recipients"))
            .iter()
            .filter_map(|r| {
                let id = s(r, "id")?;
                let name = s(r, "name")?;
                let guid = stable_guid(&format!("recipient/{id}"));
                let alias = s(r, "alias").unwrap_or_else(|| name.replace(' ', ""));
                Some(MailRecipient {
                    display_name: s(r, "display_name").unwrap_or_else(|| name.clone()),
                    recipient_type_details: s(r, "recipient_type_details")
                        .unwrap_or_else(|| "MailContact".into()),
                    external_email_address: s(r, "external_email_address"),
                    primary_smtp_address: s(r, "primary_smtp_address")
                        .or_else(|| s(r, "external_email_address"))
                        .unwrap_or_default(),
                    legacy_exchange_dn: s(r, "legacy_exchange_dn")
                        .unwrap_or_else(|| legacy_dn(&guid, &alias)),
                    alias,
                    guid,
                    name,
                    id,
                })
            })
            .collect();

        let delegations = crate::exo_delegation::from_snapshot(snap, &mailboxes);
        Ok(TenantState {
            protocols: crate::exo_protocols::ProtocolState::from_snapshot(snap, &mailboxes),
            sign_in_log: crate::audit_logs::sign_in_story(&users),
            directory_audit_log: crate::audit_logs::audit_story(&users),
            unified_audit_log: crate::audit_query::story(&users),
            audit_queries: Vec::new(),
            message_trace: crate::exo_message_trace::story(&users),
            role_groups: crate::exchange::role_groups_from_snapshot(snap),
            exo_rbac: crate::exchange::rbac_from_snapshot(snap),
            delegations,
            folders: crate::exo_folders::FolderState::from_snapshot(snap, &mailboxes),
            recipients,
            apps: crate::apps::AppsState::from_snapshot(snap),
            app_policies: crate::app_policies::AppPoliciesState::from_snapshot(snap),
            security_defaults_enabled: snap
                .get("security_defaults")
                .and_then(|s| s.get("is_enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            tenant_id,
            display_name,
            domains,
            users,
            mailboxes,
            role_definitions,
            role_assignments,
            role_eligibilities,
            principals,
            ca_policies,
            outbound_spam_policies,
            blocked_senders,
            risky_users,
            remote_domains,
            transport_rules: mail_flow_objects(snap.get("transport_rules")),
            outbound_connectors: mail_flow_objects(snap.get("outbound_connectors")),
            inbound_connectors: mail_flow_objects(snap.get("inbound_connectors")),
            named_locations,
            auth_methods: crate::auth_methods::methods_from_snapshot(snap),
            federations,
        })
    }

    /// Transitive members of a group (users and groups, depth-first, each once), as
    /// `GET /groups/{id}/transitiveMembers` lists them. `None` for an unknown group.
    pub fn transitive_members(&self, group_id: &str) -> Option<Vec<String>> {
        let group = self
            .principals
            .iter()
            .find(|p| p.id == group_id && p.kind == PrincipalKind::Group)?;
        let mut out: Vec<String> = Vec::new();
        let mut stack: Vec<String> = group.member_ids.iter().rev().cloned().collect();
        while let Some(id) = stack.pop() {
            if id == group_id || out.contains(&id) {
                continue;
            }
            if let Some(nested) = self
                .principals
                .iter()
                .find(|p| p.id == id && p.kind == PrincipalKind::Group)
            {
                stack.extend(nested.member_ids.iter().rev().cloned());
            }
            out.push(id);
        }
        Some(out)
    }
}

/// The array at `v`, or none.
fn array_of(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The snapshot's `conditional_access.groups` (transitive user members and nested group
/// ids per group) as groups with DIRECT members, so `/members` and `/transitiveMembers`
/// differ as they do in Entra: a group's direct members are its transitive ones minus
/// those reached through a nested group that has its own entry.
fn ca_groups(snap: &Value, principals: &mut Vec<Principal>) {
    let groups = array_of(snap.get("conditional_access").and_then(|c| c.get("groups")));
    let users_of = |id: &str| -> Vec<String> {
        groups
            .iter()
            .find(|g| s(g, "id").as_deref() == Some(id))
            .map(|g| strs(g, "member_ids"))
            .unwrap_or_default()
    };
    let nested_of = |id: &str| -> Vec<String> {
        groups
            .iter()
            .find(|g| s(g, "id").as_deref() == Some(id))
            .map(|g| strs(g, "nested_group_ids"))
            .unwrap_or_default()
    };
    for g in &groups {
        let Some(id) = s(g, "id") else { continue };
        if b(g, "not_found") {
            continue;
        }
        let nested = strs(g, "nested_group_ids");
        let mut below_users: Vec<String> = Vec::new();
        let mut below_groups: Vec<String> = Vec::new();
        for n in &nested {
            below_users.extend(users_of(n));
            below_groups.extend(nested_of(n));
        }
        let mut direct: Vec<String> = nested
            .iter()
            .filter(|n| !below_groups.contains(n))
            .cloned()
            .collect();
        direct.extend(
            strs(g, "member_ids")
                .into_iter()
                .filter(|u| !below_users.contains(u)),
        );
        let display_name = s(g, "display_name").unwrap_or_else(|| id.clone());
        match principals.iter_mut().find(|p| p.id == id) {
            // A role-assignable group already known from role assignments: CA data wins
            // (it is the transitive view).
            Some(p) => p.member_ids = direct,
            None => principals.push(Principal {
                id,
                kind: PrincipalKind::Group,
                display_name,
                member_ids: direct,
                app_id: None,
            }),
        }
    }
}

/// The snapshot's named locations in Graph's shape.
fn named_locations(snap: &Value) -> Vec<Value> {
    array_of(
        snap.get("conditional_access")
            .and_then(|c| c.get("named_locations")),
    )
    .iter()
    .filter_map(|l| {
        let id = s(l, "id")?;
        let name = s(l, "display_name").unwrap_or_else(|| id.clone());
        Some(match s(l, "kind").as_deref() {
            Some("country") => json!({
                "@odata.type": "#microsoft.graph.countryNamedLocation",
                "id": id, "displayName": name,
                "createdDateTime": "2025-06-01T09:00:00Z", "modifiedDateTime": "2025-06-01T09:00:00Z",
                "countriesAndRegions": strs(l, "countries_and_regions"),
                "includeUnknownCountriesAndRegions": false,
                "countryLookupMethod": "clientIpAddress",
            }),
            _ => json!({
                "@odata.type": "#microsoft.graph.ipNamedLocation",
                "id": id, "displayName": name,
                "createdDateTime": "2025-06-01T09:00:00Z", "modifiedDateTime": "2025-06-01T09:00:00Z",
                "isTrusted": b(l, "is_trusted"),
                "ipRanges": strs(l, "ip_ranges").iter().map(|c| json!({
                    "@odata.type": if c.contains(':') { "#microsoft.graph.iPv6CidrRange" } else { "#microsoft.graph.iPv4CidrRange" },
                    "cidrAddress": c,
                })).collect::<Vec<_>>(),
            }),
        })
    })
    .collect()
}

/// The snapshot's narrowing conditions of a CA policy written into its Graph shape
/// (`ca_policy_graph` builds them empty).
fn ca_conditions(p: &Value, graph: &mut Value) {
    let Some(conditions) = graph.get_mut("conditions") else {
        return;
    };
    let (il, el) = (strs(p, "include_locations"), strs(p, "exclude_locations"));
    if !il.is_empty() || !el.is_empty() {
        conditions["locations"] = json!({"includeLocations": il, "excludeLocations": el});
    }
    let (ip, ep) = (strs(p, "include_platforms"), strs(p, "exclude_platforms"));
    if !ip.is_empty() || !ep.is_empty() {
        conditions["platforms"] = json!({"includePlatforms": ip, "excludePlatforms": ep});
    }
    conditions["userRiskLevels"] = json!(strs(p, "user_risk_levels"));
    conditions["signInRiskLevels"] = json!(strs(p, "sign_in_risk_levels"));
    if let Some(mode) = s(p, "device_filter_mode") {
        conditions["devices"] =
            json!({"deviceFilter": {"mode": mode, "rule": s(p, "device_filter_rule")}});
    }
    for (key, field) in [
        (
            "includeGuestsOrExternalUsers",
            "include_guest_or_external_user_types",
        ),
        (
            "excludeGuestsOrExternalUsers",
            "exclude_guest_or_external_user_types",
        ),
    ] {
        let types = strs(p, field);
        if !types.is_empty() {
            conditions["users"][key] = json!({
                "guestOrExternalUserTypes": types.join(","),
                "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants", "membershipKind": "all"},
            });
        }
    }
}

/// `2026-01-01T06:42:17Z` → `2026-01-01T06:42:17.0000000Z` (Exchange's DateTime text).
pub fn dotnet_date(iso: &str) -> String {
    match iso.strip_suffix('Z') {
        Some(base) if !base.contains('.') => format!("{base}.0000000Z"),
        _ => iso.to_owned(),
    }
}

/// A snapshot `FolderRef` → a folder id in this mailbox, creating a custom folder if needed.
fn resolve_folder(mbx: &mut Mailbox, f: &Value) -> String {
    if let Some(wk) = s(f, "well_known_name") {
        if let Some(folder) = mbx.folder(&wk) {
            return folder.id.clone();
        }
    }
    let name = s(f, "name")
        .or_else(|| s(f, "id").map(|p| p.rsplit('\\').next().unwrap_or(&p).to_owned()))
        .unwrap_or_else(|| "Folder".into());
    if let Some(folder) = mbx
        .folders
        .iter()
        .find(|x| x.display_name.eq_ignore_ascii_case(&name))
    {
        return folder.id.clone();
    }
    let parent = mbx
        .folder("inbox")
        .map(|f| f.id.clone())
        .unwrap_or_default();
    let id = folder_id(&mbx.user_principal_name, &format!("custom/{name}"));
    mbx.folders.push(MailFolder {
        id: id.clone(),
        display_name: capitalise(&name),
        well_known_name: None,
        parent_folder_id: parent,
        is_hidden: false,
        total_item_count: 0,
        unread_item_count: 0,
    });
    id
}
