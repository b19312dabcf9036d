# Enabled member accounts with no MFA method registered.
package m365guard.rules.user_without_mfa

import rego.v1

# Each way of lacking MFA collects positions in `input.users`, reading native indexes
# instead of looping over every user (`m365guard.index_by`, `m365guard.positions_unset`:
# one pass each over 100k users); a user failing two tests is one position. Only then is
# each flagged user's finding built, once, inline: a finding per failed test through a
# helper function cost more than the tests.

# Users by registration flag and by method list.
_user_index := m365guard.index_by(input.users, [["mfa", "is_mfa_registered"], ["mfa", "methods"]])

# Users whose `mfa.methods` or whose `mfa` is undefined, null or false: the candidates of
# the `not ...` and `== null` tests below, which are still made on each candidate.
_unset := m365guard.positions_unset(input.users, [["mfa", "methods"], ["mfa"]])

# In the registration report, nothing registered.
_no_method contains i if {
	some i in _user_index[0][false]
}

# In the report, but without any method listed.
_no_method contains i if {
	some i in _user_index[1][[]]
}

_no_method contains i if {
	users := input.users
	some i in _unset[0]
	user := users[i]
	user.mfa.is_mfa_registered == true
	not user.mfa.methods
}

# Not in the report at all: `mfa` null, or absent.
_not_in_report contains i if {
	users := input.users
	some i in _unset[1]
	users[i].mfa == null
}

_not_in_report contains i if {
	users := input.users
	some i in _unset[1]
	not users[i].mfa
}

deny contains finding if {
	users := input.users
	some i in _no_method
	user := users[i]
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

deny contains finding if {
	users := input.users
	some i in _not_in_report
	user := users[i]
	user.account_enabled == true
	user.user_type == "member"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["User ", user.user_principal_name, " is missing from the MFA registration report, so no MFA method is known for it"]),
		"details": {"in_registration_report": false},
	}
}
