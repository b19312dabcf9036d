package m365guard.rules.user_consent_allowed

import data.m365guard.lib.fixtures
import rego.v1

_with(assigned, workflow) := json.patch(fixtures.base, [
	{"op": "replace", "path": "/apps/consent_policies/0/permission_grant_policies_assigned", "value": assigned},
	{"op": "replace", "path": "/apps/consent_policies/0/admin_consent_workflow_enabled", "value": workflow},
])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_legacy_user_consent_violation if {
	findings := deny with input as _with(["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"], false)
	count(findings) == 1
	some f in findings
	f.resource_type == "consent_policy"
	f.resource_id == "authorizationPolicy"
	f.severity == "high"
	f.message == "Users can consent to apps without an admin (ManagePermissionGrantsForSelf.microsoft-user-default-legacy); the admin consent workflow is off, so once consent is restricted users cannot ask for apps"
}

test_low_impact_user_consent_violation if {
	findings := deny with input as _with(["ManagePermissionGrantsForSelf.microsoft-user-default-low"], true)
	some f in findings
	f.severity == "medium"
	f.message == "Users can consent to apps without an admin (ManagePermissionGrantsForSelf.microsoft-user-default-low)"
}

test_owned_resource_policies_only_compliant if {
	count(deny) == 0 with input as _with(["ManagePermissionGrantsForOwnedResource.microsoft-dynamically-managed-permissions-for-team"], true)
}
