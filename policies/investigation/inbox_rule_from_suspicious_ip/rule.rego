# An inbox rule or mailbox forwarding created or changed (unified audit log) from an IP
# address that appears only in the user's suspicious sign-ins.
package m365guard.investigation.inbox_rule_from_suspicious_ip

import data.m365guard.investigation.lib
import rego.v1

# Operations that create or change an inbox rule (lower-case).
_rule_operations := {"new-inboxrule", "set-inboxrule", "enable-inboxrule", "updateinboxrules"}

# Set-Mailbox parameters that forward mail (lower-case).
_forwarding_parameters := {"forwardingsmtpaddress", "forwardingaddress", "delivertomailboxandforward"}

_changes_rules(e) if lower(e.operation) in _rule_operations

_changes_rules(e) if {
	lower(e.operation) == "set-mailbox"
	some name, _ in e.parameters
	lower(name) in _forwarding_parameters
}

_suspicious_ips := {s.ip_address |
	some s in lib.successful_sign_ins
	lib.suspicious(s)
	s.ip_address != null
}

_ordinary_ips := {s.ip_address |
	some s in lib.successful_sign_ins
	not lib.suspicious(s)
	s.ip_address != null
}

# The suspicious sign-in from `ip` closest before `e` (or the first one, if all are after).
_sign_in(e, ip) := s if {
	from_ip := [x | some x in lib.successful_sign_ins; lib.suspicious(x); x.ip_address == ip]
	before := [x | some x in from_ip; x.epoch <= e.epoch]
	pool := _pool(before, from_ip)
	pick := max({x.epoch | some x in pool})
	s := [x | some x in pool; x.epoch == pick][0]
}

_pool(before, _) := before if count(before) > 0

_pool(before, all) := all if count(before) == 0

deny contains finding if {
	some e in input.audit_events
	_changes_rules(e)
	ip := e.client_ip
	ip in _suspicious_ips
	not ip in _ordinary_ips
	s := _sign_in(e, ip)
	minutes := round((e.epoch - s.epoch) / 60)
	finding := {
		"event_id": e.id,
		"message": sprintf("%s (%s) at %s from %s, an address seen only in suspicious sign-ins (%v minutes after the one at %s from %s)", [
			e.operation, object.get(e, "object_id", ""), e.time, ip, minutes, s.time, lib.place(s),
		]),
		"details": {"ip_address": ip, "sign_in": s.id, "minutes_after": minutes, "parameters": e.parameters},
	}
}
