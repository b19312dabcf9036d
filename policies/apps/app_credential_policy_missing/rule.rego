# An app management policy does not stop long-lived app credentials.
#
# The tenant default (`policy_kind` `tenant_default`) is flagged when it is disabled, or when
# for the tenant's own app registrations (`application_restrictions`) or for service
# principals (`service_principal_restrictions`) it neither blocks new secrets
# (`passwordAddition`) nor caps their lifetime (`passwordLifetime`) at the threshold
# (m365guard.toml `[apps] max_secret_lifetime_days`, default 365), or caps certificates
# (`asymmetricKeyLifetime` in `key_credentials`) above that same threshold.
#
# A custom policy (`policy_kind` `custom`) applied to apps is judged the same way: Microsoft
# documents that the app or service principal it is assigned to "doesn't inherit from the
# tenant default policy" (https://learn.microsoft.com/graph/api/resources/applicationauthenticationmethodpolicy),
# so a custom policy that allows secrets, or longer ones, exempts those apps from the
# default. A disabled custom policy restricts nothing; one applied to no app governs nothing.
# The finding names the apps (service principal or app registration display names from the
# snapshot, the object id when neither is known).
#
# A restriction counts when its state is not `disabled` and its
# `restrict_for_apps_created_after` date has come. A tenant whose API refuses the read for
# the licence has the source `unavailable`: the rule is then not applicable.
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
	gaps := _default_gaps(p)
	count(gaps) > 0
	finding := {
		"resource_type": "app_management_policy",
		"resource_id": p.id,
		"resource_name": _policy_name(p, "Default app management tenant policy"),
		"severity": "medium",
		"message": sprintf("The tenant app management policy does not limit %s: %s", [_limited_kinds(gaps), concat("; ", _texts(gaps))]),
		"details": {
			"is_enabled": object.get(p, "is_enabled", null),
			"max_secret_lifetime_days": max_secret_lifetime_days,
			"gaps": _texts(gaps),
		},
	}
}

deny contains finding if {
	some p in input.apps.management_policies
	p.policy_kind == "custom"
	applies_to := object.get(p, "applies_to", [])
	count(applies_to) > 0
	gaps := _custom_gaps(p)
	count(gaps) > 0
	apps := sort({_app_name(id) | some id in applies_to})
	name := _policy_name(p, p.id)
	finding := {
		"resource_type": "app_management_policy",
		"resource_id": p.id,
		"resource_name": name,
		"severity": "medium",
		"message": sprintf("Custom app management policy %q replaces the tenant default for %s and does not limit %s: %s", [
			name, concat(", ", apps), _limited_kinds(gaps), concat("; ", _texts(gaps)),
		]),
		"details": {
			"is_enabled": object.get(p, "is_enabled", null),
			"max_secret_lifetime_days": max_secret_lifetime_days,
			"gaps": _texts(gaps),
			"applies_to": applies_to,
			"apps": apps,
		},
	}
}

# A gap is {"kind": "secrets" | "certificates", "text": ...}.
_default_gaps(p) := [{"kind": "secrets", "text": "it is disabled"}] if object.get(p, "is_enabled", null) != true

_default_gaps(p) := array.concat(secret_gaps, certificate_gaps) if {
	object.get(p, "is_enabled", null) == true
	secret_gaps := [{"kind": "secrets", "text": sprintf("%s may get new secrets valid for more than %d days", [label, max_secret_lifetime_days])} |
		some target in _targets
		label := target[1]
		not _secrets_limited(object.get(p, target[0], null))
	]
	certificate_gaps := [{"kind": "certificates", "text": sprintf("%s may get certificates valid for up to %d days", [label, days])} |
		some target in _targets
		label := target[1]
		some days in _long_certificate_lifetimes(object.get(p, target[0], null))
	]
}

# Disabled (or not known to be enabled): the apps it names have no restriction at all,
# since they no longer inherit from the default.
_custom_gaps(p) := [{"kind": "secrets", "text": "it is disabled, so they have no restriction"}] if object.get(p, "is_enabled", null) != true

_custom_gaps(p) := array.concat(secret_gaps, certificate_gaps) if {
	object.get(p, "is_enabled", null) == true
	r := object.get(p, "application_restrictions", null)
	secret_gaps := [{"kind": "secrets", "text": sprintf("they may get new secrets valid for more than %d days", [max_secret_lifetime_days])} |
		not _secrets_limited(r)
	]
	certificate_gaps := [{"kind": "certificates", "text": sprintf("they may get certificates valid for up to %d days", [days])} |
		some days in _long_certificate_lifetimes(r)
	]
}

_texts(gaps) := [g.text | some g in gaps]

_limited_kinds(gaps) := "client secrets or certificates" if {
	some g in gaps
	g.kind == "secrets"
	some h in gaps
	h.kind == "certificates"
}

_limited_kinds(gaps) := "client secrets" if {
	every g in gaps {
		g.kind == "secrets"
	}
}

_limited_kinds(gaps) := "certificates" if {
	every g in gaps {
		g.kind == "certificates"
	}
}

_policy_name(p, fallback) := p.display_name if is_string(object.get(p, "display_name", null))

_policy_name(p, fallback) := fallback if not is_string(object.get(p, "display_name", null))

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

# Certificate lifetime caps in force that are longer than the threshold. No cap at all is
# not a gap: Microsoft recommends certificates over secrets, and a certificate's lifetime is
# set by whoever issues it.
_long_certificate_lifetimes(r) := {days |
	some c in r.key_credentials
	c.restriction_type == "asymmetricKeyLifetime"
	_in_force(c)
	days := c.max_lifetime_days
	is_number(days)
	days > max_secret_lifetime_days
}

# An application or service principal object id: the service principal's name, or the
# name of the app registration a service principal or credential points at.
_app_name(id) := name if {
	names := {n |
		some sp in input.apps.service_principals
		id in {sp.id, object.get(sp, "application_id", "")}
		n := sp.display_name
	} | {n |
		some c in input.apps.credentials
		c.owner_id == id
		n := c.owner_name
	}
	count(names) > 0
	name := min(names)
}

_app_name(id) := id if {
	not _known_app(id)
}

_known_app(id) if {
	some sp in input.apps.service_principals
	id in {sp.id, object.get(sp, "application_id", "")}
}

_known_app(id) if {
	some c in input.apps.credentials
	c.owner_id == id
}

_in_force(c) if {
	object.get(c, "state", "enabled") != "disabled"
	_started(c)
}

_started(c) if object.get(c, "restrict_for_apps_created_after", null) == null

# RFC 3339 UTC strings compare as strings.
_started(c) if c.restrict_for_apps_created_after <= input.collection.collected_at
