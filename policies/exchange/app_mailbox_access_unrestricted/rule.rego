# A service principal that can reach every mailbox without limit: it holds an application
# permission to mailbox content (data.m365guard.data.exchange_roles.mailbox_app_permissions:
# Graph Mail.Read/ReadWrite/Send…, Exchange full_access_as_app / EWS.AccessAsApp) and no
# valid `RestrictAccess` application access policy names its app id, or it holds an RBAC
# for Applications mail role (`Application Mail.ReadWrite`, …) without a resource scope.
# A `DenyAccess` policy does not count as a restriction: it keeps the app out of one group
# and lets it into every other mailbox. A scoped RBAC for Applications assignment does not
# restrict the Entra permission either: Microsoft documents that the two grants add up
# (https://learn.microsoft.com/exchange/permissions-exo/application-rbac), so an app with
# both is reported with the advice to remove the Entra permission. Microsoft's own apps
# and disabled service principals are left out.
package m365guard.rules.app_mailbox_access_unrestricted

import data.m365guard.data.exchange_roles.mailbox_app_permissions
import data.m365guard.data.exchange_roles.mailbox_app_roles
import data.m365guard.lib
import rego.v1

_sps := object.get(object.get(input, "apps", {}), "service_principals", [])

deny contains finding if {
	by_principal := _assignments_by_principal
	assignments := _assignments
	permissions := mailbox_app_permissions
	some sp in _sps
	object.get(sp, "account_enabled", true) != false

	# Entra application permissions to mailboxes, the shared indexes bound before the loop.
	entra := {a.permission |
		some i in object.get(by_principal, sp.id, [])
		a := assignments[i]
		granted := object.get(permissions, lower(object.get(a, "resource_app_id", "")), set())
		granted[a.permission]
	}
	rbac := _rbac_unscoped(sp)

	# Either reason needs a permission or a role: most service principals hold neither,
	# and skip the access-policy look-ups below.
	count(entra) + count(rbac) > 0
	not lib.is_first_party_app(sp)
	reasons := _entra_reasons(sp, entra) | _rbac_reasons(rbac)
	count(reasons) > 0
	finding := {
		"resource_type": "service_principal",
		"resource_id": sp.id,
		"resource_name": sp.display_name,
		"severity": "high",
		"message": sprintf("%s can reach every mailbox: %s", [sp.display_name, concat("; ", sort(reasons))]),
		"details": {
			"app_id": sp.app_id,
			"application_permissions": sort(entra),
			"unscoped_rbac_roles": sort(rbac),
			"scoped_rbac_roles": sort(_rbac_scoped(sp)),
			"access_policies": sort([sprintf("%s %s", [p.access_right, object.get(p, "scope_name", "?")]) | some p in _policies(sp)]),
		},
	}
}

# ---- Entra application permissions to mailboxes, unless a RestrictAccess policy limits them

# The assignments' positions by principal id, in one native pass (`m365guard.index_by`): a
# scan over every assignment for each service principal cost 1.7 s of CPU at 2,000 of each.
_assignments := object.get(input.apps, "app_role_assignments", [])

_assignments_by_principal := m365guard.index_by(_assignments, [["principal_id"]])[0]

_policies(sp) := [p |
	some p in object.get(input, "application_access_policies", [])
	lower(p.app_id) == lower(sp.app_id)
]

_restricted(sp) if {
	some p in _policies(sp)
	p.access_right == "RestrictAccess"
	object.get(p, "is_valid", true) != false
}

_entra_reasons(sp, entra) := {sprintf("application permission %s with no application access policy restricting it%s", [concat(", ", sort(entra)), _deny_note(sp)])} if {
	count(entra) > 0
	not _restricted(sp)
}

_entra_reasons(sp, entra) := set() if count(entra) == 0

_entra_reasons(sp, entra) := set() if _restricted(sp)

_deny_note(sp) := " (only a DenyAccess policy: every mailbox outside its group stays open)" if {
	some p in _policies(sp)
	p.access_right == "DenyAccess"
}

_deny_note(sp) := "" if {
	not _has_deny(sp)
}

_has_deny(sp) if {
	some p in _policies(sp)
	p.access_right == "DenyAccess"
}

# ---- RBAC for Applications mail roles, assigned to the service principal

_rbac(sp) := [a |
	some a in object.get(input, "exchange_role_assignments", [])
	lower(a.assignee_type) == "serviceprincipal"
	object.get(a, "enabled", true) != false
	mailbox_app_roles[lower(a.role)]
	_names_app(a.assignee, sp)
]

_names_app(name, sp) if lower(name) == sp.id

_names_app(name, sp) if lower(name) == lower(sp.app_id)

_names_app(name, sp) if name == sp.display_name

_scope_keys := ["custom_resource_scope", "custom_recipient_write_scope", "recipient_organizational_unit_scope", "recipient_administrative_unit_scope"]

_is_scoped(a) if {
	some k in _scope_keys
	is_string(object.get(a, k, null))
}

_rbac_unscoped(sp) := {a.role | some a in _rbac(sp); not _is_scoped(a)}

_rbac_scoped(sp) := {a.role | some a in _rbac(sp); _is_scoped(a)}

_rbac_reasons(roles) := {sprintf("RBAC for Applications role %s without a resource scope (every mailbox)", [concat(", ", sort(roles))])} if count(roles) > 0

_rbac_reasons(roles) := set() if count(roles) == 0
