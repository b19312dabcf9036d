package m365guard.rules.mailbox_external_forwarding

import data.m365guard.lib
import data.m365guard.lib.fixtures
import rego.v1

# Lena's mailbox (index 1) with a forwarding address.
_forward(address) := json.patch(fixtures.base, [{"op": "replace", "path": "/mailboxes/1/forwarding_smtp_address", "value": address}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_external_forward_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/mailboxes/1/forwarding_smtp_address", "value": "lena.backup@gmail.com"},
		{"op": "replace", "path": "/mailboxes/1/deliver_to_mailbox_and_forward", "value": true},
	])
	count(findings) == 1
	some f in findings
	f.resource_type == "mailbox"
	f.resource_id == fixtures.lena_id
	f.resource_name == "lena.fischer@contoso.com"
	f.message == "Mailbox lena.fischer@contoso.com forwards all mail to lena.backup@gmail.com (outside the tenant's verified domains), keeping a copy in the mailbox so the owner notices nothing"
	f.details.forwarding_addresses == ["lena.backup@gmail.com"]
	f.details.deliver_to_mailbox_and_forward == true
}

test_external_forward_without_copy_violation if {
	findings := deny with input as _forward("lena.backup@gmail.com")
	some f in findings
	f.message == "Mailbox lena.fischer@contoso.com forwards all mail to lena.backup@gmail.com (outside the tenant's verified domains)"
}

test_upper_case_smtp_prefix_violation if {
	findings := deny with input as _forward("SMTP:Lena.Backup@GMAIL.COM")
	count(findings) == 1
	some f in findings
	f.details.forwarding_addresses == ["lena.backup@gmail.com"]
}

test_upper_case_internal_compliant if {
	count(deny) == 0 with input as _forward("SMTP:Raj.Patel@CONTOSO.COM")
}

test_internal_forward_compliant if {
	count(deny) == 0 with input as _forward("raj.patel@contoso.com")
}

test_verified_subdomain_compliant if {
	count(deny) == 0 with input as _forward("raj.patel@eu.contoso.com")
}

test_subdomain_of_verified_subdomain_compliant if {
	count(deny) == 0 with input as _forward("raj.patel@mail.eu.contoso.com")
}

test_lookalike_domain_violation if {
	# "evilcontoso.com" ends with "contoso.com" but is not a subdomain of it.
	count(deny) == 1 with input as _forward("lena@evilcontoso.com")
}

test_verified_domain_as_prefix_violation if {
	count(deny) == 1 with input as _forward("lena@contoso.com.attacker.example")
}

test_allowed_partner_compliant if {
	count(deny) == 0 with input as _forward("lena@fabrikam.com")
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.com"]
}

test_allowed_partner_subdomain_compliant if {
	count(deny) == 0 with input as _forward("lena@mail.fabrikam.com")
		with data.m365guard.config.allowed_forwarding_domains as ["Fabrikam.com"]
}

test_other_partner_violation if {
	count(deny) == 1 with input as _forward("lena@gmail.com")
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.com"]
}

test_forwarding_address_smtp_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/mailboxes/1/forwarding_address", "value": "Lena Backup (contact)"},
		{"op": "add", "path": "/mailboxes/1/forwarding_address_smtp", "value": "lena.backup@outlook.example"},
	])
	some f in findings
	f.details.forwarding_addresses == ["lena.backup@outlook.example"]
}

test_unresolved_forwarding_address_compliant if {
	# A ForwardingAddress without an SMTP resolution is an internal recipient identity.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/mailboxes/1/forwarding_address", "value": "Raj Patel"}])
}

test_both_properties_external_one_finding if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/mailboxes/1/forwarding_smtp_address", "value": "b@gmail.com"},
		{"op": "add", "path": "/mailboxes/1/forwarding_address_smtp", "value": "a@outlook.example"},
	])
	count(findings) == 1
	some f in findings
	f.details.forwarding_addresses == ["a@outlook.example", "b@gmail.com"]
}

test_fields_absent_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "remove", "path": "/mailboxes/1/forwarding_smtp_address"},
		{"op": "remove", "path": "/mailboxes/1/deliver_to_mailbox_and_forward"},
	])
}

# The address helpers of policies/lib, which custom rules use too.

test_lib_internal_address_helpers if {
	lib.is_internal_address("Raj.Patel@EU.Contoso.com") with input as fixtures.base
	not lib.is_internal_address("raj@contoso.com.example") with input as fixtures.base
	not lib.is_internal_address("not-an-address") with input as fixtures.base
	lib.address_domain("SMTP:Lena@Mail.Example") == "mail.example"
	lib.normalise_address(" SMTP:Lena@Mail.Example ") == "lena@mail.example"
}

test_lib_partner_address_helpers if {
	lib.is_allowed_partner_address("ap@emea.fabrikam.com") with input as fixtures.base
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.com"]
	not lib.is_allowed_partner_address("ap@fabrikam.com") with input as fixtures.base
		with data.m365guard.config.allowed_forwarding_domains as []
	not lib.is_external_forwarding_target("no-domain") with input as fixtures.base
}

# Issue 10 item 2: ForwardingAddress naming a mail contact ("AP Archive", recipients[0])
# whose external address the collector resolved: flagged, and the contact is named.
test_forwarding_address_through_mail_contact_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/mailboxes/1/forwarding_address", "value": "AP Archive"},
		{"op": "add", "path": "/mailboxes/1/forwarding_address_smtp", "value": "ap.archive@securemail-box.example"},
		{"op": "replace", "path": "/mailboxes/1/deliver_to_mailbox_and_forward", "value": true},
	])
	count(findings) == 1
	some f in findings
	f.message == "Mailbox lena.fischer@contoso.com forwards all mail to ap.archive@securemail-box.example (outside the tenant's verified domains) through mail contact \"AP Archive\", keeping a copy in the mailbox so the owner notices nothing"
	f.details.via_recipients == ["mail contact \"AP Archive\""]
}

test_forwarding_address_to_internal_group_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/mailboxes/1/forwarding_address", "value": "All Staff"},
		{"op": "add", "path": "/mailboxes/1/forwarding_address_smtp", "value": "allstaff@contoso.com"},
	])
}

test_mail_user_kind_is_named if {
	input_doc := json.patch(fixtures.base, [
		{"op": "add", "path": "/recipients/-", "value": {"id": "mu1", "name": "Ext Consultant", "recipient_type_details": "MailUser", "primary_smtp_address": "consultant@contoso.com", "external_email_address": "Consultant@Home.Example"}},
		{"op": "replace", "path": "/mailboxes/1/forwarding_address", "value": "Ext Consultant"},
		{"op": "add", "path": "/mailboxes/1/forwarding_address_smtp", "value": "consultant@home.example"},
	])
	some f in deny with input as input_doc
	f.details.via_recipients == ["mail user \"Ext Consultant\""]
}
