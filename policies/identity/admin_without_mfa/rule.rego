# Holders of privileged directory roles (active, or eligible through PIM) who cannot
# complete MFA.
package m365guard.rules.admin_without_mfa

import data.m365guard.lib
import data.m365guard.lib.eligible_privileged_roles_by_user
import data.m365guard.lib.privileged_roles_by_user
import data.m365guard.lib.users_by_id
import rego.v1

# Active holders: critical, as the rule says.
deny contains finding if {
	some uid, roles in privileged_roles_by_user
	user := users_by_id[uid]
	problem := _mfa_problem(user, lib.mfa_of(user))
	role_list := sort(roles)
	# (a comprehension, not object.get: a partial rule with no entries is undefined in regorus)
	eligible := sort({r | some r in eligible_privileged_roles_by_user[uid]} - roles)
	finding := {
		"resource_type": "user",
		"resource_id": uid,
		"resource_name": user.user_principal_name,
		"message": sprintf("Privileged user %s (%s%s) %s", [
			user.user_principal_name,
			concat(", ", role_list),
			_also_eligible(eligible),
			problem,
		]),
		"details": {
			"roles": role_list,
			"eligible_roles": eligible,
			"in_registration_report": lib.in_mfa_report(user),
			"methods": lib.mfa_methods(user),
		},
	}
}

# Eligible-only holders: one activation away from the role. PIM can require MFA on
# activation, but a user with no MFA method lets whoever holds the password register one
# and activate; an attacker who planted the eligibility relies on exactly that. High, not
# critical: nothing is granted until activation.
deny contains finding if {
	some uid, eligible in eligible_privileged_roles_by_user
	not privileged_roles_by_user[uid]
	user := users_by_id[uid]
	problem := _mfa_problem(user, lib.mfa_of(user))
	role_list := sort(eligible)
	finding := {
		"resource_type": "user",
		"resource_id": uid,
		"resource_name": user.user_principal_name,
		"severity": "high",
		"message": sprintf("User %s, eligible through PIM for %s, %s", [
			user.user_principal_name,
			concat(", ", role_list),
			problem,
		]),
		"details": {
			"roles": [],
			"eligible_roles": role_list,
			"in_registration_report": lib.in_mfa_report(user),
			"methods": lib.mfa_methods(user),
		},
	}
}

_also_eligible(eligible) := "" if count(eligible) == 0

_also_eligible(eligible) := sprintf("; eligible for %s", [concat(", ", eligible)]) if count(eligible) > 0

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
