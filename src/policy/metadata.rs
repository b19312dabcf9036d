//! `rule.toml`: a rule's metadata (regorus does not read OPA's `# METADATA` comments).
//!
//! Unknown or missing fields and bad values are errors that point at file:line:col.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::severity::Severity;
use crate::snapshot::SourceId;

/// Which part of the tenant a rule looks at; also the JUnit testsuite and policy folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Accounts, MFA and sign-in policy.
    Identity,
    /// Mail flow: forwarding, inbox rules, outbound spam.
    Exchange,
    /// Directory role assignments.
    Roles,
    /// Identity Protection risk signals.
    Risk,
    /// Enterprise applications: consent grants, application permissions, credentials.
    Apps,
}

impl Area {
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Identity => "identity",
            Area::Exchange => "exchange",
            Area::Roles => "roles",
            Area::Risk => "risk",
            Area::Apps => "apps",
        }
    }
}

/// Phase of Microsoft's security roadmap the control belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RoadmapPhase {
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "90d")]
    Days90,
    #[serde(rename = "beyond")]
    Beyond,
}

impl RoadmapPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RoadmapPhase::Days30 => "30d",
            RoadmapPhase::Days90 => "90d",
            RoadmapPhase::Beyond => "beyond",
        }
    }
}

/// The remediation a rule's findings map to (implemented by `fix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixAction {
    RevokeSessions,
    BlockSignIn,
    ResetPassword,
    EnforceMfa,
    ClearMailboxForwarding,
    DisableInboxRule,
    DeleteInboxRule,
    RemoveRoleAssignment,
    UnblockSender,
    DisableOutboundAutoForwarding,
    DisableMailProtocols,
    EnableAuditLogging,
    DisableTransportRule,
    DisableConnector,
    RemoveMailboxPermission,
    RemoveRecipientPermission,
    RemoveSendOnBehalf,
    RevokeConsentGrant,
    RemoveAppRoleAssignment,
    DisableServicePrincipal,
    RemoveCredential,
    RestrictUserConsent,
    DeleteAuthMethod,
    RemoveRoleGroupMember,
    ResetFolderPermission,
    RemoveManagementRoleAssignment,
    RemoveFolderPermission,
}

impl FixAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FixAction::RevokeSessions => "revoke_sessions",
            FixAction::BlockSignIn => "block_sign_in",
            FixAction::ResetPassword => "reset_password",
            FixAction::EnforceMfa => "enforce_mfa",
            FixAction::ClearMailboxForwarding => "clear_mailbox_forwarding",
            FixAction::DisableInboxRule => "disable_inbox_rule",
            FixAction::DeleteInboxRule => "delete_inbox_rule",
            FixAction::RemoveRoleAssignment => "remove_role_assignment",
            FixAction::UnblockSender => "unblock_sender",
            FixAction::DisableOutboundAutoForwarding => "disable_outbound_auto_forwarding",
            FixAction::DisableMailProtocols => "disable_mail_protocols",
            FixAction::EnableAuditLogging => "enable_audit_logging",
            FixAction::DisableTransportRule => "disable_transport_rule",
            FixAction::DisableConnector => "disable_connector",
            FixAction::RemoveMailboxPermission => "remove_mailbox_permission",
            FixAction::RemoveRecipientPermission => "remove_recipient_permission",
            FixAction::RemoveSendOnBehalf => "remove_send_on_behalf",
            FixAction::RevokeConsentGrant => "revoke_consent_grant",
            FixAction::RemoveAppRoleAssignment => "remove_app_role_assignment",
            FixAction::DisableServicePrincipal => "disable_service_principal",
            FixAction::RemoveCredential => "remove_credential",
            FixAction::RestrictUserConsent => "restrict_user_consent",
            FixAction::DeleteAuthMethod => "delete_auth_method",
            FixAction::RemoveRoleGroupMember => "remove_role_group_member",
            FixAction::ResetFolderPermission => "reset_folder_permission",
            FixAction::RemoveManagementRoleAssignment => "remove_management_role_assignment",
            FixAction::RemoveFolderPermission => "remove_folder_permission",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMeta {
    /// Equals the folder name and the Rego package leaf (`m365guard.rules.<id>`).
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub area: Area,
    pub roadmap_phase: RoadmapPhase,
    /// Snapshot sources the rule reads; their status decides not-evaluated / not-applicable.
    pub sources: Vec<SourceId>,
    /// Sources the rule also reads when the tenant has them: `unavailable` (no licence) is
    /// fine, but `error` (failed collection) makes the rule not evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional_sources: Vec<SourceId>,
    /// What it checks.
    pub description: String,
    /// Why it matters.
    pub rationale: String,
    pub remediation: String,
    /// What the rule cannot see: the blind spots a reviewer must check by other means
    /// (README's rule table and `rules explain` show it). Every built-in rule states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
    /// Automatic remediation, if any (`m365guard fix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_action: Option<FixAction>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Parse `rule.toml` text; errors carry file:line:col of the offending value.
pub fn parse(path: &Path, text: &str) -> Result<RuleMeta, Diagnostic> {
    toml::from_str::<RuleMeta>(text).map_err(|err| {
        Diagnostic::from_span(
            path,
            text,
            err.span(),
            format!("invalid rule.toml: {}", err.message()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"id = "x"
title = "X"
severity = "high"
area = "identity"
roadmap_phase = "30d"
sources = ["users"]
description = "d"
rationale = "r"
remediation = "m"
"#;

    #[test]
    fn valid_metadata_parses() {
        let meta = parse(Path::new("rule.toml"), VALID).unwrap();
        assert_eq!(meta.severity, Severity::High);
        assert_eq!(meta.sources, vec![SourceId::Users]);
    }

    #[test]
    fn bad_severity_points_at_the_value() {
        let text = VALID.replace("\"high\"", "\"severe\"");
        let err = parse(Path::new("p/rule.toml"), &text).unwrap_err();
        assert_eq!((err.line, err.column), (Some(3), Some(12)));
        assert!(err.to_string().starts_with("p/rule.toml:3:12: "), "{err}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        let text = format!("{VALID}colour = \"red\"\n");
        let err = parse(Path::new("rule.toml"), &text).unwrap_err();
        assert!(err.message.contains("unknown field `colour`"), "{err}");
        assert_eq!(err.line, Some(10));
    }

    #[test]
    fn missing_field_is_an_error() {
        let text = VALID.replace("remediation = \"m\"\n", "");
        let err = parse(Path::new("rule.toml"), &text).unwrap_err();
        assert!(err.message.contains("missing field `remediation`"), "{err}");
    }
}
