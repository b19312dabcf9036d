# Tenant-wide: more than four principals hold Global Administrator.
package m365guard.rules.too_many_global_admins

import data.m365guard.lib
import data.m365guard.lib.global_admin_principal_ids
import data.m365guard.lib.tenant_name
import rego.v1

# Microsoft recommends fewer than five Global Administrators.
max_global_admins := 4

deny contains finding if {
	n := count(global_admin_principal_ids)
	n > max_global_admins
	names := sort({lib.principal_display(pid) | some pid in global_admin_principal_ids})
	finding := {
		"resource_type": "tenant",
		"resource_id": input.tenant.id,
		"resource_name": tenant_name,
		"message": sprintf("Tenant %s has %d Global Administrators with an active assignment; Microsoft recommends fewer than five", [tenant_name, n]),
		"details": {"count": n, "global_admins": names},
	}
}
