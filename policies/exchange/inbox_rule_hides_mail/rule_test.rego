package m365guard.rules.inbox_rule_hides_mail

import data.m365guard.lib.fixtures
import rego.v1

# Lena's "Newsletters" rule (index 0) moves newsletters to a custom folder.
_rule := "/inbox_rules/0"

_lena_rule_id := concat("/", [fixtures.lena_id, "AQAAAFr3kQ8="])

_path(suffix) := concat("/", [_rule, suffix])

_move_to(folder) := json.patch(fixtures.base, [{"op": "replace", "path": _path("actions/move_to_folder"), "value": folder}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_move_to_rss_feeds_violation if {
	findings := deny with input as _move_to({"id": "AAMkRSS", "name": "RSS Feeds", "well_known_name": "rssfeeds"})
	count(findings) == 1
	some f in findings
	f.resource_type == "inbox_rule"
	f.resource_id == _lena_rule_id
	f.resource_name == "Newsletters"
	f.message == "Inbox rule \"Newsletters\" in mailbox lena.fischer@contoso.com moves matching mail to RSS Feeds, hiding it from the owner"
	f.details.folder == "RSS Feeds"
	f.details.signals == []
	not f.severity
}

test_well_known_name_only_violation if {
	findings := deny with input as _move_to({"id": "AAMkX", "name": "Flux RSS", "well_known_name": "rssfeeds"})
	count(findings) == 1
}

test_folder_without_name_violation if {
	findings := deny with input as _move_to({"id": "AAMkX", "name": null, "well_known_name": "conversationhistory"})
	some f in findings
	f.details.folder == "conversationhistory"
}

test_junk_email_spelling_violation if {
	count(deny) == 1 with input as _move_to({"id": "", "name": "Junk E-mail"})
}

test_rss_hyphen_spelling_violation if {
	count(deny) == 1 with input as _move_to({"id": "", "name": "RSS-Feeds"})
}

test_upper_case_name_violation if {
	count(deny) == 1 with input as _move_to({"id": "", "name": "RSS SUBSCRIPTIONS"})
}

test_deleted_items_violation if {
	findings := deny with input as _move_to({"id": "AAMkDel", "name": "Deleted Items", "well_known_name": "deleteditems"})
	some f in findings
	f.details.actions == ["moves matching mail to Deleted Items"]
}

test_archive_lower_case_violation if {
	count(deny) == 1 with input as _move_to({"id": "", "name": "archive"})
}

test_custom_folder_compliant if {
	count(deny) == 0 with input as _move_to({"id": "AAMkY", "name": "Archive 2025 receipts"})
}

test_copy_to_rss_compliant if {
	# A copy leaves the original in the inbox.
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "remove", "path": _path("actions/move_to_folder")},
		{"op": "add", "path": _path("actions/copy_to_folder"), "value": {"id": "", "name": "RSS Feeds", "well_known_name": "rssfeeds"}},
	])
}

test_delete_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "remove", "path": _path("actions/move_to_folder")},
		{"op": "add", "path": _path("actions/delete"), "value": true},
	])
	count(findings) == 1
	some f in findings
	f.details.actions == ["deletes matching mail"]
	f.details.folder == null
}

test_permanent_delete_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": _path("actions/permanent_delete"), "value": true}])
	some f in findings
	f.details.actions == ["permanently deletes matching mail"]
}

test_disabled_rule_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "replace", "path": _path("enabled"), "value": false},
	])
}

test_mark_as_read_high_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": _path("actions/move_to_folder"), "value": {"id": "", "name": "RSS Feeds", "well_known_name": "rssfeeds"}},
		{"op": "add", "path": _path("actions/mark_as_read"), "value": true},
	])
	some f in findings
	f.severity == "high"
	f.details.signals == ["marks_as_read"]
	endswith(f.message, "hiding it from the owner; it also marks the mail as read")
}

test_keywords_high_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "remove", "path": _path("actions/move_to_folder")},
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "replace", "path": _path("conditions"), "value": {"subject_or_body_contains": ["INVOICE", "Payment due"], "body_contains": ["Wire transfer"]}},
	])
	some f in findings
	f.severity == "high"
	f.details.signals == ["bec_keywords"]
	f.details.keywords == ["invoice", "payment", "transfer", "wire"]
	contains(f.message, "filters on payment and credential keywords (invoice, payment, transfer, wire)")
}

test_benign_keywords_medium_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "add", "path": _path("actions/delete"), "value": true}])
	some f in findings
	# "newsletter" is no payment keyword: still hidden mail, but not raised.
	f.details.keywords == []
	not f.severity
}

test_punctuation_name_high_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "replace", "path": _path("name"), "value": ".."},
	])
	some f in findings
	f.severity == "high"
	f.details.signals == ["meaningless_name"]
}

test_whitespace_name_high_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "replace", "path": _path("name"), "value": " ,, "},
	])
	some f in findings
	f.severity == "high"
}

test_hidden_rule_high_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "add", "path": _path("hidden"), "value": true},
	])
	some f in findings
	f.details.signals == ["hidden_rule"]
}

test_all_signals_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": _path("actions/move_to_folder"), "value": {"id": "", "name": "RSS Feeds", "well_known_name": "rssfeeds"}},
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "add", "path": _path("actions/mark_as_read"), "value": true},
		{"op": "replace", "path": _path("name"), "value": "."},
		{"op": "replace", "path": _path("conditions"), "value": {"subject_contains": ["bank details"]}},
		{"op": "add", "path": _path("hidden"), "value": true},
	])
	count(findings) == 1
	some f in findings
	f.details.signals == ["marks_as_read", "bec_keywords", "meaningless_name", "hidden_rule"]
	f.details.actions == ["deletes matching mail", "moves matching mail to RSS Feeds"]
}

test_mark_as_read_alone_compliant if {
	# Marking newsletters read in a normal folder is tidy, not hiding.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "add", "path": _path("actions/mark_as_read"), "value": true}])
}

test_conditions_absent_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "remove", "path": _path("conditions")},
	])
	count(findings) == 1
}

# Keywords are looked up per distinct lower-case word across the hiding rules: two rules
# sharing a word in different case each name exactly their own keywords, and a word of a
# rule that hides nothing plays no part.
test_keywords_of_several_rules_each_their_own if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": _path("actions/delete"), "value": true},
		{"op": "replace", "path": _path("conditions"), "value": {"subject_contains": ["Invoice"]}},
		{"op": "add", "path": "/inbox_rules/1/actions/delete", "value": true},
		{"op": "add", "path": "/inbox_rules/1/conditions", "value": {"subject_contains": ["INVOICE", "bank"], "from_addresses": ["paypal@example.com"]}},
		{"op": "add", "path": "/inbox_rules/-", "value": object.union(fixtures.base.inbox_rules[0], {"id": "x/iban", "conditions": {"subject_contains": ["IBAN"]}})},
	])
	count(findings) == 2
	{f.details.keywords | some f in findings} == {["invoice"], ["bank", "invoice"]}
}
