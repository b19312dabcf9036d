package m365guard.rules.app_credential_long_lived

import data.m365guard.lib.fixtures
import rego.v1

_secret(start, end) := {
	"id": "o/k9", "owner_kind": "application", "owner_id": "o", "app_id": "a",
	"owner_name": "HR Portal", "credential_type": "password", "key_id": "k9",
	"display_name": "prod", "start_date_time": start, "end_date_time": end,
}

_with(c) := json.patch(fixtures.base, [{"op": "add", "path": "/apps/credentials/-", "value": c}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_two_year_secret_violation if {
	findings := deny with input as _with(_secret("2025-06-01T00:00:00Z", "2027-06-01T00:00:00Z"))
	count(findings) == 1
	some f in findings
	f.resource_id == "o/k9"
	f.severity == "medium"
	contains(f.message, "is valid from 2025-06-01T00:00:00Z to 2027-06-01T00:00:00Z, more than a year")
}

test_one_year_secret_compliant if {
	count(deny) == 0 with input as _with(_secret("2025-06-01T00:00:00Z", "2026-06-01T00:00:00Z"))
}

test_expired_long_secret_compliant if {
	count(deny) == 0 with input as _with(_secret("2023-01-01T00:00:00Z", "2025-06-01T00:00:00Z"))
}

test_long_lived_certificate_compliant if {
	cert := object.union(_secret("2025-06-01T00:00:00Z", "2028-06-01T00:00:00Z"), {"credential_type": "certificate"})
	count(deny) == 0 with input as _with(cert)
}

# The native builtin this rule relies on (documented in policies/README.md): UTC, whole
# seconds, negative days count forward.
test_days_before_builtin if {
	m365guard.days_before("2026-01-01T06:00:00Z", 30) == "2025-12-02T06:00:00Z"
	m365guard.days_before("2026-01-01T06:00:00.750+02:00", 1) == "2025-12-31T04:00:00Z"
	m365guard.days_before("2025-01-01T00:00:00Z", -365) == "2026-01-01T00:00:00Z"
}
