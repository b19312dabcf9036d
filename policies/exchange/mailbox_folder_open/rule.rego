# Mailbox folders everybody can read: the `Default` (every authenticated user of the
# organisation) or `Anonymous` entry of a user mailbox's top of information store, Inbox or
# Calendar holding a right that reads items (lib.folder_read_rights). Named users' entries
# are mailbox_folder_delegate_unexpected's. On the Calendar, `AvailabilityOnly` and
# `LimitedDetails` (free/busy) are the normal defaults and not findings.
# Severity: high on the Inbox and the top of information store and for `Anonymous`;
# medium for `Default` on the Calendar (full details of every meeting).
package m365guard.rules.mailbox_folder_open

import data.m365guard.lib
import rego.v1

_folder_names := {
	"top_of_information_store": "top of information store",
	"inbox": "Inbox",
	"calendar": "Calendar",
}

_who := {
	"default": "Default (every user in the organisation)",
	"anonymous": "Anonymous (anyone, without signing in)",
}

deny contains finding if {
	some p in object.get(input, "mailbox_folder_permissions", [])
	p.principal in {"default", "anonymous"}
	rights := lib.folder_reads(p)
	count(rights) > 0
	folder := _folder_names[p.folder]
	finding := {
		"resource_type": "mailbox_folder_permission",
		"resource_id": p.id,
		"resource_name": sprintf("%s on %s %s", [p.user, p.mailbox_upn, folder]),
		"severity": _severity(p),
		"message": sprintf("%s can read the %s of %s (%s): %s", [
			_who[p.principal], folder, p.mailbox_upn, p.folder_path,
			concat(", ", p.access_rights),
		]),
		"details": {
			"mailbox": p.mailbox_upn,
			"folder": p.folder,
			"folder_path": p.folder_path,
			"user": p.user,
			"access_rights": p.access_rights,
			"sharing_permission_flags": object.get(p, "sharing_permission_flags", []),
		},
	}
}

_severity(p) := "medium" if {
	p.folder == "calendar"
	p.principal == "default"
}

_severity(p) := "high" if not _calendar_default(p)

_calendar_default(p) if {
	p.folder == "calendar"
	p.principal == "default"
}
