# Two successful sign-ins farther apart than an airliner could travel in the time between.
package m365guard.investigation.impossible_travel

import data.m365guard.investigation.lib
import rego.v1

deny contains finding if {
	some s in lib.successful_sign_ins
	lib.impossible_travel(s)
	e := lib.previous(s)
	km := round(lib.distance_from_previous(s))
	minutes := round((s.epoch - e.epoch) / 60)
	finding := {
		"event_id": s.id,
		"message": sprintf("Successful sign-in at %s from %s, %v km from the previous sign-in at %s from %s only %v minutes earlier (faster than %v km/h)", [
			s.time, lib.place(s), km, e.time, lib.place(e), minutes, lib.max_speed_kmh,
		]),
		"details": {"previous_sign_in": e.id, "distance_km": km, "minutes": minutes},
	}
}
