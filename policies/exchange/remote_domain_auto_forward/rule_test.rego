package m365guard.rules.remote_domain_auto_forward

import data.m365guard.lib.fixtures
import rego.v1

_default_forward := json.patch(fixtures.base, [{"op": "replace", "path": "/remote_domains/0/auto_forward_enabled", "value": true}])

_with_domain(entry) := json.patch(fixtures.base, [{"op": "add", "path": "/remote_domains/-", "value": entry}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_default_entry_forwarding_violation if {
	findings := deny with input as _default_forward
	count(findings) == 1
	some f in findings
	f.resource_type == "remote_domain"
	f.resource_id == "Default"
	f.resource_name == "Default (*)"
	f.severity == "medium"
	f.message == "Remote domain Default (*) allows automatic forwarding to every external domain without its own remote domain entry; blocked today only by the outbound spam policy (AutoForwardingMode Off or Automatic), which one change would lift"
}

test_default_entry_with_outbound_policy_on_is_high_violation if {
	input_doc := json.patch(_default_forward, [{"op": "replace", "path": "/outbound_spam/policies/0/auto_forwarding_mode", "value": "On"}])
	findings := deny with input as input_doc
	count(findings) == 1
	some f in findings
	f.severity == "high"
	f.details.outbound_policies_allowing == ["Default"]
	contains(f.message, "outbound spam policy Default allows external auto-forwarding, so nothing else blocks it")
}

test_disabled_outbound_policy_on_does_not_raise_severity if {
	input_doc := json.patch(_default_forward, [{"op": "add", "path": "/outbound_spam/policies/-", "value": {"id": "Old", "enabled": false, "auto_forwarding_mode": "On"}}])
	some f in deny with input as input_doc
	f.severity == "medium"
}

test_unknown_flag_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "remove", "path": "/remote_domains/0/auto_forward_enabled"}])
}

test_unexpected_domain_violation if {
	findings := deny with input as _with_domain({"id": "Freemail", "domain_name": "gmail.com", "auto_forward_enabled": true})
	count(findings) == 1
	some f in findings
	f.resource_id == "Freemail"
	f.resource_name == "Freemail (gmail.com)"
	contains(f.message, "allows automatic forwarding to gmail.com")
}

test_allowed_partner_domain_compliant if {
	count(deny) == 0 with input as _with_domain({"id": "Fabrikam", "domain_name": "mail.fabrikam.example", "auto_forward_enabled": true})
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.example"]
}

test_partner_domain_without_config_violation if {
	count(deny) == 1 with input as _with_domain({"id": "Fabrikam", "domain_name": "fabrikam.example", "auto_forward_enabled": true})
}

test_verified_domain_compliant if {
	count(deny) == 0 with input as _with_domain({"id": "EU", "domain_name": "EU.Contoso.com", "auto_forward_enabled": true})
}

test_internal_entry_compliant if {
	count(deny) == 0 with input as _with_domain({"id": "Acquired", "domain_name": "acquired.example", "auto_forward_enabled": true, "is_internal": true})
}

test_name_equal_to_domain_is_not_repeated if {
	some f in deny with input as _with_domain({"id": "gmail.com", "domain_name": "gmail.com", "auto_forward_enabled": true})
	f.resource_name == "gmail.com"
}
