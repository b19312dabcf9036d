//! Source `federation`: the tenant's domains (`GET /domains`,
//! <https://learn.microsoft.com/graph/api/domain-list>) and, for each federated one, its
//! federation configuration (`GET /domains/{id}/federationConfiguration`,
//! <https://learn.microsoft.com/graph/api/domain-list-federationconfiguration>): the
//! issuer Entra trusts, its sign-in URL, protocol, MFA behaviour and signing certificate.
//! The `organization` source reads only the verified domain names (`/organization`), not
//! their authentication type, so this source reads `/domains` itself. The certificate is
//! reduced to its SHA-256 fingerprint and validity end; the certificate itself is public
//! but bulky, and a fingerprint is what an admin compares with the IdP's metadata.

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{b, s, Ctx};
use crate::graph::ApiError;
use crate::snapshot::model::{Domain, DomainFederation, SourceId};

pub fn collect(ctx: &mut Ctx<'_>) {
    let outcome = fetch(ctx);
    ctx.record(SourceId::Federation, outcome);
}

fn fetch(ctx: &mut Ctx<'_>) -> Result<u64, ApiError> {
    let raw = ctx
        .graph
        .get_all("/v1.0/domains?$select=id,isVerified,authenticationType")?;
    let mut domains = Vec::new();
    for d in &raw {
        let Some(mut domain) = map_domain(d) else {
            continue;
        };
        if domain.authentication_type.eq_ignore_ascii_case("Federated") {
            let configs = ctx.graph.get_all(&format!(
                "/v1.0/domains/{}/federationConfiguration",
                domain.id
            ))?;
            // "This API returns only one object in the collection" (the list page).
            domain.federation = configs.first().map(map_federation);
        }
        domains.push(domain);
    }
    let items = domains.len() as u64;
    ctx.snapshot.domains = domains;
    Ok(items)
}

fn map_domain(d: &Map<String, Value>) -> Option<Domain> {
    Some(Domain {
        id: s(d, "id")?.to_ascii_lowercase(),
        is_verified: b(d, "isVerified").unwrap_or(false),
        authentication_type: s(d, "authenticationType").unwrap_or_else(|| "Managed".into()),
        federation: None,
    })
}

fn map_federation(f: &Map<String, Value>) -> DomainFederation {
    let der = s(f, "signingCertificate").and_then(|c| {
        base64::engine::general_purpose::STANDARD
            .decode(c.split_whitespace().collect::<String>())
            .ok()
    });
    DomainFederation {
        display_name: s(f, "displayName"),
        issuer_uri: s(f, "issuerUri"),
        passive_sign_in_uri: s(f, "passiveSignInUri"),
        preferred_authentication_protocol: s(f, "preferredAuthenticationProtocol"),
        federated_idp_mfa_behavior: s(f, "federatedIdpMfaBehavior"),
        signing_certificate_sha256: der.as_deref().map(fingerprint),
        signing_certificate_not_after: der.as_deref().and_then(not_after),
    }
}

/// SHA-256 of the DER certificate, upper-case hex (what `certutil`/`openssl x509
/// -fingerprint -sha256` print, without colons).
pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// One DER TLV: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The certificate's notAfter (RFC 5280 §4.1: Certificate → TBSCertificate → [0] version,
/// serial, signature, issuer, validity { notBefore, notAfter }).
pub(crate) fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = tlv(rest)?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, text, _) = tlv(after_not_before)?;
    let text = std::str::from_utf8(text).ok()?;
    let text = text.strip_suffix('Z')?;
    let full = match tag {
        // UTCTime: YY ≥ 50 is 19YY (RFC 5280 §4.1.2.5.1).
        0x17 => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 => text.to_owned(),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::test_object;
    use serde_json::json;

    /// A minimal DER certificate skeleton with the given validity.
    fn cert(not_after: &[u8], tag: u8) -> Vec<u8> {
        fn wrap(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag, body.len() as u8];
            v.extend_from_slice(body);
            v
        }
        let validity = [wrap(0x17, b"250101000000Z"), wrap(tag, not_after)].concat();
        let tbs = [
            wrap(0xa0, &wrap(0x02, &[2])),
            wrap(0x02, &[1]),
            wrap(0x30, &[]),
            wrap(0x30, &[]),
            wrap(0x30, &validity),
        ]
        .concat();
        wrap(0x30, &wrap(0x30, &tbs))
    }

    #[test]
    fn not_after_reads_utc_and_generalized_time() {
        let t = not_after(&cert(b"270630120000Z", 0x17)).unwrap();
        assert_eq!(t.to_rfc3339(), "2027-06-30T12:00:00+00:00");
        let t = not_after(&cert(b"20510101000000Z", 0x18)).unwrap();
        assert_eq!(t.to_rfc3339(), "2051-01-01T00:00:00+00:00");
        assert_eq!(not_after(b"\x30\x05garbage"), None);
        assert_eq!(not_after(&[]), None);
    }

    #[test]
    fn federation_keeps_the_fingerprint_not_the_certificate() {
        let der = cert(b"270630120000Z", 0x17);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let f = map_federation(&test_object(json!({
            "@odata.type": "#microsoft.graph.internalDomainFederation",
            "id": "6601d14b-d113-8f64-fda2-9b5ddda18ecc",
            "displayName": "Contoso",
            "issuerUri": "http://contoso.com/adfs/services/trust",
            "passiveSignInUri": "https://sts.contoso.com/adfs/ls",
            "preferredAuthenticationProtocol": "wsFed",
            "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
            "signingCertificate": b64,
        })));
        assert_eq!(
            f.signing_certificate_sha256.as_deref(),
            Some(fingerprint(&der).as_str())
        );
        assert_eq!(
            f.signing_certificate_sha256.as_ref().map(String::len),
            Some(64)
        );
        assert_eq!(
            f.federated_idp_mfa_behavior.as_deref(),
            Some("acceptIfMfaDoneByFederatedIdp")
        );
        assert!(f.signing_certificate_not_after.is_some());
        let text = serde_json::to_string(&f).unwrap();
        assert!(!text.contains(&b64), "{text}");
    }
}
