# Users for whom nothing enforces MFA: no security defaults, no enforced conditional
# access policy covering them, no per-user MFA.
package m365guard.rules.mfa_not_enforced

import data.m365guard.lib.mfa_for_all_policies_not_enforced
import data.m365guard.lib.mfa_policies
import data.m365guard.lib.security_defaults_enabled
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
# shared parts are bound before the loop, the finding is built inline, and there are no
# details beyond the message (every extra object costs microseconds per finding).

# With an all-users MFA policy: only its exclusions can be uncovered.
deny contains finding if {
	not security_defaults_enabled
	count(_all_users_exclusions) > 0
	gap := _gap
	reason := _reason
	texts := _per_user_text
	some user in input.users
	gap[user.id]
	user.account_enabled == true
	user.user_type == "member"
	state := object.get(user, "per_user_mfa_state", null)
	state != "enforced"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["MFA is not enforced for ", user.user_principal_name, reason, texts[state]]),
	}
}

# Without one: everyone not named by an explicitly scoped policy.
deny contains finding if {
	not security_defaults_enabled
	count(_all_users_exclusions) == 0
	covered := _explicitly_covered
	reason := _reason
	texts := _per_user_text
	some user in input.users
	user.account_enabled == true
	user.user_type == "member"
	not covered[user.id]
	state := object.get(user, "per_user_mfa_state", null)
	state != "enforced"
	finding := {
		"resource_type": "user",
		"resource_id": user.id,
		"resource_name": user.user_principal_name,
		"message": concat("", ["MFA is not enforced for ", user.user_principal_name, reason, texts[state]]),
	}
}

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
