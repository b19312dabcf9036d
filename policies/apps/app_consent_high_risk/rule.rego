# A delegated permission grant or an application permission in the high-risk tier
# (data.m365guard.data.apps.high_risk_permissions: mail, files and sites, directory, role
# and app writes) held by an app that is not Microsoft's, when the app's publisher is not
# verified, the app or the grant is new (the review window before collection), or a user
# who holds no admin role consented for themselves. Each finding names the reasons.
package m365guard.rules.app_consent_high_risk

import data.m365guard.data.apps.high_risk_permissions
import data.m365guard.lib
import data.m365guard.lib.review_window_days
import data.m365guard.lib.privileged_roles_by_user
import data.m365guard.lib.service_principals_by_id
import data.m365guard.lib.users_by_id
import rego.v1

# Delegated grants.
# The shared tables are bound before each loop, and the high-risk test (most grants and
# assignments fail it) comes before the client's look-up and the reasons. A table read
# through a call is bound first (`granted[s]`, not `object.get(…)[s]`): regorus builds an
# error for a reference that is no static path, with a backtrace under RUST_BACKTRACE.
deny contains finding if {
	sps := service_principals_by_id
	high_risk := high_risk_permissions
	some grant in input.apps.consent_grants
	resource := sps[grant.resource_id]
	risky := sort([s |
		some s in grant.scopes
		granted := object.get(high_risk, lower(resource.app_id), set())
		granted[s]
	])
	count(risky) > 0
	client := _client(grant.client_id)
	not lib.is_first_party_app(client)
	reasons := _grant_reasons(grant, client)
	count(reasons) > 0
	finding := {
		"resource_type": "consent_grant",
		"resource_id": grant.id,
		"resource_name": sprintf("%s on %s (%s)", [client.display_name, resource.display_name, _granted_to(grant)]),
		"severity": "high",
		"message": sprintf("%s was granted %s on %s (delegated, %s): %s", [
			client.display_name, concat(", ", risky), resource.display_name, _granted_to(grant),
			concat("; ", sort(reasons)),
		]),
		"details": {
			"permission_type": "delegated",
			"client_id": grant.client_id,
			"client_app_id": object.get(client, "app_id", null),
			"consent_type": grant.consent_type,
			"principal_id": object.get(grant, "principal_id", null),
			"resource": resource.display_name,
			"high_risk_permissions": risky,
			"reasons": sort(reasons),
			"publisher": object.get(client, "publisher_name", null),
			"verified_publisher": object.get(client, "verified_publisher", null),
		},
	}
}

# Application permissions (app role assignments on Graph, Exchange Online, SharePoint).
deny contains finding if {
	high_risk := high_risk_permissions
	some a in input.apps.app_role_assignments
	permission := object.get(a, "permission", null)
	is_string(permission)
	granted := object.get(high_risk, lower(object.get(a, "resource_app_id", "")), set())
	granted[permission]
	client := _client(a.principal_id)
	not lib.is_first_party_app(client)
	reasons := _app_reasons(a, client)
	count(reasons) > 0
	resource := object.get(a, "resource_name", a.resource_id)
	finding := {
		"resource_type": "app_role_assignment",
		"resource_id": a.id,
		"resource_name": sprintf("%s on %s (%s)", [client.display_name, resource, permission]),
		"severity": "high",
		"message": sprintf("%s was granted %s on %s (application permission, no user needed): %s", [
			client.display_name, permission, resource, concat("; ", sort(reasons)),
		]),
		"details": {
			"permission_type": "application",
			"client_id": a.principal_id,
			"client_app_id": object.get(client, "app_id", null),
			"resource": resource,
			"resource_id": a.resource_id,
			"high_risk_permissions": [permission],
			"reasons": sort(reasons),
			"publisher": object.get(client, "publisher_name", null),
			"verified_publisher": object.get(client, "verified_publisher", null),
		},
	}
}

_client(id) := service_principals_by_id[id]

_client(id) := {"id": id, "display_name": id} if not service_principals_by_id[id]

_granted_to(grant) := "all users" if grant.consent_type == "AllPrincipals"

_granted_to(grant) := lib.principal_display(grant.principal_id) if {
	grant.consent_type != "AllPrincipals"
	users_by_id[grant.principal_id]
}

_granted_to(grant) := object.get(grant, "principal_id", "unknown user") if {
	grant.consent_type != "AllPrincipals"
	not users_by_id[object.get(grant, "principal_id", "")]
}

_publisher_reason(client) := sprintf("publisher %s is not verified", [object.get(client, "publisher_name", "(none)")])

_created_reason(client) := sprintf("the app was added on %s, within the %d days before collection", [
	client.created_date_time, review_window_days,
])

# Functions cannot be partial sets: each reason is one case of `_reason`, collected here.
_grant_reasons(grant, client) := {r | some kind in ["publisher", "created", "user"]; r := _reason(kind, grant, client)}

_app_reasons(a, client) := {r | some kind in ["publisher", "created", "granted"]; r := _reason(kind, a, client)}

_reason("publisher", _, client) := _publisher_reason(client) if lib.is_unverified_publisher(client)

_reason("created", _, client) := _created_reason(client) if {
	lib.within_review_window(object.get(client, "created_date_time", null))
}

_reason("user", grant, _) := sprintf("consented by %s, who holds no admin role", [lib.principal_display(grant.principal_id)]) if {
	grant.consent_type == "Principal"
	users_by_id[grant.principal_id]
	not privileged_roles_by_user[grant.principal_id]
}

_reason("granted", a, _) := sprintf("granted on %s, within the %d days before collection", [a.created_date_time, review_window_days]) if {
	lib.within_review_window(object.get(a, "created_date_time", null))
}
