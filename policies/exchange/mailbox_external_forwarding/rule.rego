# Mailboxes forwarding all mail outside the tenant (ForwardingSmtpAddress / ForwardingAddress).
package m365guard.rules.mailbox_external_forwarding

import data.m365guard.lib
import rego.v1

# One body per forwarding property, each reading an index of the mailboxes by that
# property (`m365guard.index_by`: one native pass over the 100k mailboxes instead of one
# interpreted loop per property). Almost every mailbox has neither: only the mailboxes
# holding a non-null address reach `_finding`.
_mailbox_index := m365guard.index_by(input.mailboxes, [["forwarding_smtp_address"], ["forwarding_address_smtp"]])

deny contains finding if {
	some address, positions in _mailbox_index[0]
	address != null
	some i in positions
	finding := _finding(input.mailboxes[i])
}

deny contains finding if {
	some address, positions in _mailbox_index[1]
	address != null
	some i in positions
	finding := _finding(input.mailboxes[i])
}

_finding(mailbox) := finding if {
	targets := _forwarding_targets(mailbox)
	count(targets) > 0
	external := sort({lib.normalise_address(a) | some a in targets; lib.is_external_forwarding_target(a)})
	count(external) > 0
	keep_copy := object.get(mailbox, "deliver_to_mailbox_and_forward", false)
	via := lib.recipients_via(external)
	finding := {
		"resource_type": "mailbox",
		"resource_id": mailbox.id,
		"resource_name": mailbox.user_principal_name,
		"message": sprintf("Mailbox %s forwards all mail to %s (outside the tenant's verified domains)%s%s", [
			mailbox.user_principal_name,
			concat(", ", external),
			_via_note(via),
			_copy_note(keep_copy),
		]),
		"details": {
			"forwarding_addresses": external,
			"deliver_to_mailbox_and_forward": keep_copy,
			"via_recipients": via,
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

# ForwardingAddress names a recipient object (a mail contact, say) whose address is outside.
_via_note(via) := sprintf(" through %s", [concat(", ", via)]) if count(via) > 0

_via_note(via) := "" if count(via) == 0

_copy_note(true) := ", keeping a copy in the mailbox so the owner notices nothing"

_copy_note(false) := ""
