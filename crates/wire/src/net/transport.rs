//! Transport headers: TCP (RFC 9293), UDP (RFC 768), and the type/code of ICMP (RFC 792) and ICMPv6
//! (RFC 4443, with MLD and Neighbor Discovery).
//!
//! What to notice in TCP: `seq` counts *bytes* (SYN and FIN each count as one), `ack` is the next byte
//! expected from the other side, and the flags tell the connection's story: SYN / SYN+ACK / ACK opens it,
//! PSH+ACK carries data, FIN closes one direction, RST tears it down at once. The window (times the
//! *window scale* agreed in the SYNs) is how much more the receiver can take; 0 means "stop sending".

use std::fmt;

use crate::DecodeError;

/// TCP flags (the 9 bits after the data offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

impl fmt::Display for TcpFlags {
    /// Wireshark's notation: `[SYN, ACK]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::FIN, "FIN"),
            (Self::SYN, "SYN"),
            (Self::RST, "RST"),
            (Self::PSH, "PSH"),
            (Self::ACK, "ACK"),
            (Self::URG, "URG"),
            (Self::ECE, "ECE"),
            (Self::CWR, "CWR"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        write!(f, "[{}]", set.join(", "))
    }
}

/// A TCP header with the options the analyzer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The raw window field (multiply by 2^window_scale after the handshake).
    pub window: u16,
    /// Header length in bytes (20 to 60).
    pub header_len: usize,
    /// Maximum Segment Size option (SYN only).
    pub mss: Option<u16>,
    /// Window Scale option (SYN only), the shift count.
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// SACK blocks (left, right edges) when present.
    pub sack: Vec<(u32, u32)>,
}

impl TcpRepr {
    /// Parse a TCP header; returns it and the payload.
    pub fn parse(b: &[u8]) -> Result<(TcpRepr, &[u8]), DecodeError> {
        let Some(h) = b.get(..20) else {
            return Err(DecodeError::invalid(format!(
                "TCP header needs 20 bytes, got {}",
                b.len()
            )));
        };
        let header_len = usize::from(h[12] >> 4) * 4;
        if header_len < 20 {
            return Err(DecodeError::invalid(format!("TCP data offset {header_len} < 20")));
        }
        let Some(options) = b.get(20..header_len) else {
            return Err(DecodeError::invalid("TCP options cut short"));
        };
        let mut repr = TcpRepr {
            src_port: u16::from_be_bytes([h[0], h[1]]),
            dst_port: u16::from_be_bytes([h[2], h[3]]),
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            flags: TcpFlags(u16::from_be_bytes([h[12], h[13]]) & 0x01ff),
            window: u16::from_be_bytes([h[14], h[15]]),
            header_len,
            mss: None,
            window_scale: None,
            sack_permitted: false,
            sack: Vec::new(),
        };
        // Options (RFC 9293 §3.2): kind 0 ends, kind 1 pads, every other is kind, length, data.
        let mut o = options;
        while let Some(&kind) = o.first() {
            match kind {
                0 => break,
                1 => o = &o[1..],
                _ => {
                    let Some(&len) = o.get(1) else { break };
                    let len = usize::from(len);
                    let Some(data) = o.get(2..len.max(2)) else { break };
                    match (kind, data.len()) {
                        (2, 2) => repr.mss = Some(u16::from_be_bytes([data[0], data[1]])),
                        (3, 1) => repr.window_scale = Some(data[0].min(14)),
                        (4, 0) => repr.sack_permitted = true,
                        (5, n) if n % 8 == 0 => {
                            for blk in data.chunks(8) {
                                repr.sack.push((
                                    u32::from_be_bytes([blk[0], blk[1], blk[2], blk[3]]),
                                    u32::from_be_bytes([blk[4], blk[5], blk[6], blk[7]]),
                                ));
                            }
                        }
                        _ => {}
                    }
                    if len < 2 {
                        break; // a zero or one length would loop forever
                    }
                    o = &o[len..];
                }
            }
        }
        Ok((repr, &b[header_len..]))
    }

    /// Write a header without options (checksum left 0: capture files do not need it).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ack.to_be_bytes());
        out.extend_from_slice(&((5u16 << 12) | (self.flags.0 & 0x01ff)).to_be_bytes());
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
}

/// A UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Header plus payload, as the header says.
    pub length: u16,
}

impl UdpRepr {
    /// Parse; the payload is cut at the header's length.
    pub fn parse(b: &[u8]) -> Result<(UdpRepr, &[u8]), DecodeError> {
        let Some(h) = b.get(..8) else {
            return Err(DecodeError::invalid(format!(
                "UDP header needs 8 bytes, got {}",
                b.len()
            )));
        };
        let repr = UdpRepr {
            src_port: u16::from_be_bytes([h[0], h[1]]),
            dst_port: u16::from_be_bytes([h[2], h[3]]),
            length: u16::from_be_bytes([h[4], h[5]]),
        };
        if usize::from(repr.length) < 8 {
            return Err(DecodeError::invalid(format!("UDP length {} < 8", repr.length)));
        }
        let end = usize::from(repr.length).min(b.len());
        Ok((repr, &b[8..end]))
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&self.dst_port.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
}

/// An ICMP or ICMPv6 message's type and code, with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRepr {
    pub v6: bool,
    pub kind: u8,
    pub code: u8,
}

impl IcmpRepr {
    pub fn parse(b: &[u8], v6: bool) -> Result<IcmpRepr, DecodeError> {
        match b {
            [kind, code, ..] => Ok(IcmpRepr {
                v6,
                kind: *kind,
                code: *code,
            }),
            _ => Err(DecodeError::invalid("ICMP message shorter than 2 bytes")),
        }
    }

    /// Wireshark's name for the message.
    pub fn name(&self) -> String {
        let n = match (self.v6, self.kind) {
            (false, 0) => "Echo (ping) reply",
            (false, 3) => "Destination unreachable",
            (false, 8) => "Echo (ping) request",
            (false, 11) => "Time-to-live exceeded",
            (true, 1) => "Destination Unreachable",
            (true, 128) => "Echo (ping) request",
            (true, 129) => "Echo (ping) reply",
            (true, 130) => "Multicast Listener Query",
            (true, 131) => "Multicast Listener Report",
            (true, 132) => "Multicast Listener Done",
            (true, 133) => "Router Solicitation",
            (true, 134) => "Router Advertisement",
            (true, 135) => "Neighbor Solicitation",
            (true, 136) => "Neighbor Advertisement",
            (true, 143) => "Multicast Listener Report Message v2",
            (v6, k) => {
                return format!(
                    "{} type {k} code {}",
                    if v6 { "ICMPv6" } else { "ICMP" },
                    self.code
                )
            }
        };
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_syn_with_options() {
        let mut b = vec![
            0x9f, 0x58, 0x08, 0xae, // 40792 -> 2222
            0, 0, 0, 100, 0, 0, 0, 0, // seq 100, ack 0
            0x80, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, // 32-byte header, SYN, window 64240
        ];
        b.extend_from_slice(&[2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1]); // MSS 1460, SACK ok, WS 7
        b.extend_from_slice(b"x");
        let (t, payload) = TcpRepr::parse(&b).unwrap();
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.header_len),
            (40792, 2222, 100, 32)
        );
        assert_eq!(
            (t.mss, t.window_scale, t.sack_permitted),
            (Some(1460), Some(7), true)
        );
        assert_eq!(t.flags.to_string(), "[SYN]");
        assert_eq!(payload, b"x");
        assert!(TcpRepr::parse(&b[..25]).is_err());
        let mut out = Vec::new();
        t.emit(&mut out);
        assert_eq!(TcpRepr::parse(&out).unwrap().0.seq, 100);
        // an option with length 0 must not loop
        let mut bad = b.clone();
        bad[20..22].copy_from_slice(&[8, 0]);
        assert!(TcpRepr::parse(&bad).is_ok());
    }

    #[test]
    fn udp_cuts_at_length() {
        let b = [0x30, 0x39, 0x30, 0x39, 0, 10, 0, 0, b'h', b'i', 0, 0];
        let (u, p) = UdpRepr::parse(&b).unwrap();
        assert_eq!((u.src_port, u.length, p), (12345, 10, &b"hi"[..]));
        assert!(UdpRepr::parse(&b[..7]).is_err());
        assert!(UdpRepr::parse(&[0, 0, 0, 0, 0, 4, 0, 0]).is_err());
    }

    #[test]
    fn icmp_names() {
        assert_eq!(
            IcmpRepr::parse(&[143, 0], true).unwrap().name(),
            "Multicast Listener Report Message v2"
        );
        assert_eq!(
            IcmpRepr::parse(&[8, 0], false).unwrap().name(),
            "Echo (ping) request"
        );
        assert!(IcmpRepr::parse(&[8], false).is_err());
    }
}
