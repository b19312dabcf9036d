# The tenant default app management policy does not stop long-lived client secrets: it is
# disabled, or for the tenant's own app registrations (`application_restrictions`) or for
# service principals (`service_principal_restrictions`) it neither blocks new secrets
# (`passwordAddition`) nor caps their lifetime (`passwordLifetime`) at the threshold
# (m365guard.toml `[apps] max_secret_lifetime_days`, default 365). A restriction counts
# when its state is not `disabled` and its `restrict_for_apps_created_after` date has come.
# Custom policies are not judged here (they replace the default only for the apps they
# name). A tenant whose API refuses the read for the licence has the source `unavailable`:
# the rule is then not applicable.
package m365guard.rules.app_credential_policy_missing

import rego.v1

default max_secret_lifetime_days := 365

max_secret_lifetime_days := data.m365guard.config.max_secret_lifetime_days

_targets := [
	["application_restrictions", "app registrations"],
	["service_principal_restrictions", "service principals"],
]

deny contains finding if {
	some p in input.apps.management_policies
	p.policy_kind == "tenant_default"
	gaps := _gaps(p)
	count(gaps) > 0
	finding := {
		"resource_type": "app_management_policy",
		"resource_id": p.id,
		"resource_name": object.get(p, "display_name", "Default app management tenant policy"),
		"severity": "medium",
		"message": sprintf("The tenant app management policy does not limit client secrets: %s", [concat("; ", gaps)]),
		"details": {
			"is_enabled": object.get(p, "is_enabled", null),
			"max_secret_lifetime_days": max_secret_lifetime_days,
			"gaps": gaps,
		},
	}
}

_gaps(p) := ["it is disabled"] if object.get(p, "is_enabled", null) != true

_gaps(p) := gaps if {
	object.get(p, "is_enabled", null) == true
	gaps := [sprintf("%s may get new secrets valid for more than %d days", [label, max_secret_lifetime_days]) |
		some target in _targets
		label := target[1]
		not _secrets_limited(object.get(p, target[0], null))
	]
}

# Blocked outright, or capped at the threshold.
_secrets_limited(r) if {
	some c in r.password_credentials
	c.restriction_type == "passwordAddition"
	_in_force(c)
}

_secrets_limited(r) if {
	some c in r.password_credentials
	c.restriction_type == "passwordLifetime"
	_in_force(c)
	is_number(c.max_lifetime_days)
	c.max_lifetime_days <= max_secret_lifetime_days
}

_in_force(c) if {
	object.get(c, "state", "enabled") != "disabled"
	_started(c)
}

_started(c) if object.get(c, "restrict_for_apps_created_after", null) == null

# RFC 3339 UTC strings compare as strings.
_started(c) if c.restrict_for_apps_created_after <= input.collection.collected_at
