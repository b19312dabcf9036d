package m365guard.rules.mailbox_delegate_unexpected

import data.m365guard.lib.fixtures
import rego.v1

# The base delegate (raj has FullAccess on lena's mailbox) with some fields replaced.
_delegate(changes) := object.union(fixtures.base.mailbox_delegates[0], changes)

_with(d) := json.patch(fixtures.base, [{"op": "add", "path": "/mailbox_delegates/-", "value": d}])

_sam := {
	"id": concat("/", [fixtures.lena_id, "full_access", "sam"]),
	"trustee": "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com",
	"trustee_id": fixtures.sam_id,
	"trustee_address": "sam.rivera_fabrikam.com#ext#@contoso.onmicrosoft.com",
	"trustee_type": "User",
}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_no_delegates_section_compliant if {
	count(deny) == 0 with input as json.remove(fixtures.base, ["mailbox_delegates"])
}

test_guest_delegate_violation if {
	findings := deny with input as _with(_delegate(_sam))
	count(findings) == 1
	some f in findings
	f.resource_type == "mailbox_delegate"
	f.resource_id == concat("/", [fixtures.lena_id, "full_access", "sam"])
	f.severity == "high"
	f.message == "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com has FullAccess on the mailbox of lena.fischer@contoso.com: the delegate is a guest account"
}

test_guest_matched_by_upn_without_an_id_violation if {
	d := json.remove(_delegate(_sam), ["trustee_id", "trustee_address", "trustee_type"])
	some f in deny with input as _with(d)
	contains(f.message, "the delegate is a guest account")
}

test_external_delegate_violation if {
	d := _delegate({
		"id": "x/send_as/contractor", "right": "send_as", "trustee": "Contractor",
		"trustee_id": "mu-1", "trustee_address": "contractor@freemail.example",
		"trustee_type": "MailUser",
	})
	findings := deny with input as _with(d)
	count(findings) == 1
	some f in findings
	f.severity == "high"
	f.message == "contractor@freemail.example has SendAs on the mailbox of lena.fischer@contoso.com: the delegate's address contractor@freemail.example is outside the organisation"
}

test_internal_subdomain_delegate_compliant if {
	d := _delegate({"id": "x/full_access/eu", "trustee": "eu.user@eu.contoso.com", "trustee_id": "u-eu", "trustee_address": "eu.user@eu.contoso.com"})
	count(deny) == 0 with input as _with(d)
}

test_disabled_delegate_violation if {
	d := _delegate({
		"id": "x/send_on_behalf/former", "right": "send_on_behalf", "trustee": "Former Employee",
		"trustee_id": fixtures.former_id, "trustee_address": "former.employee@contoso.com",
	})
	findings := deny with input as _with(d)
	count(findings) == 1
	some f in findings
	f.severity == "medium"
	f.message == "former.employee@contoso.com has Send on behalf on the mailbox of lena.fischer@contoso.com: the delegate's account is disabled"
}

test_disabled_shared_mailbox_account_as_delegate_compliant if {
	d := _delegate({"id": "x/full_access/former", "trustee_id": fixtures.former_id, "trustee_type": "SharedMailbox", "trustee_address": "former.employee@contoso.com"})
	count(deny) == 0 with input as _with(d)
}

test_delegate_on_privileged_mailbox_violation if {
	d := _delegate({
		"id": concat("/", [fixtures.dana_id, "full_access", "lena.fischer@contoso.com"]),
		"mailbox_id": fixtures.dana_id, "mailbox_upn": "dana.whitfield@contoso.com",
		"trustee": "lena.fischer@contoso.com", "trustee_id": fixtures.lena_id,
		"trustee_address": "lena.fischer@contoso.com",
	})
	findings := deny with input as _with(d)
	count(findings) == 1
	some f in findings
	f.severity == "high"
	f.message == "lena.fischer@contoso.com has FullAccess on the mailbox of dana.whitfield@contoso.com: dana.whitfield@contoso.com holds Global Administrator, and nobody else should hold rights on that mailbox"
}

test_owner_entry_on_privileged_mailbox_compliant if {
	d := _delegate({
		"id": concat("/", [fixtures.dana_id, "send_as", "dana"]), "right": "send_as",
		"mailbox_id": fixtures.dana_id, "mailbox_upn": "dana.whitfield@contoso.com",
		"trustee": "dana.whitfield@contoso.com", "trustee_id": fixtures.dana_id,
		"trustee_address": "dana.whitfield@contoso.com",
	})
	count(deny) == 0 with input as _with(d)
}

test_executive_mailbox_from_config_violation if {
	findings := deny with input as fixtures.base
		with data.m365guard.config.executive_mailboxes as ["^lena\\.fischer@contoso\\.com$"]
	count(findings) == 1
	some f in findings
	contains(f.message, "lena.fischer@contoso.com is an executive mailbox (executive_mailboxes in m365guard.toml)")
}

test_allowed_delegate_pattern_compliant if {
	count(deny) == 0 with input as _with(_delegate(_sam))
		with data.m365guard.config.allowed_delegates as [{"mailbox": "^lena\\..*$", "delegate": "^sam\\..*$"}]
}

test_allowed_pattern_for_another_mailbox_violation if {
	findings := deny with input as _with(_delegate(_sam))
		with data.m365guard.config.allowed_delegates as [{"mailbox": "^info@contoso\\.com$", "delegate": ".*"}]
	count(findings) == 1
}

test_allowed_disabled_delegate_still_violation if {
	d := _delegate({
		"id": "x/full_access/former", "trustee": "former.employee@contoso.com",
		"trustee_id": fixtures.former_id, "trustee_address": "former.employee@contoso.com",
	})
	findings := deny with input as _with(d)
		with data.m365guard.config.allowed_delegates as [{"mailbox": ".*", "delegate": ".*"}]
	count(findings) == 1
	some f in findings
	f.details.allowed_by_config == true
	contains(f.message, "disabled")
}

test_reasons_combine_in_one_finding if {
	d := _delegate(object.union(_sam, {"mailbox_id": fixtures.dana_id, "mailbox_upn": "dana.whitfield@contoso.com"}))
	findings := deny with input as _with(d)
	count(findings) == 1
	some f in findings
	contains(f.message, ": dana.whitfield@contoso.com holds Global Administrator, and nobody else should hold rights on that mailbox; the delegate is a guest account")
}

# A trustee Get-Recipient answered 404 for: the collector keeps only the name Exchange gave.
_ghost(changes) := json.remove(_delegate(object.union({"id": "x/full_access/ghost", "trustee": "ghost.admin@contoso.com", "trustee_address": "ghost.admin@contoso.com"}, changes)), ["trustee_id", "trustee_type"])

test_unknown_full_access_trustee_violation if {
	findings := deny with input as _with(_ghost({}))
	count(findings) == 1
	some f in findings
	f.severity == "high"
	f.message == "ghost.admin@contoso.com has FullAccess on the mailbox of lena.fischer@contoso.com: the delegate matches no user or recipient of the tenant (a deleted or external object?)"
}

test_unknown_send_as_trustee_by_name_only_violation if {
	d := json.remove(_ghost({"id": "x/send_as/old admin", "right": "send_as", "trustee": "Old Admin"}), ["trustee_address"])
	findings := deny with input as _with(d)
	count(findings) == 1
	some f in findings
	f.message == "old admin has SendAs on the mailbox of lena.fischer@contoso.com: the delegate matches no user or recipient of the tenant (a deleted or external object?)"
}

test_unknown_trustee_still_violation_when_allowed if {
	findings := deny with input as _with(_ghost({}))
		with data.m365guard.config.allowed_delegates as [{"mailbox": ".*", "delegate": ".*"}]
	count(findings) == 1
	some f in findings
	f.details.allowed_by_config == true
	contains(f.message, "matches no user or recipient")
}

# Send on behalf lists names Exchange itself resolved; a name only is not evidence of a ghost.
test_unknown_send_on_behalf_trustee_compliant if {
	count(deny) == 0 with input as _with(_ghost({"id": "x/send_on_behalf/ghost", "right": "send_on_behalf"}))
}

# A recipient Exchange resolved (an id, no user: a mail contact, a group) is not unknown.
test_resolved_recipient_without_user_compliant if {
	d := _delegate({"id": "x/full_access/team", "trustee": "Team", "trustee_id": "grp-1", "trustee_address": "team@contoso.com", "trustee_type": "MailUniversalSecurityGroup"})
	count(deny) == 0 with input as _with(d)
}

# Matched by UPN to a collected user without an id: known, not flagged as unknown.
test_trustee_matched_by_upn_is_not_unknown if {
	d := json.remove(_delegate({"id": "x/full_access/raj"}), ["trustee_id", "trustee_type"])
	count(deny) == 0 with input as _with(d)
}

# The delegations a plain test finds expected (a member found by id, enabled, with an
# address in a verified domain, on an unprivileged, non-executive mailbox) skip the
# helpers: these edges must still get the helpers' verdict.
test_mixed_case_internal_address_of_a_member_compliant if {
	count(deny) == 0 with input as _with(_delegate({"id": "x/full_access/raj2", "trustee_address": "Raj.Patel@CONTOSO.COM"}))
}

test_outside_address_of_a_known_member_violation if {
	findings := deny with input as _with(_delegate({"id": "x/full_access/raj2", "trustee_address": "Raj@Partner.EXAMPLE"}))
	count(findings) == 1
	some f in findings
	contains(f.message, "the delegate's address raj@partner.example is outside the organisation")
}

test_member_without_address_judged_by_the_trustee_name if {
	d := object.remove(_delegate({"id": "x/full_access/raj2", "trustee": "raj@partner.example"}), ["trustee_address"])
	count(deny) == 1 with input as _with(d)
}

test_executive_mailbox_in_mixed_case_violation if {
	findings := deny with input as fixtures.base
		with data.m365guard.config.executive_mailboxes as ["^lena\\.fischer@contoso\\.com$"]
		with input.mailbox_delegates as [_delegate({"mailbox_upn": "Lena.Fischer@Contoso.com"})]
	count(findings) == 1
}
