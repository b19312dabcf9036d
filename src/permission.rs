//! Graph application permissions and Exchange roles, named once.
//!
//! A requirement is an [`AnyOf`]: any one of the listed permissions satisfies it, and the
//! first (the least-privileged) is the one named when none is granted (CONTRACT §11, §12).
//! Sources (`snapshot::source`) and fix actions refer to these constants; doctor, 403
//! messages and `m365guard permissions` read them from there. This module imports nothing
//! of the crate, so every layer can use it without an import cycle.

/// Any one of these application permissions satisfies the requirement.
pub type AnyOf = &'static [&'static str];

pub const ORG_READ: AnyOf = &[
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const USER_READ: AnyOf = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const AUDIT_READ: AnyOf = &["AuditLog.Read.All"];
pub const POLICY_READ: AnyOf = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.AuthenticationMethod",
];
pub const CA_READ: AnyOf = &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"];
pub const ROLE_READ: AnyOf = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagement.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const GROUP_MEMBER_READ: AnyOf = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
pub const ELIGIBILITY_READ: AnyOf = &[
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "RoleManagement.Read.All",
];
pub const RISKY_READ: AnyOf = &[
    "IdentityRiskyUser.Read.All",
    "IdentityRiskyUser.ReadWrite.All",
];
pub const REVOKE: AnyOf = &[
    "User.RevokeSessions.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
pub const ENABLE_DISABLE: AnyOf = &[
    "User.EnableDisableAccount.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
// User.ReadWrite.All does not cover passwordProfile for app-only callers (CONTRACT W3).
pub const PASSWORD: AnyOf = &["User-PasswordProfile.ReadWrite.All"];
pub const PER_USER_MFA_WRITE: AnyOf = &["Policy.ReadWrite.AuthenticationMethod"];
pub const CA_WRITE: AnyOf = &["Policy.ReadWrite.ConditionalAccess"];
pub const MAILBOX_SETTINGS_WRITE: AnyOf = &["MailboxSettings.ReadWrite"];
pub const ROLE_WRITE: AnyOf = &["RoleManagement.ReadWrite.Directory"];

/// The Exchange Online application permission (on the Office 365 Exchange Online API).
pub const MANAGE_AS_APP: &str = "Exchange.ManageAsApp";

/// The Entra role that lets the app read Exchange through `InvokeCommand` (collect).
pub const EXCHANGE_READ_ROLE: &str = "Global Reader";
