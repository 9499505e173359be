//! Synthetic captures: believable lab traffic (MQTT, HTTP/REST, ZMTP) written with our pcap writer, for
//! the analyzer's benchmark (`bench/analyze.sh`) and for tests that need a capture of a given shape.
//!
//! Every TCP conversation is a real one on the wire: a three-way handshake with random initial sequence
//! numbers, data cut into segments of at most the MSS with sequence and acknowledgement numbers that add
//! up, an ACK for every second segment (delayed ACK, RFC 1122 §4.2.3.2), and a FIN/ACK teardown. IPv4 and
//! TCP checksums are correct, so tshark finds nothing to complain about. Several conversations run at
//! once (their packets interleaved), as on a busy Docker bridge.
//!
//! The messages are encoded by hand here, byte by byte as the course's programs send them (MQTT 3.1.1
//! §3, HTTP/1.1 as Flask answers, ZMTP 3.1 greeting and frames as libzmq sends them).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::Duration;

use crate::write::{PcapWriter, TsResolution, LINKTYPE_ETHERNET};

/// The largest TCP payload per segment (Ethernet MTU 1500 - 20 IP - 20 TCP - 12 timestamps option, as
/// Linux sends; we send no options, so 1448 is just a realistic number).
const MSS: usize = 1448;

/// A small, fast, deterministic random generator (xorshift64*): the same seed gives the same capture.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `lo..hi` (hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// The Internet checksum (RFC 1071) of `parts` concatenated, starting from `sum`.
fn checksum(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One side of a conversation.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    pub mac: [u8; 6],
    pub ip: [u8; 4],
}

impl Host {
    /// Host `172.18.0.n` with Docker's MAC scheme (`02:42:ac:12:00:0n`).
    pub fn docker(n: u8) -> Host {
        Host {
            mac: [0x02, 0x42, 0xac, 0x12, 0, n],
            ip: [172, 18, 0, n],
        }
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// An Ethernet + IPv4 + TCP frame with correct checksums.
#[allow(clippy::too_many_arguments)]
pub fn tcp_frame(
    src: &Host,
    sport: u16,
    dst: &Host,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&dst.mac);
    f.extend_from_slice(&src.mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    let ip_start = f.len();
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&src.ip);
    f.extend_from_slice(&dst.ip);
    let ip_sum = fold(checksum(0, &f[ip_start..ip_start + 20]));
    f[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
    let tcp_start = f.len();
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]); // window 64240
    f.extend_from_slice(payload);
    // Pseudo-header (RFC 793 §3.1): addresses, protocol, TCP length.
    let mut sum = checksum(0, &src.ip);
    sum = checksum(sum, &dst.ip);
    sum += 6 + u32::from(total - 20);
    sum = checksum(sum, &f[tcp_start..]);
    let tcp_sum = fold(sum);
    f[tcp_start + 16..tcp_start + 18].copy_from_slice(&tcp_sum.to_be_bytes());
    f
}

/// A TCP connection being scripted: it keeps both sides' sequence numbers.
#[derive(Debug)]
pub struct Conn {
    client: Host,
    server: Host,
    cport: u16,
    sport: u16,
    /// Next sequence number of the client and of the server.
    cseq: u32,
    sseq: u32,
    /// The frames not yet written.
    pub frames: VecDeque<Vec<u8>>,
}

impl Conn {
    /// A connection with the handshake already queued.
    pub fn open(rng: &mut Rng, client: Host, cport: u16, server: Host, sport: u16) -> Conn {
        let mut c = Conn {
            client,
            server,
            cport,
            sport,
            cseq: rng.next_u64() as u32,
            sseq: rng.next_u64() as u32,
            frames: VecDeque::new(),
        };
        let (cs, ss) = (c.cseq, c.sseq);
        c.frames
            .push_back(tcp_frame(&client, cport, &server, sport, cs, 0, SYN, &[]));
        c.frames.push_back(tcp_frame(
            &server,
            sport,
            &client,
            cport,
            ss,
            cs.wrapping_add(1),
            SYN | ACK,
            &[],
        ));
        c.cseq = cs.wrapping_add(1);
        c.sseq = ss.wrapping_add(1);
        c.frames.push_back(tcp_frame(
            &client,
            cport,
            &server,
            sport,
            c.cseq,
            c.sseq,
            ACK,
            &[],
        ));
        c
    }

    /// Queue `data` sent by the client (`from_client`) or the server, cut into MSS-sized segments, the
    /// other side acknowledging every second segment and the last one.
    pub fn send(&mut self, from_client: bool, data: &[u8]) {
        let (src, sp, dst, dp) = if from_client {
            (self.client, self.cport, self.server, self.sport)
        } else {
            (self.server, self.sport, self.client, self.cport)
        };
        let n = data.len().div_ceil(MSS);
        for (i, seg) in data.chunks(MSS).enumerate() {
            let (seq, ack) = if from_client {
                (self.cseq, self.sseq)
            } else {
                (self.sseq, self.cseq)
            };
            self.frames
                .push_back(tcp_frame(&src, sp, &dst, dp, seq, ack, PSH | ACK, seg));
            let next = seq.wrapping_add(seg.len() as u32);
            if from_client {
                self.cseq = next;
            } else {
                self.sseq = next;
            }
            if i % 2 == 1 || i + 1 == n {
                self.frames
                    .push_back(tcp_frame(&dst, dp, &src, sp, ack, next, ACK, &[]));
            }
        }
    }

    /// Queue the teardown: FIN/ACK from the client, FIN/ACK from the server, the last ACK.
    pub fn close(&mut self) {
        let (c, s) = (self.client, self.server);
        self.frames.push_back(tcp_frame(
            &c,
            self.cport,
            &s,
            self.sport,
            self.cseq,
            self.sseq,
            FIN | ACK,
            &[],
        ));
        self.cseq = self.cseq.wrapping_add(1);
        self.frames.push_back(tcp_frame(
            &s,
            self.sport,
            &c,
            self.cport,
            self.sseq,
            self.cseq,
            FIN | ACK,
            &[],
        ));
        self.sseq = self.sseq.wrapping_add(1);
        self.frames.push_back(tcp_frame(
            &c,
            self.cport,
            &s,
            self.sport,
            self.cseq,
            self.sseq,
            ACK,
            &[],
        ));
    }
}

/// MQTT 3.1.1 Remaining Length (§2.2.3): 7 bits per byte, high bit = more.
fn mqtt_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn mqtt_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// MQTT CONNECT (§3.1), protocol level 4, clean session, keep-alive 60, as paho sends it.
pub fn mqtt_connect(client_id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    mqtt_str(&mut body, b"MQTT");
    body.extend_from_slice(&[4, 0x02, 0, 60]);
    mqtt_str(&mut body, client_id.as_bytes());
    let mut p = vec![0x10];
    mqtt_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

/// MQTT CONNACK (§3.2), session not present, accepted.
pub fn mqtt_connack() -> Vec<u8> {
    vec![0x20, 2, 0, 0]
}

/// MQTT SUBSCRIBE (§3.8) of one topic at QoS 0.
pub fn mqtt_subscribe(id: u16, topic: &str) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    mqtt_str(&mut body, topic.as_bytes());
    body.push(0);
    let mut p = vec![0x82];
    mqtt_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

/// MQTT SUBACK (§3.9) granting QoS 0.
pub fn mqtt_suback(id: u16) -> Vec<u8> {
    let mut p = vec![0x90, 3];
    p.extend_from_slice(&id.to_be_bytes());
    p.push(0);
    p
}

/// MQTT PUBLISH (§3.3) at QoS 0.
pub fn mqtt_publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    mqtt_str(&mut body, topic.as_bytes());
    body.extend_from_slice(payload);
    let mut p = vec![0x30];
    mqtt_len(&mut p, body.len());
    p.extend_from_slice(&body);
    p
}

/// MQTT DISCONNECT (§3.14).
pub fn mqtt_disconnect() -> Vec<u8> {
    vec![0xe0, 0]
}

/// The ZMTP 3.1 greeting (RFC 37 §2.3): signature, version 3.1, mechanism NULL, as-server flag.
pub fn zmtp_greeting(as_server: bool) -> Vec<u8> {
    let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1];
    let mut mech = [0u8; 20];
    mech[..4].copy_from_slice(b"NULL");
    g.extend_from_slice(&mech);
    g.push(u8::from(as_server));
    g.extend_from_slice(&[0u8; 31]);
    g
}

/// A ZMTP READY command (RFC 37 §2.5.1) with the Socket-Type property.
pub fn zmtp_ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut f = vec![0x04, body.len() as u8];
    f.extend_from_slice(&body);
    f
}

/// A single-frame ZMTP message (short or long frame, RFC 37 §2.4).
pub fn zmtp_message(data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(data.len() + 9);
    if data.len() < 256 {
        f.extend_from_slice(&[0x00, data.len() as u8]);
    } else {
        f.push(0x02);
        f.extend_from_slice(&(data.len() as u64).to_be_bytes());
    }
    f.extend_from_slice(data);
    f
}

/// What [`write_mixed`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub packets: u64,
    pub bytes: u64,
    pub conversations: u64,
    pub mqtt_publish: u64,
    pub http_requests: u64,
    pub zmtp_messages: u64,
}

/// One scripted conversation of the mix.
fn script(rng: &mut Rng, n: u64, w: &mut Written) -> Conn {
    let client = Host::docker(3 + (n % 40) as u8);
    let cport = 32768 + (n % 28000) as u16;
    match n % 4 {
        // An MQTT publisher session: CONNECT, then many PUBLISH, DISCONNECT.
        0 | 1 => {
            let broker = Host::docker(2);
            let mut c = Conn::open(rng, client, cport, broker, 1883);
            c.send(true, &mqtt_connect(&format!("paho-{n}")));
            c.send(false, &mqtt_connack());
            let topic =
                ["sister/temp", "sister/channel/gaming", "sister/channel/kesehatan"][(n % 3) as usize];
            for i in 0..rng.range(200, 600) {
                let mut payload = format!("Suhu: {}°C #{i} ", 20 + rng.range(0, 15)).into_bytes();
                payload.resize(payload.len() + rng.range(0, 400) as usize, b'x');
                c.send(true, &mqtt_publish(topic, &payload));
                w.mqtt_publish += 1;
            }
            c.send(true, &mqtt_disconnect());
            c.close();
            c
        }
        // A REST client: several requests on one keep-alive connection, JSON answers, some large.
        2 => {
            let server = Host::docker(200);
            let mut c = Conn::open(rng, client, cport, server, 5151);
            for _ in 0..rng.range(20, 60) {
                let (a, b) = (rng.range(0, 1000), rng.range(0, 1000));
                let req = format!("GET /add?a={a}&b={b} HTTP/1.1\r\nHost: rest-server:5151\r\nUser-Agent: python-requests/2.32.3\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n");
                c.send(true, req.as_bytes());
                let pad = "7".repeat(rng.range(0, 6000) as usize);
                let body = format!("{{\"result\": {}, \"pad\": \"{pad}\"}}\n", a + b);
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nServer: Werkzeug/3.0.1 Python/3.11\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
                    body.len()
                );
                c.send(false, resp.as_bytes());
                w.http_requests += 1;
            }
            c.close();
            c
        }
        // ZeroMQ REQ/REP: greeting, READY, Hello/World.
        _ => {
            let server = Host::docker(201);
            let mut c = Conn::open(rng, client, cport, server, 5555);
            c.send(true, &zmtp_greeting(false));
            c.send(false, &zmtp_greeting(true));
            c.send(true, &zmtp_ready("REQ"));
            c.send(false, &zmtp_ready("REP"));
            for _ in 0..rng.range(100, 300) {
                let mut req = vec![0x01, 0x00];
                req.extend(zmtp_message(b"Hello"));
                c.send(true, &req);
                let mut rep = vec![0x01, 0x00];
                rep.extend(zmtp_message(&vec![b'W'; rng.range(5, 2000) as usize]));
                c.send(false, &rep);
                w.zmtp_messages += 2;
            }
            c.close();
            c
        }
    }
}

/// Write about `target_bytes` of mixed lab traffic as a pcap file into `out`: MQTT publishers, REST
/// clients and ZeroMQ REQ/REP pairs, `parallel` conversations interleaved at a time.
pub fn write_mixed<W: Write>(out: W, target_bytes: u64, parallel: usize, seed: u64) -> io::Result<Written> {
    let mut w = PcapWriter::new(out, LINKTYPE_ETHERNET, 262_144, TsResolution::Micros)?;
    let mut rng = Rng::new(seed);
    let mut written = Written::default();
    let mut active: Vec<Conn> = Vec::new();
    let mut t = Duration::from_secs(1_700_000_000);
    let mut n = 0u64;
    let mut turn = 0usize;
    loop {
        while active.len() < parallel.max(1) && written.bytes < target_bytes {
            active.push(script(&mut rng, n, &mut written));
            n += 1;
            written.conversations += 1;
        }
        if active.is_empty() {
            break;
        }
        turn = (turn + 1) % active.len();
        // A few packets of one conversation, then the next: interleaved, each stream in order.
        for _ in 0..rng.range(1, 4) {
            match active[turn].frames.pop_front() {
                Some(frame) => {
                    t += Duration::from_micros(rng.range(5, 200));
                    w.write_packet(t, frame.len() as u32, &frame)?;
                    written.packets += 1;
                    written.bytes += 16 + frame.len() as u64;
                }
                None => break,
            }
        }
        if active[turn].frames.is_empty() {
            active.swap_remove(turn);
        }
    }
    w.finish()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_remaining_length_encoding() {
        let mut v = Vec::new();
        mqtt_len(&mut v, 321);
        assert_eq!(v, [0xc1, 0x02]); // MQTT 3.1.1 §2.2.3 example: 321 = 65 + 2*128
        assert_eq!(mqtt_connack(), [0x20, 2, 0, 0]);
        assert_eq!(zmtp_greeting(true).len(), 64);
    }

    /// tshark must read the synthetic capture without a single complaint: MQTT, HTTP and TCP all valid.
    #[test]
    fn tshark_accepts_the_synthetic_mix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mix.pcap");
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let w = write_mixed(file, 600_000, 4, 7).unwrap();
        assert!(
            w.mqtt_publish > 0 && w.http_requests > 0 && w.zmtp_messages > 0,
            "{w:?}"
        );
        let count = |filter: &str| -> u64 {
            let out = std::process::Command::new("tshark")
                .args([
                    "-n",
                    "-o",
                    "tcp.check_checksum:TRUE",
                    "-o",
                    "ip.check_checksum:TRUE",
                    "-r",
                ])
                .arg(&path)
                .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
                .output()
                .expect("tshark must be installed (.ci/run installs it)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).lines().count() as u64
        };
        assert_eq!(
            count("tcp.analysis.flags && !tcp.analysis.window_update"),
            0,
            "TCP analysis found problems"
        );
        assert_eq!(
            count("_ws.expert.severity >= warning"),
            0,
            "tshark warnings (bad checksum, malformed)"
        );
        assert_eq!(count("mqtt.msgtype == 3"), w.mqtt_publish);
        assert_eq!(count("http.request"), w.http_requests);
    }
}
