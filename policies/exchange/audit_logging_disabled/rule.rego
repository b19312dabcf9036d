# The audit trail an investigation needs, and that an attacker turns off: unified audit log
# ingestion (Get-AdminAuditLogConfig), mailbox auditing for the organisation
# (Get-OrganizationConfig AuditDisabled), and accounts whose mailbox actions are never
# audited (Get-MailboxAuditBypassAssociation AuditBypassEnabled). A setting Exchange did not
# report (null) is unknown and not flagged.
package m365guard.rules.audit_logging_disabled

import rego.v1

_off(c) := [what |
	some [key, bad, what] in [
		["unified_audit_log_ingestion_enabled", false, "unified audit log ingestion is off"],
		["audit_disabled", true, "mailbox auditing is off for the organisation (AuditDisabled)"],
	]
	object.get(c, key, null) == bad
]

deny contains finding if {
	some c in input.audit_config.organization
	off := _off(c)
	count(off) > 0
	finding := {
		"resource_type": "audit_config",
		"resource_id": c.id,
		"resource_name": "organisation audit settings",
		"severity": "high",
		"message": sprintf("Audit logging is switched off: %s", [concat("; ", off)]),
		"details": {
			"unified_audit_log_ingestion_enabled": object.get(c, "unified_audit_log_ingestion_enabled", null),
			"audit_disabled": object.get(c, "audit_disabled", null),
		},
	}
}

deny contains finding if {
	some a in input.audit_config.bypass_associations
	a.audit_bypass_enabled == true
	finding := {
		"resource_type": "audit_bypass",
		"resource_id": a.id,
		"resource_name": object.get(a, "name", a.id),
		"severity": "high",
		"message": sprintf("Mailbox audit logging is bypassed for %s: nothing this account does in any mailbox is audited", [a.id]),
		"details": {"when_changed": object.get(a, "when_changed", null)},
	}
}
