//! The Entra ID v2.0 token endpoint (client credentials): client secret, certificate client
//! assertion (RS256/PS256, `x5t`/`x5t#S256`), and workload identity federation. Issues
//! JWT-shaped access tokens whose claims a client may decode (`roles`, `wids`, `aud`), but
//! the emulator itself only trusts its server-side map from token string to grant.

use serde_json::{json, Value};

use crate::config::FicErrorStyle;
use crate::crypto::Jwt;
use crate::http::{Request, Response};
use crate::respond::{aadsts, json_body, Ctx};
use crate::server::{lock, Audience, IssuedToken, Shared};
use crate::util::{b64url, dotnet_utc, now_epoch, parse_form};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const GRAPH: &str = "https://graph.microsoft.com";
const EXCHANGE: &str = "https://outlook.office365.com";

pub fn token_endpoint(shared: &Shared, tenant_segment: &str, req: &Request, ctx: &Ctx) -> Response {
    if let Some(r) = crate::device_code::intercept(shared, tenant_segment, req, ctx) {
        return r;
    }
    let mut settings = shared.settings();
    let (tenant_id, tenant_name, domains) = {
        let st = lock(&shared.state);
        (
            st.tenant_id.clone(),
            st.display_name.clone(),
            st.domains
                .iter()
                .filter(|d| d.is_verified)
                .map(|d| d.name.clone())
                .collect::<Vec<_>>(),
        )
    };
    if !tenant_segment.eq_ignore_ascii_case(&tenant_id)
        && !domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(tenant_segment))
    {
        return aadsts(400, "invalid_request", 90002, &format!("Tenant '{tenant_segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."), false, ctx);
    }
    let is_form = req.header("content-type").is_some_and(|c| {
        c.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    let form = if is_form {
        parse_form(&String::from_utf8_lossy(&req.body))
    } else {
        vec![]
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let missing = |p: &str| {
        aadsts(
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{p}'."),
            false,
            ctx,
        )
    };
    let Some(grant_type) = get("grant_type") else {
        return missing("grant_type");
    };
    if grant_type != "client_credentials" {
        return aadsts(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
            false,
            ctx,
        );
    }
    let Some(client_id) = get("client_id") else {
        return missing("client_id");
    };
    // An app registered through Graph (`setup_endpoints`) signs in with what it was granted.
    if let Some((app, grants)) = crate::setup_endpoints::created_app(shared, client_id) {
        settings.app = app;
        settings.grants = grants;
    }
    let app = &settings.app;
    if client_id != app.client_id {
        return aadsts(400, "unauthorized_client", 700016, &format!("Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."), false, ctx);
    }
    let Some(scope) = get("scope") else {
        return missing("scope");
    };
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.len() != 1 || !scopes[0].ends_with("/.default") {
        let bad = scopes.iter().find(|s| !s.ends_with("/.default")).copied();
        return match bad {
            Some(b) => aadsts(400, "invalid_scope", 1002012, &format!("The provided value for scope {b} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."), false, ctx),
            None => aadsts(400, "invalid_scope", 70011, &format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. .default scope can't be combined with resource-specific scopes."), false, ctx),
        };
    }
    let resource = scopes[0]
        .trim_end_matches("/.default")
        .trim_end_matches('/');
    let audience = match resource {
        GRAPH | "00000003-0000-0000-c000-000000000000" => Audience::Graph,
        EXCHANGE | "00000002-0000-0ff1-ce00-000000000000" => Audience::Exchange,
        _ => {
            return aadsts(400, "invalid_resource", 500011, &format!("The resource principal named {resource} was not found in the tenant named {tenant_name}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."), false, ctx)
        }
    };

    // Credential.
    let appidacr;
    if let Some(secret) = get("client_secret") {
        if app.client_secret.as_deref() != Some(secret) {
            return aadsts(401, "invalid_client", 7000215, &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", app.client_id), false, ctx);
        }
        if app.secret_expired {
            return aadsts(401, "invalid_client", 7000222, &format!("The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", app.client_id), false, ctx);
        }
        appidacr = "1";
    } else if let Some(assertion) = get("client_assertion") {
        if get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return aadsts(400, "invalid_request", 50027, "JWT token is invalid or malformed. The client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.", false, ctx);
        }
        let Some(jwt) = Jwt::decode(assertion) else {
            return aadsts(
                400,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
                false,
                ctx,
            );
        };
        let self_signed = jwt.claim_str("iss") == Some(app.client_id.as_str());
        let result = if self_signed {
            check_certificate_assertion(shared, &jwt, &tenant_id, &domains, ctx)
        } else {
            check_federated_assertion(&settings, &jwt, ctx)
        };
        if let Err(r) = result {
            return r;
        }
        appidacr = "2";
    } else {
        return aadsts(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", false, ctx);
    }

    // Issue.
    let now = now_epoch();
    let lifetime = settings.options.token_lifetime_secs;
    let grants = &settings.grants;
    let roles: Vec<String> = match audience {
        Audience::Graph => grants.graph.clone(),
        Audience::Exchange => {
            if grants.exchange_manage_as_app {
                vec!["Exchange.ManageAsApp".into()]
            } else {
                vec![]
            }
        }
    };
    let mut wids = grants.directory_roles.clone();
    wids.push(crate::state::role_ids::DEFAULT_APP_PERMISSIONS.into());
    let aud = match audience {
        Audience::Graph => GRAPH,
        Audience::Exchange => EXCHANGE,
    };
    let mut claims = json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{tenant_id}/"),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": appidacr,
        "idp": format!("https://sts.windows.net/{tenant_id}/"),
        "idtyp": "app",
        "oid": app.service_principal_id,
        "sub": app.service_principal_id,
        "tid": tenant_id,
        "uti": shared.random_hex(11),
        "ver": "1.0",
        "wids": wids,
    });
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    let header = json!({"typ": "JWT", "alg": "RS256", "x5t": "EmulatorX5t", "kid": "EmulatorX5t"});
    let token = format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        shared.random_hex(32)
    );
    lock(&shared.tokens).insert(
        token.clone(),
        IssuedToken {
            audience,
            expires_at: now + lifetime,
            roles,
            wids,
        },
    );
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    let mut r = Response::new(200)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Cache-Control", "no-store, no-cache")
        .header("x-ms-request-id", &ctx.request_id);
    r.body = json_body(&body);
    r
}

fn time_window(jwt: &Jwt, skew: u64, ctx: &Ctx) -> Result<(), Response> {
    let now = now_epoch();
    let (Some(nbf), Some(exp)) = (jwt.claim_u64("nbf"), jwt.claim_u64("exp")) else {
        return Err(aadsts(
            400,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed. The assertion must contain nbf and exp claims.",
            false,
            ctx,
        ));
    };
    if now + skew < nbf || now > exp + skew {
        return Err(aadsts(401, "invalid_client", 700024, &format!("Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .", dotnet_utc(now), dotnet_utc(nbf), dotnet_utc(exp)), false, ctx));
    }
    Ok(())
}

fn check_certificate_assertion(
    shared: &Shared,
    jwt: &Jwt,
    tenant_id: &str,
    domains: &[String],
    ctx: &Ctx,
) -> Result<(), Response> {
    let settings = shared.settings();
    let app = &settings.app;
    let thumb_s256 = jwt.header.get("x5t#S256").and_then(Value::as_str);
    let thumb_sha1 = jwt.header.get("x5t").and_then(Value::as_str);
    let presented = thumb_s256.or(thumb_sha1).unwrap_or("");
    let cert = app.certificate.as_ref().filter(|c| {
        thumb_s256 == Some(c.x5t_sha256().as_str()) || thumb_sha1 == Some(c.x5t_sha1().as_str())
    });
    let Some(cert) = cert else {
        return Err(aadsts(401, "invalid_client", 700027, &format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{presented}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{}'].", app.client_id, app.client_id), false, ctx));
    };
    if !matches!(jwt.alg(), "RS256" | "PS256") || !jwt.verify_rsa(&cert.rsa_public_key) {
        return Err(aadsts(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
            false,
            ctx,
        ));
    }
    if jwt.claim_str("sub") != Some(app.client_id.as_str()) {
        return Err(aadsts(
            401,
            "invalid_client",
            700023,
            "Client assertion contains an invalid subject: the sub claim must equal the client id.",
            false,
            ctx,
        ));
    }
    let aud = jwt.claim_str("aud").unwrap_or("");
    let hosts = [
        "https://login.microsoftonline.com",
        shared.base_url.as_str(),
    ];
    let tenants: Vec<&str> = std::iter::once(tenant_id)
        .chain(domains.iter().map(String::as_str))
        .collect();
    let aud_ok = hosts.iter().any(|h| {
        tenants.iter().any(|t| {
            aud.eq_ignore_ascii_case(&format!("{h}/{t}/oauth2/v2.0/token"))
                || aud.eq_ignore_ascii_case(&format!("{h}/{t}/oauth2/token"))
        })
    });
    if !aud_ok {
        return Err(aadsts(401, "invalid_client", 700016, &format!("Client assertion audience claim does not match Realm issuer. Presented audience: '{aud}'."), false, ctx));
    }
    time_window(jwt, settings.options.assertion_clock_skew_secs, ctx)?;
    let Some(jti) = jwt.claim_str("jti") else {
        return Err(aadsts(
            400,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed. The assertion must contain a jti claim.",
            false,
            ctx,
        ));
    };
    if !lock(&shared.used_jtis).insert(jti.to_owned()) {
        return Err(aadsts(401, "invalid_client", 50013, "Assertion failed signature validation. [Reason - The assertion has already been used (jti replay).]", false, ctx));
    }
    Ok(())
}

fn check_federated_assertion(
    settings: &crate::server::Settings,
    jwt: &Jwt,
    ctx: &Ctx,
) -> Result<(), Response> {
    let iss = jwt.claim_str("iss").unwrap_or("");
    let sub = jwt.claim_str("sub").unwrap_or("");
    let aud = match jwt.claims.get("aud") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").to_owned(),
        _ => String::new(),
    };
    let fic = settings
        .app
        .federated_credentials
        .iter()
        .find(|f| f.issuer == iss && f.subject == sub && f.audience == aud);
    let Some(fic) = fic else {
        return Err(match settings.options.fic_error_style {
            FicErrorStyle::Current => aadsts(401, "invalid_client", 700213, &format!("No matching federated identity record found for presented assertion subject '{sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"), true, ctx),
            FicErrorStyle::Legacy => aadsts(400, "invalid_request", 70021, &format!("No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"), false, ctx),
        });
    };
    if let Some(cert) = &fic.issuer_certificate {
        if !jwt.verify_rsa(&cert.rsa_public_key) {
            return Err(aadsts(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation.",
                false,
                ctx,
            ));
        }
    }
    time_window(jwt, settings.options.assertion_clock_skew_secs, ctx)
}
