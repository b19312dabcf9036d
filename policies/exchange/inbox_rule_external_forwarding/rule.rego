# Enabled inbox rules forwarding or redirecting mail outside the tenant.
package m365guard.rules.inbox_rule_external_forwarding

import data.m365guard.lib
import data.m365guard.lib.inbox_rules_by_forward_as_attachment_to
import data.m365guard.lib.inbox_rules_by_forward_to
import data.m365guard.lib.inbox_rules_by_redirect_to
import data.m365guard.lib.verified_domains
import rego.v1

# One body per recipient action, each reading the library's index of inbox rules by
# recipient list (one native pass over the 300k inbox rules, shared with the hiding rule):
# each DISTINCT recipient list is checked once, and only the rules holding a list with an
# external address reach the finding. An address in a verified domain itself (most of
# them) is passed over with one set look-up before the library's full test.
_forwarding contains i if {
	verified := verified_domains
	some addresses, positions in inbox_rules_by_forward_to
	some address in addresses
	parts := split(lower(address), "@")
	not verified[parts[count(parts) - 1]]
	lib.is_external_forwarding_target(address)
	some i in positions
}

_forwarding contains i if {
	verified := verified_domains
	some addresses, positions in inbox_rules_by_redirect_to
	some address in addresses
	parts := split(lower(address), "@")
	not verified[parts[count(parts) - 1]]
	lib.is_external_forwarding_target(address)
	some i in positions
}

_forwarding contains i if {
	verified := verified_domains
	some addresses, positions in inbox_rules_by_forward_as_attachment_to
	some address in addresses
	parts := split(lower(address), "@")
	not verified[parts[count(parts) - 1]]
	lib.is_external_forwarding_target(address)
	some i in positions
}

# The finding of each rule, built inline with the shared tables bound before the loop:
# per-finding helper functions cost ~100 µs a finding (0.14 s of CPU for 1.4k findings at
# 100k users).
deny contains finding if {
	rules := input.inbox_rules
	hidden_notes := _hidden_notes
	some i in _forwarding
	rule := rules[i]
	rule.enabled == true
	actions := rule.actions
	forward_to := object.get(actions, "forward_to", [])
	redirect_to := object.get(actions, "redirect_to", [])
	attach_to := object.get(actions, "forward_as_attachment_to", [])
	count(forward_to) + count(redirect_to) + count(attach_to) > 0
	external := {
		"forward_to": {lib.normalise_address(a) | some a in forward_to; lib.is_external_forwarding_target(a)},
		"redirect_to": {lib.normalise_address(a) | some a in redirect_to; lib.is_external_forwarding_target(a)},
		"forward_as_attachment_to": {lib.normalise_address(a) | some a in attach_to; lib.is_external_forwarding_target(a)},
	}
	all_external := sort((external.forward_to | external.redirect_to) | external.forward_as_attachment_to)
	count(all_external) > 0
	hidden := object.get(rule, "hidden", false)
	via := lib.recipients_via(all_external)

	# "forwards", "redirects" or "forwards and redirects", by which actions reach outside.
	verb := concat(" and ", array.concat(
		["forwards" | count(external.forward_to) + count(external.forward_as_attachment_to) > 0],
		["redirects" | count(external.redirect_to) > 0],
	))

	# A recipient named by its directory object (a mail contact, say), resolved by the collector.
	via_note := concat("", [sprintf(" through %s", [concat(", ", via)]) | count(via) > 0])
	finding := {
		"resource_type": "inbox_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"message": sprintf("Inbox rule \"%s\" in mailbox %s %s mail to %s (outside the tenant's verified domains)%s%s", [
			rule.name,
			rule.mailbox_upn,
			verb,
			concat(", ", all_external),
			via_note,
			hidden_notes[hidden],
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

# By `hidden` (true or false; any other value makes no finding, as before).
_hidden_notes := {true: "; the rule is hidden from Outlook and Graph", false: ""}
