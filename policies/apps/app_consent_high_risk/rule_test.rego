package m365guard.rules.app_consent_high_risk

import data.m365guard.lib.fixtures
import rego.v1

_shady_id := "e7f8a9b0-c1d2-4e3f-9a4b-5c6d7e8f9a0b"

_shady := {
	"id": _shady_id, "app_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "display_name": "Mail Sync Pro",
	"account_enabled": true, "app_owner_organization_id": "6e5d4c3b-2a19-4f8e-9d7c-6b5a4f3e2d1c",
	"publisher_name": "Mail Sync Pro Ltd",
}

_grant(client, scopes, consent_type, principal) := {
	"id": "g1", "client_id": client, "consent_type": consent_type, "principal_id": principal,
	"resource_id": fixtures.graph_sp_id, "scopes": scopes,
}

_with(patches) := json.patch(fixtures.base, patches)

_add_sp(sp) := {"op": "add", "path": "/apps/service_principals/-", "value": sp}

_add_grant(g) := {"op": "add", "path": "/apps/consent_grants/-", "value": g}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_unverified_publisher_mail_grant_violation if {
	findings := deny with input as _with([_add_sp(_shady), _add_grant(_grant(_shady_id, ["Mail.ReadWrite", "offline_access"], "Principal", fixtures.lena_id))])
	count(findings) == 1
	some f in findings
	f.resource_type == "consent_grant"
	f.resource_id == "g1"
	f.resource_name == "Mail Sync Pro on Microsoft Graph (lena.fischer@contoso.com)"
	f.details.high_risk_permissions == ["Mail.ReadWrite"]
	"publisher Mail Sync Pro Ltd is not verified" in f.details.reasons
	contains(f.message, "was granted Mail.ReadWrite on Microsoft Graph (delegated, lena.fischer@contoso.com)")
}

test_non_admin_consent_reason_violation if {
	verified := object.union(_shady, {"verified_publisher": "Mail Sync Pro Ltd"})
	findings := deny with input as _with([_add_sp(verified), _add_grant(_grant(_shady_id, ["Mail.Send"], "Principal", fixtures.lena_id))])
	some f in findings
	f.details.reasons == ["consented by lena.fischer@contoso.com, who holds no admin role"]
}

test_admin_consent_by_admin_of_verified_app_compliant if {
	verified := object.union(_shady, {"verified_publisher": "Mail Sync Pro Ltd"})
	count(deny) == 0 with input as _with([_add_sp(verified), _add_grant(_grant(_shady_id, ["Mail.ReadWrite"], "Principal", fixtures.dana_id))])
}

test_recently_created_own_app_violation if {
	recent := {
		"id": "aa11bb22-cc33-4d44-8e55-ff6677889900", "app_id": "a1", "display_name": "Quick Export",
		"app_owner_organization_id": fixtures.tenant_id, "created_date_time": "2025-12-31T03:00:00Z",
	}
	findings := deny with input as _with([_add_sp(recent), _add_grant(_grant(recent.id, ["Files.ReadWrite.All"], "AllPrincipals", null))])
	some f in findings
	f.details.reasons == ["the app was added on 2025-12-31T03:00:00Z, within the 30 days before collection"]
	f.resource_name == "Quick Export on Microsoft Graph (all users)"
}

test_low_risk_scopes_compliant if {
	count(deny) == 0 with input as _with([_add_sp(_shady), _add_grant(_grant(_shady_id, ["User.Read", "offline_access"], "Principal", fixtures.lena_id))])
}

test_first_party_client_compliant if {
	ms := object.union(_shady, {"app_owner_organization_id": fixtures.microsoft_tenant_id})
	count(deny) == 0 with input as _with([_add_sp(ms), _add_grant(_grant(_shady_id, ["Mail.ReadWrite"], "Principal", fixtures.lena_id))])
}

test_application_permission_from_unverified_publisher_violation if {
	assignment := {
		"id": "ara1", "resource_id": fixtures.graph_sp_id,
		"resource_app_id": "00000003-0000-0000-c000-000000000000", "resource_name": "Microsoft Graph",
		"principal_id": _shady_id, "app_role_id": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
		"permission": "Mail.ReadWrite", "created_date_time": "2024-01-01T00:00:00Z",
	}
	findings := deny with input as _with([_add_sp(_shady), {"op": "add", "path": "/apps/app_role_assignments/-", "value": assignment}])
	count(findings) == 1
	some f in findings
	f.resource_type == "app_role_assignment"
	f.details.permission_type == "application"
	f.resource_name == "Mail Sync Pro on Microsoft Graph (Mail.ReadWrite)"
}

test_recent_application_permission_on_own_app_violation if {
	findings := deny with input as _with([{"op": "add", "path": "/apps/app_role_assignments/-", "value": {
		"id": "ara2", "resource_id": fixtures.graph_sp_id,
		"resource_app_id": "00000003-0000-0000-c000-000000000000", "resource_name": "Microsoft Graph",
		"principal_id": fixtures.payroll_sp_id, "app_role_id": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
		"permission": "Mail.Send", "created_date_time": "2025-12-30T22:00:00Z",
	}}])
	some f in findings
	f.details.reasons == ["granted on 2025-12-30T22:00:00Z, within the 30 days before collection"]
}

test_old_high_risk_application_permission_of_own_app_compliant if {
	count(deny) == 0 with input as _with([{"op": "add", "path": "/apps/app_role_assignments/-", "value": {
		"id": "ara3", "resource_id": fixtures.graph_sp_id,
		"resource_app_id": "00000003-0000-0000-c000-000000000000", "principal_id": fixtures.payroll_sp_id,
		"app_role_id": "b633e1c5-b582-4048-a93e-9f11b44c7e96", "permission": "Mail.Send",
		"created_date_time": "2024-03-11T10:20:00Z",
	}}])
}
