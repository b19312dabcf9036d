package m365guard.rules.federation_untrusted_issuer

import data.m365guard.lib.fixtures
import rego.v1

_federated(mfa) := json.patch(fixtures.base, [{"op": "replace", "path": "/domains/2", "value": {
	"id": "eu.contoso.com", "is_verified": true, "authentication_type": "Federated",
	"federation": {
		"issuer_uri": "http://sts.attacker.example/adfs/services/trust",
		"passive_sign_in_uri": "https://sts.attacker.example/adfs/ls",
		"federated_idp_mfa_behavior": mfa,
		"signing_certificate_sha256": "AB12",
	},
}}])

test_base_compliant if {
	count(deny) == 0 with input as fixtures.base
}

test_unlisted_issuer_violation if {
	findings := deny with input as _federated("rejectMfaByFederatedIdp")
	count(findings) == 1
	some f in findings
	f.resource_type == "domain"
	f.resource_id == "eu.contoso.com"
	f.severity == "high"
	f.message == "Domain eu.contoso.com is federated to issuer http://sts.attacker.example/adfs/services/trust, which is not in [identity] federation_issuers"
}

test_accepting_idp_mfa_is_critical_violation if {
	some f in deny with input as _federated("acceptIfMfaDoneByFederatedIdp")
	f.severity == "critical"
	contains(f.message, "acceptIfMfaDoneByFederatedIdp")
}

test_listed_issuer_compliant if {
	count(deny) == 0 with input as _federated("acceptIfMfaDoneByFederatedIdp")
		with data.m365guard.config.federation_issuers as ["HTTP://sts.attacker.example/adfs/services/trust/"]
}

test_other_listed_issuer_violation if {
	count(deny) == 1 with input as _federated("enforceMfaByFederatedIdp")
		with data.m365guard.config.federation_issuers as ["http://sts.contoso.com/adfs/services/trust"]
}

test_federated_without_configuration_violation if {
	doc := json.patch(fixtures.base, [{"op": "replace", "path": "/domains/2/authentication_type", "value": "Federated"}])
	some f in deny with input as doc
	contains(f.message, "(unknown: no federation configuration was returned)")
}

test_managed_domain_with_stale_federation_compliant if {
	doc := json.patch(_federated(null), [{"op": "replace", "path": "/domains/2/authentication_type", "value": "Managed"}])
	count(deny) == 0 with input as doc
}
