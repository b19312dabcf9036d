# Named users who can read another user's mail through a folder permission, and whom
# nobody should trust with it: a guest, an address outside the organisation, a disabled
# account, or a name that resolves to no user or recipient of the tenant (a deleted
# object's leftover). Only rights that read items count (lib.folder_read_rights, from
# Microsoft's AccessRights roles); an internal, enabled colleague with Reviewer on a
# calendar or an Inbox is ordinary sharing and not a finding.
# Severity: high on the Inbox and the top of information store; medium on the Calendar.
# `[exchange] allowed_delegates` (m365guard.toml) accepts expected guests and partners by
# mailbox and delegate pattern, read as mailbox_delegate_unexpected reads it; a disabled or
# unresolvable entry is flagged even then (nobody can vouch for it).
# <https://learn.microsoft.com/powershell/module/exchange/get-mailboxfolderpermission>
# <https://learn.microsoft.com/powershell/module/exchange/add-mailboxfolderpermission>
package m365guard.rules.mailbox_folder_delegate_unexpected

import data.m365guard.lib
import data.m365guard.lib.users_by_id
import data.m365guard.lib.verified_domains
import rego.v1

_folder_names := {
	"top_of_information_store": "top of information store",
	"inbox": "Inbox",
	"calendar": "Calendar",
}

_severity := {"top_of_information_store": "high", "inbox": "high", "calendar": "medium"}

# The entries that can have a reason, found with a few plain tests per entry: the rest is
# a named user found by id, enabled, a member, with an address in a verified domain, which
# no test below flags (the per-entry helpers cost ~150 µs an entry, 0.7 s of CPU at 100k
# users for 4.6k entries). The tests below still decide, unchanged.
_candidates := [p |
	ubi := users_by_id
	verified := verified_domains
	some p in object.get(input, "mailbox_folder_permissions", [])
	p.principal == "user"
	not _plainly_trusted(p, ubi, verified)
]

_plainly_trusted(p, ubi, verified) if {
	tid := p.trustee_id
	is_string(tid)
	u := ubi[tid]
	u.account_enabled == true
	u.user_type == "member"
	object.get(p, "trustee_type", "") != "GuestMailUser"
	addr := p.trustee_address
	is_string(addr)
	key := lower(addr)
	not contains(key, "#ext#")
	parts := split(key, "@")
	verified[parts[count(parts) - 1]]
}

deny contains finding if {
	some p in _candidates
	not _is_owner(p)
	rights := lib.folder_reads(p)
	count(rights) > 0
	reasons := _reasons(p)
	count(reasons) > 0
	folder := _folder_names[p.folder]
	who := _trustee_name(p)
	finding := {
		"resource_type": "mailbox_folder_permission",
		"resource_id": p.id,
		"resource_name": sprintf("%s on %s %s", [who, p.mailbox_upn, folder]),
		"severity": _severity[p.folder],
		"message": sprintf("%s can read the %s of %s (%s: %s): %s", [
			who, folder, p.mailbox_upn, p.folder_path,
			concat(", ", p.access_rights), concat("; ", sort(reasons)),
		]),
		"details": {
			"mailbox": p.mailbox_upn,
			"folder": p.folder,
			"folder_path": p.folder_path,
			"user": p.user,
			"trustee_type": object.get(p, "trustee_type", null),
			"access_rights": p.access_rights,
			"allowed_by_config": _allowed(p),
		},
	}
}

_reasons(p) := (_disabled(p) | _unknown(p)) | (_guest(p) | _external(p)) if not _is_allowed(p)

_reasons(p) := _disabled(p) | _unknown(p) if _is_allowed(p)

# ---- who the user is

# `{lower(u.user_principal_name): u | some u in input.users}`, built natively and shared with
# mailbox_delegate_unexpected (the builtin's memo).
_users_by_upn := m365guard.object_by_lower(input.users, ["user_principal_name"])

_user(p) := users_by_id[p.trustee_id] if is_string(object.get(p, "trustee_id", null))

_user(p) := _users_by_upn[_trustee_key(p)] if not users_by_id[object.get(p, "trustee_id", "")]

# The address Exchange resolved the entry to, else the name it shows (lower-case).
_trustee_key(p) := lower(p.trustee_address) if is_string(object.get(p, "trustee_address", null))

_trustee_key(p) := lower(p.user) if not is_string(object.get(p, "trustee_address", null))

_trustee_name(p) := _user(p).user_principal_name

_trustee_name(p) := p.user if not _user(p)

_is_owner(p) if object.get(p, "trustee_id", null) == p.mailbox_id

_is_owner(p) if _user(p).id == p.mailbox_id

_is_guest(p) if _user(p).user_type == "guest"

_is_guest(p) if object.get(p, "trustee_type", "") == "GuestMailUser"

_is_guest(p) if contains(_trustee_key(p), "#ext#")

_guest(p) := {"the user is a guest account"} if _is_guest(p)

_guest(p) := set() if not _is_guest(p)

_outside(p) if {
	addr := _trustee_key(p)
	lib.address_domain(addr)
	not lib.is_internal_address(addr)
}

_external(p) := {sprintf("the user's address %s is outside the organisation", [_trustee_key(p)])} if _outside(p)

_external(p) := set() if not _outside(p)

# A shared mailbox's own account is disabled by design; it is not a person signing in.
_is_disabled(p) if {
	_user(p).account_enabled == false
	object.get(p, "trustee_type", "") != "SharedMailbox"
}

_disabled(p) := {"the user's account is disabled"} if _is_disabled(p)

_disabled(p) := set() if not _is_disabled(p)

# Exchange resolved the entry to no recipient (the collector kept only the name it shows,
# e.g. `NT:S-1-5-21-…` for a deleted user) and no collected user has that name.
_is_unknown(p) if {
	not is_string(object.get(p, "trustee_id", null))
	not _user(p)
}

_unknown(p) := {"the user matches no user or recipient of the tenant (a deleted or external object?)"} if _is_unknown(p)

_unknown(p) := set() if not _is_unknown(p)

# ---- configuration (m365guard.toml [exchange] allowed_delegates): anchored regexes

default _allowed_patterns := []

_allowed_patterns := data.m365guard.config.allowed_delegates

_allowed(p) := true if _is_allowed(p)

_allowed(p) := false if not _is_allowed(p)

_is_allowed(p) if {
	some a in _allowed_patterns
	regex.match(a.mailbox, lower(p.mailbox_upn))
	regex.match(a.delegate, _trustee_key(p))
}
