package m365guard.rules.auth_method_suspicious

import data.m365guard.lib.fixtures
import rego.v1

_raj_phone := concat("/", [fixtures.raj_id, "3179e48a-750b-4051-897c-87b9720928f7"])

_lena_phone := concat("/", [fixtures.lena_id, "3179e48a-750b-4051-897c-87b9720928f7"])

_add(method) := json.patch(fixtures.base, [{"op": "add", "path": "/auth_methods/-", "value": method}])

_method(user_id, upn, method_id, type, extra) := object.union(
	{
		"id": concat("/", [user_id, method_id]), "user_id": user_id, "user_principal_name": upn,
		"method_id": method_id, "method_type": type, "created_date_time": null,
	},
	extra,
)

_recent := _add(_method(fixtures.dana_id, "dana.whitfield@contoso.com", "e0e0e0e0-0000-4000-8000-000000000001", "microsoft_authenticator", {"created_date_time": "2025-12-31T02:19:33Z", "display_name": "SM-A546B"}))

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_method_registered_in_window_violation if {
	findings := deny with input as _recent
	count(findings) == 1
	some f in findings
	f.resource_type == "auth_method"
	f.severity == "high"
	f.details.conditions == ["registered_in_window"]
	f.message == "Authentication method microsoft_authenticator \"SM-A546B\" of dana.whitfield@contoso.com: registered 2025-12-31T02:19:33Z, within the 30-day review window"
}

test_method_before_window_compliant if {
	doc := _add(_method(fixtures.dana_id, "dana.whitfield@contoso.com", "e0e0e0e0-0000-4000-8000-000000000001", "fido2", {"created_date_time": "2025-12-02T05:59:59Z"}))
	count(deny) == 0 with input as doc
}

test_window_comes_from_config if {
	doc := _add(_method(fixtures.dana_id, "dana.whitfield@contoso.com", "e0e0e0e0-0000-4000-8000-000000000001", "fido2", {"created_date_time": "2025-12-02T05:59:59Z"}))
	count(deny) == 1 with input as doc with data.m365guard.config.review_window_days as 60
	count(deny) == 0 with input as _recent with data.m365guard.config.review_window_days as 1
}

test_recent_method_of_risky_user_is_critical_violation if {
	doc := json.patch(_recent, [{"op": "add", "path": "/risky_users/-", "value": {
		"id": fixtures.dana_id, "user_principal_name": "dana.whitfield@contoso.com",
		"risk_level": "high", "risk_state": "atRisk",
	}}])
	some f in deny with input as doc
	f.severity == "critical"
	f.details.user_at_risk == true
	contains(f.message, "on a user Identity Protection holds at risk")
}

test_remediated_risk_stays_high if {
	doc := json.patch(_recent, [{"op": "add", "path": "/risky_users/-", "value": {
		"id": fixtures.dana_id, "user_principal_name": "dana.whitfield@contoso.com",
		"risk_level": "high", "risk_state": "remediated",
	}}])
	some f in deny with input as doc
	f.severity == "high"
}

test_same_phone_on_two_users_violation if {
	doc := _add(_method(fixtures.lena_id, "lena.fischer@contoso.com", "3179e48a-750b-4051-897c-87b9720928f7", "phone", {"phone_number": "+49 151 1234567", "phone_type": "mobile"}))
	findings := deny with input as doc
	count(findings) == 2
	ids := {f.resource_id | some f in findings}
	ids == {_raj_phone, _lena_phone}
	some f in findings
	f.resource_id == _lena_phone
	f.severity == "high"
	f.details.phone_number_masked == "+49••••••67"
	not contains(f.message, "1234567")
	contains(f.message, "the same number is registered on 2 users (lena.fischer@contoso.com, raj.patel@contoso.com)")
}

test_distinct_phones_compliant if {
	doc := _add(_method(fixtures.lena_id, "lena.fischer@contoso.com", "3179e48a-750b-4051-897c-87b9720928f7", "phone", {"phone_number": "+31 612345678"}))
	count(deny) == 0 with input as doc
}

test_privileged_user_with_only_sms_violation if {
	doc := json.patch(fixtures.base, [{"op": "remove", "path": "/auth_methods/3"}])
	findings := deny with input as doc
	count(findings) == 1
	some f in findings
	f.resource_id == _raj_phone
	f.severity == "medium"
	f.details.conditions == ["sms_only"]
}

test_non_privileged_user_with_only_sms_compliant if {
	doc := _add(_method(fixtures.lena_id, "lena.fischer@contoso.com", "3179e48a-750b-4051-897c-87b9720928f7", "phone", {"phone_number": "+31 612345678"}))
	count(deny) == 0 with input as doc
}

test_phone_plus_email_only_is_sms_only_violation if {
	doc := json.patch(fixtures.base, [
		{"op": "remove", "path": "/auth_methods/3"},
		{"op": "add", "path": "/auth_methods/-", "value": _method(fixtures.raj_id, "raj.patel@contoso.com", "e1", "email", {"email_address": "raj@example.org"})},
	])
	some f in deny with input as doc
	f.resource_id == _raj_phone
}
