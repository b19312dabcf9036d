package m365guard.rules.audit_logging_disabled

import data.m365guard.lib.fixtures
import rego.v1

_org(key, value) := json.patch(fixtures.base, [{"op": "replace", "path": sprintf("/audit_config/organization/0/%s", [key]), "value": value}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_unified_audit_log_off_violation if {
	findings := deny with input as _org("unified_audit_log_ingestion_enabled", false)
	count(findings) == 1
	some f in findings
	f.resource_type == "audit_config"
	f.resource_id == "organization"
	f.severity == "high"
	f.message == "Audit logging is switched off: unified audit log ingestion is off"
}

test_mailbox_auditing_off_violation if {
	findings := deny with input as _org("audit_disabled", true)
	count(findings) == 1
	some f in findings
	f.message == "Audit logging is switched off: mailbox auditing is off for the organisation (AuditDisabled)"
	f.details.audit_disabled == true
}

test_both_off_is_one_finding if {
	input_doc := json.patch(_org("audit_disabled", true), [{"op": "replace", "path": "/audit_config/organization/0/unified_audit_log_ingestion_enabled", "value": false}])
	findings := deny with input as input_doc
	count(findings) == 1
	some f in findings
	contains(f.message, "unified audit log ingestion is off; mailbox auditing is off")
}

test_bypass_violation if {
	input_doc := json.patch(fixtures.base, [{"op": "add", "path": "/audit_config/bypass_associations/-", "value": {"id": "lena.fischer", "name": "lena.fischer", "audit_bypass_enabled": true, "when_changed": "2025-12-30T18:21:09Z"}}])
	findings := deny with input as input_doc
	count(findings) == 1
	some f in findings
	f.resource_type == "audit_bypass"
	f.resource_id == "lena.fischer"
	f.severity == "high"
	f.details.when_changed == "2025-12-30T18:21:09Z"
	f.message == "Mailbox audit logging is bypassed for lena.fischer: nothing this account does in any mailbox is audited"
}

test_unknown_settings_compliant if {
	input_doc := json.patch(fixtures.base, [
		{"op": "remove", "path": "/audit_config/organization/0/unified_audit_log_ingestion_enabled"},
		{"op": "remove", "path": "/audit_config/organization/0/audit_disabled"},
	])
	count(deny) == 0 with input as input_doc
}
