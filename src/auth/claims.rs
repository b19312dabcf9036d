//! The claims of a JWT-shaped token, decoded without verifying it: only to describe
//! ourselves or explain an error (the `tid`/`oid` of our token, the `iss`/`sub`/`aud` of a
//! rejected federated token), never to decide whom to trust.

use super::secret::Secret;

/// The claims of a JWT-shaped token, decoded without verification (only for describing
/// ourselves or explaining an error; never for trust decisions).
pub(super) fn token_claims(token: &Secret) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A string claim of a JWT-shaped access token, decoded without verification (only for
/// describing ourselves, e.g. `oid` = our service principal; never for trust decisions).
pub fn token_claim(token: &Secret, claim: &str) -> Option<String> {
    token_claims(token)?.get(claim)?.as_str().map(str::to_owned)
}
