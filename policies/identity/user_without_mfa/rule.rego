# Enabled member accounts with no MFA method registered.
package m365guard.rules.user_without_mfa

import rego.v1

# Three cases, one pass each over every user of the tenant, with the rarest condition
# first and the finding built inline (a function call per finding costs more than the
# whole test).

# In the registration report, nothing registered.
deny contains finding if {
	some user in input.users
	user.mfa.is_mfa_registered == false
	user.account_enabled == true
	user.user_type == "member"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["User ", user.user_principal_name, " has no MFA method registered"]),
		"details": {"in_registration_report": true},
	}
}

# In the report, marked registered but without any method listed.
deny contains finding if {
	some user in input.users
	user.mfa.is_mfa_registered == true
	count(object.get(user.mfa, "methods", [])) == 0
	user.account_enabled == true
	user.user_type == "member"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["User ", user.user_principal_name, " has no MFA method registered"]),
		"details": {"in_registration_report": true},
	}
}

# Not in the report at all (`mfa` null or absent).
deny contains finding if {
	some user in input.users
	user.account_enabled == true
	user.user_type == "member"
	object.get(user, "mfa", null) == null
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["User ", user.user_principal_name, " is missing from the MFA registration report, so no MFA method is known for it"]),
		"details": {"in_registration_report": false},
	}
}
