//! Network headers, from the link layer to TCP/UDP: what a captured frame is made of.
//!
//! Each header has a *Repr* (a validated, owned representation with `parse` and, where sister writes
//! the header, `emit`); the headers are small and fixed, so a separate zero-copy view (smoltcp's
//! `Packet`) buys nothing here: `parse` reads the fields once and returns the payload as a slice of the
//! input, so the payload bytes are never copied.
//!
//! [`decode`] peels a whole frame in one call, as a capture reader needs it:
//!
//! ```
//! use wire::net::{decode, Network, Transport, linktype};
//! // A raw-IP frame: IPv4 172.18.0.3 -> 172.18.0.2, UDP 40000 -> 12345, "hi".
//! let frame = [
//!     0x45, 0, 0, 30, 0, 1, 0x40, 0, 64, 17, 0, 0, 172, 18, 0, 3, 172, 18, 0, 2,
//!     0x9c, 0x40, 0x30, 0x39, 0, 10, 0, 0, b'h', b'i',
//! ];
//! let d = decode(linktype::RAW, &frame);
//! assert!(matches!(d.network, Network::Ip(_)));
//! assert!(matches!(d.transport, Transport::Udp(u) if u.dst_port == 12345));
//! assert_eq!(d.payload, b"hi");
//! ```
//!
//! The no-panic contract: any bytes give a [`Decoded`]; what could not be read is said in
//! [`Decoded::error`], and the layers decoded before it are kept.
//!
//! Modules: [`link`] (Ethernet + VLAN, Linux cooked SLL/SLL2, BSD loopback), [`arp`], [`ip`] (IPv4,
//! IPv6 with extension headers), [`transport`] (TCP with options, UDP, ICMP/ICMPv6 names).

pub mod arp;
pub mod ip;
pub mod link;
pub mod transport;

pub use arp::{ArpOp, ArpRepr};
pub use ip::{IpPayload, IpRepr, Ipv4Repr, Ipv6Repr};
pub use link::{EtherType, EthernetRepr, Mac, PacketType, SllRepr};
pub use transport::{IcmpRepr, TcpFlags, TcpRepr, UdpRepr};

/// The LINKTYPE_ numbers [`decode`] understands (<https://www.tcpdump.org/linktypes.html>).
pub mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const RAW: u16 = 101;
    pub const LOOP: u16 = 108;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;
}

/// The link layer of a decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Ethernet(EthernetRepr),
    Sll(SllRepr),
    /// BSD loopback with its address family.
    Loopback(u32),
    /// Raw IP: no link header.
    Raw,
    /// A link type sister does not decode (its number).
    Unknown(u16),
}

/// The network layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Ip(IpRepr),
    Arp(ArpRepr),
    /// Something else (its EtherType), or nothing decodable.
    Other(EtherType),
    None,
}

/// The transport layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpRepr),
    Udp(UdpRepr),
    Icmp(IcmpRepr),
    /// An IP fragment other than a whole segment, or an unknown protocol.
    Other(u8),
    None,
}

/// A frame peeled layer by layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub link: Link,
    pub network: Network,
    pub transport: Transport,
    /// The transport payload (TCP/UDP data), or the network payload when there is no transport layer.
    pub payload: &'a [u8],
    /// True when the capture's snaplen cut the packet: `payload` is only its beginning.
    pub truncated: bool,
    /// What could not be decoded, if anything.
    pub error: Option<String>,
}

/// Decode a captured frame of link type `linktype` as far as it goes. Never panics.
pub fn decode(linktype: u16, frame: &[u8]) -> Decoded<'_> {
    let mut d = Decoded {
        link: Link::Unknown(linktype),
        network: Network::None,
        transport: Transport::None,
        payload: frame,
        truncated: false,
        error: None,
    };
    let link = match linktype {
        linktype::ETHERNET => EthernetRepr::parse(frame).map(|(e, rest)| {
            let t = e.ethertype;
            (Link::Ethernet(e), t, rest)
        }),
        linktype::LINUX_SLL => SllRepr::parse_v1(frame).map(|(s, rest)| {
            let t = s.protocol;
            (Link::Sll(s), t, rest)
        }),
        linktype::LINUX_SLL2 => SllRepr::parse_v2(frame).map(|(s, rest)| {
            let t = s.protocol;
            (Link::Sll(s), t, rest)
        }),
        linktype::NULL | linktype::LOOP => link::parse_loopback(frame, linktype == linktype::LOOP)
            .map(|(family, t, rest)| (Link::Loopback(family), t, rest)),
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => {
            let t = match frame.first().map(|b| b >> 4) {
                Some(6) => EtherType::IPV6,
                _ => EtherType::IPV4,
            };
            Ok((Link::Raw, t, frame))
        }
        other => {
            d.error = Some(format!("link type {other} is not decoded"));
            return d;
        }
    };
    let (link, ethertype, rest) = match link {
        Ok(x) => x,
        Err(e) => {
            d.error = Some(e.to_string());
            return d;
        }
    };
    d.link = link;
    d.payload = rest;
    let ip = match ethertype {
        EtherType::IPV4 => Ipv4Repr::parse(rest).map(|(r, p)| (IpRepr::V4(r), p)),
        EtherType::IPV6 => Ipv6Repr::parse(rest).map(|(r, p)| (IpRepr::V6(r), p)),
        EtherType::ARP => {
            match ArpRepr::parse(rest) {
                Ok(a) => d.network = Network::Arp(a),
                Err(e) => {
                    d.network = Network::Other(EtherType::ARP);
                    d.error = Some(e.to_string());
                }
            }
            return d;
        }
        other => {
            d.network = Network::Other(other);
            return d;
        }
    };
    let (ip, payload) = match ip {
        Ok(x) => x,
        Err(e) => {
            d.network = Network::Other(ethertype);
            d.error = Some(e.to_string());
            return d;
        }
    };
    d.payload = payload.bytes;
    d.truncated = payload.truncated;
    let protocol = ip.protocol();
    let fragment = ip.is_fragment();
    d.network = Network::Ip(ip);
    if fragment {
        d.transport = Transport::Other(protocol);
        return d;
    }
    let result = match protocol {
        ip::protocol::TCP => TcpRepr::parse(payload.bytes).map(|(t, p)| (Transport::Tcp(t), p)),
        ip::protocol::UDP => UdpRepr::parse(payload.bytes).map(|(u, p)| (Transport::Udp(u), p)),
        ip::protocol::ICMP | ip::protocol::ICMPV6 => {
            IcmpRepr::parse(payload.bytes, protocol == ip::protocol::ICMPV6)
                .map(|i| (Transport::Icmp(i), payload.bytes))
        }
        other => Ok((Transport::Other(other), payload.bytes)),
    };
    match result {
        Ok((t, p)) => {
            d.transport = t;
            d.payload = p;
        }
        Err(e) => {
            d.transport = Transport::Other(protocol);
            d.error = Some(if payload.truncated {
                format!("{e} (the capture cut the packet short)")
            } else {
                e.to_string()
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics() {
        for lt in [0, 1, 101, 108, 113, 228, 229, 276, 999] {
            for len in 0..80 {
                let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + lt as usize) as u8).collect();
                let _ = decode(lt, &bytes);
                let mut v4 = bytes.clone();
                if let Some(b) = v4.first_mut() {
                    *b = 0x45;
                }
                let _ = decode(linktype::RAW, &v4);
            }
        }
        assert!(decode(999, b"x").error.unwrap().contains("999"));
    }

    #[test]
    fn ethernet_arp() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0x42, 0xac, 0x12, 0, 3, 0x08, 0x06]);
        ArpRepr {
            op: ArpOp::Request,
            sender_mac: Mac([2, 0x42, 0xac, 0x12, 0, 3]),
            sender_ip: "172.18.0.3".parse().unwrap(),
            target_mac: Mac::default(),
            target_ip: "172.18.0.2".parse().unwrap(),
        }
        .emit(&mut f);
        let d = decode(linktype::ETHERNET, &f);
        assert!(
            matches!(d.network, Network::Arp(ref a) if a.to_string() == "Who has 172.18.0.2? Tell 172.18.0.3")
        );
    }
}
