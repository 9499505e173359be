//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers.
//!
//! What to notice in the lab's captures: the *total length* field (IPv4) or *payload length* (IPv6),
//! not the frame, says where the packet ends (Ethernet pads short frames to 60 bytes); IPv4's
//! *identification* increases per packet a host sends, which is how two copies of one packet are told
//! from a retransmission; IPv6 may put *extension headers* between its header and TCP/UDP/ICMPv6 (MLD
//! reports carry a Hop-by-Hop header with the Router Alert option), so "next header" must be followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::DecodeError;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub mod protocol {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IGMP: u8 = 2;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;

    /// A protocol's name, for reports.
    pub fn name(p: u8) -> String {
        match p {
            ICMP => "ICMP".into(),
            IGMP => "IGMP".into(),
            TCP => "TCP".into(),
            UDP => "UDP".into(),
            ICMPV6 => "ICMPv6".into(),
            ESP => "ESP".into(),
            n => format!("IP protocol {n}"),
        }
    }
}

/// An IPv4 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub ident: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    /// Header length in bytes (20 plus options).
    pub header_len: usize,
    /// Total length field: header plus payload.
    pub total_len: u16,
}

/// A parsed IP payload: the bytes present and whether the capture cut the packet short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPayload<'a> {
    pub bytes: &'a [u8],
    /// True when the packet is longer than what was captured (snaplen).
    pub truncated: bool,
}

impl Ipv4Repr {
    /// Parse; the payload is cut at `total_len` (dropping Ethernet padding).
    pub fn parse(b: &[u8]) -> Result<(Ipv4Repr, IpPayload<'_>), DecodeError> {
        let Some(h) = b.get(..20) else {
            return Err(DecodeError::invalid(format!(
                "IPv4 header needs 20 bytes, got {}",
                b.len()
            )));
        };
        if h[0] >> 4 != 4 {
            return Err(DecodeError::invalid(format!(
                "IPv4 header with version {}",
                h[0] >> 4
            )));
        }
        let header_len = usize::from(h[0] & 0x0f) * 4;
        if header_len < 20 {
            return Err(DecodeError::invalid(format!(
                "IPv4 header length {header_len} < 20"
            )));
        }
        let total_len = u16::from_be_bytes([h[2], h[3]]);
        if usize::from(total_len) < header_len {
            return Err(DecodeError::invalid(format!(
                "IPv4 total length {total_len} shorter than its header ({header_len})"
            )));
        }
        if b.len() < header_len {
            return Err(DecodeError::invalid("IPv4 options cut short"));
        }
        let flags_frag = u16::from_be_bytes([h[6], h[7]]);
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
            dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
            protocol: h[9],
            ttl: h[8],
            ident: u16::from_be_bytes([h[4], h[5]]),
            dont_fragment: flags_frag & 0x4000 != 0,
            more_fragments: flags_frag & 0x2000 != 0,
            frag_offset: (flags_frag & 0x1fff) * 8,
            header_len,
            total_len,
        };
        let end = usize::from(total_len).min(b.len());
        let truncated = b.len() < usize::from(total_len);
        Ok((
            repr,
            IpPayload {
                bytes: &b[header_len..end],
                truncated,
            },
        ))
    }

    /// True for a fragment (other than an unfragmented packet): its payload is not a whole transport
    /// segment.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.frag_offset != 0
    }

    /// Write the 20-byte header (no options) with a correct checksum.
    pub fn emit(&self, payload_len: usize, out: &mut Vec<u8>) {
        let start = out.len();
        let total = (20 + payload_len).min(usize::from(u16::MAX)) as u16;
        let mut flags: u16 = self.frag_offset / 8;
        if self.dont_fragment {
            flags |= 0x4000;
        }
        if self.more_fragments {
            flags |= 0x2000;
        }
        out.push(0x45);
        out.push(0);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&self.ident.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.push(self.ttl);
        out.push(self.protocol);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let sum = checksum(&out[start..start + 20]);
        out[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    }
}

/// The Internet checksum (RFC 1071) of `b`.
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in b.chunks(2) {
        let word = if pair.len() == 2 {
            u16::from_be_bytes([pair[0], pair[1]])
        } else {
            u16::from(pair[0]) << 8
        };
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv6 header, with the extension headers that were walked to reach the upper layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The upper-layer protocol after all extension headers (TCP, UDP, ICMPv6...).
    pub protocol: u8,
    pub hop_limit: u8,
    pub payload_len: u16,
    /// The extension headers walked, in order (protocol numbers: 0 Hop-by-Hop, 43 Routing, 44 Fragment,
    /// 60 Destination Options).
    pub extension_headers: Vec<u8>,
    /// True when a Fragment header says this is not the first fragment, or more follow.
    pub fragment: bool,
}

impl Ipv6Repr {
    /// Parse the fixed header and walk the extension headers (RFC 8200 §4).
    pub fn parse(b: &[u8]) -> Result<(Ipv6Repr, IpPayload<'_>), DecodeError> {
        let Some(h) = b.get(..40) else {
            return Err(DecodeError::invalid(format!(
                "IPv6 header needs 40 bytes, got {}",
                b.len()
            )));
        };
        if h[0] >> 4 != 6 {
            return Err(DecodeError::invalid(format!(
                "IPv6 header with version {}",
                h[0] >> 4
            )));
        }
        let payload_len = u16::from_be_bytes([h[4], h[5]]);
        let addr = |at: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&h[at..at + 16]);
            Ipv6Addr::from(a)
        };
        let end = (40 + usize::from(payload_len)).min(b.len());
        let truncated = b.len() < 40 + usize::from(payload_len);
        let mut rest = &b[40..end];
        let mut next = h[6];
        let mut repr = Ipv6Repr {
            src: addr(8),
            dst: addr(24),
            protocol: next,
            hop_limit: h[7],
            payload_len,
            extension_headers: Vec::new(),
            fragment: false,
        };
        // Each extension header: next header (1 byte), length in 8-byte units not counting the first 8
        // (Fragment: fixed 8 bytes), then data. At most 8 are walked: a loop bound against crafted chains.
        while matches!(
            next,
            protocol::HOP_BY_HOP | protocol::ROUTING | protocol::FRAGMENT | protocol::DEST_OPTS
        ) && repr.extension_headers.len() < 8
        {
            let (Some(&nh), Some(&len)) = (rest.first(), rest.get(1)) else {
                return Err(DecodeError::invalid("IPv6 extension header cut short"));
            };
            let size = if next == protocol::FRAGMENT {
                8
            } else {
                (usize::from(len) + 1) * 8
            };
            if next == protocol::FRAGMENT {
                if let Some(f) = rest.get(2..4) {
                    let off_m = u16::from_be_bytes([f[0], f[1]]);
                    repr.fragment = off_m & 0xfff8 != 0 || off_m & 1 != 0;
                }
            }
            let Some(after) = rest.get(size..) else {
                return Err(DecodeError::invalid(
                    "IPv6 extension header longer than the packet",
                ));
            };
            repr.extension_headers.push(next);
            next = nh;
            rest = after;
        }
        repr.protocol = next;
        Ok((
            repr,
            IpPayload {
                bytes: rest,
                truncated,
            },
        ))
    }
}

/// Either IP version's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpRepr {
    V4(Ipv4Repr),
    V6(Ipv6Repr),
}

impl IpRepr {
    pub fn src(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.src),
            IpRepr::V6(r) => IpAddr::V6(r.src),
        }
    }
    pub fn dst(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.dst),
            IpRepr::V6(r) => IpAddr::V6(r.dst),
        }
    }
    /// The upper-layer protocol number.
    pub fn protocol(&self) -> u8 {
        match self {
            IpRepr::V4(r) => r.protocol,
            IpRepr::V6(r) => r.protocol,
        }
    }
    /// True when the payload is a fragment, not a whole transport segment.
    pub fn is_fragment(&self) -> bool {
        match self {
            IpRepr::V4(r) => r.is_fragment(),
            IpRepr::V6(r) => r.fragment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_round_trip_cuts_padding() {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(172, 18, 0, 3),
            dst: Ipv4Addr::new(172, 18, 0, 2),
            protocol: protocol::TCP,
            ttl: 64,
            ident: 0x1234,
            dont_fragment: true,
            more_fragments: false,
            frag_offset: 0,
            header_len: 20,
            total_len: 24,
        };
        let mut b = Vec::new();
        repr.emit(4, &mut b);
        assert_eq!(checksum(&b), 0, "a header with its checksum sums to zero");
        b.extend_from_slice(b"abcd\0\0\0\0"); // payload + Ethernet padding
        let (parsed, payload) = Ipv4Repr::parse(&b).unwrap();
        assert_eq!(parsed, repr);
        assert_eq!(
            payload,
            IpPayload {
                bytes: b"abcd",
                truncated: false
            }
        );
        let (_, cut) = Ipv4Repr::parse(&b[..22]).unwrap();
        assert_eq!(
            cut,
            IpPayload {
                bytes: b"ab",
                truncated: true
            }
        );
        assert!(Ipv4Repr::parse(&b[..19]).is_err());
        let mut bad = b.clone();
        bad[0] = 0x44; // header length 16
        assert!(Ipv4Repr::parse(&bad).is_err());
        bad[0] = 0x4f; // options longer than the data
        assert!(Ipv4Repr::parse(&bad).is_err());
    }

    #[test]
    fn ipv6_walks_hop_by_hop_to_icmpv6() {
        // An MLDv2 report as in the lamport capture: Hop-by-Hop (Router Alert) then ICMPv6.
        let mut b = vec![0x60, 0, 0, 0, 0, 12, protocol::HOP_BY_HOP, 1];
        b.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);
        b.extend_from_slice(&[protocol::ICMPV6, 0, 5, 2, 0, 0, 1, 0]); // HBH: Router Alert, PadN
        b.extend_from_slice(&[143, 0, 0, 0]); // ICMPv6 type 143 = MLDv2 report
        let (r, p) = Ipv6Repr::parse(&b).unwrap();
        assert_eq!(
            (r.protocol, r.extension_headers.clone(), p.bytes),
            (protocol::ICMPV6, vec![0], &[143, 0, 0, 0][..])
        );
        assert!(Ipv6Repr::parse(&b[..45]).is_err());
        assert!(Ipv6Repr::parse(&b[..39]).is_err());
    }
}
