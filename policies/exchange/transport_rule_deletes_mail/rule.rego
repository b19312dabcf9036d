# Transport rules that silently delete matching mail (`DeleteMessage`: no NDR, no
# quarantine). Attackers use them to make security notifications, bank replies or
# "did you send this?" mail disappear. Quarantining is recoverable and not flagged.
package m365guard.rules.transport_rule_deletes_mail

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some rule in input.transport_rules
	object.get(rule, "delete_message", false) == true
	lib.transport_rule_acts(rule)
	finding := {
		"resource_type": "transport_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"message": sprintf("Transport rule \"%s\" deletes mail without a trace (no delivery, no non-delivery report, no quarantine) %s", [
			rule.name,
			lib.transport_rule_scope(rule),
		]),
		"details": {
			"delete_message": true,
			"conditions": lib.transport_rule_scope(rule),
			"when_changed": object.get(rule, "when_changed", null),
		},
	}
}
