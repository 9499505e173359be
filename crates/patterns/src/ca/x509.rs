//! The few fields of an X.509 certificate `sister ca` and the HTTPS servers read back: the subject
//! name, the public key, the subject key identifier and the subjectAltNames.
//!
//! A small DER walk, not a general parser (RFC 5280 §4.1):
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
//! tbsCertificate ::= SEQUENCE {
//!     [0] version, serialNumber, signature, issuer Name, validity, subject Name,
//!     subjectPublicKeyInfo, [1] issuerUID?, [2] subjectUID?, [3] extensions? }
//! Name ::= SEQUENCE OF RelativeDistinguishedName (a SET OF SEQUENCE { type OID, value })
//! Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
//! ```
//! Every function returns `None` on DER it does not understand; none can panic on any input.

use std::net::IpAddr;

/// DER tags used here (X.690 §8).
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[0]`, `[3]` (constructed, context-specific): the version and the extensions of a tbsCertificate.
const VERSION: u8 = 0xa0;
const EXTENSIONS: u8 = 0xa3;
/// GeneralName's `[2] dNSName` and `[7] iPAddress` (primitive, context-specific; RFC 5280 §4.2.1.6).
const DNS_NAME: u8 = 0x82;
const IP_ADDRESS: u8 = 0x87;

/// id-ce-subjectKeyIdentifier (2.5.29.14) and id-ce-subjectAltName (2.5.29.17), DER-encoded.
const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// The parts of a certificate, as slices of its DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts<'a> {
    /// The issuer Name, tag and length included (compared byte for byte when chaining, RFC 5280 §7.1).
    pub issuer: &'a [u8],
    /// The subject Name, tag and length included.
    pub subject: &'a [u8],
    /// The SubjectPublicKeyInfo, tag and length included.
    pub public_key: &'a [u8],
    /// The contents of the `[3]` extensions (a SEQUENCE OF Extension), empty if there are none.
    extensions: &'a [u8],
}

/// Split a DER certificate into the parts above.
pub fn parts(der: &[u8]) -> Option<Parts<'_>> {
    let (cert, _) = item(der, SEQUENCE)?;
    let (mut tbs, _) = item(cert, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = skip(tbs)?;
    }
    tbs = skip(tbs)?; // serialNumber
    tbs = skip(tbs)?; // signature algorithm
    let (issuer, rest) = whole(tbs, SEQUENCE)?;
    let rest = skip(rest)?; // validity
    let (subject, rest) = whole(rest, SEQUENCE)?;
    let (public_key, mut rest) = whole(rest, SEQUENCE)?;
    let mut extensions: &[u8] = &[];
    while let Some(&tag) = rest.first() {
        if tag == EXTENSIONS {
            let (explicit, _) = item(rest, EXTENSIONS)?;
            extensions = item(explicit, SEQUENCE)?.0;
            break;
        }
        rest = skip(rest)?; // issuerUniqueID, subjectUniqueID
    }
    Some(Parts {
        issuer,
        subject,
        public_key,
        extensions,
    })
}

impl<'a> Parts<'a> {
    /// The value (inside the OCTET STRING) of the extension `oid`.
    fn extension(&self, oid: &[u8]) -> Option<&'a [u8]> {
        let mut exts = self.extensions;
        while !exts.is_empty() {
            let (ext, rest) = item(exts, SEQUENCE)?;
            exts = rest;
            let (id, mut ext) = item(ext, OID)?;
            if ext.first() == Some(&BOOLEAN) {
                ext = skip(ext)?;
            }
            if id == oid {
                return Some(item(ext, OCTET_STRING)?.0);
            }
        }
        None
    }

    /// The subject key identifier (RFC 5280 §4.2.1.2): what the certificates this CA signs carry as
    /// their authority key identifier, so a verifier finds the right CA.
    pub fn subject_key_id(&self) -> Option<&'a [u8]> {
        let value = self.extension(SUBJECT_KEY_ID)?;
        Some(item(value, OCTET_STRING)?.0)
    }

    /// The DNS names and IP addresses of the subjectAltName extension, as text.
    pub fn alt_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let Some((mut list, _)) = self.extension(SUBJECT_ALT_NAME).and_then(|v| item(v, SEQUENCE)) else {
            return names;
        };
        while let Some(&tag) = list.first() {
            let Some((value, rest)) = item(list, tag) else {
                break;
            };
            list = rest;
            match (tag, value.len()) {
                (DNS_NAME, _) => names.push(String::from_utf8_lossy(value).into_owned()),
                (IP_ADDRESS, 4) => {
                    let b: [u8; 4] = value.try_into().unwrap_or_default();
                    names.push(IpAddr::from(b).to_string());
                }
                (IP_ADDRESS, 16) => {
                    let b: [u8; 16] = value.try_into().unwrap_or_default();
                    names.push(IpAddr::from(b).to_string());
                }
                _ => {} // e-mail addresses, URIs, other names
            }
        }
        names
    }
}

/// One attribute of a Name: its type (an OID, as numbers), the DER tag of its string type, the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub oid: Vec<u64>,
    pub tag: u8,
    pub value: &'a [u8],
}

/// The attributes of a Name (tag and length included), in order; `None` if a relative distinguished
/// name holds more than one attribute (`CN=a+O=b`), which `sister ca` does not rebuild.
pub fn name_attributes(name: &[u8]) -> Option<Vec<Attribute<'_>>> {
    let (mut rdns, _) = item(name, SEQUENCE)?;
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = item(rdns, SET)?;
        rdns = rest;
        let (atv, rest) = item(set, SEQUENCE)?;
        if !rest.is_empty() {
            return None;
        }
        let (oid, value) = item(atv, OID)?;
        let tag = *value.first()?;
        let (text, _) = item(value, tag)?;
        out.push(Attribute {
            oid: oid_arcs(oid)?,
            tag,
            value: text,
        });
    }
    Some(out)
}

/// An OID's content bytes as its numbers: the first byte holds 40 × first + second, then each number
/// in base 128, high bit set on every byte but the last (X.690 §8.19).
fn oid_arcs(b: &[u8]) -> Option<Vec<u64>> {
    let mut arcs = Vec::new();
    let mut n: u64 = 0;
    for (i, &byte) in b.iter().enumerate() {
        n = n.checked_mul(128)? | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (n / 40).min(2);
                arcs.push(first);
                arcs.push(n - 40 * first);
            } else {
                arcs.push(n);
            }
            n = 0;
        } else if i == b.len() - 1 {
            return None;
        }
    }
    (!arcs.is_empty()).then_some(arcs)
}

/// The contents of the DER item at the start of `b` if its tag is `tag`, and what follows it.
fn item(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (head, end) = bounds(b, tag)?;
    Some((b.get(head..end)?, b.get(end..)?))
}

/// The whole DER item (tag, length, contents) at the start of `b` if its tag is `tag`, and what
/// follows it.
fn whole(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (_, end) = bounds(b, tag)?;
    Some((b.get(..end)?, b.get(end..)?))
}

/// Where the contents of the item at the start of `b` start and end, if its tag is `tag`.
fn bounds(b: &[u8], tag: u8) -> Option<(usize, usize)> {
    if *b.first()? != tag {
        return None;
    }
    let (len, head) = length(b)?;
    Some((head, head.checked_add(len)?))
}

/// The length of the item at the start of `b` and where its contents start (X.690 §8.1.3: short form
/// below 128, else the number of length bytes that follow; DER allows no indefinite length).
fn length(b: &[u8]) -> Option<(usize, usize)> {
    match *b.get(1)? {
        n if n < 0x80 => Some((n as usize, 2)),
        n => {
            let k = (n & 0x7f) as usize;
            if k == 0 || k > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..k {
                len = (len << 8) | *b.get(2 + i)? as usize;
            }
            Some((len, 2 + k))
        }
    }
}

fn skip(b: &[u8]) -> Option<&[u8]> {
    whole(b, *b.first()?).map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate() -> rcgen::Certificate {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
                .unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "sister lab");
        params.distinguished_name.push(rcgen::DnType::CommonName, "alice");
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap()
    }

    #[test]
    fn reads_what_rcgen_wrote() {
        let cert = certificate();
        let p = parts(cert.der()).unwrap();
        assert_eq!(p.alt_names(), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(p.subject_key_id().map(<[u8]>::len), Some(20));
        assert_eq!(p.issuer, p.subject, "self-signed");
        let attrs = name_attributes(p.subject).unwrap();
        assert_eq!(attrs[0].oid, [2, 5, 4, 10]);
        assert_eq!(attrs[0].value, b"sister lab");
        assert_eq!(attrs[1].oid, [2, 5, 4, 3]);
        assert_eq!(attrs[1].tag, 0x0c, "UTF8String");
        assert_eq!(attrs[1].value, b"alice");
    }

    #[test]
    fn object_identifiers() {
        // 1.2.840.10045.2.1 (id-ecPublicKey): 2a 86 48 ce 3d 02 01.
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]).unwrap(),
            [1, 2, 840, 10045, 2, 1]
        );
        assert_eq!(oid_arcs(&[0x55, 0x04, 0x03]).unwrap(), [2, 5, 4, 3]);
        assert_eq!(oid_arcs(&[0x86]), None, "a number cut short");
        assert_eq!(oid_arcs(&[]), None);
    }

    #[test]
    fn no_input_panics() {
        let der = certificate().der().to_vec();
        for n in 0..der.len() {
            let cut = &der[..n];
            if let Some(p) = parts(cut) {
                let _ = (p.alt_names(), p.subject_key_id(), name_attributes(p.subject));
            }
            let mut flipped = der.clone();
            flipped[n] ^= 0xff;
            if let Some(p) = parts(&flipped) {
                let _ = (p.alt_names(), p.subject_key_id(), name_attributes(p.subject));
            }
        }
        assert_eq!(parts(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
