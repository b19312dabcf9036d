//! Workload identity federation: a JWT issued by another identity provider (Kubernetes,
//! a CI system, GitHub Actions) sent as the client assertion (CONTRACT §1.3).
//!
//! Both sources are read anew for every token request: Kubernetes rotates the projected
//! token file, and a GitHub OIDC token lives only minutes.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::claims::{token_claim, token_claims};
use super::secret::Secret;

/// The audience Entra expects in a federated token (and GitHub is asked for).
pub const FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// GitHub Actions' OIDC token endpoint, from the job's environment.
#[derive(Clone)]
pub struct GithubOidc {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`; already has a query (`?api-version=…`).
    pub request_url: String,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, a bearer token for that endpoint.
    pub request_token: Secret,
}

impl std::fmt::Debug for GithubOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubOidc")
            .field("request_url", &self.request_url)
            .field("request_token", &self.request_token)
            .finish()
    }
}

/// Why no federated token could be obtained. Never carries the token.
#[derive(Debug, thiserror::Error)]
pub enum FederatedError {
    #[error("cannot read the federated token file {path} (--federated-token-file / AZURE_FEDERATED_TOKEN_FILE): {message}")]
    TokenFile { path: PathBuf, message: String },
    #[error("the federated token file {path} (--federated-token-file / AZURE_FEDERATED_TOKEN_FILE) is empty")]
    EmptyTokenFile { path: PathBuf },
    /// `host` only: the request URL's path carries the run's plan and job ids, which a
    /// public repository's log need not show.
    #[error("cannot get the GitHub Actions OIDC token from {host} (ACTIONS_ID_TOKEN_REQUEST_URL): {message}")]
    Github { host: String, message: String },
}

/// The token in `path`, trimmed (files written by hand often end in a newline).
pub fn read_token_file(path: &Path) -> Result<Secret, FederatedError> {
    let text = std::fs::read_to_string(path).map_err(|e| FederatedError::TokenFile {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(FederatedError::EmptyTokenFile {
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(token))
}

#[derive(Deserialize)]
struct IdTokenResponse {
    value: Option<String>,
}

impl GithubOidc {
    /// The request URL with the Entra audience appended (`&` since GitHub's URL already
    /// carries `?api-version=…`; `?` if a test or proxy gives one without a query).
    pub fn url_with_audience(&self) -> String {
        let sep = if self.request_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}audience={FEDERATION_AUDIENCE}", self.request_url)
    }

    /// `scheme://host[:port]` of the request URL.
    fn host(&self) -> &str {
        let url = self.request_url.as_str();
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let end = url[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| after_scheme + i);
        &url[..end]
    }

    /// Ask GitHub for an ID token with the Entra audience.
    pub fn fetch(&self, agent: &ureq::Agent) -> Result<Secret, FederatedError> {
        let url = self.url_with_audience();
        let fail = |message: String| FederatedError::Github {
            host: self.host().to_owned(),
            message,
        };
        let mut resp = agent
            .get(&url)
            .header(
                "Authorization",
                &format!("bearer {}", self.request_token.expose()),
            )
            .header("Accept", "application/json")
            .call()
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| fail(e.to_string()))?;
        if !(200..300).contains(&status) {
            // GitHub answers 401/403 when the request token is wrong or the job lacks
            // `id-token: write`; its body is a short JSON message, not a secret.
            let detail: String = body.chars().take(200).collect();
            return Err(fail(format!(
                "HTTP {status} {detail} (does the job have `permissions: id-token: write`?)"
            )));
        }
        let parsed: IdTokenResponse = serde_json::from_str(&body)
            .map_err(|e| fail(format!("the response is not the expected JSON: {e}")))?;
        match parsed.value.filter(|v| !v.trim().is_empty()) {
            Some(v) => Ok(Secret::new(v.trim())),
            None => Err(fail("the response has no `value`".into())),
        }
    }
}

/// The (unverified) iss/sub/aud of a federated JWT, for explaining a federation
/// mismatch. These name the workload, not a secret; the token itself is never shown.
pub fn describe_claims(token: &Secret) -> Option<String> {
    let claim = |name: &str| token_claim(token, name);
    let aud = claim("aud").or_else(|| {
        // `aud` may be an array.
        token_claims(token)?
            .get("aud")?
            .as_array()?
            .first()?
            .as_str()
            .map(str::to_owned)
    });
    Some(format!(
        "the token presented issuer '{}', subject '{}', audience '{}'",
        claim("iss")?,
        claim("sub")?,
        aud.unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_is_appended_to_the_query() {
        let g = GithubOidc {
            request_url:
                "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0".into(),
            request_token: Secret::new("rt"),
        };
        assert_eq!(
            g.url_with_audience(),
            "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0&audience=api://AzureADTokenExchange"
        );
        let bare = GithubOidc {
            request_url: "http://127.0.0.1:9/token".into(),
            ..g.clone()
        };
        assert!(bare
            .url_with_audience()
            .ends_with("/token?audience=api://AzureADTokenExchange"));
        assert!(!format!("{g:?}").contains("rt\""), "{g:?}");
        assert_eq!(g.host(), "https://pipelines.actions.githubusercontent.com");
        assert_eq!(bare.host(), "http://127.0.0.1:9");
    }

    #[test]
    fn token_file_is_trimmed_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "a.b.c\n").unwrap();
        assert_eq!(read_token_file(&path).unwrap().expose(), "a.b.c");
        std::fs::write(&path, " \n").unwrap();
        let err = read_token_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("is empty") && err.contains(&path.display().to_string()),
            "{err}"
        );
        let missing = dir.path().join("nope");
        let err = read_token_file(&missing).unwrap_err().to_string();
        assert!(
            err.contains("AZURE_FEDERATED_TOKEN_FILE") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn claims_of_the_github_fixture_are_described() {
        // A GitHub-shaped token with the iss/sub/aud of CONTRACT fixture github_oidc.claims.json.
        let fixture = concat!(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.",
            "eyJzdWIiOiJyZXBvOmNvbnRvc28tc2VjL20zNjUtZ3VhcmQ6ZW52aXJvbm1lbnQ6cHJvZCIsImF1ZCI6ImFwaTovL0F6dXJlQURUb2tlbkV4Y2hhbmdlIiwiaXNzIjoiaHR0cHM6Ly90b2tlbi5hY3Rpb25zLmdpdGh1YnVzZXJjb250ZW50LmNvbSJ9",
            ".c2ln"
        );
        assert_eq!(
            describe_claims(&Secret::new(fixture)).unwrap(),
            "the token presented issuer 'https://token.actions.githubusercontent.com', subject 'repo:contoso-sec/m365-guard:environment:prod', audience 'api://AzureADTokenExchange'"
        );
        assert_eq!(describe_claims(&Secret::new("not-a-jwt")), None);
    }
}
