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

# A custom policy applied to no app governs nothing.
test_custom_policy_applied_to_nothing_compliant if {
	custom := {"id": "p1", "policy_kind": "custom", "is_enabled": false}
	count(deny) == 0 with input as _with([{"op": "add", "path": "/apps/management_policies/-", "value": custom}])
}

# The payroll connector's app registration and a service principal no snapshot object names.
_custom(enabled, secrets, keys) := {
	"id": "4b3a2c1d-6e5f-4a7b-8c9d-0e1f2a3b4c5d", "policy_kind": "custom",
	"display_name": "Payroll exception", "is_enabled": enabled,
	"application_restrictions": {"password_credentials": secrets, "key_credentials": keys},
	"applies_to": [fixtures.payroll_application_id, "0f0f0f0f-0000-4000-8000-000000000001"],
}

_block := [{"restriction_type": "passwordAddition", "state": "enabled"}]

_cert(days) := [{"restriction_type": "asymmetricKeyLifetime", "max_lifetime_days": days, "state": "enabled"}]

_with_custom(p) := _with([{"op": "add", "path": "/apps/management_policies/-", "value": p}])

test_custom_policy_as_strict_as_the_default_compliant if {
	count(deny) == 0 with input as _with_custom(_custom(true, _block, _cert(365)))
}

test_custom_policy_with_a_short_secret_lifetime_compliant if {
	secrets := [{"restriction_type": "passwordLifetime", "max_lifetime_days": 90}]
	count(deny) == 0 with input as _with_custom(_custom(true, secrets, []))
}

test_custom_policy_allowing_secrets_violation if {
	findings := deny with input as _with_custom(_custom(true, [], []))
	count(findings) == 1
	some f in findings
	f.resource_id == "4b3a2c1d-6e5f-4a7b-8c9d-0e1f2a3b4c5d"
	f.resource_name == "Payroll exception"
	f.details.apps == ["0f0f0f0f-0000-4000-8000-000000000001", "Contoso Payroll Connector"]
	f.message == "Custom app management policy \"Payroll exception\" replaces the tenant default for 0f0f0f0f-0000-4000-8000-000000000001, Contoso Payroll Connector and does not limit client secrets: they may get new secrets valid for more than 365 days"
}

test_custom_policy_with_a_long_secret_lifetime_violation if {
	secrets := [{"restriction_type": "passwordLifetime", "max_lifetime_days": 730}]
	count(deny) == 1 with input as _with_custom(_custom(true, secrets, []))
}

test_custom_policy_with_a_disabled_block_violation if {
	secrets := [{"restriction_type": "passwordAddition", "state": "disabled"}]
	count(deny) == 1 with input as _with_custom(_custom(true, secrets, []))
}

test_disabled_custom_policy_violation if {
	findings := deny with input as _with_custom(_custom(false, _block, _cert(30)))
	count(findings) == 1
	some f in findings
	f.details.gaps == ["it is disabled, so they have no restriction"]
}

test_custom_policy_with_a_long_certificate_lifetime_violation if {
	findings := deny with input as _with_custom(_custom(true, _block, _cert(730)))
	count(findings) == 1
	some f in findings
	f.details.gaps == ["they may get certificates valid for up to 730 days"]
	contains(f.message, "does not limit certificates: ")
}

test_custom_certificate_lifetime_within_configured_threshold_compliant if {
	# The threshold is the configured one for certificates too.
	count(deny) == 0 with input as _with_custom(_custom(true, _block, _cert(730))) with data.m365guard.config.max_secret_lifetime_days as 730
}

test_default_long_certificate_lifetime_violation if {
	findings := deny with input as _with([{"op": "replace", "path": concat("", [_policy, "/application_restrictions/key_credentials"]), "value": _cert(1095)}])
	count(findings) == 1
	some f in findings
	f.message == "The tenant app management policy does not limit certificates: app registrations may get certificates valid for up to 1095 days"
}

test_default_certificate_lifetime_of_a_year_compliant if {
	count(deny) == 0 with input as _with([{"op": "replace", "path": concat("", [_policy, "/application_restrictions/key_credentials"]), "value": _cert(365)}])
}

test_default_long_certificate_lifetime_not_yet_enforced_compliant if {
	cert := [object.union(_cert(1095)[0], {"restrict_for_apps_created_after": "2027-01-01T00:00:00Z"})]
	count(deny) == 0 with input as _with([{"op": "replace", "path": concat("", [_policy, "/application_restrictions/key_credentials"]), "value": cert}])
}

test_default_secret_and_certificate_gaps_violation if {
	findings := deny with input as _with([
		{"op": "replace", "path": concat("", [_policy, "/service_principal_restrictions/password_credentials/0/max_lifetime_days"]), "value": 730},
		{"op": "replace", "path": concat("", [_policy, "/service_principal_restrictions/key_credentials"]), "value": _cert(800)},
	])
	some f in findings
	f.message == "The tenant app management policy does not limit client secrets or certificates: service principals may get new secrets valid for more than 365 days; service principals may get certificates valid for up to 800 days"
}

test_no_policy_in_snapshot_compliant if {
	count(deny) == 0 with input as _with([{"op": "replace", "path": "/apps/management_policies", "value": []}])
}

test_custom_policy_on_a_service_principal_named_violation if {
	p := object.union(_custom(true, [], []), {"applies_to": [fixtures.zoom_sp_id]})
	findings := deny with input as _with_custom(p)
	some f in findings
	f.details.apps == ["Zoom"]
}
