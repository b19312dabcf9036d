package m365guard.rules.risky_user_high

import data.m365guard.lib.fixtures
import rego.v1

_lena_risk := {
	"id": fixtures.lena_id, "user_principal_name": "lena.fischer@contoso.com",
	"risk_level": "high", "risk_state": "atRisk", "risk_detail": "none",
	"risk_last_updated": "2025-12-31T02:20:41Z",
}

_add(entry) := json.patch(fixtures.base, [{"op": "add", "path": "/risky_users/-", "value": entry}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_high_at_risk_violation if {
	findings := deny with input as _add(_lena_risk)
	count(findings) == 1
	some f in findings
	f.resource_type == "risky_user"
	f.resource_id == fixtures.lena_id
	f.resource_name == "lena.fischer@contoso.com"
	f.message == "User lena.fischer@contoso.com is at high risk in Identity Protection (at risk, not remediated), last updated 2025-12-31T02:20:41Z"
	f.details.risk_state == "atRisk"
}

test_confirmed_compromised_violation if {
	findings := deny with input as _add(object.union(_lena_risk, {"risk_state": "confirmedCompromised"}))
	some f in findings
	contains(f.message, "confirmed compromised")
}

test_case_insensitive_violation if {
	count(deny) == 1 with input as _add(object.union(_lena_risk, {"risk_level": "High", "risk_state": "ATRISK"}))
}

test_without_timestamp_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "add", "path": "/risky_users/-", "value": _lena_risk},
		{"op": "remove", "path": "/risky_users/1/risk_last_updated"},
	])
	some f in findings
	endswith(f.message, "(at risk, not remediated)")
}

test_medium_compliant if {
	count(deny) == 0 with input as _add(object.union(_lena_risk, {"risk_level": "medium"}))
}

test_remediated_compliant if {
	count(deny) == 0 with input as _add(object.union(_lena_risk, {"risk_state": "remediated"}))
}

test_dismissed_compliant if {
	count(deny) == 0 with input as _add(object.union(_lena_risk, {"risk_state": "dismissed"}))
}
