# Holders of privileged directory roles who cannot complete MFA.
package m365guard.rules.admin_without_mfa

import data.m365guard.lib
import data.m365guard.lib.privileged_roles_by_user
import data.m365guard.lib.users_by_id
import rego.v1

deny contains finding if {
	some uid, roles in privileged_roles_by_user
	user := users_by_id[uid]
	problem := _mfa_problem(user, lib.mfa_of(user))
	role_list := sort(roles)
	finding := {
		"resource_type": "user",
		"resource_id": uid,
		"resource_name": user.user_principal_name,
		"message": sprintf("Privileged user %s (%s) %s", [
			user.user_principal_name,
			concat(", ", role_list),
			problem,
		]),
		"details": {
			"roles": role_list,
			"in_registration_report": lib.in_mfa_report(user),
			"methods": lib.mfa_methods(user),
		},
	}
}

# A user in the registration report who is not MFA-capable.
_mfa_problem(_, mfa) := "is not MFA-capable: no usable MFA method is registered" if {
	mfa != null
	mfa.is_mfa_capable == false
}

# An enabled user missing from the report (the report omits disabled users, so for those
# a missing record says nothing).
_mfa_problem(user, mfa) := "is enabled but missing from the MFA registration report, so cannot be shown to be MFA-capable" if {
	mfa == null
	user.account_enabled == true
}
