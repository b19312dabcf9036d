package m365guard.rules.exchange_role_assignment_unexpected

import data.m365guard.lib.fixtures
import rego.v1

_with(a) := json.patch(fixtures.base, [{"op": "add", "path": "/exchange_role_assignments/-", "value": a}])

_impersonation := {
	"id": "ApplicationImpersonation-Lena Fischer", "role": "ApplicationImpersonation",
	"assignee": "Lena Fischer", "assignee_type": "User", "enabled": true,
	"recipient_write_scope": "Organization", "when_created": "2025-12-31T02:29:14Z",
}

_app_mail := {
	"id": "Application Mail.ReadWrite-Payroll", "role": "Application Mail.ReadWrite",
	"assignee": fixtures.payroll_sp_id, "assignee_type": "ServicePrincipal", "enabled": true,
}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_no_section_compliant if {
	count(deny) == 0 with input as json.remove(fixtures.base, ["exchange_role_assignments"])
}

test_impersonation_to_a_user_violation if {
	findings := deny with input as _with(_impersonation)
	count(findings) == 1
	some f in findings
	f.resource_type == "exchange_role_assignment"
	f.resource_id == "ApplicationImpersonation-Lena Fischer"
	f.resource_name == "ApplicationImpersonation to lena.fischer@contoso.com"
	f.severity == "high"
	f.message == "the Exchange role ApplicationImpersonation is assigned directly to the user lena.fischer@contoso.com (opens every mailbox in its scope through EWS as its owner; organisation-wide): held directly by anyone, this role copies whole mailboxes; not listed in [roles] allowed_exchange_role_group_members"
	f.details.scope == {"recipient_write_scope": "Organization"}
}

test_impersonation_stays_flagged_when_listed_violation if {
	findings := deny with input as _with(_impersonation) with data.m365guard.config.allowed_exchange_role_group_members as ["^lena\\.fischer@contoso\\.com$"]
	some f in findings
	f.details.allowed_by_config == true
	f.message == "the Exchange role ApplicationImpersonation is assigned directly to the user lena.fischer@contoso.com (opens every mailbox in its scope through EWS as its owner; organisation-wide): held directly by anyone, this role copies whole mailboxes"
}

test_listed_mailbox_search_compliant if {
	a := object.union(_impersonation, {"id": "Mailbox Search-Lena", "role": "Mailbox Search"})
	count(deny) == 0 with input as _with(a) with data.m365guard.config.allowed_exchange_role_group_members as ["^lena fischer$"]
}

test_role_management_is_critical_violation if {
	a := object.union(_impersonation, {"id": "Role Management-Lena", "role": "Role Management"})
	some f in deny with input as _with(a)
	f.severity == "critical"
}

test_service_principal_named_by_object_id_violation if {
	findings := deny with input as _with(_app_mail)
	count(findings) == 1
	some f in findings
	f.resource_name == "Application Mail.ReadWrite to Contoso Payroll Connector"
	f.severity == "high"
	contains(f.message, "the service principal Contoso Payroll Connector")
	contains(f.message, "organisation-wide")
}

test_service_principal_listed_by_app_id_compliant if {
	count(deny) == 0 with input as _with(_app_mail) with data.m365guard.config.allowed_exchange_role_group_members as ["^8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b$"]
}

test_scoped_assignment_says_so_violation if {
	a := object.union(_app_mail, {"custom_resource_scope": "Payroll mailboxes"})
	some f in deny with input as _with(a)
	contains(f.message, "; scoped)")
	f.details.scope == {"custom_resource_scope": "Payroll mailboxes"}
}

test_listed_guest_violation if {
	a := {
		"id": "Mailbox Search-Sam", "role": "Mailbox Search", "assignee": "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com",
		"assignee_type": "User", "enabled": true,
	}
	findings := deny with input as _with(a) with data.m365guard.config.allowed_exchange_role_group_members as [".*"]
	count(findings) == 1
	some f in findings
	contains(f.message, "the assignee is a guest account")
}

test_disabled_assignment_compliant if {
	count(deny) == 0 with input as _with(object.union(_impersonation, {"enabled": false}))
}

test_unlisted_role_compliant if {
	a := object.union(_impersonation, {"id": "View-Only Recipients-Lena", "role": "View-Only Recipients"})
	count(deny) == 0 with input as _with(a)
}
