//! The report: what `sister analyze` found in a capture, as data.
//!
//! This is the one model every output is rendered from (text, JSON, and the SVG / Markdown renderers).
//! Its JSON form (`sister analyze --format json`) is a **stable, documented format**: the JSON Schema
//! `docs/analyze-report.schema.json` is generated from these types, and a test fails when the file and
//! the types disagree (regenerate with `UPDATE_SCHEMA=1 cargo test -p sister-analyze schema`).
//! Fields are only ever added; `format_version` changes if one is removed or changes meaning.
//!
//! Conventions: times are seconds relative to the first packet of the capture (`t`, `start`, `end`),
//! plus an absolute `start_time` (ISO 8601, UTC, nanoseconds) where it helps; byte counts named
//! `bytes` are whole frames on the wire (what Wireshark's Conversations window counts) and
//! `payload_bytes` are TCP/UDP payload (what the applications exchanged).
//!
//! The types are here; the crate-private `report::build` makes them from the analyzer's conversations
//! once the capture has been read.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

pub(crate) mod build;

/// The version of this format.
pub const FORMAT_VERSION: u32 = 1;

/// Everything found in one analysis (one or more files, read one after the other).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Report {
    /// The version of this format ([`FORMAT_VERSION`]).
    pub format_version: u32,
    pub capture: CaptureSummary,
    /// Every IP host seen, with its roles.
    pub hosts: Vec<Host>,
    /// TCP connections and UDP exchanges, in order of their first packet; `id` is the 1-based position.
    pub conversations: Vec<Conversation>,
    /// What the applications did, summarised per protocol ("42 PUBLISH to sister/temp from ...").
    pub activity: Vec<Activity>,
    /// Things a student should notice: retransmissions, resets, refused connections, lost segments...
    pub anomalies: Vec<Anomaly>,
    /// Traffic that is not a conversation between applications: ARP, ICMP, ICMPv6 (MLD, ND), others.
    pub other_traffic: Vec<OtherTraffic>,
    /// Problems with the input itself (a file cut short, unknown link types, undecodable frames).
    /// A report with problems is partial: it covers what could be read.
    pub problems: Vec<String>,
}

/// The capture as a whole.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Default)]
pub struct CaptureSummary {
    /// The files read, in order.
    pub files: Vec<String>,
    /// `pcap`, `pcap (nanosecond)` or `pcapng`, per file.
    pub formats: Vec<String>,
    /// Link types of the packets (e.g. `EN10MB (Ethernet)`, `LINUX_SLL2 (Linux cooked v2)`).
    pub link_types: Vec<String>,
    /// Frames in the files (what tshark counts).
    pub packets: u64,
    /// Frames recognised as a second copy of the same packet (`tcpdump -i any` sees a packet crossing a
    /// Docker bridge on the container's veth and on the bridge) and left out of everything below.
    pub duplicates: u64,
    /// Frames the snaplen cut short.
    pub truncated_packets: u64,
    /// Total frame bytes on the wire (original lengths), duplicates excluded.
    pub bytes: u64,
    /// Absolute time of the first packet (ISO 8601, UTC), if any.
    pub start_time: Option<String>,
    /// Seconds from the first to the last packet.
    pub duration: f64,
    /// How many times a packet's timestamp was earlier than the one before it (tolerated, reported).
    pub time_went_backwards: u64,
}

/// What a host did.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An MQTT server that relays between clients (or a ZooKeeper-like hub).
    Broker,
    /// Accepted connections (answered a SYN with SYN+ACK, or answered requests).
    Server,
    /// Opened connections or sent requests.
    Client,
    /// Published MQTT messages (or sent on a ZeroMQ PUB/PUSH socket).
    Publisher,
    /// Subscribed to MQTT topics (or received on SUB/PULL).
    Subscriber,
    /// Sent UDP datagrams that nobody answered.
    Sender,
    /// Received UDP datagrams without answering.
    Receiver,
}

/// One IP address and what it did.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Host {
    pub addr: String,
    /// The host's name when one is known: the Docker container or compose service behind the address
    /// (`sister analyze` asks `docker network inspect`, and uses a container's name only if the capture
    /// saw that container's MAC address), or the name a `--names` file gives it. Absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MAC addresses seen for it (Ethernet captures).
    pub macs: Vec<String>,
    /// Roles from behaviour (who listened, accepted, published...), never from the address.
    pub roles: Vec<Role>,
    /// One line per role saying why, e.g. `MQTT broker on port 1883 for 2 clients`.
    pub notes: Vec<String>,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// An address and port.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub addr: String,
    pub port: u16,
}

/// The transport of a conversation.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Tcp,
    Udp,
}

/// One direction of a conversation.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Default)]
pub struct DirectionStats {
    /// Frames sent this way.
    pub packets: u64,
    /// Frame bytes (original lengths) sent this way.
    pub bytes: u64,
    /// Application bytes sent this way (TCP: the reassembled stream's length, each byte once).
    pub payload_bytes: u64,
    /// Application messages the dissector found this way.
    pub messages: u64,
}

/// How a TCP connection began.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Opening {
    /// SYN, SYN+ACK, ACK were all seen.
    Handshake,
    /// SYN and SYN+ACK seen, the final ACK not (or data came first).
    HandshakeIncomplete,
    /// A SYN answered by RST: nothing listened on the port.
    Refused,
    /// A SYN (or several) that nobody answered.
    Unanswered,
    /// The capture started after the connection was opened.
    MidStream,
    /// UDP has no connection.
    NotApplicable,
}

/// How a TCP connection ended.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Closing {
    /// Both sides sent FIN (a graceful close).
    Fin,
    /// One side sent FIN, the other did not (yet) by the end of the capture.
    HalfClosed,
    /// A RST ended it (after any FINs).
    Reset,
    /// Refused: the RST answered the SYN.
    Refused,
    /// Still open when the capture ended.
    StillOpen,
    /// UDP has no connection.
    NotApplicable,
}

/// Which side of a conversation.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

/// The story of a connection from its first to its last packet.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Lifecycle {
    pub opened: Opening,
    pub closed: Closing,
    /// Who sent the first FIN.
    pub first_fin_by: Option<Side>,
    /// Who sent the (first) RST.
    pub reset_by: Option<Side>,
    /// Zeek's `conn_state` (`S0`, `S1`, `SF`, `REJ`, `S2`, `S3`, `RSTO`, `RSTR`, `RSTOS0`, `RSTRH`,
    /// `SH`, `SHR`, `OTH`), as in Zeek's conn.log.
    pub zeek_state: String,
    /// Zeek's `history`: one letter per first event of a kind, upper case from the client (originator),
    /// lower case from the server (`S` SYN, `H` SYN+ACK, `A` pure ACK, `D` data, `F` FIN, `R` RST,
    /// `T` retransmission, `C` bad checksum not used, `^` direction flipped, `G` content gap).
    pub zeek_history: String,
    /// The application protocol's own opening message, for protocols that have one (Ice: the
    /// server's ValidateConnection, its "ready" once it accepted the connection). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_opened_by: Option<ProtocolStep>,
    /// The application protocol's own closing message, for protocols that have one (Ice:
    /// CloseConnection, sent before the FIN by the side that closes). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_closed_by: Option<ProtocolStep>,
    /// One sentence: "opened with a handshake, closed by FIN from the client, then from the server".
    pub summary: String,
}

/// A protocol message that opened or closed a connection's session (`ValidateConnection` from the
/// server).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct ProtocolStep {
    /// The message, as the protocol names it (`ValidateConnection`, `CloseConnection`).
    pub message: String,
    /// Who sent it.
    pub by: Side,
    /// When (seconds from the capture's start).
    pub t: f64,
}

/// One TCP connection or UDP exchange (the datagrams between two ports).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Conversation {
    /// 1-based, in order of the first packet (what `--follow` takes).
    pub id: u32,
    pub transport: Transport,
    /// The side that opened it (sent the SYN, or the first datagram to the service port).
    pub client: Endpoint,
    /// The side that listened.
    pub server: Endpoint,
    /// The application protocol as dissected (`MQTT`, `HTTP`, `JSON-RPC`, `SOAP`, `ZMTP`, `echo`,
    /// `upcall`, `Lamport`, `text`, `data`); empty when it carried no data.
    pub protocol: String,
    /// Seconds from the capture's start to the first and last packet.
    pub start: f64,
    pub end: f64,
    pub start_time: String,
    pub client_to_server: DirectionStats,
    pub server_to_client: DirectionStats,
    /// TCP only.
    pub lifecycle: Option<Lifecycle>,
    /// The messages the dissector found, in order.
    pub messages: Vec<Message>,
    /// Messages left out of `messages` beyond the per-conversation limit (they are still counted).
    pub messages_omitted: u64,
    /// What a TLS conversation shows without its keys (`protocol` is `TLS`). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSession>,
}

/// What the TLS handshake and records of one connection show to someone without the session keys
/// (RFC 8446 for TLS 1.3, RFC 5246 for 1.2). Names are the RFCs' and IANA's (`TLS 1.3`,
/// `TLS_AES_128_GCM_SHA256`, `x25519`, `unknown_ca`); values sister does not know are in hex.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Default)]
pub struct TlsSession {
    /// The version the server chose: its ServerHello's `supported_versions` (TLS 1.3, RFC 8446
    /// §4.2.1), else the ServerHello's version. Absent when no ServerHello was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The versions the client offered (its `supported_versions`, else its ClientHello's version).
    pub versions_offered: Vec<String>,
    /// The server name the client asked for (SNI, RFC 6066 §3), in the clear in every version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The application protocols the client offered (ALPN, RFC 7301).
    pub alpn_offered: Vec<String>,
    /// The one the server chose: in the ServerHello up to TLS 1.2; TLS 1.3 sends it in the
    /// encrypted EncryptedExtensions, so it is absent there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The cipher suite the server chose (IANA's name, or `0x....`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// How many cipher suites the client offered.
    pub cipher_suites_offered: u64,
    /// The key exchange group (`x25519`, `secp256r1`): TLS 1.3's server key share, TLS 1.2's
    /// ECDHE ServerKeyExchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_exchange_group: Option<String>,
    /// The server answered the first ClientHello with a HelloRetryRequest (RFC 8446 §4.1.4).
    pub hello_retry_request: bool,
    /// The certificates the server sent, leaf first, when they travel in the clear (TLS 1.2 and
    /// earlier; TLS 1.3 encrypts them).
    pub certificates: Vec<TlsCertificate>,
    /// The alerts, in order (at most 16).
    pub alerts: Vec<TlsAlert>,
    /// The records each way, by content type.
    pub client_records: TlsRecords,
    pub server_records: TlsRecords,
    /// The application protocol the server's port suggests (`MQTT` on 8883, `HTTP` on 443): TLS
    /// itself does not say what it carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_suggests: Option<String>,
    /// One sentence: what is visible, and that the content is not.
    pub summary: String,
}

/// A certificate of a TLS Certificate message, as far as sister reads it (RFC 5280 §4.1).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Default)]
pub struct TlsCertificate {
    /// The subject's and the issuer's common names (`CN=localhost`; `O=...` when there is no CN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Validity (ISO 8601, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// The DNS names and IP addresses of its subjectAltName extension.
    pub alt_names: Vec<String>,
    /// Its size (DER bytes).
    pub size: u64,
}

/// A TLS alert (RFC 8446 §6, RFC 5246 §7.2).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct TlsAlert {
    /// Seconds from the capture's start.
    pub t: f64,
    pub by: Side,
    /// `warning` or `fatal`; absent when the alert is encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// `close_notify`, `unknown_ca`...; absent when the alert is encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Sent after the sender's ChangeCipherSpec (TLS 1.2): only its size is visible.
    pub encrypted: bool,
}

/// The records of one direction of a TLS connection, by content type (RFC 8446 §5.1).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Default)]
pub struct TlsRecords {
    /// Every record.
    pub records: u64,
    pub handshake: u64,
    /// Handshake messages read in the clear (ClientHello, Certificate...; several may share a
    /// record, one may span records).
    pub handshake_messages: u64,
    pub change_cipher_spec: u64,
    pub alert: u64,
    /// Records of type application_data (23): application data, and in TLS 1.3 every encrypted
    /// record (the rest of the handshake, alerts and tickets included).
    pub application_data: u64,
    /// Their lengths added up (record bodies: ciphertext, tag and padding included).
    pub application_data_bytes: u64,
    /// Records whose content is hidden: every application_data record, and up to TLS 1.2 the
    /// handshake and alert records sent after the sender's ChangeCipherSpec.
    pub encrypted: u64,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    /// 0 for client→server, 1 for server→client: the index of per-direction state (`[T; 2]`).
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    /// The direction of [`Direction::index`] `i` (0 or 1; anything else is server→client).
    pub fn from_index(i: usize) -> Direction {
        if i == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }

    /// The other way.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

/// One application message.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Message {
    /// When its last byte arrived (seconds from the capture's start).
    pub t: f64,
    pub direction: Direction,
    /// The protocol that decoded it (`MQTT`, `HTTP`, `JSON-RPC`, `SOAP`, `ZMTP`, `echo`, `text`...).
    pub protocol: String,
    /// One line, as a student would note it: `PUBLISH sister/temp 'Suhu: 28°C'`.
    pub summary: String,
    /// The message's fields by name (all values as text).
    pub fields: BTreeMap<String, String>,
    /// Position of its first byte in its direction's reassembled stream, and its length.
    pub offset: u64,
    pub len: u64,
}

/// A summary line about what an application protocol did across the capture.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Activity {
    pub protocol: String,
    /// How many messages it covers.
    pub count: u64,
    pub summary: String,
}

/// The kinds of anomaly.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A segment whose bytes had all been seen already.
    Retransmission,
    /// A segment that arrived before an earlier one of the same direction.
    OutOfOrder,
    /// A segment partly repeating bytes already seen.
    Overlap,
    /// Bytes of a stream never seen (lost before the capture point, or cut by the capture's start).
    MissingSegment,
    /// A connection torn down by RST.
    Reset,
    /// A connection attempt refused with RST.
    Refused,
    /// A SYN nobody answered.
    UnansweredSyn,
    /// A request without a response (HTTP, MQTT CONNECT/SUBSCRIBE/PINGREQ, ZMTP REQ).
    UnansweredRequest,
    /// A receiver announced a zero window ("stop sending").
    ZeroWindow,
    /// A frame cut by the snaplen.
    TruncatedPacket,
    /// Bytes a dissector could not make sense of.
    Malformed,
}

/// Something worth a second look.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// The conversation's `id`, when it belongs to one.
    pub conversation: Option<u32>,
    /// When it (first) happened.
    pub t: f64,
    /// How many times.
    pub count: u64,
    pub detail: String,
}

/// Non-conversation traffic, grouped by what it says.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct OtherTraffic {
    /// `ARP`, `ICMP`, `ICMPv6`, or the EtherType / IP protocol.
    pub protocol: String,
    /// Wireshark-like info: `Who has 172.18.0.2? Tell 172.18.0.3`.
    pub summary: String,
    pub count: u64,
    /// First time seen.
    pub t: f64,
}

/// The JSON Schema of [`Report`], as written to `docs/analyze-report.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Report);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// Format nanoseconds since the epoch as ISO 8601 UTC (`2024-05-01T10:20:30.123456789Z`).
pub fn iso8601(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm): days since 1970-01-01 to year/month/day.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            iso8601(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(iso8601(951_782_400_000_000_000), "2000-02-29T00:00:00.000000000Z");
    }

    /// The schema file in docs/ is generated from these types; this test keeps them in sync.
    #[test]
    fn schema_file_is_in_sync() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/analyze-report.schema.json"
        );
        let generated = json_schema();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/analyze-report.schema.json is out of date with crates/analyze/src/report/mod.rs; \
             regenerate it with UPDATE_SCHEMA=1 cargo test -p sister-analyze schema"
        );
    }
}
