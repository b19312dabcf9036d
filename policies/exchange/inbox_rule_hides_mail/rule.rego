# Enabled inbox rules that move mail where the owner will not look, or delete it.
package m365guard.rules.inbox_rule_hides_mail

import data.m365guard.lib.inbox_rules_by_delete
import data.m365guard.lib.inbox_rules_by_folder_name
import data.m365guard.lib.inbox_rules_by_folder_well_known_name
import data.m365guard.lib.inbox_rules_by_permanent_delete
import rego.v1

# One body per way of hiding mail, each reading the library's index of inbox rules by
# action value (one native pass over the 300k inbox rules of a 100k-user tenant, shared
# with the forwarding rule) instead of looping over every inbox rule: only the rules with
# a hiding folder or a delete flag are visited, and only those reach `_finding`. A folder
# name costs one lower() and a set lookup per DISTINCT name. A rule passing two gates
# yields the same finding twice, which the set keeps once.
deny contains _finding(rule) if {
	some folder, positions in inbox_rules_by_folder_well_known_name
	_hiding_folders[folder]
	some i in positions
	rule := input.inbox_rules[i]
	rule.enabled == true
}

deny contains _finding(rule) if {
	names := _hiding_folder_names
	some name, positions in inbox_rules_by_folder_name
	name != null
	names[lower(name)]
	some i in positions
	rule := input.inbox_rules[i]
	rule.enabled == true
}

deny contains _finding(rule) if {
	some i in inbox_rules_by_delete[true]
	rule := input.inbox_rules[i]
	rule.enabled == true
}

deny contains _finding(rule) if {
	some i in inbox_rules_by_permanent_delete[true]
	rule := input.inbox_rules[i]
	rule.enabled == true
}

# Folders the owner rarely opens, by well-known name (language independent, set by the
# collector); Deleted Items is deletion by another name.
_hiding_folders := {
	"rssfeeds", "rsssubscriptions", "conversationhistory", "notes", "junkemail",
	"archive", "deleteditems",
}

# The same folders by display name, lower-case, in the spellings Outlook versions and
# users produce ("Junk E-mail", "RSS-Feeds").
_hiding_folder_names := {
	"rss feeds", "rss-feeds", "rss_feeds", "rssfeeds", "rss feed",
	"rss subscriptions", "rss-subscriptions", "rss_subscriptions", "rsssubscriptions",
	"conversation history", "conversation-history", "conversation_history", "conversationhistory",
	"notes",
	"junk email", "junk e-mail", "junk e mail", "junk-email", "junk-e-mail", "junk_email", "junkemail", "junk mail",
	"archive",
	"deleted items", "deleted-items", "deleted_items", "deleteditems",
}

# Words attackers filter on in business-email-compromise, matched as substrings.
_bec_keywords := [
	"invoice", "payment", "wire", "bank", "password", "transfer", "remittance",
	"urgent", "account", "iban", "swift", "paypal", "docusign",
]

# Conditions on the message text, where payment keywords matter.
_text_fields := {"subject_contains", "body_contains", "subject_or_body_contains"}

# Characters a "meaningless" rule name is made of.
_punctuation := " \t\r\n.,;:!?-_'\"`~*#/\\|()[]{}<>+=&^%$@"

_finding(rule) := finding if {
	actions := rule.actions
	folder := object.get(actions, "move_to_folder", null)
	label := _folder_label(folder)
	moves := [sprintf("moves matching mail to %s", [label]) | _is_hiding_folder(folder)]
	deletes := [phrase | some flag, phrase in _delete_phrases; actions[flag] == true]
	hiding := sort(array.concat(moves, deletes))
	conditions := object.get(rule, "conditions", {})
	text_fields := _text_fields
	keywords := sort({k |
		some field, words in conditions
		text_fields[field]
		some word in words
		w := lower(word)
		some k in _bec_keywords
		contains(w, k)
	})

	# What makes a hiding rule look malicious rather than tidy, in a fixed order.
	signals := array.concat(
		array.concat(
			["marks_as_read" | actions.mark_as_read == true],
			["bec_keywords" | count(keywords) > 0],
		),
		array.concat(
			["meaningless_name" | trim(rule.name, _punctuation) == ""],
			["hidden_rule" | rule.hidden == true],
		),
	)
	notes := [_describe(s, keywords) | some s in signals]
	base := {
		"resource_type": "inbox_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"message": sprintf("Inbox rule \"%s\" in mailbox %s %s, hiding it from the owner%s", [
			rule.name,
			rule.mailbox_upn,
			concat(" and ", hiding),
			concat("", [sprintf("; it also %s", [concat(", ", notes)]) | count(notes) > 0]),
		]),
		"details": {
			"mailbox_id": rule.mailbox_id,
			"actions": hiding,
			"folder": label,
			"signals": signals,
			"keywords": keywords,
		},
	}
	finding := object.union(base, {"severity": "high" | count(signals) > 0})
}

_delete_phrases := {"delete": "deletes matching mail", "permanent_delete": "permanently deletes matching mail"}

_is_hiding_folder(folder) if _hiding_folders[folder.well_known_name]

_is_hiding_folder(folder) if {
	is_string(folder.name)
	_hiding_folder_names[lower(folder.name)]
}

# The folder as shown in findings: its name, else its well-known name; null without one.
_folder_label(folder) := array.concat(
	[n | n := folder.name; is_string(n); n != ""],
	array.concat([w | w := folder.well_known_name; is_string(w)], [null]),
)[0]

_describe(signal, keywords) := sprintf("filters on payment and credential keywords (%s)", [concat(", ", keywords)]) if {
	signal == "bec_keywords"
}

_describe(signal, _) := _signal_text[signal] if signal != "bec_keywords"

_signal_text := {
	"marks_as_read": "marks the mail as read",
	"meaningless_name": "has a name made only of punctuation",
	"hidden_rule": "is hidden from Outlook and Graph",
}
