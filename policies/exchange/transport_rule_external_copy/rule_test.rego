package m365guard.rules.transport_rule_external_copy

import data.m365guard.lib.fixtures
import rego.v1

_with_rule(changes) := json.patch(fixtures.base, [{"op": "add", "path": "/transport_rules/-", "value": object.union(
	{"id": "r-invoices", "name": "Invoice archive", "state": "Enabled", "mode": "Enforce", "subject_contains_words": ["invoice"]},
	changes,
)}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_bcc_to_free_mail_violation if {
	findings := deny with input as _with_rule({"blind_copy_to": ["ap.archive@gmail.com"]})
	count(findings) == 1
	some f in findings
	f.resource_type == "transport_rule"
	f.resource_id == "r-invoices"
	f.severity == "high"
	f.message == "Transport rule \"Invoice archive\" sends a blind copy (Bcc) of mail (whose subject contains \"invoice\") to ap.archive@gmail.com (outside the organisation)"
	f.details.external_recipients == {"blind_copy_to": ["ap.archive@gmail.com"]}
}

test_redirect_violation if {
	some f in deny with input as _with_rule({"redirect_message_to": ["x@evil.example"], "subject_contains_words": []})
	f.severity == "high"
	contains(f.message, "redirects every message to x@evil.example")
}

test_add_to_recipients_violation_is_medium if {
	some f in deny with input as _with_rule({"add_to_recipients": ["x@evil.example"]})
	f.severity == "medium"
	contains(f.message, "adds a To recipient to")
}

test_copy_to_violation_is_medium if {
	some f in deny with input as _with_rule({"copy_to": ["x@evil.example"]})
	f.severity == "medium"
	contains(f.message, "adds a Cc recipient to")
}

test_named_mail_contact_resolved_violation if {
	some f in deny with input as _with_rule({"blind_copy_to": ["AP Archive"]})
	f.details.external_recipients.blind_copy_to == ["ap.archive@securemail-box.example"]
	contains(f.message, "through mail contact \"AP Archive\"")
}

test_named_internal_group_compliant if {
	count(deny) == 0 with input as _with_rule({"blind_copy_to": ["All Staff"]})
}

test_internal_and_subdomain_copy_compliant if {
	count(deny) == 0 with input as _with_rule({"blind_copy_to": ["audit@contoso.com", "archive@EU.contoso.com"]})
}

test_allowed_partner_compliant if {
	count(deny) == 0 with input as _with_rule({"copy_to": ["ap@fabrikam.example"]})
		with data.m365guard.config.allowed_forwarding_domains as ["fabrikam.example"]
}

test_disabled_rule_compliant if {
	count(deny) == 0 with input as _with_rule({"blind_copy_to": ["x@evil.example"], "state": "Disabled"})
}

test_audit_mode_compliant if {
	count(deny) == 0 with input as _with_rule({"blind_copy_to": ["x@evil.example"], "mode": "Audit"})
}

test_unknown_state_still_flagged_violation if {
	input_doc := json.patch(_with_rule({"blind_copy_to": ["x@evil.example"]}), [
		{"op": "remove", "path": "/transport_rules/1/state"},
		{"op": "remove", "path": "/transport_rules/1/mode"},
	])
	count(deny) == 1 with input as input_doc
}
