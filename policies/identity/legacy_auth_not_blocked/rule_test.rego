package m365guard.rules.legacy_auth_not_blocked

import data.m365guard.lib.fixtures
import rego.v1

_block_policy := "/conditional_access/policies/1"

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_report_only_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": concat("/", [_block_policy, "state"]), "value": "enabledForReportingButNotEnforced"}])
	count(findings) == 1
	some f in findings
	f.resource_type == "tenant"
	f.resource_id == fixtures.tenant_id
	f.resource_name == "Contoso Ltd"
	f.message == "Tenant Contoso Ltd does not block legacy authentication: security defaults are off and no enabled conditional access policy blocks Exchange ActiveSync and other legacy clients for all users (Block legacy authentication is report-only or disabled)"
	f.details.block_policies_not_enforced == ["Block legacy authentication"]
}

test_no_policy_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": _block_policy}])
	count(findings) == 1
	some f in findings
	endswith(f.message, "for all users")
}

test_no_policy_tenant_without_name_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": _block_policy}, {"op": "remove", "path": "/tenant/display_name"}])
	some f in findings
	f.resource_name == fixtures.tenant_id
}

test_security_defaults_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "remove", "path": _block_policy},
		{"op": "replace", "path": "/security_defaults/is_enabled", "value": true},
	])
}

test_only_activesync_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "replace", "path": concat("/", [_block_policy, "client_app_types"]), "value": ["exchangeActiveSync"]}])
}

test_group_scope_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "replace", "path": concat("/", [_block_policy, "include_users"]), "value": []}])
}

test_mfa_instead_of_block_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "replace", "path": concat("/", [_block_policy, "built_in_controls"]), "value": ["mfa"]}])
}

test_exclusions_compliant if {
	# Excluding emergency-access accounts (and more) does not undo the tenant-wide block.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": concat("/", [_block_policy, "exclude_users", "-"]), "value": fixtures.raj_id}])
}
