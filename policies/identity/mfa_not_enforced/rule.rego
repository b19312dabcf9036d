# Users for whom nothing enforces MFA everywhere: no security defaults, no enforced
# conditional access policy that covers them on every sign-in, no per-user MFA.
package m365guard.rules.mfa_not_enforced

import data.m365guard.lib.ca_exclusion_reasons
import data.m365guard.lib.mfa_for_all_policies_not_enforced
import data.m365guard.lib.mfa_partial_policies
import data.m365guard.lib.mfa_policies
import data.m365guard.lib.security_defaults_enabled
import data.m365guard.lib.users_by_id
import rego.v1

# Coverage is resolved per policy (a handful) rather than per user (100k): a user escapes
# every all-users policy only by being excluded from each, so the gap is the intersection
# of their exclusion sets, minus users an explicitly scoped policy covers.

_all_users_exclusions := {scope.excluded | some scope in mfa_policies; scope.all_users}

_explicitly_covered := {uid |
	some scope in mfa_policies
	not scope.all_users
	some uid in scope.included
	not uid in scope.excluded
}

# Users no all-users policy covers, when at least one exists.
_gap := intersection(_all_users_exclusions) - _explicitly_covered if count(_all_users_exclusions) > 0

# The deny bodies are the per-user hot loop (100k users, possibly as many findings): the
# shared parts are bound before the loop and the finding is built inline. A user covered
# by a narrowed policy gets the "not enforced everywhere" finding instead; that set is
# built once per narrowed policy.

# With an all-users MFA policy: only its exclusions can be uncovered, so the users are
# looked up by the gap's ids (`users_by_id`: ids are unique in a snapshot) instead of
# testing every user of the tenant.
deny contains finding if {
	not security_defaults_enabled
	count(_all_users_exclusions) > 0
	gap := _gap
	partial := _partially_covered
	reason := _reason
	texts := _per_user_text
	users := users_by_id
	some uid in gap
	user := users[uid]
	user.account_enabled == true
	user.user_type == "member"
	not partial[user.id]
	state := object.get(user, "per_user_mfa_state", null)
	state != "enforced"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["MFA is not enforced for ", user.user_principal_name, reason, texts[state], _exclusion_note(user.id)]),
	}
}

deny contains finding if {
	not security_defaults_enabled
	count(_all_users_exclusions) > 0
	gap := _gap
	partial := _partially_covered
	users := users_by_id
	some uid in gap
	user := users[uid]
	partial[user.id]
	user.account_enabled == true
	user.user_type == "member"
	state := object.get(user, "per_user_mfa_state", null)
	state != "enforced"
	finding := _partial_finding(user, state)
}

# Without one: everyone not named by an explicitly scoped policy.
deny contains finding if {
	not security_defaults_enabled
	count(_all_users_exclusions) == 0
	covered := _explicitly_covered
	partial := _partially_covered
	reason := _reason
	texts := _per_user_text
	some user in input.users
	user.account_enabled == true
	user.user_type == "member"
	not covered[user.id]
	not partial[user.id]
	state := object.get(user, "per_user_mfa_state", null)
	state != "enforced"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["MFA is not enforced for ", user.user_principal_name, reason, texts[state], _exclusion_note(user.id)]),
	}
}

deny contains finding if {
	not security_defaults_enabled
	count(_all_users_exclusions) == 0
	covered := _explicitly_covered
	partial := _partially_covered
	some user in input.users
	user.account_enabled == true
	user.user_type == "member"
	not covered[user.id]
	partial[user.id]
	state := object.get(user, "per_user_mfa_state", null)
	state != "enforced"
	finding := _partial_finding(user, state)
}

# Users some enabled but narrowed MFA policy covers (a location, platform, risk, device,
# application or client-app condition, or an `OR` alternative to MFA).
_partially_covered := {u.id |
	some scope in mfa_partial_policies
	scope.all_users
	some u in input.users
	not u.id in scope.excluded
} | {uid |
	some scope in mfa_partial_policies
	not scope.all_users
	some uid in scope.included
	not uid in scope.excluded
}

_partial_for(uid) := [id |
	some id, scope in mfa_partial_policies
	_covers(scope, uid)
]

_covers(scope, uid) if {
	scope.all_users
	not uid in scope.excluded
}

_covers(scope, uid) if {
	uid in scope.included
	not uid in scope.excluded
}

# Only narrowed policies cover the user: the gaps are named. Lower severity when the only
# weakness is an `OR` alternative (a compliant or hybrid-joined device instead of MFA).
_partial_finding(user, state) := {
	"resource_type": "user",
	"resource_id": user.id,
	"resource_name": user.user_principal_name,
	"severity": _partial_severity(partial),
	"message": concat("", [
		"MFA is not enforced everywhere for ", user.user_principal_name, ": ",
		concat("; ", [sprintf("%s: %s", [mfa_partial_policies[id].name, concat(", ", mfa_partial_policies[id].issues)]) | some id in partial]),
		"; security defaults are off and per-user MFA is ", _per_user_text[state],
		_exclusion_note(user.id),
	]),
} if {
	partial := _partial_for(user.id)
}

_partial_severity(partial) := "medium" if {
	every id in partial {
		mfa_partial_policies[id].only_alternatives
	}
}

_partial_severity(partial) := "high" if {
	some id in partial
	not mfa_partial_policies[id].only_alternatives
}

# Enabled MFA policies for all users that leave this user out, and how: the exclusion is
# what an attacker adds (a nested group is easy to miss in the portal).
# Most flagged users are excluded from nothing (a report-only policy flags everyone): one
# set lookup decides, so only the excluded few pay for naming the reasons.
_excluded_somewhere := union({_scope_of(id).excluded | some id in _all_users_mfa_policy_ids})

_exclusion_note(uid) := "" if not _excluded_somewhere[uid]

_exclusion_note(uid) := "" if {
	_excluded_somewhere[uid]
	count(_exclusions(uid)) == 0
}

_exclusion_note(uid) := sprintf(" (excluded from %s)", [concat("; ", _exclusions(uid))]) if {
	_excluded_somewhere[uid]
	count(_exclusions(uid)) > 0
}

_exclusions(uid) := sort([sprintf("%s %s", [p.display_name, concat(", ", reasons)]) |
	some p in input.conditional_access.policies
	_all_users_mfa_policy_ids[p.id]
	uid in _scope_of(p.id).excluded
	reasons := ca_exclusion_reasons(p, uid)
	count(reasons) > 0
])

_all_users_mfa_policy_ids contains id if {
	some id, scope in mfa_policies
	scope.all_users
}

_all_users_mfa_policy_ids contains id if {
	some id, scope in mfa_partial_policies
	scope.all_users
}

_scope_of(id) := mfa_policies[id]

_scope_of(id) := mfa_partial_policies[id] if not mfa_policies[id]

# The part of the message shared by every finding, built once.
_reason := sprintf(
	": security defaults are off, no enabled conditional access policy requiring MFA applies to the user%s, and per-user MFA is ",
	[_not_enforced_note],
)

_per_user_text := {"disabled": "disabled", "enabled": "enabled but not enforced", null: "not collected"}

_not_enforced_names := sort(mfa_for_all_policies_not_enforced)

default _not_enforced_note := ""

_not_enforced_note := sprintf(" (%s is report-only or disabled)", [concat(", ", _not_enforced_names)]) if {
	count(_not_enforced_names) > 0
}
