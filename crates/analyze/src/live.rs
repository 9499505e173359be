//! Live decoding for `sister capture --decode`: one line per message as it happens, and the whole
//! report when the capture stops.
//!
//! The packets go through the same [`Analyzer`] as a file would (reassembly, dissectors chosen by
//! content), so a live line says exactly what `sister analyze` will say about the saved file. Besides
//! the application messages, connection events a student watches for (SYN, FIN, RST) get a line too,
//! and so does ARP; plain ACKs and the segments that carry no complete message stay silent.

use std::net::SocketAddr;

use capture::Packet;
use wire::net::{Decoded, Network, Transport};

use crate::render::Names;
use crate::report::{Direction, Report};
use crate::{Analyzer, Options};

/// The state of a live decode.
pub struct LiveDecoder {
    analyzer: Analyzer,
    cursors: Vec<usize>,
    first_ns: Option<i64>,
    names: Names,
}

impl LiveDecoder {
    /// A decoder; `names` labels hosts (`mqtt-sub (172.18.0.4)`).
    pub fn new(names: Names) -> LiveDecoder {
        let options = Options {
            // A live session can last long: keep many more messages than for a file's report.
            max_messages: 100_000,
            ..Options::default()
        };
        LiveDecoder {
            analyzer: Analyzer::new(options),
            cursors: Vec::new(),
            first_ns: None,
            names,
        }
    }

    fn endpoint(&self, a: SocketAddr) -> String {
        match self.names.name(&a.ip().to_string()) {
            Some(n) => format!("{n}({a})"),
            None => a.to_string(),
        }
    }

    /// Take one packet; returns the lines to print for it (often none, sometimes several).
    pub fn packet(&mut self, p: &Packet<'_>, d: &Decoded<'_>) -> Vec<String> {
        let first = *self.first_ns.get_or_insert(p.ts.0);
        let t = (p.ts.0 - first) as f64 / 1e9;
        self.analyzer.packet(p);
        let mut lines = Vec::new();
        // Connection events, from the headers.
        if let (Network::Ip(ip), Transport::Tcp(tcp)) = (&d.network, &d.transport) {
            let f = tcp.flags;
            if f.syn() || f.fin() || f.rst() {
                let src = self.endpoint(SocketAddr::new(ip.src(), tcp.src_port));
                let dst = self.endpoint(SocketAddr::new(ip.dst(), tcp.dst_port));
                lines.push(format!("{t:>10.6}  {src} → {dst}  TCP {f}"));
            }
        }
        if let Network::Arp(a) = &d.network {
            lines.push(format!("{t:>10.6}  ARP {a}"));
        }
        // Messages the dissectors completed with this packet.
        for (id, client, server, m) in self.analyzer.drain_messages(&mut self.cursors) {
            let (from, to) = match m.direction {
                Direction::ClientToServer => (client, server),
                Direction::ServerToClient => (server, client),
            };
            lines.push(format!(
                "{:>10.6}  {} → {}  {} {}  [#{id}]",
                m.t,
                self.endpoint(from),
                self.endpoint(to),
                m.protocol,
                m.summary
            ));
        }
        lines
    }

    /// The capture stopped: the report of everything seen, its hosts named as the lines were.
    pub fn finish(self) -> Report {
        let mut report = self.analyzer.finish().0;
        self.names.name_hosts(&mut report);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capture::read::Reader;

    /// Replaying a real capture through the live decoder prints the echo exchange message by message.
    #[test]
    fn replays_a_capture_line_by_line() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/pcaps/tcpreqresp__aishadwiar-hub__reqresp.pcap"
        );
        let mut reader = Reader::open(path).unwrap();
        let mut dec = LiveDecoder::new(Names::parse("172.18.0.2 reqresp-server").unwrap());
        let mut lines = Vec::new();
        while let Ok(Some(p)) = reader.next_packet() {
            let d = wire::net::decode(p.linktype.0, p.data);
            lines.extend(dec.packet(&p, &d));
        }
        let text = lines.join("\n");
        assert!(text.contains("TCP [SYN]"), "{text}");
        assert!(text.contains("→ reqresp-server(172.18.0.2:2222)"), "{text}");
        assert!(text.contains("hai"), "{text}");
        assert!(text.contains("Echo: 'hai'"), "{text}");
        assert!(text.contains("TCP [FIN, ACK]"), "{text}");
        let report = dec.finish();
        assert_eq!(report.conversations.len(), 1);
        let server = report.hosts.iter().find(|h| h.addr == "172.18.0.2").unwrap();
        assert_eq!(server.name.as_deref(), Some("reqresp-server"));
    }
}
