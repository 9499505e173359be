//! TLS (RFC 8446 for TLS 1.3, RFC 5246 for 1.2) as a capture shows it to someone without the keys:
//! the handshake's plaintext part, then records whose size and timing are all there is to see.
//!
//! A TLS 1.3 connection, as `openssl s_client -servername localhost -alpn mqtt` shows it:
//!
//! ```text
//!   client                                                  server
//!     ClientHello (SNI localhost, ALPN mqtt, key share x25519, up to TLS 1.3)  ──►
//!     ◄── ServerHello (TLS 1.3, TLS_AES_256_GCM_SHA384, x25519)
//!     ◄── ChangeCipherSpec (only for middleboxes, RFC 8446 Appendix D.4)
//!     ◄── application data ×4   EncryptedExtensions, Certificate, CertificateVerify, Finished:
//!                               encrypted, only their sizes show
//!     ChangeCipherSpec, application data (the client's Finished)  ──►
//!     application data ──►  ◄── application data        the application's bytes, encrypted
//! ```
//!
//! In TLS 1.2 (RFC 5246 §7.3) the server's Certificate, ServerKeyExchange and ServerHelloDone, and
//! the client's ClientKeyExchange, travel in the clear; each side's ChangeCipherSpec says that what
//! it sends next (its Finished first) is encrypted.
//!
//! What to notice:
//! - TLS is recognised by its content on any port: a record header (RFC 8446 §5.1: content type
//!   20-23, version 0x0301-0x0304, a length of at most 2^14 + 2048) holding a ClientHello or a
//!   ServerHello; a capture that began after the handshake, by a run of such headers back to back.
//! - The server name (SNI, RFC 6066 §3) and the application protocols offered (ALPN, RFC 7301) are
//!   in the ClientHello, in the clear, in every version; so are the cipher suite and the version the
//!   server chose (TLS 1.3 is chosen in the ServerHello's `supported_versions`, RFC 8446 §4.2.1: its
//!   `legacy_version` still says 1.2). TLS 1.2 also shows the certificates.
//! - TLS says nothing of what it carries: the port suggests it (8883 is MQTT over TLS), ALPN may
//!   name it, the content cannot be read without the session keys.
//! - Every encrypted record is counted with its size, per direction; a run of them one way is one
//!   message of the report (`application data ×4 (1993 bytes)`).
//!
//! Per direction: records back to back, a handshake message reassembled across records (one may
//! span several, several may share one, RFC 8446 §5.1). A header that breaks the rules, and lost
//! bytes, stop the reading until a segment starts with a record header again; so does a capture's
//! start inside a record.
//!
//! JSON fields of every message: `type` (`ClientHello`, `ServerHello`, `HelloRetryRequest`,
//! `Certificate`..., `ChangeCipherSpec`, `Alert`, `encrypted Alert`, `encrypted handshake message`,
//! `application data`), `record_version`; handshake messages add `handshake_type` (the number, as
//! tshark's `tls.handshake.type`) and what each one says: `version`, `supported_versions`,
//! `server_name`, `alpn`, `cipher_suite`, `cipher_suites`, `key_share`, `extensions` (hellos),
//! `cipher_suite_id` (ServerHello), `certificates`, `subject`, `issuer`, `not_before`,
//! `not_after`, `alt_names`, `chain` (Certificate), `key_exchange` (ServerKeyExchange); alerts
//! `level`, `description` and `description_code`; runs of application data `records`, `bytes`,
//! `record_sizes`, `first_t`, `begins_with` (TLS 1.3's first encrypted run each way: the rest of
//! the handshake). What the whole connection showed is the conversation's `tls`
//! ([`crate::report::TlsSession`]).

use std::collections::BTreeMap;

use super::{cut, Dissector, Messages, Msg, Note, Step};
use crate::report::{Direction, Side, TlsAlert, TlsCertificate, TlsRecords, TlsSession};

/// The protocol's name in the report (tshark's Protocol column says `TLSv1.3`, `TLSv1.2`).
pub const PROTOCOL: &str = "TLS";

/// A record header: content type (1), legacy record version (2), length (2) (RFC 8446 §5.1).
pub const HEADER: usize = 5;
/// The longest record body: RFC 5246 §6.2.3 allows a TLS 1.2 ciphertext 2^14 + 2048 bytes (TLS 1.3,
/// RFC 8446 §5.2, only 2^14 + 256). A header announcing more is not TLS.
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// The largest handshake message held while its records arrive (a certificate chain is a few KiB).
/// A larger one is named from its header and skipped.
const MAX_HANDSHAKE: usize = 64 * 1024;
/// At most this many notes (broken headers) per conversation, alerts kept in the summary,
/// certificates of a chain read, and record sizes listed in a run's `record_sizes`.
const MAX_NOTES: usize = 16;
const MAX_ALERTS: usize = 16;
const MAX_CERTIFICATES: usize = 8;
const MAX_SIZES_LISTED: usize = 16;

// Content types (RFC 8446 §5.1; heartbeat is RFC 6520's).
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

// Handshake types (RFC 8446 §4, RFC 5246 §7.4).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;

/// The ServerHello.random that makes it a HelloRetryRequest: SHA-256 of "HelloRetryRequest"
/// (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
/// The last 8 bytes of the ServerHello.random of a TLS 1.3 server that negotiates 1.2 (`DOWNGRD`
/// then 1) or less (then 0), so that a 1.3 client detects a downgrade (RFC 8446 §4.1.3).
const DOWNGRADE_SENTINEL: [u8; 7] = *b"DOWNGRD";

const TLS_1_3: u16 = 0x0304;

fn side_of(d: Direction) -> Side {
    match d {
        Direction::ClientToServer => Side::Client,
        Direction::ServerToClient => Side::Server,
    }
}

// ---------------------------------------------------------------------------------------------
// Record headers and detection.

/// A record header (RFC 8446 §5.1, RFC 5246 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    /// `legacy_record_version`: 0x0301 in a first ClientHello, 0x0303 in everything else, TLS 1.3
    /// included (RFC 8446 §5.1).
    pub version: u16,
    pub length: usize,
}

impl RecordHeader {
    /// The header at the start of `b`, if it is one a TLS peer could send: a known content type,
    /// version 0x0301-0x0304, a length of at most [`MAX_RECORD`], and no empty handshake, alert or
    /// ChangeCipherSpec record (RFC 8446 §5.1: only application data may be empty).
    pub fn parse(b: &[u8]) -> Option<RecordHeader> {
        let b = b.get(..HEADER)?;
        let h = RecordHeader {
            content_type: b[0],
            version: u16::from_be_bytes([b[1], b[2]]),
            length: usize::from(u16::from_be_bytes([b[3], b[4]])),
        };
        let sane = (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&h.content_type)
            && (0x0301..=0x0304).contains(&h.version)
            && h.length <= MAX_RECORD
            && (h.length > 0 || h.content_type == APPLICATION_DATA);
        sane.then_some(h)
    }
}

/// Could `b` (shorter than a header) be the start of one, with a content type up to `last_type`?
/// Detection uses the four types of RFC 8446 §5.1; reading also knows heartbeat (RFC 6520).
fn header_prefix(b: &[u8], last_type: u8) -> bool {
    b.first()
        .is_none_or(|t| (CHANGE_CIPHER_SPEC..=last_type).contains(t))
        && b.get(1).is_none_or(|&v| v == 3)
        && b.get(2).is_none_or(|v| (1..=4).contains(v))
}

/// What the first bytes of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    Tls,
    NotTls,
    /// A prefix of a TLS start: wait for more bytes.
    NeedMore,
}

/// Bytes of a connection's first record needed to decide: the header, the handshake header and the
/// hello's version.
pub const SNIFF_LEN: usize = HEADER + 4 + 2;

/// The start of a TLS connection, in whichever direction the capture shows first: a handshake
/// record whose first message is a ClientHello or a ServerHello, with a hello's version (major 3)
/// and a length that can hold one (RFC 8446 §4.1.2: 2 + 32 + 1 + 2 + 1 bytes at the least).
pub fn sniff_hello(b: &[u8]) -> Sniff {
    if b.len() < SNIFF_LEN {
        let plausible = header_prefix(b, APPLICATION_DATA)
            && b.first().is_none_or(|&t| t == HANDSHAKE)
            && (b.len() < HEADER || RecordHeader::parse(b).is_some_and(|h| h.length >= 4))
            && b.get(5).is_none_or(|t| matches!(*t, CLIENT_HELLO | SERVER_HELLO))
            && b.get(9).is_none_or(|&v| v == 3);
        return if plausible { Sniff::NeedMore } else { Sniff::NotTls };
    }
    let Some(h) = RecordHeader::parse(b) else {
        return Sniff::NotTls;
    };
    let hello_len = u32::from_be_bytes([0, b[6], b[7], b[8]]);
    let tls = h.content_type == HANDSHAKE
        && h.length >= 4
        && matches!(b[5], CLIENT_HELLO | SERVER_HELLO)
        && (38..1 << 17).contains(&hello_len)
        && b[9] == 3;
    if tls {
        Sniff::Tls
    } else {
        Sniff::NotTls
    }
}

/// Does `b` (what one delivery holds: a segment, mostly) start with a run of TLS records: every
/// header sane, back to back to the end of `b`, the last record perhaps cut by that end? This is how
/// a connection whose handshake was not captured is recognised (application data records: type 23,
/// version 0x0303), and where reading starts again after lost bytes.
pub fn starts_record_run(b: &[u8]) -> bool {
    let mut at = 0;
    let mut records = 0;
    while at < b.len() {
        let rest = &b[at..];
        if rest.len() < HEADER {
            return records > 0 && header_prefix(rest, APPLICATION_DATA);
        }
        let Some(h) = RecordHeader::parse(rest) else {
            return false;
        };
        // Detection keeps to the four types of RFC 8446 §5.1.
        if h.content_type == HEARTBEAT {
            return false;
        }
        records += 1;
        at += HEADER + h.length;
    }
    records > 0
}

// ---------------------------------------------------------------------------------------------
// Names (IANA's TLS registries).

/// `TLS 1.3`, `TLS 1.2`, ..., `GREASE` (RFC 8701), or the value in hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v if is_grease(v) => "GREASE".into(),
        v if v >> 8 == 0x7f => format!("TLS 1.3 draft {}", v & 0xff),
        v => format!("0x{v:04x}"),
    }
}

/// GREASE values (RFC 8701 §2): `0x?a?a` with both bytes equal, sent to keep peers tolerant of
/// values they do not know; they mean nothing and are left out of the lists shown.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// IANA's name of a cipher suite, for the common ones: TLS 1.3's (RFC 8446 §B.4), the ECDHE and
/// DHE AEAD suites of TLS 1.2 (RFC 5289, RFC 7905, RFC 5288), and the CBC and RSA ones OpenSSL
/// still offers.
pub fn cipher_suite_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccaa => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x0067 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x006b => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        // Not suites but signals (RFC 5746 §3.3, RFC 7507 §2).
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x5600 => "TLS_FALLBACK_SCSV",
        _ => return None,
    })
}

/// A cipher suite as shown: its name, or `0x....`.
pub fn cipher_suite(id: u16) -> String {
    match cipher_suite_name(id) {
        Some(n) => n.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// A key exchange group (IANA's TLS Supported Groups; RFC 8446 §4.2.7).
pub fn group_name(id: u16) -> String {
    match id {
        0x0017 => "secp256r1".into(),
        0x0018 => "secp384r1".into(),
        0x0019 => "secp521r1".into(),
        0x001d => "x25519".into(),
        0x001e => "x448".into(),
        0x0100 => "ffdhe2048".into(),
        0x0101 => "ffdhe3072".into(),
        0x0102 => "ffdhe4096".into(),
        0x11ec => "X25519MLKEM768".into(),
        0x6399 => "X25519Kyber768Draft00".into(),
        v if is_grease(v) => "GREASE".into(),
        v => format!("0x{v:04x}"),
    }
}

/// A handshake message's name (RFC 8446 §4, RFC 5246 §7.4, RFC 6066 §8 for CertificateStatus).
pub fn handshake_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        24 => "KeyUpdate",
        254 => "message_hash",
        _ => return None,
    })
}

/// An alert's description (RFC 8446 §6, RFC 5246 §7.2).
pub fn alert_description(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// An extension's name, for the hellos' `extensions` field (IANA's TLS ExtensionType Values).
fn extension_name(t: u16) -> String {
    match t {
        0 => "server_name".into(),
        5 => "status_request".into(),
        10 => "supported_groups".into(),
        11 => "ec_point_formats".into(),
        13 => "signature_algorithms".into(),
        16 => "application_layer_protocol_negotiation".into(),
        18 => "signed_certificate_timestamp".into(),
        21 => "padding".into(),
        22 => "encrypt_then_mac".into(),
        23 => "extended_master_secret".into(),
        27 => "compress_certificate".into(),
        35 => "session_ticket".into(),
        41 => "pre_shared_key".into(),
        42 => "early_data".into(),
        43 => "supported_versions".into(),
        44 => "cookie".into(),
        45 => "psk_key_exchange_modes".into(),
        49 => "post_handshake_auth".into(),
        50 => "signature_algorithms_cert".into(),
        51 => "key_share".into(),
        0xfe0d => "encrypted_client_hello".into(),
        0xff01 => "renegotiation_info".into(),
        v if is_grease(v) => "GREASE".into(),
        v => format!("0x{v:04x}"),
    }
}

/// The application protocol a server port suggests when it speaks TLS: IANA's port numbers of the
/// protocols' TLS variants (and 8443, HTTPS's usual second port). The lab's own ports (LAB.md) carry
/// no TLS, so none of them is here.
pub fn port_suggests(port: u16) -> Option<&'static str> {
    Some(match port {
        443 | 8443 => "HTTP",
        8883 => "MQTT",
        5671 => "AMQP",
        993 => "IMAP",
        995 => "POP3",
        465 => "SMTP",
        853 => "DNS",
        636 => "LDAP",
        990 => "FTP",
        5061 => "SIP",
        6697 => "IRC",
        684 => "IIOP",
        5986 => "WS-Management",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading the handshake's structures (RFC 8446 §3: vectors with a 1-, 2- or 3-byte length).

/// A cursor over bytes; every read is bounds-checked and `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize)
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Text from the wire as the report shows it: control characters escaped, cut at `max`.
fn shown(b: &[u8], max: usize) -> String {
    cut(&wire::escape::show(b), max)
}

/// What a hello's extensions say (only those sister shows).
#[derive(Debug, Default)]
struct Extensions {
    /// Every extension's type, in order.
    types: Vec<u16>,
    /// server_name's host_name (RFC 6066 §3).
    server_name: Option<String>,
    /// ALPN's protocol names (RFC 7301 §3.1).
    alpn: Vec<String>,
    /// supported_versions (RFC 8446 §4.2.1): the client's list, or the server's one choice.
    versions: Vec<u16>,
    /// key_share (RFC 8446 §4.2.8): the groups of the client's shares, the server's share, or the
    /// group a HelloRetryRequest asks for.
    groups: Vec<u16>,
}

/// Read `extensions<..2^16-1>` of a hello; `client`: the ClientHello's forms (lists) rather than
/// the ServerHello's (one value; a HelloRetryRequest's key_share is a group alone, a ServerHello's
/// a group and a key: both begin with the group).
fn extensions(r: &mut Reader<'_>, client: bool) -> Option<Extensions> {
    let mut e = Extensions::default();
    if r.is_empty() {
        // Hellos before TLS 1.2 may have no extensions at all (RFC 5246 §7.4.1.2).
        return Some(e);
    }
    let mut all = Reader(r.vec16()?);
    while !all.is_empty() {
        let ty = all.u16()?;
        let mut data = Reader(all.vec16()?);
        e.types.push(ty);
        match ty {
            0 if client => {
                let mut list = Reader(data.vec16()?);
                while !list.is_empty() {
                    let kind = list.u8()?;
                    let name = list.vec16()?;
                    if kind == 0 && e.server_name.is_none() {
                        e.server_name = Some(shown(name, 255));
                    }
                }
            }
            16 => {
                let mut list = Reader(data.vec16()?);
                while !list.is_empty() {
                    e.alpn.push(shown(list.vec8()?, 64));
                }
            }
            43 if client => {
                let mut list = Reader(data.vec8()?);
                while !list.is_empty() {
                    e.versions.push(list.u16()?);
                }
            }
            43 => e.versions.push(data.u16()?),
            51 if client => {
                let mut list = Reader(data.vec16()?);
                while !list.is_empty() {
                    e.groups.push(list.u16()?);
                    list.vec16()?;
                }
            }
            51 => e.groups.push(data.u16()?),
            _ => {}
        }
    }
    Some(e)
}

/// A ClientHello (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2 has the same layout).
#[derive(Debug)]
struct ClientHello {
    version: u16,
    suites: Vec<u16>,
    ext: Extensions,
}

fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader(body);
    let version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // legacy_session_id
    let mut list = Reader(r.vec16()?);
    let mut suites = Vec::new();
    while !list.is_empty() {
        suites.push(list.u16()?);
    }
    r.vec8()?; // legacy_compression_methods
    let ext = extensions(&mut r, true)?;
    Some(ClientHello { version, suites, ext })
}

/// A ServerHello, or a HelloRetryRequest (the same message with the special random, RFC 8446
/// §4.1.3).
#[derive(Debug)]
struct ServerHello {
    version: u16,
    retry: bool,
    /// The last byte of a downgrade sentinel (§4.1.3), when the random ends with one.
    downgrade: Option<u8>,
    suite: u16,
    ext: Extensions,
}

impl ServerHello {
    /// The version chosen: supported_versions when present, else the legacy version.
    fn chosen(&self) -> u16 {
        self.ext.versions.first().copied().unwrap_or(self.version)
    }
}

fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader(body);
    let version = r.u16()?;
    let random = r.take(32)?;
    let retry = random == HELLO_RETRY_RANDOM;
    let downgrade = (random[24..31] == DOWNGRADE_SENTINEL).then_some(random[31]);
    r.vec8()?; // legacy_session_id_echo
    let suite = r.u16()?;
    r.u8()?; // legacy_compression_method
    let ext = extensions(&mut r, false)?;
    Some(ServerHello {
        version,
        retry,
        downgrade,
        suite,
        ext,
    })
}

/// The certificates of a Certificate message: TLS 1.2's `certificate_list<0..2^24-1>` of DER
/// certificates (RFC 5246 §7.4.2), or TLS 1.3's request context and entries with extensions
/// (RFC 8446 §4.4.2). Returns how many there are and the first [`MAX_CERTIFICATES`], read.
fn certificates(body: &[u8], tls13: bool) -> Option<(usize, Vec<TlsCertificate>)> {
    let mut r = Reader(body);
    if tls13 {
        r.vec8()?; // certificate_request_context
    }
    let mut list = Reader(r.vec24()?);
    let mut n = 0;
    let mut read = Vec::new();
    while !list.is_empty() {
        let der = list.vec24()?;
        if tls13 {
            list.vec16()?; // the entry's extensions
        }
        n += 1;
        if read.len() < MAX_CERTIFICATES {
            let mut c = x509::read(der).unwrap_or_default();
            c.size = der.len() as u64;
            read.push(c);
        }
    }
    Some((n, read))
}

// ---------------------------------------------------------------------------------------------
// X.509, the few fields a student checks (RFC 5280 §4.1), by a small DER walk (X.690 §8, §10).

mod x509 {
    use super::shown;
    use crate::report::TlsCertificate;

    /// One DER element at a time: tag and contents.
    struct Der<'a>(&'a [u8]);

    impl<'a> Der<'a> {
        fn next(&mut self) -> Option<(u8, &'a [u8])> {
            let b = self.0;
            let tag = *b.first()?;
            if tag & 0x1f == 0x1f {
                return None; // high tag numbers: not in the fields read here
            }
            let first = *b.get(1)?;
            let (len, head) = if first < 0x80 {
                (usize::from(first), 2)
            } else {
                let n = usize::from(first & 0x7f);
                // 0x80 is BER's indefinite length, which DER forbids (X.690 §10.1).
                if n == 0 || n > 4 {
                    return None;
                }
                let bytes = b.get(2..2 + n)?;
                (bytes.iter().fold(0usize, |a, &x| a << 8 | usize::from(x)), 2 + n)
            };
            let body = b.get(head..head.checked_add(len)?)?;
            self.0 = &b[head + len..];
            Some((tag, body))
        }
        fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
            let (t, v) = self.next()?;
            (t == tag).then_some(v)
        }
    }

    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    // id-at-commonName, organizationName, organizationalUnitName (RFC 5280 Appendix A.1).
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    // id-ce-subjectAltName (RFC 5280 §4.2.1.6).
    const SAN: &[u8] = &[0x55, 0x1d, 0x11];

    /// The subject, issuer, validity and subjectAltName of a DER certificate.
    pub fn read(der: &[u8]) -> Option<TlsCertificate> {
        let cert = Der(der).expect(SEQUENCE)?;
        let tbs = Der(cert).expect(SEQUENCE)?;
        let mut t = Der(tbs);
        let (mut tag, _) = t.next()?;
        if tag == 0xa0 {
            // version [0] EXPLICIT, then serialNumber
            (tag, _) = t.next()?;
        }
        if tag != 0x02 {
            return None;
        }
        t.expect(SEQUENCE)?; // signature AlgorithmIdentifier
        let issuer = t.expect(SEQUENCE)?;
        let mut validity = Der(t.expect(SEQUENCE)?);
        let subject = t.expect(SEQUENCE)?;
        t.expect(SEQUENCE)?; // subjectPublicKeyInfo
        let mut c = TlsCertificate {
            subject: name(subject),
            issuer: name(issuer),
            not_before: validity.next().and_then(time),
            not_after: validity.next().and_then(time),
            ..TlsCertificate::default()
        };
        // issuerUniqueID [1], subjectUniqueID [2], extensions [3] EXPLICIT.
        while let Some((tag, v)) = t.next() {
            if tag == 0xa3 {
                c.alt_names = alt_names(v).unwrap_or_default();
            }
        }
        Some(c)
    }

    /// `CN=localhost` (and `O=`, `OU=` when there is no CN) of a Name (RFC 5280 §4.1.2.4).
    fn name(b: &[u8]) -> Option<String> {
        let mut found: Vec<(usize, String)> = Vec::new();
        let mut rdns = Der(b);
        while let Some((tag, set)) = rdns.next() {
            if tag != SET {
                return None;
            }
            let mut atvs = Der(set);
            while let Some((_, atv)) = atvs.next() {
                let mut a = Der(atv);
                let oid = a.expect(OID)?;
                let Some(rank) = [CN, O, OU].iter().position(|k| *k == oid) else {
                    continue;
                };
                let (tag, value) = a.next()?;
                let label = ["CN", "O", "OU"][rank];
                found.push((rank, format!("{label}={}", string(tag, value))));
            }
        }
        let best = found.iter().map(|f| f.0).min()?;
        Some(
            found
                .into_iter()
                .filter(|f| f.0 == best)
                .map(|f| f.1)
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// A DirectoryString's text: UTF8String, PrintableString, IA5String as they are,
    /// TeletexString as Latin-1, BMPString as UTF-16.
    fn string(tag: u8, v: &[u8]) -> String {
        match tag {
            0x14 => v.iter().map(|&b| char::from(b)).take(64).collect(),
            0x1e => {
                let units: Vec<u16> = v
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                shown(String::from_utf16_lossy(&units).as_bytes(), 64)
            }
            _ => shown(v, 64),
        }
    }

    /// A Time (RFC 5280 §4.1.2.5) as ISO 8601: UTCTime's two-digit years are 1950-2049.
    fn time((tag, v): (u8, &[u8])) -> Option<String> {
        let s = std::str::from_utf8(v).ok()?;
        let digits = s.strip_suffix('Z')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let full = match (tag, digits.len()) {
            (0x17, 12) => {
                let yy: u32 = digits[..2].parse().ok()?;
                format!("{}{digits}", if yy >= 50 { "19" } else { "20" })
            }
            (0x18, 14) => digits.to_string(),
            _ => return None,
        };
        Some(format!(
            "{}-{}-{}T{}:{}:{}Z",
            &full[..4],
            &full[4..6],
            &full[6..8],
            &full[8..10],
            &full[10..12],
            &full[12..14]
        ))
    }

    /// The dNSName and iPAddress entries of the subjectAltName extension, if any.
    fn alt_names(explicit: &[u8]) -> Option<Vec<String>> {
        let mut exts = Der(Der(explicit).expect(SEQUENCE)?);
        while let Some((_, ext)) = exts.next() {
            let mut e = Der(ext);
            if e.expect(OID)? != SAN {
                continue;
            }
            let (mut tag, mut value) = e.next()?;
            if tag == 0x01 {
                (tag, value) = e.next()?; // critical
            }
            if tag != 0x04 {
                return None;
            }
            let mut names = Der(Der(value).expect(SEQUENCE)?);
            let mut out = Vec::new();
            while let Some((tag, v)) = names.next() {
                match (tag, v.len()) {
                    (0x82, _) => out.push(shown(v, 64)),
                    (0x87, 4) => out.push(std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]).to_string()),
                    (0x87, 16) => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(v);
                        out.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                    _ => {}
                }
                if out.len() >= 8 {
                    break;
                }
            }
            return Some(out);
        }
        Some(Vec::new())
    }
}

// ---------------------------------------------------------------------------------------------
// The dissector.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Reading records back to back.
    #[default]
    Reading,
    /// Waiting for a delivery that starts with a record header: a capture that began inside the
    /// connection, after lost bytes, or after a header that broke the rules.
    Seeking,
}

#[derive(Default)]
struct Half {
    state: State,
    /// The start of an unfinished record (its header included): at most `HEADER + MAX_RECORD`.
    buf: Vec<u8>,
    /// Stream offset of the next record (of `buf[0]` when `buf` is not empty).
    offset: u64,
    /// The start of a handshake message whose last byte has not arrived: at most `MAX_HANDSHAKE`.
    hs: Vec<u8>,
    /// Stream offset of `hs[0]`.
    hs_offset: u64,
    /// Bytes still to drop of a handshake message too large to hold.
    hs_skip: usize,
    /// This side sent ChangeCipherSpec (TLS 1.2 and earlier): its records are encrypted from then on
    /// (RFC 5246 §7.1), so a handshake record is its Finished, an alert's content is hidden.
    encrypted: bool,
    /// Encrypted handshake records since this side's ChangeCipherSpec: the first is its Finished.
    after_ccs: u64,
    /// TLS 1.3: this side's next run of application data is its first after the ServerHello, which
    /// begins with the rest of its handshake.
    flight_pending: bool,
}

/// Application data records sent one way back to back, reported as one message.
struct Run {
    dir: Direction,
    records: u64,
    bytes: u64,
    sizes: Vec<usize>,
    t_first: f64,
    t: f64,
    offset: u64,
    end: u64,
    /// TLS 1.3's first run after the ServerHello: what it begins with.
    begins_with: Option<&'static str>,
}

/// The TLS dissector of one connection.
pub struct Tls {
    halves: [Half; 2],
    run: Option<Run>,
    /// What the report says of the connection (the summary is written at the end).
    session: TlsSession,
    /// The version the ServerHello (or a HelloRetryRequest) chose.
    version: Option<u16>,
    /// The cipher suite chosen, for reading a ServerKeyExchange.
    suite: Option<u16>,
    /// When the first ClientHello was seen, until a ServerHello (or an alert) answers it.
    unanswered_hello: Option<f64>,
    notes: Vec<Note>,
    server_port: u16,
}

impl Tls {
    /// `server_port`: what the port suggests TLS carries; `mid_stream`: the connection was open
    /// before the capture began, so its first bytes may be the middle of a record.
    pub fn new(server_port: u16, mid_stream: bool) -> Self {
        let state = if mid_stream {
            State::Seeking
        } else {
            State::Reading
        };
        let mut t = Tls {
            halves: [Half::default(), Half::default()],
            run: None,
            session: TlsSession {
                port_suggests: port_suggests(server_port).map(str::to_string),
                ..TlsSession::default()
            },
            version: None,
            suite: None,
            unanswered_hello: None,
            notes: Vec::new(),
            server_port,
        };
        t.halves[0].state = state;
        t.halves[1].state = state;
        t
    }

    fn tls13(&self) -> bool {
        self.version == Some(TLS_1_3)
    }

    fn records(&mut self, d: usize) -> &mut TlsRecords {
        if d == 0 {
            &mut self.session.client_records
        } else {
            &mut self.session.server_records
        }
    }

    fn note(&mut self, n: Note) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(n);
        }
    }

    /// A header broke the rules: say so, and wait for a segment that starts with a record.
    fn lose_sync(&mut self, d: usize, t: f64, what: String) {
        let h = &mut self.halves[d];
        h.state = State::Seeking;
        h.buf.clear();
        h.hs.clear();
        h.hs_skip = 0;
        self.note(Note::Malformed { t, what });
    }

    /// One whole record (`rec`: header and body) of direction `d`, at stream offset `offset`.
    fn record(&mut self, d: usize, t: f64, offset: u64, rec: &[u8], out: &mut Messages) {
        let Some(h) = RecordHeader::parse(rec) else {
            return;
        };
        let body = &rec[HEADER..];
        let dir = Direction::from_index(d);
        self.records(d).records += 1;
        match h.content_type {
            APPLICATION_DATA => {
                let c = self.records(d);
                c.application_data += 1;
                c.application_data_bytes += body.len() as u64;
                c.encrypted += 1;
                self.extend_run(d, t, offset, rec.len(), body.len(), out);
            }
            HANDSHAKE => {
                self.records(d).handshake += 1;
                if self.halves[d].encrypted {
                    self.records(d).encrypted += 1;
                    self.flush_run(out);
                    self.encrypted_handshake(d, t, offset, rec, out);
                } else {
                    self.handshake_fragment(d, t, offset + HEADER as u64, body, h.version, out);
                }
            }
            CHANGE_CIPHER_SPEC => {
                self.records(d).change_cipher_spec += 1;
                self.flush_run(out);
                // TLS 1.3 sends it only to look like a resumed 1.2 session to middleboxes and
                // changes nothing (RFC 8446 Appendix D.4); before 1.3 what follows is encrypted.
                let compat = self.version.is_some_and(|v| v >= TLS_1_3);
                if !compat {
                    self.halves[d].encrypted = true;
                    self.halves[d].after_ccs = 0;
                }
                if out.wants_detail() {
                    let summary = if compat {
                        "ChangeCipherSpec (middlebox compatibility only, RFC 8446 D.4)"
                    } else {
                        "ChangeCipherSpec (what follows is encrypted)"
                    };
                    out.push(msg(
                        t,
                        dir,
                        offset,
                        rec.len(),
                        "ChangeCipherSpec",
                        summary.into(),
                        h.version,
                    ));
                } else {
                    out.count(dir, PROTOCOL, None);
                }
            }
            ALERT => {
                self.records(d).alert += 1;
                self.flush_run(out);
                self.alert(d, t, offset, rec, out);
            }
            _ => {
                // Heartbeat (RFC 6520): counted, shown by size.
                self.flush_run(out);
                if out.wants_detail() {
                    let s = format!("heartbeat ({} bytes)", body.len());
                    out.push(msg(t, dir, offset, rec.len(), "heartbeat", s, h.version));
                } else {
                    out.count(dir, PROTOCOL, None);
                }
            }
        }
    }

    fn alert(&mut self, d: usize, t: f64, offset: u64, rec: &[u8], out: &mut Messages) {
        let dir = Direction::from_index(d);
        let body = &rec[HEADER..];
        // A plaintext alert is two bytes, level and description (RFC 8446 §6); one sent after the
        // sender's ChangeCipherSpec (1.2) is encrypted, and longer (the AEAD's nonce and tag).
        let plain = !self.halves[d].encrypted && body.len() == 2;
        if !plain {
            self.records(d).encrypted += 1;
        }
        let (level, description) = if plain {
            let level = match body[0] {
                1 => "warning".to_string(),
                2 => "fatal".to_string(),
                n => format!("level {n}"),
            };
            let desc = alert_description(body[1])
                .map(str::to_string)
                .unwrap_or_else(|| format!("description {}", body[1]));
            (Some(level), Some(desc))
        } else {
            (None, None)
        };
        if self.session.alerts.len() < MAX_ALERTS {
            self.session.alerts.push(TlsAlert {
                t,
                by: side_of(dir),
                level: level.clone(),
                description: description.clone(),
                encrypted: !plain,
            });
        }
        if dir == Direction::ServerToClient {
            self.unanswered_hello = None;
        }
        if out.closed_by.is_none() {
            out.closed_by = Some(Step {
                t,
                direction: dir,
                message: if plain { "Alert" } else { "encrypted Alert" },
            });
        }
        if !out.wants_detail() {
            out.count(dir, PROTOCOL, None);
            return;
        }
        let mut m = if let (Some(level), Some(desc)) = (&level, &description) {
            let mut m = msg(
                t,
                dir,
                offset,
                rec.len(),
                "Alert",
                format!("Alert {level} {desc}"),
                0,
            );
            m.fields.insert("level".into(), level.clone());
            m.fields.insert("description".into(), desc.clone());
            m.fields.insert("description_code".into(), body[1].to_string());
            m
        } else {
            let s = format!("encrypted Alert ({} bytes)", body.len());
            msg(t, dir, offset, rec.len(), "encrypted Alert", s, 0)
        };
        m.fields.insert("record_version".into(), record_version(rec));
        out.push(m);
    }

    /// A handshake record after the sender's ChangeCipherSpec (TLS 1.2): encrypted. The first one is
    /// the sender's Finished (RFC 5246 §7.4.9); any later one a renegotiation's.
    fn encrypted_handshake(&mut self, d: usize, t: f64, offset: u64, rec: &[u8], out: &mut Messages) {
        let dir = Direction::from_index(d);
        let h = &mut self.halves[d];
        let first = h.after_ccs == 0;
        h.after_ccs += 1;
        if !out.wants_detail() {
            out.count(dir, PROTOCOL, None);
            return;
        }
        let summary = if first {
            format!(
                "encrypted handshake message (Finished, {} bytes)",
                rec.len() - HEADER
            )
        } else {
            format!("encrypted handshake message ({} bytes)", rec.len() - HEADER)
        };
        let mut m = msg(
            t,
            dir,
            offset,
            rec.len(),
            "encrypted handshake message",
            summary,
            0,
        );
        m.fields.insert("record_version".into(), record_version(rec));
        out.push(m);
    }

    /// The body of a plaintext handshake record (`off`: its stream offset): whole handshake messages
    /// in it are read at once, a message cut by the record's end is held until its last byte.
    fn handshake_fragment(
        &mut self,
        d: usize,
        t: f64,
        mut off: u64,
        mut frag: &[u8],
        version: u16,
        out: &mut Messages,
    ) {
        loop {
            let h = &mut self.halves[d];
            if h.hs_skip > 0 {
                let n = h.hs_skip.min(frag.len());
                h.hs_skip -= n;
                frag = &frag[n..];
                off += n as u64;
            }
            if frag.is_empty() {
                return;
            }
            if h.hs.is_empty() {
                if frag.len() >= 4 {
                    let total = 4 + u24(&frag[1..4]);
                    if frag.len() >= total {
                        self.handshake_message(d, t, off, total, &frag[..total], version, out);
                        frag = &frag[total..];
                        off += total as u64;
                        continue;
                    }
                    if total > MAX_HANDSHAKE {
                        h.hs_skip = total - frag.len();
                        self.too_large(d, t, off, frag[0], total, version, out);
                        return;
                    }
                }
                h.hs.extend_from_slice(frag);
                h.hs_offset = off;
                return;
            }
            if h.hs.len() < 4 {
                let n = (4 - h.hs.len()).min(frag.len());
                h.hs.extend_from_slice(&frag[..n]);
                frag = &frag[n..];
                off += n as u64;
                if h.hs.len() < 4 {
                    return;
                }
            }
            let total = 4 + u24(&h.hs[1..4]);
            if total > MAX_HANDSHAKE {
                let (ty, start) = (h.hs[0], h.hs_offset);
                h.hs_skip = total - h.hs.len();
                h.hs.clear();
                self.too_large(d, t, start, ty, total, version, out);
                continue;
            }
            let n = (total - h.hs.len()).min(frag.len());
            h.hs.extend_from_slice(&frag[..n]);
            frag = &frag[n..];
            off += n as u64;
            if h.hs.len() < total {
                return;
            }
            let whole = std::mem::take(&mut h.hs);
            let start = h.hs_offset;
            self.handshake_message(d, t, start, (off - start) as usize, &whole, version, out);
            let mut whole = whole;
            whole.clear();
            self.halves[d].hs = whole;
        }
    }

    /// A handshake message too large to hold: named from its header, its bytes skipped.
    #[allow(clippy::too_many_arguments)]
    fn too_large(
        &mut self,
        d: usize,
        t: f64,
        off: u64,
        ty: u8,
        total: usize,
        version: u16,
        out: &mut Messages,
    ) {
        let dir = Direction::from_index(d);
        self.flush_run(out);
        self.records(d).handshake_messages += 1;
        if !out.wants_detail() {
            out.count(dir, PROTOCOL, None);
            return;
        }
        let name = handshake_name(ty).unwrap_or("handshake message");
        let summary = format!("{name} ({} bytes, too large to read)", total - 4);
        let mut m = msg(t, dir, off, total, name, summary, version);
        m.fields.insert("handshake_type".into(), ty.to_string());
        out.push(m);
    }

    /// One whole handshake message (type, 3-byte length, body) at stream offset `off`.
    #[allow(clippy::too_many_arguments)]
    fn handshake_message(
        &mut self,
        d: usize,
        t: f64,
        off: u64,
        len: usize,
        m: &[u8],
        version: u16,
        out: &mut Messages,
    ) {
        let dir = Direction::from_index(d);
        self.flush_run(out);
        self.records(d).handshake_messages += 1;
        let ty = m[0];
        let body = &m[4..];
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut name = handshake_name(ty).unwrap_or("handshake message");
        // What the message says, read whether or not it is kept in full: the hellos and the
        // certificates make the connection's summary.
        let summary: Option<String> = match ty {
            CLIENT_HELLO => client_hello(body).map(|ch| self.on_client_hello(t, &ch, &mut fields)),
            SERVER_HELLO => server_hello(body).map(|sh| {
                if sh.retry {
                    name = "HelloRetryRequest";
                }
                self.on_server_hello(&sh, &mut fields)
            }),
            11 => {
                certificates(body, self.tls13()).map(|(n, certs)| self.on_certificate(n, certs, &mut fields))
            }
            12 => Some(self.on_server_key_exchange(body, &mut fields)),
            4 => {
                let mut r = Reader(body);
                r.u32()
                    .map(|hint| format!("NewSessionTicket (lifetime hint {hint} s)"))
            }
            13 => Some("CertificateRequest (the server asks for the client's certificate)".into()),
            16 => Some(format!("ClientKeyExchange ({} bytes)", body.len())),
            _ => Some(match handshake_name(ty) {
                Some(n) => n.to_string(),
                None => format!("handshake message type {ty}"),
            }),
        };
        if !out.wants_detail() {
            out.count(dir, PROTOCOL, None);
            return;
        }
        let summary = summary.unwrap_or_else(|| {
            fields.insert("error".into(), "does not follow the RFC's layout".into());
            format!("malformed {name} ({} bytes)", body.len())
        });
        let mut msg = msg(t, dir, off, len, name, summary, version);
        msg.fields.insert("handshake_type".into(), ty.to_string());
        msg.fields.extend(fields);
        out.push(msg);
    }

    fn on_client_hello(&mut self, t: f64, ch: &ClientHello, f: &mut BTreeMap<String, String>) -> String {
        let versions: Vec<u16> = if ch.ext.versions.is_empty() {
            vec![ch.version]
        } else {
            ch.ext
                .versions
                .iter()
                .copied()
                .filter(|&v| !is_grease(v))
                .collect()
        };
        let suites: Vec<u16> = ch.suites.iter().copied().filter(|&s| !is_grease(s)).collect();
        let groups: Vec<String> = ch
            .ext
            .groups
            .iter()
            .filter(|&&g| !is_grease(g))
            .map(|&g| group_name(g))
            .collect();
        // The first ClientHello makes the summary; a second one (after a HelloRetryRequest) repeats it.
        let s = &mut self.session;
        if s.versions_offered.is_empty() {
            s.versions_offered = versions.iter().map(|&v| version_name(v)).collect();
            s.server_name = ch.ext.server_name.clone();
            s.alpn_offered = ch.ext.alpn.clone();
            s.cipher_suites_offered = suites.len() as u64;
            self.unanswered_hello = Some(t);
        }
        f.insert("version".into(), version_name(ch.version));
        f.insert(
            "supported_versions".into(),
            versions
                .iter()
                .map(|&v| version_name(v))
                .collect::<Vec<_>>()
                .join(", "),
        );
        f.insert(
            "cipher_suites".into(),
            suites
                .iter()
                .map(|&c| cipher_suite(c))
                .collect::<Vec<_>>()
                .join(", "),
        );
        f.insert(
            "extensions".into(),
            ch.ext
                .types
                .iter()
                .map(|&e| extension_name(e))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let mut parts = Vec::new();
        if let Some(n) = &ch.ext.server_name {
            f.insert("server_name".into(), n.clone());
            parts.push(format!("SNI {n}"));
        }
        if !ch.ext.alpn.is_empty() {
            let a = ch.ext.alpn.join(", ");
            f.insert("alpn".into(), a.clone());
            parts.push(format!("ALPN {a}"));
        }
        if !groups.is_empty() {
            f.insert("key_share".into(), groups.join(", "));
            parts.push(format!("key share {}", groups.join(", ")));
        }
        if let Some(max) = versions.iter().copied().max() {
            parts.push(format!("up to {}", version_name(max)));
        }
        parts.push(format!("{} cipher suites", suites.len()));
        if ch.ext.types.contains(&0xfe0d) {
            // ECH (draft-ietf-tls-esni): the SNI above is the outer, public name.
            parts.push("encrypted ClientHello".into());
        }
        format!("ClientHello ({})", parts.join(", "))
    }

    fn on_server_hello(&mut self, sh: &ServerHello, f: &mut BTreeMap<String, String>) -> String {
        let chosen = sh.chosen();
        self.version = Some(chosen);
        self.unanswered_hello = None;
        let group = sh.ext.groups.first().map(|&g| group_name(g));
        f.insert("version".into(), version_name(chosen));
        f.insert("cipher_suite".into(), cipher_suite(sh.suite));
        // The number too, as Wireshark shows it beside the name: `TLS_AES_128_GCM_SHA256 (0x1301)`.
        f.insert("cipher_suite_id".into(), format!("0x{:04x}", sh.suite));
        f.insert(
            "extensions".into(),
            sh.ext
                .types
                .iter()
                .map(|&e| extension_name(e))
                .collect::<Vec<_>>()
                .join(", "),
        );
        if sh.retry {
            // RFC 8446 §4.1.4: the server wants a key share for another group; the client sends a
            // second ClientHello.
            self.session.hello_retry_request = true;
            let mut s = format!("HelloRetryRequest ({}", version_name(chosen));
            if let Some(g) = &group {
                f.insert("key_share".into(), g.clone());
                s.push_str(&format!(", asks for a key share for {g}"));
            }
            s.push(')');
            return s;
        }
        self.suite = Some(sh.suite);
        let s = &mut self.session;
        s.version = Some(version_name(chosen));
        s.cipher_suite = Some(cipher_suite(sh.suite));
        if let Some(g) = &group {
            s.key_exchange_group = Some(g.clone());
        }
        if let Some(a) = sh.ext.alpn.first() {
            s.alpn = Some(a.clone());
            f.insert("alpn".into(), a.clone());
        }
        if chosen >= TLS_1_3 {
            // From here on everything either side sends is encrypted (outer type 23).
            for h in &mut self.halves {
                h.flight_pending = true;
            }
        }
        let mut parts = vec![version_name(chosen), cipher_suite(sh.suite)];
        if let Some(g) = &group {
            f.insert("key_share".into(), g.clone());
            parts.push(g.clone());
        }
        if let Some(a) = sh.ext.alpn.first() {
            parts.push(format!("ALPN {a}"));
        }
        if let Some(n) = sh.downgrade {
            let to = if n == 1 { "TLS 1.2" } else { "TLS 1.1 or lower" };
            f.insert("downgrade_sentinel".into(), to.into());
            parts.push(format!("a TLS 1.3 server choosing {to}"));
        }
        format!("ServerHello ({})", parts.join(", "))
    }

    fn on_certificate(
        &mut self,
        n: usize,
        certs: Vec<TlsCertificate>,
        f: &mut BTreeMap<String, String>,
    ) -> String {
        f.insert("certificates".into(), n.to_string());
        let leaf = certs.first().cloned().unwrap_or_default();
        let text = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
        if let Some(s) = &leaf.subject {
            f.insert("subject".into(), s.clone());
        }
        if let Some(s) = &leaf.issuer {
            f.insert("issuer".into(), s.clone());
        }
        if let Some(s) = &leaf.not_before {
            f.insert("not_before".into(), s.clone());
        }
        if let Some(s) = &leaf.not_after {
            f.insert("not_after".into(), s.clone());
        }
        if !leaf.alt_names.is_empty() {
            f.insert("alt_names".into(), leaf.alt_names.join(", "));
        }
        if certs.len() > 1 {
            f.insert(
                "chain".into(),
                certs
                    .iter()
                    .map(|c| text(&c.subject))
                    .collect::<Vec<_>>()
                    .join(" ← "),
            );
        }
        if self.session.certificates.is_empty() {
            self.session.certificates = certs;
        }
        if n == 0 {
            return "Certificate (none)".into();
        }
        let day = |o: &Option<String>| {
            o.as_deref()
                .map_or("?".to_string(), |s| s.chars().take(10).collect())
        };
        format!(
            "Certificate ({n}: {} issued by {}, valid {} to {})",
            text(&leaf.subject),
            text(&leaf.issuer),
            day(&leaf.not_before),
            day(&leaf.not_after)
        )
    }

    /// ServerKeyExchange (RFC 8422 §5.4 for ECDHE: curve type 3, `named_curve`, then the group; RFC
    /// 5246 §7.4.3 for DHE: p, g, Ys).
    fn on_server_key_exchange(&mut self, body: &[u8], f: &mut BTreeMap<String, String>) -> String {
        let suite = self.suite.and_then(cipher_suite_name).unwrap_or("");
        let mut r = Reader(body);
        let kx = if suite.contains("_DHE_") {
            r.vec16().map(|p| format!("DHE {}-bit", p.len() * 8))
        } else if r.u8() == Some(3) {
            r.u16().map(|g| {
                let g = group_name(g);
                self.session.key_exchange_group = Some(g.clone());
                format!("ECDHE {g}")
            })
        } else {
            None
        };
        match kx {
            Some(k) => {
                f.insert("key_exchange".into(), k.clone());
                format!("ServerKeyExchange ({k})")
            }
            None => format!("ServerKeyExchange ({} bytes)", body.len()),
        }
    }

    /// An application data record of direction `d`: it joins the run going that way, or starts one.
    fn extend_run(&mut self, d: usize, t: f64, offset: u64, len: usize, body: usize, out: &mut Messages) {
        let dir = Direction::from_index(d);
        if self.run.as_ref().is_some_and(|r| r.dir != dir) {
            self.flush_run(out);
        }
        let tls13 = self.tls13();
        let h = &mut self.halves[d];
        let run = self.run.get_or_insert_with(|| {
            let begins_with = if tls13 && std::mem::take(&mut h.flight_pending) {
                Some(match dir {
                    Direction::ServerToClient => "the encrypted EncryptedExtensions … Finished",
                    Direction::ClientToServer => "the client's encrypted Finished",
                })
            } else {
                None
            };
            Run {
                dir,
                records: 0,
                bytes: 0,
                sizes: Vec::new(),
                t_first: t,
                t,
                offset,
                end: offset,
                begins_with,
            }
        });
        run.records += 1;
        run.bytes += body as u64;
        if run.sizes.len() <= MAX_SIZES_LISTED {
            run.sizes.push(body);
        }
        run.t = t;
        run.end = offset + len as u64;
    }

    /// The run of application data ends (a record of another kind, or from the other side, or the
    /// end): it becomes one message.
    fn flush_run(&mut self, out: &mut Messages) {
        let Some(run) = self.run.take() else { return };
        if !out.wants_detail() {
            out.count(run.dir, PROTOCOL, None);
            return;
        }
        let times = if run.records > 1 {
            format!(" ×{}", run.records)
        } else {
            String::new()
        };
        let summary = match run.begins_with {
            Some(what) => format!(
                "application data{times} ({} bytes, beginning with {what})",
                run.bytes
            ),
            None => format!("application data{times} ({} bytes)", run.bytes),
        };
        let mut m = msg(
            run.t,
            run.dir,
            run.offset,
            (run.end - run.offset) as usize,
            "application data",
            summary,
            0x0303,
        );
        m.fields.insert("records".into(), run.records.to_string());
        m.fields.insert("bytes".into(), run.bytes.to_string());
        let mut sizes: Vec<String> = run
            .sizes
            .iter()
            .take(MAX_SIZES_LISTED)
            .map(usize::to_string)
            .collect();
        if run.sizes.len() > MAX_SIZES_LISTED {
            sizes.push("…".into());
        }
        m.fields.insert("record_sizes".into(), sizes.join(", "));
        m.fields.insert("first_t".into(), format!("{:.6}", run.t_first));
        if let Some(what) = run.begins_with {
            m.fields.insert("begins_with".into(), what.into());
        }
        out.push(m);
    }
}

/// The 3-byte big-endian length of a handshake header.
fn u24(b: &[u8]) -> usize {
    u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize
}

fn record_version(rec: &[u8]) -> String {
    format!("0x{:02x}{:02x}", rec[1], rec[2])
}

/// A message of this dissector: its `type` field, and the version of the record that carried it.
fn msg(t: f64, dir: Direction, offset: u64, len: usize, ty: &str, summary: String, version: u16) -> Msg {
    let mut fields = BTreeMap::new();
    fields.insert("type".to_string(), ty.to_string());
    if version != 0 {
        fields.insert("record_version".to_string(), format!("0x{version:04x}"));
    }
    Msg {
        t,
        direction: dir,
        protocol: PROTOCOL,
        summary,
        fields,
        offset,
        len: len as u64,
    }
}

impl Dissector for Tls {
    fn data(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], out: &mut Messages) {
        let d = dir.index();
        let mut bytes = bytes;
        if self.halves[d].state == State::Seeking {
            // Only the start of a delivery is a safe place to look for a header (a record may start
            // anywhere inside a segment, and its bytes may look like anything).
            if !starts_record_run(bytes) {
                return;
            }
            let h = &mut self.halves[d];
            h.state = State::Reading;
            h.offset = offset;
            h.buf.clear();
            h.hs.clear();
            h.hs_skip = 0;
        }
        // First the record held from earlier deliveries.
        if !self.halves[d].buf.is_empty() {
            let h = &mut self.halves[d];
            if h.buf.len() < HEADER {
                let n = (HEADER - h.buf.len()).min(bytes.len());
                h.buf.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if h.buf.len() < HEADER {
                    return;
                }
            }
            let Some(header) = RecordHeader::parse(&h.buf) else {
                let what = bad_header(dir, &h.buf);
                self.lose_sync(d, t, what);
                return;
            };
            let need = HEADER + header.length - h.buf.len();
            let n = need.min(bytes.len());
            h.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if n < need {
                return;
            }
            let rec = std::mem::take(&mut h.buf);
            let at = h.offset;
            self.record(d, t, at, &rec, out);
            let h = &mut self.halves[d];
            h.offset = at + rec.len() as u64;
            h.buf = rec;
            h.buf.clear();
        }
        // Then whole records straight from the delivery; the last one, if cut, is held.
        while !bytes.is_empty() {
            let header = RecordHeader::parse(bytes);
            let whole = header.map(|h| HEADER + h.length);
            match whole {
                Some(n) if bytes.len() >= n => {
                    let at = self.halves[d].offset;
                    self.record(d, t, at, &bytes[..n], out);
                    self.halves[d].offset = at + n as u64;
                    bytes = &bytes[n..];
                }
                Some(_) => {
                    self.halves[d].buf.extend_from_slice(bytes);
                    return;
                }
                None if bytes.len() < HEADER && header_prefix(bytes, HEARTBEAT) => {
                    self.halves[d].buf.extend_from_slice(bytes);
                    return;
                }
                None => {
                    let what = bad_header(dir, bytes);
                    self.lose_sync(d, t, what);
                    return;
                }
            }
        }
    }

    fn gap(&mut self, dir: Direction) {
        let h = &mut self.halves[dir.index()];
        h.state = State::Seeking;
        h.buf.clear();
        h.hs.clear();
        h.hs_skip = 0;
    }

    fn end(&mut self, dir: Direction, t: f64, out: &mut Messages) {
        self.flush_run(out);
        let h = &self.halves[dir.index()];
        if h.state == State::Reading && !h.buf.is_empty() {
            let what = format!(
                "the {}'s last TLS record is cut short by its FIN ({} bytes of it)",
                side_name(dir),
                h.buf.len()
            );
            self.note(Note::Malformed { t, what });
        }
    }

    fn finish(&mut self, _t: f64, out: &mut Messages, notes: &mut Vec<Note>) {
        self.flush_run(out);
        if let Some(t) = self.unanswered_hello.take() {
            notes.push(Note::Unanswered {
                t,
                what: "TLS ClientHello".into(),
            });
        }
        notes.append(&mut self.notes);
        let mut session = std::mem::take(&mut self.session);
        session.summary = crate::render::Lang::En.tls_sentence(&session, self.server_port);
        out.tls = Some(session);
    }
}

fn side_name(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}

fn bad_header(dir: Direction, b: &[u8]) -> String {
    let hex: Vec<String> = b.iter().take(HEADER).map(|x| format!("{x:02x}")).collect();
    format!(
        "the {}'s bytes where a TLS record should start are not a record header ({}): skipped up \
         to the next segment that starts with one",
        side_name(dir),
        hex.join(" ")
    )
}

/// TLS bytes built by hand for the tests (here and in [`super`]'s): records, hellos, certificates.
#[cfg(test)]
pub(crate) mod build {
    use crate::report::Direction;

    pub fn vec8(b: &[u8]) -> Vec<u8> {
        [&[b.len() as u8][..], b].concat()
    }
    pub fn vec16(b: &[u8]) -> Vec<u8> {
        [&(b.len() as u16).to_be_bytes()[..], b].concat()
    }
    pub fn vec24(b: &[u8]) -> Vec<u8> {
        [&(b.len() as u32).to_be_bytes()[1..], b].concat()
    }
    /// A record: type, version, length, body.
    pub fn record(ty: u8, version: u16, body: &[u8]) -> Vec<u8> {
        [
            &[ty][..],
            &version.to_be_bytes(),
            &(body.len() as u16).to_be_bytes(),
            body,
        ]
        .concat()
    }
    /// A handshake message: type, 3-byte length, body.
    pub fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
        [&[ty][..], &vec24(body)].concat()
    }
    pub fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
        [&ty.to_be_bytes()[..], &vec16(data)].concat()
    }
    fn u16s(v: &[u16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    /// A ClientHello offering TLS 1.3 and 1.2, three suites, with SNI, ALPN and key shares.
    pub fn client_hello_message(sni: &str, alpn: &[&str], groups: &[u16]) -> Vec<u8> {
        let mut exts = Vec::new();
        exts.extend(ext(0, &vec16(&[&[0u8][..], &vec16(sni.as_bytes())].concat())));
        if !alpn.is_empty() {
            let list: Vec<u8> = alpn.iter().flat_map(|a| vec8(a.as_bytes())).collect();
            exts.extend(ext(16, &vec16(&list)));
        }
        exts.extend(ext(43, &vec8(&u16s(&[0x0a0a, 0x0304, 0x0303]))));
        let shares: Vec<u8> = groups
            .iter()
            .flat_map(|&g| [&g.to_be_bytes()[..], &vec16(&[7; 32])].concat())
            .collect();
        exts.extend(ext(51, &vec16(&shares)));
        let body = [
            &0x0303u16.to_be_bytes()[..],
            &[0x11; 32],
            &vec8(&[0x22; 32]),
            &vec16(&u16s(&[0x1301, 0x1302, 0xc02f])),
            &vec8(&[0]),
            &vec16(&exts),
        ]
        .concat();
        handshake(1, &body)
    }

    fn server_hello_with(random: &[u8; 32], suite: u16, exts: &[u8]) -> Vec<u8> {
        let body = [
            &0x0303u16.to_be_bytes()[..],
            random,
            &vec8(&[0x22; 32]),
            &suite.to_be_bytes(),
            &[0],
            &vec16(exts),
        ]
        .concat();
        handshake(2, &body)
    }

    /// A TLS 1.3 ServerHello: supported_versions 0x0304 and a key share for `group`.
    pub fn server_hello_13(suite: u16, group: u16) -> Vec<u8> {
        let exts = [
            ext(43, &0x0304u16.to_be_bytes()),
            ext(51, &[&group.to_be_bytes()[..], &vec16(&[9; 32])].concat()),
        ]
        .concat();
        server_hello_with(&[0x33; 32], suite, &exts)
    }

    /// A HelloRetryRequest asking for a key share for `group`.
    pub fn hello_retry(group: u16) -> Vec<u8> {
        let exts = [ext(43, &0x0304u16.to_be_bytes()), ext(51, &group.to_be_bytes())].concat();
        server_hello_with(&super::HELLO_RETRY_RANDOM, 0x1301, &exts)
    }

    /// A TLS 1.2 ServerHello choosing `suite` and ALPN `alpn`.
    pub fn server_hello_12(suite: u16, alpn: &str) -> Vec<u8> {
        let exts = ext(16, &vec16(&vec8(alpn.as_bytes())));
        server_hello_with(&[0x44; 32], suite, &exts)
    }

    /// A DER element.
    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len();
        let head = if len < 0x80 {
            vec![tag, len as u8]
        } else if len < 0x100 {
            vec![tag, 0x81, len as u8]
        } else {
            vec![tag, 0x82, (len >> 8) as u8, len as u8]
        };
        [head, body.to_vec()].concat()
    }
    fn name(cn: &str) -> Vec<u8> {
        let org = der(
            0x31,
            &der(
                0x30,
                &[der(0x06, &[0x55, 4, 0x0a]), der(0x13, b"sister")].concat(),
            ),
        );
        let common = der(
            0x31,
            &der(
                0x30,
                &[der(0x06, &[0x55, 4, 3]), der(0x0c, cn.as_bytes())].concat(),
            ),
        );
        der(0x30, &[org, common].concat())
    }

    /// A certificate with the fields sister reads (the rest empty: no key, no real signature).
    pub fn certificate_der(subject: &str, issuer: &str) -> Vec<u8> {
        let san = der(
            0x30,
            &[der(0x82, b"localhost"), der(0x87, &[127, 0, 0, 1])].concat(),
        );
        let extensions = der(
            0xa3,
            &der(
                0x30,
                &der(0x30, &[der(0x06, &[0x55, 0x1d, 0x11]), der(0x04, &san)].concat()),
            ),
        );
        let tbs = der(
            0x30,
            &[
                der(0xa0, &der(0x02, &[2])),
                der(0x02, &[0x01, 0x23]),
                der(0x30, &der(0x06, &[0x2a, 0x86, 0x48])),
                name(issuer),
                der(
                    0x30,
                    &[der(0x17, b"251207100400Z"), der(0x18, b"20351205100400Z")].concat(),
                ),
                name(subject),
                der(0x30, &[]),
                extensions,
            ]
            .concat(),
        );
        der(0x30, &[tbs, der(0x30, &[]), der(0x03, &[0])].concat())
    }

    /// A TLS 1.2 Certificate message.
    pub fn certificate(ders: &[Vec<u8>]) -> Vec<u8> {
        let list: Vec<u8> = ders.iter().flat_map(|d| vec24(d)).collect();
        handshake(11, &vec24(&list))
    }

    /// A TLS 1.3 connection: hellos, the server's encrypted flight, the client's Finished, data
    /// both ways, the client's close_notify (encrypted).
    pub fn tls13_conversation() -> Vec<(Direction, Vec<u8>)> {
        use Direction::{ClientToServer as C, ServerToClient as S};
        vec![
            (
                C,
                record(
                    22,
                    0x0301,
                    &client_hello_message("localhost", &["mqtt"], &[0x001d]),
                ),
            ),
            (
                S,
                [
                    record(22, 0x0303, &server_hello_13(0x1301, 0x001d)),
                    record(20, 0x0303, &[1]),
                    record(23, 0x0303, &[0; 30]),
                    record(23, 0x0303, &[0; 900]),
                    record(23, 0x0303, &[0; 280]),
                    record(23, 0x0303, &[0; 69]),
                ]
                .concat(),
            ),
            (
                C,
                [record(20, 0x0303, &[1]), record(23, 0x0303, &[0; 69])].concat(),
            ),
            (S, record(23, 0x0303, &[0; 250])),
            (C, record(23, 0x0303, &[0; 31])),
            (S, record(23, 0x0303, &[0; 21])),
            (
                C,
                [record(23, 0x0303, &[0; 45]), record(23, 0x0303, &[0; 45])].concat(),
            ),
            (C, record(23, 0x0303, &[0; 19])),
        ]
    }

    /// A TLS 1.2 connection: hellos, certificates, key exchange, Finished both ways, data, an
    /// encrypted close_notify.
    pub fn tls12_conversation() -> Vec<(Direction, Vec<u8>)> {
        use Direction::{ClientToServer as C, ServerToClient as S};
        let ske = handshake(12, &[&[3u8, 0x00, 0x1d][..], &vec8(&[5; 32]), &[0; 20]].concat());
        vec![
            (
                C,
                record(
                    22,
                    0x0301,
                    &client_hello_message("localhost", &["http/1.1"], &[0x001d]),
                ),
            ),
            (
                S,
                [
                    record(22, 0x0303, &server_hello_12(0xc030, "http/1.1")),
                    record(
                        22,
                        0x0303,
                        &certificate(&[
                            certificate_der("localhost", "sister lab CA"),
                            certificate_der("sister lab CA", "sister lab CA"),
                        ]),
                    ),
                    // ServerKeyExchange and ServerHelloDone in one record.
                    record(22, 0x0303, &[ske, handshake(14, &[])].concat()),
                ]
                .concat(),
            ),
            (
                C,
                [
                    record(22, 0x0303, &handshake(16, &vec8(&[6; 32]))),
                    record(20, 0x0303, &[1]),
                    record(22, 0x0303, &[0; 40]),
                ]
                .concat(),
            ),
            (
                S,
                [record(20, 0x0303, &[1]), record(22, 0x0303, &[0; 40])].concat(),
            ),
            (C, record(23, 0x0303, &[0; 39])),
            (S, record(23, 0x0303, &[0; 39])),
            (C, record(21, 0x0303, &[0; 26])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;
    use Direction::{ClientToServer as C, ServerToClient as S};

    /// Feed each piece, cut into `chunk`-byte deliveries, to a fresh dissector.
    fn run_chunked(
        port: u16,
        pieces: &[(Direction, Vec<u8>)],
        chunk: usize,
        limit: usize,
    ) -> (Messages, Vec<Note>) {
        let mut d = Tls::new(port, false);
        let mut out = Messages::new(limit);
        let mut off = [0u64; 2];
        for (i, (dir, bytes)) in pieces.iter().enumerate() {
            for c in bytes.chunks(chunk.max(1)) {
                d.data(*dir, i as f64, off[dir.index()], c, &mut out);
                off[dir.index()] += c.len() as u64;
            }
        }
        let mut notes = Vec::new();
        d.finish(99.0, &mut out, &mut notes);
        (out, notes)
    }

    fn run(pieces: &[(Direction, Vec<u8>)]) -> Messages {
        run_chunked(8883, pieces, usize::MAX, usize::MAX).0
    }

    fn summaries(m: &Messages) -> Vec<(Direction, &str)> {
        m.kept.iter().map(|m| (m.direction, m.summary.as_str())).collect()
    }

    #[test]
    fn a_hello_is_tls_on_its_first_bytes_and_other_protocols_are_not() {
        let ch = record(22, 0x0301, &client_hello_message("localhost", &[], &[0x001d]));
        assert_eq!(sniff_hello(&ch), Sniff::Tls);
        for n in 1..SNIFF_LEN {
            assert_eq!(sniff_hello(&ch[..n]), Sniff::NeedMore, "{n} bytes");
        }
        let sh = record(22, 0x0303, &server_hello_13(0x1301, 0x001d));
        assert_eq!(sniff_hello(&sh), Sniff::Tls);
        for other in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c",
            // Version 3.5, a finished record as the first message, a record too long for TLS.
            b"\x16\x03\x05\x00\x40\x01\x00\x00\x3c\x03\x03",
            b"\x16\x03\x03\x00\x40\x14\x00\x00\x3c\x03\x03",
            b"\x16\x03\x03\x48\x01\x01\x00\x00\x3c\x03\x03",
            // Application data first: TLS, but not a start (the mid-stream check reads those).
            b"\x17\x03\x03\x00\x10\x00\x00\x00\x00\x00\x00",
        ] {
            assert_eq!(sniff_hello(other), Sniff::NotTls, "{other:?}");
        }
    }

    #[test]
    fn a_run_of_record_headers_is_tls_and_text_is_not() {
        let run = [
            record(23, 0x0303, &[1; 22]),
            record(23, 0x0303, &[2; 300]),
            record(21, 0x0303, &[3; 26]),
        ]
        .concat();
        assert!(starts_record_run(&run));
        // Cut anywhere after the first header: still a run (the rest is in the next segment).
        for n in HEADER..run.len() {
            assert!(starts_record_run(&run[..n]), "{n}");
        }
        assert!(
            !starts_record_run(&run[..3]),
            "a header's prefix alone proves nothing"
        );
        let mut bad = run.clone();
        bad[HEADER + 22] = 0x47; // the second header's type
        assert!(!starts_record_run(&bad));
        assert!(!starts_record_run(b"Suhu: 28\xc2\xb0C"));
        assert!(
            !starts_record_run(&record(24, 0x0303, &[1; 3])),
            "heartbeat is not a start"
        );
    }

    #[test]
    fn a_tls13_connection_reads_the_same_in_any_cutting() {
        let conv = tls13_conversation();
        let (whole, notes) = run_chunked(8883, &conv, usize::MAX, usize::MAX);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(
            summaries(&whole),
            [
                (C, "ClientHello (SNI localhost, ALPN mqtt, key share x25519, up to TLS 1.3, 3 cipher suites)"),
                (S, "ServerHello (TLS 1.3, TLS_AES_128_GCM_SHA256, x25519)"),
                (S, "ChangeCipherSpec (middlebox compatibility only, RFC 8446 D.4)"),
                (
                    S,
                    "application data ×4 (1279 bytes, beginning with the encrypted EncryptedExtensions … Finished)"
                ),
                (C, "ChangeCipherSpec (middlebox compatibility only, RFC 8446 D.4)"),
                (C, "application data (69 bytes, beginning with the client's encrypted Finished)"),
                (S, "application data (250 bytes)"),
                (C, "application data (31 bytes)"),
                (S, "application data (21 bytes)"),
                (C, "application data ×3 (109 bytes)"),
            ]
        );
        let tls = whole.tls.as_ref().unwrap();
        assert_eq!(tls.version.as_deref(), Some("TLS 1.3"));
        assert_eq!(tls.versions_offered, ["TLS 1.3", "TLS 1.2"], "GREASE left out");
        assert_eq!(tls.server_name.as_deref(), Some("localhost"));
        assert_eq!(tls.alpn_offered, ["mqtt"]);
        assert_eq!(tls.alpn, None, "TLS 1.3 sends the choice encrypted");
        assert_eq!(tls.cipher_suite.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(tls.key_exchange_group.as_deref(), Some("x25519"));
        assert_eq!((tls.client_records.records, tls.server_records.records), (7, 8));
        assert_eq!(
            (
                tls.client_records.application_data,
                tls.client_records.application_data_bytes
            ),
            (5, 69 + 31 + 45 + 45 + 19)
        );
        assert_eq!(tls.server_records.handshake_messages, 1);
        assert_eq!(
            tls.summary,
            "TLS 1.3 (port 8883 suggests MQTT over TLS): the server name `localhost`, the application \
             protocols the client offered (ALPN `mqtt`), the cipher TLS_AES_128_GCM_SHA256 and the sizes \
             and timing of 11 encrypted records are visible; their content cannot be read without the \
             session keys. In TLS 1.3 everything after the ServerHello is encrypted, the server's \
             certificate included."
        );
        let ch = &whole.kept[0].fields;
        assert_eq!(ch["handshake_type"], "1");
        assert_eq!(ch["supported_versions"], "TLS 1.3, TLS 1.2");
        assert_eq!(
            ch["cipher_suites"],
            "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(ch["record_version"], "0x0301");
        let flight = &whole.kept[3].fields;
        assert_eq!(
            (flight["records"].as_str(), flight["record_sizes"].as_str()),
            ("4", "30, 900, 280, 69")
        );
        for chunk in [1, 2, 3, 5, 7, 64] {
            let (cut, _) = run_chunked(8883, &conv, chunk, usize::MAX);
            assert_eq!(summaries(&cut), summaries(&whole), "{chunk}-byte deliveries");
            assert_eq!(cut.tls, whole.tls, "{chunk}-byte deliveries");
        }
        // Offsets and lengths are the stream's: the ClientHello starts after its record's header,
        // the flight's run ends where the server's bytes of that piece end.
        let hello_len = conv[0].1.len() - HEADER;
        assert_eq!(
            (whole.kept[0].offset, whole.kept[0].len),
            (HEADER as u64, hello_len as u64)
        );
        let run = &whole.kept[3];
        assert_eq!(run.offset + run.len, conv[1].1.len() as u64);
    }

    #[test]
    fn a_tls12_connection_shows_its_certificates_and_encrypted_finished() {
        let (m, _) = run_chunked(8443, &tls12_conversation(), usize::MAX, usize::MAX);
        assert_eq!(
            summaries(&m),
            [
                (C, "ClientHello (SNI localhost, ALPN http/1.1, key share x25519, up to TLS 1.3, 3 cipher suites)"),
                (S, "ServerHello (TLS 1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ALPN http/1.1)"),
                (S, "Certificate (2: CN=localhost issued by CN=sister lab CA, valid 2025-12-07 to 2035-12-05)"),
                (S, "ServerKeyExchange (ECDHE x25519)"),
                (S, "ServerHelloDone"),
                (C, "ClientKeyExchange (33 bytes)"),
                (C, "ChangeCipherSpec (what follows is encrypted)"),
                (C, "encrypted handshake message (Finished, 40 bytes)"),
                (S, "ChangeCipherSpec (what follows is encrypted)"),
                (S, "encrypted handshake message (Finished, 40 bytes)"),
                (C, "application data (39 bytes)"),
                (S, "application data (39 bytes)"),
                (C, "encrypted Alert (26 bytes)"),
            ]
        );
        let cert = &m.kept[2].fields;
        assert_eq!(cert["subject"], "CN=localhost");
        assert_eq!(cert["issuer"], "CN=sister lab CA");
        assert_eq!(cert["not_before"], "2025-12-07T10:04:00Z");
        assert_eq!(cert["not_after"], "2035-12-05T10:04:00Z");
        assert_eq!(cert["alt_names"], "localhost, 127.0.0.1");
        assert_eq!(cert["chain"], "CN=localhost ← CN=sister lab CA");
        let tls = m.tls.as_ref().unwrap();
        assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(tls.certificates.len(), 2);
        assert_eq!(tls.certificates[1].subject.as_deref(), Some("CN=sister lab CA"));
        assert_eq!(tls.alerts.len(), 1);
        assert!(tls.alerts[0].encrypted && tls.alerts[0].description.is_none());
        assert_eq!(m.closed_by.map(|s| s.message), Some("encrypted Alert"));
        // Handshake messages in the clear, as tshark counts `tls.handshake.type`.
        assert_eq!(
            (
                tls.client_records.handshake_messages,
                tls.server_records.handshake_messages
            ),
            (2, 4)
        );
        assert_eq!(
            (tls.client_records.handshake, tls.server_records.handshake),
            (3, 4)
        );
        assert!(
            tls.summary.starts_with(
            "TLS 1.2 (port 8443 suggests HTTP over TLS): the server name `localhost`, the application protocol `http/1.1` (ALPN), the cipher \
             TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, the server's certificate (CN=localhost, issued by CN=sister \
             lab CA) and the sizes and timing of 5 encrypted records are visible;"
            ),
            "{}",
            tls.summary
        );
        // The port (4433 is no protocol's) changes only the sentence.
        let (other_port, _) = run_chunked(4433, &tls12_conversation(), usize::MAX, usize::MAX);
        assert!(other_port.tls.unwrap().port_suggests.is_none());
        assert_eq!(m.tls.as_ref().unwrap().port_suggests.as_deref(), Some("HTTP"));
    }

    #[test]
    fn a_hello_retry_request_and_a_plaintext_alert() {
        let m = run(&[
            (
                C,
                record(22, 0x0301, &client_hello_message("example.org", &[], &[0x001d])),
            ),
            (
                S,
                [record(22, 0x0303, &hello_retry(0x0017)), record(20, 0x0303, &[1])].concat(),
            ),
            (
                C,
                [
                    record(20, 0x0303, &[1]),
                    record(22, 0x0303, &client_hello_message("example.org", &[], &[0x0017])),
                ]
                .concat(),
            ),
            (S, record(21, 0x0303, &[2, 40])),
        ]);
        assert_eq!(
            summaries(&m),
            [
                (
                    C,
                    "ClientHello (SNI example.org, key share x25519, up to TLS 1.3, 3 cipher suites)"
                ),
                (
                    S,
                    "HelloRetryRequest (TLS 1.3, asks for a key share for secp256r1)"
                ),
                (S, "ChangeCipherSpec (middlebox compatibility only, RFC 8446 D.4)"),
                (C, "ChangeCipherSpec (middlebox compatibility only, RFC 8446 D.4)"),
                (
                    C,
                    "ClientHello (SNI example.org, key share secp256r1, up to TLS 1.3, 3 cipher suites)"
                ),
                (S, "Alert fatal handshake_failure"),
            ]
        );
        assert_eq!(m.kept[1].fields["type"], "HelloRetryRequest");
        assert_eq!(m.kept[1].fields["handshake_type"], "2");
        let tls = m.tls.unwrap();
        assert!(tls.hello_retry_request);
        assert_eq!(tls.version, None, "a HelloRetryRequest chooses nothing yet");
        assert_eq!(tls.alerts[0].level.as_deref(), Some("fatal"));
        assert!(tls.summary.ends_with(
            "no encrypted record followed. The server asked the client for another key share \
             (HelloRetryRequest). The connection failed: the server sent the fatal alert handshake_failure."
        ));
        assert_eq!(m.closed_by.map(|s| (s.direction, s.message)), Some((S, "Alert")));
    }

    #[test]
    fn an_unanswered_hello_is_a_note() {
        let (_, notes) = run_chunked(
            443,
            &[(C, record(22, 0x0301, &client_hello_message("a", &[], &[])))],
            usize::MAX,
            usize::MAX,
        );
        assert!(matches!(&notes[..], [Note::Unanswered { what, .. }] if what == "TLS ClientHello"));
    }

    #[test]
    fn a_handshake_message_over_records_and_one_too_large_to_hold() {
        let ch = client_hello_message("split.example", &["h2"], &[0x001d]);
        // The ClientHello in three records (RFC 8446 §5.1 allows it), then a Certificate too large
        // to hold, then a ServerHelloDone that must still be read.
        let (a, rest) = ch.split_at(3);
        let (b, c) = rest.split_at(50);
        let big = handshake(11, &vec![0; MAX_HANDSHAKE + 10]);
        let mut server = Vec::new();
        for piece in big.chunks(MAX_RECORD) {
            server.extend(record(22, 0x0303, piece));
        }
        server.extend(record(22, 0x0303, &handshake(14, &[])));
        let m = run(&[
            (
                C,
                [
                    record(22, 0x0301, a),
                    record(22, 0x0301, b),
                    record(22, 0x0301, c),
                ]
                .concat(),
            ),
            (S, server),
        ]);
        assert_eq!(
            summaries(&m),
            [
                (C, "ClientHello (SNI split.example, ALPN h2, key share x25519, up to TLS 1.3, 3 cipher suites)"),
                (S, "Certificate (65546 bytes, too large to read)"),
                (S, "ServerHelloDone"),
            ]
        );
        assert_eq!(m.tls.unwrap().client_records.handshake, 3);
    }

    #[test]
    fn mid_stream_reading_starts_at_a_segment_that_starts_with_a_record() {
        let mut d = Tls::new(4433, true);
        let mut out = Messages::default();
        let records = [record(23, 0x0303, &[1; 40]), record(23, 0x0303, &[2; 22])].concat();
        // The tail of a record first (skipped), then whole records.
        d.data(C, 0.0, 0, &[0x99; 17], &mut out);
        d.data(C, 1.0, 17, &records, &mut out);
        d.data(S, 1.5, 0, &record(23, 0x0303, &[3; 22]), &mut out);
        let mut notes = Vec::new();
        d.finish(2.0, &mut out, &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(
            summaries(&out),
            [
                (C, "application data ×2 (62 bytes)"),
                (S, "application data (22 bytes)")
            ]
        );
        assert_eq!(out.kept[0].offset, 17);
        let tls = out.tls.unwrap();
        assert!(tls.summary.starts_with(
            "TLS: the handshake was not captured, so the version, the server name and the cipher are unknown; \
             the sizes and timing of 3 encrypted records are visible"
        ));
    }

    #[test]
    fn a_broken_header_is_noted_and_reading_resumes_at_the_next_segment() {
        let mut d = Tls::new(4433, false);
        let mut out = Messages::default();
        d.data(C, 0.0, 0, &record(23, 0x0303, &[1; 10]), &mut out);
        d.data(C, 1.0, 15, b"\x47\x45\x54 / HTTP/1.1", &mut out);
        d.data(C, 2.0, 32, &record(23, 0x0303, &[1; 10]), &mut out);
        let mut notes = Vec::new();
        d.finish(3.0, &mut out, &mut notes);
        assert_eq!(notes.len(), 1);
        assert!(matches!(&notes[0], Note::Malformed { what, .. } if what.contains("47 45 54 20 2f")));
        assert_eq!(out.tls.unwrap().client_records.application_data, 2);
    }

    #[test]
    fn counting_only_gives_the_counts_of_keeping_in_full() {
        for conv in [tls13_conversation(), tls12_conversation()] {
            let (full, _) = run_chunked(443, &conv, usize::MAX, usize::MAX);
            let (counted, _) = run_chunked(443, &conv, usize::MAX, 0);
            assert!(counted.kept.is_empty());
            assert_eq!(counted.omitted, full.kept.len() as u64);
            assert_eq!(counted.per_direction, full.per_direction);
            assert_eq!(counted.closed_by, full.closed_by);
            assert_eq!(counted.tls, full.tls);
        }
    }

    #[test]
    fn names_from_the_registries() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x7a7a), "GREASE");
        assert_eq!(version_name(0x7f1c), "TLS 1.3 draft 28");
        assert_eq!(
            cipher_suite(0xcca8),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        );
        assert_eq!(cipher_suite(0x1234), "0x1234");
        assert_eq!(group_name(0x001d), "x25519");
        assert_eq!(alert_description(48), Some("unknown_ca"));
        assert_eq!(port_suggests(8883), Some("MQTT"));
        assert_eq!(port_suggests(1883), None, "the lab's MQTT port carries no TLS");
    }

    /// Mutated connections, cut at random places, with random gaps: no panic, and no buffer beyond
    /// its bound ([`MAX_RECORD`] for a record, [`MAX_HANDSHAKE`] for a handshake message).
    #[test]
    fn mutated_connections_never_panic_nor_hold_more_than_they_may() {
        let mut streams = Vec::new();
        for conv in [tls13_conversation(), tls12_conversation()] {
            let mut per_dir = [Vec::new(), Vec::new()];
            for (dir, b) in conv {
                per_dir[dir.index()].extend(b);
            }
            streams.push(per_dir);
        }
        let mut rng = capture::synth::Rng::new(0x7153_a11c);
        for round in 0..10_000 {
            let [client, server] = &streams[round % streams.len()];
            let mut m = [client.clone(), server.clone()];
            for _ in 0..1 + rng.next_u64() % 6 {
                let side = (rng.next_u64() % 2) as usize;
                let i = (rng.next_u64() as usize) % m[side].len();
                m[side][i] = match rng.next_u64() % 4 {
                    0 => 0xff,
                    1 => 0x00,
                    _ => rng.next_u64() as u8,
                };
            }
            let mut d = Tls::new(443, round % 7 == 0);
            let mut out = Messages::new(if round % 2 == 0 { usize::MAX } else { 0 });
            let mut off = [0usize; 2];
            while off[0] < m[0].len() || off[1] < m[1].len() {
                let side = (rng.next_u64() % 2) as usize;
                if off[side] >= m[side].len() {
                    continue;
                }
                let n = 1 + (rng.next_u64() as usize) % 300;
                let end = (off[side] + n).min(m[side].len());
                d.data(
                    Direction::from_index(side),
                    0.0,
                    off[side] as u64,
                    &m[side][off[side]..end],
                    &mut out,
                );
                if rng.next_u64() % 40 == 0 {
                    d.gap(Direction::from_index(side));
                }
                off[side] = end;
                for h in &d.halves {
                    assert!(h.buf.len() <= HEADER + MAX_RECORD);
                    assert!(h.hs.len() <= MAX_HANDSHAKE);
                }
            }
            d.end(C, 1.0, &mut out);
            let mut notes = Vec::new();
            d.finish(1.0, &mut out, &mut notes);
            assert!(notes.len() <= MAX_NOTES + 1);
            assert!(out.tls.is_some());
        }
        // And random bytes, which are mostly not TLS at all.
        for _ in 0..2_000 {
            let len = (rng.next_u64() % 200) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let _ = sniff_hello(&bytes);
            let _ = starts_record_run(&bytes);
            let _ = x509::read(&bytes);
            let _ = client_hello(&bytes);
            let _ = server_hello(&bytes);
            let _ = certificates(&bytes, false);
            let mut d = Tls::new(443, false);
            let mut out = Messages::default();
            d.data(S, 0.0, 0, &bytes, &mut out);
        }
    }
}
