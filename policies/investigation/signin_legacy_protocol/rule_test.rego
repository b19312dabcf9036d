package m365guard.investigation.signin_legacy_protocol

import rego.v1

_s(id, app, code) := {
	"id": id, "time": "t", "epoch": 1, "country": "NL", "city": "Amsterdam",
	"ip_address": "185.220.101.47", "error_code": code, "latitude": null, "longitude": null,
	"client_app": app, "user_agent": "python-imaplib", "risk_level": "none",
}

test_modern_clients_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", "Browser", 0), _s("b", "Mobile Apps and Desktop clients", 0)]}
}

test_failed_imap_compliant if {
	count(deny) == 0 with input as {"sign_ins": [_s("a", "IMAP4", 50126)]}
}

test_imap_violation if {
	findings := deny with input as {"sign_ins": [_s("a", "IMAP4", 0), _s("b", "Browser", 0)]}
	count(findings) == 1
	some f in findings
	f.event_id == "a"
	contains(f.message, "IMAP4")
}

test_smtp_case_insensitive_violation if {
	count(deny) == 1 with input as {"sign_ins": [_s("a", "Authenticated SMTP", 0)]}
}
