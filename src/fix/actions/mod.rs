//! The remediation actions, one file each. Every action declares the rules it fixes, what
//! its write needs ([`ActionKind::needs`], the one permission table of fix mode), how it reads its target's live state (in the same
//! vocabulary as the plan's precondition), when that state counts as done, the write, and
//! whether and how it can be undone.

use serde_json::{Map, Value};

use super::live::Live;
use super::password::PasswordSink;
use super::plan::Target;
use crate::graph::ApiError;
use crate::permission::{self, role, AnyOf, MANAGE_AS_APP};
use crate::policy::metadata::FixAction;
use crate::snapshot::model::SourceId;

mod block_sign_in;
mod clear_mailbox_forwarding;
mod delete_auth_method;
mod delete_inbox_rule;
mod disable_connector;
mod disable_inbox_rule;
mod disable_mail_protocols;
mod disable_outbound_auto_forwarding;
mod disable_service_principal;
mod disable_transport_rule;
mod enable_audit_logging;
mod enforce_mfa;
mod pim;
mod remove_app_role_assignment;
mod remove_credential;
mod remove_folder_permission;
mod remove_mailbox_permission;
mod remove_management_role_assignment;
mod remove_recipient_permission;
mod remove_role_assignment;
mod remove_role_eligibility;
mod remove_role_group_member;
mod remove_send_on_behalf;
mod reset_folder_permission;
mod reset_password;
mod restore_mail_access;
mod restrict_user_consent;
mod revoke_consent_grant;
mod revoke_sessions;
mod suspend_mail_access;
mod unblock_sender;

pub use super::action_kind::ActionKind;
pub use super::live::is_not_found;
pub use clear_mailbox_forwarding::mailbox_state as clear_mailbox_forwarding_state;
pub use delete_auth_method::{
    plan as plan_delete_auth_method, plan_method as plan_auth_method_deletion,
};
pub use disable_connector::{
    inbound_state as inbound_connector_state, outbound_state as outbound_connector_state,
};
pub use disable_inbox_rule::rule_state as inbox_rule_state;
pub use disable_mail_protocols::mailbox_state as cas_mailbox_state;
pub use disable_transport_rule::rule_state as transport_rule_state;
pub use enable_audit_logging::UNIFIED_AUDIT_LOG_MANUAL;
pub use enforce_mfa::CA_POLICY_NAME;
pub use remove_credential::credential_state;
pub use remove_folder_permission::entry_state as named_folder_permission_state;
pub use remove_mailbox_permission::full_access_state as mailbox_permission_state;
pub use remove_management_role_assignment::{
    assignment_state as management_role_assignment_state,
    assignment_target as management_role_assignment_target,
};
pub use remove_role_group_member::{
    member_state as role_group_member_state, member_target as role_group_member_target,
};
pub use reset_folder_permission::entry_state as folder_permission_state;
pub use restrict_user_consent::consent_state;
pub use revoke_consent_grant::grant_state;
pub use suspend_mail_access::{
    access_state as mail_access_state, suspended as mail_access_suspended,
};

impl ActionKind {
    /// Actions the `--max-actions` bound applies to (they lock people out or take power).
    pub fn is_bounded(self) -> bool {
        matches!(
            self,
            ActionKind::ResetPassword
                | ActionKind::BlockSignIn
                | ActionKind::RemoveRoleAssignment
                | ActionKind::RemoveRoleEligibility
                | ActionKind::RemoveRoleGroupMember
                | ActionKind::RemoveManagementRoleAssignment
        )
    }

    pub fn handler(self) -> &'static dyn Handler {
        match self {
            ActionKind::BlockSignIn => &block_sign_in::BlockSignIn { enable: false },
            ActionKind::UnblockSignIn => &block_sign_in::BlockSignIn { enable: true },
            ActionKind::RevokeSessions => &revoke_sessions::RevokeSessions,
            ActionKind::ResetPassword => &reset_password::ResetPassword,
            ActionKind::EnforceMfa => &enforce_mfa::EnforceMfa,
            ActionKind::ClearMailboxForwarding => &clear_mailbox_forwarding::ClearMailboxForwarding,
            ActionKind::DisableInboxRule => &disable_inbox_rule::DisableInboxRule,
            ActionKind::DeleteInboxRule => &delete_inbox_rule::DeleteInboxRule,
            ActionKind::RemoveRoleAssignment => &remove_role_assignment::RemoveRoleAssignment,
            ActionKind::RemoveRoleEligibility => &remove_role_eligibility::RemoveRoleEligibility,
            ActionKind::UnblockSender => &unblock_sender::UnblockSender,
            ActionKind::DeleteAuthMethod => &delete_auth_method::DeleteAuthMethod,
            ActionKind::DisableOutboundAutoForwarding => {
                &disable_outbound_auto_forwarding::DisableOutboundAutoForwarding
            }
            ActionKind::SuspendMailAccess => &suspend_mail_access::SuspendMailAccess,
            ActionKind::RestoreMailAccess => &restore_mail_access::RestoreMailAccess,
            ActionKind::DisableMailProtocols => &disable_mail_protocols::DisableMailProtocols,
            ActionKind::EnableAuditLogging => &enable_audit_logging::EnableAuditLogging,
            ActionKind::DisableTransportRule => &disable_transport_rule::DisableTransportRule,
            ActionKind::DisableConnector => &disable_connector::DisableConnector,
            ActionKind::RemoveMailboxPermission => {
                &remove_mailbox_permission::RemoveMailboxPermission
            }
            ActionKind::RemoveRecipientPermission => {
                &remove_recipient_permission::RemoveRecipientPermission
            }
            ActionKind::RemoveSendOnBehalf => &remove_send_on_behalf::RemoveSendOnBehalf,
            ActionKind::ResetFolderPermission => &reset_folder_permission::ResetFolderPermission,
            ActionKind::RemoveFolderPermission => &remove_folder_permission::RemoveFolderPermission,
            ActionKind::RevokeConsentGrant => &revoke_consent_grant::RevokeConsentGrant,
            ActionKind::RemoveAppRoleAssignment => {
                &remove_app_role_assignment::RemoveAppRoleAssignment
            }
            ActionKind::RemoveCredential => &remove_credential::RemoveCredential,
            ActionKind::DisableServicePrincipal => {
                &disable_service_principal::DisableServicePrincipal
            }
            ActionKind::RestrictUserConsent => &restrict_user_consent::RestrictUserConsent,
            ActionKind::RemoveRoleGroupMember => &remove_role_group_member::RemoveRoleGroupMember,
            ActionKind::RemoveManagementRoleAssignment => {
                &remove_management_role_assignment::RemoveManagementRoleAssignment
            }
        }
    }
}

/// What one fix action needs: doctor judges it from the grants, `m365guard permissions`
/// and the README print it, a refused write names it.
#[derive(Debug, Clone, Copy)]
pub struct ActionNeeds {
    /// Required Graph application permissions, each requirement any-of.
    pub graph: &'static [AnyOf],
    /// Exchange cmdlets: Exchange.ManageAsApp plus one of these directory roles.
    pub exchange_roles: Option<&'static [&'static str]>,
    /// Permissions only one variant of the action needs (WARN when absent), and which.
    pub variant: Option<(&'static [AnyOf], &'static str)>,
    /// A directory role only some targets need (WARN when absent), and which targets.
    pub target_role: Option<(&'static [&'static str], &'static str)>,
    /// A directory role every target needs besides the Graph permission (MISSING when
    /// absent), and why.
    pub directory_role: Option<(&'static [&'static str], &'static str)>,
    /// A variant that needs the licence of this source: WARN when the tenant lacks it.
    pub licensed_variant: Option<(SourceId, &'static str)>,
}

impl ActionNeeds {
    const NONE: ActionNeeds = ActionNeeds {
        graph: &[],
        exchange_roles: None,
        variant: None,
        target_role: None,
        directory_role: None,
        licensed_variant: None,
    };

    /// The Graph permissions by their least-privileged names (`A + B`), empty for none.
    pub fn graph_text(&self) -> String {
        permission::least(self.graph)
    }

    /// The Exchange requirement in words, when the action runs Exchange cmdlets.
    pub fn exchange_text(&self) -> Option<String> {
        self.exchange_roles.map(|roles| {
            format!(
                "{MANAGE_AS_APP} and the {} directory role for the app's service principal",
                role::names(roles)
            )
        })
    }

    /// Everything, in one line: what `rules explain` shows and a refused write names.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.graph.is_empty() {
            parts.push(self.graph_text());
        }
        if let Some(exchange) = self.exchange_text() {
            parts.push(exchange);
        }
        if let Some((roles, _)) = self.directory_role {
            parts.push(format!(
                "the {} directory role",
                role::name(roles[0]).unwrap_or(roles[0])
            ));
        }
        let mut text = parts.join(" + ");
        if let Some((roles, why)) = self.target_role {
            text.push_str(&format!(
                " ({why}: the {} directory role)",
                role::name(roles[0]).unwrap_or(roles[0])
            ));
        }
        if let Some((perms, why)) = self.variant {
            text.push_str(&format!("; {} {why}", permission::least(perms)));
        }
        text
    }
}

impl ActionKind {
    /// What the action needs (CONTRACT §11: W1–W12). The Graph permissions cite their
    /// Microsoft page in [`crate::permission`]; the roles are Entra directory roles.
    pub fn needs(self) -> ActionNeeds {
        use permission::*;
        match self {
            // W2: PATCH accountEnabled, plus User.Read.All to read the user first.
            ActionKind::BlockSignIn | ActionKind::UnblockSignIn => ActionNeeds {
                graph: &[ENABLE_DISABLE, USER_READ],
                target_role: Some((role::PRIVILEGED_AUTH, "for admin targets")),
                ..ActionNeeds::NONE
            },
            // W1
            ActionKind::RevokeSessions => ActionNeeds {
                graph: &[REVOKE],
                ..ActionNeeds::NONE
            },
            // W3: app-only, the permission alone is refused (see `role::PASSWORD_RESET`).
            ActionKind::ResetPassword => ActionNeeds {
                graph: &[PASSWORD],
                directory_role: Some((
                    role::PASSWORD_RESET,
                    "an app-only password reset needs a directory role besides the permission",
                )),
                target_role: Some((role::PRIVILEGED_AUTH, "for admin targets")),
                ..ActionNeeds::NONE
            },
            // W11 per user; W12 tenant-wide (a report-only conditional access policy).
            ActionKind::EnforceMfa => ActionNeeds {
                graph: &[PER_USER_MFA_WRITE],
                variant: Some((
                    &[CA_WRITE, POLICY_READ],
                    "for the tenant-wide conditional access policy (also needs Entra ID P1)",
                )),
                licensed_variant: Some((
                    SourceId::ConditionalAccess,
                    "the tenant-wide conditional access policy needs Entra ID P1, which the tenant lacks (per-user MFA still works)",
                )),
                ..ActionNeeds::NONE
            },
            // W6; the delegation cmdlets are in the same Exchange roles as Set-Mailbox
            // (Mail Recipients: Exchange Administrator, Exchange Recipient Administrator).
            ActionKind::ClearMailboxForwarding
            | ActionKind::RemoveMailboxPermission
            | ActionKind::RemoveRecipientPermission
            | ActionKind::RemoveSendOnBehalf
            // Set-/Remove-MailboxFolderPermission: same roles (Exchange Administrator).
            | ActionKind::ResetFolderPermission
            | ActionKind::RemoveFolderPermission => ActionNeeds {
                exchange_roles: Some(role::EXCHANGE_WRITE),
                ..ActionNeeds::NONE
            },
            // W8 (Exchange-collected rules); W4, W5 (Graph-collected rules).
            ActionKind::DisableInboxRule | ActionKind::DeleteInboxRule => ActionNeeds {
                exchange_roles: Some(role::EXCHANGE_WRITE),
                variant: Some((
                    &[MAILBOX_SETTINGS_WRITE],
                    "for inbox rules collected through Graph (older snapshots)",
                )),
                ..ActionNeeds::NONE
            },
            // W10: DELETE, or PIM's adminRemove (RoleManagement.ReadWrite.Directory covers
            // both and the schedule-instance read that decides between them).
            ActionKind::RemoveRoleAssignment => ActionNeeds {
                graph: &[ROLE_WRITE],
                target_role: Some((role::PRIVILEGED_ROLE, "for privileged roles")),
                ..ActionNeeds::NONE
            },
            // PIM adminRemove of an eligible assignment (covers reading the eligibility).
            ActionKind::RemoveRoleEligibility => ActionNeeds {
                graph: &[ELIGIBILITY_WRITE],
                target_role: Some((role::PRIVILEGED_ROLE, "for privileged roles")),
                ..ActionNeeds::NONE
            },
            // DELETE /users/{id}/authentication/{type}Methods/{id}, after listing the user's
            // methods (the last-method guard).
            ActionKind::DeleteAuthMethod => ActionNeeds {
                graph: &[AUTH_METHOD_WRITE],
                ..ActionNeeds::NONE
            },
            // W7, W9
            ActionKind::UnblockSender | ActionKind::DisableOutboundAutoForwarding => ActionNeeds {
                exchange_roles: Some(role::EXCHANGE_SECURITY_WRITE),
                ..ActionNeeds::NONE
            },
            // Set-CASMailbox, Set-TransportConfig, Set-OrganizationConfig,
            // Set-MailboxAuditBypassAssociation: Exchange Administrator's role groups.
            ActionKind::SuspendMailAccess
            | ActionKind::RestoreMailAccess
            | ActionKind::DisableMailProtocols
            | ActionKind::EnableAuditLogging => ActionNeeds {
                exchange_roles: Some(role::EXCHANGE_WRITE),
                ..ActionNeeds::NONE
            },
            // Transport rules and connectors: Exchange Administrator (Organization
            // Management holds the Transport Rules and Remote and Accepted Domains roles).
            // Role group membership: Role Management, which only Organization Management
            // holds (Exchange Administrator; Exchange Recipient Administrator lacks it).
            ActionKind::DisableTransportRule
            | ActionKind::DisableConnector
            | ActionKind::RemoveRoleGroupMember
            | ActionKind::RemoveManagementRoleAssignment => ActionNeeds {
                exchange_roles: Some(role::EXCHANGE_WRITE),
                ..ActionNeeds::NONE
            },
            ActionKind::RevokeConsentGrant => ActionNeeds {
                graph: &[GRANT_WRITE],
                ..ActionNeeds::NONE
            },
            ActionKind::RemoveAppRoleAssignment => ActionNeeds {
                graph: &[APP_ROLE_ASSIGNMENT_WRITE, APP_READ],
                ..ActionNeeds::NONE
            },
            ActionKind::RemoveCredential | ActionKind::DisableServicePrincipal => ActionNeeds {
                graph: &[APP_WRITE],
                ..ActionNeeds::NONE
            },
            ActionKind::RestrictUserConsent => ActionNeeds {
                graph: &[AUTHORIZATION_POLICY_WRITE],
                ..ActionNeeds::NONE
            },
        }
    }
}

impl From<FixAction> for ActionKind {
    fn from(action: FixAction) -> ActionKind {
        match action {
            FixAction::RevokeSessions => ActionKind::RevokeSessions,
            FixAction::BlockSignIn => ActionKind::BlockSignIn,
            FixAction::ResetPassword => ActionKind::ResetPassword,
            FixAction::EnforceMfa => ActionKind::EnforceMfa,
            FixAction::ClearMailboxForwarding => ActionKind::ClearMailboxForwarding,
            FixAction::DisableInboxRule => ActionKind::DisableInboxRule,
            FixAction::DeleteInboxRule => ActionKind::DeleteInboxRule,
            FixAction::RemoveRoleAssignment => ActionKind::RemoveRoleAssignment,
            FixAction::UnblockSender => ActionKind::UnblockSender,
            FixAction::DisableOutboundAutoForwarding => ActionKind::DisableOutboundAutoForwarding,
            FixAction::DisableMailProtocols => ActionKind::DisableMailProtocols,
            FixAction::EnableAuditLogging => ActionKind::EnableAuditLogging,
            FixAction::DisableTransportRule => ActionKind::DisableTransportRule,
            FixAction::DisableConnector => ActionKind::DisableConnector,
            FixAction::RemoveMailboxPermission => ActionKind::RemoveMailboxPermission,
            FixAction::RemoveRecipientPermission => ActionKind::RemoveRecipientPermission,
            FixAction::RemoveSendOnBehalf => ActionKind::RemoveSendOnBehalf,
            FixAction::RevokeConsentGrant => ActionKind::RevokeConsentGrant,
            FixAction::RemoveAppRoleAssignment => ActionKind::RemoveAppRoleAssignment,
            FixAction::DisableServicePrincipal => ActionKind::DisableServicePrincipal,
            FixAction::RemoveCredential => ActionKind::RemoveCredential,
            FixAction::RestrictUserConsent => ActionKind::RestrictUserConsent,
            FixAction::DeleteAuthMethod => ActionKind::DeleteAuthMethod,
            FixAction::RemoveRoleGroupMember => ActionKind::RemoveRoleGroupMember,
            FixAction::ResetFolderPermission => ActionKind::ResetFolderPermission,
            FixAction::RemoveManagementRoleAssignment => ActionKind::RemoveManagementRoleAssignment,
            FixAction::RemoveFolderPermission => ActionKind::RemoveFolderPermission,
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target's state in an action's vocabulary (`account_enabled`, `per_user_mfa_state`, …).
pub type State = Map<String, Value>;

/// What a write returned worth keeping in the audit log.
#[derive(Debug, Default)]
pub struct WriteReceipt {
    /// Graph `request-id` (Exchange answers carry none we can rely on).
    pub request_id: Option<String>,
    /// A new object the write created (e.g. the report-only CA policy id).
    pub created_id: Option<String>,
}

pub trait Handler: Sync {
    /// Read the target live. `None`: the target no longer exists.
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError>;

    /// Whether the live state is already what the action would make it. `None` = gone.
    fn is_done(&self, target: &Target, state: Option<&State>) -> bool;

    /// Make the change.
    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError>;

    /// The write for the plan, as an admin would read it. Never contains a secret.
    fn describe_write(&self, target: &Target) -> String;

    /// How apply verifies the result.
    fn describe_verify(&self) -> &'static str;

    /// How to undo it (`None`: cannot be undone).
    fn rollback(&self, target: &Target, precondition: &State) -> Option<String>;
}

/// Key of a state entry that is evidence, not precondition: the complete object (e.g. an
/// inbox rule with its conditions), read together with the state so it costs no extra call.
pub const DEFINITION: &str = "definition";

/// Fields of `precondition` whose live value differs: `field: plan saw X, now Y`.
/// Only the precondition's own keys count; a missing key in the live state is a change.
pub fn changed_fields(precondition: &State, live: &State) -> Vec<String> {
    precondition
        .iter()
        .filter(|(key, seen)| live.get(*key).unwrap_or(&Value::Null) != *seen)
        .map(|(key, seen)| {
            format!(
                "{key}: plan saw {seen}, now {}",
                live.get(key).unwrap_or(&Value::Null)
            )
        })
        .collect()
}

/// Build a [`State`] from `(key, value)` pairs.
pub fn state<const N: usize>(pairs: [(&str, Value); N]) -> State {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Exchange's 403 without a body means "the app has no Exchange role"; for writes the
/// role needed is Exchange Administrator, not Global Reader.
/// Without the right role, Exchange does not even expose the write cmdlets ("The term
/// 'Set-Mailbox' is not recognized …"); say which role is missing.
pub(crate) fn exchange_write_error(err: ApiError, permission: &str) -> ApiError {
    match err {
        ApiError::ExchangeNoRole { endpoint, cmdlet } => ApiError::Exchange {
            endpoint,
            cmdlet,
            status: 403,
            message: format!("access denied: the app needs {permission}"),
        },
        ApiError::Exchange {
            endpoint,
            cmdlet,
            status,
            message,
        } if message.contains("is not recognized as") => ApiError::Exchange {
            message: format!(
                "{message} — the app's Exchange role does not include {cmdlet}; it needs {permission}"
            ),
            endpoint,
            cmdlet,
            status,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_fields_names_each_difference() {
        let seen = state([("a", json!(1)), ("b", json!("x"))]);
        let live = state([("a", json!(1)), ("b", json!("y")), ("c", json!(true))]);
        assert_eq!(
            changed_fields(&seen, &live),
            vec![r#"b: plan saw "x", now "y""#]
        );
        assert!(changed_fields(&seen, &seen).is_empty());
    }

    #[test]
    fn playbook_order_is_declaration_order() {
        let mut sorted = ActionKind::ALL;
        sorted.sort();
        assert_eq!(sorted, ActionKind::ALL);
        assert_eq!(ActionKind::ALL[0], ActionKind::BlockSignIn);
        assert_eq!(ActionKind::ALL.last(), Some(&ActionKind::UnblockSignIn));
    }

    #[test]
    fn every_kind_needs_a_graph_permission_or_an_exchange_role() {
        for kind in ActionKind::ALL {
            let needs = kind.needs();
            assert!(
                needs.exchange_roles.is_some() || !needs.graph.is_empty(),
                "{kind}"
            );
            assert!(!needs.summary().is_empty(), "{kind}");
        }
        assert_eq!(
            ActionKind::BlockSignIn.needs().summary(),
            "User.EnableDisableAccount.All + User.Read.All (for admin targets: the Privileged Authentication Administrator directory role)"
        );
        assert_eq!(
            ActionKind::UnblockSender.needs().summary(),
            "Exchange.ManageAsApp and the Exchange Administrator (or Security Administrator, Global Administrator) directory role for the app's service principal"
        );
    }
}
