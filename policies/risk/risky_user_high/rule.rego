# Users Identity Protection rates at high risk and not yet remediated.
package m365guard.rules.risky_user_high

import rego.v1

_open_states := {"atrisk", "confirmedcompromised"}

deny contains finding if {
	some entry in input.risky_users
	lower(entry.risk_level) == "high"
	lower(entry.risk_state) in _open_states
	finding := {
		"resource_type": "risky_user",
		"resource_id": entry.id,
		"resource_name": entry.user_principal_name,
		"message": sprintf("User %s is at high risk in Identity Protection (%s)%s", [
			entry.user_principal_name,
			_state_text(lower(entry.risk_state)),
			_updated(object.get(entry, "risk_last_updated", null)),
		]),
		"details": {
			"risk_level": entry.risk_level,
			"risk_state": entry.risk_state,
			"risk_detail": object.get(entry, "risk_detail", null),
			"risk_last_updated": object.get(entry, "risk_last_updated", null),
		},
	}
}

_state_text("atrisk") := "at risk, not remediated"

_state_text("confirmedcompromised") := "confirmed compromised by an administrator"

_updated(null) := ""

_updated(ts) := sprintf(", last updated %s", [ts]) if ts != null
