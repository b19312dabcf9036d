package m365guard.rules.outbound_auto_forwarding_allowed

import data.m365guard.lib.fixtures
import rego.v1

_mode(mode) := json.patch(fixtures.base, [{"op": "replace", "path": "/outbound_spam/policies/0/auto_forwarding_mode", "value": mode}])

_remote_forward := [{"op": "replace", "path": "/remote_domains/0/auto_forward_enabled", "value": true}]

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_default_on_violation if {
	findings := deny with input as _mode("On")
	count(findings) == 1
	some f in findings
	f.resource_type == "outbound_spam_policy"
	f.resource_id == "Default"
	f.resource_name == "Default"
	f.severity == "medium"
	f.message == "Outbound spam policy Default allows automatic forwarding to external recipients (AutoForwardingMode On); as the default policy it applies to every mailbox without a custom policy; the remote domain * entry blocks it (the block wins)"
	f.details.is_default == true
	f.details.remote_domains_allowing == []
}

test_on_with_remote_domain_allowing_says_nothing_blocks_it if {
	findings := deny with input as json.patch(_mode("On"), _remote_forward)
	some f in findings
	f.severity == "medium"
	endswith(f.message, "; remote domains allow it too (Default (*)), so nothing blocks auto-forwarded mail from leaving")
	f.details.remote_domains_allowing == ["Default (*)"]
}

test_lower_case_on_violation if {
	count(deny) == 1 with input as _mode("on")
}

test_off_compliant if {
	count(deny) == 0 with input as _mode("Off")
}

# Issue 10 item 3: `Automatic` is system-controlled; CIS/ScubaGear-style checks want an
# explicit Off. It used to pass (test_automatic_compliant).
test_automatic_is_a_low_finding if {
	findings := deny with input as _mode("Automatic")
	count(findings) == 1
	some f in findings
	f.severity == "low"
	f.message == "Outbound spam policy Default relies on the service default for automatic external forwarding; set Off (AutoForwardingMode Automatic); as the default policy it applies to every mailbox without a custom policy; the remote domain * entry blocks it (the block wins)"
}

test_lower_case_automatic_violation if {
	some f in deny with input as _mode("automatic")
	f.severity == "low"
}

test_automatic_with_remote_domain_allowing_names_the_gap if {
	findings := deny with input as json.patch(_mode("Automatic"), _remote_forward)
	some f in findings
	f.severity == "low"
	endswith(f.message, "; remote domains allow it too (Default (*)), so only the service default stands between an inbox rule and an outside address")
}

test_partner_remote_domain_is_named_as_the_exception if {
	input_doc := json.patch(_mode("Automatic"), [{"op": "add", "path": "/remote_domains/-", "value": {"id": "Fabrikam", "domain_name": "fabrikam.example", "auto_forward_enabled": true}}])
	some f in deny with input as input_doc
	endswith(f.message, "; the remote domain * entry blocks it (the block wins), except for Fabrikam (fabrikam.example)")
}

test_verified_remote_domain_is_not_an_exception if {
	input_doc := json.patch(_mode("Automatic"), [{"op": "add", "path": "/remote_domains/-", "value": {"id": "EU", "domain_name": "eu.contoso.com", "auto_forward_enabled": true}}])
	some f in deny with input as input_doc
	endswith(f.message, "(the block wins)")
}

test_without_remote_domains_no_remote_note if {
	findings := deny with input as json.patch(_mode("Automatic"), [{"op": "replace", "path": "/remote_domains", "value": []}])
	some f in findings
	endswith(f.message, "applies to every mailbox without a custom policy")
}

test_disabled_policy_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": "/outbound_spam/policies/-", "value": {
		"id": "Executives", "is_default": false, "enabled": false, "auto_forwarding_mode": "On",
	}}])
}

test_custom_policy_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": "/outbound_spam/policies/-", "value": {
		"id": "Executives", "auto_forwarding_mode": "On", "recipient_limit_external_per_hour": 500,
	}}])
	count(findings) == 1
	some f in findings
	f.resource_id == "Executives"
	f.message == "Outbound spam policy Executives allows automatic forwarding to external recipients (AutoForwardingMode On); the remote domain * entry blocks it (the block wins)"
	f.details.is_default == false
}
