//! Connection settings: the validated tenant and client id, the service URLs (https, or
//! http to a loopback host), and the one credential the app signs in with, chosen from
//! flags, environment and m365guard.toml by a documented precedence ([`RawCredentials`]).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::certificate::{CertificateError, ClientCertificate};
use super::federated::GithubOidc;
use super::secret::Secret;

/// Microsoft's public-cloud hosts (CONTRACT §0).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
pub const DEFAULT_EXCHANGE: &str = "https://outlook.office365.com";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("missing {what}: pass {flag}, set {env}, or set `{file_key}` in m365guard.toml")]
    Missing {
        what: &'static str,
        flag: &'static str,
        env: &'static str,
        file_key: &'static str,
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
    #[error("no credential to sign in with: set AZURE_CLIENT_SECRET, pass --certificate PATH (or set AZURE_CLIENT_CERTIFICATE_PATH), pass --federated-token-file PATH (or set AZURE_FEDERATED_TOKEN_FILE), or pass --github-oidc in a GitHub Actions job")]
    NoCredential,
    #[error("several credentials are set in the environment ({found}); m365guard signs in with exactly one: unset the others, or choose one explicitly with --certificate PATH, --federated-token-file PATH or --github-oidc")]
    SeveralCredentials { found: String },
    #[error("{flags} cannot be used together: choose one credential")]
    ConflictingFlags { flags: String },
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error("--github-oidc needs {missing}, which GitHub Actions sets only when the job may request an OIDC token: add `permissions: id-token: write` to the workflow or job")]
    GithubOidcEnv { missing: &'static str },
}

/// How the app proves its identity to Entra. Exactly one per run; see [`RawCredentials`]
/// for how it is chosen.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `AZURE_CLIENT_SECRET` (never a flag: command lines end up in shell history and `ps`).
    ClientSecret(Secret),
    /// Certificate and private key; a fresh PS256 assertion for every token request.
    Certificate(Arc<ClientCertificate>),
    /// `--federated-token-file` or `AZURE_FEDERATED_TOKEN_FILE`, read anew for every
    /// token request (Kubernetes rotates the projected token).
    FederatedTokenFile(PathBuf),
    /// `--github-oidc`: a GitHub Actions ID token fetched for every token request.
    GithubOidc(GithubOidc),
}

impl Credential {
    /// What the user configured, for messages (no secret values).
    pub fn describe(&self) -> String {
        match self {
            Credential::ClientSecret(_) => "client secret (AZURE_CLIENT_SECRET)".into(),
            Credential::Certificate(c) => format!(
                "certificate {} (x5t#S256 {})",
                c.path().display(),
                c.x5t_s256()
            ),
            Credential::FederatedTokenFile(p) => {
                format!(
                    "federated token file {} (--federated-token-file / AZURE_FEDERATED_TOKEN_FILE)",
                    p.display()
                )
            }
            Credential::GithubOidc(_) => "GitHub Actions OIDC token (--github-oidc)".into(),
        }
    }

    pub(super) fn is_federated(&self) -> bool {
        matches!(
            self,
            Credential::FederatedTokenFile(_) | Credential::GithubOidc(_)
        )
    }
}

/// Validated connection settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant: String,
    pub client_id: String,
    pub credential: Credential,
    /// Base URLs without a trailing slash.
    pub authority: String,
    pub graph_url: String,
    pub exchange_url: String,
}

/// Raw (unvalidated) inputs: flags already merged with their environment variables and
/// m365guard.toml. The credentials other than the client secret are in [`RawCredentials`].
#[derive(Debug, Default, Clone)]
pub struct RawSettings {
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    /// `AZURE_CLIENT_SECRET`.
    pub client_secret: Option<Secret>,
    pub authority: Option<String>,
    pub graph_url: Option<String>,
    pub exchange_url: Option<String>,
}

/// Every place a credential may come from, kept apart so the choice can follow a
/// documented precedence:
///
/// 1. a flag — `--certificate PATH`, `--federated-token-file PATH` or `--github-oidc`
///    (more than one is an error): an explicit choice on the command line wins over
///    anything ambient;
/// 2. else the environment — `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH`,
///    `AZURE_FEDERATED_TOKEN_FILE`: exactly one may be set, several is an error (which one
///    was meant cannot be guessed, and signing in as the wrong identity is worse than not
///    signing in);
/// 3. else `[connection] certificate` in m365guard.toml.
#[derive(Debug, Default, Clone)]
pub struct RawCredentials {
    /// `--certificate PATH`.
    pub certificate_flag: Option<PathBuf>,
    /// `--github-oidc`.
    pub github_oidc: bool,
    /// `--federated-token-file PATH`: the flag form of `AZURE_FEDERATED_TOKEN_FILE`, for
    /// CI systems that hand the job an ID token to write to a file (Azure Pipelines,
    /// GitLab, a composite action).
    pub federated_token_file_flag: Option<PathBuf>,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`.
    pub certificate_env: Option<PathBuf>,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<PathBuf>,
    /// `[connection] certificate` (already resolved against the file's directory).
    pub certificate_config: Option<PathBuf>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`, used only with `--github-oidc`.
    pub github_request_url: Option<String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, used only with `--github-oidc`.
    pub github_request_token: Option<Secret>,
}

impl Settings {
    /// Validate settings that sign in with the client secret of `raw` (no other
    /// credential sources).
    pub fn validate(raw: RawSettings) -> Result<Settings, SettingsError> {
        Settings::validate_with(raw, RawCredentials::default())
    }

    /// Validate settings, choosing the credential by the precedence of [`RawCredentials`].
    /// A certificate is loaded and checked here, so a bad PEM fails before any request.
    pub fn validate_with(
        raw: RawSettings,
        creds: RawCredentials,
    ) -> Result<Settings, SettingsError> {
        let tenant = non_empty(raw.tenant).ok_or(SettingsError::Missing {
            what: "tenant",
            flag: "--tenant",
            env: "AZURE_TENANT_ID",
            file_key: "[tenant] id",
        })?;
        check_id("tenant", &tenant)?;
        let client_id = non_empty(raw.client_id).ok_or(SettingsError::Missing {
            what: "client id",
            flag: "--client-id",
            env: "AZURE_CLIENT_ID",
            file_key: "[connection] client_id",
        })?;
        check_id("client id", &client_id)?;
        let client_secret = raw.client_secret.filter(|s| !s.expose().is_empty());
        let credential = choose_credential(client_secret, creds)?;
        Ok(Settings {
            tenant,
            client_id,
            credential,
            authority: check_url("authority host", raw.authority, DEFAULT_AUTHORITY)?,
            graph_url: check_url("Graph URL", raw.graph_url, DEFAULT_GRAPH)?,
            exchange_url: check_url("Exchange URL", raw.exchange_url, DEFAULT_EXCHANGE)?,
        })
    }
}

fn choose_credential(
    client_secret: Option<Secret>,
    creds: RawCredentials,
) -> Result<Credential, SettingsError> {
    let path = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
    let load = |p: PathBuf| -> Result<Credential, SettingsError> {
        Ok(Credential::Certificate(Arc::new(ClientCertificate::load(
            &p,
        )?)))
    };
    let certificate_flag = path(creds.certificate_flag);
    let token_file_flag = path(creds.federated_token_file_flag);
    // 1. Flags: at most one.
    let flags: Vec<&str> = [
        certificate_flag.as_ref().map(|_| "--certificate"),
        token_file_flag.as_ref().map(|_| "--federated-token-file"),
        creds.github_oidc.then_some("--github-oidc"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if flags.len() > 1 {
        return Err(SettingsError::ConflictingFlags {
            flags: flags.join(" and "),
        });
    }
    if let Some(p) = certificate_flag {
        return load(p);
    }
    if let Some(p) = token_file_flag {
        return Ok(Credential::FederatedTokenFile(p));
    }
    if creds.github_oidc {
        let request_url =
            non_empty(creds.github_request_url).ok_or(SettingsError::GithubOidcEnv {
                missing: "ACTIONS_ID_TOKEN_REQUEST_URL",
            })?;
        check_scheme("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url)?;
        let request_token = creds
            .github_request_token
            .filter(|t| !t.expose().trim().is_empty())
            .ok_or(SettingsError::GithubOidcEnv {
                missing: "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            })?;
        return Ok(Credential::GithubOidc(GithubOidc {
            request_url,
            request_token,
        }));
    }
    // 2. The environment: exactly one.
    let certificate_env = path(creds.certificate_env);
    let token_file = path(creds.federated_token_file);
    let found: Vec<&str> = [
        client_secret.as_ref().map(|_| "AZURE_CLIENT_SECRET"),
        certificate_env
            .as_ref()
            .map(|_| "AZURE_CLIENT_CERTIFICATE_PATH"),
        token_file.as_ref().map(|_| "AZURE_FEDERATED_TOKEN_FILE"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if found.len() > 1 {
        return Err(SettingsError::SeveralCredentials {
            found: found.join(", "),
        });
    }
    if let Some(secret) = client_secret {
        return Ok(Credential::ClientSecret(secret));
    }
    if let Some(p) = certificate_env {
        return load(p);
    }
    if let Some(p) = token_file {
        return Ok(Credential::FederatedTokenFile(p));
    }
    // 3. The config file.
    match path(creds.certificate_config) {
        Some(p) => load(p),
        None => Err(SettingsError::NoCredential),
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
    check_scheme(name, &url)?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// `url` has a host and is https, or http to a loopback host (tests, the emulator).
pub fn check_scheme(name: &'static str, url: &str) -> Result<(), SettingsError> {
    let bad = |reason: &str| SettingsError::BadUrl {
        name,
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected scheme://host"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("expected a host (and no user info)"));
    }
    let host = host_of(authority);
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(SettingsError::InsecureUrl {
            name,
            url: url.to_owned(),
        }),
        _ => Err(bad("scheme must be https (or http for loopback)")),
    }
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

    fn app_pem_file(dir: &std::path::Path) -> PathBuf {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/testdata");
        let pem = std::fs::read_to_string(data.join("test-app.cert.pem")).unwrap()
            + &std::fs::read_to_string(data.join("test-app.key.pem")).unwrap();
        let path = dir.join("app.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }

    fn kind(s: &Settings) -> &'static str {
        match s.credential {
            Credential::ClientSecret(_) => "secret",
            Credential::Certificate(_) => "certificate",
            Credential::FederatedTokenFile(_) => "token file",
            Credential::GithubOidc(_) => "github",
        }
    }

    #[test]
    fn a_flag_wins_over_the_environment_and_the_environment_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pem = app_pem_file(dir.path());
        let github = || RawCredentials {
            github_oidc: true,
            github_request_url: Some("https://pipelines.example/idtoken?api-version=2.0".into()),
            github_request_token: Some(Secret::new("rt")),
            federated_token_file: Some("/var/run/token".into()),
            ..RawCredentials::default()
        };
        // --github-oidc beats AZURE_CLIENT_SECRET and AZURE_FEDERATED_TOKEN_FILE.
        let s = Settings::validate_with(raw(), github()).unwrap();
        assert_eq!(kind(&s), "github");
        // --certificate beats the secret.
        let flag = RawCredentials {
            certificate_flag: Some(pem.clone()),
            ..RawCredentials::default()
        };
        assert_eq!(
            kind(&Settings::validate_with(raw(), flag).unwrap()),
            "certificate"
        );
        // The environment beats the file.
        let file = RawCredentials {
            certificate_config: Some(pem.clone()),
            ..RawCredentials::default()
        };
        assert_eq!(
            kind(&Settings::validate_with(raw(), file.clone()).unwrap()),
            "secret"
        );
        let no_secret = RawSettings {
            client_secret: None,
            ..raw()
        };
        assert_eq!(
            kind(&Settings::validate_with(no_secret.clone(), file).unwrap()),
            "certificate"
        );
        let token_file = RawCredentials {
            federated_token_file: Some("/var/run/token".into()),
            ..RawCredentials::default()
        };
        assert_eq!(
            kind(&Settings::validate_with(no_secret, token_file).unwrap()),
            "token file"
        );
        // --federated-token-file beats every ambient credential, as --certificate does.
        let flag = RawCredentials {
            federated_token_file_flag: Some("/run/ci-token".into()),
            certificate_env: Some("/etc/app.pem".into()),
            federated_token_file: Some("/var/run/token".into()),
            ..RawCredentials::default()
        };
        let s = Settings::validate_with(raw(), flag).unwrap();
        assert!(
            matches!(&s.credential, Credential::FederatedTokenFile(p) if p == std::path::Path::new("/run/ci-token")),
            "{:?}",
            s.credential
        );
    }

    #[test]
    fn ambiguous_or_missing_credentials_are_usage_errors() {
        let err = Settings::validate_with(
            raw(),
            RawCredentials {
                federated_token_file: Some("/var/run/token".into()),
                certificate_env: Some("/etc/app.pem".into()),
                ..RawCredentials::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, SettingsError::SeveralCredentials { .. }));
        let text = err.to_string();
        for name in [
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_FEDERATED_TOKEN_FILE",
        ] {
            assert!(text.contains(name), "{text}");
        }
        assert!(!text.contains("s3cr3t"), "{text}");

        let both = RawCredentials {
            certificate_flag: Some("/etc/app.pem".into()),
            github_oidc: true,
            ..RawCredentials::default()
        };
        let err = Settings::validate_with(raw(), both).unwrap_err();
        assert!(matches!(err, SettingsError::ConflictingFlags { .. }));
        assert!(
            err.to_string().contains("--certificate and --github-oidc"),
            "{err}"
        );
        let both = RawCredentials {
            federated_token_file_flag: Some("/run/token".into()),
            github_oidc: true,
            ..RawCredentials::default()
        };
        let err = Settings::validate_with(raw(), both)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--federated-token-file and --github-oidc"),
            "{err}"
        );
        let none = Settings::validate(RawSettings {
            client_secret: None,
            ..raw()
        })
        .unwrap_err();
        assert!(matches!(none, SettingsError::NoCredential));
        assert!(none.to_string().contains("--github-oidc"), "{none}");
    }

    #[test]
    fn github_oidc_needs_its_environment_and_a_safe_url() {
        let base = RawCredentials {
            github_oidc: true,
            github_request_url: Some("https://pipelines.example/idtoken?api-version=2.0".into()),
            github_request_token: Some(Secret::new("rt")),
            ..RawCredentials::default()
        };
        let err = Settings::validate_with(
            raw(),
            RawCredentials {
                github_request_url: None,
                ..base.clone()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ACTIONS_ID_TOKEN_REQUEST_URL"), "{err}");
        assert!(err.contains("permissions: id-token: write"), "{err}");
        let err = Settings::validate_with(
            raw(),
            RawCredentials {
                github_request_token: None,
                ..base.clone()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), "{err}");
        let err = Settings::validate_with(
            raw(),
            RawCredentials {
                github_request_url: Some("http://oidc.example.com/token?x=1".into()),
                ..base.clone()
            },
        )
        .unwrap_err();
        assert!(matches!(err, SettingsError::InsecureUrl { .. }), "{err}");
        let ok = Settings::validate_with(
            raw(),
            RawCredentials {
                github_request_url: Some("http://127.0.0.1:9/token?x=1".into()),
                ..base
            },
        )
        .unwrap();
        let dbg = format!("{ok:?}");
        assert!(!dbg.contains("\"rt\""), "{dbg}");
    }

    #[test]
    fn a_bad_certificate_fails_validation_naming_the_path() {
        let err = Settings::validate_with(
            RawSettings {
                client_secret: None,
                ..raw()
            },
            RawCredentials {
                certificate_env: Some("/nonexistent/app.pem".into()),
                ..RawCredentials::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/app.pem"), "{err}");
    }
}
