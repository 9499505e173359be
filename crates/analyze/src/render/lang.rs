//! The language of the findings: English by default, Indonesian with `--lang id` (the course is taught
//! in Indonesian).
//!
//! Only our own words are translated. Protocol terms stay as Wireshark names them, because that is what
//! the student sees on screen next to the report: "SYN", "FIN, ACK", "Publish Message", "Connect
//! Command", "Who has 172.18.0.2? Tell 172.18.0.3". Free text that comes from a dissector (a message
//! summary such as `PUBLISH sister/temp 'Suhu: 28°C'`) is protocol output and is kept as it is.

use std::fmt;
use std::str::FromStr;

use crate::report::{AnomalyKind, Closing, Opening, ProtocolStep, Role, Side, TlsSession};

/// The language of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Id,
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Lang::En),
            "id" | "indonesian" | "bahasa" => Ok(Lang::Id),
            other => Err(format!(
                "unknown language {other:?}: use `en` (English) or `id` (Bahasa Indonesia)"
            )),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::En => "en",
            Lang::Id => "id",
        })
    }
}

impl Lang {
    /// The English or the Indonesian text.
    pub fn pick<'a>(self, en: &'a str, id: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Id => id,
        }
    }

    /// A role, as a word.
    pub fn role(self, r: Role) -> &'static str {
        match (self, r) {
            (_, Role::Broker) => "broker",
            (_, Role::Server) => "server",
            (Lang::En, Role::Client) => "client",
            (Lang::Id, Role::Client) => "klien",
            (_, Role::Publisher) => "publisher",
            (_, Role::Subscriber) => "subscriber",
            (Lang::En, Role::Sender) => "sender",
            (Lang::Id, Role::Sender) => "pengirim",
            (Lang::En, Role::Receiver) => "receiver",
            (Lang::Id, Role::Receiver) => "penerima",
        }
    }

    /// "the client" / "klien".
    pub fn side(self, s: Side) -> &'static str {
        match (self, s) {
            (Lang::En, Side::Client) => "the client",
            (Lang::En, Side::Server) => "the server",
            (Lang::Id, Side::Client) => "klien",
            (Lang::Id, Side::Server) => "server",
        }
    }

    /// How a connection opened, in a few words.
    pub fn opening(self, o: Opening) -> &'static str {
        match (self, o) {
            (Lang::En, Opening::Handshake) => "three-way handshake (SYN → SYN, ACK → ACK)",
            (Lang::Id, Opening::Handshake) => "three-way handshake (SYN → SYN, ACK → ACK)",
            (Lang::En, Opening::HandshakeIncomplete) => "handshake not completed (no final ACK seen)",
            (Lang::Id, Opening::HandshakeIncomplete) => {
                "handshake tidak selesai (ACK terakhir tidak terlihat)"
            }
            (Lang::En, Opening::Refused) => {
                "refused: the SYN was answered by RST, ACK (nothing listened on the port)"
            }
            (Lang::Id, Opening::Refused) => {
                "ditolak: SYN dijawab dengan RST, ACK (tidak ada yang listen di port itu)"
            }
            (Lang::En, Opening::Unanswered) => "SYN never answered",
            (Lang::Id, Opening::Unanswered) => "SYN tidak pernah dijawab",
            (Lang::En, Opening::MidStream) => "already open when the capture started (no handshake captured)",
            (Lang::Id, Opening::MidStream) => {
                "sudah terbuka saat capture dimulai (handshake tidak tertangkap)"
            }
            (Lang::En, Opening::NotApplicable) => "UDP: no connection",
            (Lang::Id, Opening::NotApplicable) => "UDP: tanpa koneksi",
        }
    }

    /// How a connection closed, in a sentence (who sent what).
    pub fn closing(self, c: Closing, first_fin: Option<Side>, reset_by: Option<Side>) -> String {
        let other = |s: Side| match s {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        match (self, c) {
            (Lang::En, Closing::Fin) => match first_fin {
                Some(s) => format!(
                    "closed gracefully: FIN, ACK from {} first, then from {}",
                    self.side(s),
                    self.side(other(s))
                ),
                None => "closed gracefully with FIN, ACK from both sides".to_string(),
            },
            (Lang::Id, Closing::Fin) => match first_fin {
                Some(s) => format!(
                    "ditutup dengan baik: FIN, ACK dari {} lebih dulu, lalu dari {}",
                    self.side(s),
                    self.side(other(s))
                ),
                None => "ditutup dengan baik: FIN, ACK dari kedua sisi".to_string(),
            },
            (Lang::En, Closing::HalfClosed) => format!(
                "half-closed: FIN, ACK from {} only, the other side never sent FIN",
                first_fin.map(|s| self.side(s)).unwrap_or("one side")
            ),
            (Lang::Id, Closing::HalfClosed) => format!(
                "half-closed: hanya {} yang mengirim FIN, ACK, sisi lain tidak pernah mengirim FIN",
                first_fin.map(|s| self.side(s)).unwrap_or("satu sisi")
            ),
            (Lang::En, Closing::Reset) => {
                let by = reset_by.map(|s| self.side(s)).unwrap_or("one side");
                match first_fin {
                    Some(s) => format!("reset: FIN, ACK from {}, then RST from {by}", self.side(s)),
                    None => format!("reset: ended abruptly by RST from {by} (no FIN)"),
                }
            }
            (Lang::Id, Closing::Reset) => {
                let by = reset_by.map(|s| self.side(s)).unwrap_or("satu sisi");
                match first_fin {
                    Some(s) => format!("di-reset: FIN, ACK dari {}, lalu RST dari {by}", self.side(s)),
                    None => format!("di-reset: diputus mendadak dengan RST dari {by} (tanpa FIN)"),
                }
            }
            (Lang::En, Closing::Refused) => "refused (RST, ACK answered the SYN)".to_string(),
            (Lang::Id, Closing::Refused) => "ditolak (SYN dijawab RST, ACK)".to_string(),
            (Lang::En, Closing::StillOpen) => "still open when the capture ended".to_string(),
            (Lang::Id, Closing::StillOpen) => "masih terbuka saat capture berakhir".to_string(),
            (Lang::En, Closing::NotApplicable) => "UDP: nothing to close".to_string(),
            (Lang::Id, Closing::NotApplicable) => "UDP: tidak ada yang ditutup".to_string(),
        }
    }

    /// How a connection opened, with the application's own opening message when it has one:
    /// "three-way handshake (…), then ValidateConnection from the server".
    pub fn opening_with(self, o: Opening, step: Option<&ProtocolStep>) -> String {
        let open = self.opening(o);
        match step {
            Some(p) => format!(
                "{open}, {} {} {} {}",
                self.pick("then", "lalu"),
                p.message,
                self.pick("from", "dari"),
                self.side(p.by)
            ),
            None => open.to_string(),
        }
    }

    /// How a connection closed, after the application's own closing message when it has one:
    /// "CloseConnection from the client, then closed gracefully: …".
    pub fn closing_with(
        self,
        c: Closing,
        first_fin: Option<Side>,
        reset_by: Option<Side>,
        step: Option<&ProtocolStep>,
    ) -> String {
        let close = self.closing(c, first_fin, reset_by);
        match step {
            Some(p) => format!(
                "{} {} {}, {} {close}",
                p.message,
                self.pick("from", "dari"),
                self.side(p.by),
                self.pick("then", "lalu")
            ),
            None => close,
        }
    }

    /// What a TLS connection shows, in a sentence: "TLS 1.3 (port 8883 suggests MQTT over TLS): the
    /// server name `localhost`, the cipher TLS_AES_256_GCM_SHA384 and the sizes and timing of 14
    /// encrypted records are visible; their content cannot be read without the session keys."
    /// `port`: the server's port, which `s.port_suggests` comes from.
    pub fn tls_sentence(self, s: &TlsSession, port: u16) -> String {
        let id = self == Lang::Id;
        let mut out = s.version.clone().unwrap_or_else(|| "TLS".into());
        if let Some(p) = &s.port_suggests {
            if id {
                out.push_str(&format!(" (port {port} menunjukkan {p} di atas TLS)"));
            } else {
                out.push_str(&format!(" (port {port} suggests {p} over TLS)"));
            }
        }
        out.push_str(": ");
        let handshake_seen = !s.versions_offered.is_empty() || s.version.is_some();
        if !handshake_seen {
            out.push_str(self.pick(
                "the handshake was not captured, so the version, the server name and the cipher are unknown; ",
                "handshake tidak tertangkap, jadi versi, nama server, dan cipher tidak diketahui; ",
            ));
        }
        let mut visible: Vec<String> = Vec::new();
        if let Some(n) = &s.server_name {
            visible.push(format!("{} `{n}`", self.pick("the server name", "nama server")));
        }
        match (&s.alpn, s.alpn_offered.is_empty()) {
            (Some(a), _) => visible.push(format!(
                "{} `{a}` (ALPN)",
                self.pick("the application protocol", "protokol aplikasi")
            )),
            (None, false) => visible.push(format!(
                "{} (ALPN `{}`)",
                self.pick(
                    "the application protocols the client offered",
                    "protokol aplikasi yang ditawarkan klien"
                ),
                s.alpn_offered.join("`, `")
            )),
            (None, true) => {}
        }
        if let Some(c) = &s.cipher_suite {
            visible.push(format!("{} {c}", self.pick("the cipher", "cipher")));
        }
        if let Some(leaf) = s.certificates.first() {
            let subject = leaf.subject.as_deref().unwrap_or("?");
            let issuer = leaf.issuer.as_deref().unwrap_or("?");
            visible.push(if id {
                format!("sertifikat server ({subject}, diterbitkan oleh {issuer})")
            } else {
                format!("the server's certificate ({subject}, issued by {issuer})")
            });
        }
        let encrypted = s.client_records.encrypted + s.server_records.encrypted;
        if encrypted > 0 {
            visible.push(if id {
                format!("ukuran dan waktu {encrypted} record terenkripsi")
            } else {
                format!("the sizes and timing of {encrypted} encrypted records")
            });
        }
        let and = self.pick(" and ", ", serta ");
        let list = match visible.len() {
            0 => String::new(),
            1 => visible[0].clone(),
            n => format!("{}{and}{}", visible[..n - 1].join(", "), visible[n - 1]),
        };
        if !list.is_empty() {
            out.push_str(&list);
            out.push_str(self.pick(" are visible", " terlihat"));
        }
        if encrypted > 0 {
            out.push_str(self.pick(
                "; their content cannot be read without the session keys.",
                "; isinya tidak dapat dibaca tanpa kunci sesi.",
            ));
        } else {
            out.push_str(self.pick(
                "; no encrypted record followed.",
                "; tidak ada record terenkripsi sesudahnya.",
            ));
        }
        if s.hello_retry_request {
            out.push_str(self.pick(
                " The server asked the client for another key share (HelloRetryRequest).",
                " Server meminta key share lain dari klien (HelloRetryRequest).",
            ));
        }
        if s.version.as_deref() == Some("TLS 1.3") {
            out.push_str(self.pick(
                " In TLS 1.3 everything after the ServerHello is encrypted, the server's certificate included.",
                " Pada TLS 1.3 semua yang dikirim setelah ServerHello terenkripsi, termasuk sertifikat server.",
            ));
        }
        let fatal = s.alerts.iter().find(|a| a.level.as_deref() == Some("fatal"));
        if let Some(a) = fatal {
            let desc = a.description.as_deref().unwrap_or("?");
            out.push_str(&if id {
                format!(" Koneksi gagal: {} mengirim alert fatal {desc}.", self.side(a.by))
            } else {
                format!(
                    " The connection failed: {} sent the fatal alert {desc}.",
                    self.side(a.by)
                )
            });
        }
        out
    }

    /// The name of an anomaly kind (Wireshark's expert-info wording where it has one).
    pub fn anomaly(self, k: AnomalyKind) -> &'static str {
        match (self, k) {
            (Lang::En, AnomalyKind::Retransmission) => "TCP Retransmission",
            (Lang::Id, AnomalyKind::Retransmission) => "TCP Retransmission (segmen dikirim ulang)",
            (Lang::En, AnomalyKind::OutOfOrder) => "TCP Out-Of-Order",
            (Lang::Id, AnomalyKind::OutOfOrder) => "TCP Out-Of-Order (urutan segmen tertukar)",
            (Lang::En, AnomalyKind::Overlap) => "overlapping segment",
            (Lang::Id, AnomalyKind::Overlap) => "segmen tumpang-tindih",
            (Lang::En, AnomalyKind::MissingSegment) => "TCP Previous segment not captured",
            (Lang::Id, AnomalyKind::MissingSegment) => {
                "TCP Previous segment not captured (ada byte yang hilang)"
            }
            (Lang::En, AnomalyKind::Reset) => "connection reset (RST)",
            (Lang::Id, AnomalyKind::Reset) => "koneksi di-reset (RST)",
            (Lang::En, AnomalyKind::Refused) => "connection refused (RST, ACK to SYN)",
            (Lang::Id, AnomalyKind::Refused) => "koneksi ditolak (SYN dijawab RST, ACK)",
            (Lang::En, AnomalyKind::UnansweredSyn) => "SYN without answer",
            (Lang::Id, AnomalyKind::UnansweredSyn) => "SYN tanpa jawaban",
            (Lang::En, AnomalyKind::UnansweredRequest) => "request without response",
            (Lang::Id, AnomalyKind::UnansweredRequest) => "request tanpa response",
            (Lang::En, AnomalyKind::ZeroWindow) => "TCP ZeroWindow",
            (Lang::Id, AnomalyKind::ZeroWindow) => "TCP ZeroWindow (penerima minta berhenti mengirim)",
            (Lang::En, AnomalyKind::TruncatedPacket) => "packet cut by the snaplen",
            (Lang::Id, AnomalyKind::TruncatedPacket) => "paket terpotong oleh snaplen",
            (Lang::En, AnomalyKind::Malformed) => "Malformed Packet",
            (Lang::Id, AnomalyKind::Malformed) => "Malformed Packet (tidak sesuai protokol)",
        }
    }
}

/// What Wireshark's Info column calls a message, for the messages whose names differ from the
/// dissector's one-word type (MQTT: `PUBLISH` is "Publish Message"; Ice: `ValidateConnection` is
/// "Validate connection"), so a student can find it there.
pub fn wireshark_name(protocol: &str, summary: &str) -> Option<&'static str> {
    if protocol == "Ice" {
        // Wireshark's icep dissector, `icep_msgtype_vals` (Request and Reply are spelled the same).
        return Some(match summary.split_whitespace().next()? {
            "BatchRequest" => "Batch request",
            "ValidateConnection" => "Validate connection",
            "CloseConnection" => "Close connection",
            _ => return None,
        });
    }
    if protocol == "TLS" {
        // Wireshark's tls dissector, the Info column (`ssl_31_handshake_type`, content types).
        let mut words = summary.split_whitespace();
        return Some(match words.next()? {
            "ClientHello" => "Client Hello",
            "ServerHello" => "Server Hello",
            "HelloRetryRequest" => "Hello Retry Request",
            "ServerKeyExchange" => "Server Key Exchange",
            "ServerHelloDone" => "Server Hello Done",
            "ClientKeyExchange" => "Client Key Exchange",
            "CertificateRequest" => "Certificate Request",
            "CertificateVerify" => "Certificate Verify",
            "NewSessionTicket" => "New Session Ticket",
            "ChangeCipherSpec" => "Change Cipher Spec",
            "application" => "Application Data",
            "encrypted" => match words.next()? {
                "Alert" => "Encrypted Alert",
                "handshake" => "Encrypted Handshake Message",
                _ => return None,
            },
            _ => return None,
        });
    }
    if protocol != "MQTT" {
        return None;
    }
    // Wireshark's mqtt dissector, `mqtt_msgtype_vals`.
    Some(match summary.split_whitespace().next()? {
        "CONNECT" => "Connect Command",
        "CONNACK" => "Connect Ack",
        "PUBLISH" => "Publish Message",
        "PUBACK" => "Publish Ack",
        "PUBREC" => "Publish Received",
        "PUBREL" => "Publish Release",
        "PUBCOMP" => "Publish Complete",
        "SUBSCRIBE" => "Subscribe Request",
        "SUBACK" => "Subscribe Ack",
        "UNSUBSCRIBE" => "Unsubscribe Request",
        "UNSUBACK" => "Unsubscribe Ack",
        "PINGREQ" => "Ping Request",
        "PINGRESP" => "Ping Response",
        "DISCONNECT" => "Disconnect Req",
        "AUTH" => "Authentication Exchange",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wireshark_names_of_mqtt_messages() {
        assert_eq!(
            wireshark_name("MQTT", "PUBLISH sister/temp 'x'"),
            Some("Publish Message")
        );
        assert_eq!(
            wireshark_name("MQTT", "DISCONNECT normal"),
            Some("Disconnect Req")
        );
        assert_eq!(wireshark_name("HTTP", "GET /"), None);
        assert_eq!(
            wireshark_name("Ice", "ValidateConnection"),
            Some("Validate connection")
        );
        assert_eq!(wireshark_name("Ice", "Reply #2 ok"), None);
        assert_eq!(wireshark_name("MQTT", ""), None);
        assert_eq!(
            wireshark_name("TLS", "ClientHello (SNI localhost, 31 cipher suites)"),
            Some("Client Hello")
        );
        assert_eq!(
            wireshark_name("TLS", "encrypted handshake message (Finished, 40 bytes)"),
            Some("Encrypted Handshake Message")
        );
        assert_eq!(
            wireshark_name("TLS", "application data ×4 (1993 bytes)"),
            Some("Application Data")
        );
        assert_eq!(wireshark_name("TLS", "Certificate (2: CN=localhost …)"), None);
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!("id".parse::<Lang>().unwrap(), Lang::Id);
        assert_eq!("EN".parse::<Lang>().unwrap(), Lang::En);
        assert!("fr".parse::<Lang>().unwrap_err().contains("`id`"));
        assert_eq!(Lang::Id.to_string(), "id");
    }

    #[test]
    fn wireshark_terms_stay_in_both_languages() {
        let en = Lang::En.closing(Closing::Fin, Some(Side::Client), None);
        let id = Lang::Id.closing(Closing::Fin, Some(Side::Client), None);
        assert!(en.contains("FIN, ACK") && id.contains("FIN, ACK"), "{en} / {id}");
        assert_eq!(
            id,
            "ditutup dengan baik: FIN, ACK dari klien lebih dulu, lalu dari server"
        );
        assert!(Lang::Id
            .closing(Closing::Reset, None, Some(Side::Client))
            .contains("RST dari klien"));
        assert!(Lang::Id
            .anomaly(AnomalyKind::Retransmission)
            .starts_with("TCP Retransmission"));
    }
}
