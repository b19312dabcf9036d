//! Certificate credentials: loading a PEM that holds an X.509 certificate and its RSA
//! private key, and minting the client assertion Entra expects (CONTRACT §1.2): a JWT
//! signed PS256 whose header carries `x5t#S256` (base64url SHA-256 of the certificate DER)
//! and whose claims are aud (the token endpoint), iss = sub = client id, a fresh `jti`,
//! nbf/iat = now and exp = now + 10 minutes.
//!
//! The few DER fields needed (the certificate's RSA public key, the PKCS#8 key algorithm)
//! are read by a small TLV walker instead of an X.509 crate: ring already parses the key
//! itself, and this keeps the dependency tree to what rustls brings anyway.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PSS_SHA256};
use rustls_pki_types::pem::{PemObject as _, SectionKind};

/// How long a client assertion is valid. Entra's documentation uses 10 minutes; a fresh
/// assertion is minted for every token request, so it never needs to live longer.
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// A certificate credential, loaded and checked once. Holds the private key: its `Debug`
/// prints only the path and the (public) thumbprint.
pub struct ClientCertificate {
    path: PathBuf,
    key: RsaKeyPair,
    x5t_s256: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("path", &self.path)
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

/// Why a certificate PEM cannot be used. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[error("certificate {path}: {problem}")]
pub struct CertificateError {
    pub path: PathBuf,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the client assertion: {0}")]
pub struct SigningError(&'static str);

impl ClientCertificate {
    /// Read `path` and check it holds one certificate and the RSA private key that
    /// belongs to it.
    pub fn load(path: &Path) -> Result<ClientCertificate, CertificateError> {
        let fail = |problem: String| CertificateError {
            path: path.to_owned(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        ClientCertificate::from_pem(&bytes)
            .map_err(fail)
            .map(|mut cert| {
                cert.path = path.to_owned();
                cert
            })
    }

    /// Parse PEM text (certificate + private key, in any order). The error is a sentence
    /// without the path.
    pub fn from_pem(pem: &[u8]) -> Result<ClientCertificate, String> {
        let mut certificate = None;
        let mut key = None;
        let mut unsupported_key = None;
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
            // pki-types redacts the base64 of private-key sections in its errors.
            let (kind, der) = section.map_err(|e| format!("not a valid PEM file ({e})"))?;
            match kind {
                SectionKind::Certificate if certificate.is_none() => certificate = Some(der),
                SectionKind::PrivateKey | SectionKind::RsaPrivateKey if key.is_none() => {
                    key = Some((kind, der))
                }
                SectionKind::EcPrivateKey => unsupported_key = Some("an EC key"),
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(pem);
        let Some(cert_der) = certificate else {
            return Err("no certificate in the PEM: it must hold a `-----BEGIN CERTIFICATE-----` block as well as the private key".into());
        };
        let Some((kind, key_der)) = key else {
            if let Some(what) = unsupported_key {
                return Err(format!("unsupported private key type: {what}; Entra client assertions need an RSA key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`)"));
            }
            if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
                return Err("the private key is encrypted; store it unencrypted (e.g. `openssl pkcs8 -nocrypt`) in a file only the job can read".into());
            }
            return Err("no private key in the PEM: it must hold the certificate's private key as `-----BEGIN PRIVATE KEY-----` (PKCS#8) or `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1)".into());
        };
        let key = match kind {
            SectionKind::RsaPrivateKey => RsaKeyPair::from_der(&key_der),
            _ => {
                if let Some(other) = non_rsa_pkcs8_algorithm(&key_der) {
                    return Err(format!("unsupported private key type: {other}; Entra client assertions need an RSA key"));
                }
                RsaKeyPair::from_pkcs8(&key_der)
            }
        }
        .map_err(|e| format!("the RSA private key is not usable ({e}; RSA keys of 2048 to 8192 bits are supported)"))?;

        let cert_key = rsa_public_key_of_certificate(&cert_der)
            .map_err(|e| format!("cannot read the certificate: {e}"))?;
        if !same_rsa_key(&cert_key, key.public().as_ref()) {
            return Err(
                "the private key does not belong to the certificate in the same file".into(),
            );
        }
        Ok(ClientCertificate {
            path: PathBuf::new(),
            key,
            x5t_s256: b64url(ring::digest::digest(&ring::digest::SHA256, &cert_der).as_ref()),
            rng: SystemRandom::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256 of the certificate DER — the
    /// thumbprint Entra looks the registered certificate up by.
    pub fn x5t_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// A fresh client assertion for `token_endpoint` (its `aud`), valid from `now`.
    pub fn assertion(
        &self,
        token_endpoint: &str,
        client_id: &str,
        now: u64,
    ) -> Result<super::secret::Secret, SigningError> {
        let header = serde_json::json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": self.x5t_s256,
        });
        let claims = serde_json::json!({
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "jti": self.jti()?,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PSS_SHA256, &self.rng, input.as_bytes(), &mut signature)
            .map_err(|_| SigningError("RSA-PSS signing failed"))?;
        Ok(super::secret::Secret::new(format!(
            "{input}.{}",
            b64url(&signature)
        )))
    }

    /// A random (version 4) GUID: Entra remembers `jti`s and refuses a replayed assertion.
    fn jti(&self) -> Result<String, SigningError> {
        let mut b = [0u8; 16];
        self.rng
            .fill(&mut b)
            .map_err(|_| SigningError("no system randomness for the jti"))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Ok(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One DER TLV: (tag, content, rest). Lengths up to 4 bytes (certificates are small).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), &'static str> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER")?;
    let (&first, mut rest) = rest.split_first().ok_or("truncated DER")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length");
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err("DER content shorter than its length");
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn children(mut content: &[u8]) -> Result<Vec<(u8, &[u8])>, &'static str> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, c, rest) = tlv(content)?;
        out.push((tag, c));
        content = rest;
    }
    Ok(out)
}

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The first OID of an AlgorithmIdentifier SEQUENCE's content.
fn algorithm_oid(alg: &[u8]) -> Option<&[u8]> {
    children(alg)
        .ok()?
        .first()
        .filter(|o| o.0 == 0x06)
        .map(|o| o.1)
}

/// For a PKCS#8 PrivateKeyInfo whose algorithm is not rsaEncryption, a name for it, so
/// the error says "an EC key" rather than ring's generic rejection.
fn non_rsa_pkcs8_algorithm(pkcs8: &[u8]) -> Option<&'static str> {
    let (_, info, _) = tlv(pkcs8).ok()?;
    let fields = children(info).ok()?;
    let oid = algorithm_oid(fields.get(1)?.1)?;
    match oid {
        OID_RSA_ENCRYPTION => None,
        OID_EC_PUBLIC_KEY => Some("an EC key"),
        OID_ED25519 => Some("an Ed25519 key"),
        OID_RSASSA_PSS => Some("an RSASSA-PSS-restricted RSA key (use a plain rsaEncryption key)"),
        _ => Some("a non-RSA key"),
    }
}

/// Certificate → tbsCertificate → subjectPublicKeyInfo → the PKCS#1 RSAPublicKey.
fn rsa_public_key_of_certificate(der: &[u8]) -> Result<Vec<u8>, &'static str> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut fields = children(tbs)?;
    // [0] version is optional.
    if fields.first().map(|f| f.0) == Some(0xa0) {
        fields.remove(0);
    }
    // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    let spki = fields.get(5).ok_or("no subjectPublicKeyInfo")?;
    let parts = children(spki.1)?;
    let oid = parts.first().and_then(|alg| algorithm_oid(alg.1));
    if oid != Some(OID_RSA_ENCRYPTION) {
        return Err("its public key is not RSA; Entra client assertions need an RSA certificate");
    }
    match parts.get(1).map(|bits| bits.1.split_first()) {
        Some(Some((0, key))) => Ok(key.to_vec()),
        _ => Err("malformed public key"),
    }
}

/// Whether two PKCS#1 RSAPublicKey encodings hold the same modulus and exponent
/// (compared as integers, so a non-minimal encoding in the certificate still matches).
fn same_rsa_key(a: &[u8], b: &[u8]) -> bool {
    fn parts(der: &[u8]) -> Option<Vec<&[u8]>> {
        let (_, seq, _) = tlv(der).ok()?;
        let ints = children(seq).ok()?;
        if ints.len() != 2 || ints.iter().any(|i| i.0 != 0x02) {
            return None;
        }
        Some(
            ints.iter()
                .map(|i| {
                    let first = i.1.iter().position(|&b| b != 0).unwrap_or(i.1.len());
                    &i.1[first..]
                })
                .collect(),
        )
    }
    matches!((parts(a), parts(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn testdata(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/emulator/testdata")
            .join(name);
        std::fs::read_to_string(&path).unwrap()
    }

    fn app_pem() -> String {
        testdata("test-app.cert.pem") + &testdata("test-app.key.pem")
    }

    fn decode(part: &str) -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// PKCS#8 → PKCS#1: the privateKey OCTET STRING of the PrivateKeyInfo.
    fn pkcs1_pem_of(pkcs8_pem: &str) -> String {
        let (_, der) = <(SectionKind, Vec<u8>)>::from_pem_slice(pkcs8_pem.as_bytes()).unwrap();
        let (_, info, _) = tlv(&der).unwrap();
        let inner = children(info).unwrap()[2].1.to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn assertion_header_and_claims_follow_the_contract() {
        let cert = ClientCertificate::from_pem(app_pem().as_bytes()).unwrap();
        let aud = "https://login.microsoftonline.com/7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e/oauth2/v2.0/token";
        let client = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
        let jwt = cert.assertion(aud, client, 1_767_261_600).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);

        let header = decode(parts[0]);
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        // x5t#S256 = base64url(SHA-256(certificate DER)), computed independently here.
        let (_, der) =
            <(SectionKind, Vec<u8>)>::from_pem_slice(testdata("test-app.cert.pem").as_bytes())
                .unwrap();
        let want = b64url(ring::digest::digest(&ring::digest::SHA256, &der).as_ref());
        assert_eq!(header["x5t#S256"], want.as_str());
        assert_eq!(want.len(), 43, "32 bytes, unpadded base64url");
        assert!(header.get("x5t").is_none());

        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], client);
        assert_eq!(claims["sub"], client);
        assert_eq!(claims["nbf"], 1_767_261_600u64);
        assert_eq!(claims["iat"], 1_767_261_600u64);
        assert_eq!(claims["exp"], 1_767_261_600u64 + 600);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 36, "{jti}");
        assert_eq!(&jti[14..15], "4", "version-4 GUID: {jti}");

        // The signature verifies as RSASSA-PSS SHA-256 with the certificate's public key.
        let public = rsa_public_key_of_certificate(&der).unwrap();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PSS_2048_8192_SHA256,
            &public,
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    }

    #[test]
    fn every_assertion_has_a_new_jti() {
        let cert = ClientCertificate::from_pem(app_pem().as_bytes()).unwrap();
        let jti = |c: &ClientCertificate| {
            let jwt = c
                .assertion("https://x/t/oauth2/v2.0/token", "c", 1)
                .unwrap();
            decode(jwt.expose().split('.').nth(1).unwrap())["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let a = jti(&cert);
        let b = jti(&cert);
        assert_ne!(a, b);
    }

    #[test]
    fn pkcs1_keys_and_any_block_order_are_accepted() {
        let pem = pkcs1_pem_of(&testdata("test-app.key.pem")) + &testdata("test-app.cert.pem");
        let pkcs1 = ClientCertificate::from_pem(pem.as_bytes()).unwrap();
        let pkcs8 = ClientCertificate::from_pem(app_pem().as_bytes()).unwrap();
        assert_eq!(pkcs1.x5t_s256(), pkcs8.x5t_s256());
    }

    #[test]
    fn pem_problems_are_named() {
        let no_key =
            ClientCertificate::from_pem(testdata("test-app.cert.pem").as_bytes()).unwrap_err();
        assert!(no_key.contains("no private key"), "{no_key}");
        let no_cert =
            ClientCertificate::from_pem(testdata("test-app.key.pem").as_bytes()).unwrap_err();
        assert!(no_cert.contains("no certificate"), "{no_cert}");
        let mismatch = testdata("test-app.cert.pem") + &testdata("test-issuer.key.pem");
        let err = ClientCertificate::from_pem(mismatch.as_bytes()).unwrap_err();
        assert!(err.contains("does not belong to the certificate"), "{err}");
        let ec = testdata("test-app.cert.pem")
            + "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n";
        let err = ClientCertificate::from_pem(ec.as_bytes()).unwrap_err();
        assert!(
            err.contains("unsupported private key type: an EC key"),
            "{err}"
        );
        let encrypted = testdata("test-app.cert.pem")
            + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = ClientCertificate::from_pem(encrypted.as_bytes()).unwrap_err();
        assert!(err.contains("encrypted"), "{err}");
    }

    #[test]
    fn pkcs8_ec_key_is_an_unsupported_type() {
        // PrivateKeyInfo { version 0, AlgorithmIdentifier { ecPublicKey }, OCTET STRING {} }
        let der = [
            0x30, 0x0e, 0x02, 0x01, 0x00, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
            0x02, 0x01, 0x04, 0x00,
        ];
        assert_eq!(non_rsa_pkcs8_algorithm(&der), Some("an EC key"));
    }

    #[test]
    fn load_names_the_path_and_debug_hides_the_key() {
        let err = ClientCertificate::load(Path::new("/nonexistent/app.pem")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/app.pem"), "{text}");
        assert!(text.contains("cannot read"), "{text}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pem");
        std::fs::write(&path, app_pem()).unwrap();
        let cert = ClientCertificate::load(&path).unwrap();
        assert_eq!(cert.path(), path);
        let dbg = format!("{cert:?}");
        assert!(dbg.contains("x5t#S256"), "{dbg}");
        assert!(!dbg.contains("PRIVATE"), "{dbg}");
        assert!(dbg.len() < 300, "no key material in Debug: {dbg}");
    }
}
