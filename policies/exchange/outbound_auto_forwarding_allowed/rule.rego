# Outbound spam policies that let users auto-forward mail outside the organisation, or
# leave it to the service default. `On` allows it (medium). `Automatic` is documented as
# system-controlled: blocked today, but only because Microsoft's default says so, and CIS
# and ScubaGear-style checks require an explicit `Off` (low). The message says what the
# remote domains add: "when one setting allows external forwarding but another blocks
# it, the block wins" (Microsoft's external forwarding docs).
package m365guard.rules.outbound_auto_forwarding_allowed

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some policy in input.outbound_spam.policies
	object.get(policy, "enabled", true) == true
	mode := lower(policy.auto_forwarding_mode)
	_severity[mode]
	is_default := object.get(policy, "is_default", false)
	finding := {
		"resource_type": "outbound_spam_policy",
		"resource_id": policy.id,
		"resource_name": policy.id,
		"severity": _severity[mode],
		"message": sprintf("Outbound spam policy %s %s (AutoForwardingMode %s)%s%s", [
			policy.id,
			_what[mode],
			policy.auto_forwarding_mode,
			_scope_note(is_default),
			_remote_note(mode),
		]),
		"details": {
			"auto_forwarding_mode": policy.auto_forwarding_mode,
			"is_default": is_default,
			"remote_domains_allowing": sort(_remote_allowing),
		},
	}
}

_severity := {"on": "medium", "automatic": "low"}

_what := {
	"on": "allows automatic forwarding to external recipients",
	"automatic": "relies on the service default for automatic external forwarding; set Off",
}

_scope_note(true) := "; as the default policy it applies to every mailbox without a custom policy"

_scope_note(false) := ""

# Remote domain entries that let auto-forwarded mail leave: `*` or a domain outside the
# tenant, not marked internal ("Default (*)", "Partner (partner.example)").
_remote_allowing contains sprintf("%s (%s)", [d.id, d.domain_name]) if {
	some d in object.get(input, "remote_domains", [])
	object.get(d, "auto_forward_enabled", null) == true
	not object.get(d, "is_internal", false)
	_outside(lower(d.domain_name))
}

_outside("*") := true

_outside(name) if {
	name != "*"
	not lib.is_verified_domain(name)
}

# The `*` entry decides for every domain without an entry of its own.
_star_allows if {
	some d in object.get(input, "remote_domains", [])
	d.domain_name == "*"
	object.get(d, "auto_forward_enabled", null) == true
}

_star_blocks if {
	some d in object.get(input, "remote_domains", [])
	d.domain_name == "*"
	object.get(d, "auto_forward_enabled", null) == false
}

# What the remote domains add; nothing when they were not collected.
_remote_note(mode) := sprintf("; remote domains allow it too (%s), so %s", [
	concat(", ", sort(_remote_allowing)),
	_nothing_else[mode],
]) if _star_allows

_remote_note(_) := sprintf("; the remote domain * entry blocks it (the block wins)%s", [_except]) if _star_blocks

_remote_note(_) := "" if {
	not _star_allows
	not _star_blocks
}

_nothing_else := {
	"on": "nothing blocks auto-forwarded mail from leaving",
	"automatic": "only the service default stands between an inbox rule and an outside address",
}

_except := sprintf(", except for %s", [concat(", ", sort(_remote_allowing))]) if count(_remote_allowing) > 0

_except := "" if count(_remote_allowing) == 0
