//! Link-layer headers: what comes before the IP packet in a captured frame.
//!
//! A capture file says per interface which header its frames start with (the *link type*):
//! - **Ethernet II** (`LINKTYPE_ETHERNET` = 1): destination MAC, source MAC, EtherType (IEEE 802.3). An
//!   802.1Q VLAN tag (EtherType 0x8100, or 0x88a8 for the outer tag of QinQ) inserts 4 bytes before the
//!   real EtherType. Frames shorter than 60 bytes are *padded* by the sender: the IP header's length,
//!   not the frame's, says where the packet ends.
//! - **Linux cooked v1** (`LINUX_SLL` = 113) and **v2** (`LINUX_SLL2` = 276): what `tcpdump -i any`
//!   writes, because "any" has no single link layer. Instead of Ethernet addresses it records the
//!   *packet type* (to us, broadcast, multicast, to another host, sent by us) and, in v2, the interface
//!   index. Notice in an `-i any` capture of a Docker bridge: each packet is seen twice, once on the
//!   container's veth (`OUTGOING` or `HOST`) and once on the bridge, with two ifindexes.
//! - **BSD loopback** (`NULL` = 0, `LOOP` = 108): a 4-byte address family (2 = IPv4; 24, 28 or 30 =
//!   IPv6 depending on the OS). In `NULL` it is in the capturing machine's byte order, so both are tried.
//! - **Raw IP** (`RAW` = 101, `IPV4` = 228, `IPV6` = 229): no link header at all.

use std::fmt;

use crate::DecodeError;

/// An EtherType (IEEE 802 numbers): what the link layer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    pub const VLAN: EtherType = EtherType(0x8100);
    pub const QINQ: EtherType = EtherType(0x88a8);
    pub const IPV6: EtherType = EtherType(0x86dd);

    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            EtherType::IPV4 => "IPv4",
            EtherType::ARP => "ARP",
            EtherType::VLAN => "802.1Q",
            EtherType::QINQ => "802.1ad",
            EtherType::IPV6 => "IPv6",
            EtherType(0x88cc) => "LLDP",
            EtherType(0x8035) => "RARP",
            _ => return None,
        })
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "EtherType 0x{:04x}", self.0),
        }
    }
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    fn from_slice(b: &[u8]) -> Mac {
        let mut m = [0u8; 6];
        let n = b.len().min(6);
        m[..n].copy_from_slice(&b[..n]);
        Mac(m)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// An Ethernet II header (with up to two VLAN tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetRepr {
    pub dst: Mac,
    pub src: Mac,
    /// VLAN ids, outermost first (empty without tags).
    pub vlans: Vec<u16>,
    /// The EtherType after any VLAN tags.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Parse the header; returns it and the payload (which may include Ethernet padding).
    pub fn parse(frame: &[u8]) -> Result<(EthernetRepr, &[u8]), DecodeError> {
        let Some(head) = frame.get(..14) else {
            return Err(DecodeError::invalid(format!(
                "Ethernet header needs 14 bytes, the frame has {}",
                frame.len()
            )));
        };
        let mut repr = EthernetRepr {
            dst: Mac::from_slice(&head[0..6]),
            src: Mac::from_slice(&head[6..12]),
            vlans: Vec::new(),
            ethertype: EtherType(u16::from_be_bytes([head[12], head[13]])),
        };
        let mut rest = &frame[14..];
        // 802.1Q §9: TPID 0x8100 (or 0x88a8 outer), then 16 bits of PCP/DEI/VID, then the next type.
        while matches!(repr.ethertype, EtherType::VLAN | EtherType::QINQ) && repr.vlans.len() < 2 {
            let Some(tag) = rest.get(..4) else {
                return Err(DecodeError::invalid("VLAN tag cut short"));
            };
            repr.vlans.push(u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff);
            repr.ethertype = EtherType(u16::from_be_bytes([tag[2], tag[3]]));
            rest = &rest[4..];
        }
        Ok((repr, rest))
    }

    /// Write the header (no VLAN tags are written when `vlans` is empty).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.dst.0);
        out.extend_from_slice(&self.src.0);
        for vid in &self.vlans {
            out.extend_from_slice(&EtherType::VLAN.0.to_be_bytes());
            out.extend_from_slice(&vid.to_be_bytes());
        }
        out.extend_from_slice(&self.ethertype.0.to_be_bytes());
    }
}

/// The Linux cooked header's packet type: how the packet passed the capturing host
/// (`PACKET_HOST`... in `<linux/if_packet.h>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Addressed to this host.
    Host,
    Broadcast,
    Multicast,
    /// Addressed to another host and seen anyway (a bridge forwarding it, promiscuous mode).
    OtherHost,
    /// Sent by this host.
    Outgoing,
    Unknown(u16),
}

impl PacketType {
    pub fn from_u16(v: u16) -> PacketType {
        match v {
            0 => PacketType::Host,
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            4 => PacketType::Outgoing,
            n => PacketType::Unknown(n),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PacketType::Host => "host",
            PacketType::Broadcast => "broadcast",
            PacketType::Multicast => "multicast",
            PacketType::OtherHost => "otherhost",
            PacketType::Outgoing => "outgoing",
            PacketType::Unknown(_) => "unknown",
        }
    }
}

/// A Linux cooked capture header, v1 (16 bytes) or v2 (20 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SllRepr {
    /// 1 or 2.
    pub version: u8,
    pub packet_type: PacketType,
    /// ARPHRD_ type of the interface (1 = Ethernet, 772 = loopback).
    pub arphrd: u16,
    /// The link-layer source address, as the header holds it: 8 bytes, of which the first `addr_len`
    /// count (usually a 6-byte MAC). Kept inline, not in a `Vec`: a cooked capture has this header on
    /// every packet, and an allocation per packet was a tenth of the analyzer's allocator time.
    pub addr_bytes: [u8; 8],
    /// How many bytes of `addr_bytes` are the address (at most 8).
    pub addr_len: u8,
    /// The protocol: an EtherType for Ethernet-like interfaces.
    pub protocol: EtherType,
    /// SLL2 only: the interface index (`ip link` numbers) the packet was seen on.
    pub ifindex: Option<u32>,
}

impl SllRepr {
    /// The link-layer source address (`addr_len` bytes of `addr_bytes`).
    pub fn addr(&self) -> &[u8] {
        &self.addr_bytes[..usize::from(self.addr_len)]
    }

    /// Parse a v1 header: packet type, ARPHRD, address length, 8 address bytes, protocol.
    pub fn parse_v1(frame: &[u8]) -> Result<(SllRepr, &[u8]), DecodeError> {
        let Some(h) = frame.get(..16) else {
            return Err(DecodeError::invalid("Linux cooked (SLL) header needs 16 bytes"));
        };
        let alen = usize::from(u16::from_be_bytes([h[4], h[5]])).min(8);
        Ok((
            SllRepr {
                version: 1,
                packet_type: PacketType::from_u16(u16::from_be_bytes([h[0], h[1]])),
                arphrd: u16::from_be_bytes([h[2], h[3]]),
                addr_bytes: h[6..14].try_into().unwrap_or_default(),
                addr_len: alen as u8,
                protocol: EtherType(u16::from_be_bytes([h[14], h[15]])),
                ifindex: None,
            },
            &frame[16..],
        ))
    }

    /// Parse a v2 header: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address
    /// bytes (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>).
    pub fn parse_v2(frame: &[u8]) -> Result<(SllRepr, &[u8]), DecodeError> {
        let Some(h) = frame.get(..20) else {
            return Err(DecodeError::invalid(
                "Linux cooked v2 (SLL2) header needs 20 bytes",
            ));
        };
        let alen = usize::from(h[11]).min(8);
        Ok((
            SllRepr {
                version: 2,
                protocol: EtherType(u16::from_be_bytes([h[0], h[1]])),
                ifindex: Some(u32::from_be_bytes([h[4], h[5], h[6], h[7]])),
                arphrd: u16::from_be_bytes([h[8], h[9]]),
                packet_type: PacketType::from_u16(u16::from(h[10])),
                addr_bytes: h[12..20].try_into().unwrap_or_default(),
                addr_len: alen as u8,
            },
            &frame[20..],
        ))
    }
}

/// Parse a BSD loopback header; returns the EtherType the address family stands for.
pub fn parse_loopback(frame: &[u8], always_big_endian: bool) -> Result<(u32, EtherType, &[u8]), DecodeError> {
    let Some(h) = frame.get(..4) else {
        return Err(DecodeError::invalid("loopback header needs 4 bytes"));
    };
    let be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    // NULL is written in the capturing host's byte order: the family is a small number, so the reading
    // that gives one is the right one.
    let family = if always_big_endian || be < 256 { be } else { le };
    let ethertype = match family {
        2 => EtherType::IPV4,
        // AF_INET6 differs per BSD: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
        24 | 28 | 30 => EtherType::IPV6,
        _ => EtherType(0),
    };
    Ok((family, ethertype, &frame[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_round_trip_and_vlan() {
        let frame = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst: broadcast
            0x02, 0x42, 0xac, 0x12, 0x00, 0x03, // src
            0x81, 0x00, 0x00, 0x05, // VLAN 5
            0x08, 0x06, // ARP
            0xaa,
        ];
        let (e, rest) = EthernetRepr::parse(&frame).unwrap();
        assert_eq!(
            (e.dst, e.vlans.clone(), e.ethertype, rest),
            (Mac::BROADCAST, vec![5], EtherType::ARP, &[0xaa][..])
        );
        assert_eq!(e.src.to_string(), "02:42:ac:12:00:03");
        let mut out = Vec::new();
        e.emit(&mut out);
        assert_eq!(out, &frame[..18]);
        assert!(EthernetRepr::parse(&frame[..13]).is_err());
        assert!(EthernetRepr::parse(&frame[..15]).is_err());
    }

    #[test]
    fn sll2_header() {
        let h = [
            0x08, 0x00, 0, 0, // protocol IPv4, reserved
            0, 0, 0, 26, // ifindex 26
            0, 1, // ARPHRD_ETHER
            4, // outgoing
            6, 2, 0x42, 0xac, 0x14, 0, 4, 0, 0, // address
            0x45,
        ];
        let (s, rest) = SllRepr::parse_v2(&h).unwrap();
        assert_eq!(
            (s.ifindex, s.packet_type, s.protocol, rest),
            (Some(26), PacketType::Outgoing, EtherType::IPV4, &[0x45][..])
        );
        assert_eq!(s.addr().len(), 6);
        assert!(SllRepr::parse_v2(&h[..19]).is_err());
        let (s1, _) = SllRepr::parse_v1(&[0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd]).unwrap();
        assert_eq!(
            (s1.packet_type, s1.protocol),
            (PacketType::OtherHost, EtherType::IPV6)
        );
    }

    #[test]
    fn loopback_family_either_order() {
        assert_eq!(parse_loopback(&[2, 0, 0, 0], false).unwrap().1, EtherType::IPV4);
        assert_eq!(parse_loopback(&[0, 0, 0, 30], false).unwrap().1, EtherType::IPV6);
        assert_eq!(parse_loopback(&[0, 0, 0, 2], true).unwrap().1, EtherType::IPV4);
        assert!(parse_loopback(&[2], false).is_err());
    }
}
