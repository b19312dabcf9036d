# More external recipients than the configured threshold within one hour (message trace).
package m365guard.investigation.bulk_external_sending

import rego.v1

_threshold := object.get(object.get(input, "parameters", {}), "bulk_external_recipients", 50)

_external := [r | some r in input.messages_sent.rows; r.external]

# Distinct external recipients in the hour starting at `r`.
_hour(r) := {x.recipient |
	some x in _external
	x.epoch >= r.epoch
	x.epoch < r.epoch + 3600
}

_candidates := [r | some r in _external; count(_hour(r)) > _threshold]

# The first row of each burst: no earlier candidate within the hour before it.
_earlier(c, r) if {
	c.epoch < r.epoch
	r.epoch - c.epoch < 3600
}

_earlier(c, r) if {
	c.epoch == r.epoch
	c.id < r.id
}

deny contains finding if {
	some r in _candidates
	not _has_earlier(r)
	recipients := _hour(r)
	domains := sort({x.recipient_domain |
		some x in _external
		x.recipient in recipients
	})
	finding := {
		"event_id": r.id,
		"message": sprintf("%v external recipients within an hour from %s (%s); the threshold is %v", [
			count(recipients), r.time, concat(", ", domains), _threshold,
		]),
		"details": {"recipients": count(recipients), "domains": domains, "threshold": _threshold},
	}
}

_has_earlier(r) if {
	some c in _candidates
	_earlier(c, r)
}
