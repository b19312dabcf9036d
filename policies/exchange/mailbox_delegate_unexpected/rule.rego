# Delegations on mailboxes that an attacker leaves behind, or that nobody should hold: a
# delegate who is a guest, outside the organisation, or disabled; or anyone but the owner
# on the mailbox of a privileged user (an active privileged directory role, or listed in
# `executive_mailboxes`). FullAccess and SendAs are high (read everything, or send as the
# owner); send on behalf is medium (the recipient sees "on behalf of").
# `allowed_delegates` (m365guard.toml) accepts expected delegates of shared mailboxes by
# pattern; a disabled delegate is flagged even then (nobody uses a disabled account), and so
# is a FullAccess/SendAs delegate that resolves to no user or recipient of the tenant.
package m365guard.rules.mailbox_delegate_unexpected

import data.m365guard.lib
import data.m365guard.lib.privileged_roles_by_user
import data.m365guard.lib.users_by_id
import data.m365guard.lib.verified_domains
import rego.v1

# Why the body resolves the delegate's key and user once and hands them to the helpers:
# regorus does not cache function results, and the helpers used to call `_user(d)` (itself
# four calls) a dozen times per delegate: ~100 function calls, 12.5 s of CPU at 1M users.
deny contains finding if {
	some d in _candidates
	key := _trustee_key(d)
	user := _user(d, key)
	allowed := _allowed(d, key)
	reasons := (_disabled(d, user) | _unknown(d, user)) | _unexpected(d, user, key, allowed)
	count(reasons) > 0
	who := _trustee_name(user, key)
	finding := {
		"resource_type": "mailbox_delegate",
		"resource_id": d.id,
		"resource_name": sprintf("%s on %s (%s)", [who, d.mailbox_upn, _right_names[d.right]]),
		"severity": _severity[d.right],
		"message": sprintf("%s has %s on the mailbox of %s: %s", [
			who, _right_names[d.right], d.mailbox_upn, concat("; ", sort(reasons)),
		]),
		"details": {
			"mailbox": d.mailbox_upn,
			"right": d.right,
			"trustee": d.trustee,
			"trustee_type": object.get(d, "trustee_type", null),
			"access_rights": object.get(d, "access_rights", []),
			"allowed_by_config": allowed,
		},
	}
}

# The delegations that can have a reason, found with a few plain tests per entry, the shared
# indexes bound once: the rest is a user found by id, enabled, a member, with an address in
# a verified domain, on the mailbox of a user who holds no privileged role and is no
# executive, which no test here flags. Even with the key and user resolved once, the
# helpers cost ~115 µs a delegation (0.7 s of CPU at 100k users for 5.8k delegations);
# the tests above still decide for every candidate, unchanged.
_candidates := [d |
	ubi := users_by_id
	verified := verified_domains
	privileged := privileged_roles_by_user
	executives := _executive_patterns
	some d in object.get(input, "mailbox_delegates", [])
	not _plainly_expected(d, ubi, verified, privileged, executives)
]

_plainly_expected(d, ubi, verified, privileged, executives) if {
	tid := d.trustee_id
	is_string(tid)
	u := ubi[tid]
	u.account_enabled == true
	u.user_type == "member"
	object.get(d, "trustee_type", "") != "GuestMailUser"
	addr := d.trustee_address
	is_string(addr)
	key := lower(addr)
	not contains(key, "#ext#")
	parts := split(key, "@")
	verified[parts[count(parts) - 1]]
	not privileged[d.mailbox_id]
	upn := lower(d.mailbox_upn)
	count([e | some e in executives; regex.match(e, upn)]) == 0
}

_right_names := {"full_access": "FullAccess", "send_as": "SendAs", "send_on_behalf": "Send on behalf"}

_severity := {"full_access": "high", "send_as": "high", "send_on_behalf": "medium"}

# An allowed delegate is still flagged when disabled or unknown, never for the rest.
_unexpected(d, user, key, allowed) := set() if allowed

_unexpected(d, user, key, allowed) := (_guest(d, user, key) | _external(key)) | _privileged_owner(d, user) if {
	not allowed
}

# ---- who the delegate is

# `{lower(u.user_principal_name): u | some u in input.users}`, built natively (0.23 s of CPU
# at 100k users interpreted).
_users_by_upn := m365guard.object_by_lower(input.users, ["user_principal_name"])

# The delegate's address, lower-case (null when the entry names no trustee at all).
_trustee_key(d) := lower(d.trustee_address) if is_string(object.get(d, "trustee_address", null))

_trustee_key(d) := lower(d.trustee) if {
	not is_string(object.get(d, "trustee_address", null))
	is_string(object.get(d, "trustee", null))
}

_trustee_key(d) := null if {
	not is_string(object.get(d, "trustee_address", null))
	not is_string(object.get(d, "trustee", null))
}

# The user the delegate is (by id, else by UPN), or null when it matches none.
_user(d, key) := u if {
	u := object.get(users_by_id, object.get(d, "trustee_id", null), null)
	u != null
}

_user(d, key) := object.get(_users_by_upn, key, null) if {
	object.get(users_by_id, object.get(d, "trustee_id", null), null) == null
}

_trustee_name(user, key) := user.user_principal_name if user != null

_trustee_name(user, key) := key if {
	user == null
	key != null
}

_guest(d, user, key) := {"the delegate is a guest account"} if _is_guest(d, user, key)

_guest(d, user, key) := set() if not _is_guest(d, user, key)

_is_guest(d, user, key) if {
	user != null
	user.user_type == "guest"
}

_is_guest(d, user, key) if object.get(d, "trustee_type", "") == "GuestMailUser"

_is_guest(d, user, key) if {
	key != null
	contains(key, "#ext#")
}

_external(key) := {sprintf("the delegate's address %s is outside the organisation", [key])} if {
	key != null
	lib.address_domain(key)
	not lib.is_internal_address(key)
}

_external(key) := set() if key == null

_external(key) := set() if {
	key != null
	not lib.address_domain(key)
}

_external(key) := set() if {
	key != null
	lib.is_internal_address(key)
}

# A shared mailbox's own account is disabled by design; it is not a person signing in.
_disabled(d, user) := {"the delegate's account is disabled"} if {
	user != null
	user.account_enabled == false
	object.get(d, "trustee_type", "") != "SharedMailbox"
}

_disabled(d, user) := set() if user == null

_disabled(d, user) := set() if {
	user != null
	object.get(user, "account_enabled", null) != false
}

_disabled(d, user) := set() if {
	user != null
	object.get(d, "trustee_type", "") == "SharedMailbox"
}

# FullAccess or SendAs held by a name that matches no collected user and that Exchange
# resolved to no recipient (Get-Recipient answered 404, so the collector kept only the
# name): a deleted object's leftover, or a principal from outside the tenant. Nobody can
# vouch for it, so `allowed_delegates` does not accept it either (as for a disabled one).
_unknown(d, user) := {"the delegate matches no user or recipient of the tenant (a deleted or external object?)"} if {
	user == null
	d.right in {"full_access", "send_as"}
	not is_string(object.get(d, "trustee_id", null))
}

_unknown(d, user) := set() if user != null

_unknown(d, user) := set() if is_string(object.get(d, "trustee_id", null))

_unknown(d, user) := set() if not d.right in {"full_access", "send_as"}

# ---- whose mailbox it is

_is_owner(d, user) if object.get(d, "trustee_id", null) == d.mailbox_id

_is_owner(d, user) if {
	user != null
	user.id == d.mailbox_id
}

_privileged_owner(d, user) := _owner_reasons(d) if not _is_owner(d, user)

_privileged_owner(d, user) := set() if _is_owner(d, user)

_owner_reasons(d) := {sprintf("%s holds %s, and nobody else should hold rights on that mailbox", [d.mailbox_upn, concat(", ", sort(privileged_roles_by_user[d.mailbox_id]))])} if {
	privileged_roles_by_user[d.mailbox_id]
}

_owner_reasons(d) := {sprintf("%s is an executive mailbox (executive_mailboxes in m365guard.toml)", [d.mailbox_upn])} if {
	not privileged_roles_by_user[d.mailbox_id]
	_is_executive(d.mailbox_upn)
}

_owner_reasons(d) := set() if {
	not privileged_roles_by_user[d.mailbox_id]
	not _is_executive(d.mailbox_upn)
}

# ---- configuration (m365guard.toml [exchange]); patterns arrive as anchored regexes

default _executive_patterns := []

_executive_patterns := data.m365guard.config.executive_mailboxes

default _allowed_patterns := []

_allowed_patterns := data.m365guard.config.allowed_delegates

_is_executive(upn) if {
	some p in _executive_patterns
	regex.match(p, lower(upn))
}

_allowed(d, key) := true if _is_allowed(d, key)

_allowed(d, key) := false if not _is_allowed(d, key)

_is_allowed(d, key) if {
	key != null
	some p in _allowed_patterns
	regex.match(p.mailbox, lower(d.mailbox_upn))
	regex.match(p.delegate, key)
}
