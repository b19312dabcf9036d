package m365guard.rules.admin_without_mfa

import data.m365guard.lib.fixtures
import rego.v1

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_admin_not_capable_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/0/mfa/is_mfa_capable", "value": false}])
	count(findings) == 1
	some f in findings
	f.resource_type == "user"
	f.resource_id == fixtures.dana_id
	f.resource_name == "dana.whitfield@contoso.com"
	f.message == "Privileged user dana.whitfield@contoso.com (Global Administrator) is not MFA-capable: no usable MFA method is registered"
	f.details.roles == ["Global Administrator"]
	f.details.in_registration_report == true
}

test_enabled_admin_missing_from_report_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/0/mfa", "value": null}])
	count(findings) == 1
	some f in findings
	f.resource_id == fixtures.dana_id
	contains(f.message, "missing from the MFA registration report")
	f.details.in_registration_report == false
	f.details.methods == []
}

test_admin_mfa_field_absent_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": "/users/0/mfa"}])
	count(findings) == 1
}

test_disabled_admin_missing_from_report_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/0/mfa", "value": null},
		{"op": "replace", "path": "/users/0/account_enabled", "value": false},
	])
}

test_disabled_admin_not_capable_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/0/mfa/is_mfa_capable", "value": false},
		{"op": "replace", "path": "/users/0/account_enabled", "value": false},
	])
}

test_unprivileged_role_compliant if {
	# raj holds Global Reader (not privileged) actively; his Exchange Administrator
	# eligibility is removed here (eligible_only tests judge it).
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/3/mfa/is_mfa_capable", "value": false},
		{"op": "replace", "path": "/roles/eligible_assignments", "value": []},
	])
}

test_eligible_only_violation if {
	# raj is only eligible for Exchange Administrator (fixture) and cannot do MFA: whoever
	# holds his password can register a method and activate the role.
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/3/mfa", "value": null}])
	count(findings) == 1
	some f in findings
	f.resource_id == fixtures.raj_id
	f.severity == "high"
	f.details.roles == []
	f.details.eligible_roles == ["Exchange Administrator"]
	startswith(f.message, "User raj.patel@contoso.com, eligible through PIM for Exchange Administrator, is enabled but missing")
}

test_eligible_only_mfa_capable_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": "/roles/eligible_assignments/-", "value": {
		"id": "elig-ga-raj", "role_definition_id": fixtures.ga_role_id,
		"principal_id": fixtures.raj_id, "principal_type": "user",
	}}])
}

test_eligible_unprivileged_role_compliant if {
	# Global Reader is not privileged, eligible or not.
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/3/mfa", "value": null},
		{"op": "replace", "path": "/roles/eligible_assignments", "value": [{
			"id": "elig-gr-raj", "role_definition_id": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
			"principal_id": fixtures.raj_id, "principal_type": "user",
		}]},
	])
}

test_active_and_eligible_one_critical_finding_naming_both if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/0/mfa/is_mfa_capable", "value": false},
		{"op": "add", "path": "/roles/eligible_assignments/-", "value": {
			"id": "elig-pra-dana", "role_definition_id": fixtures.pra_role_id,
			"principal_id": fixtures.dana_id, "principal_type": "user",
		}},
	])
	count(findings) == 1
	some f in findings
	not f.severity
	f.details.roles == ["Global Administrator"]
	f.details.eligible_roles == ["Privileged Role Administrator"]
	contains(f.message, "(Global Administrator; eligible for Privileged Role Administrator)")
}

test_group_member_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/2/mfa/is_mfa_capable", "value": false},
		{"op": "add", "path": "/roles/assignments/-", "value": {
			"id": "assign-exo-group", "role_definition_id": fixtures.exchange_admin_role_id,
			"principal_id": "e3f4a5b6-c7d8-4e9f-a0b1-c2d3e4f5a6b7", "principal_type": "group",
			"principal_name": "SG-Exchange-Admins", "group_member_ids": [fixtures.lena_id, fixtures.raj_id],
		}},
	])
	count(findings) == 1
	some f in findings
	f.resource_id == fixtures.lena_id
	f.details.roles == ["Exchange Administrator"]
}

test_two_roles_one_finding_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/0/mfa/is_mfa_capable", "value": false},
		{"op": "add", "path": "/roles/assignments/-", "value": {
			"id": "assign-pra-dana", "role_definition_id": fixtures.pra_role_id,
			"principal_id": fixtures.dana_id, "principal_type": "user",
		}},
	])
	count(findings) == 1
	some f in findings
	f.details.roles == ["Global Administrator", "Privileged Role Administrator"]
	contains(f.message, "(Global Administrator, Privileged Role Administrator)")
}

test_service_principal_compliant if {
	# Service principals have no MFA; only users are judged.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": "/roles/assignments/-", "value": {
		"id": "assign-ga-sp", "role_definition_id": fixtures.ga_role_id,
		"principal_id": "c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5", "principal_type": "service_principal",
	}}])
}

test_no_eligibility_data_still_flags_active_holders if {
	# Without PIM data (no P2) the snapshot has no eligible assignments at all.
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/0/mfa/is_mfa_capable", "value": false},
		{"op": "remove", "path": "/roles/eligible_assignments"},
	])
	count(findings) == 1
	some f in findings
	f.details.eligible_roles == []
}
