package m365guard.rules.exchange_role_group_unexpected

import data.m365guard.lib.fixtures
import rego.v1

_with(m) := json.patch(fixtures.base, [{"op": "add", "path": "/exchange_role_groups/-", "value": m}])

_lena := {
	"id": "Organization Management/lena fischer",
	"role_group": "Organization Management", "member": "Lena Fischer",
	"member_id": fixtures.lena_id, "member_address": "lena.fischer@contoso.com",
	"member_type": "UserMailbox",
}

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_no_role_groups_section_compliant if {
	count(deny) == 0 with input as json.remove(fixtures.base, ["exchange_role_groups"])
}

test_unlisted_member_violation if {
	findings := deny with input as _with(_lena)
	count(findings) == 1
	some f in findings
	f.resource_type == "exchange_role_group_member"
	f.resource_id == "Organization Management/lena fischer"
	f.severity == "critical"
	f.message == "lena.fischer@contoso.com is a member of the Exchange role group Organization Management: not listed in [roles] allowed_exchange_role_group_members"
}

test_listed_member_compliant if {
	count(deny) == 0 with input as _with(_lena) with data.m365guard.config.allowed_exchange_role_group_members as ["^lena\\.fischer@contoso\\.com$"]
}

test_listed_by_exchange_name_compliant if {
	count(deny) == 0 with input as _with(_lena) with data.m365guard.config.allowed_exchange_role_group_members as ["^lena fischer$"]
}

test_other_group_is_high_violation if {
	m := object.union(_lena, {"id": "Discovery Management/lena fischer", "role_group": "Discovery Management"})
	some f in deny with input as _with(m)
	f.severity == "high"
}

test_listed_guest_violation if {
	m := {
		"id": "Recipient Management/sam", "role_group": "Recipient Management", "member": "Sam Rivera",
		"member_id": fixtures.sam_id, "member_type": "GuestMailUser",
	}
	findings := deny with input as _with(m) with data.m365guard.config.allowed_exchange_role_group_members as [".*"]
	count(findings) == 1
	some f in findings
	f.message == "sam.rivera_fabrikam.com#EXT#@contoso.onmicrosoft.com is a member of the Exchange role group Recipient Management: the member is a guest account"
	f.details.allowed_by_config == true
}

test_listed_disabled_member_violation if {
	m := {
		"id": "Organization Management/former", "role_group": "Organization Management",
		"member": "Former Employee", "member_id": fixtures.former_id, "member_type": "User",
	}
	some f in deny with input as _with(m) with data.m365guard.config.allowed_exchange_role_group_members as [".*"]
	contains(f.message, "the member's account is disabled")
}

test_unknown_member_matched_by_address_violation if {
	m := {"id": "Hygiene Management/x", "role_group": "Hygiene Management", "member": "x", "member_address": "x@freemail.example"}
	some f in deny with input as _with(m)
	f.resource_name == "x@freemail.example in Hygiene Management"
}

test_linked_role_group_member_compliant if {
	m := {"id": "Organization Management/exchangeserviceadmins_-1", "role_group": "Organization Management", "member": "ExchangeServiceAdmins_-1", "member_type": "RoleGroup"}
	count(deny) == 0 with input as _with(m)
}
