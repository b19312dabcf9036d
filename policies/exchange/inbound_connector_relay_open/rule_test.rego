package m365guard.rules.inbound_connector_relay_open

import data.m365guard.lib.fixtures
import rego.v1

_with_connector(changes) := json.patch(fixtures.base, [{"op": "add", "path": "/inbound_connectors/-", "value": object.union(
	{"id": "c-scanner", "name": "Legacy scanner", "enabled": true, "connector_type": "OnPremises", "sender_domains": ["*"], "sender_ip_addresses": ["198.51.100.0/24"], "restrict_domains_to_ip_addresses": true, "require_tls": false, "restrict_domains_to_certificate": false},
	changes,
)}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_on_premises_ip_only_no_tls_violation if {
	findings := deny with input as _with_connector({})
	count(findings) == 1
	some f in findings
	f.resource_type == "inbound_connector"
	f.resource_id == "c-scanner"
	f.severity == "high"
	f.message == "Inbound connector \"Legacy scanner\" trusts mail from 198.51.100.0/24 by IP address only without a TLS certificate restriction and without requiring TLS; as an on-premises connector it makes that mail the organisation's own, which may be relayed to any recipient"
}

test_on_premises_ip_only_with_tls_violation if {
	some f in deny with input as _with_connector({"require_tls": true})
	f.severity == "high"
	not contains(f.message, "without requiring TLS")
}

test_partner_without_tls_is_medium_violation if {
	some f in deny with input as _with_connector({"connector_type": "Partner", "sender_domains": ["fabrikam.example"]})
	f.severity == "medium"
	contains(f.message, "without requiring TLS")
}

test_partner_domain_only_without_ip_or_tls_violation if {
	some f in deny with input as _with_connector({"connector_type": "Partner", "sender_ip_addresses": [], "sender_domains": ["fabrikam.example"]})
	contains(f.message, "trusts any sender claiming fabrikam.example")
}

test_partner_with_tls_and_ip_compliant if {
	count(deny) == 0 with input as _with_connector({"connector_type": "Partner", "require_tls": true})
}

test_certificate_restricted_compliant if {
	count(deny) == 0 with input as _with_connector({"restrict_domains_to_certificate": true, "tls_sender_certificate_name": "mail.contoso.com", "require_tls": true})
}

test_certificate_flag_without_name_violation if {
	count(deny) == 1 with input as _with_connector({"restrict_domains_to_certificate": true})
}

test_disabled_connector_compliant if {
	count(deny) == 0 with input as _with_connector({"enabled": false})
}
