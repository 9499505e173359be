//! ARP (RFC 826): "who has 172.18.0.2? tell 172.18.0.3". Before two containers on a Docker bridge can
//! exchange IP packets, each must learn the other's MAC address; that is the pair of ARP frames at the
//! start (or in the middle, when the cache entry expired) of almost every lab capture.

use std::fmt;
use std::net::Ipv4Addr;

use super::link::Mac;
use crate::DecodeError;

/// An ARP operation (1 request, 2 reply; others kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
    Unknown(u16),
}

/// An ARP packet for IPv4 over Ethernet (hardware type 1, protocol 0x0800, lengths 6 and 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpRepr {
    pub op: ArpOp,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    pub fn parse(b: &[u8]) -> Result<ArpRepr, DecodeError> {
        let Some(b) = b.get(..28) else {
            return Err(DecodeError::invalid(format!(
                "ARP for IPv4 needs 28 bytes, got {}",
                b.len()
            )));
        };
        let (htype, ptype, hlen, plen) = (
            u16::from_be_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[2], b[3]]),
            b[4],
            b[5],
        );
        if htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 {
            return Err(DecodeError::invalid(format!(
                "ARP for hardware type {htype}, protocol 0x{ptype:04x} (only Ethernet/IPv4 is decoded)"
            )));
        }
        let op = match u16::from_be_bytes([b[6], b[7]]) {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            n => ArpOp::Unknown(n),
        };
        let mac = |at: usize| {
            let mut m = [0u8; 6];
            m.copy_from_slice(&b[at..at + 6]);
            Mac(m)
        };
        let ip = |at: usize| Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]);
        Ok(ArpRepr {
            op,
            sender_mac: mac(8),
            sender_ip: ip(14),
            target_mac: mac(18),
            target_ip: ip(24),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
        let op: u16 = match self.op {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
            ArpOp::Unknown(n) => n,
        };
        out.extend_from_slice(&op.to_be_bytes());
        out.extend_from_slice(&self.sender_mac.0);
        out.extend_from_slice(&self.sender_ip.octets());
        out.extend_from_slice(&self.target_mac.0);
        out.extend_from_slice(&self.target_ip.octets());
    }
}

impl fmt::Display for ArpRepr {
    /// As Wireshark's Info column says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            ArpOp::Request if self.sender_ip == self.target_ip => {
                write!(f, "ARP Announcement for {}", self.sender_ip)
            }
            ArpOp::Request => write!(f, "Who has {}? Tell {}", self.target_ip, self.sender_ip),
            ArpOp::Reply => write!(f, "{} is at {}", self.sender_ip, self.sender_mac),
            ArpOp::Unknown(n) => write!(f, "ARP opcode {n} from {}", self.sender_ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply() {
        let req = ArpRepr {
            op: ArpOp::Request,
            sender_mac: Mac([2, 0x42, 0xac, 0x12, 0, 3]),
            sender_ip: Ipv4Addr::new(172, 18, 0, 3),
            target_mac: Mac::default(),
            target_ip: Ipv4Addr::new(172, 18, 0, 2),
        };
        let mut b = Vec::new();
        req.emit(&mut b);
        assert_eq!(b.len(), 28);
        assert_eq!(ArpRepr::parse(&b).unwrap(), req);
        assert_eq!(req.to_string(), "Who has 172.18.0.2? Tell 172.18.0.3");
        assert!(ArpRepr::parse(&b[..27]).is_err());
        b[1] = 6;
        assert!(ArpRepr::parse(&b).is_err());
    }
}
