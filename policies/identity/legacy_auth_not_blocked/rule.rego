# Tenant-wide: nothing blocks legacy authentication protocols everywhere.
package m365guard.rules.legacy_auth_not_blocked

import data.m365guard.lib.legacy_auth_block_policies_narrowed
import data.m365guard.lib.legacy_auth_block_policies_not_enforced
import data.m365guard.lib.legacy_auth_block_policy_ids
import data.m365guard.lib.security_defaults_enabled
import data.m365guard.lib.tenant_name
import rego.v1

deny contains finding if {
	not security_defaults_enabled
	count(legacy_auth_block_policy_ids) == 0
	inactive := sort(legacy_auth_block_policies_not_enforced)
	finding := {
		"resource_type": "tenant",
		"resource_id": input.tenant.id,
		"resource_name": tenant_name,
		"message": sprintf(
			"Tenant %s does not block legacy authentication: security defaults are off and no enabled conditional access policy blocks Exchange ActiveSync and other legacy clients for all users%s%s",
			[tenant_name, _narrowed_note, _inactive_note(inactive)],
		),
		"details": {
			"security_defaults_enabled": false,
			"block_policies_not_enforced": inactive,
			"block_policies_narrowed": _narrowed,
		},
	}
}

# Always defined (a partial rule without entries is not an empty object in regorus).
_narrowed := {name: gaps | some name, gaps in legacy_auth_block_policies_narrowed}

_inactive_note(names) := "" if count(names) == 0

_inactive_note(names) := sprintf(" (%s is report-only or disabled)", [concat(", ", names)]) if count(names) > 0

default _narrowed_note := ""

# An enabled block policy with a location, platform, risk, device or application
# condition: legacy sign-ins outside it still work; the gaps are named.
_narrowed_note := sprintf(" everywhere (%s)", [concat("; ", [sprintf("%s: %s", [name, concat(", ", gaps)]) |
	some name, gaps in _narrowed
])]) if count(_narrowed) > 0
