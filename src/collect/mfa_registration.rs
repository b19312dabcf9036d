//! Source `mfa_registration`: the `userRegistrationDetails` report, attached to users.

use std::collections::HashMap;

use super::{b, s, strings, Ctx};
use crate::snapshot::model::{MfaRegistration, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = ctx
        .graph
        .get_all("/v1.0/reports/authenticationMethods/userRegistrationDetails")
        .map(|items| {
            let by_id: HashMap<String, MfaRegistration> = items
                .iter()
                .filter_map(|r| {
                    let reg = MfaRegistration {
                        is_mfa_registered: b(r, "isMfaRegistered").unwrap_or(false),
                        is_mfa_capable: b(r, "isMfaCapable").unwrap_or(false),
                        is_admin: b(r, "isAdmin").unwrap_or(false),
                        methods: strings(r.get("methodsRegistered")),
                        default_method: s(r, "userPreferredMethodForSecondaryAuthentication")
                            .filter(|m| m != "none"),
                    };
                    Some((s(r, "id")?, reg))
                })
                .collect();
            for user in &mut ctx.snapshot.users {
                user.mfa = by_id.get(&user.id).cloned();
            }
            by_id.len() as u64
        });
    ctx.record(SourceId::MfaRegistration, outcome);
}
