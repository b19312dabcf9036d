# Users Exchange Online has blocked from sending after outbound spam.
package m365guard.rules.restricted_sender

import rego.v1

deny contains finding if {
	some entry in input.outbound_spam.restricted_senders
	finding := {
		"resource_type": "restricted_sender",
		"resource_id": entry.id,
		"resource_name": entry.id,
		"message": sprintf("%s is on the restricted senders list: Exchange Online blocked it from sending after it sent outbound spam, a strong sign the account is compromised%s", [
			entry.id,
			_since(object.get(entry, "created", null)),
		]),
		"details": {
			"user_id": object.get(entry, "user_id", null),
			"reason": object.get(entry, "reason", null),
			"created": object.get(entry, "created", null),
		},
	}
}

_since(null) := ""

_since(created) := sprintf(" (blocked since %s)", [created]) if created != null
