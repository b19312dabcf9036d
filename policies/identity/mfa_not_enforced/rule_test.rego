package m365guard.rules.mfa_not_enforced

import data.m365guard.lib.fixtures
import rego.v1

_report_only := {"op": "replace", "path": "/conditional_access/policies/0/state", "value": "enabledForReportingButNotEnforced"}

_ids(findings) := {f.resource_id | some f in findings}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_report_only_violation if {
	findings := deny with input as json.patch(fixtures.base, [_report_only])
	# dana, lena and raj; breakglass01 keeps its own policy, the guest and the disabled
	# user are out of scope.
	_ids(findings) == {fixtures.dana_id, fixtures.lena_id, fixtures.raj_id}
	some f in findings
	f.resource_id == fixtures.lena_id
	f.resource_type == "user"
	f.resource_name == "lena.fischer@contoso.com"
	f.message == "MFA is not enforced for lena.fischer@contoso.com: security defaults are off, no enabled conditional access policy requiring MFA applies to the user (Require MFA for all users is report-only or disabled), and per-user MFA is disabled"
}

test_disabled_policy_violation if {
	count(deny) == 3 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies/0/state", "value": "disabled"}])
}

test_security_defaults_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [_report_only, {"op": "replace", "path": "/security_defaults/is_enabled", "value": true}])
}

test_per_user_enforced_compliant if {
	findings := deny with input as json.patch(fixtures.base, [_report_only, {"op": "replace", "path": "/users/2/per_user_mfa_state", "value": "enforced"}])
	_ids(findings) == {fixtures.dana_id, fixtures.raj_id}
}

test_per_user_enabled_violation if {
	# `enabled` only means the user is asked to register; it is not enforcement.
	findings := deny with input as json.patch(fixtures.base, [_report_only, {"op": "replace", "path": "/users/2/per_user_mfa_state", "value": "enabled"}])
	some f in findings
	f.resource_id == fixtures.lena_id
	endswith(f.message, "per-user MFA is enabled but not enforced")
}

test_per_user_not_collected_violation if {
	findings := deny with input as json.patch(fixtures.base, [_report_only, {"op": "replace", "path": "/users/2/per_user_mfa_state", "value": null}])
	some f in findings
	f.resource_id == fixtures.lena_id
	endswith(f.message, "per-user MFA is not collected")
}

test_excluded_user_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": "/conditional_access/policies/0/exclude_users/-", "value": fixtures.lena_id}])
	_ids(findings) == {fixtures.lena_id}
	some f in findings
	not contains(f.message, "report-only")
}

test_excluded_role_violation if {
	# Excluding Global Administrator (by template id) leaves dana out; breakglass01 is
	# still covered by its own policy.
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies/0/exclude_roles", "value": [fixtures.ga_role_id]}])
	_ids(findings) == {fixtures.dana_id}
}

test_excluded_group_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/conditional_access/policies/0/exclude_groups", "value": ["grp-mfa-exempt"]},
		{"op": "add", "path": "/roles/assignments/-", "value": {
			"id": "assign-reader-group", "role_definition_id": fixtures.global_reader_role_id,
			"principal_id": "grp-mfa-exempt", "principal_type": "group", "group_member_ids": [fixtures.raj_id],
		}},
	])
	_ids(findings) == {fixtures.raj_id}
}

test_policy_for_one_app_violation if {
	count(deny) == 3 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies/0/include_applications", "value": ["00000002-0000-0ff1-ce00-000000000000"]}])
}

test_browser_only_violation if {
	count(deny) == 3 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies/0/client_app_types", "value": ["browser"]}])
}

test_modern_client_types_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies/0/client_app_types", "value": ["browser", "mobileAppsAndDesktopClients"]}])
}

test_authentication_strength_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/conditional_access/policies/0/built_in_controls", "value": []},
		{"op": "add", "path": "/conditional_access/policies/0/authentication_strength", "value": "Multifactor authentication"},
	])
}

test_included_role_compliant if {
	# A policy for the Global Administrator role covers dana even without the all-users one.
	count(deny) == 3 with input as json.patch(fixtures.base, [_report_only])
	findings := deny with input as json.patch(fixtures.base, [_report_only, {"op": "replace", "path": "/conditional_access/policies/2/include_roles", "value": [fixtures.ga_role_id]}])
	_ids(findings) == {fixtures.lena_id, fixtures.raj_id}
}

test_breakglass_without_own_policy_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": "/conditional_access/policies/2"}])
	_ids(findings) == {fixtures.breakglass_id}
}

test_per_user_field_absent_violation if {
	findings := deny with input as json.patch(fixtures.base, [_report_only, {"op": "remove", "path": "/users/2/per_user_mfa_state"}])
	some f in findings
	f.resource_id == fixtures.lena_id
	endswith(f.message, "per-user MFA is not collected")
}

test_guest_and_disabled_compliant if {
	# With no MFA policy at all, only the four enabled members are flagged.
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies", "value": []}])
	_ids(findings) == {fixtures.dana_id, fixtures.breakglass_id, fixtures.lena_id, fixtures.raj_id}
}
