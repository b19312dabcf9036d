# Users may consent to apps themselves: the default user role is assigned a
# `ManagePermissionGrantsForSelf.*` permission grant policy
# (authorizationPolicy.defaultUserRolePermissions.permissionGrantPoliciesAssigned).
# `microsoft-user-default-legacy` lets users consent to any app for any permission that
# needs no admin (high); `microsoft-user-default-low` and custom policies limit it (medium).
package m365guard.rules.user_consent_allowed

import rego.v1

deny contains finding if {
	some p in input.apps.consent_policies
	self := sort([x |
		some x in object.get(p, "permission_grant_policies_assigned", [])
		startswith(lower(x), "managepermissiongrantsforself.")
	])
	count(self) > 0
	finding := {
		"resource_type": "consent_policy",
		"resource_id": p.id,
		"resource_name": "User consent settings",
		"severity": _severity(self),
		"message": sprintf("Users can consent to apps without an admin (%s)%s", [
			concat(", ", self), _workflow_note(p),
		]),
		"details": {
			"permission_grant_policies_assigned": self,
			"admin_consent_workflow_enabled": object.get(p, "admin_consent_workflow_enabled", null),
		},
	}
}

_severity(self) := "high" if _legacy(self)

_severity(self) := "medium" if {
	not _legacy(self)
}

_legacy(self) if {
	some x in self
	endswith(lower(x), "microsoft-user-default-legacy")
}

_workflow_note(p) := "; the admin consent workflow is off, so once consent is restricted users cannot ask for apps" if {
	object.get(p, "admin_consent_workflow_enabled", null) == false
}

_workflow_note(p) := "" if object.get(p, "admin_consent_workflow_enabled", null) != false
