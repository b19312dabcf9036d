package m365guard.rules.transport_rule_deletes_mail

import data.m365guard.lib.fixtures
import rego.v1

_with_rule(changes) := json.patch(fixtures.base, [{"op": "add", "path": "/transport_rules/-", "value": object.union(
	{"id": "r-notices", "name": "Suppress notices", "state": "Enabled", "mode": "Enforce", "delete_message": true},
	changes,
)}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_delete_security_alerts_violation if {
	findings := deny with input as _with_rule({"subject_contains_words": ["security alert", "unusual sign-in"]})
	count(findings) == 1
	some f in findings
	f.resource_type == "transport_rule"
	f.resource_id == "r-notices"
	f.message == "Transport rule \"Suppress notices\" deletes mail without a trace (no delivery, no non-delivery report, no quarantine) for mail whose subject contains \"security alert\" or \"unusual sign-in\""
}

test_delete_everything_violation if {
	some f in deny with input as _with_rule({})
	endswith(f.message, "for every message")
}

test_quarantine_compliant if {
	count(deny) == 0 with input as _with_rule({"delete_message": false, "quarantine": true})
}

test_disabled_rule_compliant if {
	count(deny) == 0 with input as _with_rule({"state": "Disabled"})
}

test_audit_mode_compliant if {
	count(deny) == 0 with input as _with_rule({"mode": "Audit"})
}
