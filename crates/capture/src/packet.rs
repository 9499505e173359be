//! The packet model every part of sister shares: what one captured frame is, whoever captured it.
//!
//! A [`Packet`] is exactly what a capture file records for one frame: when it was seen, on which
//! interface, with which link-layer header type, the bytes that were kept (`data`) and how long the frame
//! really was on the wire (`orig_len`; longer than `data` when the capture's *snaplen* cut it). The reader
//! ([`crate::read::Reader`]), the live capture and the pcap writer all speak this type, and the analyzer
//! decodes `data` with `wire::net` according to `linktype`.
//!
//! What to notice: nothing here knows Ethernet or IP. A capture file is a list of opaque frames plus a
//! *link type* saying how to read the first bytes of each one (an Ethernet header, Linux's "cooked"
//! header of `tcpdump -i any`, a raw IP packet...).

use std::fmt;

/// A point in time, in nanoseconds since the Unix epoch (1970-01-01 00:00:00 UTC).
///
/// pcap stores seconds + micro- or nanoseconds, pcapng a 64-bit count of units whose size the interface
/// declares (`if_tsresol`); both are converted to this one scale when read. Signed, so that arithmetic on
/// timestamps that go backwards (it happens: clocks are adjusted, `-i any` merges per-CPU queues) cannot
/// overflow into nonsense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From seconds and nanoseconds.
    pub fn from_parts(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(i64::from(nanos)),
        )
    }

    /// Whole seconds since the epoch.
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// The nanoseconds within the second (0..1e9).
    pub fn subsec_nanos(self) -> u32 {
        // rem_euclid of a positive divisor is in 0..1e9, which always fits.
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Seconds as a float, for printing relative times.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier` in nanoseconds (negative when time went backwards).
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    /// `seconds.nanoseconds` since the epoch, as `tcpdump -tt --nano` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs(), self.subsec_nanos())
    }
}

/// The link-layer header type of a frame: the LINKTYPE_ numbers of
/// <https://www.tcpdump.org/linktypes.html> (the same numbers pcap and pcapng store).
///
/// Unknown values are kept as they are: the analyzer reports "link type 147, not decoded" instead of
/// failing on the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the *capturing host's* byte order, then IP.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II (and 802.3): 14-byte header, possibly VLAN tags.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP: the frame starts with an IPv4 or IPv6 header (the version nibble tells which).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the family is always big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture v1 (`tcpdump -i any` before libpcap 1.10): 16-byte pseudo header.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4 only.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6 only.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture v2 (`tcpdump -i any` since libpcap 1.10): 20-byte pseudo header with the
    /// interface index, so the same packet seen on two interfaces can be told apart.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The name tcpdump and Wireshark use, or `None` for a type sister does not decode.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "NULL (BSD loopback)",
            LinkType::ETHERNET => "EN10MB (Ethernet)",
            LinkType::RAW => "RAW (IP)",
            LinkType::LOOP => "LOOP (OpenBSD loopback)",
            LinkType::LINUX_SLL => "LINUX_SLL (Linux cooked v1)",
            LinkType::IPV4 => "IPV4 (raw IPv4)",
            LinkType::IPV6 => "IPV6 (raw IPv6)",
            LinkType::LINUX_SLL2 => "LINUX_SLL2 (Linux cooked v2)",
            _ => return None,
        })
    }

    /// True when sister can decode frames of this type.
    pub fn is_supported(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "link type {} (unknown)", self.0),
        }
    }
}

/// One captured frame, borrowing its bytes from whoever read it (a file reader's buffer, a socket's
/// receive buffer). Use [`Packet::to_owned`] to keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// When the frame was captured.
    pub ts: Timestamp,
    /// How to read the first bytes of `data`.
    pub linktype: LinkType,
    /// The bytes that were captured (at most the snaplen).
    pub data: &'a [u8],
    /// The frame's length on the wire; `orig_len > data.len()` means the capture cut it short.
    pub orig_len: u32,
    /// The capture interface: the pcapng interface id, 0 for pcap (one interface per file).
    pub interface: u32,
}

impl Packet<'_> {
    /// True when the snaplen cut this frame: `data` is shorter than the frame was on the wire.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }

    /// An owned copy.
    pub fn to_owned(&self) -> OwnedPacket {
        OwnedPacket {
            ts: self.ts,
            linktype: self.linktype,
            data: self.data.to_vec(),
            orig_len: self.orig_len,
            interface: self.interface,
        }
    }
}

/// A [`Packet`] that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPacket {
    pub ts: Timestamp,
    pub linktype: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
}

impl OwnedPacket {
    /// A borrowed view.
    pub fn as_packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            linktype: self.linktype,
            data: &self.data,
            orig_len: self.orig_len,
            interface: self.interface,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_split_and_print() {
        let t = Timestamp::from_parts(1_700_000_000, 123_456_789);
        assert_eq!(t.secs(), 1_700_000_000);
        assert_eq!(t.subsec_nanos(), 123_456_789);
        assert_eq!(t.to_string(), "1700000000.123456789");
        let before = Timestamp(-1);
        assert_eq!((before.secs(), before.subsec_nanos()), (-1, 999_999_999));
        assert_eq!(Timestamp(5).nanos_since(Timestamp(7)), -2);
    }

    #[test]
    fn link_types_are_named_or_kept() {
        assert_eq!(LinkType::LINUX_SLL2.to_string(), "LINUX_SLL2 (Linux cooked v2)");
        assert_eq!(LinkType(147).to_string(), "link type 147 (unknown)");
        assert!(!LinkType(147).is_supported());
    }
}
