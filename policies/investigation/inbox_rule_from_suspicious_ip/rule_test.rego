package m365guard.investigation.inbox_rule_from_suspicious_ip

import rego.v1

_s(id, epoch, country, ip) := {
	"id": id, "time": sprintf("s%v", [epoch]), "epoch": epoch, "country": country, "city": null,
	"ip_address": ip, "error_code": 0, "latitude": null, "longitude": null,
	"client_app": "Browser", "risk_level": "none",
}

_e(op, epoch, ip, parameters) := {
	"id": "rule", "time": sprintf("e%v", [epoch]), "epoch": epoch, "operation": op,
	"object_id": ".", "client_ip": ip, "parameters": parameters,
}

_sign_ins := [_s("a", 0, "DE", "91.64.10.20"), _s("b", 100, "NL", "185.220.101.47")]

test_rule_from_ordinary_ip_compliant if {
	count(deny) == 0 with input as {"sign_ins": _sign_ins, "audit_events": [_e("New-InboxRule", 300, "91.64.10.20", {})]}
}

test_unrelated_operation_from_attacker_ip_compliant if {
	count(deny) == 0 with input as {"sign_ins": _sign_ins, "audit_events": [_e("MailItemsAccessed", 300, "185.220.101.47", {})]}
}

test_address_also_used_ordinarily_compliant if {
	shared := [_s("a", 0, "DE", "185.220.101.47"), _s("b", 100, "NL", "185.220.101.47")]
	count(deny) == 0 with input as {"sign_ins": shared, "audit_events": [_e("New-InboxRule", 300, "185.220.101.47", {})]}
}

test_set_mailbox_without_forwarding_compliant if {
	count(deny) == 0 with input as {"sign_ins": _sign_ins, "audit_events": [_e("Set-Mailbox", 300, "185.220.101.47", {"MaxSendSize": "35MB"})]}
}

test_new_inbox_rule_from_attacker_ip_violation if {
	findings := deny with input as {"sign_ins": _sign_ins, "audit_events": [_e("New-InboxRule", 250, "185.220.101.47", {"Name": "."})]}
	count(findings) == 1
	some f in findings
	f.event_id == "rule"
	f.details.sign_in == "b"
	f.details.minutes_after == 3
}

test_forwarding_from_attacker_ip_violation if {
	e := _e("Set-Mailbox", 400, "185.220.101.47", {"ForwardingSmtpAddress": "smtp:x@evil.example"})
	count(deny) == 1 with input as {"sign_ins": _sign_ins, "audit_events": [e]}
}
