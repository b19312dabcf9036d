package m365guard.rules.inbox_rule_external_forwarding

import data.m365guard.lib.fixtures
import rego.v1

# Raj's rule (index 1) forwards to dana@contoso.com in the base fixture.
_rule := "/inbox_rules/1"

_raj_rule_id := concat("/", [fixtures.raj_id, "AQAAAFr3kR1="])

_forward_to(addresses) := json.patch(fixtures.base, [{"op": "replace", "path": concat("/", [_rule, "actions", "forward_to"]), "value": addresses}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_external_forward_violation if {
	findings := deny with input as _forward_to(["mallory@evil-mail.example"])
	count(findings) == 1
	some f in findings
	f.resource_type == "inbox_rule"
	f.resource_id == _raj_rule_id
	f.resource_name == "Forward to Dana"
	f.message == "Inbox rule \"Forward to Dana\" in mailbox raj.patel@contoso.com forwards mail to mallory@evil-mail.example (outside the tenant's verified domains)"
	f.details.external_addresses == ["mallory@evil-mail.example"]
	f.details.forward_to == ["mallory@evil-mail.example"]
	f.details.redirect_to == []
	f.details.hidden == false
}

test_mixed_targets_lists_only_external_violation if {
	findings := deny with input as _forward_to(["dana.whitfield@contoso.com", "mallory@evil-mail.example"])
	some f in findings
	f.details.external_addresses == ["mallory@evil-mail.example"]
}

test_redirect_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "remove", "path": concat("/", [_rule, "actions", "forward_to"])},
		{"op": "add", "path": concat("/", [_rule, "actions", "redirect_to"]), "value": ["lena.private@freemail.example"]},
	])
	count(findings) == 1
	some f in findings
	contains(f.message, " redirects mail to lena.private@freemail.example ")
}

test_forward_as_attachment_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": concat("/", [_rule, "actions", "forward_as_attachment_to"]), "value": ["archive@fabrikam.example"]}])
	count(findings) == 1
	some f in findings
	f.details.forward_as_attachment_to == ["archive@fabrikam.example"]
}

test_forward_and_redirect_one_finding if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": concat("/", [_rule, "actions", "forward_to"]), "value": ["a@gmail.com"]},
		{"op": "add", "path": concat("/", [_rule, "actions", "redirect_to"]), "value": ["b@gmail.com"]},
	])
	count(findings) == 1
	some f in findings
	contains(f.message, " forwards and redirects mail to a@gmail.com, b@gmail.com ")
}

test_disabled_rule_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": concat("/", [_rule, "actions", "forward_to"]), "value": ["mallory@evil-mail.example"]},
		{"op": "replace", "path": concat("/", [_rule, "enabled"]), "value": false},
	])
}

test_hidden_rule_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": concat("/", [_rule, "actions", "forward_to"]), "value": ["mallory@evil-mail.example"]},
		{"op": "add", "path": concat("/", [_rule, "hidden"]), "value": true},
	])
	some f in findings
	endswith(f.message, "; the rule is hidden from Outlook and Graph")
	f.details.hidden == true
}

test_upper_case_smtp_address_violation if {
	findings := deny with input as _forward_to(["SMTP:Mallory@Evil-Mail.EXAMPLE"])
	some f in findings
	f.details.external_addresses == ["mallory@evil-mail.example"]
}

test_verified_subdomain_compliant if {
	count(deny) == 0 with input as _forward_to(["dana.whitfield@eu.contoso.com", "Dana.Whitfield@Contoso.onmicrosoft.com"])
}

test_allowed_partner_compliant if {
	count(deny) == 0 with input as _forward_to(["billing@fabrikam.com", "ap@emea.fabrikam.com"])
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.com"]
}

test_lookalike_partner_violation if {
	count(deny) == 1 with input as _forward_to(["billing@notfabrikam.com"])
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.com"]
}

test_no_forwarding_actions_compliant if {
	# Lena's newsletter rule (index 0) has no forward fields at all.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "remove", "path": _rule}])
}

# Issue 10 item 2: a ForwardTo entry that named the "AP Archive" mail contact (an
# `EX:` reference the collector resolved to its external address) is flagged with it.
test_forward_to_mail_contact_names_the_contact if {
	findings := deny with input as _forward_to(["ap.archive@securemail-box.example"])
	count(findings) == 1
	some f in findings
	f.message == "Inbox rule \"Forward to Dana\" in mailbox raj.patel@contoso.com forwards mail to ap.archive@securemail-box.example (outside the tenant's verified domains) through mail contact \"AP Archive\""
	f.details.via_recipients == ["mail contact \"AP Archive\""]
}

test_unresolved_ex_reference_is_not_judged_as_an_address if {
	# The collector leaves an unresolvable reference as `ex:…` and marks the source
	# incomplete; the rule itself cannot judge it.
	count(deny) == 0 with input as _forward_to(["ex:/o=exchangelabs/cn=recipients/cn=deleted"])
}

# An address in a verified domain is passed over with one look-up: the domain is compared
# lower-case, and an address that only ends like a verified domain is still judged.
test_verified_domain_in_upper_case_compliant if {
	count(deny) == 0 with input as _forward_to(["Dana.Whitfield@CONTOSO.COM", "SMTP:dana@Contoso.Com"])
}

test_address_ending_like_a_verified_domain_violation if {
	findings := deny with input as _forward_to(["dana@evilcontoso.com", "mallory@contoso.com@evil-mail.example"])
	count(findings) == 1
	some f in findings
	f.details.external_addresses == ["dana@evilcontoso.com", "mallory@contoso.com@evil-mail.example"]
}
