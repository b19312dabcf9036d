package m365guard.rules.mailbox_folder_delegate_unexpected

import data.m365guard.lib.fixtures
import rego.v1

_add(p) := json.patch(fixtures.base, [{"op": "add", "path": "/mailbox_folder_permissions/-", "value": p}])

# A named user's entry on one of Dana's folders; `trustee` adds what Exchange resolved.
_entry(folder, path, user, trustee, rights) := object.union({
	"id": concat("/", [fixtures.dana_id, folder, lower(user)]),
	"mailbox_id": fixtures.dana_id, "mailbox_upn": "dana.whitfield@contoso.com",
	"folder": folder, "folder_path": path, "principal": "user",
	"user": user, "access_rights": rights,
}, trustee)

_sam := {"trustee_id": fixtures.sam_id, "trustee_address": "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com", "trustee_type": "GuestMailUser"}

_former := {"trustee_id": fixtures.former_id, "trustee_address": "former.employee@contoso.com", "trustee_type": "UserMailbox"}

_raj := {"trustee_id": fixtures.raj_id, "trustee_address": "raj.patel@contoso.com", "trustee_type": "UserMailbox"}

_allow_fabrikam_on_dana := [{"mailbox": "^dana\\.whitfield@contoso\\.com$", "delegate": "^.*#ext#@contoso\\.onmicrosoft\\.com$"}]

# The base has Raj as Lena's calendar delegate (Editor): an internal, enabled colleague.
test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_guest_reviewer_on_inbox_violation if {
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "Sam Rivera (Fabrikam)", _sam, ["Reviewer"]))
	count(findings) == 1
	some f in findings
	f.resource_type == "mailbox_folder_permission"
	f.resource_id == concat("/", [fixtures.dana_id, "inbox", "sam rivera (fabrikam)"])
	f.severity == "high"
	f.resource_name == "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com on dana.whitfield@contoso.com Inbox"
	f.message == "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com can read the Inbox of dana.whitfield@contoso.com (\\Inbox: Reviewer): the user is a guest account"
	f.details.allowed_by_config == false
}

# An outside address Exchange resolved to a mail user (no Entra user of the tenant).
test_external_address_on_top_of_store_violation if {
	p := _entry("top_of_information_store", "\\", "Mallory", {"trustee_id": "0b0b0b0b-0000-4000-8000-000000000001", "trustee_address": "mallory@freemail.example", "trustee_type": "MailUser"}, ["ReadItems", "FolderVisible"])
	findings := deny with input as _add(p)
	count(findings) == 1
	some f in findings
	f.severity == "high"
	endswith(f.message, "the user's address mallory@freemail.example is outside the organisation")
}

test_disabled_user_with_author_on_inbox_violation if {
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "Former Employee", _former, ["Author"]))
	count(findings) == 1
	some f in findings
	f.severity == "high"
	endswith(f.message, "the user's account is disabled")
}

# Exchange shows a deleted user's entry by its SID and resolves it to nothing.
test_unresolvable_user_on_inbox_violation if {
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "NT:S-1-5-21-2740581204-1834557290-3141592653-7001", {}, ["Owner"]))
	count(findings) == 1
	some f in findings
	f.severity == "high"
	contains(f.message, "matches no user or recipient of the tenant")
}

# A guest who reads a calendar's items: medium (full details of every meeting).
test_guest_reviewer_on_calendar_is_medium_violation if {
	findings := deny with input as _add(_entry("calendar", "\\Calendar", "Sam Rivera (Fabrikam)", _sam, ["Reviewer"]))
	count(findings) == 1
	some f in findings
	f.severity == "medium"
}

# An internal, enabled colleague: Reviewer on the calendar or the Inbox is ordinary sharing.
test_internal_member_reviewer_compliant if {
	count(deny) == 0 with input as _add(_entry("calendar", "\\Calendar", "Raj Patel", _raj, ["Reviewer"]))
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Raj Patel", _raj, ["Reviewer"]))
}

# Rights that read no item: free/busy, a visible folder, create-only.
test_rights_that_read_no_item_compliant if {
	count(deny) == 0 with input as _add(_entry("calendar", "\\Calendar", "Sam Rivera (Fabrikam)", _sam, ["LimitedDetails"]))
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Sam Rivera (Fabrikam)", _sam, ["FolderVisible"]))
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Former Employee", _former, ["Contributor"]))
}

# Default and Anonymous are mailbox_folder_open's.
test_default_and_anonymous_are_not_judged_here_compliant if {
	p := object.union(_entry("inbox", "\\Inbox", "Default", {}, ["Reviewer"]), {"principal": "default"})
	count(deny) == 0 with input as _add(p)
}

test_allowed_delegates_accept_the_guest_compliant if {
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Sam Rivera (Fabrikam)", _sam, ["Reviewer"]))
		with data.m365guard.config.allowed_delegates as _allow_fabrikam_on_dana
}

# The pattern names another mailbox: the guest on Dana's Inbox is still flagged.
test_allowed_delegates_on_another_mailbox_violation if {
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "Sam Rivera (Fabrikam)", _sam, ["Reviewer"]))
		with data.m365guard.config.allowed_delegates as [{"mailbox": "^info@contoso\\.com$", "delegate": "^.*$"}]
	count(findings) == 1
}

# Nobody vouches for a disabled account, even one the config allows.
test_allowed_delegates_do_not_accept_a_disabled_user_violation if {
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "Former Employee", _former, ["Reviewer"]))
		with data.m365guard.config.allowed_delegates as [{"mailbox": "^.*$", "delegate": "^.*$"}]
	count(findings) == 1
	some f in findings
	f.details.allowed_by_config == true
}

test_case_insensitive_rights_violation if {
	count(deny) == 1 with input as _add(_entry("inbox", "\\Inbox", "Sam Rivera (Fabrikam)", _sam, ["publishingeditor"]))
}

# The entries a plain test finds trusted (a member found by id, enabled, with an address in
# a verified domain) skip the per-entry helpers: mixed case, a subdomain, an outside address
# on a known user and a missing address must still get the helpers' verdict.
test_mixed_case_internal_address_of_a_member_compliant if {
	raj := object.union(_raj, {"trustee_address": "Raj.Patel@CONTOSO.COM"})
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Raj Patel", raj, ["Reviewer"]))
}

test_internal_subdomain_address_of_a_member_compliant if {
	raj := object.union(_raj, {"trustee_address": "raj.patel@EU.contoso.com"})
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Raj Patel", raj, ["Reviewer"]))
}

test_outside_address_of_a_known_member_violation if {
	raj := object.union(_raj, {"trustee_address": "Raj@Partner.EXAMPLE"})
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "Raj Patel", raj, ["Reviewer"]))
	count(findings) == 1
	some f in findings
	endswith(f.message, "the user's address raj@partner.example is outside the organisation")
}

test_member_without_address_judged_by_the_name_shown if {
	raj := {"trustee_id": fixtures.raj_id, "trustee_type": "UserMailbox"}
	count(deny) == 0 with input as _add(_entry("inbox", "\\Inbox", "Raj.Patel@contoso.com", raj, ["Reviewer"]))
	findings := deny with input as _add(_entry("inbox", "\\Inbox", "raj@partner.example", raj, ["Reviewer"]))
	count(findings) == 1
}

# A trustee id that is no string is not an id: the name decides (here: nobody).
test_non_string_trustee_id_is_unresolvable_violation if {
	p := _entry("inbox", "\\Inbox", "NT:S-1-5-21-1", {"trustee_id": 7, "trustee_address": "nt:s-1-5-21-1"}, ["Reviewer"])
	findings := deny with input as _add(p)
	count(findings) == 1
	some f in findings
	contains(f.message, "matches no user or recipient of the tenant")
}

# No trustee id: the user is found by the address, case-insensitively (`_users_by_upn`,
# built natively and shared with mailbox_delegate_unexpected), and named by its UPN.
test_user_found_by_address_without_an_id_violation if {
	p := _entry("inbox", "\\Inbox", "Sam Rivera (Fabrikam)", {"trustee_address": "SAM.RIVERA_FABRIKAM.COM#EXT#@contoso.onmicrosoft.com"}, ["Reviewer"])
	findings := deny with input as _add(p)
	count(findings) == 1
	some f in findings
	f.resource_name == "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com on dana.whitfield@contoso.com Inbox"
	endswith(f.message, "the user is a guest account")
}
