package m365guard.rules.too_few_global_admins

import data.m365guard.lib.fixtures
import rego.v1

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_one_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": "/roles/assignments/1"}])
	count(findings) == 1
	some f in findings
	f.resource_type == "tenant"
	f.resource_id == fixtures.tenant_id
	f.message == "Tenant Contoso Ltd has only one enabled user with an active Global Administrator assignment; Microsoft recommends at least two so that one locked-out account cannot lock out the organisation"
	f.details.global_admins == ["dana.whitfield@contoso.com"]
}

test_none_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": "/roles/assignments/1"}, {"op": "remove", "path": "/roles/assignments/0"}])
	some f in findings
	f.details.count == 0
	contains(f.message, "has no enabled user")
}

test_disabled_admin_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/0/account_enabled", "value": false}])
}

test_service_principal_not_counted_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [
		{"op": "remove", "path": "/roles/assignments/1"},
		{"op": "add", "path": "/roles/assignments/-", "value": {
			"id": "sp", "role_definition_id": fixtures.ga_role_id,
			"principal_id": "c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5", "principal_type": "service_principal",
		}},
	])
}

test_group_member_counts_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "remove", "path": "/roles/assignments/1"},
		{"op": "add", "path": "/roles/assignments/-", "value": {
			"id": "g", "role_definition_id": fixtures.ga_role_id, "principal_id": "grp-tier0",
			"principal_type": "group", "group_member_ids": [fixtures.raj_id],
		}},
	])
}

test_eligible_not_counted_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [
		{"op": "remove", "path": "/roles/assignments/1"},
		{"op": "add", "path": "/roles/eligible_assignments/-", "value": {
			"id": "e", "role_definition_id": fixtures.ga_role_id, "principal_id": fixtures.raj_id, "principal_type": "user",
		}},
	])
}

test_unknown_user_counts_compliant if {
	# A holder missing from the user list is not known to be disabled.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "remove", "path": "/users/1"}])
}
