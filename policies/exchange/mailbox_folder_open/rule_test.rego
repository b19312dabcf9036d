package m365guard.rules.mailbox_folder_open

import data.m365guard.lib.fixtures
import rego.v1

_add(p) := json.patch(fixtures.base, [{"op": "add", "path": "/mailbox_folder_permissions/-", "value": p}])

_set(i, key, value) := json.patch(fixtures.base, [{"op": "replace", "path": sprintf("/mailbox_folder_permissions/%d/%s", [i, key]), "value": value}])

_dana_inbox(user, principal, rights) := {
	"id": concat("/", [fixtures.dana_id, "inbox", lower(user)]),
	"mailbox_id": fixtures.dana_id, "mailbox_upn": "dana.whitfield@contoso.com",
	"folder": "inbox", "folder_path": "\\Inbox", "principal": principal,
	"user": user, "access_rights": rights,
}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_default_reviewer_on_inbox_violation if {
	findings := deny with input as _add(_dana_inbox("Default", "default", ["Reviewer"]))
	count(findings) == 1
	some f in findings
	f.resource_type == "mailbox_folder_permission"
	f.resource_id == concat("/", [fixtures.dana_id, "inbox", "default"])
	f.severity == "high"
	f.details.folder_path == "\\Inbox"
	f.message == "Default (every user in the organisation) can read the Inbox of dana.whitfield@contoso.com (\\Inbox): Reviewer"
}

test_anonymous_read_items_on_top_of_store_violation if {
	p := object.union(_dana_inbox("Anonymous", "anonymous", ["FolderVisible", "ReadItems"]), {
		"id": concat("/", [fixtures.dana_id, "top_of_information_store", "anonymous"]),
		"folder": "top_of_information_store", "folder_path": "\\",
	})
	findings := deny with input as _add(p)
	count(findings) == 1
	some f in findings
	f.severity == "high"
	startswith(f.message, "Anonymous (anyone, without signing in) can read the top of information store")
}

# Full details of the (German) calendar to everyone: medium; the folder keeps its name.
test_default_reviewer_on_localised_calendar_violation if {
	findings := deny with input as _set(0, "access_rights", ["Reviewer"])
	count(findings) == 1
	some f in findings
	f.severity == "medium"
	f.details.folder_path == "\\Kalender"
	f.resource_name == "Default on lena.fischer@contoso.com Calendar"
}

test_anonymous_calendar_full_details_is_high_violation if {
	input_doc := json.patch(_set(0, "principal", "anonymous"), [{"op": "replace", "path": "/mailbox_folder_permissions/0/access_rights", "value": ["Editor"]}])
	findings := deny with input as input_doc
	some f in findings
	f.severity == "high"
}

# Free/busy is the calendar's normal sharing; FolderVisible and None read nothing.
test_free_busy_and_non_read_rights_compliant if {
	count(deny) == 0 with input as _set(0, "access_rights", ["AvailabilityOnly"])
	count(deny) == 0 with input as _add(_dana_inbox("Default", "default", ["FolderVisible"]))
	count(deny) == 0 with input as _add(_dana_inbox("Default", "default", ["None"]))
}

# A named user's rights are a delegation, not an open folder.
test_named_user_with_read_rights_compliant if {
	count(deny) == 0 with input as _add(_dana_inbox("Raj Patel", "user", ["Reviewer"]))
}

test_case_insensitive_rights_violation if {
	count(deny) == 1 with input as _add(_dana_inbox("Default", "default", ["publishingeditor"]))
}
