package m365guard.rules.app_credential_policy_missing

import data.m365guard.lib.fixtures
import rego.v1

_policy := "/apps/management_policies/0"

_with(ops) := json.patch(fixtures.base, ops)

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_disabled_violation if {
	findings := deny with input as _with([{"op": "replace", "path": concat("", [_policy, "/is_enabled"]), "value": false}])
	count(findings) == 1
	some f in findings
	f.resource_type == "app_management_policy"
	f.resource_id == "00000000-0000-0000-0000-000000000000"
	f.severity == "medium"
	f.message == "The tenant app management policy does not limit client secrets: it is disabled"
}

test_enabled_unknown_violation if {
	count(deny) == 1 with input as _with([{"op": "remove", "path": concat("", [_policy, "/is_enabled"])}])
}

test_enabled_without_restrictions_violation if {
	findings := deny with input as _with([
		{"op": "replace", "path": concat("", [_policy, "/application_restrictions/password_credentials"]), "value": []},
		{"op": "remove", "path": concat("", [_policy, "/service_principal_restrictions"])},
	])
	some f in findings
	f.message == "The tenant app management policy does not limit client secrets: app registrations may get new secrets valid for more than 365 days; service principals may get new secrets valid for more than 365 days"
}

test_lifetime_over_a_year_violation if {
	findings := deny with input as _with([{"op": "replace", "path": concat("", [_policy, "/service_principal_restrictions/password_credentials/0/max_lifetime_days"]), "value": 730}])
	some f in findings
	f.details.gaps == ["service principals may get new secrets valid for more than 365 days"]
}

test_lifetime_of_a_year_compliant if {
	count(deny) == 0 with input as _with([{"op": "replace", "path": concat("", [_policy, "/service_principal_restrictions/password_credentials/0/max_lifetime_days"]), "value": 365}])
}

test_configured_threshold_violation if {
	count(deny) == 1 with input as fixtures.base with data.m365guard.config.max_secret_lifetime_days as 90
}

test_disabled_restriction_violation if {
	count(deny) == 1 with input as _with([{"op": "add", "path": concat("", [_policy, "/application_restrictions/password_credentials/0/state"]), "value": "disabled"}])
}

test_future_enforcement_date_violation if {
	count(deny) == 1 with input as _with([{"op": "replace", "path": concat("", [_policy, "/application_restrictions/password_credentials/0/restrict_for_apps_created_after"]), "value": "2027-01-01T00:00:00Z"}])
}

test_custom_policy_not_judged_compliant if {
	custom := {"id": "p1", "policy_kind": "custom", "is_enabled": false}
	count(deny) == 0 with input as _with([{"op": "add", "path": "/apps/management_policies/-", "value": custom}])
}

test_no_policy_in_snapshot_compliant if {
	count(deny) == 0 with input as _with([{"op": "replace", "path": "/apps/management_policies", "value": []}])
}
