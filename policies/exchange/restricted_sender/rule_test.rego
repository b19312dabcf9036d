package m365guard.rules.restricted_sender

import data.m365guard.lib.fixtures
import rego.v1

_raj_blocked := {
	"id": "raj.patel@contoso.com",
	"user_id": fixtures.raj_id,
	"reason": "EmailSendingLimitExceeded;ExternalRecipientCountToday=1503;ExceedingLimitType=External",
	"created": "2026-01-01T06:42:17Z",
}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_restricted_sender_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": "/outbound_spam/restricted_senders/-", "value": _raj_blocked}])
	count(findings) == 1
	some f in findings
	f.resource_type == "restricted_sender"
	f.resource_id == "raj.patel@contoso.com"
	f.resource_name == "raj.patel@contoso.com"
	f.message == "raj.patel@contoso.com is on the restricted senders list: Exchange Online blocked it from sending after it sent outbound spam, a strong sign the account is compromised (blocked since 2026-01-01T06:42:17Z)"
	f.details.user_id == fixtures.raj_id
	startswith(f.details.reason, "EmailSendingLimitExceeded")
}

test_minimal_entry_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": "/outbound_spam/restricted_senders/-", "value": {"id": "shared@contoso.com"}}])
	count(findings) == 1
	some f in findings
	f.details.user_id == null
	f.details.created == null
	endswith(f.message, "a strong sign the account is compromised")
}

test_two_entries_violation if {
	count(deny) == 2 with input as json.patch(fixtures.base, [
		{"op": "add", "path": "/outbound_spam/restricted_senders/-", "value": _raj_blocked},
		{"op": "add", "path": "/outbound_spam/restricted_senders/-", "value": {"id": "lena.fischer@contoso.com", "user_id": fixtures.lena_id}},
	])
}
