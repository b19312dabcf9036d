# Mailboxes forwarding all mail outside the tenant (ForwardingSmtpAddress / ForwardingAddress).
package m365guard.rules.mailbox_external_forwarding

import data.m365guard.lib
import rego.v1

# One body per forwarding property, each reading an index of the mailboxes by that
# property (`m365guard.index_by`: one native pass over the 100k mailboxes instead of one
# interpreted loop per property). Almost every mailbox has neither: only the mailboxes
# holding a non-null address reach `_finding`.
_mailbox_index := m365guard.index_by(input.mailboxes, [["forwarding_smtp_address"], ["forwarding_address_smtp"]])

_forwarding contains i if {
	some address, positions in _mailbox_index[0]
	address != null
	some i in positions
}

_forwarding contains i if {
	some address, positions in _mailbox_index[1]
	address != null
	some i in positions
}

# The finding of each forwarding mailbox (a mailbox with both properties once), built
# inline with the shared tables bound before the loop.
deny contains finding if {
	mailboxes := input.mailboxes
	copy_notes := _copy_notes
	some i in _forwarding
	mailbox := mailboxes[i]

	# Both forwarding properties, resolved to SMTP addresses (null or absent when unset).
	targets := {a |
		some field in ["forwarding_smtp_address", "forwarding_address_smtp"]
		a := object.get(mailbox, field, null)
		is_string(a)
		a != ""
	}
	count(targets) > 0
	external := sort({lib.normalise_address(a) | some a in targets; lib.is_external_forwarding_target(a)})
	count(external) > 0
	keep_copy := object.get(mailbox, "deliver_to_mailbox_and_forward", false)
	via := lib.recipients_via(external)

	# ForwardingAddress names a recipient object (a mail contact, say) whose address is outside.
	via_note := concat("", [sprintf(" through %s", [concat(", ", via)]) | count(via) > 0])
	finding := {
		"resource_type": "mailbox",
		"resource_id": mailbox.id,
		"resource_name": mailbox.user_principal_name,
		"message": sprintf("Mailbox %s forwards all mail to %s (outside the tenant's verified domains)%s%s", [
			mailbox.user_principal_name,
			concat(", ", external),
			via_note,
			copy_notes[keep_copy],
		]),
		"details": {
			"forwarding_addresses": external,
			"deliver_to_mailbox_and_forward": keep_copy,
			"via_recipients": via,
		},
	}
}

# By `deliver_to_mailbox_and_forward` (true or false; any other value makes no finding).
_copy_notes := {true: ", keeping a copy in the mailbox so the owner notices nothing", false: ""}
