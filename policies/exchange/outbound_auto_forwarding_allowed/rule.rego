# Outbound spam policies that let users auto-forward mail outside the organisation.
package m365guard.rules.outbound_auto_forwarding_allowed

import rego.v1

deny contains finding if {
	some policy in input.outbound_spam.policies
	object.get(policy, "enabled", true) == true
	lower(policy.auto_forwarding_mode) == "on"
	finding := {
		"resource_type": "outbound_spam_policy",
		"resource_id": policy.id,
		"resource_name": policy.id,
		"message": sprintf("Outbound spam policy %s allows automatic forwarding to external recipients (AutoForwardingMode %s)%s", [
			policy.id,
			policy.auto_forwarding_mode,
			_scope_note(object.get(policy, "is_default", false)),
		]),
		"details": {
			"auto_forwarding_mode": policy.auto_forwarding_mode,
			"is_default": object.get(policy, "is_default", false),
		},
	}
}

_scope_note(true) := "; as the default policy it applies to every mailbox without a custom policy"

_scope_note(false) := ""
