# Data the Exchange RBAC rules read (package `m365guard.data.exchange_roles`): which
# management roles are sensitive when assigned directly, and which roles and application
# permissions reach mailbox content. Sources (retrieved 2026-12-06):
# - Microsoft, "Permissions in Exchange Online" (the built-in role groups and the roles
#   Organization Management, Discovery Management and Recipient Management hold):
#   https://learn.microsoft.com/exchange/permissions-exo/permissions-exo
# - Get-ManagementRoleAssignment (RoleAssigneeType, scopes):
#   https://learn.microsoft.com/powershell/module/exchange/get-managementroleassignment
# - Microsoft, "Role Based Access Control for Applications in Exchange Online" (the
#   `Application …` roles, one per Graph/EWS permission, and their resource scopes):
#   https://learn.microsoft.com/exchange/permissions-exo/application-rbac
# - ApplicationImpersonation (EWS impersonation of any mailbox in its scope; Microsoft
#   retires the role in Exchange Online and asks for RBAC for Applications instead):
#   https://learn.microsoft.com/exchange/client-developer/exchange-web-services/impersonation-and-ews-in-exchange
# - Mailbox Import Export (New-MailboxExportRequest / Search-Mailbox export of any mailbox):
#   https://learn.microsoft.com/exchange/recipients-in-exchange-online/manage-user-mailboxes/mailbox-import-export
package m365guard.data.exchange_roles

import rego.v1

# Roles, by lower-case name, that give power over other people's mail or over the
# organisation when held directly: severity and what the holder can do.
sensitive_roles := {
	"role management": {"severity": "critical", "why": "can assign itself or anyone any Exchange role"},
	"applicationimpersonation": {"severity": "high", "why": "opens every mailbox in its scope through EWS as its owner"},
	"mailbox import export": {"severity": "high", "why": "exports any mailbox to a PST"},
	"mailbox search": {"severity": "high", "why": "searches every mailbox and copies the results"},
	"mail recipients": {"severity": "high", "why": "sets forwarding and permissions on any mailbox"},
	"mail recipient creation": {"severity": "medium", "why": "creates mailboxes, mail users and contacts"},
	"security group creation and membership": {"severity": "high", "why": "changes the membership of role groups and security groups"},
	"transport rules": {"severity": "high", "why": "copies, redirects or deletes mail organisation-wide"},
	"journaling": {"severity": "high", "why": "copies every message to a journal address"},
	"remote and accepted domains": {"severity": "medium", "why": "allows automatic forwarding to external domains"},
	"organization transport settings": {"severity": "medium", "why": "changes organisation-wide mail flow and SMTP AUTH"},
	"transport hygiene": {"severity": "medium", "why": "changes anti-spam and anti-malware policies and allow lists"},
	"organization configuration": {"severity": "medium", "why": "changes organisation-wide settings, auditing included"},
	"audit logs": {"severity": "medium", "why": "changes the audit settings and reads the audit log"},
	"legal hold": {"severity": "medium", "why": "places and removes holds on any mailbox"},
	"retention management": {"severity": "medium", "why": "changes retention policies (deletes mail tenant-wide)"},
	"reset password": {"severity": "high", "why": "resets users' passwords"},
	"security admin": {"severity": "medium", "why": "changes security policies"},
	"application mail.read": {"severity": "high", "why": "lets an app read mail in every mailbox in its scope"},
	"application mail.readbasic": {"severity": "medium", "why": "lets an app read mail headers in every mailbox in its scope"},
	"application mail.readwrite": {"severity": "high", "why": "lets an app read, change and delete mail in every mailbox in its scope"},
	"application mail.send": {"severity": "high", "why": "lets an app send mail as any mailbox in its scope"},
	"application mailboxsettings.readwrite": {"severity": "high", "why": "lets an app set forwarding and automatic replies on any mailbox in its scope"},
	"application mail full access": {"severity": "high", "why": "lets an app read, change and send mail in every mailbox in its scope"},
	"application exchange full access": {"severity": "high", "why": "lets an app reach mail, calendars and contacts of every mailbox in its scope"},
	"application ews.accessasapp": {"severity": "high", "why": "lets an app open every mailbox in its scope through EWS"},
}

# Roles flagged for anyone who holds them directly, even when the holder is listed in
# `[roles] allowed_exchange_role_group_members`: both copy whole mailboxes, and Microsoft
# replaces ApplicationImpersonation with RBAC for Applications.
always_flagged_roles := {"applicationimpersonation", "mailbox import export"}

# RBAC for Applications roles that reach mailbox content (lower-case).
mailbox_app_roles := {
	"application mail.read", "application mail.readbasic", "application mail.readwrite",
	"application mail.send", "application mailboxsettings.readwrite", "application mail full access",
	"application exchange full access", "application ews.accessasapp",
}

# Application permissions (Entra app roles) that reach every mailbox, by resource app id:
# Microsoft Graph's mail permissions and Exchange Online's EWS `full_access_as_app`
# (the permissions application access policies limit:
# https://learn.microsoft.com/graph/auth-limit-mailbox-access).
mailbox_app_permissions := {
	"00000003-0000-0000-c000-000000000000": {
		"Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.ReadWrite", "Mail.Send",
		"MailboxSettings.ReadWrite",
	},
	"00000002-0000-0ff1-ce00-000000000000": {
		"full_access_as_app", "Mail.Read", "Mail.ReadWrite", "Mail.Send", "EWS.AccessAsApp",
	},
}
