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

# ---- Conditions that narrow the block policy (issue 10, item 1) ------------------------

_set(field, value) := {"op": "add", "path": concat("/", [_block_policy, field]), "value": value}

test_trusted_location_excluded_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_locations", ["All"]), _set("exclude_locations", ["AllTrusted"])])
	count(findings) == 1
	some f in findings
	f.message == "Tenant Contoso Ltd does not block legacy authentication: security defaults are off and no enabled conditional access policy blocks Exchange ActiveSync and other legacy clients for all users everywhere (Block legacy authentication: not applied from trusted location Office-HQ)"
	f.details.block_policies_narrowed == {"Block legacy authentication": ["not applied from trusted location Office-HQ"]}
}

test_all_locations_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [_set("include_locations", ["All"])])
}

test_platform_narrowed_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_platforms", ["android", "iOS"])])
	some f in findings
	contains(f.message, "only applied on the platforms android, iOS")
}

test_excluded_application_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("exclude_applications", ["00000002-0000-0ff1-ce00-000000000000"])])
	some f in findings
	contains(f.message, "not applied for the excluded applications 00000002-0000-0ff1-ce00-000000000000")
}

test_selected_applications_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [_set("include_applications", ["Office365"])])
}

test_sign_in_risk_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [_set("sign_in_risk_levels", ["high"])])
}

test_only_a_disabled_block_policy_violation if {
	# No enabled block policy at all, so nothing is narrowed: the finding is still built.
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/conditional_access/policies", "value": [object.union(fixtures.base.conditional_access.policies[1], {"state": "disabled"})]},
	])
	count(findings) == 1
	some f in findings
	f.details.block_policies_narrowed == {}
}
