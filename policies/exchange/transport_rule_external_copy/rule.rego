# Transport rules that send mail (a Bcc, a redirect, an added To or Cc recipient) to an
# address outside the organisation: outside the verified domains (the accepted domains
# Exchange also uses) and not an allowed partner domain. A recipient named by its
# Exchange name is resolved through the `recipients` source (a mail contact's external
# address). Disabled rules and rules in audit mode do not act on mail and are not flagged.
package m365guard.rules.transport_rule_external_copy

import data.m365guard.lib
import rego.v1

# Action property -> how the message says it; hidden copies first.
_verbs := {
	"blind_copy_to": "sends a blind copy (Bcc) of",
	"redirect_message_to": "redirects",
	"add_to_recipients": "adds a To recipient to",
	"copy_to": "adds a Cc recipient to",
}

deny contains finding if {
	some rule in input.transport_rules
	lib.transport_rule_acts(rule)
	external := {action: targets |
		some action, _ in _verbs
		targets := sort({t |
			some r in object.get(rule, action, [])
			some t in _destinations(r)
			lib.is_external_forwarding_target(t)
		})
		count(targets) > 0
	}
	count(external) > 0
	all_targets := sort({t | some ts in external; some t in ts})
	via := lib.recipients_via(all_targets)
	finding := {
		"resource_type": "transport_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"severity": _severity(external),
		"message": sprintf("Transport rule \"%s\" %s %s to %s (outside the organisation)%s", [
			rule.name,
			concat(" and ", [_verbs[a] | some a in ["blind_copy_to", "redirect_message_to", "add_to_recipients", "copy_to"]; external[a]]),
			_what(rule),
			concat(", ", all_targets),
			_via_text(via),
		]),
		"details": {
			"external_recipients": external,
			"conditions": lib.transport_rule_scope(rule),
			"via_recipients": via,
			"state": object.get(rule, "state", null),
			"when_changed": object.get(rule, "when_changed", null),
		},
	}
}

# An address as written, or what a named recipient object delivers to.
_destinations(r) := {lower(r)} if contains(r, "@")

_destinations(r) := _addresses_by_name[lower(r)] if not contains(r, "@")

_addresses_by_name[name] contains address if {
	some rec in object.get(input, "recipients", [])
	name := lower(rec.name)
	addr := object.get(rec, "external_email_address", object.get(rec, "primary_smtp_address", ""))
	addr != ""
	address := lower(addr)
}

_what(rule) := "every message" if lib.transport_rule_scope(rule) == "for every message"

_what(rule) := sprintf("mail (%s)", [trim_prefix(lib.transport_rule_scope(rule), "for mail ")]) if lib.transport_rule_scope(rule) != "for every message"

_via_text(via) := "" if count(via) == 0

_via_text(via) := sprintf(" through %s", [concat(", ", via)]) if count(via) > 0

# A hidden copy or a redirect is invisible to the recipients: high. An added To or Cc
# recipient shows in the message: medium.
_severity(external) := "high" if {
	some a in ["blind_copy_to", "redirect_message_to"]
	external[a]
}

_severity(external) := "medium" if {
	not external.blind_copy_to
	not external.redirect_message_to
}
