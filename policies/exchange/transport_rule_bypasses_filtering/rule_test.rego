package m365guard.rules.transport_rule_bypasses_filtering

import data.m365guard.lib.fixtures
import rego.v1

_with_rule(changes) := json.patch(fixtures.base, [{"op": "add", "path": "/transport_rules/-", "value": object.union(
	{"id": "r-vendor", "name": "Vendor allow list", "state": "Enabled", "mode": "Enforce", "set_scl": -1},
	changes,
)}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_sender_domain_allow_list_violation if {
	findings := deny with input as _with_rule({"sender_domain_is": ["billing-update.example"]})
	count(findings) == 1
	some f in findings
	f.resource_id == "r-vendor"
	f.severity == "high"
	f.message == "Transport rule \"Vendor allow list\" bypasses spam filtering (SCL -1) from sender domains billing-update.example; it can match mail from outside the organisation, which then skips spam and phishing filtering"
}

test_own_domain_allow_list_is_spoofable_violation if {
	some f in deny with input as _with_rule({"sender_domain_is": ["contoso.com"]})
	f.severity == "high"
}

test_no_condition_violation if {
	some f in deny with input as _with_rule({})
	f.severity == "high"
	contains(f.message, "for every message")
}

test_internal_senders_only_is_medium_violation if {
	some f in deny with input as _with_rule({"from_scope": "InOrganization"})
	f.severity == "medium"
	f.details.matches_external_senders == false
	contains(f.message, "from senders inside the organisation")
}

test_other_scl_compliant if {
	count(deny) == 0 with input as _with_rule({"set_scl": 6})
}

test_disabled_rule_compliant if {
	count(deny) == 0 with input as _with_rule({"state": "Disabled"})
}

test_audit_mode_compliant if {
	count(deny) == 0 with input as _with_rule({"mode": "AuditAndNotify"})
}
