# Consent to an application within 24 hours after a suspicious sign-in (directory audit
# or unified audit log).
package m365guard.investigation.consent_after_suspicious_signin

import data.m365guard.investigation.lib
import rego.v1

within_hours := 24

_consent_activity := "consent to application"

# Directory audits of the user's own consent.
_consents contains {"id": a.id, "time": a.time, "epoch": a.epoch, "ip": a.initiated_by.ip_address, "app": _app(a)} if {
	some a in input.directory_audits
	lower(a.activity) == _consent_activity
	lower(a.result) == "success"
}

# The same activity in the unified audit log (`Consent to application.`).
_consents contains {"id": e.id, "time": e.time, "epoch": e.epoch, "ip": e.client_ip, "app": object.get(e, "object_id", null)} if {
	some e in input.audit_events
	trim_right(lower(e.operation), ".") == _consent_activity
}

_app(a) := name if {
	some t in a.targets
	name := t.display_name
	name != null
} else := null

_trigger(c) := s if {
	candidates := [x |
		some x in lib.successful_sign_ins
		lib.suspicious(x)
		x.epoch <= c.epoch
		c.epoch - x.epoch <= within_hours * 3600
	]
	count(candidates) > 0
	last := max({x.epoch | some x in candidates})
	s := [x | some x in candidates; x.epoch == last][0]
}

deny contains finding if {
	some c in _consents
	s := _trigger(c)
	minutes := round((c.epoch - s.epoch) / 60)
	finding := {
		"event_id": c.id,
		"message": sprintf("Consent to application %v at %s, %v minutes after the suspicious sign-in at %s from %s", [
			c.app, c.time, minutes, s.time, lib.place(s),
		]),
		"details": {"sign_in": s.id, "minutes_after": minutes, "app": c.app, "ip_address": c.ip},
	}
}
