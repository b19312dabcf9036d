//! The error of a Graph or Exchange call ([`ApiError`]): it keeps the service's `code`,
//! `message`, `request-id` and the endpoint, and a 403 names the permission the call needs
//! ([`permission_for`], from [`crate::permission`]).

use serde_json::Value;

use crate::auth::AuthError;
use crate::http::{shown_link, Reply};

/// The error for a link that leaves the configured service.
pub(crate) fn foreign_link(endpoint: &str, link: &str, base: &str) -> ApiError {
    ApiError::ForeignLink {
        endpoint: endpoint.to_owned(),
        link: shown_link(link),
        base: base.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{endpoint}: HTTP 403 {code}: {message} (the app needs the {permission} application permission with admin consent; request-id {request_id})")]
    Forbidden {
        endpoint: String,
        permission: String,
        code: String,
        message: String,
        request_id: String,
    },
    #[error("{endpoint}: not licensed: {code}: {message}")]
    Licence {
        endpoint: String,
        code: String,
        message: String,
    },
    #[error("{endpoint}: HTTP {status} {code}: {message} (request-id {request_id})")]
    Status {
        endpoint: String,
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    #[error("{endpoint}: gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        endpoint: String,
        attempts: u32,
        last: String,
    },
    #[error("{endpoint}: invalid response: {message}")]
    BadResponse { endpoint: String, message: String },
    #[error("{endpoint}: @odata.nextLink repeats ({link}); refusing to loop")]
    RepeatingNextLink { endpoint: String, link: String },
    /// A link in an answer points away from the configured service: following it would
    /// hand the bearer token to another host.
    #[error("{endpoint}: the answer links to {link}, which is not on the configured service {base} (scheme, host and port must match); refusing to send the token there")]
    ForeignLink {
        endpoint: String,
        link: String,
        base: String,
    },
    /// The service answered with a redirect; the token is never sent after one.
    #[error("{endpoint}: HTTP {status} redirect to {location}; m365guard follows no redirect with its token (check the configured service URL)")]
    Redirect {
        endpoint: String,
        status: u16,
        location: String,
    },
    #[error("{endpoint}: more than {limit} pages in one collection; refusing to page on (raise M365GUARD_MAX_PAGES if the tenant really is this large)")]
    TooManyPages { endpoint: String, limit: usize },
    #[error("{endpoint}: {cmdlet}: HTTP 403 without a JSON body: the app has no Exchange role (assign Global Reader to its service principal; Exchange.ManageAsApp is also required)")]
    ExchangeNoRole { endpoint: String, cmdlet: String },
    #[error("{endpoint}: {cmdlet}: HTTP {status}: {message}")]
    Exchange {
        endpoint: String,
        cmdlet: String,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: {cmdlet}: output truncated by Exchange ({warnings}); refusing to report partial data")]
    ExchangeTruncated {
        endpoint: String,
        cmdlet: String,
        warnings: String,
    },
}

/// The application permission(s) a Graph read needs, for a 403 message: the least
/// privileged of each requirement of the endpoint's entry in
/// [`crate::permission::GRAPH_ENDPOINTS`] (`User.Read.All + AuditLog.Read.All`).
pub fn permission_for(path: &str) -> String {
    match crate::permission::graph_endpoint(path) {
        Some(endpoint) => crate::permission::least(endpoint.needs),
        None => "the documented read permission".to_owned(),
    }
}

fn is_licence_error(code: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        || code == "AadPremiumLicenseRequired"
        // Graph's code for "Tenant does not have proper license to manage …" (lifecycle
        // policies); app management policies need Workload ID Premium, whose refusal no
        // page documents, so a message naming a premium licence counts too.
        || code == "NoLicenseForOperation"
        || message.contains("not licensed")
        || message.contains("premium license")
        || message.contains("premium licence")
}

pub(crate) fn graph_error(endpoint: &str, reply: &Reply) -> ApiError {
    let v: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    let err = &v["error"];
    let code = err["code"].as_str().unwrap_or_default().to_owned();
    let message = err["message"].as_str().unwrap_or_default().to_owned();
    let request_id = err["innerError"]["request-id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| reply.request_id.clone());
    if matches!(reply.status, 400 | 403) && is_licence_error(&code, &message) {
        return ApiError::Licence {
            endpoint: endpoint.to_owned(),
            code,
            message,
        };
    }
    if reply.status == 403 {
        return ApiError::Forbidden {
            endpoint: endpoint.to_owned(),
            permission: permission_for(endpoint),
            code,
            message,
            request_id,
        };
    }
    ApiError::Status {
        endpoint: endpoint.to_owned(),
        status: reply.status,
        code,
        message,
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_naming_a_premium_licence_is_the_licence_gate() {
        let reply = |status: u16, code: &str, message: &str| Reply {
            status,
            request_id: "r".into(),
            body: serde_json::json!({"error": {"code": code, "message": message}}).to_string(),
        };
        let path = "/v1.0/policies/defaultAppManagementPolicy";
        let licence = [
            reply(403, "Authorization_RequestDenied", "Tenant does not have a Microsoft Entra Workload Identities Premium license, which app management policy operations require."),
            reply(403, "NoLicenseForOperation", "Tenant does not have proper license."),
            reply(400, "BadRequest", "Requires a premium licence."),
        ];
        for r in &licence {
            assert!(
                matches!(graph_error(path, r), ApiError::Licence { .. }),
                "{}",
                r.body
            );
        }
        let denied = reply(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
        assert!(matches!(
            graph_error(path, &denied),
            ApiError::Forbidden { .. }
        ));
    }

    #[test]
    fn permissions_per_endpoint() {
        assert_eq!(
            permission_for("/v1.0/identity/conditionalAccess/policies"),
            "Policy.Read.All"
        );
        assert_eq!(
            permission_for("/v1.0/reports/authenticationMethods/userRegistrationDetails"),
            "AuditLog.Read.All"
        );
        assert_eq!(
            permission_for("/v1.0/roleManagement/directory/roleAssignments?$expand=principal"),
            "RoleManagement.Read.Directory"
        );
        assert_eq!(
            permission_for("GET /v1.0/users?$select=id,signInActivity&$top=999"),
            "User.Read.All + AuditLog.Read.All"
        );
        assert_eq!(
            permission_for(
                "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$expand=principal"
            ),
            "RoleEligibilitySchedule.Read.Directory"
        );
        assert_eq!(
            permission_for("/v1.0/groups/g1/members?$select=id"),
            "GroupMember.Read.All"
        );
        assert_eq!(
            permission_for("/v1.0/unknown"),
            "the documented read permission"
        );
    }
}
