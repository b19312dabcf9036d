# Enabled inbox rules forwarding or redirecting mail outside the tenant.
package m365guard.rules.inbox_rule_external_forwarding

import data.m365guard.lib
import data.m365guard.lib.inbox_rules_by_forward_as_attachment_to
import data.m365guard.lib.inbox_rules_by_forward_to
import data.m365guard.lib.inbox_rules_by_redirect_to
import rego.v1

# One body per recipient action, each reading the library's index of inbox rules by
# recipient list (one native pass over the 300k inbox rules, shared with the hiding rule):
# each DISTINCT recipient list is checked once, and only the rules holding a list with an
# external address reach `_finding`, which builds the message.
deny contains finding if {
	some addresses, positions in inbox_rules_by_forward_to
	some address in addresses
	lib.is_external_forwarding_target(address)
	some i in positions
	finding := _finding(input.inbox_rules[i])
}

deny contains finding if {
	some addresses, positions in inbox_rules_by_redirect_to
	some address in addresses
	lib.is_external_forwarding_target(address)
	some i in positions
	finding := _finding(input.inbox_rules[i])
}

deny contains finding if {
	some addresses, positions in inbox_rules_by_forward_as_attachment_to
	some address in addresses
	lib.is_external_forwarding_target(address)
	some i in positions
	finding := _finding(input.inbox_rules[i])
}

_finding(rule) := finding if {
	rule.enabled == true
	actions := rule.actions
	forward_to := object.get(actions, "forward_to", [])
	redirect_to := object.get(actions, "redirect_to", [])
	attach_to := object.get(actions, "forward_as_attachment_to", [])
	count(forward_to) + count(redirect_to) + count(attach_to) > 0
	external := {
		"forward_to": _external(forward_to),
		"redirect_to": _external(redirect_to),
		"forward_as_attachment_to": _external(attach_to),
	}
	all_external := sort((external.forward_to | external.redirect_to) | external.forward_as_attachment_to)
	count(all_external) > 0
	hidden := object.get(rule, "hidden", false)
	via := lib.recipients_via(all_external)
	finding := {
		"resource_type": "inbox_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"message": sprintf("Inbox rule \"%s\" in mailbox %s %s mail to %s (outside the tenant's verified domains)%s%s", [
			rule.name,
			rule.mailbox_upn,
			_verb(external),
			concat(", ", all_external),
			_via_note(via),
			_hidden_note(hidden),
		]),
		"details": {
			"mailbox_id": rule.mailbox_id,
			"external_addresses": all_external,
			"forward_to": sort(external.forward_to),
			"redirect_to": sort(external.redirect_to),
			"forward_as_attachment_to": sort(external.forward_as_attachment_to),
			"hidden": hidden,
			"via_recipients": via,
		},
	}
}

_external(addresses) := {lib.normalise_address(a) | some a in addresses; lib.is_external_forwarding_target(a)}

# "forwards", "redirects" or "forwards and redirects", by which actions reach outside.
_verb(external) := concat(" and ", [v | some v in ["forwards", "redirects"]; _acts(v, external)])

_acts("forwards", external) if count(external.forward_to) > 0

_acts("forwards", external) if count(external.forward_as_attachment_to) > 0

_acts("redirects", external) if count(external.redirect_to) > 0

# A recipient named by its directory object (a mail contact, say), resolved by the collector.
_via_note(via) := sprintf(" through %s", [concat(", ", via)]) if count(via) > 0

_via_note(via) := "" if count(via) == 0

_hidden_note(true) := "; the rule is hidden from Outlook and Graph"

_hidden_note(false) := ""
