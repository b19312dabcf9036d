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
    RevokeSessions,
    ResetPassword,
    EnforceMfa,
    ClearMailboxForwarding,
    DisableInboxRule,
    DeleteInboxRule,
    RemoveRoleAssignment,
    /// Close the back door before restoring anything: after the inbox rules and roles.
    DeleteAuthMethod,
    UnblockSender,
    DisableOutboundAutoForwarding,
    UnblockSignIn,
}

impl ActionKind {
    pub const ALL: [ActionKind; 12] = [
        ActionKind::BlockSignIn,
        ActionKind::RevokeSessions,
        ActionKind::ResetPassword,
        ActionKind::EnforceMfa,
        ActionKind::ClearMailboxForwarding,
        ActionKind::DisableInboxRule,
        ActionKind::DeleteInboxRule,
        ActionKind::RemoveRoleAssignment,
        ActionKind::DeleteAuthMethod,
        ActionKind::UnblockSender,
        ActionKind::DisableOutboundAutoForwarding,
        ActionKind::UnblockSignIn,
    ];

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
            ActionKind::DeleteAuthMethod => "delete_auth_method",
            ActionKind::UnblockSender => "unblock_sender",
            ActionKind::DisableOutboundAutoForwarding => "disable_outbound_auto_forwarding",
            ActionKind::UnblockSignIn => "unblock_sign_in",
        }
    }
}
