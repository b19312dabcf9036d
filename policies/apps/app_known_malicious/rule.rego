# An enabled service principal whose application (client) id is on the known-malicious
# list (data.m365guard.data.apps.known_malicious_apps, with its source) or on the
# operator's own list in m365guard.toml (`[apps] known_malicious_app_ids`). A disabled one
# can no longer sign in or get tokens: contained, kept for forensics, not a finding.
package m365guard.rules.app_known_malicious

import data.m365guard.data.apps.known_malicious_apps
import rego.v1

default _configured := set()

_configured := {lower(trim_space(id)) | some id in data.m365guard.config.known_malicious_app_ids}

deny contains finding if {
	some sp in input.apps.service_principals
	object.get(sp, "account_enabled", true) == true
	entry := _entry(lower(sp.app_id))
	finding := {
		"resource_type": "service_principal",
		"resource_id": sp.id,
		"resource_name": sp.display_name,
		"severity": "critical",
		"message": sprintf("%s (app id %s) is a known malicious application and can sign in: %s (%s)", [
			sp.display_name, sp.app_id, entry.reason, entry.source,
		]),
		"details": {
			"app_id": sp.app_id,
			"listed_as": entry.name,
			"reason": entry.reason,
			"source": entry.source,
			"added": object.get(entry, "added", null),
		},
	}
}

_entry(app_id) := known_malicious_apps[app_id]

_entry(app_id) := {
	"name": app_id, "reason": "listed in m365guard.toml [apps] known_malicious_app_ids",
	"source": "m365guard.toml",
} if {
	not known_malicious_apps[app_id]
	_configured[app_id]
}
