package m365guard.investigation.impossible_travel

import rego.v1

_s(id, epoch, lat, lon) := {
	"id": id, "time": sprintf("t%v", [epoch]), "epoch": epoch, "country": "DE", "city": null,
	"ip_address": "192.0.2.1", "error_code": 0, "latitude": lat, "longitude": lon,
	"client_app": "Browser", "risk_level": "none",
}

# Berlin, then Munich a week later.
test_slow_travel_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", 0, 52.52, 13.405), _s("b", 604800, 48.137, 11.575)]}
}

# Berlin twice, a minute apart: no distance.
test_same_place_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", 0, 52.52, 13.405), _s("b", 60, 52.52, 13.405)]}
}

test_missing_coordinates_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", 0, null, null), _s("b", 60, 52.3676, 4.9041)]}
}

# Berlin, then Amsterdam (~577 km) 24 minutes later.
test_berlin_amsterdam_in_24_minutes_violation if {
	findings := deny with input as {"sign_ins": [_s("a", 0, 52.52, 13.405), _s("b", 1440, 52.3676, 4.9041)]}
	count(findings) == 1
	some f in findings
	f.event_id == "b"
	f.details.previous_sign_in == "a"
	f.details.minutes == 24
}

# The native builtin the rule relies on (documented in policies/README.md): great-circle
# km between two objects with `latitude`/`longitude` in degrees.
test_distance_km_builtin if {
	berlin := {"latitude": 52.52, "longitude": 13.405}
	d := m365guard.distance_km(berlin, {"latitude": 52.3676, "longitude": 4.9041, "city": "Amsterdam"})
	d > 570
	d < 585
	m365guard.distance_km(berlin, berlin) == 0
	m365guard.distance_km({"latitude": 0, "longitude": 0}, {"latitude": 0, "longitude": 180}) > 20015
	m365guard.distance_km({"latitude": 0, "longitude": 0}, {"latitude": 0, "longitude": 180}) < 20016
}
