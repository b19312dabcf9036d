# Enabled member accounts with no MFA method registered.
package m365guard.rules.user_without_mfa

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some user in input.users
	lib.is_enabled_member(user)
	problem := _problem(lib.mfa_of(user))
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": sprintf("User %s %s", [user.user_principal_name, problem]),
		"details": {
			"in_registration_report": lib.in_mfa_report(user),
			"methods": lib.mfa_methods(user),
		},
	}
}

_problem(mfa) := "has no MFA method registered" if {
	mfa != null
	not _registered(mfa)
}

_problem(null) := "is missing from the MFA registration report, so no MFA method is known for it"

_registered(mfa) if {
	mfa.is_mfa_registered == true
	count(object.get(mfa, "methods", [])) > 0
}
