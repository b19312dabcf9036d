package m365guard.rules.guest_in_privileged_role

import data.m365guard.lib.fixtures
import rego.v1

_sam_upn := "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com"

_assign(path, a) := json.patch(fixtures.base, [{"op": "add", "path": path, "value": a}])

_sam_exo := {
	"id": "assign-exo-sam", "role_definition_id": fixtures.exchange_admin_role_id,
	"principal_id": fixtures.sam_id, "principal_type": "user", "principal_name": "Sam Rivera (Fabrikam)",
}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_active_guest_violation if {
	findings := deny with input as _assign("/roles/assignments/-", _sam_exo)
	count(findings) == 1
	some f in findings
	f.resource_type == "role_assignment"
	f.resource_id == "assign-exo-sam"
	f.resource_name == sprintf("Exchange Administrator (%s)", [_sam_upn])
	f.message == sprintf("Guest %s holds an active assignment to the privileged role Exchange Administrator", [_sam_upn])
	f.details.via_group == null
}

test_eligible_guest_violation if {
	findings := deny with input as _assign("/roles/eligible_assignments/-", _sam_exo)
	count(findings) == 1
	some f in findings
	f.resource_type == "role_eligibility"
	contains(f.message, "is eligible (PIM) for the privileged role Exchange Administrator")
}

test_eligible_absent_compliant if {
	# Without PIM data the eligible list may be absent altogether.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "remove", "path": "/roles/eligible_assignments"}])
}

test_group_with_guest_violation if {
	findings := deny with input as _assign("/roles/assignments/-", {
		"id": "assign-ga-group", "role_definition_id": fixtures.ga_role_id, "principal_id": "grp-tier0",
		"principal_type": "group", "principal_name": "SG-Tier0-Admins",
		"group_member_ids": [fixtures.raj_id, fixtures.sam_id],
	})
	count(findings) == 1
	some f in findings
	f.details.guests == [_sam_upn]
	f.details.via_group == "SG-Tier0-Admins"
	endswith(f.message, "the privileged role Global Administrator through group SG-Tier0-Admins")
}

test_unprivileged_role_compliant if {
	count(deny) == 0 with input as _assign("/roles/assignments/-", object.union(_sam_exo, {"role_definition_id": fixtures.global_reader_role_id}))
}

test_member_compliant if {
	count(deny) == 0 with input as _assign("/roles/assignments/-", object.union(_sam_exo, {"principal_id": fixtures.lena_id}))
}
