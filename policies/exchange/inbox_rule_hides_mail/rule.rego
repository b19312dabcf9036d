# Enabled inbox rules that move mail where the owner will not look, or delete it.
package m365guard.rules.inbox_rule_hides_mail

import rego.v1

# One plain loop per way of hiding mail. This rule looks at every inbox rule of the
# tenant (300k at 100k users), and in regorus a user-defined function call per item costs
# several times a plain field test, so the gates are inline with the rarest test first: an
# absent key fails at once, and a folder name costs one lower() and a set lookup (sets are
# bound to a local before the loop: a rule reference per item costs a lookup). Only
# rules that pass a gate reach `_finding`. A rule passing two gates yields the same finding
# twice, which the set keeps once.
deny contains _finding(rule) if {
	folders := _hiding_folders
	some rule in input.inbox_rules
	folders[rule.actions.move_to_folder.well_known_name]
	rule.enabled == true
}

deny contains _finding(rule) if {
	names := _hiding_folder_names
	some rule in input.inbox_rules
	name := rule.actions.move_to_folder.name
	name != null
	names[lower(name)]
	rule.enabled == true
}

deny contains _finding(rule) if {
	some rule in input.inbox_rules
	rule.actions.delete == true
	rule.enabled == true
}

deny contains _finding(rule) if {
	some rule in input.inbox_rules
	rule.actions.permanent_delete == true
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
