package m365guard.investigation.signin_new_country

import rego.v1

_s(id, epoch, country, code) := {
	"id": id, "time": sprintf("t%v", [epoch]), "epoch": epoch, "country": country,
	"city": null, "ip_address": "192.0.2.1", "error_code": code,
	"latitude": null, "longitude": null, "client_app": "Browser", "risk_level": "none",
}

test_same_country_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", 1, "DE", 0), _s("b", 2, "DE", 0)]}
}

test_first_sign_in_is_the_baseline_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", 1, "NL", 0)]}
}

test_failed_sign_in_from_new_country_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", 1, "DE", 0), _s("b", 2, "NL", 50126)]}
}

test_new_country_violation if {
	findings := deny with input as {"sign_ins": [_s("a", 1, "DE", 0), _s("b", 2, "NL", 0), _s("c", 3, "NL", 0)]}
	count(findings) == 1
	some f in findings
	f.event_id == "b"
	f.details.countries_before == ["DE"]
}
