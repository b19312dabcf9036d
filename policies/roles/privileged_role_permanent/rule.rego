# Standing (permanent, active) privileged role assignments to users, when PIM is in use.
package m365guard.rules.privileged_role_permanent

import data.m365guard.lib
import data.m365guard.lib.privileged_role_ids
import rego.v1

deny contains finding if {
	some a in input.roles.assignments
	a.principal_type == "user"
	a.role_definition_id in privileged_role_ids
	object.get(a, "end_date_time", null) == null
	role := lib.role_name(a.role_definition_id)
	who := lib.principal_display(a.principal_id)
	finding := {
		"resource_type": "role_assignment",
		"resource_id": a.id,
		"resource_name": sprintf("%s (%s)", [role, who]),
		"message": sprintf("User %s holds the privileged role %s permanently (active assignment with no end date); make it eligible through PIM instead", [who, role]),
		"details": {"principal_id": a.principal_id, "role": role, "directory_scope_id": object.get(a, "directory_scope_id", "/")},
	}
}
