# A successful sign-in through a legacy authentication protocol (IMAP, POP, SMTP AUTH, …).
package m365guard.investigation.signin_legacy_protocol

import data.m365guard.investigation.lib
import rego.v1

deny contains finding if {
	some s in lib.successful_sign_ins
	lib.is_legacy(s)
	finding := {
		"event_id": s.id,
		"message": sprintf("Successful sign-in at %s with the legacy client %s from %s: legacy protocols cannot do MFA", [
			s.time, s.client_app, lib.place(s),
		]),
		"details": {"client_app": s.client_app, "user_agent": object.get(s, "user_agent", null)},
	}
}
