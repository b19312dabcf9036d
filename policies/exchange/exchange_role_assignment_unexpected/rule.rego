# A sensitive Exchange management role (data.m365guard.data.exchange_roles.sensitive_roles:
# Role Management, ApplicationImpersonation, Mailbox Import Export, Mailbox Search, the
# RBAC for Applications mail roles, …) assigned DIRECTLY to a user, a security group or a
# service principal (`exchange_role_assignments`: Get-ManagementRoleAssignment without the
# role-group and role-assignment-policy assignments) that is a guest, disabled, or not
# listed in `[roles] allowed_exchange_role_group_members` (the role-group rule's list: a
# pattern may name the UPN, the Exchange name, or a service principal's app id or name).
# ApplicationImpersonation and Mailbox Import Export are flagged for anyone, listed or not.
# A disabled assignment grants nothing and is left alone. Severity is the role's (data).
package m365guard.rules.exchange_role_assignment_unexpected

import data.m365guard.data.exchange_roles.always_flagged_roles
import data.m365guard.data.exchange_roles.sensitive_roles
import rego.v1

deny contains finding if {
	some a in object.get(input, "exchange_role_assignments", [])
	object.get(a, "enabled", true) != false
	role := sensitive_roles[lower(a.role)]
	reasons := _reasons(a)
	count(reasons) > 0
	who := _name(a)
	finding := {
		"resource_type": "exchange_role_assignment",
		"resource_id": a.id,
		"resource_name": sprintf("%s to %s", [a.role, who]),
		"severity": role.severity,
		"message": sprintf("the Exchange role %s is assigned directly to %s %s (%s; %s): %s", [
			a.role, _kind(a), who, role.why, _scope_text(a), concat("; ", sort(reasons)),
		]),
		"details": {
			"role": a.role,
			"assignee": a.assignee,
			"assignee_type": a.assignee_type,
			"scope": _scope(a),
			"when_created": object.get(a, "when_created", null),
			"allowed_by_config": _listed(a),
		},
	}
}

_reasons(a) := ((_always(a) | _guest(a)) | _disabled(a)) | _unexpected(a)

_always(a) := {"held directly by anyone, this role copies whole mailboxes"} if always_flagged_roles[lower(a.role)]

_always(a) := set() if not always_flagged_roles[lower(a.role)]

# ---- who the assignee is (Exchange names it; the directory is matched by UPN, display
# name, object id or app id)

_users(a) := [u |
	lower(a.assignee_type) == "user"
	some u in input.users
	_user_key(u, a)
]

_user_key(u, a) if lower(u.user_principal_name) == lower(a.assignee)

_user_key(u, a) if object.get(u, "display_name", null) == a.assignee

_user_key(u, a) if u.id == a.assignee

_apps(a) := [sp |
	lower(a.assignee_type) == "serviceprincipal"
	some sp in object.get(object.get(input, "apps", {}), "service_principals", [])
	_app_key(sp, a)
]

_app_key(sp, a) if sp.id == lower(a.assignee)

_app_key(sp, a) if lower(sp.app_id) == lower(a.assignee)

_app_key(sp, a) if sp.display_name == a.assignee

_name(a) := _users(a)[0].user_principal_name if count(_users(a)) > 0

_name(a) := _apps(a)[0].display_name if count(_apps(a)) > 0

_name(a) := a.assignee if {
	count(_users(a)) == 0
	count(_apps(a)) == 0
}

_kind(a) := "the user" if lower(a.assignee_type) == "user"

_kind(a) := "the service principal" if lower(a.assignee_type) == "serviceprincipal"

_kind(a) := "the group" if lower(a.assignee_type) == "securitygroup"

_kind(a) := a.assignee_type if not _known_kinds[lower(a.assignee_type)]

_known_kinds := {"user", "serviceprincipal", "securitygroup"}

_is_guest(a) if {
	some u in _users(a)
	u.user_type == "guest"
}

_is_guest(a) if contains(lower(a.assignee), "#ext#")

_guest(a) := {"the assignee is a guest account"} if _is_guest(a)

_guest(a) := set() if not _is_guest(a)

_is_disabled(a) if {
	some u in _users(a)
	u.account_enabled == false
}

_is_disabled(a) if {
	some sp in _apps(a)
	sp.account_enabled == false
}

_disabled(a) := {"the assignee is disabled"} if _is_disabled(a)

_disabled(a) := set() if not _is_disabled(a)

_unexpected(a) := {"not listed in [roles] allowed_exchange_role_group_members"} if not _is_listed(a)

_unexpected(a) := set() if _is_listed(a)

# ---- scope: what the assignment reaches

_scope(a) := s if {
	s := {k: v |
		some k in [
			"recipient_write_scope", "custom_recipient_write_scope", "custom_resource_scope",
			"recipient_organizational_unit_scope", "recipient_administrative_unit_scope",
		]
		v := object.get(a, k, null)
		is_string(v)
	}
}

_scoped(a) if {
	some k, _ in _scope(a)
	k != "recipient_write_scope"
}

_scope_text(a) := "scoped" if _scoped(a)

_scope_text(a) := "organisation-wide" if not _scoped(a)

# ---- configuration (m365guard.toml [roles]); patterns arrive as anchored regexes

default _allowed_patterns := []

_allowed_patterns := data.m365guard.config.allowed_exchange_role_group_members

_listed(a) := true if _is_listed(a)

_listed(a) := false if not _is_listed(a)

_is_listed(a) if {
	some p in _allowed_patterns
	some k in _keys(a)
	regex.match(p, k)
}

_keys(a) := {lower(a.assignee), lower(_name(a))} | {lower(sp.app_id) | some sp in _apps(a)}
