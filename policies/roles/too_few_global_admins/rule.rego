# Tenant-wide: fewer than two usable Global Administrators.
package m365guard.rules.too_few_global_admins

import data.m365guard.lib
import data.m365guard.lib.global_admin_user_ids
import data.m365guard.lib.tenant_name
import data.m365guard.lib.users_by_id
import rego.v1

min_global_admins := 2

deny contains finding if {
	usable := {uid | some uid in global_admin_user_ids; not _disabled(uid)}
	n := count(usable)
	n < min_global_admins
	finding := {
		"resource_type": "tenant",
		"resource_id": input.tenant.id,
		"resource_name": tenant_name,
		"message": sprintf("Tenant %s has %s; Microsoft recommends at least two so that one locked-out account cannot lock out the organisation", [tenant_name, _count_text(n)]),
		"details": {"count": n, "global_admins": sort({lib.principal_display(uid) | some uid in usable})},
	}
}

# A user known to be disabled cannot sign in to help; an id missing from the user list
# still counts (the role data is all we know about it).
_disabled(uid) if users_by_id[uid].account_enabled == false

_count_text(0) := "no enabled user with an active Global Administrator assignment"

_count_text(1) := "only one enabled user with an active Global Administrator assignment"
