package m365guard.rules.too_many_global_admins

import data.m365guard.lib.fixtures
import rego.v1

_ga(id, principal, type) := {
	"id": id, "role_definition_id": fixtures.ga_role_id,
	"principal_id": principal, "principal_type": type,
}

_add_ga(items) := json.patch(fixtures.base, [{"op": "add", "path": "/roles/assignments/-", "value": a} | some a in items])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_four_compliant if {
	# dana + breakglass01 + lena + raj = 4.
	count(deny) == 0 with input as _add_ga([_ga("a1", fixtures.lena_id, "user"), _ga("a2", fixtures.raj_id, "user")])
}

test_five_users_violation if {
	findings := deny with input as _add_ga([
		_ga("a1", fixtures.lena_id, "user"),
		_ga("a2", fixtures.raj_id, "user"),
		_ga("a3", fixtures.sam_id, "user"),
	])
	count(findings) == 1
	some f in findings
	f.resource_type == "tenant"
	f.resource_id == fixtures.tenant_id
	f.resource_name == "Contoso Ltd"
	f.message == "Tenant Contoso Ltd has 5 Global Administrators with an active assignment; Microsoft recommends fewer than five"
	f.details.count == 5
	"sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com" in f.details.global_admins
}

test_group_members_count_violation if {
	findings := deny with input as _add_ga([object.union(_ga("g1", "grp-tier0", "group"), {"group_member_ids": [fixtures.lena_id, fixtures.raj_id, fixtures.sam_id]})])
	some f in findings
	f.details.count == 5
}

test_duplicate_principal_counted_once_compliant if {
	# dana directly and through a group is one principal: 2 + lena + raj = 4.
	count(deny) == 0 with input as _add_ga([
		object.union(_ga("g1", "grp-tier0", "group"), {"group_member_ids": [fixtures.dana_id, fixtures.lena_id]}),
		_ga("a2", fixtures.raj_id, "user"),
	])
}

test_service_principal_counts_violation if {
	findings := deny with input as _add_ga([
		_ga("a1", fixtures.lena_id, "user"),
		_ga("a2", fixtures.raj_id, "user"),
		object.union(_ga("a3", "c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5", "service_principal"), {"principal_name": "Legacy Automation App"}),
	])
	some f in findings
	"Legacy Automation App" in f.details.global_admins
}

test_eligible_not_counted_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "add", "path": "/roles/eligible_assignments/-", "value": _ga("e1", fixtures.lena_id, "user")},
		{"op": "add", "path": "/roles/eligible_assignments/-", "value": _ga("e2", fixtures.raj_id, "user")},
		{"op": "add", "path": "/roles/eligible_assignments/-", "value": _ga("e3", fixtures.sam_id, "user")},
	])
}

test_other_role_not_counted_compliant if {
	count(deny) == 0 with input as _add_ga([
		object.union(_ga("a1", fixtures.lena_id, "user"), {"role_definition_id": fixtures.pra_role_id}),
		object.union(_ga("a2", fixtures.raj_id, "user"), {"role_definition_id": fixtures.pra_role_id}),
		object.union(_ga("a3", fixtures.sam_id, "user"), {"role_definition_id": fixtures.pra_role_id}),
	])
}
