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
# a hiding folder or a delete flag are visited. A folder name costs one lower() and a set
# lookup per DISTINCT name. A rule passing two gates is one position in the set.
_hiding contains i if {
	some folder, positions in inbox_rules_by_folder_well_known_name
	_hiding_folders[folder]
	some i in positions
	input.inbox_rules[i].enabled == true
}

_hiding contains i if {
	names := _hiding_folder_names
	some name, positions in inbox_rules_by_folder_name
	name != null
	names[lower(name)]
	some i in positions
	input.inbox_rules[i].enabled == true
}

_hiding contains i if {
	some i in inbox_rules_by_delete[true]
	input.inbox_rules[i].enabled == true
}

_hiding contains i if {
	some i in inbox_rules_by_permanent_delete[true]
	input.inbox_rules[i].enabled == true
}

# The finding of each hiding rule, built inline with the shared tables bound before the
# loop: per-finding helper functions and table look-ups cost ~90 µs a finding (0.27 s of
# CPU for 3k findings at 100k users).
deny contains finding if {
	rules := input.inbox_rules
	hiding_folders := _hiding_folders
	hiding_names := _hiding_folder_names
	delete_phrases := _delete_phrases
	text_fields := _text_fields
	keywords_in := _keywords_in
	punctuation := _punctuation
	signal_text := _signal_text
	some i in _hiding
	rule := rules[i]
	actions := rule.actions
	folder := object.get(actions, "move_to_folder", null)

	# The folder as shown in findings: its name, else its well-known name; null without one.
	# (Indexing a local, not the call: regorus builds an error for a reference that is no
	# static path, with a backtrace when RUST_BACKTRACE is set.)
	labels := array.concat(
		[n | n := folder.name; is_string(n); n != ""],
		array.concat([w | w := folder.well_known_name; is_string(w)], [null]),
	)
	label := labels[0]
	moved := count([w | w := folder.well_known_name; hiding_folders[w]]) + count([n |
		n := folder.name
		is_string(n)
		hiding_names[lower(n)]
	]) > 0
	moves := [sprintf("moves matching mail to %s", [label]) | moved]
	deletes := [phrase | some flag, phrase in delete_phrases; actions[flag] == true]
	hiding := sort(array.concat(moves, deletes))
	conditions := object.get(rule, "conditions", {})
	keywords := sort({k |
		some field, words in conditions
		text_fields[field]
		some word in words
		some k in keywords_in[lower(word)]
	})

	# What makes a hiding rule look malicious rather than tidy, in a fixed order.
	signals := array.concat(
		array.concat(
			["marks_as_read" | actions.mark_as_read == true],
			["bec_keywords" | count(keywords) > 0],
		),
		array.concat(
			["meaningless_name" | trim(rule.name, punctuation) == ""],
			["hidden_rule" | rule.hidden == true],
		),
	)
	bec_text := sprintf("filters on payment and credential keywords (%s)", [concat(", ", keywords)])
	notes := [object.get(signal_text, s, bec_text) | some s in signals]
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

# The BEC keywords in each distinct lower-case word of the hiding rules' text conditions:
# a word is tested against the keywords once, not once per rule using it (13 `contains`
# calls a word were most of a finding's cost).
_condition_words contains lower(word) if {
	text_fields := _text_fields
	some i in _hiding
	some field, words in object.get(input.inbox_rules[i], "conditions", {})
	text_fields[field]
	some word in words
}

_keywords_in := {w: {k | some k in keywords; contains(w, k)} |
	keywords := _bec_keywords
	some w in _condition_words
}

# Conditions on the message text, where payment keywords matter.
_text_fields := {"subject_contains", "body_contains", "subject_or_body_contains"}

# Characters a "meaningless" rule name is made of.
_punctuation := " \t\r\n.,;:!?-_'\"`~*#/\\|()[]{}<>+=&^%$@"

_delete_phrases := {"delete": "deletes matching mail", "permanent_delete": "permanently deletes matching mail"}

# The notes of the signals other than `bec_keywords` (which names the keywords).
_signal_text := {
	"marks_as_read": "marks the mail as read",
	"meaningless_name": "has a name made only of punctuation",
	"hidden_rule": "is hidden from Outlook and Graph",
}
