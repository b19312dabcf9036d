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

# ---- Conditional access judged completely (issue 10, item 1) --------------------------
# Each condition that narrows the all-users policy (policy 0) is one violation test, with
# a compliant counterpart where the condition is present but covers everything.

_mfa_policy := "/conditional_access/policies/0"

_set(field, value) := {"op": "add", "path": concat("/", [_mfa_policy, field]), "value": value}

_msg(findings, uid) := f.message if {
	some f in findings
	f.resource_id == uid
}

_sev(findings, uid) := object.get(f, "severity", "rule") if {
	some f in findings
	f.resource_id == uid
}

test_excluded_nested_group_violation if {
	# grp-mfa-exempt holds grp-contractors, which holds lena: only the transitive members
	# (ca_group_members) show she is left out.
	findings := deny with input as json.patch(fixtures.base, [_set("exclude_groups", [fixtures.mfa_exempt_group_id])])
	_ids(findings) == {fixtures.lena_id}
	_msg(findings, fixtures.lena_id) == "MFA is not enforced for lena.fischer@contoso.com: security defaults are off, no enabled conditional access policy requiring MFA applies to the user, and per-user MFA is disabled (excluded from Require MFA for all users through group grp-mfa-exempt)"
}

test_excluded_group_without_members_compliant if {
	# A group the source found empty (or a deleted one) exempts nobody.
	count(deny) == 0 with input as json.patch(fixtures.base, [
		_set("exclude_groups", [fixtures.mfa_exempt_group_id]),
		{"op": "replace", "path": "/conditional_access/groups/0/member_ids", "value": []},
	])
}

test_excluded_role_names_the_role_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("exclude_roles", [fixtures.ga_role_id])])
	endswith(_msg(findings, fixtures.dana_id), "(excluded from Require MFA for all users through role Global Administrator)")
}

test_included_nested_group_compliant if {
	# With the all-users policy report-only, a policy for grp-mfa-exempt covers lena through
	# the nested group.
	findings := deny with input as json.patch(fixtures.base, [
		_report_only,
		{"op": "replace", "path": "/conditional_access/policies/2/include_groups", "value": [fixtures.mfa_exempt_group_id]},
	])
	_ids(findings) == {fixtures.dana_id, fixtures.raj_id}
}

test_trusted_location_excluded_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_locations", ["All"]), _set("exclude_locations", [fixtures.office_hq_id])])
	_ids(findings) == {fixtures.dana_id, fixtures.lena_id, fixtures.raj_id}
	_msg(findings, fixtures.lena_id) == "MFA is not enforced everywhere for lena.fischer@contoso.com: Require MFA for all users: not required from trusted location Office-HQ; security defaults are off and per-user MFA is disabled"
	_sev(findings, fixtures.lena_id) == "high"
}

test_all_trusted_excluded_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_locations", ["All"]), _set("exclude_locations", ["AllTrusted"])])
	contains(_msg(findings, fixtures.raj_id), "Require MFA for all users: not required from trusted location Office-HQ;")
}

test_only_some_locations_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_locations", ["b7c8d9e0-1f2a-4b3c-8d4e-5f6a7b8c9d0e"])])
	contains(_msg(findings, fixtures.raj_id), "only required from location Blocked countries")
}

test_all_locations_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [_set("include_locations", ["All"])])
}

test_excluded_platform_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_platforms", ["all"]), _set("exclude_platforms", ["iOS"])])
	contains(_msg(findings, fixtures.lena_id), "not required on the platforms iOS")
}

test_only_some_platforms_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_platforms", ["windows", "macOS"])])
	contains(_msg(findings, fixtures.lena_id), "only required on the platforms windows, macOS")
}

test_all_platforms_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [_set("include_platforms", ["all"])])
}

test_user_risk_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("user_risk_levels", ["high"])])
	contains(_msg(findings, fixtures.lena_id), "only required at user risk high")
}

test_sign_in_risk_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("sign_in_risk_levels", ["medium", "high"])])
	contains(_msg(findings, fixtures.lena_id), "only required at sign-in risk medium, high")
}

test_device_filter_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("device_filter_mode", "exclude"), _set("device_filter_rule", "device.trustType -eq \"ServerAD\"")])
	contains(_msg(findings, fixtures.lena_id), "not required on devices matching device.trustType")
}

test_excluded_application_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("exclude_applications", ["00000003-0000-0ff1-ce00-000000000000"])])
	_ids(findings) == {fixtures.dana_id, fixtures.lena_id, fixtures.raj_id}
	contains(_msg(findings, fixtures.lena_id), "not required for the excluded applications 00000003-0000-0ff1-ce00-000000000000")
}

test_selected_applications_named_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("include_applications", ["Office365"])])
	contains(_msg(findings, fixtures.lena_id), "only required for the applications Office365")
}

test_or_compliant_device_lower_severity_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("built_in_controls", ["mfa", "compliantDevice", "domainJoinedDevice"])])
	_ids(findings) == {fixtures.dana_id, fixtures.lena_id, fixtures.raj_id}
	_msg(findings, fixtures.lena_id) == "MFA is not enforced everywhere for lena.fischer@contoso.com: Require MFA for all users: MFA can be skipped with a compliant device or a hybrid-joined device (grant operator OR); security defaults are off and per-user MFA is disabled"
	_sev(findings, fixtures.lena_id) == "medium"
}

test_or_with_a_gap_keeps_high_severity_violation if {
	findings := deny with input as json.patch(fixtures.base, [_set("built_in_controls", ["mfa", "compliantDevice"]), _set("exclude_locations", ["AllTrusted"])])
	_sev(findings, fixtures.lena_id) == "high"
}

test_and_compliant_device_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [_set("built_in_controls", ["mfa", "compliantDevice"]), _set("grant_operator", "AND")])
}

test_narrowed_policy_beside_a_full_one_compliant if {
	# A second, narrowed policy changes nothing while the full one covers everyone.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": "/conditional_access/policies/-", "value": {
		"id": "7a6b5c4d-3e2f-4a1b-9c0d-8e7f6a5b4c3d", "display_name": "MFA outside the office", "state": "enabled",
		"include_users": ["All"], "include_applications": ["All"], "client_app_types": ["all"],
		"built_in_controls": ["mfa"], "include_locations": ["All"], "exclude_locations": ["AllTrusted"],
	}}])
}

test_report_only_narrowed_policy_enforces_nothing_violation if {
	findings := deny with input as json.patch(fixtures.base, [_report_only, _set("exclude_locations", ["AllTrusted"])])
	startswith(_msg(findings, fixtures.lena_id), "MFA is not enforced for lena.fischer@contoso.com: security defaults are off")
}

test_excluded_external_members_violation if {
	# A B2B collaboration member (#EXT# UPN, userType member) excluded by the
	# guest/external-user condition.
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/3/user_principal_name", "value": "raj_fabrikam.example#EXT#@contoso.onmicrosoft.com"},
		_set("exclude_guest_or_external_user_types", ["internalGuest", "b2bCollaborationMember"]),
	])
	_ids(findings) == {fixtures.raj_id}
	endswith(_msg(findings, fixtures.raj_id), "(excluded from Require MFA for all users as a guest or external user)")
}

test_excluded_guests_only_compliant if {
	# Excluding B2B guests leaves every member covered (guests are not judged here).
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/3/user_principal_name", "value": "raj_fabrikam.example#EXT#@contoso.onmicrosoft.com"},
		_set("exclude_guest_or_external_user_types", ["b2bCollaborationGuest"]),
	])
}

test_legacy_guests_keyword_excludes_external_members_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/3/user_principal_name", "value": "raj_fabrikam.example#EXT#@contoso.onmicrosoft.com"},
		{"op": "add", "path": concat("/", [_mfa_policy, "exclude_users", "-"]), "value": "GuestsOrExternalUsers"},
	])
	_ids(findings) == {fixtures.raj_id}
}

test_only_policy_without_any_gap_compliant if {
	# A tenant whose only policy has no narrowing condition at all (so no policy has a
	# gap): the policy still counts. Only breakglass01, excluded, is flagged.
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/conditional_access/policies", "value": [fixtures.base.conditional_access.policies[0]]}])
	_ids(findings) == {fixtures.breakglass_id}
}

# The uncovered users are looked up by the gap's ids: an excluded id that is no user (a
# deleted account's leftover) is passed over, the excluded user is still found.
test_excluded_id_of_no_user_passed_over if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": "/conditional_access/policies/0/exclude_users/-", "value": "00000000-dead-4000-8000-000000000000"},
		{"op": "add", "path": "/conditional_access/policies/0/exclude_users/-", "value": fixtures.lena_id},
	])
	_ids(findings) == {fixtures.lena_id}
}
