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

_smtp(m) := "on (the mailbox's own setting)" if object.get(m, "smtp_client_authentication_disabled", null) == false

_smtp(m) := "on (the organisation's setting)" if {
	object.get(m, "smtp_client_authentication_disabled", null) == null
	_org_smtp_on
}

_smtp(m) := "off" if object.get(m, "smtp_client_authentication_disabled", null) == true

_smtp(m) := "off (the organisation's setting)" if {
	object.get(m, "smtp_client_authentication_disabled", null) == null
	not _org_smtp_on
}

_on(m) := [name |
	some [key, name] in [["pop_enabled", "POP"], ["imap_enabled", "IMAP"]]
	object.get(m, key, null) == true
]

# Flagged protocols: POP/IMAP on, SMTP AUTH on by the mailbox's own setting.
_flagged(m) := array.concat(_on(m), ["SMTP AUTH" | object.get(m, "smtp_client_authentication_disabled", null) == false])

_reads(m) if count(_on(m)) > 0

_sends(m) if startswith(_smtp(m), "on")

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

deny contains finding if {
	some i in _candidates
	m := input.mail_protocols.mailboxes[i]
	protocols := _flagged(m)
	count(protocols) > 0
	finding := {
		"resource_type": "cas_mailbox",
		"resource_id": m.id,
		"resource_name": m.primary_smtp_address,
		"severity": _severity(m),
		"message": sprintf("Mailbox %s accepts %s%s", [
			m.primary_smtp_address,
			concat(" and ", protocols),
			_note(m),
		]),
		"details": {
			"protocols": protocols,
			"pop_enabled": object.get(m, "pop_enabled", null),
			"imap_enabled": object.get(m, "imap_enabled", null),
			"smtp_auth": _smtp(m),
		},
	}
}

# Read and send from any mail client: what an attacker's client needs.
_severity(m) := "high" if _both(m)

_severity(m) := "medium" if not _both(m)

_both(m) if {
	_reads(m)
	_sends(m)
}

_note(m) := ": a mail client outside Outlook and Outlook on the web can read its mail and send as it" if _both(m)

_note(m) := ": a mail client outside Outlook and Outlook on the web can reach it" if not _both(m)

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
