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
import rego.v1

deny contains finding if {
	some d in object.get(input, "mailbox_delegates", [])
	reasons := _reasons(d)
	count(reasons) > 0
	who := _trustee_name(d)
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
			"allowed_by_config": _allowed(d),
		},
	}
}

_right_names := {"full_access": "FullAccess", "send_as": "SendAs", "send_on_behalf": "Send on behalf"}

_severity := {"full_access": "high", "send_as": "high", "send_on_behalf": "medium"}

_reasons(d) := (_disabled(d) | _unknown(d)) | _unexpected(d) if not _is_allowed(d)

_reasons(d) := _disabled(d) | _unknown(d) if _is_allowed(d)

_unexpected(d) := (_guest(d) | _external(d)) | _privileged_owner(d)

# ---- who the delegate is

_users_by_upn := {lower(u.user_principal_name): u | some u in input.users}

_user(d) := users_by_id[d.trustee_id] if is_string(object.get(d, "trustee_id", null))

_user(d) := _users_by_upn[_trustee_key(d)] if not users_by_id[object.get(d, "trustee_id", "")]

_trustee_key(d) := lower(d.trustee_address) if is_string(object.get(d, "trustee_address", null))

_trustee_key(d) := lower(d.trustee) if not is_string(object.get(d, "trustee_address", null))

_trustee_name(d) := _user(d).user_principal_name

_trustee_name(d) := _trustee_key(d) if not _user(d)

_is_guest(d) if _user(d).user_type == "guest"

_is_guest(d) if object.get(d, "trustee_type", "") == "GuestMailUser"

_is_guest(d) if contains(_trustee_key(d), "#ext#")

_guest(d) := {"the delegate is a guest account"} if _is_guest(d)

_guest(d) := set() if not _is_guest(d)

_outside(d) if {
	addr := _trustee_key(d)
	lib.address_domain(addr)
	not lib.is_internal_address(addr)
}

_external(d) := {sprintf("the delegate's address %s is outside the organisation", [_trustee_key(d)])} if _outside(d)

_external(d) := set() if not _outside(d)

# A shared mailbox's own account is disabled by design; it is not a person signing in.
_is_disabled(d) if {
	_user(d).account_enabled == false
	object.get(d, "trustee_type", "") != "SharedMailbox"
}

_disabled(d) := {"the delegate's account is disabled"} if _is_disabled(d)

_disabled(d) := set() if not _is_disabled(d)

# FullAccess or SendAs held by a name that matches no collected user and that Exchange
# resolved to no recipient (Get-Recipient answered 404, so the collector kept only the
# name): a deleted object's leftover, or a principal from outside the tenant. Nobody can
# vouch for it, so `allowed_delegates` does not accept it either (as for a disabled one).
_is_unknown(d) if {
	d.right in {"full_access", "send_as"}
	not is_string(object.get(d, "trustee_id", null))
	not _user(d)
}

_unknown(d) := {"the delegate matches no user or recipient of the tenant (a deleted or external object?)"} if _is_unknown(d)

_unknown(d) := set() if not _is_unknown(d)

# ---- whose mailbox it is

_is_owner(d) if object.get(d, "trustee_id", null) == d.mailbox_id

_is_owner(d) if _user(d).id == d.mailbox_id

_privileged_owner(d) := _owner_reasons(d) if not _is_owner(d)

_privileged_owner(d) := set() if _is_owner(d)

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

_allowed(d) := true if _is_allowed(d)

_allowed(d) := false if not _is_allowed(d)

_is_allowed(d) if {
	some p in _allowed_patterns
	regex.match(p.mailbox, lower(d.mailbox_upn))
	regex.match(p.delegate, _trustee_key(d))
}
