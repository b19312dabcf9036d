# Members of the privileged Exchange role groups (Organization Management, Recipient
# Management, Discovery Management, … — the collector's list) that nobody vouched for: a
# guest, a disabled account, or anyone not listed in `[roles]
# allowed_exchange_role_group_members` (m365guard.toml). The role groups Exchange Online
# itself puts there to stand for Entra roles (TenantAdmins_…, ExchangeServiceAdmins_…,
# type RoleGroup) are left to the directory-role rules. A guest or a disabled member is
# flagged even when listed. Organization Management is critical (it holds Role
# Management: its members can grant themselves anything), the others high.
package m365guard.rules.exchange_role_group_unexpected

import data.m365guard.lib.users_by_id
import rego.v1

deny contains finding if {
	some m in object.get(input, "exchange_role_groups", [])
	object.get(m, "member_type", "") != "RoleGroup"
	reasons := _reasons(m)
	count(reasons) > 0
	who := _name(m)
	finding := {
		"resource_type": "exchange_role_group_member",
		"resource_id": m.id,
		"resource_name": sprintf("%s in %s", [who, m.role_group]),
		"severity": _severity(m),
		"message": sprintf("%s is a member of the Exchange role group %s: %s", [
			who, m.role_group, concat("; ", sort(reasons)),
		]),
		"details": {
			"role_group": m.role_group,
			"member": m.member,
			"member_type": object.get(m, "member_type", null),
			"allowed_by_config": _allowed(m),
		},
	}
}

_severity(m) := "critical" if lower(m.role_group) == "organization management"

_severity(m) := "high" if lower(m.role_group) != "organization management"

_reasons(m) := (_guest(m) | _disabled(m)) | _unexpected(m)

# ---- who the member is

_users_by_upn := {lower(u.user_principal_name): u | some u in input.users}

_user(m) := users_by_id[m.member_id] if is_string(object.get(m, "member_id", null))

_user(m) := _users_by_upn[_key(m)] if not users_by_id[object.get(m, "member_id", "")]

_key(m) := lower(m.member_address) if is_string(object.get(m, "member_address", null))

_key(m) := lower(m.member) if not is_string(object.get(m, "member_address", null))

_name(m) := _user(m).user_principal_name

_name(m) := _key(m) if not _user(m)

_is_guest(m) if _user(m).user_type == "guest"

_is_guest(m) if object.get(m, "member_type", "") == "GuestMailUser"

_is_guest(m) if contains(_key(m), "#ext#")

_guest(m) := {"the member is a guest account"} if _is_guest(m)

_guest(m) := set() if not _is_guest(m)

_is_disabled(m) if _user(m).account_enabled == false

_is_disabled(m) if object.get(m, "member_type", "") == "DisabledUser"

_disabled(m) := {"the member's account is disabled"} if _is_disabled(m)

_disabled(m) := set() if not _is_disabled(m)

_unexpected(m) := {"not listed in [roles] allowed_exchange_role_group_members"} if not _is_allowed(m)

_unexpected(m) := set() if _is_allowed(m)

# ---- configuration (m365guard.toml [roles]); patterns arrive as anchored regexes

default _allowed_patterns := []

_allowed_patterns := data.m365guard.config.allowed_exchange_role_group_members

_allowed(m) := true if _is_allowed(m)

_allowed(m) := false if not _is_allowed(m)

_is_allowed(m) if {
	some p in _allowed_patterns
	some k in _keys(m)
	regex.match(p, k)
}

# A pattern may name the member's UPN/address or its Exchange name.
_keys(m) := {_key(m), lower(m.member), lower(_name(m))}
