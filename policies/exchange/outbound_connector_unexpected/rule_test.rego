package m365guard.rules.outbound_connector_unexpected

import data.m365guard.lib.fixtures
import rego.v1

_with_connector(changes) := json.patch(fixtures.base, [{"op": "add", "path": "/outbound_connectors/-", "value": object.union(
	{"id": "c-relay", "name": "Partner relay", "enabled": true, "connector_type": "Partner", "recipient_domains": ["*"], "smart_hosts": ["smtp.relay-mailer.example"], "use_mx_record": false},
	changes,
)}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_attacker_smart_host_for_all_domains_violation if {
	findings := deny with input as _with_connector({})
	count(findings) == 1
	some f in findings
	f.resource_type == "outbound_connector"
	f.resource_id == "c-relay"
	f.severity == "high"
	f.message == "Outbound connector \"Partner relay\" routes all outbound mail (recipient domain *) through smtp.relay-mailer.example, a smart host outside the organisation's domains and not in allowed_smart_hosts (without TLS certificate validation)"
	f.details.routes_all_domains == true
}

test_one_domain_is_medium_violation if {
	some f in deny with input as _with_connector({"recipient_domains": ["fabrikam.example"], "tls_settings": "DomainValidation"})
	f.severity == "medium"
	contains(f.message, "routes mail for fabrikam.example through smtp.relay-mailer.example")
	not contains(f.message, "without TLS")
}

test_transport_rule_scoped_violation if {
	some f in deny with input as _with_connector({"recipient_domains": [], "is_transport_rule_scoped": true})
	contains(f.message, "routes mail that transport rules send to it")
}

test_ip_smart_host_violation if {
	some f in deny with input as _with_connector({"smart_hosts": ["203.0.113.25"]})
	f.details.unexpected_smart_hosts == ["203.0.113.25"]
}

test_allow_listed_domain_compliant if {
	count(deny) == 0 with input as _with_connector({"smart_hosts": ["mx1.relay-mailer.example"]})
		with data.m365guard.config.allowed_smart_hosts as ["relay-mailer.example"]
}

test_allow_listed_ip_compliant if {
	count(deny) == 0 with input as _with_connector({"smart_hosts": ["203.0.113.25"]})
		with data.m365guard.config.allowed_smart_hosts as ["203.0.113.25"]
}

test_verified_domain_host_compliant if {
	count(deny) == 0 with input as _with_connector({"smart_hosts": ["relay.EU.contoso.com"]})
}

test_mx_delivery_without_smart_hosts_compliant if {
	count(deny) == 0 with input as _with_connector({"smart_hosts": [], "use_mx_record": true})
}

test_disabled_connector_compliant if {
	count(deny) == 0 with input as _with_connector({"enabled": false})
}
