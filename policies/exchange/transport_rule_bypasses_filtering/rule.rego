# Transport rules that set the spam confidence level to -1 (`SetSCL -1`): matching mail
# skips spam filtering and lands in the inbox. Rules that can match mail from outside the
# organisation are high severity: that is how phishing from a "trusted" domain (or a
# spoof of one) gets delivered.
package m365guard.rules.transport_rule_bypasses_filtering

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some rule in input.transport_rules
	object.get(rule, "set_scl", null) == -1
	lib.transport_rule_acts(rule)
	external := _external_senders(rule)
	finding := {
		"resource_type": "transport_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"severity": _severity[external],
		"message": sprintf("Transport rule \"%s\" bypasses spam filtering (SCL -1) %s%s", [
			rule.name,
			lib.transport_rule_scope(rule),
			_note[external],
		]),
		"details": {
			"set_scl": -1,
			"conditions": lib.transport_rule_scope(rule),
			"sender_domain_is": object.get(rule, "sender_domain_is", []),
			"from_scope": object.get(rule, "from_scope", null),
			"matches_external_senders": external,
			"when_changed": object.get(rule, "when_changed", null),
		},
	}
}

# Only `FromScope InOrganization` limits a rule to the organisation's own (authenticated)
# senders; a sender-domain condition does not (a sender address can be spoofed).
_external_senders(rule) := false if object.get(rule, "from_scope", null) == "InOrganization"

_external_senders(rule) := true if object.get(rule, "from_scope", null) != "InOrganization"

_severity := {true: "high", false: "medium"}

_note := {
	true: "; it can match mail from outside the organisation, which then skips spam and phishing filtering",
	false: "",
}
