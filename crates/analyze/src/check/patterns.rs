//! The worksheet's expected observations, pattern by pattern.
//!
//! What a capture must show comes from LAB.md: the table of patterns (ports, and what the programs
//! do), "What the course's programs put on the wire", and the worksheet's step 4: "write down what it
//! shows: the hosts (172.18.0.x), the port, the protocol messages (MQTT Publish to
//! `sister/channel/gaming`), the TCP exchange (handshake, PSH/ACK data, FIN/ACK close)". Every TCP
//! pattern therefore gets the same three lifecycle checks (the server was up, every connection opened
//! with the handshake, every connection closed), around the checks of its own messages.
//!
//! Each check reads the conversations [`super::detect`] gave the pattern and nothing else, and says
//! in one sentence what it saw, or what is missing and how to capture it right.

use std::collections::BTreeSet;

use super::detect::{self, Detection};
use super::faults::{list, port_name};
use super::{Check, Lang, Pattern};
use crate::report::{Closing, Conversation, Direction, Message, Opening, Report, Transport};

const C2S: Direction = Direction::ClientToServer;
const S2C: Direction = Direction::ServerToClient;

/// What every check of a pattern reads.
struct Ctx<'a> {
    pattern: Pattern,
    /// The pattern's conversations, attempts without data included.
    convs: Vec<&'a Conversation>,
    /// `--expect`'s `port`, which replaces the course's.
    expect_port: Option<u16>,
    lang: Lang,
}

impl<'a> Ctx<'a> {
    /// The conversations that carried data.
    fn data(&self) -> Vec<&'a Conversation> {
        self.convs
            .iter()
            .copied()
            .filter(|c| detect::carries_data(c))
            .collect()
    }

    /// The TCP conversations that carried data.
    fn tcp_data(&self) -> Vec<&'a Conversation> {
        self.data()
            .into_iter()
            .filter(|c| c.transport == Transport::Tcp)
            .collect()
    }
}

/// The checks of the pattern `det` found (none for [`Pattern::None`]).
pub(super) fn checks(report: &Report, det: &Detection, expect_port: Option<u16>, lang: Lang) -> Vec<Check> {
    if det.pattern == Pattern::None {
        return Vec::new();
    }
    let ctx = Ctx {
        pattern: det.pattern,
        convs: det.conversations(report).collect(),
        expect_port,
        lang,
    };
    let tcp = ctx.convs.iter().any(|c| c.transport == Transport::Tcp);
    let mut v = vec![port(&ctx)];
    if tcp {
        v.push(server_ready(&ctx));
        v.push(handshake(&ctx));
    }
    v.extend(match ctx.pattern {
        Pattern::Mqtt => mqtt(&ctx),
        Pattern::Reqresp => vec![requests(&ctx), replies(&ctx, "echo-replies", "echo", "Echo: ")],
        Pattern::Upcall => vec![
            requests(&ctx),
            replies(&ctx, "upcall-replies", "upcall", "Upcall event: Processing "),
        ],
        Pattern::Oneway => vec![one_way(&ctx)],
        Pattern::Udp => vec![requests(&ctx), udp_replies(&ctx)],
        Pattern::Rest => rest(&ctx),
        Pattern::Rpc => rpc(&ctx),
        Pattern::Soap => soap(&ctx),
        Pattern::Zmq => zmq(&ctx),
        Pattern::Zk => vec![zk(&ctx)],
        Pattern::Lamport => lamport(&ctx),
        Pattern::Ice => ice(&ctx),
        Pattern::Corba => vec![corba(&ctx)],
        Pattern::None => Vec::new(),
    });
    if tcp {
        v.push(close(&ctx));
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Helpers over the report's messages.

fn field<'m>(m: &'m Message, key: &str) -> Option<&'m str> {
    m.fields.get(key).map(String::as_str)
}

/// The messages of `kind` (the `type` field: `CONNECT`, `GREETING`, `Request`) sent one way.
fn typed<'a>(c: &'a Conversation, dir: Direction, kind: &'a str) -> impl Iterator<Item = &'a Message> + 'a {
    c.messages
        .iter()
        .filter(move |m| m.direction == dir && field(m, "type") == Some(kind))
}

fn has(c: &Conversation, dir: Direction, kind: &str) -> bool {
    typed(c, dir, kind).next().is_some()
}

/// True when a message that is not among the kept ones could be the one looked for: the report
/// keeps the first messages of a long conversation in full and only counts the rest.
fn maybe_omitted(c: &Conversation) -> bool {
    c.messages_omitted > 0
}

/// `172.18.0.3:36141 → 172.18.0.2:1883`.
fn who(c: &Conversation) -> String {
    format!(
        "{}:{} → {}:{}",
        c.client.addr, c.client.port, c.server.addr, c.server.port
    )
}

fn whos(convs: &[&Conversation], lang: Lang) -> String {
    let all: Vec<String> = convs.iter().map(|c| who(c)).collect();
    list(&all, 3, lang)
}

/// Distinct values, in order of first appearance.
fn distinct<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// The server's side, as the pattern names it.
fn server_word(pattern: Pattern, lang: Lang) -> &'static str {
    match pattern {
        Pattern::Mqtt => "broker",
        Pattern::Zk => "ZooKeeper",
        _ => lang.pick("server", "server"),
    }
}

// ---------------------------------------------------------------------------------------------
// Port and TCP lifecycle: every pattern (LAB.md's table gives the ports; worksheet step 4 asks for
// "the port" and "the TCP exchange (handshake, PSH/ACK data, FIN/ACK close)").

/// `port`: the server listens on the course's port (or `--expect`'s).
fn port(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(lang, "the course's port", "port sesuai kursus");
    if ctx.pattern == Pattern::Zmq {
        return zmq_port(ctx, title);
    }
    let mut servers: Vec<(String, u16, Transport)> = ctx
        .convs
        .iter()
        .map(|c| (c.server.addr.clone(), c.server.port, c.transport))
        .collect();
    servers.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    servers.dedup();
    let transport = if ctx.pattern.is_udp() {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let expected: Vec<u16> = match ctx.expect_port {
        Some(p) => vec![p],
        None => ctx.pattern.course_ports().to_vec(),
    };
    // `--expect`'s port says which port, whatever the transport.
    let fits =
        |port: u16, t: Transport| expected.contains(&port) && (ctx.expect_port.is_some() || t == transport);
    let ok = match ctx.pattern {
        // The naming service listens on the course's port; the objects it names on ports of their own.
        Pattern::Corba => servers.iter().any(|(_, p, t)| fits(*p, *t)),
        _ => !servers.is_empty() && servers.iter().all(|(_, p, t)| fits(*p, *t)),
    };
    let shown = |servers: &[&(String, u16, Transport)]| {
        let all: Vec<String> = servers
            .iter()
            .map(|(a, p, t)| format!("{a}:{}", port_name(*p, *t)))
            .collect();
        list(&all, 3, lang)
    };
    let fitting: Vec<&(String, u16, Transport)> = servers.iter().filter(|(_, p, t)| fits(*p, *t)).collect();
    let others: Vec<&(String, u16, Transport)> = servers.iter().filter(|(_, p, t)| !fits(*p, *t)).collect();
    let all: Vec<&(String, u16, Transport)> = servers.iter().collect();
    let wanted: Vec<String> = expected.iter().map(|p| port_name(*p, transport)).collect();
    let wanted = wanted.join(lang.pick(" or ", " atau "));
    let server = server_word(ctx.pattern, lang);
    if ok {
        let seen = shown(&fitting);
        let detail = match (ctx.expect_port, ctx.pattern, others.is_empty()) {
            (Some(_), _, _) => tr!(
                lang,
                "the {server} listens on {seen}, as --expect asks",
                "{server} mendengarkan di {seen}, sesuai --expect"
            ),
            (None, Pattern::Corba, false) => tr!(
                lang,
                "the naming service listens on {seen}, the course's port (LAB.md); the objects it names on {}",
                "naming service mendengarkan di {seen}, port kursus (LAB.md); objek-objek yang didaftarkannya di {}",
                shown(&others)
            ),
            (None, _, _) => tr!(
                lang,
                "the {server} listens on {seen}, the course's port (LAB.md)",
                "{server} mendengarkan di {seen}, port kursus (LAB.md)"
            ),
        };
        return Check::pass("port", title, detail);
    }
    let seen = shown(&all);
    let name = ctx.pattern.title(lang);
    let detail = match ctx.expect_port {
        Some(_) => tr!(
            lang,
            "the {server} listens on {seen}, but --expect asks for {wanted}",
            "{server} mendengarkan di {seen}, padahal --expect meminta {wanted}"
        ),
        None => tr!(
            lang,
            "the {server} listens on {seen}, but the course runs {name} on {wanted} (LAB.md): use that port, or say in your analysis why you moved it",
            "{server} mendengarkan di {seen}, padahal kursus menjalankan {name} di {wanted} (LAB.md): pakai port itu, atau jelaskan di analisis mengapa port dipindah"
        ),
    };
    Check::fail(
        "port",
        title,
        tr!(lang, "not the course's port", "bukan port kursus"),
        detail,
    )
}

/// `server-ready`: no connection was refused or left unanswered: the server was up before its client.
fn server_ready(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(
        lang,
        "the server was up before the client",
        "server sudah siap sebelum klien"
    );
    let opened = |c: &Conversation| c.lifecycle.as_ref().map(|l| l.opened);
    let refused: Vec<&Conversation> = ctx
        .convs
        .iter()
        .copied()
        .filter(|c| opened(c) == Some(Opening::Refused))
        .collect();
    let unanswered: Vec<&Conversation> = ctx
        .convs
        .iter()
        .copied()
        .filter(|c| opened(c) == Some(Opening::Unanswered))
        .collect();
    let server = server_word(ctx.pattern, lang);
    if let Some(first) = refused.first() {
        let n = refused.len();
        let t = first.start;
        let at = who(first);
        let first_of_all = ctx.convs.first().is_some_and(|c| std::ptr::eq(*c, *first));
        let which = if first_of_all {
            tr!(lang, "the first connection", "koneksi pertama")
        } else {
            tr!(lang, "a connection", "sebuah koneksi")
        };
        return Check::fail(
            "server-ready",
            title,
            tr!(lang, "connection refused (server not up yet)", "koneksi ditolak (server belum siap)"),
            tr!(
                lang,
                "{which} ({at}, at {t:.1} s; {n} refused in all) was refused: RST, ACK answered its SYN because nothing listened on the port yet; start the {server} first and wait until it listens, then the client",
                "{which} ({at}, pada {t:.1} detik; total {n} ditolak) ditolak: SYN-nya dijawab RST, ACK karena belum ada yang listen di port itu; jalankan {server} lebih dulu dan tunggu sampai listen, baru klien"
            ),
        );
    }
    if let Some(first) = unanswered.first() {
        let n = unanswered.len();
        let at = who(first);
        return Check::fail(
            "server-ready",
            title,
            tr!(lang, "SYN unanswered", "SYN tidak dijawab"),
            tr!(
                lang,
                "{n} connection attempt(s) ({at}) got no answer at all: the SYN reached no {server} (wrong address, or its container is not on this network); check the address the client uses and that the {server} runs",
                "{n} percobaan koneksi ({at}) tidak dijawab sama sekali: SYN tidak sampai ke {server} (alamat salah, atau container-nya tidak di jaringan ini); periksa alamat yang dipakai klien dan pastikan {server} berjalan"
            ),
        );
    }
    Check::pass(
        "server-ready",
        title,
        tr!(
            lang,
            "no connection was refused: the {server} listened before its clients connected",
            "tidak ada koneksi yang ditolak: {server} sudah listen sebelum klien terhubung"
        ),
    )
}

/// `handshake`: every connection that carried data opened with SYN, SYN+ACK, ACK in the capture.
fn handshake(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(lang, "the three-way handshake", "three-way handshake");
    let data = ctx.tcp_data();
    if data.is_empty() {
        return Check::fail(
            "handshake",
            title,
            tr!(lang, "no connection got through", "tidak ada koneksi yang berhasil"),
            tr!(
                lang,
                "no connection carried any data, so there is nothing of the pattern to observe: make sure the server runs and the client reaches it while you capture",
                "tidak ada koneksi yang membawa data, jadi tidak ada yang bisa diamati dari pola ini: pastikan server berjalan dan klien terhubung selama capture"
            ),
        );
    }
    let mid: Vec<&Conversation> = data
        .iter()
        .copied()
        .filter(|c| c.lifecycle.as_ref().map(|l| l.opened) == Some(Opening::MidStream))
        .collect();
    let n = data.len();
    if mid.is_empty() {
        return Check::pass(
            "handshake",
            title,
            tr!(
                lang,
                "{n} connection(s), each opened with SYN, SYN+ACK, ACK",
                "{n} koneksi, masing-masing dibuka dengan SYN, SYN+ACK, ACK"
            ),
        );
    }
    let m = mid.len();
    let at = whos(&mid, lang);
    Check::fail(
        "handshake",
        title,
        tr!(lang, "capture started mid-stream", "capture dimulai di tengah koneksi"),
        tr!(
            lang,
            "{m} of {n} connection(s) ({at}) were already open when the capture started, so their handshake and first messages are not in it: start tcpdump before the clients connect",
            "{m} dari {n} koneksi ({at}) sudah terbuka saat capture dimulai, jadi handshake dan pesan pertamanya tidak tertangkap: jalankan tcpdump sebelum klien terhubung"
        ),
    )
}

/// `close`: every connection ended in the capture (FIN both ways, or a RST).
fn close(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(lang, "every connection closed", "setiap koneksi ditutup");
    let ended: Vec<(&Conversation, Closing)> = ctx
        .convs
        .iter()
        .filter_map(|c| c.lifecycle.as_ref().map(|l| (*c, l)))
        .filter(|(_, l)| !matches!(l.opened, Opening::Refused | Opening::Unanswered))
        .map(|(c, l)| (c, l.closed))
        .collect();
    let open: Vec<&Conversation> = ended
        .iter()
        .filter(|(_, cl)| matches!(cl, Closing::StillOpen | Closing::HalfClosed))
        .map(|(c, _)| *c)
        .collect();
    let n = ended.len();
    if n == 0 {
        return Check::fail(
            "close",
            title,
            tr!(
                lang,
                "no connection got through",
                "tidak ada koneksi yang berhasil"
            ),
            tr!(
                lang,
                "no connection was opened, so none could be closed",
                "tidak ada koneksi yang dibuka, jadi tidak ada yang ditutup"
            ),
        );
    }
    if open.is_empty() {
        let fin = ended.iter().filter(|(_, c)| *c == Closing::Fin).count();
        let rst = ended.iter().filter(|(_, c)| *c == Closing::Reset).count();
        let detail = if rst == 0 {
            tr!(
                lang,
                "{n} connection(s), each closed with FIN, ACK from both sides",
                "{n} koneksi, masing-masing ditutup dengan FIN, ACK dari kedua sisi"
            )
        } else if ctx.pattern == Pattern::Mqtt {
            // LAB.md: the course's publisher "ends with DISCONNECT (and often a TCP reset)".
            tr!(
                lang,
                "{n} connection(s) closed: {fin} with FIN, ACK from both sides, {rst} by RST (paho-mqtt resets its connection after DISCONNECT: write it down as it is)",
                "{n} koneksi ditutup: {fin} dengan FIN, ACK dari kedua sisi, {rst} dengan RST (paho-mqtt me-reset koneksinya setelah DISCONNECT: catat apa adanya)"
            )
        } else {
            tr!(
                lang,
                "{n} connection(s) closed: {fin} with FIN, ACK from both sides, {rst} by RST",
                "{n} koneksi ditutup: {fin} dengan FIN, ACK dari kedua sisi, {rst} dengan RST"
            )
        };
        return Check::pass("close", title, detail);
    }
    let m = open.len();
    let at = whos(&open, lang);
    Check::fail(
        "close",
        title,
        tr!(lang, "capture stopped before close", "capture dihentikan sebelum koneksi ditutup"),
        tr!(
            lang,
            "{m} of {n} connection(s) ({at}) were still open when the capture ended: no FIN, ACK from both sides; stop tcpdump only after the clients have finished and disconnected",
            "{m} dari {n} koneksi ({at}) masih terbuka saat capture berakhir: tidak ada FIN, ACK dari kedua sisi; hentikan tcpdump setelah klien selesai dan memutus koneksi"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// MQTT (LAB.md: broker 1883; the publisher sends to `sister/temp` every second, the subscriber
// subscribes to it; worksheet step 3: a subscriber on another topic receives nothing; step 4: "MQTT
// Publish to sister/channel/gaming").

/// A SUBSCRIBE's filters from the report's field: `sister/temp (qos 0), sister/# (qos 1)`.
fn filters(m: &Message) -> Vec<String> {
    field(m, "filters")
        .unwrap_or("")
        .split(", ")
        .map(|f| f.rsplit_once(" (qos").map_or(f, |(name, _)| name).to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

fn mqtt(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let data = ctx.data();
    let tls: Vec<&Conversation> = data.iter().copied().filter(|c| c.protocol == "TLS").collect();
    let mut out = mqtt_plain(ctx);
    if tls.is_empty() {
        return out;
    }
    // MQTT over TLS (the lab's 8883 step): the packets are encrypted, so no capture can show a
    // SUBSCRIBE, a PUBLISH or where it went. That is what TLS is for, not a fault of the capture:
    // those checks give way to one that says what the capture does show.
    let readable = data.iter().any(|c| c.protocol == "MQTT");
    out.retain(|c| readable && matches!(c.name, "connect" | "disconnect"));
    if let Some(c) = out.iter_mut().find(|c| c.name == "connect" && !c.passed) {
        // The lab's TLS step sends one plaintext CONNECT to the TLS listener on purpose.
        let sentence = tr!(
            lang,
            "the same port speaks TLS with the other clients, and a client without TLS gets no CONNACK there",
            "port yang sama berbicara TLS dengan klien lain, dan klien tanpa TLS tidak mendapat CONNACK di sana"
        );
        // A new sentence after a question, a clause after a statement.
        if c.detail.ends_with('?') {
            let mut first = sentence.chars();
            let capital: String = first
                .next()
                .map(|f| f.to_uppercase().chain(first).collect())
                .unwrap_or_default();
            c.detail.push(' ');
            c.detail.push_str(&capital);
        } else {
            c.detail.push_str("; ");
            c.detail.push_str(&sentence);
        }
    }
    let k = tls.len();
    let at = whos(&tls, lang);
    out.push(Check::pass(
        "encrypted",
        tr!(lang, "MQTT inside TLS", "MQTT di dalam TLS"),
        tr!(
            lang,
            "{k} connection(s) ({at}) are TLS: their CONNECT, SUBSCRIBE and PUBLISH are encrypted, so neither sister nor Wireshark can show them; write down what the capture does show: the TLS handshake (ClientHello with its SNI, ServerHello with the version and cipher) and the sizes of the encrypted records",
            "{k} koneksi ({at}) memakai TLS: CONNECT, SUBSCRIBE, dan PUBLISH-nya terenkripsi, jadi sister maupun Wireshark tidak dapat menampilkannya; catat apa yang terlihat di capture: handshake TLS (ClientHello dengan SNI, ServerHello dengan versi dan cipher) dan ukuran record terenkripsi"
        ),
    ));
    out
}

/// The MQTT checks on the conversations whose packets can be read (not TLS).
fn mqtt_plain(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let convs: Vec<&Conversation> = ctx.data().into_iter().filter(|c| c.protocol == "MQTT").collect();
    let mid = |c: &Conversation| c.lifecycle.as_ref().map(|l| l.opened) == Some(Opening::MidStream);
    let mut out = Vec::new();

    // CONNECT and CONNACK on every connection (MQTT 3.1.1 §3.1: the client's first packet).
    let title = tr!(lang, "CONNECT and CONNACK", "CONNECT dan CONNACK");
    let no_connect: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| !has(c, C2S, "CONNECT"))
        .collect();
    let no_connack: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| has(c, C2S, "CONNECT") && !has(c, S2C, "CONNACK"))
        .collect();
    let refused: Vec<(&Conversation, &str)> = convs
        .iter()
        .filter_map(|c| {
            typed(c, S2C, "CONNACK")
                .filter_map(|m| field(m, "code"))
                .find(|code| !code.starts_with("0x00"))
                .map(|code| (*c, code))
        })
        .collect();
    out.push(if let Some(c) = no_connect.first() {
        let at = whos(&no_connect, lang);
        let k = no_connect.len();
        let n = convs.len();
        if mid(c) {
            Check::fail(
                "connect",
                title,
                tr!(lang, "no CONNECT", "tidak ada CONNECT"),
                tr!(
                    lang,
                    "{k} of {n} connection(s) ({at}) have no CONNECT: the client had connected before the capture started; start tcpdump before the clients (subscriber and publisher)",
                    "{k} dari {n} koneksi ({at}) tidak punya CONNECT: klien sudah terhubung sebelum capture dimulai; jalankan tcpdump sebelum klien (subscriber dan publisher)"
                ),
            )
        } else {
            Check::fail(
                "connect",
                title,
                tr!(lang, "no CONNECT", "tidak ada CONNECT"),
                tr!(
                    lang,
                    "{k} of {n} connection(s) ({at}) opened but sent no CONNECT: the client gave up before it spoke MQTT; run the course's clients while capturing",
                    "{k} dari {n} koneksi ({at}) terbuka tetapi tidak mengirim CONNECT: klien berhenti sebelum berbicara MQTT; jalankan klien kursus selama capture"
                ),
            )
        }
    } else if let Some(c) = no_connack.first() {
        let at = who(c);
        Check::fail(
            "connect",
            title,
            tr!(lang, "no CONNACK", "tidak ada CONNACK"),
            tr!(
                lang,
                "the broker never answered the CONNECT of {at} with a CONNACK: is it an MQTT broker (mosquitto, `sister mqtt broker`) on that port?",
                "broker tidak pernah menjawab CONNECT dari {at} dengan CONNACK: apakah di port itu ada broker MQTT (mosquitto, `sister mqtt broker`)?"
            ),
        )
    } else if let Some((c, code)) = refused.first() {
        let at = who(c);
        Check::fail(
            "connect",
            title,
            tr!(lang, "CONNECT refused", "CONNECT ditolak"),
            tr!(
                lang,
                "the broker refused the CONNECT of {at} (CONNACK {code}): check the broker's `allow_anonymous true`, or the client's username and password",
                "broker menolak CONNECT dari {at} (CONNACK {code}): periksa `allow_anonymous true` di broker, atau username dan password klien"
            ),
        )
    } else {
        let n = convs.len();
        Check::pass(
            "connect",
            title,
            tr!(
                lang,
                "{n} connection(s), each opened with CONNECT and accepted with CONNACK",
                "{n} koneksi, masing-masing dibuka dengan CONNECT dan diterima dengan CONNACK"
            ),
        )
    });

    // SUBSCRIBE with its topic, and SUBACK.
    let title = tr!(lang, "SUBSCRIBE and its topic", "SUBSCRIBE dan topiknya");
    let subscribers: Vec<(&Conversation, Vec<String>)> = convs
        .iter()
        .map(|c| {
            (
                *c,
                typed(c, C2S, "SUBSCRIBE").flat_map(filters).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, f)| !f.is_empty())
        .collect();
    let receivers_mid: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| mid(c) && has(c, S2C, "PUBLISH"))
        .collect();
    out.push(if subscribers.is_empty() {
        if receivers_mid.is_empty() {
            Check::fail(
                "subscribe",
                title,
                tr!(lang, "no SUBSCRIBE", "tidak ada SUBSCRIBE"),
                tr!(
                    lang,
                    "no client subscribed: start the subscriber (mqtt-sub) while capturing, before the publisher",
                    "tidak ada klien yang subscribe: jalankan subscriber (mqtt-sub) selama capture, sebelum publisher"
                ),
            )
        } else {
            let at = whos(&receivers_mid, lang);
            Check::fail(
                "subscribe",
                title,
                tr!(lang, "no SUBSCRIBE", "tidak ada SUBSCRIBE"),
                tr!(
                    lang,
                    "the subscriber ({at}) was already connected when the capture started, so its SUBSCRIBE is not in it: start tcpdump before the subscriber",
                    "subscriber ({at}) sudah terhubung saat capture dimulai, jadi SUBSCRIBE-nya tidak tertangkap: jalankan tcpdump sebelum subscriber"
                ),
            )
        }
    } else {
        let without_suback: Vec<&Conversation> = subscribers
            .iter()
            .filter(|(c, _)| !has(c, S2C, "SUBACK"))
            .map(|(c, _)| *c)
            .collect();
        let topics = distinct(subscribers.iter().flat_map(|(_, f)| f.iter().map(String::as_str)));
        let topics = list(&topics, 3, lang);
        let by = distinct(subscribers.iter().map(|(c, _)| c.client.addr.as_str())).join(", ");
        if let Some(c) = without_suback.first() {
            let at = who(c);
            Check::fail(
                "subscribe",
                title,
                tr!(lang, "no SUBACK", "tidak ada SUBACK"),
                tr!(
                    lang,
                    "{at} subscribed to {topics} but the broker sent no SUBACK: stop tcpdump only after the subscriber printed its messages",
                    "{at} subscribe ke {topics} tetapi broker tidak mengirim SUBACK: hentikan tcpdump setelah subscriber menampilkan pesannya"
                ),
            )
        } else {
            Check::pass(
                "subscribe",
                title,
                tr!(
                    lang,
                    "{by} subscribed to {topics}, and the broker answered with SUBACK",
                    "{by} subscribe ke {topics}, dan broker menjawab dengan SUBACK"
                ),
            )
        }
    });

    // PUBLISH from a publisher.
    let title = tr!(lang, "PUBLISH from the publisher", "PUBLISH dari publisher");
    let published: Vec<&Message> = convs.iter().flat_map(|c| typed(c, C2S, "PUBLISH")).collect();
    let pub_topics = distinct(published.iter().filter_map(|m| field(m, "topic")));
    out.push(if published.is_empty() {
        Check::fail(
            "publish",
            title,
            tr!(lang, "no PUBLISH", "tidak ada PUBLISH"),
            tr!(
                lang,
                "no client published: run the publisher (mqtt-pub) while capturing",
                "tidak ada klien yang publish: jalankan publisher (mqtt-pub) selama capture"
            ),
        )
    } else {
        let by = distinct(
            convs
                .iter()
                .filter(|c| has(c, C2S, "PUBLISH"))
                .map(|c| c.client.addr.as_str()),
        )
        .join(", ");
        let topics = list(&pub_topics, 3, lang);
        let n = published.len();
        let payload = published.first().and_then(|m| field(m, "payload")).unwrap_or("");
        Check::pass(
            "publish",
            title,
            tr!(
                lang,
                "{by} sent {n} PUBLISH to {topics}, e.g. '{payload}'",
                "{by} mengirim {n} PUBLISH ke {topics}, mis. '{payload}'"
            ),
        )
    });

    // PUBLISH forwarded by the broker to a subscriber on a matching topic (worksheet step 3).
    let title = tr!(
        lang,
        "PUBLISH forwarded to a subscriber on a matching topic",
        "PUBLISH diteruskan ke subscriber dengan topik yang cocok"
    );
    let mut forwarded = 0usize;
    let mut to: Vec<String> = Vec::new();
    let mut fwd_topics: Vec<String> = Vec::new();
    let mut mismatched: Vec<(String, String)> = Vec::new();
    for c in &convs {
        let own: Vec<String> = typed(c, C2S, "SUBSCRIBE").flat_map(filters).collect();
        for m in typed(c, S2C, "PUBLISH") {
            let topic = field(m, "topic").unwrap_or("");
            // A forward matches the subscriber's filter (unknown when its SUBSCRIBE was before the capture).
            if own.is_empty() || own.iter().any(|f| wire::mqtt::topic::matches(f, topic)) {
                forwarded += 1;
                if !to.contains(&c.client.addr) {
                    to.push(c.client.addr.clone());
                }
                if !fwd_topics.iter().any(|t| t == topic) {
                    fwd_topics.push(topic.to_string());
                }
            }
        }
        for f in &own {
            if !pub_topics.iter().any(|t| wire::mqtt::topic::matches(f, t)) {
                mismatched.push((f.clone(), list(&pub_topics, 3, lang)));
            }
        }
    }
    out.push(if forwarded > 0 {
        let to = to.join(", ");
        let topics = list(&fwd_topics, 3, lang);
        Check::pass(
            "forwarded",
            title,
            tr!(
                lang,
                "the broker forwarded {forwarded} PUBLISH on {topics} to {to}",
                "broker meneruskan {forwarded} PUBLISH di {topics} ke {to}"
            ),
        )
    } else if let (false, Some((filter, topics))) = (published.is_empty(), mismatched.first()) {
        Check::fail(
            "forwarded",
            title,
            tr!(lang, "topics do not match", "topik tidak cocok"),
            tr!(
                lang,
                "the subscriber's filter {filter} matches none of the published topics ({topics}), so the broker forwarded nothing (worksheet step 3): use the same topic on both sides",
                "filter subscriber {filter} tidak cocok dengan topik yang di-publish ({topics}), jadi broker tidak meneruskan apa pun (langkah 3 lembar kerja): pakai topik yang sama di kedua sisi"
            ),
        )
    } else {
        Check::fail(
            "forwarded",
            title,
            tr!(lang, "no PUBLISH forwarded", "tidak ada PUBLISH yang diteruskan"),
            tr!(
                lang,
                "the broker forwarded no PUBLISH to a subscriber: run the subscriber and the publisher at the same time, on the same topic, while capturing",
                "broker tidak meneruskan PUBLISH ke subscriber: jalankan subscriber dan publisher bersamaan, dengan topik yang sama, selama capture"
            ),
        )
    });

    // DISCONNECT before the close (MQTT 3.1.1 §3.14: a client ends its session with it).
    let title = tr!(
        lang,
        "DISCONNECT before the close",
        "DISCONNECT sebelum koneksi ditutup"
    );
    let ended: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| {
            c.lifecycle
                .as_ref()
                .is_some_and(|l| matches!(l.closed, Closing::Fin | Closing::Reset))
        })
        .collect();
    let without: Vec<&Conversation> = ended
        .iter()
        .copied()
        .filter(|c| !has(c, C2S, "DISCONNECT") && !maybe_omitted(c))
        .collect();
    out.push(if ended.is_empty() {
        Check::fail(
            "disconnect",
            title,
            tr!(lang, "no DISCONNECT", "tidak ada DISCONNECT"),
            tr!(
                lang,
                "no MQTT connection ended in the capture, so no DISCONNECT is in it: stop tcpdump only after the clients have stopped",
                "tidak ada koneksi MQTT yang berakhir di capture, jadi tidak ada DISCONNECT: hentikan tcpdump setelah klien berhenti"
            ),
        )
    } else if without.is_empty() {
        let n = ended.len();
        Check::pass(
            "disconnect",
            title,
            tr!(
                lang,
                "each of the {n} connection(s) that ended sent DISCONNECT first",
                "setiap dari {n} koneksi yang berakhir mengirim DISCONNECT lebih dulu"
            ),
        )
    } else {
        let at = whos(&without, lang);
        Check::fail(
            "disconnect",
            title,
            tr!(lang, "no DISCONNECT", "tidak ada DISCONNECT"),
            tr!(
                lang,
                "{at} closed without DISCONNECT: the client was killed or lost its connection (the broker then publishes its will, if it has one); let the client end by itself",
                "{at} ditutup tanpa DISCONNECT: klien dimatikan paksa atau kehilangan koneksi (broker lalu mengirim will-nya, jika ada); biarkan klien berhenti sendiri"
            ),
        )
    });
    out
}

// ---------------------------------------------------------------------------------------------
// Request/response, upcall, UDP, one-way (LAB.md: "What the course's programs put on the wire").

/// Up to three of a direction's messages, as the report summarises them.
fn examples(convs: &[&Conversation], dir: Direction, lang: Lang) -> String {
    let all: Vec<String> = convs
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.direction == dir)
        .map(|m| m.summary.clone())
        .collect();
    let all = distinct(all.iter().map(String::as_str));
    list(&all, 3, lang)
}

/// `requests`: the client sent its lines (datagrams).
fn requests(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(lang, "requests from the client", "request dari klien");
    let data = ctx.data();
    let n: u64 = data.iter().map(|c| c.client_to_server.messages).sum();
    if n == 0 {
        return Check::fail(
            "requests",
            title,
            tr!(lang, "no request", "tidak ada request"),
            tr!(
                lang,
                "the client sent nothing: type a line in the client (or run the scripted client) while capturing",
                "klien tidak mengirim apa pun: ketik satu baris di klien (atau jalankan klien otomatis) selama capture"
            ),
        );
    }
    let ex = examples(&data, C2S, lang);
    Check::pass(
        "requests",
        title,
        tr!(
            lang,
            "{n} request(s) from the client: {ex}",
            "{n} request dari klien: {ex}"
        ),
    )
}

/// `echo-replies` / `upcall-replies`: every request answered with the course's reply.
fn replies(ctx: &Ctx, name: &'static str, protocol: &str, prefix: &str) -> Check {
    let lang = ctx.lang;
    let shown = prefix.trim_end();
    let title = tr!(lang, "`{shown}` replies", "balasan `{shown}`");
    let data = ctx.data();
    let requests: u64 = data.iter().map(|c| c.client_to_server.messages).sum();
    let replies: u64 = data
        .iter()
        .map(|c| {
            if c.protocol == protocol {
                c.server_to_client.messages
            } else {
                c.messages
                    .iter()
                    .filter(|m| m.direction == S2C && m.protocol == protocol)
                    .count() as u64
            }
        })
        .sum();
    let back: u64 = data.iter().map(|c| c.server_to_client.payload_bytes).sum();
    if requests > 0 && replies >= requests {
        let ex = examples(&data, S2C, lang);
        return Check::pass(
            name,
            title,
            tr!(
                lang,
                "each request answered with `{shown} …`: {ex}",
                "setiap request dijawab dengan `{shown} …`: {ex}"
            ),
        );
    }
    if replies == 0 && back == 0 {
        return Check::fail(
            name,
            title,
            tr!(lang, "no reply", "tidak ada balasan"),
            tr!(
                lang,
                "the server answered nothing: is the course's server running on that port? stop tcpdump only after the client printed the replies",
                "server tidak menjawab apa pun: apakah server kursus berjalan di port itu? hentikan tcpdump setelah klien menampilkan balasannya"
            ),
        );
    }
    if replies == 0 {
        return Check::fail(
            name,
            title,
            tr!(lang, "no `{shown}` reply", "tidak ada balasan `{shown}`"),
            tr!(
                lang,
                "the server's replies do not start with `{shown}`: is it the course's server for this pattern?",
                "balasan server tidak diawali `{shown}`: apakah itu server kursus untuk pola ini?"
            ),
        );
    }
    let missing = requests - replies;
    Check::fail(
        name,
        title,
        tr!(lang, "requests unanswered", "request tidak dijawab"),
        tr!(
            lang,
            "{missing} of {requests} request(s) got no `{shown}` reply: stop tcpdump only after the last reply arrived",
            "{missing} dari {requests} request tidak mendapat balasan `{shown}`: hentikan tcpdump setelah balasan terakhir tiba"
        ),
    )
}

/// `replies` (UDP): each exchange's datagram answered (`Hello, ('<ip>', <port>). You said: …`).
fn udp_replies(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(lang, "a reply to each datagram", "balasan untuk setiap datagram");
    let data = ctx.data();
    let unanswered: Vec<&Conversation> = data
        .iter()
        .copied()
        .filter(|c| c.server_to_client.messages == 0)
        .collect();
    let n = data.len();
    if unanswered.is_empty() && n > 0 {
        let ex = examples(&data, S2C, lang);
        return Check::pass(
            "replies",
            title,
            tr!(
                lang,
                "each of the {n} exchange(s) got its reply datagram: {ex}",
                "setiap dari {n} pertukaran mendapat datagram balasan: {ex}"
            ),
        );
    }
    let k = unanswered.len();
    let at = whos(&unanswered, lang);
    Check::fail(
        "replies",
        title,
        tr!(lang, "datagrams unanswered", "datagram tidak dijawab"),
        tr!(
            lang,
            "{k} of {n} exchange(s) ({at}) got no reply datagram: the server was not running or not at that address; start udp-server before the client (a UDP client waits for its reply forever)",
            "{k} dari {n} pertukaran ({at}) tidak mendapat datagram balasan: server tidak berjalan atau bukan di alamat itu; jalankan udp-server sebelum klien (klien UDP menunggu balasan selamanya)"
        ),
    )
}

/// `one-way`: data goes from the client to the server, and nothing comes back.
fn one_way(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(lang, "data one way only", "data hanya satu arah");
    let data = ctx.data();
    let sent: u64 = data.iter().map(|c| c.client_to_server.messages).sum();
    let back: u64 = data.iter().map(|c| c.server_to_client.payload_bytes).sum();
    if sent > 0 && back == 0 {
        let ex = examples(&data, C2S, lang);
        let udp = data.iter().any(|c| c.transport == Transport::Udp);
        let how = if udp {
            tr!(lang, "datagrams", "datagram")
        } else {
            tr!(lang, "message(s)", "pesan")
        };
        return Check::pass(
            "one-way",
            title,
            tr!(
                lang,
                "{sent} {how} from the client ({ex}) and nothing back",
                "{sent} {how} dari klien ({ex}) dan tidak ada balasan"
            ),
        );
    }
    if sent == 0 {
        return Check::fail(
            "one-way",
            title,
            tr!(lang, "no message", "tidak ada pesan"),
            tr!(
                lang,
                "the client sent nothing: type a line in the client while capturing",
                "klien tidak mengirim apa pun: ketik satu baris di klien selama capture"
            ),
        );
    }
    Check::fail(
        "one-way",
        title,
        tr!(lang, "replies in a one-way pattern", "ada balasan di pola satu arah"),
        tr!(
            lang,
            "the server answered ({back} bytes back): a one-way server never answers; is it the echo server (reqresp) instead?",
            "server menjawab ({back} byte balasan): server satu arah tidak pernah menjawab; apakah itu server echo (reqresp)?"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// HTTP: REST, JSON-RPC, SOAP (LAB.md: `GET /add?a=10&b=5` → `{"result": 15}`; `POST /` with
// `{"jsonrpc": "2.0", ...}`; zeep's `GET /?wsdl`, then the POST with the envelope).

fn rest(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let data = ctx.data();
    let gets: Vec<&Message> = data
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.direction == C2S && field(m, "method") == Some("GET"))
        .collect();
    let paths = distinct(gets.iter().filter_map(|m| field(m, "path")));
    let course = paths
        .iter()
        .filter(|p| p.starts_with("/add") || p.starts_with("/mul"))
        .count();
    let title = tr!(lang, "GET /add (or /mul)", "GET /add (atau /mul)");
    let shown = list(&paths, 3, lang);
    let get = if course > 0 {
        let n = gets.len();
        Check::pass(
            "get",
            title,
            tr!(lang, "{n} GET request(s): {shown}", "{n} request GET: {shown}"),
        )
    } else if gets.is_empty() {
        Check::fail(
            "get",
            title,
            tr!(lang, "no GET /add", "tidak ada GET /add"),
            tr!(
                lang,
                "no GET request: run the REST client (rest-client) while capturing",
                "tidak ada request GET: jalankan klien REST (rest-client) selama capture"
            ),
        )
    } else {
        Check::fail(
            "get",
            title,
            tr!(lang, "no GET /add", "tidak ada GET /add"),
            tr!(
                lang,
                "the GET requests ask for {shown}, not /add or /mul: is it the course's REST service?",
                "request GET meminta {shown}, bukan /add atau /mul: apakah itu layanan REST kursus?"
            ),
        )
    };
    let responses: Vec<&Message> = data
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.direction == S2C && field(m, "status").is_some())
        .collect();
    let results: Vec<&Message> = responses
        .iter()
        .copied()
        .filter(|m| {
            field(m, "status") == Some("200") && field(m, "json").is_some_and(|j| j.contains("\"result\""))
        })
        .collect();
    let title = tr!(lang, "a JSON result", "hasil JSON");
    let result = if !results.is_empty() {
        let n = results.len();
        let ex = distinct(results.iter().filter_map(|m| field(m, "json")));
        let ex = list(&ex, 3, lang);
        Check::pass(
            "json-result",
            title,
            tr!(
                lang,
                "{n} answer(s) HTTP 200 with a JSON result: {ex}",
                "{n} jawaban HTTP 200 dengan hasil JSON: {ex}"
            ),
        )
    } else if responses.iter().any(|m| field(m, "status") == Some("400")) {
        Check::fail(
            "json-result",
            title,
            tr!(lang, "no JSON result (HTTP 400)", "tidak ada hasil JSON (HTTP 400)"),
            tr!(
                lang,
                "every answer was HTTP 400 ({{\"error\": \"Invalid input\"}}): the client sent a missing or non-integer parameter; call it with integers, e.g. `--op add -a 10 -b 5`",
                "semua jawaban HTTP 400 ({{\"error\": \"Invalid input\"}}): klien mengirim parameter yang kosong atau bukan bilangan bulat; panggil dengan bilangan bulat, mis. `--op add -a 10 -b 5`"
            ),
        )
    } else {
        Check::fail(
            "json-result",
            title,
            tr!(lang, "no JSON result", "tidak ada hasil JSON"),
            tr!(
                lang,
                "no HTTP 200 answer with a JSON `result`: stop tcpdump only after the client printed its result",
                "tidak ada jawaban HTTP 200 dengan `result` JSON: hentikan tcpdump setelah klien menampilkan hasilnya"
            ),
        )
    };
    vec![get, result]
}

fn rpc(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let data = ctx.data();
    let calls: Vec<&Message> = data
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| {
            m.direction == C2S
                && field(m, "method") == Some("POST")
                && field(m, "json").is_some_and(|j| j.contains("\"jsonrpc\""))
        })
        .collect();
    let title = tr!(
        lang,
        "POST with a \"jsonrpc\" call",
        "POST dengan panggilan \"jsonrpc\""
    );
    let call = if calls.is_empty() {
        Check::fail(
            "post-jsonrpc",
            title,
            tr!(lang, "no JSON-RPC call", "tidak ada panggilan JSON-RPC"),
            tr!(
                lang,
                "no POST with a JSON-RPC 2.0 body (\"jsonrpc\": \"2.0\"): run the RPC client (rpc-client) while capturing",
                "tidak ada POST dengan isi JSON-RPC 2.0 (\"jsonrpc\": \"2.0\"): jalankan klien RPC (rpc-client) selama capture"
            ),
        )
    } else {
        let n = calls.len();
        let ex: Vec<String> = calls
            .iter()
            .map(|m| {
                format!(
                    "{}{}",
                    field(m, "rpc_method").unwrap_or("?"),
                    field(m, "params").unwrap_or("")
                )
            })
            .collect();
        let ex = list(&distinct(ex.iter().map(String::as_str)), 3, lang);
        Check::pass(
            "post-jsonrpc",
            title,
            tr!(
                lang,
                "{n} POST with a JSON-RPC 2.0 call: {ex}",
                "{n} POST dengan panggilan JSON-RPC 2.0: {ex}"
            ),
        )
    };
    let answers: Vec<&Message> = data
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.direction == S2C && m.protocol == "JSON-RPC")
        .collect();
    let results: Vec<&str> = answers.iter().filter_map(|m| field(m, "result")).collect();
    let title = tr!(lang, "a \"result\" in the answer", "\"result\" dalam jawaban");
    let result = if !results.is_empty() {
        let n = results.len();
        let ex = list(&distinct(results.iter().copied()), 3, lang);
        Check::pass(
            "result",
            title,
            tr!(
                lang,
                "{n} answer(s) with a result: {ex}",
                "{n} jawaban dengan result: {ex}"
            ),
        )
    } else if let Some(err) = answers.iter().find_map(|m| field(m, "json")) {
        Check::fail(
            "result",
            title,
            tr!(lang, "JSON-RPC error", "error JSON-RPC"),
            tr!(
                lang,
                "the server answered without a result ({err}): check the method's name and its params",
                "server menjawab tanpa result ({err}): periksa nama method dan params-nya"
            ),
        )
    } else {
        Check::fail(
            "result",
            title,
            tr!(lang, "no JSON-RPC result", "tidak ada result JSON-RPC"),
            tr!(
                lang,
                "no answer with a result: stop tcpdump only after the client printed `Result of …`",
                "tidak ada jawaban dengan result: hentikan tcpdump setelah klien menampilkan `Result of …`"
            ),
        )
    };
    vec![call, result]
}

fn soap(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let data = ctx.data();
    let msgs = || data.iter().flat_map(|c| c.messages.iter());
    let wsdl_get = msgs().any(|m| {
        m.direction == C2S
            && field(m, "method") == Some("GET")
            && field(m, "path").is_some_and(|p| p.to_ascii_lowercase().contains("wsdl"))
    });
    let wsdl_answer = msgs().find(|m| {
        m.direction == S2C
            && field(m, "request").is_some_and(|r| r.to_ascii_lowercase().contains("wsdl"))
            && field(m, "status") == Some("200")
    });
    let title = tr!(lang, "the WSDL fetched (GET /?wsdl)", "WSDL diambil (GET /?wsdl)");
    let wsdl = match (wsdl_get, wsdl_answer) {
        (true, Some(m)) => {
            let bytes = field(m, "body_bytes").unwrap_or("?");
            Check::pass(
                "wsdl",
                title,
                tr!(
                    lang,
                    "the client fetched the WSDL: GET /?wsdl, answered 200 OK ({bytes} bytes)",
                    "klien mengambil WSDL: GET /?wsdl, dijawab 200 OK ({bytes} byte)"
                ),
            )
        }
        (true, None) => Check::fail(
            "wsdl",
            title,
            tr!(lang, "WSDL not answered", "WSDL tidak dijawab"),
            tr!(
                lang,
                "the client asked for the WSDL but no 200 OK answer is in the capture: is the SOAP server running, and did the capture stop too early?",
                "klien meminta WSDL tetapi jawaban 200 OK tidak ada di capture: apakah server SOAP berjalan, dan apakah capture berhenti terlalu cepat?"
            ),
        ),
        (false, _) => Check::fail(
            "wsdl",
            title,
            tr!(lang, "no WSDL GET", "tidak ada GET WSDL"),
            tr!(
                lang,
                "no GET /?wsdl: zeep fetches the WSDL first, on a connection of its own; start tcpdump before the client runs",
                "tidak ada GET /?wsdl: zeep mengambil WSDL lebih dulu, di koneksi tersendiri; jalankan tcpdump sebelum klien berjalan"
            ),
        ),
    };
    let calls: Vec<&Message> = msgs()
        .filter(|m| m.direction == C2S && m.protocol == "SOAP" && field(m, "operation").is_some())
        .collect();
    let title = tr!(lang, "POST with a SOAP envelope", "POST dengan SOAP envelope");
    let call = if calls.is_empty() {
        Check::fail(
            "envelope",
            title,
            tr!(lang, "no SOAP request", "tidak ada request SOAP"),
            tr!(
                lang,
                "no POST with a SOAP envelope: run the SOAP client (soap-client) while capturing, until it printed its result",
                "tidak ada POST dengan SOAP envelope: jalankan klien SOAP (soap-client) selama capture, sampai hasilnya tampil"
            ),
        )
    } else {
        let n = calls.len();
        let ex = list(&distinct(calls.iter().map(|m| m.summary.as_str())), 3, lang);
        Check::pass(
            "envelope",
            title,
            tr!(lang, "{n} SOAP call(s): {ex}", "{n} panggilan SOAP: {ex}"),
        )
    };
    let answers: Vec<&Message> = msgs()
        .filter(|m| m.direction == S2C && m.protocol == "SOAP" && field(m, "operation").is_some())
        .collect();
    let title = tr!(lang, "a SOAP response", "respons SOAP");
    let fault = answers.iter().find(|m| field(m, "operation") == Some("Fault"));
    let responses: Vec<&Message> = answers
        .iter()
        .copied()
        .filter(|m| field(m, "operation").is_some_and(|o| o != "Fault"))
        .collect();
    let response = if let (true, Some(f)) = (responses.is_empty(), fault) {
        let why = field(f, "faultstring").unwrap_or("");
        Check::fail(
            "response",
            title,
            tr!(lang, "SOAP Fault", "SOAP Fault"),
            tr!(
                lang,
                "the server answered with a SOAP Fault ({why}) instead of a response: check the operation and its arguments",
                "server menjawab dengan SOAP Fault ({why}), bukan respons: periksa operasi dan argumennya"
            ),
        )
    } else if responses.is_empty() {
        Check::fail(
            "response",
            title,
            tr!(lang, "no SOAP response", "tidak ada respons SOAP"),
            tr!(
                lang,
                "no SOAP response (addResponse) in the capture: stop tcpdump only after the client printed its result",
                "tidak ada respons SOAP (addResponse) di capture: hentikan tcpdump setelah klien menampilkan hasilnya"
            ),
        )
    } else {
        let n = responses.len();
        let ex = list(&distinct(responses.iter().map(|m| m.summary.as_str())), 3, lang);
        Check::pass(
            "response",
            title,
            tr!(lang, "{n} SOAP response(s): {ex}", "{n} respons SOAP: {ex}"),
        )
    };
    vec![wsdl, call, response]
}

// ---------------------------------------------------------------------------------------------
// ZeroMQ (LAB.md: REQ/REP 5555 `Hello`/`World`, PUB/SUB 12345 with the subscription `WAKTU`,
// PUSH/PULL 9999 with pickled integers; libzmq 4.3, ZMTP 3.1).

/// The socket types a connection's READY commands name, client's first: `("REQ", "REP")`.
fn zmq_sockets(c: &Conversation) -> (Option<&str>, Option<&str>) {
    let ready = |dir| typed(c, dir, "READY").find_map(|m| field(m, "socket_type"));
    (ready(C2S), ready(S2C))
}

/// The pair a connection carries, as the course names it (`REQ/REP`, `PUB/SUB`, `PUSH/PULL`), and
/// the course's port for it.
fn zmq_pair(c: &Conversation) -> Option<(&'static str, u16)> {
    let (a, b) = zmq_sockets(c);
    let has = |t: &[&str]| [a, b].iter().any(|s| s.is_some_and(|s| t.contains(&s)));
    if has(&["REQ", "REP", "DEALER", "ROUTER"]) {
        Some(("REQ/REP", 5555))
    } else if has(&["PUB", "SUB", "XPUB", "XSUB"]) {
        Some(("PUB/SUB", 12345))
    } else if has(&["PUSH", "PULL"]) {
        Some(("PUSH/PULL", 9999))
    } else {
        None
    }
}

fn zmq_port(ctx: &Ctx, title: String) -> Check {
    let lang = ctx.lang;
    let mut ok = Vec::new();
    let mut wrong = Vec::new();
    for c in ctx.data() {
        let Some((pair, course)) = zmq_pair(c) else {
            continue;
        };
        let want = ctx.expect_port.unwrap_or(course);
        let port = c.server.port;
        if port == want {
            ok.push(format!("{pair} {port}"));
        } else {
            wrong.push(format!("{pair} {port} ≠ {want}"));
        }
    }
    let ok = distinct(ok.iter().map(String::as_str)).join(", ");
    if !wrong.is_empty() {
        let wrong = distinct(wrong.iter().map(String::as_str)).join(", ");
        return Check::fail(
            "port",
            title,
            tr!(lang, "not the course's port", "bukan port kursus"),
            tr!(
                lang,
                "a socket pair listens on another port than the course's ({wrong}; LAB.md: REQ/REP 5555, PUB/SUB 12345, PUSH/PULL 9999): use the course's ports, or say in your analysis why you moved them",
                "pasangan socket mendengarkan di port lain dari port kursus ({wrong}; LAB.md: REQ/REP 5555, PUB/SUB 12345, PUSH/PULL 9999): pakai port kursus, atau jelaskan di analisis mengapa dipindah"
            ),
        );
    }
    if ok.is_empty() {
        return Check::fail(
            "port",
            title,
            tr!(lang, "socket types unknown", "jenis socket tidak diketahui"),
            tr!(
                lang,
                "no connection shows its READY command with the socket types, so the ports cannot be told: start tcpdump before the sockets connect",
                "tidak ada koneksi yang menunjukkan perintah READY dengan jenis socket, jadi port tidak bisa dinilai: jalankan tcpdump sebelum socket terhubung"
            ),
        );
    }
    Check::pass(
        "port",
        title,
        tr!(lang, "the course's ports: {ok}", "port kursus: {ok}"),
    )
}

fn zmq(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let convs: Vec<&Conversation> = ctx.data().into_iter().filter(|c| c.protocol == "ZMTP").collect();
    // The greeting (ZMTP 3.1 §3: signature, version, mechanism) and READY with the socket type.
    let title = tr!(lang, "ZMTP greeting and READY", "greeting ZMTP dan READY");
    let without: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| {
            !(has(c, C2S, "GREETING")
                && has(c, S2C, "GREETING")
                && has(c, C2S, "READY")
                && has(c, S2C, "READY"))
        })
        .collect();
    let greeting = if without.is_empty() && !convs.is_empty() {
        let n = convs.len();
        let pairs = distinct(convs.iter().filter_map(|c| zmq_pair(c).map(|p| p.0))).join(", ");
        Check::pass(
            "greeting",
            title,
            tr!(
                lang,
                "{n} connection(s), each opened with the ZMTP greeting and READY both ways ({pairs})",
                "{n} koneksi, masing-masing dibuka dengan greeting ZMTP dan READY dua arah ({pairs})"
            ),
        )
    } else {
        let at = whos(&without, lang);
        Check::fail(
            "greeting",
            title,
            tr!(lang, "no ZMTP greeting", "tidak ada greeting ZMTP"),
            tr!(
                lang,
                "the greeting or READY is missing on {at}: the sockets had connected before the capture started; start tcpdump before the programs",
                "greeting atau READY tidak ada di {at}: socket sudah terhubung sebelum capture dimulai; jalankan tcpdump sebelum program"
            ),
        )
    };
    // Each pair's own messages.
    let title = tr!(lang, "the pattern's messages", "pesan-pesan polanya");
    let mut seen = Vec::new();
    let mut missing = Vec::new();
    for c in &convs {
        let msgs = |dir| typed(c, dir, "MESSAGE").count();
        let (to, back) = (msgs(C2S), msgs(S2C));
        let subscribe = typed(c, C2S, "SUBSCRIBE")
            .chain(typed(c, S2C, "SUBSCRIBE"))
            .find_map(|m| field(m, "topic"));
        match zmq_pair(c).map(|p| p.0) {
            Some("REQ/REP") => {
                if to > 0 && back > 0 {
                    seen.push(tr!(
                        lang,
                        "REQ/REP {to} request(s), {back} reply(ies)",
                        "REQ/REP {to} request, {back} balasan"
                    ));
                } else {
                    missing.push(tr!(lang, "REQ/REP without its reply", "REQ/REP tanpa balasan"));
                }
            }
            Some("PUB/SUB") => match subscribe {
                Some(topic) if to + back > 0 => {
                    let n = to + back;
                    seen.push(tr!(
                        lang,
                        "PUB/SUB SUBSCRIBE '{topic}', {n} message(s)",
                        "PUB/SUB SUBSCRIBE '{topic}', {n} pesan"
                    ));
                }
                Some(_) => missing.push(tr!(lang, "PUB/SUB without a message", "PUB/SUB tanpa pesan")),
                None => missing.push(tr!(
                    lang,
                    "PUB/SUB without its SUBSCRIBE",
                    "PUB/SUB tanpa SUBSCRIBE"
                )),
            },
            Some(pair) => {
                let n = to + back;
                if n > 0 {
                    seen.push(tr!(lang, "{pair} {n} message(s)", "{pair} {n} pesan"));
                } else {
                    missing.push(tr!(lang, "{pair} without a message", "{pair} tanpa pesan"));
                }
            }
            None => missing.push(tr!(lang, "{} without its READY", "{} tanpa READY", who(c))),
        }
    }
    let messages = if missing.is_empty() && !seen.is_empty() {
        let seen = seen.join("; ");
        Check::pass("messages", title, seen)
    } else {
        let missing = if missing.is_empty() {
            tr!(lang, "no ZeroMQ message", "tidak ada pesan ZeroMQ")
        } else {
            distinct(missing.iter().map(String::as_str)).join(", ")
        };
        Check::fail(
            "messages",
            title,
            tr!(lang, "the pattern's messages missing", "pesan polanya tidak ada"),
            tr!(
                lang,
                "{missing}: keep capturing until each pair has exchanged messages (REQ 'Hello' and REP 'World', PUB's 'WAKTU …' after SUB's SUBSCRIBE, PUSH's workloads)",
                "{missing}: teruskan capture sampai setiap pasangan bertukar pesan (REQ 'Hello' dan REP 'World', 'WAKTU …' dari PUB setelah SUBSCRIBE dari SUB, beban kerja dari PUSH)"
            ),
        )
    };
    vec![greeting, messages]
}

// ---------------------------------------------------------------------------------------------
// ZooKeeper (LAB.md: 2181; the election and the lock talk to ZooKeeper in its own binary protocol).

fn zk(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let title = tr!(
        lang,
        "requests and replies with ZooKeeper",
        "request dan balasan dengan ZooKeeper"
    );
    let data = ctx.data();
    let to: u64 = data.iter().map(|c| c.client_to_server.messages).sum();
    let back: u64 = data.iter().map(|c| c.server_to_client.messages).sum();
    let n = data.len();
    if to > 0 && back > 0 {
        Check::pass(
            "session",
            title,
            tr!(
                lang,
                "{n} session(s): {to} segment(s) of data to ZooKeeper and {back} back (the ConnectRequest first, then create, getChildren and pings; sister does not decode ZooKeeper's records: Wireshark's zookeeper dissector does)",
                "{n} sesi: {to} segmen data ke ZooKeeper dan {back} balik (ConnectRequest lebih dulu, lalu create, getChildren dan ping; sister tidak membaca isi record ZooKeeper: dissector zookeeper di Wireshark bisa)"
            ),
        )
    } else {
        Check::fail(
            "session",
            title,
            tr!(lang, "no ZooKeeper session", "tidak ada sesi ZooKeeper"),
            tr!(
                lang,
                "no exchange both ways with ZooKeeper: start the ZooKeeper container first, then the election nodes (or lock clients), while capturing",
                "tidak ada pertukaran dua arah dengan ZooKeeper: jalankan container ZooKeeper lebih dulu, lalu node election (atau klien lock), selama capture"
            ),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Lamport clocks (LAB.md: JSON `{"message", "balance", "timestamp"}`; each side sets its clock to
// max(own, received) + 1).

fn lamport(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let data = ctx.data();
    let mut msgs: Vec<(&Message, u64)> = data
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.protocol == "Lamport")
        .filter_map(|m| Some((m, field(m, "timestamp")?.parse::<u64>().ok()?)))
        .collect();
    msgs.sort_by(|a, b| a.0.t.total_cmp(&b.0.t));
    let ways: BTreeSet<usize> = msgs.iter().map(|(m, _)| m.direction.index()).collect();
    let title = tr!(
        lang,
        "JSON messages with timestamps",
        "pesan JSON dengan timestamp"
    );
    let shown: Vec<String> = msgs.iter().map(|(m, _)| m.summary.clone()).collect();
    let shown = list(&shown, 3, lang);
    let messages = if ways.len() == 2 {
        let n = msgs.len();
        Check::pass(
            "messages",
            title,
            tr!(
                lang,
                "{n} JSON message(s) with message, balance and timestamp, both ways: {shown}",
                "{n} pesan JSON dengan message, balance dan timestamp, dua arah: {shown}"
            ),
        )
    } else if msgs.is_empty() {
        Check::fail(
            "messages",
            title,
            tr!(lang, "no Lamport message", "tidak ada pesan Lamport"),
            tr!(
                lang,
                "no JSON message with a timestamp: run both processes while capturing",
                "tidak ada pesan JSON dengan timestamp: jalankan kedua proses selama capture"
            ),
        )
    } else {
        Check::fail(
            "messages",
            title,
            tr!(lang, "only one side's messages", "hanya pesan satu sisi"),
            tr!(
                lang,
                "only one process's messages are in the capture ({shown}): the other's is missing; stop tcpdump only after both processes finished",
                "hanya pesan satu proses yang tertangkap ({shown}): pesan proses lainnya tidak ada; hentikan tcpdump setelah kedua proses selesai"
            ),
        )
    };
    // The receive rule: whatever a side sends after receiving timestamp t carries more than t.
    let title = tr!(
        lang,
        "the clock rule: max(own, received) + 1",
        "aturan jam: max(sendiri, diterima) + 1"
    );
    let mut received = [0u64; 2];
    let mut broken = None;
    for (m, ts) in &msgs {
        let sender = m.direction.index();
        if *ts <= received[sender] && broken.is_none() {
            broken = Some((received[sender], *ts));
        }
        let receiver = m.direction.reverse().index();
        received[receiver] = received[receiver].max(*ts);
    }
    let stamps: Vec<String> = msgs.iter().map(|(_, t)| t.to_string()).collect();
    let stamps = stamps.join(" → ");
    let clock = match broken {
        _ if msgs.is_empty() => Check::fail(
            "clock",
            title,
            tr!(lang, "no Lamport message", "tidak ada pesan Lamport"),
            tr!(
                lang,
                "no timestamps to check: run both processes while capturing",
                "tidak ada timestamp untuk diperiksa: jalankan kedua proses selama capture"
            ),
        ),
        None => Check::pass(
            "clock",
            title,
            tr!(
                lang,
                "timestamps {stamps}: each process sent a larger timestamp than any it had received",
                "timestamp {stamps}: setiap proses mengirim timestamp lebih besar dari yang pernah diterimanya"
            ),
        ),
        Some((got, sent)) => Check::fail(
            "clock",
            title,
            tr!(lang, "clock rule broken", "aturan jam dilanggar"),
            tr!(
                lang,
                "timestamps {stamps}: a process received {got} and then sent {sent}; on receipt the clock must become max(own, received) + 1",
                "timestamp {stamps}: sebuah proses menerima {got} lalu mengirim {sent}; saat menerima, jam harus menjadi max(sendiri, diterima) + 1"
            ),
        ),
    };
    vec![messages, clock]
}

// ---------------------------------------------------------------------------------------------
// Ice and CORBA (LAB.md: the server sends ValidateConnection first on each new connection; the
// client's `checkedCast` is `ice_isA`, then `printString`; `communicator.destroy()` sends
// CloseConnection. CORBA: GIOP Request and Reply, the naming service on 2809).

fn ice(ctx: &Ctx) -> Vec<Check> {
    let lang = ctx.lang;
    let convs: Vec<&Conversation> = ctx.data().into_iter().filter(|c| c.protocol == "Ice").collect();
    let step = |c: &Conversation, opened: bool| {
        c.lifecycle.as_ref().and_then(|l| {
            if opened {
                l.protocol_opened_by.as_ref()
            } else {
                l.protocol_closed_by.as_ref()
            }
            .map(|s| s.message.clone())
        })
    };
    let title = tr!(
        lang,
        "ValidateConnection from the server",
        "ValidateConnection dari server"
    );
    let unvalidated: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| step(c, true).as_deref() != Some("ValidateConnection"))
        .collect();
    let validate = if unvalidated.is_empty() && !convs.is_empty() {
        let n = convs.len();
        Check::pass(
            "validate-connection",
            title,
            tr!(
                lang,
                "the server sent ValidateConnection first on each of the {n} connection(s)",
                "server mengirim ValidateConnection lebih dulu di setiap dari {n} koneksi"
            ),
        )
    } else {
        let at = whos(&unvalidated, lang);
        Check::fail(
            "validate-connection",
            title,
            tr!(lang, "no ValidateConnection", "tidak ada ValidateConnection"),
            tr!(
                lang,
                "no ValidateConnection on {at}: the connection was open before the capture started; start tcpdump before the client",
                "tidak ada ValidateConnection di {at}: koneksi sudah terbuka sebelum capture dimulai; jalankan tcpdump sebelum klien"
            ),
        )
    };
    let requests: Vec<&Message> = convs
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.direction == C2S && matches!(field(m, "type"), Some("Request" | "BatchRequest")))
        .collect();
    let replies = convs.iter().flat_map(|c| typed(c, S2C, "Reply")).count();
    let title = tr!(lang, "requests and their replies", "request dan balasannya");
    let calls = if !requests.is_empty() && replies > 0 {
        let n = requests.len();
        let ops = distinct(requests.iter().filter_map(|m| field(m, "operation"))).join(", ");
        Check::pass(
            "requests",
            title,
            tr!(
                lang,
                "{n} request(s) ({ops}) and {replies} reply(ies)",
                "{n} request ({ops}) dan {replies} balasan"
            ),
        )
    } else {
        Check::fail(
            "requests",
            title,
            tr!(lang, "no Ice request/reply", "tidak ada request/balasan Ice"),
            tr!(
                lang,
                "no Ice request answered by a reply: run the client (ice_isA, then printString) while capturing",
                "tidak ada request Ice yang dijawab: jalankan klien (ice_isA, lalu printString) selama capture"
            ),
        )
    };
    let title = tr!(lang, "CloseConnection", "CloseConnection");
    let ended: Vec<&Conversation> = convs
        .iter()
        .copied()
        .filter(|c| {
            c.lifecycle
                .as_ref()
                .is_some_and(|l| matches!(l.closed, Closing::Fin | Closing::Reset))
        })
        .collect();
    let unclosed: Vec<&Conversation> = ended
        .iter()
        .copied()
        .filter(|c| step(c, false).as_deref() != Some("CloseConnection"))
        .collect();
    let closing = if !ended.is_empty() && unclosed.is_empty() {
        let n = ended.len();
        Check::pass(
            "close-connection",
            title,
            tr!(
                lang,
                "each of the {n} connection(s) ended with CloseConnection before the FIN",
                "setiap dari {n} koneksi diakhiri dengan CloseConnection sebelum FIN"
            ),
        )
    } else {
        let at = if unclosed.is_empty() {
            whos(&convs, lang)
        } else {
            whos(&unclosed, lang)
        };
        Check::fail(
            "close-connection",
            title,
            tr!(lang, "no CloseConnection", "tidak ada CloseConnection"),
            tr!(
                lang,
                "{at} ended without CloseConnection (or not at all in the capture): the client's `communicator.destroy()` sends it; stop tcpdump only after the client exited",
                "{at} berakhir tanpa CloseConnection (atau belum berakhir di capture): `communicator.destroy()` di klien mengirimnya; hentikan tcpdump setelah klien selesai"
            ),
        )
    };
    vec![validate, calls, closing]
}

fn corba(ctx: &Ctx) -> Check {
    let lang = ctx.lang;
    let convs: Vec<&Conversation> = ctx.data().into_iter().filter(|c| c.protocol == "GIOP").collect();
    let requests: Vec<&Message> = convs
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter(|m| m.direction == C2S && field(m, "type") == Some("Request"))
        .collect();
    let replies = convs.iter().flat_map(|c| typed(c, S2C, "Reply")).count();
    let title = tr!(lang, "GIOP Request and Reply", "GIOP Request dan Reply");
    if !requests.is_empty() && replies > 0 {
        let n = requests.len();
        let ops = distinct(requests.iter().filter_map(|m| field(m, "operation")));
        let ops = list(&ops, 4, lang);
        Check::pass(
            "requests",
            title,
            tr!(
                lang,
                "{n} GIOP Request(s) ({ops}) and {replies} Reply(ies)",
                "{n} GIOP Request ({ops}) dan {replies} Reply"
            ),
        )
    } else {
        Check::fail(
            "requests",
            title,
            tr!(lang, "no GIOP Request/Reply", "tidak ada GIOP Request/Reply"),
            tr!(
                lang,
                "no GIOP Request answered by a Reply: run the server (it binds Hello in the naming service) and a client calling sayHello() while capturing",
                "tidak ada GIOP Request yang dijawab Reply: jalankan server (ia mendaftarkan Hello di naming service) dan klien yang memanggil sayHello() selama capture"
            ),
        )
    }
}
