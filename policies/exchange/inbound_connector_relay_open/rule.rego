# Enabled inbound connectors that accept mail without a certificate check: the sender is
# recognised by IP address alone (or not at all), so whoever sends from those addresses —
# or claims the sender domains, without an IP restriction — is treated as the partner or,
# for an on-premises connector, as the organisation itself (and may relay out through it).
# A partner connector that requires TLS and restricts by IP address is the documented
# partner setup and passes.
package m365guard.rules.inbound_connector_relay_open

import rego.v1

deny contains finding if {
	some connector in input.inbound_connectors
	object.get(connector, "enabled", true) != false
	not _certificate_restricted(connector)
	on_premises := lower(object.get(connector, "connector_type", "")) == "onpremises"
	tls := object.get(connector, "require_tls", false) == true
	_flagged(on_premises, tls)
	finding := {
		"resource_type": "inbound_connector",
		"resource_id": connector.id,
		"resource_name": connector.name,
		"severity": _severity[on_premises],
		"message": sprintf("Inbound connector \"%s\" %s without a TLS certificate restriction%s%s", [
			connector.name,
			_identifies(connector),
			_tls_text[tls],
			_type_note[on_premises],
		]),
		"details": {
			"connector_type": object.get(connector, "connector_type", null),
			"sender_ip_addresses": object.get(connector, "sender_ip_addresses", []),
			"sender_domains": object.get(connector, "sender_domains", []),
			"require_tls": tls,
			"restrict_domains_to_certificate": object.get(connector, "restrict_domains_to_certificate", false),
			"when_changed": object.get(connector, "when_changed", null),
		},
	}
}

_certificate_restricted(connector) if {
	object.get(connector, "restrict_domains_to_certificate", false) == true
	object.get(connector, "tls_sender_certificate_name", null) != null
}

# On-premises connectors are trusted as the organisation: any non-certificate check is
# flagged. Partner connectors are flagged when they do not even require TLS.
_flagged(true, _) := true

_flagged(false, false) := true

_identifies(c) := sprintf("trusts mail from %s by IP address only", [concat(", ", c.sender_ip_addresses)]) if count(object.get(c, "sender_ip_addresses", [])) > 0

_identifies(c) := sprintf("trusts any sender claiming %s", [concat(", ", object.get(c, "sender_domains", ["its sender domains"]))]) if count(object.get(c, "sender_ip_addresses", [])) == 0

_tls_text := {true: "", false: " and without requiring TLS"}

_type_note := {
	true: "; as an on-premises connector it makes that mail the organisation's own, which may be relayed to any recipient",
	false: "",
}

_severity := {true: "high", false: "medium"}
