# Enabled outbound connectors that route mail through a smart host the organisation does
# not expect: neither in (or under) a verified domain of the tenant (its own on-premises
# servers) nor listed in `allowed_smart_hosts` (m365guard.toml, `[exchange]`). A connector
# for every domain (`*`) diverts all outbound mail and is high severity.
package m365guard.rules.outbound_connector_unexpected

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some connector in input.outbound_connectors
	object.get(connector, "enabled", true) != false
	unexpected := sort({h |
		some h in object.get(connector, "smart_hosts", [])
		not lib.is_expected_smart_host(h)
	})
	count(unexpected) > 0
	domains := object.get(connector, "recipient_domains", [])
	all_domains := "*" in domains
	finding := {
		"resource_type": "outbound_connector",
		"resource_id": connector.id,
		"resource_name": connector.name,
		"severity": _severity[all_domains],
		"message": sprintf("Outbound connector \"%s\" routes %s through %s, a smart host outside the organisation's domains and not in allowed_smart_hosts%s", [
			connector.name,
			_routes(domains, object.get(connector, "is_transport_rule_scoped", false)),
			concat(", ", unexpected),
			_tls_note(connector),
		]),
		"details": {
			"unexpected_smart_hosts": unexpected,
			"recipient_domains": domains,
			"routes_all_domains": all_domains,
			"is_transport_rule_scoped": object.get(connector, "is_transport_rule_scoped", false),
			"connector_type": object.get(connector, "connector_type", null),
			"when_changed": object.get(connector, "when_changed", null),
		},
	}
}

_severity := {true: "high", false: "medium"}

_routes(domains, _) := "all outbound mail (recipient domain *)" if "*" in domains

_routes(domains, false) := sprintf("mail for %s", [concat(", ", domains)]) if {
	not "*" in domains
	count(domains) > 0
}

_routes(domains, true) := "mail that transport rules send to it" if not "*" in domains

_routes(domains, false) := "mail" if count(domains) == 0

_tls_note(connector) := "" if object.get(connector, "tls_settings", null) != null

_tls_note(connector) := " (without TLS certificate validation)" if object.get(connector, "tls_settings", null) == null
