package m365guard.rules.privileged_role_permanent

import data.m365guard.lib.fixtures
import rego.v1

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_permanent_ga_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "remove", "path": "/roles/assignments/0/end_date_time"}])
	count(findings) == 1
	some f in findings
	f.resource_type == "role_assignment"
	f.resource_id == "lAPpYvVpN0KRkAEhdxReEG46HyNcTU5OinucDR4vOksmNjI2"
	f.resource_name == "Global Administrator (dana.whitfield@contoso.com)"
	f.message == "User dana.whitfield@contoso.com holds the privileged role Global Administrator permanently (active assignment with no end date); make it eligible through PIM instead"
}

test_null_end_date_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/roles/assignments/0/end_date_time", "value": null}])
}

test_role_marked_privileged_violation if {
	# raj's Global Reader assignment (index 2) is permanent but the role is not privileged;
	# once the role counts as privileged, the standing assignment is flagged.
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/roles/definitions/2/is_privileged", "value": true}])
	count(findings) == 1
	some f in findings
	f.resource_name == "Global Reader (raj.patel@contoso.com)"
}

test_permanent_eligible_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "remove", "path": "/roles/eligible_assignments/0/end_date_time"}])
}

test_group_permanent_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": "/roles/assignments/-", "value": {
		"id": "g", "role_definition_id": fixtures.ga_role_id, "principal_id": "grp", "principal_type": "group",
		"group_member_ids": [fixtures.raj_id],
	}}])
}

test_unknown_user_named_by_principal_name_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": "/roles/assignments/-", "value": {
		"id": "x", "role_definition_id": fixtures.pra_role_id, "principal_id": "deleted-user-id",
		"principal_type": "user", "principal_name": "Old Admin",
	}}])
	some f in findings
	f.resource_name == "Privileged Role Administrator (Old Admin)"
}
