# Guest (B2B) users holding a privileged directory role, active or eligible.
package m365guard.rules.guest_in_privileged_role

import data.m365guard.lib
import data.m365guard.lib.privileged_role_ids
import data.m365guard.lib.users_by_id
import rego.v1

deny contains finding if {
	some kind, assignments in {
		"role_assignment": input.roles.assignments,
		"role_eligibility": object.get(input.roles, "eligible_assignments", []),
	}
	some a in assignments
	a.role_definition_id in privileged_role_ids
	guests := sort({users_by_id[uid].user_principal_name |
		some uid in lib.assignment_user_ids(a)
		users_by_id[uid].user_type == "guest"
	})
	count(guests) > 0
	role := lib.role_name(a.role_definition_id)
	finding := {
		"resource_type": kind,
		"resource_id": a.id,
		"resource_name": sprintf("%s (%s)", [role, lib.principal_display(a.principal_id)]),
		"message": sprintf("Guest %s %s the privileged role %s%s", [
			concat(", ", guests),
			_holds(kind),
			role,
			_via(a),
		]),
		"details": {
			"guests": guests,
			"role": role,
			"via_group": _group(a),
		},
	}
}

_holds("role_assignment") := "holds an active assignment to"

_holds("role_eligibility") := "is eligible (PIM) for"

_via(a) := sprintf(" through group %s", [lib.principal_display(a.principal_id)]) if a.principal_type == "group"

_via(a) := "" if a.principal_type != "group"

_group(a) := lib.principal_display(a.principal_id) if a.principal_type == "group"

_group(a) := null if a.principal_type != "group"
