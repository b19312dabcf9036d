# Remote domains that let auto-forwarded mail (inbox rules, mailbox forwarding) leave the
# organisation: the `*` default entry, or a domain that is neither verified nor an allowed
# partner. The outbound spam policy decides the severity: with AutoForwardingMode On the
# remote domain is the only control left, otherwise it is a second line that a single
# policy change would open ("the block wins", Microsoft's external forwarding docs).
package m365guard.rules.remote_domain_auto_forward

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some domain in input.remote_domains
	object.get(domain, "auto_forward_enabled", null) == true
	not object.get(domain, "is_internal", false)
	_unexpected(lower(domain.domain_name))
	finding := {
		"resource_type": "remote_domain",
		"resource_id": domain.id,
		"resource_name": _name(domain),
		"severity": _severity,
		"message": sprintf("Remote domain %s allows automatic forwarding to %s%s", [
			_name(domain),
			_target(lower(domain.domain_name)),
			_policy_note,
		]),
		"details": {
			"domain_name": domain.domain_name,
			"auto_forward_enabled": true,
			"outbound_policies_allowing": sort(_policies_on),
			"when_changed": object.get(domain, "when_changed", null),
		},
	}
}

# `*` covers every external domain without an entry of its own: never expected.
_unexpected("*") := true

_unexpected(name) := true if {
	name != "*"
	not lib.is_verified_domain(name)
	not lib.is_allowed_partner_domain(name)
}

_name(domain) := sprintf("%s (%s)", [domain.id, domain.domain_name]) if domain.id != domain.domain_name

_name(domain) := domain.id if domain.id == domain.domain_name

_target("*") := "every external domain without its own remote domain entry"

_target(name) := name if name != "*"

# Enabled outbound spam policies that allow external auto-forwarding.
_policies_on contains policy.id if {
	some policy in input.outbound_spam.policies
	object.get(policy, "enabled", true) == true
	lower(policy.auto_forwarding_mode) == "on"
}

default _severity := "medium"

_severity := "high" if count(_policies_on) > 0

_policy_note := sprintf("; outbound spam policy %s allows external auto-forwarding, so nothing else blocks it", [concat(", ", sort(_policies_on))]) if count(_policies_on) > 0

_policy_note := "; blocked today only by the outbound spam policy (AutoForwardingMode Off or Automatic), which one change would lift" if count(_policies_on) == 0
