# Shared helpers of the investigation rules: which sign-ins succeeded, which client apps
# are legacy protocols, new countries, impossible travel and what counts as suspicious.
# Input: the evidence document (`m365guard schema evidence`).
package m365guard.investigation.lib

import rego.v1

# `status.errorCode` 0 is a successful sign-in (signInStatus).
successful_sign_ins contains s if {
	some s in input.sign_ins
	s.error_code == 0
}

# `clientAppUsed` values of legacy authentication (basic auth, no MFA possible): the
# signIn resource's examples and Conditional Access's "Other clients" list, lower-case.
legacy_clients := {
	"imap", "imap4", "pop", "pop3", "smtp", "authenticated smtp",
	"exchange activesync", "exchange web services", "mapi", "mapi over http",
	"autodiscover", "offline address book", "outlook anywhere (rpc over http)",
	"reporting web services", "exchange online powershell", "other clients",
}

is_legacy(s) if lower(s.client_app) in legacy_clients

# Countries of the successful sign-ins before `s`.
countries_before(s) := {e.country |
	some e in successful_sign_ins
	e.epoch < s.epoch
	e.country != null
}

# A country not seen before in the window, when there is an earlier sign-in to compare
# with (the first sign-in of the window is the baseline, not news).
new_country(s) if {
	s.country != null
	count(countries_before(s)) > 0
	not s.country in countries_before(s)
}

# Travel faster than an airliner (~900 km/h) between two sign-ins is impossible; below
# 100 km IP geolocation is too coarse to tell.
max_speed_kmh := 900

min_distance_km := 100

located(s) if {
	is_number(s.latitude)
	is_number(s.longitude)
}

# The latest located successful sign-in before `s`.
previous(s) := e if {
	earlier := [x |
		some x in successful_sign_ins
		x.epoch < s.epoch
		located(x)
	]
	count(earlier) > 0
	last := max({x.epoch | some x in earlier})
	e := [x | some x in earlier; x.epoch == last][0]
}

distance_from_previous(s) := m365guard.distance_km(previous(s), s) if located(s)

impossible_travel(s) if {
	e := previous(s)
	d := distance_from_previous(s)
	d >= min_distance_km
	d * 3600 > max_speed_kmh * (s.epoch - e.epoch)
}

_risky_levels := {"medium", "high"}

# A successful sign-in any investigation rule would flag, or that Identity Protection
# rated medium or high (the sign-in's own risk level, or a risk detection of it).
suspicious(s) if is_legacy(s)

suspicious(s) if new_country(s)

suspicious(s) if impossible_travel(s)

suspicious(s) if lower(s.risk_level) in _risky_levels

suspicious(s) if risk_detected(s)

# Identity Protection's risk detections (`risk_detections`, Entra ID P2) of sign-in `s`,
# rated medium or high and not dismissed or confirmed safe by an admin. A detection belongs
# to the sign-in whose id is its `request_id`; without one, to a sign-in from the same IP
# within 5 minutes. Absent or unavailable detections leave the other signals to decide.
_dismissed_states := {"dismissed", "confirmedsafe"}

risk_detections_of(s) := {d |
	some d in object.get(input, "risk_detections", [])
	_detection_of(d, s)
	lower(d.risk_level) in _risky_levels
	not lower(object.get(d, "risk_state", "")) in _dismissed_states
}

_detection_of(d, s) if d.request_id == s.id

_detection_of(d, s) if {
	object.get(d, "request_id", null) == null
	d.ip_address == s.ip_address
	abs(d.epoch - s.epoch) <= 300
}

risk_detected(s) if count(risk_detections_of(s)) > 0

# `unfamiliarFeatures, anonymizedIPAddress` for a sign-in's detections, sorted.
risk_types(s) := concat(", ", sort({d.risk_event_type | some d in risk_detections_of(s)}))

# Text for a sign-in's place: `Amsterdam, NL, 185.220.101.47`.
place(s) := concat(", ", [x | some x in [s.city, s.country, s.ip_address]; x != null])
