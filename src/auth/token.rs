//! OAuth2 client-credentials tokens: one token request per resource scope (client secret,
//! a fresh certificate assertion per attempt, or a federated token), cached until close to
//! expiry, refreshed one request at a time; and sign-in errors that say what to do about
//! each AADSTS code, naming what was presented (never a token).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::federated;
use super::secret::Secret;
use super::settings::{Credential, Settings};

/// `client_assertion_type` of certificate and federated assertions (CONTRACT §1.1).
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign-in failed for {scope}: AADSTS{code} ({error}): {hint}")]
    Aadsts {
        scope: String,
        code: u64,
        error: String,
        hint: String,
    },
    #[error("sign-in failed for {scope}: the token endpoint {endpoint} answered HTTP {status}, a redirect; m365guard follows no redirect when signing in (check the authority host)")]
    Redirect {
        scope: String,
        endpoint: String,
        status: u16,
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
    /// The credential itself could not be produced (token file, GitHub OIDC, signing).
    #[error("sign-in failed for {scope}: {message}")]
    Credential { scope: String, message: String },
}

/// What to do about the common AADSTS codes (CONTRACT §1.5, §1.2, §1.3).
pub fn aadsts_hint(code: u64) -> &'static str {
    match code {
        7000215 => "invalid client secret: check AZURE_CLIENT_SECRET holds the secret *value*, not its id",
        7000222 => "the client secret has expired: create a new one in the app registration",
        700016 => "the app is not found in the tenant or lacks admin consent: check --client-id and --tenant",
        1002012 => "invalid scope (internal error: scope must end in /.default)",
        90002 => "tenant not found: check --tenant",
        7000218 => "no client secret or assertion was sent",
        700027 => "the certificate is not registered on the app registration (or the assertion's signature does not verify with it): upload the certificate's public part (no key) under the app's Certificates & secrets, or sign in with the certificate that is registered there",
        700024 => "the client assertion is outside its validity window: check this machine's clock; a federated token may have expired before it was used",
        700023 => "the client assertion's subject is not the client id: check --client-id",
        50013 => "the client assertion was rejected (already used, or its signature does not verify)",
        50027 => "the client assertion is not a valid JWT: a federated token file must hold the bare token",
        700213 | 70021 | 7002137 | 7002138 => "no federated identity credential on the app matches the presented token: its issuer, subject and audience (api://AzureADTokenExchange) must match one exactly and case-sensitively (GitHub subjects look like repo:ORG/REPO:environment:NAME or repo:ORG/REPO:ref:refs/heads/BRANCH; repositories created or renamed since 2026-07-15 use repo:OWNER@OWNER_ID/REPO@REPO_ID:…)",
        700211 => "no federated identity credential on the app has the token's issuer: add one whose issuer is exactly the token's `iss`",
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Client-credentials tokens, one cache entry per resource scope.
#[derive(Debug)]
pub struct TokenProvider {
    settings: Settings,
    agent: ureq::Agent,
    cache: Mutex<HashMap<String, (Secret, Instant)>>,
    /// One token request at a time: when a token expires mid-run, dozens of in-flight
    /// requests get a 401 together; the first refreshes, the rest reuse its token.
    fetching: Mutex<()>,
}

impl TokenProvider {
    pub fn new(settings: Settings, agent: ureq::Agent) -> TokenProvider {
        TokenProvider {
            settings,
            agent,
            cache: Mutex::new(HashMap::new()),
            fetching: Mutex::new(()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A token for `scope`, fetched anew when the cached one is close to expiry.
    pub fn token(&self, scope: &str) -> Result<Secret, AuthError> {
        if let Some(tok) = self.cached(scope) {
            return Ok(tok);
        }
        let _one_at_a_time = self.fetching.lock();
        // Another thread may have refreshed while this one waited.
        if let Some(tok) = self.cached(scope) {
            return Ok(tok);
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
    fn cached(&self, scope: &str) -> Option<Secret> {
        let cache = self.cache.lock().ok()?;
        let (tok, refresh_at) = cache.get(scope)?;
        (Instant::now() < *refresh_at).then(|| tok.clone())
    }

    /// Drop `rejected` (a token the service answered 401 to) from the cache, unless
    /// another thread has already replaced it with a fresh one.
    pub fn invalidate(&self, scope: &str, rejected: &Secret) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache
                .get(scope)
                .is_some_and(|(tok, _)| tok.expose() == rejected.expose())
            {
                cache.remove(scope);
            }
        }
    }

    /// A federated token for this token request, or `None` for the other credentials.
    fn federated_assertion(&self, scope: &str) -> Result<Option<Secret>, AuthError> {
        let fetched = match &self.settings.credential {
            Credential::FederatedTokenFile(path) => federated::read_token_file(path),
            Credential::GithubOidc(github) => github.fetch(&self.agent),
            Credential::ClientSecret(_) | Credential::Certificate(_) => return Ok(None),
        };
        fetched.map(Some).map_err(|e| AuthError::Credential {
            scope: scope.to_owned(),
            message: e.to_string(),
        })
    }

    /// The hint for an AADSTS code, with what was presented when that helps (the
    /// certificate's thumbprint, the federated token's iss/sub/aud — never a token).
    fn explain(&self, code: u64, federated: Option<&Secret>) -> String {
        let mut hint = aadsts_hint(code).replace("<code>", &code.to_string());
        let credential = &self.settings.credential;
        let detail = match (credential, code) {
            (Credential::Certificate(_), 700027 | 700024 | 700023 | 50013) => Some(format!(
                "the assertion was signed with the {}",
                credential.describe()
            )),
            (_, 700213 | 70021 | 7002137 | 7002138 | 700211 | 700024 | 50027)
                if credential.is_federated() =>
            {
                let claims = federated.and_then(federated::describe_claims);
                Some(match claims {
                    Some(c) => format!("{c}; it came from the {}", credential.describe()),
                    None => format!("it came from the {}", credential.describe()),
                })
            }
            _ => None,
        };
        if let Some(detail) = detail {
            hint.push_str(" [");
            hint.push_str(&detail);
            hint.push(']');
        }
        hint
    }

    fn fetch(&self, scope: &str) -> Result<(Secret, Duration), AuthError> {
        let s = &self.settings;
        let endpoint = format!("{}/{}/oauth2/v2.0/token", s.authority, s.tenant);
        // Once per token request, not per retry: a federated token is good for minutes.
        let federated = self.federated_assertion(scope)?;
        let mut last_transport = String::new();
        for attempt in 0..4u32 {
            if attempt > 0 {
                std::thread::sleep(crate::http::backoff(attempt));
            }
            // A certificate assertion per attempt: Entra accepts each jti once, and a
            // retried request may already have reached it.
            let assertion = match &s.credential {
                Credential::Certificate(cert) => Some(
                    cert.assertion(&endpoint, &s.client_id, unix_now())
                        .map_err(|e| AuthError::Credential {
                            scope: scope.to_owned(),
                            message: e.to_string(),
                        })?,
                ),
                _ => federated.clone(),
            };
            let mut form = vec![
                ("client_id", s.client_id.as_str()),
                ("scope", scope),
                ("grant_type", "client_credentials"),
            ];
            match (&s.credential, &assertion) {
                (Credential::ClientSecret(secret), _) => {
                    form.push(("client_secret", secret.expose()))
                }
                (_, Some(assertion)) => {
                    form.push(("client_assertion_type", ASSERTION_TYPE));
                    form.push(("client_assertion", assertion.expose()));
                }
                // Every other credential produced an assertion above.
                (_, None) => {}
            }
            let sent = self.agent.post(&endpoint).send_form(form);
            let malformed = |e: &ureq::Error| AuthError::BadResponse {
                scope: scope.to_owned(),
                endpoint: endpoint.clone(),
                message: format!("malformed answer, not retried: {e}"),
            };
            let mut resp = match sent {
                Ok(r) => r,
                // A malformed answer is the same on every attempt: fail at once.
                Err(e) if !crate::http::is_transient(&e) => return Err(malformed(&e)),
                Err(e) => {
                    last_transport = e.to_string();
                    continue;
                }
            };
            let status = resp.status().as_u16();
            // The agent follows no redirect; one from the token endpoint is permanent (the
            // form carries the client secret or assertion: it must not go anywhere else).
            if (300..400).contains(&status) {
                return Err(AuthError::Redirect {
                    scope: scope.to_owned(),
                    endpoint,
                    status,
                });
            }
            let body = match resp
                .body_mut()
                .with_config()
                .limit(1 << 20)
                .read_to_string()
            {
                Ok(b) => b,
                Err(e) if !crate::http::is_transient(&e) => return Err(malformed(&e)),
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
                        hint: self.explain(code, federated.as_ref()),
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
    use crate::auth::{RawCredentials, RawSettings};

    fn raw() -> RawSettings {
        RawSettings {
            tenant: Some("contoso.onmicrosoft.com".into()),
            client_id: Some("abc".into()),
            client_secret: Some(Secret::new("s3cr3t")),
            ..RawSettings::default()
        }
    }

    #[test]
    fn federation_errors_show_the_presented_claims_not_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::validate_with(
            RawSettings {
                client_secret: None,
                ..raw()
            },
            RawCredentials {
                federated_token_file: Some(dir.path().join("token")),
                ..RawCredentials::default()
            },
        )
        .unwrap();
        let provider = TokenProvider::new(settings, ureq::Agent::new_with_defaults());
        // iss/sub/aud as in CONTRACT fixture github_oidc.claims.json.
        let token = Secret::new(concat!(
            "eyJhbGciOiJSUzI1NiJ9.",
            "eyJzdWIiOiJyZXBvOmNvbnRvc28tc2VjL20zNjUtZ3VhcmQ6ZW52aXJvbm1lbnQ6cHJvZCIsImF1ZCI6ImFwaTovL0F6dXJlQURUb2tlbkV4Y2hhbmdlIiwiaXNzIjoiaHR0cHM6Ly90b2tlbi5hY3Rpb25zLmdpdGh1YnVzZXJjb250ZW50LmNvbSJ9",
            ".c2lnbmF0dXJl"
        ));
        let hint = provider.explain(700213, Some(&token));
        assert!(hint.contains("no federated identity credential"), "{hint}");
        assert!(
            hint.contains("subject 'repo:contoso-sec/m365-guard:environment:prod'"),
            "{hint}"
        );
        assert!(hint.contains("AZURE_FEDERATED_TOKEN_FILE"), "{hint}");
        assert!(!hint.contains(token.expose()), "{hint}");
        assert!(!hint.contains("c2lnbmF0dXJl"), "{hint}");
        assert!(provider
            .explain(70021, Some(&token))
            .contains("case-sensitively"));
    }

    #[test]
    fn every_contract_error_code_has_a_specific_hint() {
        for code in [
            7000215, 7000222, 700016, 1002012, 90002, 7000218, 700027, 700024, 700213, 70021,
        ] {
            assert!(
                !aadsts_hint(code).starts_with("see https://"),
                "AADSTS{code} has only the generic hint"
            );
        }
        assert!(aadsts_hint(700027).contains("not registered"));
        assert!(aadsts_hint(700024).contains("clock"));
    }
}
