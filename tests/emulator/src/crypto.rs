//! Certificates and JWTs: PEM/DER decoding of the registered X.509 certificate (just enough
//! to find its RSA public key), its `x5t`/`x5t#S256` thumbprints, and decoding/verification
//! of RS256/PS256 JWTs. The DER walk is a few lines instead of an x509 crate because only
//! the SubjectPublicKeyInfo is needed.

use base64::Engine;
use ring::signature;
use serde_json::Value;

use crate::util::{b64url, b64url_decode};

/// A registered certificate: its DER bytes and its RSA public key (PKCS#1 DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub rsa_public_key: Vec<u8>,
}

impl Certificate {
    /// Parses the first `CERTIFICATE` block of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Certificate, String> {
        let der = pem_block(pem, "CERTIFICATE").ok_or("no CERTIFICATE block")?;
        let rsa_public_key = rsa_key_of_certificate(&der)?;
        Ok(Certificate {
            der,
            rsa_public_key,
        })
    }

    /// `x5t`: base64url of the SHA-1 of the DER (legacy RS256 assertions).
    pub fn x5t_sha1(&self) -> String {
        b64url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der).as_ref())
    }

    /// `x5t#S256`: base64url of the SHA-256 of the DER (current MSAL assertions).
    pub fn x5t_sha256(&self) -> String {
        b64url(ring::digest::digest(&ring::digest::SHA256, &self.der).as_ref())
    }

    /// Upper-case hex SHA-1 thumbprint as the portal shows it (used in AADSTS700027 text).
    pub fn thumbprint_hex(&self) -> String {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

/// Base64 body of the first `-----BEGIN {label}-----` block.
pub fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// One DER TLV: (tag, content, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER")?;
    let (&first, mut rest) = rest.split_first().ok_or("truncated DER length")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length".into());
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err("DER content shorter than its length".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn children(mut content: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, c, rest) = tlv(content)?;
        out.push((tag, c));
        content = rest;
    }
    Ok(out)
}

const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// Certificate → tbsCertificate → subjectPublicKeyInfo → BIT STRING (PKCS#1 RSAPublicKey).
fn rsa_key_of_certificate(der: &[u8]) -> Result<Vec<u8>, String> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut fields = children(tbs)?;
    if fields.first().map(|f| f.0) == Some(0xa0) {
        fields.remove(0);
    }
    // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    let spki = fields
        .get(5)
        .ok_or("certificate has no subjectPublicKeyInfo")?;
    let parts = children(spki.1)?;
    let alg = parts.first().ok_or("SPKI without algorithm")?;
    let oid = children(alg.1)?
        .first()
        .map(|o| o.1.to_vec())
        .unwrap_or_default();
    if oid != RSA_ENCRYPTION_OID {
        return Err("certificate key is not RSA".into());
    }
    let bits = parts.get(1).ok_or("SPKI without key")?;
    match bits.1.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err("unexpected BIT STRING padding".into()),
    }
}

/// A JWT split into its decoded parts.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl Jwt {
    pub fn decode(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = serde_json::from_slice(&b64url_decode(h)?).ok()?;
        let claims = serde_json::from_slice(&b64url_decode(c)?).ok()?;
        Some(Jwt {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: b64url_decode(s).unwrap_or_default(),
        })
    }

    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn claim_u64(&self, name: &str) -> Option<u64> {
        let v = self.claims.get(name)?;
        v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
    }

    /// Verifies an RS256 or PS256 signature with an RSA public key (PKCS#1 DER).
    pub fn verify_rsa(&self, rsa_public_key: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg() {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
            _ => return false,
        };
        signature::UnparsedPublicKey::new(alg, rsa_public_key)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }
}

/// Signs a JWT with an RSA private key (PKCS#8 PEM). For tests and demos minting client
/// assertions or federated tokens; `alg` is `RS256` or `PS256`.
pub fn sign_jwt(
    private_key_pem: &str,
    alg: &str,
    header: &Value,
    claims: &Value,
) -> Result<String, String> {
    let der = pem_block(private_key_pem, "PRIVATE KEY").ok_or("no PRIVATE KEY block")?;
    let key = signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("bad key: {e}"))?;
    let mut header = header.clone();
    if let Some(h) = header.as_object_mut() {
        h.insert("alg".into(), Value::String(alg.into()));
    }
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let padding: &dyn signature::RsaEncoding = match alg {
        "RS256" => &signature::RSA_PKCS1_SHA256,
        "PS256" => &signature::RSA_PSS_SHA256,
        other => return Err(format!("unsupported alg {other}")),
    };
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        padding,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "signing failed".to_string())?;
    Ok(format!("{input}.{}", b64url(&sig)))
}
