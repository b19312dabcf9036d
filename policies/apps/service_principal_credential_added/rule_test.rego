package m365guard.rules.service_principal_credential_added

import data.m365guard.lib.fixtures
import rego.v1

_cred(owner_kind, owner_id, start) := {
	"id": concat("/", [owner_id, "k1"]), "owner_kind": owner_kind, "owner_id": owner_id,
	"app_id": "a", "owner_name": "Owner", "credential_type": "password", "key_id": "k1",
	"display_name": "sync", "start_date_time": start, "end_date_time": "2027-12-31T02:31:07Z",
}

_with(c) := json.patch(fixtures.base, [{"op": "add", "path": "/apps/credentials/-", "value": c}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_recent_secret_on_own_service_principal_violation if {
	findings := deny with input as _with(_cred("service_principal", fixtures.payroll_sp_id, "2025-12-31T02:31:07Z"))
	count(findings) == 1
	some f in findings
	f.resource_type == "app_credential"
	f.resource_id == concat("/", [fixtures.payroll_sp_id, "k1"])
	f.severity == "high"
	f.details.reasons == ["valid from 2025-12-31T02:31:07Z, within the 30 days before collection"]
	f.message == "Secret \"sync\" (key id k1) on service principal Owner: valid from 2025-12-31T02:31:07Z, within the 30 days before collection"
}

test_old_credential_on_own_app_compliant if {
	count(deny) == 0 with input as _with(_cred("application", fixtures.payroll_application_id, "2025-01-01T00:00:00Z"))
}

test_first_party_service_principal_violation if {
	findings := deny with input as _with(_cred("service_principal", fixtures.graph_sp_id, "2024-01-01T00:00:00Z"))
	some f in findings
	f.severity == "critical"
	count(f.details.reasons) == 1
	startswith(f.details.reasons[0], "Microsoft runs this first-party app")
}

test_multi_tenant_service_principal_violation if {
	findings := deny with input as _with(_cred("service_principal", fixtures.zoom_sp_id, "2024-01-01T00:00:00Z"))
	some f in findings
	f.severity == "high"
	startswith(f.details.reasons[0], "the app is registered in another organisation")
}

test_recent_certificate_on_app_registration_violation if {
	cert := object.union(_cred("application", fixtures.payroll_application_id, "2025-12-20T00:00:00Z"), {"credential_type": "certificate"})
	findings := deny with input as _with(object.remove(cert, ["display_name"]))
	some f in findings
	startswith(f.message, "Certificate (unnamed) (key id k1) on app registration Owner")
}
