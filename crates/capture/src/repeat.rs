//! A real capture repeated: N copies of it one after the other in one pcap file, each copy made of
//! new conversations, for the analyzer's benchmark on real traffic (`sister bench analyze --merge`).
//!
//! Copying the packets is not enough. A copy that keeps its ports and sequence numbers is, to a reader
//! that follows TCP (tshark, and sister), the same connection again: every later copy reads as
//! retransmissions of the first, and tshark dissects only the first copy's MQTT. So each copy `k`
//! gets its own client ports: the higher port of every TCP or UDP packet, when it is an ephemeral one
//! (32768 and up, where Linux and Docker pick client ports), moves by `k * PORT_STEP` within that range.
//! The server's port (1883, 5555, ...) stays, so every copy is still dissected as its protocol.
//!
//! Changing a port changes the transport checksum, which tshark checks when asked and sister notes as
//! an anomaly. The checksum is updated in place, as a router does after NAT: RFC 1624 §3, eqn. 3,
//! `HC' = ~(~HC + ~m + m')` for each 16-bit word `m` that became `m'`; no need to sum the whole packet.
//! A UDP checksum of 0 (IPv4's "none", RFC 768) stays 0.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use wire::net::{self, IpRepr, Network, Transport};

use crate::read::{ReadError, Reader};
use crate::write::{PcapWriter, TsResolution};

/// How far a copy's client ports move from the previous copy's: odd, so that 32768 copies pass before
/// a port comes back.
pub const PORT_STEP: u32 = 97;
/// The first ephemeral port (Linux's `ip_local_port_range` starts here; Docker's too).
const EPHEMERAL: u16 = 32768;

/// What [`write_copies`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Packets in one copy of the input.
    pub packets_per_copy: u64,
    /// Packets written in all.
    pub packets: u64,
    /// Packets whose client port was moved (and checksum updated).
    pub ports_moved: u64,
    /// Packets left out because their link type differs from the first packet's (a pcap file has one).
    pub skipped: u64,
}

/// Write `copies` copies of the capture at `input` to `out` as one pcap file (nanosecond timestamps,
/// the input's first link type). Copy `k` starts one second after copy `k - 1` ends.
pub fn write_copies<W: Write>(input: &Path, out: W, copies: u32) -> Result<Written, ReadError> {
    // A first pass for the link type, the snaplen to declare and the time span of one copy.
    let (linktype, span_ns, snaplen) = {
        let mut r = Reader::open(input)?;
        let mut first: Option<(u16, i64)> = None;
        let mut last = 0i64;
        let mut snaplen = 0usize;
        while let Some(p) = r.next_packet()? {
            first.get_or_insert((p.linktype.0, p.ts.0));
            last = last.max(p.ts.0);
            snaplen = snaplen.max(p.data.len());
        }
        let Some((linktype, start)) = first else {
            return Err(ReadError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} holds no packets to copy", input.display()),
            )));
        };
        (linktype, last.saturating_sub(start), snaplen.max(65535) as u32)
    };
    let gap = span_ns + 1_000_000_000;
    let mut w = PcapWriter::new(out, u32::from(linktype), snaplen, TsResolution::Nanos)?;
    let mut written = Written::default();
    let mut frame = Vec::with_capacity(65536);
    for k in 0..copies {
        let mut r = Reader::open(input)?;
        let mut in_copy = 0u64;
        while let Some(p) = r.next_packet()? {
            in_copy += 1;
            if p.linktype.0 != linktype {
                written.skipped += 1;
                continue;
            }
            frame.clear();
            frame.extend_from_slice(p.data);
            if k > 0 && move_client_port(linktype, &mut frame, k) {
                written.ports_moved += 1;
            }
            let ns = p.ts.0.saturating_add(i64::from(k) * gap).max(0) as u64;
            let ts = Duration::new(ns / 1_000_000_000, (ns % 1_000_000_000) as u32);
            w.write_packet(ts, p.orig_len, &frame)?;
            written.packets += 1;
        }
        written.packets_per_copy = in_copy;
    }
    w.finish()?;
    Ok(written)
}

/// Move the ephemeral port of a TCP or UDP packet in `frame` by `copy * PORT_STEP` and update the
/// checksum. Returns false (frame unchanged) when there is no such port or header to change.
pub fn move_client_port(linktype: u16, frame: &mut [u8], copy: u32) -> bool {
    // Where the transport header starts and where its checksum is: read off the decoded packet.
    let (at, checksum_at, ports) = {
        let d = net::decode(linktype, frame);
        let Network::Ip(ip) = &d.network else {
            return false;
        };
        if let IpRepr::V4(v4) = ip {
            if v4.frag_offset != 0 {
                return false; // a later fragment has no transport header
            }
        }
        // `payload` lies inside `frame`: its offset minus the header's length is the header's start.
        let payload_at = d.payload.as_ptr() as usize - frame.as_ptr() as usize;
        match &d.transport {
            Transport::Tcp(t) => (payload_at - t.header_len, 16, (t.src_port, t.dst_port)),
            Transport::Udp(u) => (payload_at - 8, 6, (u.src_port, u.dst_port)),
            _ => return false,
        }
    };
    let (client, field) = if ports.0 >= ports.1 {
        (ports.0, 0)
    } else {
        (ports.1, 2)
    };
    if client < EPHEMERAL || ports.0 == ports.1 || frame.len() < at + checksum_at + 2 {
        return false;
    }
    let span = u32::from(u16::MAX - EPHEMERAL) + 1;
    let moved = EPHEMERAL + ((u32::from(client - EPHEMERAL) + copy * PORT_STEP) % span) as u16;
    frame[at + field..at + field + 2].copy_from_slice(&moved.to_be_bytes());
    let c = at + checksum_at;
    let old_sum = u16::from_be_bytes([frame[c], frame[c + 1]]);
    let udp = checksum_at == 6;
    if udp && old_sum == 0 {
        return true; // no checksum to keep right
    }
    let mut new_sum = checksum_update(old_sum, client, moved);
    if udp && new_sum == 0 {
        new_sum = 0xffff; // RFC 768: a computed 0 is sent as all ones
    }
    frame[c..c + 2].copy_from_slice(&new_sum.to_be_bytes());
    true
}

/// RFC 1624 §3, eqn. 3: the checksum `hc` after one 16-bit word of the summed data went from `old` to
/// `new`, in one's complement arithmetic.
fn checksum_update(hc: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Internet checksum (RFC 1071) of `words`, summed from scratch.
    fn full(words: &[u16]) -> u16 {
        let mut sum: u32 = words.iter().map(|&w| u32::from(w)).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn incremental_update_equals_a_full_sum() {
        let mut words = vec![
            0x4500, 0x0073, 0x0000, 0x4000, 0x4011, 0xc0a8, 0x0001, 0xc0a8, 0x00c7, 54321,
        ];
        for new in [0u16, 1, 1883, 32768, 54321, 65535] {
            let old = words[9];
            let hc = full(&words);
            words[9] = new;
            assert_eq!(checksum_update(hc, old, new), full(&words), "{old} -> {new}");
        }
    }

    /// A real capture copied three times: each copy's client ports differ, the server port stays, and
    /// the analyzer finds three times the conversations and no bad checksum.
    #[test]
    fn copies_of_a_synthetic_capture_are_new_conversations() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.pcap");
        let f = std::fs::File::create(&one).unwrap();
        crate::synth::write_mixed(std::io::BufWriter::new(f), 200_000, 4, 7).unwrap();
        let three = dir.path().join("three.pcap");
        let f = std::fs::File::create(&three).unwrap();
        let w = write_copies(&one, std::io::BufWriter::new(f), 3).unwrap();
        assert_eq!(w.packets, 3 * w.packets_per_copy);
        assert!(w.ports_moved > 0);

        // Every copy's (client port, server port) pairs: disjoint between copies, same server ports.
        let mut r = Reader::open(&three).unwrap();
        let mut per_copy: Vec<std::collections::BTreeSet<(u16, u16)>> = vec![Default::default(); 3];
        let mut n = 0u64;
        while let Some(p) = r.next_packet().unwrap() {
            let copy = (n / w.packets_per_copy) as usize;
            n += 1;
            let d = net::decode(p.linktype.0, p.data);
            if let Transport::Tcp(t) = &d.transport {
                let pair = (t.src_port.max(t.dst_port), t.src_port.min(t.dst_port));
                per_copy[copy].insert(pair);
                // The checksum still holds: recompute it over the pseudo-header and segment.
                if let Network::Ip(IpRepr::V4(v4)) = &d.network {
                    let payload_at = d.payload.as_ptr() as usize - p.data.as_ptr() as usize;
                    let seg = &p.data[payload_at - t.header_len..];
                    let mut words: Vec<u16> = Vec::new();
                    for o in [v4.src.octets(), v4.dst.octets()] {
                        words.push(u16::from_be_bytes([o[0], o[1]]));
                        words.push(u16::from_be_bytes([o[2], o[3]]));
                    }
                    words.push(6);
                    words.push(seg.len() as u16);
                    for c in seg.chunks(2) {
                        words.push(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
                    }
                    assert_eq!(full(&words), 0, "TCP checksum of packet {n} is wrong");
                }
            }
        }
        let servers = |s: &std::collections::BTreeSet<(u16, u16)>| {
            s.iter()
                .map(|&(_, srv)| srv)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(servers(&per_copy[0]), servers(&per_copy[1]));
        assert!(per_copy[0].is_disjoint(&per_copy[1]));
        assert!(per_copy[1].is_disjoint(&per_copy[2]));
    }
}
