package m365guard.rules.outbound_auto_forwarding_allowed

import data.m365guard.lib.fixtures
import rego.v1

_mode(mode) := json.patch(fixtures.base, [{"op": "replace", "path": "/outbound_spam/policies/0/auto_forwarding_mode", "value": mode}])

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
	f.message == "Outbound spam policy Default allows automatic forwarding to external recipients (AutoForwardingMode On); as the default policy it applies to every mailbox without a custom policy"
	f.details.is_default == true
}

test_lower_case_on_violation if {
	count(deny) == 1 with input as _mode("on")
}

test_off_compliant if {
	count(deny) == 0 with input as _mode("Off")
}

test_automatic_compliant if {
	count(deny) == 0 with input as _mode("automatic")
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
	f.message == "Outbound spam policy Executives allows automatic forwarding to external recipients (AutoForwardingMode On)"
	f.details.is_default == false
}
