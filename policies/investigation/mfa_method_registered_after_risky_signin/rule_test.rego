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

# Identity Protection's detection of an otherwise ordinary sign-in (same country, no
# sign-in risk level) makes it suspicious: joined by request id, or by IP and time.
_detection(request_id, state) := {
	"id": "det1", "time": "d", "epoch": 100, "risk_event_type": "anonymizedIPAddress",
	"risk_level": "high", "risk_state": state, "ip_address": "192.0.2.1", "request_id": request_id,
}

test_registration_after_sign_in_with_risk_detection_violation if {
	findings := deny with input as {
		"sign_ins": _ordinary, "directory_audits": [_a(700)],
		"risk_detections": [_detection("b", "atRisk")],
	}
	count(findings) == 1
	some f in findings
	f.details.sign_in == "b"
	f.details.risk_detections == ["det1"]
	contains(f.message, "(Identity Protection: anonymizedIPAddress)")
}

test_registration_after_sign_in_with_detection_by_ip_and_time_violation if {
	count(deny) == 1 with input as {
		"sign_ins": _ordinary, "directory_audits": [_a(700)],
		"risk_detections": [_detection(null, "atRisk")],
	}
}

test_registration_after_sign_in_with_dismissed_detection_compliant if {
	count(deny) == 0 with input as {
		"sign_ins": _ordinary, "directory_audits": [_a(700)],
		"risk_detections": [_detection("b", "dismissed")],
	}
}

test_registration_after_sign_in_with_detection_of_another_sign_in_compliant if {
	count(deny) == 0 with input as {
		"sign_ins": [_s("a", 0, "DE"), _s("b", 100000, "DE")], "directory_audits": [_a(100600)],
		"risk_detections": [_detection("a", "atRisk")],
	}
}

test_phished_sign_in_without_detections_still_violation if {
	findings := deny with input as {"sign_ins": _phished, "directory_audits": [_a(700)], "risk_detections": []}
	count(findings) == 1
	some f in findings
	f.details.risk_detections == []
	not contains(f.message, "Identity Protection")
}
