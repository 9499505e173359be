//! The UDP pattern's logic, without sockets: the course's reply text, numbered test datagrams, and the
//! tally of what came back (lost, duplicated, reordered).

use std::collections::HashSet;
use std::net::SocketAddr;

/// A socket address as Python prints it: `('172.18.0.3', 44529)`, or for IPv6 the 4-tuple
/// `('::1', 5000, 0, 0)` that Python's `recvfrom` returns.
pub fn python_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("('{}', {})", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("('{}', {}, {}, {})", a.ip(), a.port(), a.flowinfo(), a.scope_id()),
    }
}

/// The course server's answer: `Hello, ('<ip>', <port>). You said: <text>` (the text byte for byte).
pub fn reply(from: SocketAddr, datagram: &[u8]) -> Vec<u8> {
    let mut out = format!("Hello, {}. You said: ", python_addr(from)).into_bytes();
    out.extend_from_slice(datagram);
    out
}

/// The payload of test datagram `seq` of `size` bytes: `#<seq> ` then dots (at least the number).
pub fn numbered(seq: u64, size: usize) -> Vec<u8> {
    let mut out = format!("#{seq} ").into_bytes();
    if out.len() < size {
        out.resize(size, b'.');
    }
    out
}

/// The sequence number a reply carries back (`... You said: #42 ....`), if it is one of ours.
pub fn seq_of_reply(reply: &[u8]) -> Option<u64> {
    const MARK: &[u8] = b"You said: #";
    let at = reply.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let digits: Vec<u8> = reply[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// What came back of `sent` numbered datagrams.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: u64,
    seen: HashSet<u64>,
    pub duplicated: u64,
    pub reordered: u64,
    /// Replies that were not one of ours (or beyond what was sent).
    pub foreign: u64,
    highest: Option<u64>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// One more datagram sent.
    pub fn sent_one(&mut self) {
        self.sent += 1;
    }

    /// A reply arrived.
    pub fn received(&mut self, reply: &[u8]) {
        let Some(seq) = seq_of_reply(reply) else {
            self.foreign += 1;
            return;
        };
        if !self.seen.insert(seq) {
            self.duplicated += 1;
            return;
        }
        // A reply older than one already seen overtook nobody: it *was* overtaken.
        match self.highest {
            Some(h) if seq < h => self.reordered += 1,
            _ => self.highest = Some(seq),
        }
    }

    /// Distinct datagrams that came back.
    pub fn received_unique(&self) -> u64 {
        self.seen.len() as u64
    }

    /// Sent but never answered (lost on the way there or back).
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received_unique())
    }

    /// True once every datagram sent has been answered.
    pub fn complete(&self) -> bool {
        self.received_unique() >= self.sent
    }

    /// One line for the student.
    pub fn summary(&self) -> String {
        let pct = if self.sent == 0 {
            0.0
        } else {
            100.0 * self.lost() as f64 / self.sent as f64
        };
        format!(
            "sent {}, received {}, lost {} ({pct:.1}%), duplicated {}, reordered {}",
            self.sent,
            self.received_unique(),
            self.lost(),
            self.duplicated,
            self.reordered
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_addresses_like_python() {
        let v4: SocketAddr = "172.18.0.3:44529".parse().unwrap();
        assert_eq!(python_addr(v4), "('172.18.0.3', 44529)");
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        assert_eq!(python_addr(v6), "('::1', 5000, 0, 0)");
        assert_eq!(
            reply(v4, b"Hello, UDP server2!"),
            b"Hello, ('172.18.0.3', 44529). You said: Hello, UDP server2!"
        );
    }

    #[test]
    fn numbers_round_trip_through_a_reply() {
        let d = numbered(42, 64);
        assert_eq!(d.len(), 64);
        let r = reply("127.0.0.1:1".parse().unwrap(), &d);
        assert_eq!(seq_of_reply(&r), Some(42));
        assert_eq!(numbered(12345, 2), b"#12345 ");
        assert_eq!(seq_of_reply(b"You said: hi"), None);
    }

    #[test]
    fn tallies_loss_duplicates_and_reordering() {
        let mut t = Tally::new();
        for _ in 0..5 {
            t.sent_one();
        }
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for seq in [0, 2, 1, 2, 4] {
            t.received(&reply(from, &numbered(seq, 8)));
        }
        t.received(b"something else");
        assert_eq!(
            (
                t.received_unique(),
                t.lost(),
                t.duplicated,
                t.reordered,
                t.foreign
            ),
            (4, 1, 1, 1, 1)
        );
        assert!(!t.complete());
        assert_eq!(
            t.summary(),
            "sent 5, received 4, lost 1 (20.0%), duplicated 1, reordered 1"
        );
    }
}
