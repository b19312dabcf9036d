# A secret or certificate on a Microsoft first-party service principal or on the service
# principal of another organisation's multi-tenant app (where the tenant never needs one),
# or any credential that became valid within the review window. Graph keeps no creation
# time for credentials: `startDateTime` defaults to the moment it was added.
package m365guard.rules.service_principal_credential_added

import data.m365guard.lib
import data.m365guard.lib.review_window_days
import data.m365guard.lib.service_principals_by_id
import rego.v1

deny contains finding if {
	some c in input.apps.credentials
	reasons := _reasons(c)
	count(reasons) > 0
	finding := {
		"resource_type": "app_credential",
		"resource_id": c.id,
		"resource_name": sprintf("%s %s of %s", [c.credential_type, _name(c), c.owner_name]),
		"severity": _severity(c),
		"message": sprintf("%s %s (key id %s) on %s %s: %s", [
			_article(c), _name(c), c.key_id, _owner(c), c.owner_name, concat("; ", sort(reasons)),
		]),
		"details": {
			"owner_kind": c.owner_kind,
			"owner_id": c.owner_id,
			"app_id": c.app_id,
			"key_id": c.key_id,
			"credential_type": c.credential_type,
			"start_date_time": object.get(c, "start_date_time", null),
			"end_date_time": object.get(c, "end_date_time", null),
			"reasons": sort(reasons),
		},
	}
}

_sp(c) := service_principals_by_id[c.owner_id] if c.owner_kind == "service_principal"

_reasons(c) := {r | some kind in ["first_party", "foreign", "recent"]; r := _reason(kind, c)}

_reason("first_party", c) := "Microsoft runs this first-party app: a credential added to its service principal lets whoever holds it act as the app" if {
	lib.is_first_party_app(_sp(c))
}

_reason("foreign", c) := "the app is registered in another organisation: its service principal here never needs a credential" if {
	lib.is_foreign_app(_sp(c))
}

_reason("recent", c) := sprintf("valid from %s, within the %d days before collection", [c.start_date_time, review_window_days]) if {
	lib.within_review_window(object.get(c, "start_date_time", null))
}

_severity(c) := "critical" if lib.is_first_party_app(_sp(c))

_severity(c) := "high" if not lib.is_first_party_app(_sp(c))

_name(c) := sprintf("%q", [c.display_name]) if is_string(object.get(c, "display_name", null))

_name(c) := "(unnamed)" if not is_string(object.get(c, "display_name", null))

_article(c) := "Secret" if c.credential_type == "password"

_article(c) := "Certificate" if c.credential_type != "password"

_owner(c) := "service principal" if c.owner_kind == "service_principal"

_owner(c) := "app registration" if c.owner_kind != "service_principal"
