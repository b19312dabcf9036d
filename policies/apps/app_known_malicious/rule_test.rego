package m365guard.rules.app_known_malicious

import data.m365guard.lib.fixtures
import rego.v1

_app(app_id) := {
	"id": "11112222-3333-4444-8555-666677778888", "app_id": app_id, "display_name": "PERFECTDATA SOFTWARE",
	"account_enabled": true, "app_owner_organization_id": "0b0b0b0b-1111-4222-8333-444455556666",
}

_with(sp) := json.patch(fixtures.base, [{"op": "add", "path": "/apps/service_principals/-", "value": sp}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_listed_app_violation if {
	findings := deny with input as _with(_app("FF8D92DC-3D82-41D6-BCBD-B9174D163620"))
	count(findings) == 1
	some f in findings
	f.resource_type == "service_principal"
	f.severity == "critical"
	f.details.listed_as == "PerfectData Software"
	f.details.source == "https://huntresslabs.github.io/rogueapps/"
	contains(f.message, "exports whole mailboxes")
}

test_configured_app_violation if {
	findings := deny with input as _with(_app("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"))
		with data.m365guard.config.known_malicious_app_ids as [" 5D4C3B2A-1F0E-4D9C-8B7A-6F5E4D3C2B1A "]
	some f in findings
	f.details.source == "m365guard.toml"
}

test_unlisted_app_compliant if {
	count(deny) == 0 with input as _with(_app("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"))
		with data.m365guard.config.known_malicious_app_ids as []
}

test_disabled_app_compliant if {
	count(deny) == 0 with input as _with(object.union(_app("ff8d92dc-3d82-41d6-bcbd-b9174d163620"), {"account_enabled": false}))
}
