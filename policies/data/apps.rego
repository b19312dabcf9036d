# Data the app rules read: which permissions are high risk, and which applications are
# known to be malicious. Kept as Rego data (package `m365guard.data.apps`) so the built-in
# pack carries it and a custom pack can read it; operators add app ids in m365guard.toml
# (`[apps] known_malicious_app_ids`), which reach Rego as
# `data.m365guard.config.known_malicious_app_ids`.
package m365guard.data.apps

import rego.v1

graph_app_id := "00000003-0000-0000-c000-000000000000"

exchange_app_id := "00000002-0000-0ff1-ce00-000000000000"

sharepoint_app_id := "00000003-0000-0ff1-ce00-000000000000"

# High-risk permissions by resource API (delegated scopes and application roles share
# their names on these APIs). The tier holds what an attacker uses to keep access after a
# password reset: reading, changing or sending mail; reading or writing every file and
# site; writing the directory, roles, app role assignments or apps. Sources (retrieved
# 2026-12-06):
# - Microsoft, "Detect and Remediate Illicit Consent Grants" (Mail.*, Contacts, Files,
#   MailboxSettings as the scopes illicit-consent apps ask for):
#   https://learn.microsoft.com/defender-office-365/detect-and-remediate-illicit-consent-grants
# - Microsoft Graph permissions reference (what each permission allows, admin-consent
#   requirement): https://learn.microsoft.com/graph/permissions-reference
# - Microsoft, "Protect against consent phishing" and "Investigate risky OAuth apps":
#   https://learn.microsoft.com/entra/identity/enterprise-apps/protect-against-consent-phishing
# - Exchange `full_access_as_app` / `full_access_as_user` (EWS access to every mailbox or
#   the user's mailbox): https://learn.microsoft.com/exchange/client-developer/exchange-web-services/how-to-authenticate-an-ews-application-by-using-oauth
high_risk_permissions := {
	graph_app_id: {
		"Mail.Read", "Mail.ReadWrite", "Mail.Send", "Mail.Read.Shared", "Mail.ReadWrite.Shared",
		"Mail.Send.Shared", "MailboxSettings.ReadWrite", "EWS.AccessAsUser.All",
		"Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All",
		"Sites.Manage.All", "Sites.FullControl.All", "Directory.ReadWrite.All",
		"Directory.AccessAsUser.All", "RoleManagement.ReadWrite.Directory",
		"AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All",
		"DelegatedPermissionGrant.ReadWrite.All", "User.ReadWrite.All", "Group.ReadWrite.All",
		"Policy.ReadWrite.ConditionalAccess", "UserAuthenticationMethod.ReadWrite.All",
	},
	exchange_app_id: {
		"full_access_as_app", "full_access_as_user", "EWS.AccessAsUser.All", "Mail.Read",
		"Mail.ReadWrite", "Mail.Send", "Exchange.ManageAsApp",
	},
	sharepoint_app_id: {
		"Sites.FullControl.All", "Sites.ReadWrite.All", "Sites.Manage.All", "AllSites.FullControl",
		"AllSites.Manage", "AllSites.Write", "MyFiles.Write", "User.ReadWrite.All",
	},
}

# Applications known to be used to exfiltrate mail or send BEC spam from compromised
# mailboxes, by application (client) id. Source: Huntress, "Rogue Apps"
# (https://huntresslabs.github.io/rogueapps/, entries retrieved 2026-12-06), the list
# CIPP's tenant block list also uses. `added` is when the entry entered that list where it
# says so, otherwise when it was taken into m365guard.
known_malicious_apps := {
	"ff8d92dc-3d82-41d6-bcbd-b9174d163620": {
		"name": "PerfectData Software", "reason": "exports whole mailboxes (BEC exfiltration)",
		"source": "https://huntresslabs.github.io/rogueapps/", "added": "2024-08-14",
	},
	"a245e8c0-b53c-4b67-9b45-751d1dff8e6b": {
		"name": "Newsletter Software Supermailer", "reason": "mass mailing from compromised mailboxes",
		"source": "https://huntresslabs.github.io/rogueapps/", "added": "2026-12-06",
	},
	"b15665d9-eda6-4092-8539-0eec376afd59": {
		"name": "rclone", "reason": "bulk copy of OneDrive and SharePoint files (exfiltration)",
		"source": "https://huntresslabs.github.io/rogueapps/", "added": "2026-12-06",
	},
	"a43e5392-f48b-46a4-a0f1-098b5eeb4757": {
		"name": "CloudSponge", "reason": "harvests contacts for follow-on phishing",
		"source": "https://huntresslabs.github.io/rogueapps/", "added": "2026-12-06",
	},
}
