package m365guard.rules.app_mailbox_access_unrestricted

import data.m365guard.lib.fixtures
import rego.v1

_mail_send := {
	"id": "payroll-mail-send", "resource_id": fixtures.graph_sp_id,
	"resource_app_id": "00000003-0000-0000-c000-000000000000", "resource_name": "Microsoft Graph",
	"principal_id": fixtures.payroll_sp_id, "principal_type": "ServicePrincipal",
	"principal_name": "Contoso Payroll Connector", "app_role_id": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
	"permission": "Mail.Send",
}

_with_grant := json.patch(fixtures.base, [{"op": "add", "path": "/apps/app_role_assignments/-", "value": _mail_send}])

_app_assignment(extra) := object.union({
	"id": "Application Mail.ReadWrite-Payroll", "role": "Application Mail.ReadWrite",
	"assignee": fixtures.payroll_sp_id, "assignee_type": "ServicePrincipal", "enabled": true,
}, extra)

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_restricted_mail_permission_compliant if {
	count(deny) == 0 with input as _with_grant
}

test_mail_permission_without_policy_violation if {
	findings := deny with input as json.remove(_with_grant, ["application_access_policies"])
	count(findings) == 1
	some f in findings
	f.resource_type == "service_principal"
	f.resource_id == fixtures.payroll_sp_id
	f.severity == "high"
	f.message == "Contoso Payroll Connector can reach every mailbox: application permission Mail.Send with no application access policy restricting it"
	f.details.application_permissions == ["Mail.Send"]
}

test_deny_access_policy_is_not_a_restriction_violation if {
	input_ := json.patch(_with_grant, [{"op": "replace", "path": "/application_access_policies/0/access_right", "value": "DenyAccess"}])
	some f in deny with input as input_
	contains(f.message, "only a DenyAccess policy")
}

test_invalid_policy_is_not_a_restriction_violation if {
	input_ := json.patch(_with_grant, [{"op": "replace", "path": "/application_access_policies/0/is_valid", "value": false}])
	count(deny) == 1 with input as input_
}

test_unscoped_rbac_role_violation if {
	input_ := json.patch(fixtures.base, [{"op": "add", "path": "/exchange_role_assignments/-", "value": _app_assignment({})}])
	findings := deny with input as input_
	count(findings) == 1
	some f in findings
	f.message == "Contoso Payroll Connector can reach every mailbox: RBAC for Applications role Application Mail.ReadWrite without a resource scope (every mailbox)"
}

test_scoped_rbac_role_compliant if {
	input_ := json.patch(fixtures.base, [{"op": "add", "path": "/exchange_role_assignments/-", "value": _app_assignment({"custom_resource_scope": "Payroll mailboxes"})}])
	count(deny) == 0 with input as input_
}

test_rbac_role_named_by_app_id_violation if {
	input_ := json.patch(fixtures.base, [{"op": "add", "path": "/exchange_role_assignments/-", "value": _app_assignment({"assignee": "8E7D6C5B-4A3F-4E2D-9C1B-0A9F8E7D6C5B"})}])
	count(deny) == 1 with input as input_
}

test_disabled_rbac_assignment_compliant if {
	input_ := json.patch(fixtures.base, [{"op": "add", "path": "/exchange_role_assignments/-", "value": _app_assignment({"enabled": false})}])
	count(deny) == 0 with input as input_
}

test_scoped_rbac_does_not_restrict_the_entra_permission_violation if {
	input_ := json.patch(json.remove(_with_grant, ["application_access_policies"]), [{"op": "add", "path": "/exchange_role_assignments/-", "value": _app_assignment({"custom_resource_scope": "Payroll mailboxes"})}])
	some f in deny with input as input_
	f.details.scoped_rbac_roles == ["Application Mail.ReadWrite"]
}

test_disabled_service_principal_compliant if {
	input_ := json.patch(json.remove(_with_grant, ["application_access_policies"]), [{"op": "replace", "path": "/apps/service_principals/1/account_enabled", "value": false}])
	count(deny) == 0 with input as input_
}

test_microsoft_app_compliant if {
	grant := object.union(_mail_send, {"principal_id": fixtures.graph_sp_id})
	input_ := json.patch(fixtures.base, [{"op": "add", "path": "/apps/app_role_assignments/-", "value": grant}])
	count(deny) == 0 with input as input_
}

# The assignments are looked up by principal id (`m365guard.index_by`): each service
# principal is judged on its own assignments only, all of them, whatever their order.
test_permissions_are_collected_per_principal_violation if {
	read_write := object.union(_mail_send, {"id": "payroll-mail-rw", "permission": "Mail.ReadWrite"})
	other := object.union(_mail_send, {"id": "graph-mail-read", "principal_id": fixtures.graph_sp_id, "permission": "Mail.Read"})
	input_ := json.patch(json.remove(_with_grant, ["application_access_policies"]), [
		{"op": "add", "path": "/apps/app_role_assignments/0", "value": read_write},
		{"op": "add", "path": "/apps/app_role_assignments/-", "value": other},
	])
	findings := deny with input as input_
	count(findings) == 1
	some f in findings
	f.resource_id == fixtures.payroll_sp_id
	f.details.application_permissions == ["Mail.ReadWrite", "Mail.Send"]
}
