# Enabled member accounts with no MFA method registered.
package m365guard.rules.user_without_mfa

import rego.v1

# One body per way of lacking MFA; the loops over every user of the tenant put the rarest
# condition first and use only plain field tests (no builtin or function call until a user
# fails): at 100k users a builtin per user costs more than the whole pass. A user failing
# two tests yields the same finding twice, which the set keeps once.

# Users by registration flag and by method list, in one native pass (`m365guard.index_by`)
# instead of one interpreted loop over 100k users per test.
_user_index := m365guard.index_by(input.users, [["mfa", "is_mfa_registered"], ["mfa", "methods"]])

# In the registration report, nothing registered.
deny contains _finding(user, _no_method) if {
	some i in _user_index[0][false]
	user := input.users[i]
	user.account_enabled == true
	user.user_type == "member"
}

# In the report, but without any method listed.
deny contains _finding(user, _no_method) if {
	some i in _user_index[1][[]]
	user := input.users[i]
	user.account_enabled == true
	user.user_type == "member"
}

# Users whose `mfa.methods` or whose `mfa` is undefined, null or false (one native pass,
# `m365guard.positions_unset`): the candidates of the `not ...` and `== null` tests below,
# which are still made on each candidate.
_unset := m365guard.positions_unset(input.users, [["mfa", "methods"], ["mfa"]])

deny contains _finding(user, _no_method) if {
	some i in _unset[0]
	user := input.users[i]
	user.mfa.is_mfa_registered == true
	not user.mfa.methods
	user.account_enabled == true
	user.user_type == "member"
}

# Not in the report at all: `mfa` null, or absent.
deny contains _finding(user, _not_in_report) if {
	some i in _unset[1]
	user := input.users[i]
	user.mfa == null
	user.account_enabled == true
	user.user_type == "member"
}

deny contains _finding(user, _not_in_report) if {
	some i in _unset[1]
	user := input.users[i]
	not user.mfa
	user.account_enabled == true
	user.user_type == "member"
}

_no_method := {"text": " has no MFA method registered", "in_report": true}

_not_in_report := {
	"text": " is missing from the MFA registration report, so no MFA method is known for it",
	"in_report": false,
}

_finding(user, problem) := {
	"resource_type": "user",
	"resource_id": user.id,
	"resource_name": user.user_principal_name,
	"message": concat("", ["User ", user.user_principal_name, problem.text]),
	"details": {"in_registration_report": problem.in_report},
}
