# The base fixture every rule test starts from: a small, fully compliant Contoso tenant.
# Tests change ONE thing (json.patch or `with input.x as`) and assert the exact findings.
# Array positions are part of the contract for json.patch paths; they are listed below and
# must not be reordered (add new elements at the end).
#
# users:       0 dana (GA, push MFA)  1 breakglass01 (GA, FIDO2, excluded from the
#              all-users CA policy, covered by its own one)  2 lena  3 raj (Global
#              Reader, eligible Exchange Admin)  4 sam (guest)  5 former employee (disabled)
# mailboxes:   0 dana  1 lena  2 raj
# inbox_rules: 0 lena "Newsletters" (move to a custom folder)  1 raj "Forward to Dana"
#              (internal forward)
# roles:       definitions 0 GA  1 Exchange Admin  2 Global Reader  3 Privileged Role Admin
#              assignments 0 GA dana  1 GA breakglass01  2 Global Reader raj (all time-bound
#              except the unprivileged one); eligible 0 Exchange Admin raj
# conditional_access: 0 MFA for all users  1 block legacy auth  2 FIDO2 for break-glass
#              named_locations 0 Office-HQ (trusted IP range)  1 Blocked countries
#              groups 0 grp-mfa-exempt (lena through nested grp-contractors)
#              1 grp-contractors (lena); no policy names them in the base
package m365guard.lib.fixtures

import rego.v1

tenant_id := "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"

dana_id := "6e1f3a2b-4c5d-4e6f-8a7b-9c0d1e2f3a4b"

breakglass_id := "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"

lena_id := "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"

raj_id := "8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d"

sam_id := "f0e1d2c3-b4a5-4968-8776-a5b4c3d2e1f0"

former_id := "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"

ga_role_id := "62e90394-69f5-4237-9190-012177145e10"

exchange_admin_role_id := "29232cdf-9323-42fd-ade2-1d097af3e4de"

global_reader_role_id := "f2ef992c-3afb-46b9-b7cf-a126ee74c451"

pra_role_id := "e8611ab8-c189-46e8-94e1-60213ab1f814"

office_hq_id := "a6b7c8d9-0e1f-4a2b-9c3d-4e5f6a7b8c9d"

mfa_exempt_group_id := "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"

contractors_group_id := "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f6a"

graph_sp_id := "9f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b"

payroll_sp_id := "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"

payroll_application_id := "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f60"

zoom_sp_id := "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"

microsoft_tenant_id := "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

_ok := {"status": "ok", "items": 1}

base := {
	"schema_version": 1,
	"tenant": {
		"id": tenant_id,
		"display_name": "Contoso Ltd",
		"verified_domains": ["contoso.com", "contoso.onmicrosoft.com", "eu.contoso.com"],
		"default_domain": "contoso.com",
	},
	"collection": {"collected_at": "2026-01-02T06:00:00Z", "tool_version": "test"},
	"sources": {
		"organization": _ok, "users": _ok, "sign_in_activity": _ok, "mfa_registration": _ok,
		"per_user_mfa": _ok, "security_defaults": _ok, "conditional_access": _ok, "roles": _ok,
		"role_eligibility": _ok, "mailboxes": _ok, "inbox_rules": _ok,
		"outbound_spam_policies": _ok, "restricted_senders": _ok, "risky_users": _ok,
		"remote_domains": _ok, "named_locations": _ok, "ca_group_members": _ok, "recipients": _ok,
		"mail_protocols": _ok, "audit_config": _ok,
		"transport_rules": _ok, "outbound_connectors": _ok, "inbound_connectors": _ok,
		"mailbox_delegates": _ok,
		"service_principals": _ok, "consent_grants": _ok, "app_role_assignments": _ok, "consent_policy": _ok,
		"auth_methods": _ok, "federation": _ok,
		"exchange_role_groups": _ok,
		"mailbox_folder_permissions": _ok,
		"exchange_role_assignments": _ok, "application_access_policies": _ok,
		"app_management_policies": _ok,
	},
	"users": [
		{
			"id": dana_id, "user_principal_name": "dana.whitfield@contoso.com",
			"display_name": "Dana Whitfield", "account_enabled": true, "user_type": "member",
			"mfa": {
				"is_mfa_registered": true, "is_mfa_capable": true, "is_admin": true,
				"methods": ["microsoftAuthenticatorPush", "softwareOneTimePasscode"],
				"default_method": "push",
			},
			"per_user_mfa_state": "disabled", "last_sign_in": "2026-01-01T08:12:44Z",
		},
		{
			"id": breakglass_id, "user_principal_name": "breakglass01@contoso.onmicrosoft.com",
			"display_name": "Emergency Access 01", "account_enabled": true, "user_type": "member",
			"mfa": {"is_mfa_registered": true, "is_mfa_capable": true, "is_admin": true, "methods": ["fido2"]},
			"per_user_mfa_state": "disabled", "last_sign_in": "2025-12-01T10:00:00Z",
		},
		{
			"id": lena_id, "user_principal_name": "lena.fischer@contoso.com",
			"display_name": "Lena Fischer", "account_enabled": true, "user_type": "member",
			"mfa": {"is_mfa_registered": true, "is_mfa_capable": true, "methods": ["microsoftAuthenticatorPush"]},
			"per_user_mfa_state": "disabled", "last_sign_in": "2025-12-31T09:14:09Z",
		},
		{
			"id": raj_id, "user_principal_name": "raj.patel@contoso.com",
			"display_name": "Raj Patel", "account_enabled": true, "user_type": "member",
			"mfa": {"is_mfa_registered": true, "is_mfa_capable": true, "methods": ["microsoftAuthenticatorPush", "mobilePhone"]},
			"per_user_mfa_state": "disabled", "last_sign_in": "2025-12-30T17:40:10Z",
		},
		{
			"id": sam_id, "user_principal_name": "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com",
			"display_name": "Sam Rivera (Fabrikam)", "account_enabled": true, "user_type": "guest",
			"mfa": {"is_mfa_registered": false, "is_mfa_capable": false, "methods": []},
			"per_user_mfa_state": "disabled", "last_sign_in": "2025-11-02T12:00:31Z",
		},
		{
			"id": former_id, "user_principal_name": "former.employee@contoso.com",
			"display_name": "Former Employee", "account_enabled": false, "user_type": "member",
			"mfa": null, "per_user_mfa_state": "disabled", "last_sign_in": "2025-03-14T09:21:00Z",
		},
	],
	"mailboxes": [
		{
			"id": dana_id, "user_principal_name": "dana.whitfield@contoso.com",
			"primary_smtp_address": "dana.whitfield@contoso.com", "recipient_type_details": "UserMailbox",
			"forwarding_smtp_address": null, "forwarding_address": null, "deliver_to_mailbox_and_forward": false,
		},
		{
			"id": lena_id, "user_principal_name": "lena.fischer@contoso.com",
			"primary_smtp_address": "lena.fischer@contoso.com", "recipient_type_details": "UserMailbox",
			"forwarding_smtp_address": null, "forwarding_address": null, "deliver_to_mailbox_and_forward": false,
		},
		{
			"id": raj_id, "user_principal_name": "raj.patel@contoso.com",
			"primary_smtp_address": "raj.patel@contoso.com", "recipient_type_details": "UserMailbox",
			"forwarding_smtp_address": null, "forwarding_address": null, "deliver_to_mailbox_and_forward": false,
		},
	],
	"inbox_rules": [
		{
			"id": concat("/", [lena_id, "AQAAAFr3kQ8="]), "mailbox_id": lena_id,
			"mailbox_upn": "lena.fischer@contoso.com", "rule_id": "AQAAAFr3kQ8=", "source": "graph",
			"name": "Newsletters", "enabled": true, "priority": 1,
			"actions": {
				"move_to_folder": {"id": "AAMkADk0ZmFrZWZvbGRlcmlkAAEAAAA=", "name": "Newsletters"},
				"stop_processing_rules": true,
			},
			"conditions": {"subject_contains": ["newsletter"]},
		},
		{
			"id": concat("/", [raj_id, "AQAAAFr3kR1="]), "mailbox_id": raj_id,
			"mailbox_upn": "raj.patel@contoso.com", "rule_id": "AQAAAFr3kR1=", "source": "graph",
			"name": "Forward to Dana", "enabled": true, "priority": 1,
			"actions": {"forward_to": ["dana.whitfield@contoso.com"]},
			"conditions": {"from_addresses": ["billing@fabrikam.example"]},
		},
	],
	"roles": {
		"definitions": [
			{"id": ga_role_id, "display_name": "Global Administrator", "template_id": ga_role_id, "is_built_in": true, "is_privileged": true},
			{"id": exchange_admin_role_id, "display_name": "Exchange Administrator", "template_id": exchange_admin_role_id, "is_built_in": true, "is_privileged": true},
			{"id": global_reader_role_id, "display_name": "Global Reader", "template_id": global_reader_role_id, "is_built_in": true, "is_privileged": false},
			{"id": pra_role_id, "display_name": "Privileged Role Administrator", "template_id": pra_role_id, "is_built_in": true, "is_privileged": true},
		],
		"assignments": [
			{
				"id": "lAPpYvVpN0KRkAEhdxReEG46HyNcTU5OinucDR4vOksmNjI2", "role_definition_id": ga_role_id,
				"principal_id": dana_id, "principal_type": "user", "principal_name": "Dana Whitfield",
				"directory_scope_id": "/", "end_date_time": "2026-07-01T00:00:00Z",
			},
			{
				"id": "lAPpYvVpN0KRkAEhdxReEBgBb2xCcmVha0dsYXNzMDEAAAAA", "role_definition_id": ga_role_id,
				"principal_id": breakglass_id, "principal_type": "user", "principal_name": "Emergency Access 01",
				"directory_scope_id": "/", "end_date_time": "2026-12-31T00:00:00Z",
			},
			{
				"id": "LJjy8vo6uUa3zyEm7nTEUY0aRDI1MjZjLWZha2UtcmVhZGVyAA", "role_definition_id": global_reader_role_id,
				"principal_id": raj_id, "principal_type": "user", "principal_name": "Raj Patel",
				"directory_scope_id": "/",
			},
		],
		"eligible_assignments": [{
			"id": "39ojKSOT_UKt4h0JfvPk3p2bDA0eLz9Ai1ucfl0pEjIFAAAA-1-e", "role_definition_id": exchange_admin_role_id,
			"principal_id": raj_id, "principal_type": "user", "principal_name": "Raj Patel",
			"directory_scope_id": "/", "end_date_time": "2026-09-01T00:00:00Z",
		}],
	},
	"outbound_spam": {
		"policies": [{
			"id": "Default", "is_default": true, "enabled": true, "auto_forwarding_mode": "Off",
			"action_when_threshold_reached": "BlockUserForToday",
		}],
		"restricted_senders": [],
	},
	"conditional_access": {"policies": [
		{
			"id": "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99", "display_name": "Require MFA for all users",
			"state": "enabled", "include_users": ["All"], "exclude_users": [breakglass_id],
			"include_groups": [], "exclude_groups": [], "include_roles": [], "exclude_roles": [],
			"include_applications": ["All"], "exclude_applications": [], "client_app_types": ["all"],
			"built_in_controls": ["mfa"], "grant_operator": "OR",
		},
		{
			"id": "4d3c2b1a-9f8e-4e7d-8c6b-5f4e3d2c1b0a", "display_name": "Block legacy authentication",
			"state": "enabled", "include_users": ["All"], "exclude_users": [breakglass_id],
			"include_groups": [], "exclude_groups": [], "include_roles": [], "exclude_roles": [],
			"include_applications": ["All"], "exclude_applications": [],
			"client_app_types": ["exchangeActiveSync", "other"], "built_in_controls": ["block"], "grant_operator": "OR",
		},
		{
			"id": "5e4d3c2b-0a9f-4f8e-9d7c-6a5f4e3d2c1b", "display_name": "Phishing-resistant MFA for emergency access accounts",
			"state": "enabled", "include_users": [breakglass_id], "exclude_users": [],
			"include_groups": [], "exclude_groups": [], "include_roles": [], "exclude_roles": [],
			"include_applications": ["All"], "exclude_applications": [], "client_app_types": ["all"],
			"built_in_controls": [], "authentication_strength": "Phishing-resistant MFA",
		},
	],
	"named_locations": [
		{"id": office_hq_id, "display_name": "Office-HQ", "kind": "ip", "is_trusted": true, "ip_ranges": ["203.0.113.0/24"]},
		{"id": "b7c8d9e0-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "display_name": "Blocked countries", "kind": "country", "countries_and_regions": ["KP"]},
	],
	"groups": [
		{"id": mfa_exempt_group_id, "display_name": "grp-mfa-exempt", "member_ids": [lena_id], "nested_group_ids": [contractors_group_id]},
		{"id": contractors_group_id, "display_name": "grp-contractors", "member_ids": [lena_id]},
	]},
	"security_defaults": {"is_enabled": false},
	"risky_users": [{
		"id": raj_id, "user_principal_name": "raj.patel@contoso.com", "risk_level": "none",
		"risk_state": "remediated", "risk_detail": "userPerformedSecuredPasswordReset",
		"risk_last_updated": "2025-11-03T08:00:00Z",
	}],
	"remote_domains": [{
		"id": "Default", "domain_name": "*", "auto_forward_enabled": false,
		"auto_reply_enabled": true,
	}],
	# recipients:  0 the "AP Archive" mail contact (external), 1 the "All Staff" group
	"recipients": [
		{
			"id": "c4a1e2b3-7d6f-4e58-9a0b-1c2d3e4f5a61", "name": "AP Archive",
			"recipient_type_details": "MailContact",
			"primary_smtp_address": "ap.archive@securemail-box.example",
			"external_email_address": "ap.archive@securemail-box.example",
		},
		{
			"id": "e6c3a4d5-9f8b-4a7c-9c2d-3e4f5a6b7c83", "name": "All Staff",
			"recipient_type_details": "MailUniversalDistributionGroup",
			"primary_smtp_address": "allstaff@contoso.com",
		},
	],
	# mail_protocols: SMTP AUTH off for the organisation; mailboxes 0 dana  1 lena  2 raj,
	#              POP and IMAP off, SMTP AUTH from the organisation (null)
	"mail_protocols": {
		"transport": [{"id": "Transport Settings", "smtp_client_authentication_disabled": true}],
		"mailboxes": [
			{"id": dana_id, "primary_smtp_address": "dana.whitfield@contoso.com", "pop_enabled": false, "imap_enabled": false, "smtp_client_authentication_disabled": null},
			{"id": lena_id, "primary_smtp_address": "lena.fischer@contoso.com", "pop_enabled": false, "imap_enabled": false, "smtp_client_authentication_disabled": null},
			{"id": raj_id, "primary_smtp_address": "raj.patel@contoso.com", "pop_enabled": false, "imap_enabled": false, "smtp_client_authentication_disabled": null},
		],
	},
	# audit_config: everything audited, no bypass
	"audit_config": {
		"organization": [{"id": "organization", "unified_audit_log_ingestion_enabled": true, "audit_disabled": false}],
		"bypass_associations": [],
	},
	# transport_rules: 0 "External disclaimer" (harmless); outbound_connectors: 0 to the
	# on-premises smart host (a verified domain); inbound_connectors: 0 from on-premises,
	# certificate-restricted with TLS.
	"transport_rules": [{
		"id": "0c5a1f00-0000-4000-8000-00000000d15c", "name": "External disclaimer",
		"state": "Enabled", "mode": "Enforce", "priority": 0,
		"sent_to_scope": "NotInOrganization",
	}],
	"outbound_connectors": [{
		"id": "0c5a1f00-0000-4000-8000-0000000c0001", "name": "To on-premises",
		"enabled": true, "connector_type": "OnPremises",
		"recipient_domains": ["onprem.contoso.com"], "smart_hosts": ["smtp.contoso.com"],
		"use_mx_record": false, "tls_settings": "DomainValidation",
	}],
	"inbound_connectors": [{
		"id": "0c5a1f00-0000-4000-8000-0000000c0002", "name": "From on-premises",
		"enabled": true, "connector_type": "OnPremises", "sender_domains": ["*"],
		"require_tls": true, "restrict_domains_to_certificate": true,
		"tls_sender_certificate_name": "mail.contoso.com",
	}],
	# mailbox_delegates: 0 raj has FullAccess to lena's mailbox (an internal, enabled
	#              member on an unprivileged mailbox: expected)
	"mailbox_delegates": [{
		"id": concat("/", [lena_id, "full_access", "raj.patel@contoso.com"]),
		"mailbox_id": lena_id, "mailbox_upn": "lena.fischer@contoso.com",
		"right": "full_access", "trustee": "raj.patel@contoso.com", "trustee_id": raj_id,
		"trustee_address": "raj.patel@contoso.com", "trustee_type": "UserMailbox",
		"access_rights": ["FullAccess"],
	}],
	# mailbox_folder_permissions: 0 Default sees Lena's calendar with subjects and places
	#   (LimitedDetails: a normal free/busy sharing), 1 Raj is her calendar delegate (Editor);
	#   her mailbox is German, so the calendar is "Kalender"
	"mailbox_folder_permissions": [
		{
			"id": concat("/", [lena_id, "calendar", "default"]),
			"mailbox_id": lena_id, "mailbox_upn": "lena.fischer@contoso.com",
			"folder": "calendar", "folder_path": "\\Kalender", "principal": "default",
			"user": "Default", "access_rights": ["LimitedDetails"],
		},
		{
			"id": concat("/", [lena_id, "calendar", "raj patel"]),
			"mailbox_id": lena_id, "mailbox_upn": "lena.fischer@contoso.com",
			"folder": "calendar", "folder_path": "\\Kalender", "principal": "user",
			"user": "Raj Patel", "trustee_id": raj_id, "trustee_address": "raj.patel@contoso.com",
			"trustee_type": "UserMailbox", "access_rights": ["Editor"],
			"sharing_permission_flags": ["Delegate"],
		},
	],
	# apps: Microsoft Graph (first party), the tenant's own payroll connector (a one-year
	# certificate, User.Read.All), and Zoom (multi-tenant, verified publisher, admin consent
	# for low-risk scopes). Users cannot consent; the admin consent workflow is on.
	"apps": {
		"service_principals": [
			{
				"id": graph_sp_id, "app_id": "00000003-0000-0000-c000-000000000000",
				"display_name": "Microsoft Graph", "account_enabled": true,
				"app_owner_organization_id": microsoft_tenant_id, "publisher_name": "Microsoft Services",
			},
			{
				"id": payroll_sp_id, "app_id": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b",
				"display_name": "Contoso Payroll Connector", "account_enabled": true,
				"app_owner_organization_id": tenant_id, "created_date_time": "2024-03-11T10:12:00Z",
				"application_id": payroll_application_id,
			},
			{
				"id": zoom_sp_id, "app_id": "4e8b5a6c-7d9f-4a0b-8c1d-2e3f4a5b6c7d", "display_name": "Zoom",
				"account_enabled": true, "app_owner_organization_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
				"publisher_name": "Zoom Video Communications, Inc.",
				"verified_publisher": "Zoom Video Communications, Inc.",
			},
		],
		"credentials": [{
			"id": concat("/", [payroll_application_id, "1a2b3c4d-0000-4000-8000-00000000c001"]),
			"owner_kind": "application", "owner_id": payroll_application_id,
			"app_id": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b", "owner_name": "Contoso Payroll Connector",
			"credential_type": "certificate", "key_id": "1a2b3c4d-0000-4000-8000-00000000c001",
			"start_date_time": "2025-06-01T00:00:00Z", "end_date_time": "2026-06-01T00:00:00Z",
		}],
		"consent_grants": [{
			"id": "zoom-admin-grant", "client_id": zoom_sp_id, "consent_type": "AllPrincipals",
			"resource_id": graph_sp_id, "scopes": ["User.Read", "Calendars.ReadWrite"],
		}],
		"app_role_assignments": [{
			"id": "payroll-user-read-all", "resource_id": graph_sp_id,
			"resource_app_id": "00000003-0000-0000-c000-000000000000", "resource_name": "Microsoft Graph",
			"principal_id": payroll_sp_id, "principal_type": "ServicePrincipal",
			"principal_name": "Contoso Payroll Connector",
			"app_role_id": "df021288-bdef-4463-88db-98f22de89214", "permission": "User.Read.All",
			"created_date_time": "2024-03-11T10:20:00Z",
		}],
		"consent_policies": [{
			"id": "authorizationPolicy", "permission_grant_policies_assigned": [],
			"admin_consent_workflow_enabled": true,
		}],
		# The tenant default: enabled, secrets blocked on the tenant's own apps, capped at
		# 180 days on service principals.
		"management_policies": [{
			"id": "00000000-0000-0000-0000-000000000000", "policy_kind": "tenant_default",
			"display_name": "Default app management tenant policy", "is_enabled": true,
			"application_restrictions": {
				"password_credentials": [{
					"restriction_type": "passwordAddition",
					"restrict_for_apps_created_after": "2019-01-01T00:00:00Z", "state": "enabled",
				}],
				"key_credentials": [],
			},
			"service_principal_restrictions": {
				"password_credentials": [{
					"restriction_type": "passwordLifetime", "max_lifetime": "P180D",
					"max_lifetime_days": 180, "restrict_for_apps_created_after": "2019-01-01T00:00:00Z",
				}],
				"key_credentials": [],
			},
		}],
	},
	# auth_methods: the privileged users' methods, all registered long before collected_at
	"auth_methods": [
		{
			"id": concat("/", [dana_id, "b1a2c3d4-0000-4000-8000-00000000d001"]), "user_id": dana_id,
			"user_principal_name": "dana.whitfield@contoso.com", "method_id": "b1a2c3d4-0000-4000-8000-00000000d001",
			"method_type": "microsoft_authenticator", "created_date_time": "2025-03-10T09:00:00Z", "display_name": "iPhone 15",
		},
		{
			"id": concat("/", [breakglass_id, "c2b3d4e5-0000-4000-8000-00000000b001"]), "user_id": breakglass_id,
			"user_principal_name": "breakglass01@contoso.onmicrosoft.com", "method_id": "c2b3d4e5-0000-4000-8000-00000000b001",
			"method_type": "fido2", "created_date_time": "2025-01-20T10:00:00Z", "display_name": "YubiKey 5 NFC",
		},
		{
			"id": concat("/", [raj_id, "3179e48a-750b-4051-897c-87b9720928f7"]), "user_id": raj_id,
			"user_principal_name": "raj.patel@contoso.com", "method_id": "3179e48a-750b-4051-897c-87b9720928f7",
			"method_type": "phone", "created_date_time": null, "phone_number": "+49 1511234567", "phone_type": "mobile",
		},
		{
			"id": concat("/", [raj_id, "d3c4e5f6-0000-4000-8000-00000000a001"]), "user_id": raj_id,
			"user_principal_name": "raj.patel@contoso.com", "method_id": "d3c4e5f6-0000-4000-8000-00000000a001",
			"method_type": "microsoft_authenticator", "created_date_time": "2025-05-02T08:00:00Z", "display_name": "Pixel 8",
		},
	],
	"domains": [
		{"id": "contoso.com", "is_verified": true, "authentication_type": "Managed"},
		{"id": "contoso.onmicrosoft.com", "is_verified": true, "authentication_type": "Managed"},
		{"id": "eu.contoso.com", "is_verified": true, "authentication_type": "Managed"},
	],
	# exchange_role_groups: 0 the TenantAdmins_ role group in Organization Management (how
	#              Exchange Online links the Global Administrator role: expected)
	"exchange_role_groups": [{
		"id": "Organization Management/tenantadmins_-1",
		"role_group": "Organization Management", "member": "TenantAdmins_-1",
		"member_type": "RoleGroup",
	}],
	# exchange_role_assignments: 0 View-Only Recipients to the helpdesk group (not sensitive)
	"exchange_role_assignments": [{
		"id": "View-Only Recipients-SG-Helpdesk", "role": "View-Only Recipients",
		"assignee": "SG-Helpdesk", "assignee_type": "SecurityGroup", "enabled": true,
		"recipient_write_scope": "Organization",
	}],
	# application_access_policies: 0 the payroll connector restricted to its senders' group
	"application_access_policies": [{
		"id": concat("", [tenant_id, "\\8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b:S-1-5-21-1-2-3-4;payroll"]),
		"app_id": "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b", "access_right": "RestrictAccess",
		"scope_name": "Payroll Senders", "is_valid": true,
	}],
}
