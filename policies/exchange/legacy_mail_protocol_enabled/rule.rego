# Mail protocols outside Outlook and Outlook on the web: POP and IMAP (read a mailbox with
# any mail client) and authenticated SMTP submission, SMTP AUTH (send as the mailbox).
# One finding per mailbox that has POP or IMAP on, or SMTP AUTH on by its own setting, and
# one for the organisation when SMTP AUTH is on for every mailbox without its own setting.
#
# A mailbox's `smtp_client_authentication_disabled` is true (off), false (on) or null (use
# the organisation's setting), as Microsoft documents for Set-CASMailbox: a null mailbox is
# counted in the organisation's finding, not flagged one by one.
package m365guard.rules.legacy_mail_protocol_enabled

import rego.v1

# The organisation's SMTP AUTH switch: on only when Exchange said so (null = unknown).
_org_smtp_on if {
	some t in input.mail_protocols.transport
	object.get(t, "smtp_client_authentication_disabled", null) == false
}

# What SMTP AUTH is for a mailbox, by its own setting (`smtp_client_authentication_disabled`:
# false = on, true = off, null = the organisation's setting); any other value has no text.
_smtp_texts := {
	false: "on (the mailbox's own setting)",
	true: "off",
	null: _org_smtp_text,
}

default _org_smtp_text := "off (the organisation's setting)"

_org_smtp_text := "on (the organisation's setting)" if _org_smtp_on

# The mailboxes that can have a flagged protocol (POP or IMAP true, SMTP AUTH's own
# setting false), found in ONE native pass (`m365guard.index_by`, see policies/README.md):
# testing every mailbox in Rego cost ~1 s at 100k users. `deny` still makes every test.
_index := m365guard.index_by(input.mail_protocols.mailboxes, [
	["pop_enabled"],
	["imap_enabled"],
	["smtp_client_authentication_disabled"],
])

_candidates contains i if {
	some i in _index[0][true]
}

_candidates contains i if {
	some i in _index[1][true]
}

_candidates contains i if {
	some i in _index[2][false]
}

# Each candidate's facts are read once and the finding built inline, with the shared texts
# bound before the loop: helper functions re-deriving them (the SMTP AUTH text alone four
# times) cost ~130 µs a finding, 0.25 s of CPU at 100k users.
deny contains finding if {
	smtp_texts := _smtp_texts
	severities := _severity
	notes := _note
	mailboxes := input.mail_protocols.mailboxes
	some i in _candidates
	m := mailboxes[i]
	own_smtp := object.get(m, "smtp_client_authentication_disabled", null)
	reads := array.concat(
		["POP" | object.get(m, "pop_enabled", null) == true],
		["IMAP" | object.get(m, "imap_enabled", null) == true],
	)

	# Flagged protocols: POP/IMAP on, SMTP AUTH on by the mailbox's own setting.
	protocols := array.concat(reads, ["SMTP AUTH" | own_smtp == false])
	count(protocols) > 0
	smtp := smtp_texts[own_smtp]

	# Read and send from any mail client: what an attacker's client needs.
	both := [count(reads) > 0, startswith(smtp, "on")] == [true, true]
	finding := {
		"resource_type": "cas_mailbox",
		"resource_id": m.id,
		"resource_name": m.primary_smtp_address,
		"severity": severities[both],
		"message": sprintf("Mailbox %s accepts %s%s", [
			m.primary_smtp_address,
			concat(" and ", protocols),
			notes[both],
		]),
		"details": {
			"protocols": protocols,
			"pop_enabled": object.get(m, "pop_enabled", null),
			"imap_enabled": object.get(m, "imap_enabled", null),
			"smtp_auth": smtp,
		},
	}
}

_severity := {true: "high", false: "medium"}

_note := {
	true: ": a mail client outside Outlook and Outlook on the web can read its mail and send as it",
	false: ": a mail client outside Outlook and Outlook on the web can reach it",
}

deny contains finding if {
	some t in input.mail_protocols.transport
	object.get(t, "smtp_client_authentication_disabled", null) == false
	inheriting := count([m |
		some m in input.mail_protocols.mailboxes
		object.get(m, "smtp_client_authentication_disabled", null) == null
	])
	finding := {
		"resource_type": "transport_settings",
		"resource_id": t.id,
		"resource_name": "organisation (Get-TransportConfig)",
		"severity": "medium",
		"message": sprintf("SMTP AUTH is on for the organisation: the %d mailboxes without their own setting can submit mail with SMTP AUTH", [inheriting]),
		"details": {
			"smtp_client_authentication_disabled": false,
			"mailboxes_using_the_organisation_setting": inheriting,
		},
	}
}
