# A successful sign-in from a country the user did not sign in from earlier in the window.
package m365guard.investigation.signin_new_country

import data.m365guard.investigation.lib
import rego.v1

deny contains finding if {
	some s in lib.successful_sign_ins
	lib.new_country(s)
	before := sort([c | some c in lib.countries_before(s)])
	finding := {
		"event_id": s.id,
		"message": sprintf("Successful sign-in at %s from %s: country %s not seen for this user earlier in the window (before: %s)", [
			s.time, lib.place(s), s.country, concat(", ", before),
		]),
		"details": {"country": s.country, "ip_address": s.ip_address, "countries_before": before},
	}
}
