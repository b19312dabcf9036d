# Enabled inbox rules that move mail where the owner will not look, or delete it.
package m365guard.rules.inbox_rule_hides_mail

import rego.v1

deny contains finding if {
	some rule in input.inbox_rules
	rule.enabled == true
	actions := rule.actions
	_may_hide(actions)
	hiding := _hiding_actions(actions)
	count(hiding) > 0
	keywords := _keywords_in(object.get(rule, "conditions", {}))
	signals := _signals(rule, actions, keywords)
	base := {
		"resource_type": "inbox_rule",
		"resource_id": rule.id,
		"resource_name": rule.name,
		"message": sprintf("Inbox rule \"%s\" in mailbox %s %s, hiding it from the owner%s", [
			rule.name,
			rule.mailbox_upn,
			concat(" and ", sort(hiding)),
			_signal_note(signals, keywords),
		]),
		"details": {
			"mailbox_id": rule.mailbox_id,
			"actions": sort(hiding),
			"folder": _folder_label(object.get(actions, "move_to_folder", null)),
			"signals": signals,
			"keywords": keywords,
		},
	}
	finding := object.union(base, _severity(signals))
}

# Cheap pre-check so most of 300k rules are dismissed with a few lookups.
_may_hide(actions) if object.get(actions, "move_to_folder", null) != null

_may_hide(actions) if actions.delete == true

_may_hide(actions) if actions.permanent_delete == true

_hiding_actions(actions) := moves | deletes if {
	moves := {sprintf("moves matching mail to %s", [_folder_label(f)]) |
		f := object.get(actions, "move_to_folder", null)
		is_object(f)
		_hiding_folder(f)
	}
	deletes := {phrase |
		some flag, phrase in {"delete": "deletes matching mail", "permanent_delete": "permanently deletes matching mail"}
		object.get(actions, flag, false) == true
	}
}

# Folders the owner rarely opens; Deleted Items is deletion by another name. Names are
# compared without case, spaces, hyphens and underscores ("Junk E-mail", "RSS-Feeds").
_hiding_folders := {
	"rssfeeds", "rsssubscriptions", "conversationhistory", "notes", "junkemail",
	"archive", "deleteditems",
}

_hiding_folder(folder) if object.get(folder, "well_known_name", "") in _hiding_folders

_hiding_folder(folder) if _normalised_folder(folder) in _hiding_folders

# The last path component (Exchange may give `mailbox:\RSS Feeds`), squeezed.
_normalised_folder(folder) := replace(replace(replace(lower(leaf), " ", ""), "-", ""), "_", "") if {
	name := object.get(folder, "name", null)
	is_string(name)
	parts := split(name, "\\")
	leaf := parts[count(parts) - 1]
}

# The folder as shown in findings: its name, else its well-known name.
_folder_label(folder) := label if {
	is_object(folder)
	labels := [l |
		some field in ["name", "well_known_name"]
		l := object.get(folder, field, null)
		is_string(l)
		l != ""
	]
	label := _first(labels)
}

_folder_label(folder) := null if not is_object(folder)

_first(items) := items[0] if count(items) > 0

_first(items) := null if count(items) == 0

# Words attackers filter on in business-email-compromise, matched as substrings.
_bec_keywords := [
	"invoice", "payment", "wire", "bank", "password", "transfer", "remittance",
	"urgent", "account", "iban", "swift", "paypal", "docusign",
]

_keywords_in(conditions) := sort({k |
	some field in ["subject_contains", "body_contains", "subject_or_body_contains"]
	some word in object.get(conditions, field, [])
	w := lower(word)
	some k in _bec_keywords
	contains(w, k)
})

# What makes a hiding rule look malicious rather than tidy, in a fixed order.
_signals(rule, actions, keywords) := [s |
	some s in ["marks_as_read", "bec_keywords", "meaningless_name", "hidden_rule"]
	_signal(s, rule, actions, keywords)
]

_signal("marks_as_read", _, actions, _) if object.get(actions, "mark_as_read", false) == true

_signal("bec_keywords", _, _, keywords) if count(keywords) > 0

_signal("meaningless_name", rule, _, _) if trim(rule.name, " \t\r\n.,;:!?-_'\"`~*#/\\|()[]{}<>+=&^%$@") == ""

_signal("hidden_rule", rule, _, _) if object.get(rule, "hidden", false) == true

_severity(signals) := {"severity": "high"} if count(signals) > 0

_severity(signals) := {} if count(signals) == 0

_signal_note(signals, _) := "" if count(signals) == 0

_signal_note(signals, keywords) := sprintf("; it also %s", [concat(", ", [_describe(s, keywords) | some s in signals])]) if {
	count(signals) > 0
}

_describe("marks_as_read", _) := "marks the mail as read"

_describe("bec_keywords", keywords) := sprintf("filters on payment and credential keywords (%s)", [concat(", ", keywords)])

_describe("meaningless_name", _) := "has a name made only of punctuation"

_describe("hidden_rule", _) := "is hidden from Outlook and Graph"
