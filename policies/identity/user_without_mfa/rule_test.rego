package m365guard.rules.user_without_mfa

import data.m365guard.lib.fixtures
import rego.v1

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_not_registered_violation if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/2/mfa/is_mfa_registered", "value": false},
		{"op": "replace", "path": "/users/2/mfa/is_mfa_capable", "value": false},
		{"op": "replace", "path": "/users/2/mfa/methods", "value": []},
	])
	count(findings) == 1
	some f in findings
	f.resource_type == "user"
	f.resource_id == fixtures.lena_id
	f.resource_name == "lena.fischer@contoso.com"
	f.message == "User lena.fischer@contoso.com has no MFA method registered"
	f.details.in_registration_report == true
}

test_registered_flag_without_methods_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/2/mfa/methods", "value": []}])
}

test_methods_absent_violation if {
	count(deny) == 1 with input as json.patch(fixtures.base, [{"op": "remove", "path": "/users/2/mfa/methods"}])
}

test_missing_from_report_violation if {
	findings := deny with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/2/mfa", "value": null}])
	count(findings) == 1
	some f in findings
	f.message == "User lena.fischer@contoso.com is missing from the MFA registration report, so no MFA method is known for it"
	f.details.in_registration_report == false
}

test_guest_compliant if {
	# sam (index 4) is a guest with nothing registered in the base fixture.
	fixtures.base.users[4].user_type == "guest"
	fixtures.base.users[4].mfa.is_mfa_registered == false
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "replace", "path": "/users/4/mfa", "value": null}])
}

test_disabled_user_compliant if {
	count(deny) == 0 with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/2/account_enabled", "value": false},
		{"op": "replace", "path": "/users/2/mfa/is_mfa_registered", "value": false},
	])
}

test_disabled_user_missing_from_report_compliant if {
	# former employee (index 5) is disabled; Microsoft's report leaves disabled users out.
	count(deny) == 0 with input as json.patch(fixtures.base, [{"op": "remove", "path": "/users/5/mfa"}])
}

# A user failing two tests (flag false and no methods) is one finding, built once.
test_user_failing_two_tests_one_finding if {
	findings := deny with input as json.patch(fixtures.base, [
		{"op": "replace", "path": "/users/2/mfa/is_mfa_registered", "value": false},
		{"op": "replace", "path": "/users/2/mfa/methods", "value": []},
		{"op": "replace", "path": "/users/3/mfa", "value": null},
	])
	count(findings) == 2
	{f.details.in_registration_report | some f in findings} == {true, false}
}
