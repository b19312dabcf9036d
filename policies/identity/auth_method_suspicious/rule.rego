# Authentication methods an attacker registers to keep MFA-satisfying access after the
# password is reset: a method registered within the review window (critical when the user
# is also at risk in Identity Protection), one phone number registered on several users,
# and, for privileged users, SMS/voice as the only MFA method. One finding per method,
# naming every condition it meets. Phone numbers appear masked (`lib.mask_phone`).
package m365guard.rules.auth_method_suspicious

import data.m365guard.lib
import data.m365guard.lib.privileged_user_ids
import rego.v1

deny contains finding if {
	some m in input.auth_methods
	reasons := _reasons(m)
	count(reasons) > 0
	texts := [_text(r, m) | some r in sort(reasons)]
	finding := {
		"resource_type": "auth_method",
		"resource_id": m.id,
		"resource_name": sprintf("%s of %s", [_label(m), m.user_principal_name]),
		"severity": _severity(m, reasons),
		"message": sprintf("Authentication method %s of %s: %s", [_label(m), m.user_principal_name, concat("; ", texts)]),
		"details": {
			"user_id": m.user_id,
			"user_principal_name": m.user_principal_name,
			"method_id": m.method_id,
			"method_type": m.method_type,
			"created_date_time": object.get(m, "created_date_time", null),
			"phone_number_masked": _masked(m),
			"conditions": sort(reasons),
			"review_window_days": lib.review_window_days,
			"user_at_risk": m.user_id in _risky_user_ids,
		},
	}
}

_conditions := {"registered_in_window", "shared_phone", "sms_only", "near_suspicious_activity"}

_reasons(m) := {c | some c in _conditions; _holds(c, m)}

_holds("registered_in_window", m) if lib.within_review_window(object.get(m, "created_date_time", null))

_holds("shared_phone", m) if {
	m.method_type == "phone"
	count(_users_by_phone[lib.phone_key(m.phone_number)]) > 1
}

_holds("sms_only", m) if {
	m.method_type == "phone"
	m.user_id in privileged_user_ids
	every other in _methods_by_user[m.user_id] {
		_phone_or_weak(other)
	}
}

_phone_or_weak(o) if o.method_type == "phone"

_phone_or_weak(o) if not o.method_type in lib.strong_method_types

_methods_by_user[m.user_id] contains m if some m in input.auth_methods

_users_by_phone[key] contains m.user_id if {
	some m in input.auth_methods
	key := lib.phone_key(m.phone_number)
	m.method_type == "phone"
	is_string(object.get(m, "phone_number", null))
}

_upns_by_phone[key] contains m.user_principal_name if {
	some m in input.auth_methods
	key := lib.phone_key(m.phone_number)
	m.method_type == "phone"
	is_string(object.get(m, "phone_number", null))
}

# Users Identity Protection holds at medium or high risk that is still open.
_risky_user_ids contains r.id if {
	some r in object.get(input, "risky_users", [])
	r.risk_level in {"high", "medium"}
	r.risk_state in {"atRisk", "confirmedCompromised"}
}

_severity(m, reasons) := "critical" if {
	"registered_in_window" in reasons
	m.user_id in _risky_user_ids
} else := "high" if {
	count(reasons & {"registered_in_window", "shared_phone", "near_suspicious_activity"}) > 0
} else := "medium"

_masked(m) := lib.mask_phone(m.phone_number) if is_string(object.get(m, "phone_number", null))

_masked(m) := null if not is_string(object.get(m, "phone_number", null))

_label(m) := sprintf("phone %s (%s)", [_masked(m), object.get(m, "phone_type", "mobile")]) if {
	m.method_type == "phone"
	is_string(object.get(m, "phone_number", null))
}

_label(m) := sprintf("%s %q", [m.method_type, _name(m)]) if m.method_type != "phone"

_label(m) := "phone" if {
	m.method_type == "phone"
	not is_string(object.get(m, "phone_number", null))
}

_name(m) := n if {
	n := object.get(m, "display_name", null)
	is_string(n)
} else := m.method_id

_text("registered_in_window", m) := sprintf("registered %s, within the %v-day review window%s", [
	m.created_date_time,
	lib.review_window_days,
	_risk_note(m),
])

_text("shared_phone", m) := sprintf("the same number is registered on %d users (%s)", [
	count(_users_by_phone[lib.phone_key(m.phone_number)]),
	concat(", ", sort(_upns_by_phone[lib.phone_key(m.phone_number)])),
])

_text("sms_only", _) := "SMS/voice is the only MFA method of this privileged user"

_text("near_suspicious_activity", m) := sprintf("registered %s, within %d hours of %s", [
	input.activity.registered[m.id].time,
	_near_hours,
	concat(" and ", sort({_describe(e) | some e in _near_events(m)})),
])

# `scan --with-activity` only (the optional `input.activity` section, see policies/README.md):
# the method was registered within `_near_hours` of a suspicious sign-in of its user or a
# reset of the user's password. Without the section this condition never holds and the
# created-time / review-window condition above is the only timing judged.
_near_hours := 6

_holds("near_suspicious_activity", m) if count(_near_events(m)) > 0

_near_events(m) := {e |
	registered := object.get(object.get(object.get(input, "activity", {}), "registered", {}), m.id, null)
	is_number(registered.epoch)
	some e in input.activity.events
	e.user_id == m.user_id
	abs(e.epoch - registered.epoch) <= _near_hours * 3600
}

_describe(e) := sprintf("a suspicious sign-in at %s from %s", [e.time, object.get(e, "ip", "an unknown address")]) if e.kind == "suspicious_sign_in"

_describe(e) := sprintf("a password reset at %s", [e.time]) if e.kind == "password_reset"

_risk_note(m) := ", on a user Identity Protection holds at risk" if m.user_id in _risky_user_ids

_risk_note(m) := "" if not m.user_id in _risky_user_ids
