# Users for whom nothing enforces MFA: no security defaults, no enforced conditional
# access policy covering them, no per-user MFA.
package m365guard.rules.mfa_not_enforced

import data.m365guard.lib
import data.m365guard.lib.security_defaults_enabled
import data.m365guard.lib.mfa_for_all_policies_not_enforced
import rego.v1

deny contains finding if {
	not security_defaults_enabled
	some user in input.users
	lib.is_enabled_member(user)
	object.get(user, "per_user_mfa_state", null) != "enforced"
	not lib.mfa_required_by_ca(user.id)
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": sprintf(
			"MFA is not enforced for %s: security defaults are off, no enabled conditional access policy requiring MFA applies to the user%s, and per-user MFA is %s",
			[user.user_principal_name, _not_enforced_note, _per_user_state(user)],
		),
		"details": {
			"per_user_mfa_state": object.get(user, "per_user_mfa_state", null),
			"security_defaults_enabled": false,
			"mfa_policies_not_enforced": _not_enforced_names,
		},
	}
}

_not_enforced_names := sort(mfa_for_all_policies_not_enforced)

default _not_enforced_note := ""

_not_enforced_note := sprintf(" (%s is report-only or disabled)", [concat(", ", _not_enforced_names)]) if {
	count(_not_enforced_names) > 0
}

_per_user_state(user) := user.per_user_mfa_state if user.per_user_mfa_state != null

_per_user_state(user) := "not collected" if object.get(user, "per_user_mfa_state", null) == null
