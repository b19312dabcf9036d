package m365guard.investigation.consent_after_suspicious_signin

import rego.v1

_s(id, epoch, country) := {
	"id": id, "time": sprintf("s%v", [epoch]), "epoch": epoch, "country": country, "city": null,
	"ip_address": "192.0.2.1", "error_code": 0, "latitude": null, "longitude": null,
	"client_app": "Browser", "risk_level": "none",
}

_audit(epoch) := {
	"id": "consent", "time": sprintf("a%v", [epoch]), "epoch": epoch,
	"activity": "Consent to application", "result": "success",
	"initiated_by": {"ip_address": "185.220.101.47"},
	"targets": [{"display_name": "Mail Sync Pro"}],
}

_ual(epoch) := {
	"id": "ual-consent", "time": sprintf("u%v", [epoch]), "epoch": epoch,
	"operation": "Consent to application.", "client_ip": "185.220.101.47", "object_id": "Mail Sync Pro",
}

_ordinary := [_s("a", 0, "DE"), _s("b", 100, "DE")]

_phished := [_s("a", 0, "DE"), _s("b", 100, "NL")]

test_consent_after_ordinary_sign_in_compliant if {
	count(deny) == 0 with input as {"sign_ins": _ordinary, "directory_audits": [_audit(700)], "audit_events": [_ual(700)]}
}

test_consent_two_days_later_compliant if {
	count(deny) == 0 with input as {"sign_ins": _phished, "directory_audits": [_audit(100 + 48 * 3600)], "audit_events": []}
}

test_directory_audit_consent_after_new_country_violation if {
	findings := deny with input as {"sign_ins": _phished, "directory_audits": [_audit(700)], "audit_events": []}
	count(findings) == 1
	some f in findings
	f.event_id == "consent"
	f.details.minutes_after == 10
	f.details.app == "Mail Sync Pro"
}

test_ual_consent_after_new_country_violation if {
	findings := deny with input as {"sign_ins": _phished, "directory_audits": [], "audit_events": [_ual(400)]}
	count(findings) == 1
	some f in findings
	f.event_id == "ual-consent"
}
