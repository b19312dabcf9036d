package m365guard.investigation.mfa_method_registered_after_risky_signin

import rego.v1

_s(id, epoch, country) := {
	"id": id, "time": sprintf("s%v", [epoch]), "epoch": epoch, "country": country, "city": null,
	"ip_address": "192.0.2.1", "error_code": 0, "latitude": null, "longitude": null,
	"client_app": "Browser", "risk_level": "none",
}

_a(epoch) := {
	"id": "reg", "time": sprintf("a%v", [epoch]), "epoch": epoch,
	"activity": "User registered security info", "result": "success", "result_reason": null,
	"initiated_by": {"ip_address": "185.220.101.47"}, "targets": [],
}

_ordinary := [_s("a", 0, "DE"), _s("b", 100, "DE")]

_phished := [_s("a", 0, "DE"), _s("b", 100, "NL")]

test_registration_after_ordinary_sign_in_compliant if {
	count(deny) == 0 with input as {"sign_ins": _ordinary, "directory_audits": [_a(700)]}
}

test_registration_two_days_later_compliant if {
	count(deny) == 0 with input as {"sign_ins": _phished, "directory_audits": [_a(100 + 48 * 3600)]}
}

test_registration_before_the_sign_in_compliant if {
	count(deny) == 0 with input as {"sign_ins": _phished, "directory_audits": [_a(50)]}
}

test_registration_10_minutes_after_new_country_violation if {
	findings := deny with input as {"sign_ins": _phished, "directory_audits": [_a(700)]}
	count(findings) == 1
	some f in findings
	f.event_id == "reg"
	f.details.sign_in == "b"
	f.details.minutes_after == 10
	contains(f.message, "(from 185.220.101.47)")
}
