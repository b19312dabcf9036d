# Mailboxes forwarding all mail outside the tenant (ForwardingSmtpAddress / ForwardingAddress).
package m365guard.rules.mailbox_external_forwarding

import data.m365guard.lib
import rego.v1

# One plain loop per forwarding property: almost every mailbox has neither, and an inline
# null test is far cheaper in regorus than a function call per mailbox (100k of them).
deny contains finding if {
	some mailbox in input.mailboxes
	mailbox.forwarding_smtp_address != null
	finding := _finding(mailbox)
}

deny contains finding if {
	some mailbox in input.mailboxes
	mailbox.forwarding_address_smtp != null
	finding := _finding(mailbox)
}

_finding(mailbox) := finding if {
	targets := _forwarding_targets(mailbox)
	count(targets) > 0
	external := sort({lib.normalise_address(a) | some a in targets; lib.is_external_forwarding_target(a)})
	count(external) > 0
	keep_copy := object.get(mailbox, "deliver_to_mailbox_and_forward", false)
	finding := {
		"resource_type": "mailbox",
		"resource_id": mailbox.id,
		"resource_name": mailbox.user_principal_name,
		"message": sprintf("Mailbox %s forwards all mail to %s (outside the tenant's verified domains)%s", [
			mailbox.user_principal_name,
			concat(", ", external),
			_copy_note(keep_copy),
		]),
		"details": {
			"forwarding_addresses": external,
			"deliver_to_mailbox_and_forward": keep_copy,
		},
	}
}

# Both forwarding properties, resolved to SMTP addresses (null or absent when unset).
_forwarding_targets(mailbox) := {a |
	some field in ["forwarding_smtp_address", "forwarding_address_smtp"]
	a := object.get(mailbox, field, null)
	is_string(a)
	a != ""
}

_copy_note(true) := ", keeping a copy in the mailbox so the owner notices nothing"

_copy_note(false) := ""
