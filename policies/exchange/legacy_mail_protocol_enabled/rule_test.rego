package m365guard.rules.legacy_mail_protocol_enabled

import data.m365guard.lib.fixtures
import rego.v1

_set(i, key, value) := json.patch(fixtures.base, [{"op": "replace", "path": sprintf("/mail_protocols/mailboxes/%d/%s", [i, key]), "value": value}])

_org_smtp_on_input := json.patch(fixtures.base, [{"op": "replace", "path": "/mail_protocols/transport/0/smtp_client_authentication_disabled", "value": false}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_pop_on_violation if {
	findings := deny with input as _set(0, "pop_enabled", true)
	count(findings) == 1
	some f in findings
	f.resource_type == "cas_mailbox"
	f.resource_id == fixtures.dana_id
	f.resource_name == "dana.whitfield@contoso.com"
	f.severity == "medium"
	f.details.protocols == ["POP"]
	f.message == "Mailbox dana.whitfield@contoso.com accepts POP: a mail client outside Outlook and Outlook on the web can reach it"
}

test_imap_and_own_smtp_auth_is_high_violation if {
	input_doc := json.patch(_set(1, "imap_enabled", true), [{"op": "replace", "path": "/mail_protocols/mailboxes/1/smtp_client_authentication_disabled", "value": false}])
	findings := deny with input as input_doc
	count(findings) == 1
	some f in findings
	f.resource_id == fixtures.lena_id
	f.severity == "high"
	f.details.protocols == ["IMAP", "SMTP AUTH"]
	f.details.smtp_auth == "on (the mailbox's own setting)"
	f.message == "Mailbox lena.fischer@contoso.com accepts IMAP and SMTP AUTH: a mail client outside Outlook and Outlook on the web can read its mail and send as it"
}

test_own_smtp_auth_alone_violation if {
	findings := deny with input as _set(2, "smtp_client_authentication_disabled", false)
	count(findings) == 1
	some f in findings
	f.resource_id == fixtures.raj_id
	f.severity == "medium"
	f.details.protocols == ["SMTP AUTH"]
}

# null means "use the organisation's setting": with SMTP AUTH off there, nothing to flag.
test_null_mailbox_setting_follows_the_organisation_compliant if {
	count(deny) == 0 with input as fixtures.base
	count(deny) == 0 with input as _set(0, "smtp_client_authentication_disabled", true)
}

test_org_smtp_auth_on_violation if {
	findings := deny with input as _org_smtp_on_input
	count(findings) == 1
	some f in findings
	f.resource_type == "transport_settings"
	f.resource_id == "Transport Settings"
	f.severity == "medium"
	f.details.mailboxes_using_the_organisation_setting == 3
	f.message == "SMTP AUTH is on for the organisation: the 3 mailboxes without their own setting can submit mail with SMTP AUTH"
}

# With SMTP AUTH on for the organisation, a mailbox that inherits it and has IMAP on reads
# and sends: high. A mailbox that turned SMTP AUTH off for itself is not counted.
test_org_smtp_auth_inherited_by_an_imap_mailbox_is_high if {
	input_doc := json.patch(_org_smtp_on_input, [
		{"op": "replace", "path": "/mail_protocols/mailboxes/1/imap_enabled", "value": true},
		{"op": "replace", "path": "/mail_protocols/mailboxes/2/smtp_client_authentication_disabled", "value": true},
	])
	findings := deny with input as input_doc
	count(findings) == 2
	some f in findings
	f.resource_id == fixtures.lena_id
	f.severity == "high"
	f.details.protocols == ["IMAP"]
	f.details.smtp_auth == "on (the organisation's setting)"
	some org in findings
	org.resource_type == "transport_settings"
	org.details.mailboxes_using_the_organisation_setting == 2
}

test_unknown_values_compliant if {
	input_doc := json.patch(fixtures.base, [
		{"op": "remove", "path": "/mail_protocols/mailboxes/0/pop_enabled"},
		{"op": "remove", "path": "/mail_protocols/transport/0/smtp_client_authentication_disabled"},
	])
	count(deny) == 0 with input as input_doc
}

# The SMTP AUTH text is read from the mailbox's own setting once per mailbox: a POP mailbox
# following an organisation that has SMTP AUTH off is medium and says so.
test_pop_mailbox_following_the_organisation_off_is_medium if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/mail_protocols/mailboxes/0/pop_enabled", "value": true},
		{"op": "replace", "path": "/mail_protocols/mailboxes/0/smtp_client_authentication_disabled", "value": null},
	])
	count(findings) == 1
	some f in findings
	f.severity == "medium"
	f.details.smtp_auth == "off (the organisation's setting)"
}
