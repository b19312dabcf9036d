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

# `input.activity` (scan --with-activity): a phone without a created time, registered 13
# minutes after a risky sign-in, is flagged; without the section it is not.
_lena_activity := {
	"registered": {_lena_phone: {"time": "2025-12-31T02:27:10Z", "epoch": 1767148030}},
	"events": [
		{"user_id": fixtures.lena_id, "kind": "suspicious_sign_in", "time": "2025-12-31T02:14:09Z", "epoch": 1767147249, "ip": "185.220.101.47"},
		# A password reset a week earlier is too far to count.
		{"user_id": fixtures.lena_id, "kind": "password_reset", "time": "2025-12-24T02:14:09Z", "epoch": 1766542449},
	],
}

_lena_phone_only := _add(_method(fixtures.lena_id, "lena.fischer@contoso.com", "3179e48a-750b-4051-897c-87b9720928f7", "phone", {"phone_number": "+49 1701234567", "phone_type": "mobile"}))

test_method_near_suspicious_sign_in_violation if {
	doc := object.union(_lena_phone_only, {"activity": _lena_activity})
	some f in deny with input as doc
	f.resource_id == _lena_phone
	f.details.conditions == ["near_suspicious_activity"]
	f.severity == "high"
	contains(f.message, "registered 2025-12-31T02:27:10Z, within 6 hours of a suspicious sign-in at 2025-12-31T02:14:09Z from 185.220.101.47")
	not contains(f.message, "password reset")
}

test_method_near_password_reset_violation if {
	activity := {
		"registered": {_lena_phone: {"time": "2025-12-24T05:00:00Z", "epoch": 1766552400}},
		"events": _lena_activity.events,
	}
	doc := object.union(_lena_phone_only, {"activity": activity})
	some f in deny with input as doc
	f.resource_id == _lena_phone
	contains(f.message, "a password reset at 2025-12-24T02:14:09Z")
}

test_without_activity_the_same_method_is_compliant if {
	not _flags_lena_phone(_lena_phone_only)
}

test_activity_of_another_user_or_far_away_is_compliant if {
	far := {
		"registered": {_lena_phone: {"time": "2025-12-31T12:00:00Z", "epoch": 1767182400}},
		"events": _lena_activity.events,
	}
	not _flags_lena_phone(object.union(_lena_phone_only, {"activity": far}))
	other := {
		"registered": _lena_activity.registered,
		"events": [object.union(_lena_activity.events[0], {"user_id": fixtures.dana_id})],
	}
	not _flags_lena_phone(object.union(_lena_phone_only, {"activity": other}))
}

_flags_lena_phone(doc) if {
	some f in deny with input as doc
	f.resource_id == _lena_phone
}
