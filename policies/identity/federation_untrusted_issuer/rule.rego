# Federated domains whose identity provider the operator has not listed as trusted
# (m365guard.toml `[identity] federation_issuers`): whoever controls that issuer can sign
# in as any user of the domain. Critical when the domain also accepts the IdP's MFA claim
# (`acceptIfMfaDoneByFederatedIdp`), because then the IdP satisfies Entra's MFA too.
package m365guard.rules.federation_untrusted_issuer

import data.m365guard.lib
import rego.v1

deny contains finding if {
	some d in input.domains
	lower(object.get(d, "authentication_type", "")) == "federated"
	fed := _federation(d)
	issuer := _issuer(fed)
	not lib.federation_issuers[lib.normalise_issuer(issuer)]
	mfa := _mfa_behavior(fed)
	finding := {
		"resource_type": "domain",
		"resource_id": d.id,
		"resource_name": d.id,
		"severity": _severity(mfa),
		"message": sprintf("Domain %s is federated to issuer %s, which is not in [identity] federation_issuers%s", [d.id, issuer, _mfa_note(mfa)]),
		"details": {
			"issuer_uri": issuer,
			"passive_sign_in_uri": object.get(fed, "passive_sign_in_uri", null),
			"federated_idp_mfa_behavior": mfa,
			"preferred_authentication_protocol": object.get(fed, "preferred_authentication_protocol", null),
			"signing_certificate_sha256": object.get(fed, "signing_certificate_sha256", null),
			"signing_certificate_not_after": object.get(fed, "signing_certificate_not_after", null),
			"trusted_issuers": sort(lib.federation_issuers),
		},
	}
}

_federation(d) := f if {
	f := object.get(d, "federation", null)
	is_object(f)
} else := {}

_issuer(fed) := i if {
	i := object.get(fed, "issuer_uri", null)
	is_string(i)
} else := "(unknown: no federation configuration was returned)"

_mfa_behavior(fed) := m if {
	m := object.get(fed, "federated_idp_mfa_behavior", null)
	is_string(m)
} else := null

_severity(mfa) := "critical" if mfa == "acceptIfMfaDoneByFederatedIdp"

_severity(mfa) := "high" if mfa != "acceptIfMfaDoneByFederatedIdp"

_mfa_note(mfa) := "; it also accepts the IdP's MFA claim (acceptIfMfaDoneByFederatedIdp), so the IdP satisfies MFA for Entra" if mfa == "acceptIfMfaDoneByFederatedIdp"

_mfa_note(mfa) := "" if mfa != "acceptIfMfaDoneByFederatedIdp"
