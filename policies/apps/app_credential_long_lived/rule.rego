# A client secret valid for more than a year that has not expired yet. Microsoft
# recommends certificates (or federated credentials) over secrets, and secrets of at most
# 12 months (the portal's longest recommended choice is 12 months).
package m365guard.rules.app_credential_long_lived

import rego.v1

deny contains finding if {
	some c in input.apps.credentials
	c.credential_type == "password"
	start := c.start_date_time
	end := c.end_date_time
	is_string(start)
	is_string(end)
	end > input.collection.collected_at
	end > m365guard.days_before(start, -365)
	finding := {
		"resource_type": "app_credential",
		"resource_id": c.id,
		"resource_name": sprintf("password %s of %s", [_name(c), c.owner_name]),
		"severity": "medium",
		"message": sprintf("Secret %s (key id %s) of %s is valid from %s to %s, more than a year; prefer a certificate or a federated credential, or a secret of at most 12 months", [
			_name(c), c.key_id, c.owner_name, start, end,
		]),
		"details": {
			"owner_kind": c.owner_kind,
			"owner_id": c.owner_id,
			"app_id": c.app_id,
			"key_id": c.key_id,
			"start_date_time": start,
			"end_date_time": end,
		},
	}
}

_name(c) := sprintf("%q", [c.display_name]) if is_string(object.get(c, "display_name", null))

_name(c) := "(unnamed)" if not is_string(object.get(c, "display_name", null))
