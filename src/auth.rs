//! Connection settings and sign-in: validated URLs/tenant/client id, the client secret
//! (from the environment only) and OAuth2 client-credentials tokens, cached per resource.
//!
//! Secrets and access tokens live in [`Secret`], whose `Debug`/`Display` print `***`, so
//! they cannot leak through logs, errors or `{:?}`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Microsoft's public-cloud hosts (CONTRACT §0).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
pub const DEFAULT_EXCHANGE: &str = "https://outlook.office365.com";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

/// A secret value (client secret, access token). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The raw value, only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("missing {what}: pass {flag} or set {env}")]
    Missing {
        what: &'static str,
        flag: &'static str,
        env: &'static str,
    },
    #[error("{name} {url:?} is not a valid URL: {reason}")]
    BadUrl {
        name: &'static str,
        url: String,
        reason: String,
    },
    #[error("{name} {url:?} uses http:// for a non-loopback host; https is required (http is only allowed for 127.0.0.0/8, ::1 and localhost)")]
    InsecureUrl { name: &'static str, url: String },
    #[error("{what} {value:?} contains characters not allowed in a tenant/client id")]
    BadId { what: &'static str, value: String },
}

/// Validated connection settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Base URLs without a trailing slash.
    pub authority: String,
    pub graph_url: String,
    pub exchange_url: String,
}

/// Raw (unvalidated) inputs: flags already merged with their environment variables.
#[derive(Debug, Default, Clone)]
pub struct RawSettings {
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub authority: Option<String>,
    pub graph_url: Option<String>,
    pub exchange_url: Option<String>,
}

impl Settings {
    pub fn validate(raw: RawSettings) -> Result<Settings, SettingsError> {
        let tenant = non_empty(raw.tenant).ok_or(SettingsError::Missing {
            what: "tenant",
            flag: "--tenant",
            env: "AZURE_TENANT_ID",
        })?;
        check_id("tenant", &tenant)?;
        let client_id = non_empty(raw.client_id).ok_or(SettingsError::Missing {
            what: "client id",
            flag: "--client-id",
            env: "AZURE_CLIENT_ID",
        })?;
        check_id("client id", &client_id)?;
        let client_secret =
            raw.client_secret
                .filter(|s| !s.expose().is_empty())
                .ok_or(SettingsError::Missing {
                    what: "client secret",
                    flag: "(no flag: secrets are never taken from the command line)",
                    env: "AZURE_CLIENT_SECRET",
                })?;
        Ok(Settings {
            tenant,
            client_id,
            client_secret,
            authority: check_url("authority host", raw.authority, DEFAULT_AUTHORITY)?,
            graph_url: check_url("Graph URL", raw.graph_url, DEFAULT_GRAPH)?,
            exchange_url: check_url("Exchange URL", raw.exchange_url, DEFAULT_EXCHANGE)?,
        })
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn check_id(what: &'static str, value: &str) -> Result<(), SettingsError> {
    // Both end up in URL paths: refuse anything that could change the path.
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        Ok(())
    } else {
        Err(SettingsError::BadId {
            what,
            value: value.to_owned(),
        })
    }
}

fn check_url(
    name: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<String, SettingsError> {
    let url = non_empty(value).unwrap_or_else(|| default.to_owned());
    let bad = |reason: &str| SettingsError::BadUrl {
        name,
        url: url.clone(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected scheme://host"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("expected a host (and no user info)"));
    }
    let host = host_of(authority);
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(SettingsError::InsecureUrl {
                name,
                url: url.clone(),
            })
        }
        _ => return Err(bad("scheme must be https (or http for loopback)")),
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A string claim of a JWT-shaped access token, decoded without verification (only for
/// describing ourselves, e.g. `oid` = our service principal; never for trust decisions).
pub fn token_claim(token: &Secret, claim: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(claim)?.as_str().map(str::to_owned)
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign-in failed for {scope}: AADSTS{code} ({error}): {hint}")]
    Aadsts {
        scope: String,
        code: u64,
        error: String,
        hint: String,
    },
    #[error("sign-in failed for {scope}: HTTP {status} from the token endpoint {endpoint}")]
    Status {
        scope: String,
        endpoint: String,
        status: u16,
    },
    #[error("sign-in failed for {scope}: cannot reach the token endpoint {endpoint}: {message}")]
    Transport {
        scope: String,
        endpoint: String,
        message: String,
    },
    #[error("sign-in failed for {scope}: unexpected token response from {endpoint}: {message}")]
    BadResponse {
        scope: String,
        endpoint: String,
        message: String,
    },
}

/// What to do about the common AADSTS codes (CONTRACT §1.5).
pub fn aadsts_hint(code: u64) -> &'static str {
    match code {
        7000215 => "invalid client secret: check AZURE_CLIENT_SECRET holds the secret *value*, not its id",
        7000222 => "the client secret has expired: create a new one in the app registration",
        700016 => "the app is not found in the tenant or lacks admin consent: check --client-id and --tenant",
        1002012 => "invalid scope (internal error: scope must end in /.default)",
        90002 => "tenant not found: check --tenant",
        7000218 => "no client secret or assertion was sent",
        700213 | 70021 => "no matching federated identity credential",
        700024 => "client assertion outside its validity window (clock skew?)",
        _ => "see https://login.microsoftonline.com/error?code=<code>",
    }
}

#[derive(Deserialize)]
struct TokenOk {
    access_token: String,
    expires_in: f64,
}

#[derive(Deserialize)]
struct TokenErr {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

/// Client-credentials tokens, one cache entry per resource scope.
#[derive(Debug)]
pub struct TokenProvider {
    settings: Settings,
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, (Secret, Instant)>>,
}

impl TokenProvider {
    pub fn new(settings: Settings, agent: ureq::Agent) -> TokenProvider {
        TokenProvider {
            settings,
            agent,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A token for `scope`, fetched anew when the cached one is close to expiry.
    pub fn token(&self, scope: &str) -> Result<Secret, AuthError> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((tok, refresh_at)) = cache.get(scope) {
                if Instant::now() < *refresh_at {
                    return Ok(tok.clone());
                }
            }
        }
        let (tok, lifetime) = self.fetch(scope)?;
        // Refresh 5 minutes early, or at half-life for short-lived tokens.
        let margin = (lifetime / 2).min(Duration::from_secs(300));
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                scope.to_owned(),
                (tok.clone(), Instant::now() + lifetime - margin),
            );
        }
        Ok(tok)
    }

    /// Drop a cached token (after a 401).
    pub fn invalidate(&self, scope: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(scope);
        }
    }

    fn fetch(&self, scope: &str) -> Result<(Secret, Duration), AuthError> {
        let s = &self.settings;
        let endpoint = format!("{}/{}/oauth2/v2.0/token", s.authority, s.tenant);
        let mut last_transport = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                std::thread::sleep(crate::graph::backoff(attempt));
            }
            let sent = self.agent.post(&endpoint).send_form([
                ("client_id", s.client_id.as_str()),
                ("scope", scope),
                ("grant_type", "client_credentials"),
                ("client_secret", s.client_secret.expose()),
            ]);
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    last_transport = e.to_string();
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let body = match resp.body_mut().read_to_string() {
                Ok(b) => b,
                Err(e) => {
                    last_transport = e.to_string();
                    continue;
                }
            };
            if matches!(status, 429 | 503 | 504) {
                last_transport = format!("HTTP {status}");
                continue;
            }
            if (200..300).contains(&status) {
                let ok: TokenOk =
                    serde_json::from_str(&body).map_err(|e| AuthError::BadResponse {
                        scope: scope.to_owned(),
                        endpoint: endpoint.clone(),
                        message: e.to_string(),
                    })?;
                let secs = ok.expires_in.clamp(60.0, 86_400.0);
                return Ok((Secret::new(ok.access_token), Duration::from_secs_f64(secs)));
            }
            if let Ok(err) = serde_json::from_str::<TokenErr>(&body) {
                if let Some(&code) = err.error_codes.first() {
                    return Err(AuthError::Aadsts {
                        scope: scope.to_owned(),
                        code,
                        error: err.error,
                        hint: aadsts_hint(code).replace("<code>", &code.to_string()),
                    });
                }
            }
            return Err(AuthError::Status {
                scope: scope.to_owned(),
                endpoint,
                status,
            });
        }
        Err(AuthError::Transport {
            scope: scope.to_owned(),
            endpoint,
            message: last_transport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings {
            tenant: Some("contoso.onmicrosoft.com".into()),
            client_id: Some("abc".into()),
            client_secret: Some(Secret::new("s3cr3t")),
            ..RawSettings::default()
        }
    }

    #[test]
    fn http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.5.0.1",
            "http://[::1]:9",
            "http://localhost/x/",
        ] {
            let s = Settings::validate(RawSettings {
                graph_url: Some(ok.into()),
                ..raw()
            });
            assert!(s.is_ok(), "{ok}");
        }
        let err = Settings::validate(RawSettings {
            graph_url: Some("http://graph.example.com".into()),
            ..raw()
        })
        .unwrap_err();
        assert!(matches!(err, SettingsError::InsecureUrl { .. }), "{err}");
        let s = Settings::validate(raw()).unwrap();
        assert_eq!(s.graph_url, DEFAULT_GRAPH);
    }

    #[test]
    fn secret_never_printed() {
        let s = Settings::validate(raw()).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(dbg.contains("***"));
    }

    #[test]
    fn missing_secret_names_env_var() {
        let err = Settings::validate(RawSettings {
            client_secret: None,
            ..raw()
        })
        .unwrap_err();
        assert!(err.to_string().contains("AZURE_CLIENT_SECRET"));
    }
}
