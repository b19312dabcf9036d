# An MFA method registered on the account within hours after a suspicious sign-in.
package m365guard.investigation.mfa_method_registered_after_risky_signin

import data.m365guard.investigation.lib
import rego.v1

# Hours after a suspicious sign-in in which a registration counts as the attacker's.
within_hours := 24

# Authentication Methods activities that add a method (directory audit
# `activityDisplayName`, lower-case).
_registrations := {"user registered security info", "user registered all required security info"}

# The latest suspicious successful sign-in at or before `a`, within the window.
_trigger(a) := s if {
	candidates := [x |
		some x in lib.successful_sign_ins
		lib.suspicious(x)
		x.epoch <= a.epoch
		a.epoch - x.epoch <= within_hours * 3600
	]
	count(candidates) > 0
	last := max({x.epoch | some x in candidates})
	s := [x | some x in candidates; x.epoch == last][0]
}

deny contains finding if {
	some a in input.directory_audits
	lower(a.activity) in _registrations
	lower(a.result) == "success"
	s := _trigger(a)
	minutes := round((a.epoch - s.epoch) / 60)
	finding := {
		"event_id": a.id,
		"message": sprintf("%s at %s%s, %v minutes after the suspicious sign-in at %s from %s%s", [
			a.activity, a.time, _from(a), minutes, s.time, lib.place(s), _detected(s),
		]),
		"details": {
			"sign_in": s.id, "minutes_after": minutes, "result_reason": object.get(a, "result_reason", null),
			"risk_detections": sort([d.id | some d in lib.risk_detections_of(s)]),
		},
	}
}

_from(a) := sprintf(" (from %s)", [a.initiated_by.ip_address]) if a.initiated_by.ip_address != null

_from(a) := "" if a.initiated_by.ip_address == null

_detected(s) := sprintf(" (Identity Protection: %s)", [lib.risk_types(s)]) if lib.risk_detected(s)

_detected(s) := "" if not lib.risk_detected(s)
