//! The kinds of fix action, a leaf of `fix`: plans, the audit log and doctor name actions
//! by these; `fix::actions` gives each its handler and its permission needs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An action's kind: the rule catalogue's fix actions plus `unblock_sign_in` (respond
/// `--restore-access`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    // Declaration order is the playbook order (Microsoft's compromised-account guidance):
    // contain the account, evict the attacker, close the back doors, then restore.
    BlockSignIn,
    /// Microsoft's step 5, with the block: mail clients cut off while the account is blocked.
    SuspendMailAccess,
    RevokeSessions,
    ResetPassword,
    EnforceMfa,
    ClearMailboxForwarding,
    DisableInboxRule,
    DeleteInboxRule,
    RemoveRoleAssignment,
    RemoveRoleEligibility,
    // Step 6 goes on in Exchange: the privileged role groups.
    RemoveRoleGroupMember,
    /// And the Exchange roles held outside the role groups.
    RemoveManagementRoleAssignment,
    // Apps: cut the attacker's app off (its grants, its permissions, the credential it
    // added), then the app itself, then the tenant setting that let it in.
    RevokeConsentGrant,
    RemoveAppRoleAssignment,
    RemoveCredential,
    DisableServicePrincipal,
    RestrictUserConsent,
    /// Close the back door before restoring anything: after the inbox rules and roles.
    DeleteAuthMethod,
    UnblockSender,
    DisableOutboundAutoForwarding,
    DisableTransportRule,
    DisableConnector,
    RemoveMailboxPermission,
    RemoveRecipientPermission,
    RemoveSendOnBehalf,
    ResetFolderPermission,
    /// A named user's entry (guest, external, disabled, deleted) on the same folders.
    RemoveFolderPermission,
    DisableMailProtocols,
    EnableAuditLogging,
    /// Restore: the mailbox's client access as it was, before sign-in is restored.
    RestoreMailAccess,
    UnblockSignIn,
}

impl ActionKind {
    pub const ALL: [ActionKind; 31] = [
        ActionKind::BlockSignIn,
        ActionKind::SuspendMailAccess,
        ActionKind::RevokeSessions,
        ActionKind::ResetPassword,
        ActionKind::EnforceMfa,
        ActionKind::ClearMailboxForwarding,
        ActionKind::DisableInboxRule,
        ActionKind::DeleteInboxRule,
        ActionKind::RemoveRoleAssignment,
        ActionKind::RemoveRoleEligibility,
        ActionKind::RemoveRoleGroupMember,
        ActionKind::RemoveManagementRoleAssignment,
        ActionKind::RevokeConsentGrant,
        ActionKind::RemoveAppRoleAssignment,
        ActionKind::RemoveCredential,
        ActionKind::DisableServicePrincipal,
        ActionKind::RestrictUserConsent,
        ActionKind::DeleteAuthMethod,
        ActionKind::UnblockSender,
        ActionKind::DisableOutboundAutoForwarding,
        ActionKind::DisableTransportRule,
        ActionKind::DisableConnector,
        ActionKind::RemoveMailboxPermission,
        ActionKind::RemoveRecipientPermission,
        ActionKind::RemoveSendOnBehalf,
        ActionKind::ResetFolderPermission,
        ActionKind::RemoveFolderPermission,
        ActionKind::DisableMailProtocols,
        ActionKind::EnableAuditLogging,
        ActionKind::RestoreMailAccess,
        ActionKind::UnblockSignIn,
    ];

    /// The `fix plan --allow WORD` an action needs: plan-only actions change more than the
    /// finding's object (a connector carries real mail flow), so they are planned only when
    /// allowed, and every suggested command for their rules names the word.
    pub fn plan_only_allow(self) -> Option<&'static str> {
        match self {
            ActionKind::DisableConnector => Some("connector"),
            // remove_management_role_assignment: only its service-principal targets (an app's
            // RBAC for Applications grant may carry a business process); a user's is planned
            // without it.
            ActionKind::DisableServicePrincipal
            | ActionKind::RemoveCredential
            | ActionKind::RemoveManagementRoleAssignment => Some("app-changes"),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::BlockSignIn => "block_sign_in",
            ActionKind::RevokeSessions => "revoke_sessions",
            ActionKind::ResetPassword => "reset_password",
            ActionKind::EnforceMfa => "enforce_mfa",
            ActionKind::ClearMailboxForwarding => "clear_mailbox_forwarding",
            ActionKind::DisableInboxRule => "disable_inbox_rule",
            ActionKind::DeleteInboxRule => "delete_inbox_rule",
            ActionKind::RemoveRoleAssignment => "remove_role_assignment",
            ActionKind::RemoveRoleEligibility => "remove_role_eligibility",
            ActionKind::DeleteAuthMethod => "delete_auth_method",
            ActionKind::UnblockSender => "unblock_sender",
            ActionKind::DisableOutboundAutoForwarding => "disable_outbound_auto_forwarding",
            ActionKind::DisableTransportRule => "disable_transport_rule",
            ActionKind::DisableConnector => "disable_connector",
            ActionKind::RemoveMailboxPermission => "remove_mailbox_permission",
            ActionKind::RemoveRecipientPermission => "remove_recipient_permission",
            ActionKind::RemoveSendOnBehalf => "remove_send_on_behalf",
            ActionKind::ResetFolderPermission => "reset_folder_permission",
            ActionKind::RemoveFolderPermission => "remove_folder_permission",
            ActionKind::UnblockSignIn => "unblock_sign_in",
            ActionKind::SuspendMailAccess => "suspend_mail_access",
            ActionKind::DisableMailProtocols => "disable_mail_protocols",
            ActionKind::EnableAuditLogging => "enable_audit_logging",
            ActionKind::RestoreMailAccess => "restore_mail_access",
            ActionKind::RevokeConsentGrant => "revoke_consent_grant",
            ActionKind::RemoveAppRoleAssignment => "remove_app_role_assignment",
            ActionKind::RemoveCredential => "remove_credential",
            ActionKind::DisableServicePrincipal => "disable_service_principal",
            ActionKind::RestrictUserConsent => "restrict_user_consent",
            ActionKind::RemoveRoleGroupMember => "remove_role_group_member",
            ActionKind::RemoveManagementRoleAssignment => "remove_management_role_assignment",
        }
    }
}
