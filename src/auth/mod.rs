//! Connection settings and sign-in: validated URLs/tenant/client id, the one credential
//! the app signs in with (client secret, certificate, or a federated token from a file or
//! from GitHub Actions OIDC), and OAuth2 client-credentials tokens, cached per resource.
//!
//! Secrets, assertions and access tokens live in [`Secret`], whose `Debug`/`Display` print
//! `***`; the certificate's private key lives in [`ClientCertificate`], whose `Debug` shows
//! only its path and thumbprint. None can leak through logs, errors or `{:?}`.
//!
//! Files, lowest first: `secret` ([`Secret`]), `claims` (unverified JWT claims),
//! `certificate` and `federated` (the two assertion credentials), `settings` ([`Settings`]
//! and the choice of credential), `token` ([`TokenProvider`], its cache and [`AuthError`]).
//! Sign-in's HTTP (agent, back-off, which failures are transient) is [`crate::http`]'s.

mod certificate;
mod claims;
mod federated;
mod secret;
mod settings;
mod token;

pub use certificate::{CertificateError, ClientCertificate};
pub use claims::token_claim;
pub use federated::{FederatedError, GithubOidc, FEDERATION_AUDIENCE};
pub use secret::Secret;
pub use settings::{
    check_scheme, Credential, RawCredentials, RawSettings, Settings, SettingsError,
    DEFAULT_AUTHORITY, DEFAULT_EXCHANGE, DEFAULT_GRAPH, EXCHANGE_SCOPE, GRAPH_SCOPE,
};
pub use token::{aadsts_hint, AuthError, TokenProvider};
