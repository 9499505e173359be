//! Live capture from a network interface through an `AF_PACKET` raw socket, without libpcap.
//!
//! How tcpdump gets packets on Linux, done by hand (see `packet(7)`):
//! 1. `socket(AF_PACKET, SOCK_RAW, 0)`: a packet socket sees whole frames, link-layer header included.
//!    Protocol 0 at creation means "nothing yet", so no packet from another interface slips in before
//!    step 2 (libpcap does the same).
//! 2. `bind()` to one interface with protocol `ETH_P_ALL`: every frame that interface sends or receives.
//! 3. `recvmsg()` each frame, with `MSG_TRUNC` (to learn the real length when it was longer than our
//!    buffer) and the kernel's receive timestamp (`SO_TIMESTAMPNS`) as a control message.
//! 4. `getsockopt(PACKET_STATISTICS)`: how many frames the kernel dropped because we were too slow.
//!
//! What to notice: on `lo` the kernel hands a packet socket every packet TWICE: once as it is sent
//! (`PACKET_OUTGOING`) and once as it is received (`PACKET_HOST`). libpcap drops the outgoing copy on
//! loopback, and so do we; otherwise every request would look retransmitted. `sister capture -i any`
//! listens on all interfaces at once with a "cooked" header (LINKTYPE_LINUX_SLL2) that keeps the
//! interface index and the direction, so the analyzer can tell such copies apart.
//!
//! Opening a packet socket needs CAP_NET_RAW: without it `socket()` fails with EPERM, and
//! [`CaptureError::NoPermission`] says how to get it.

// Why unsafe here: the standard library and our dependencies have no safe packet-socket API (socket2
// has no `recvmsg` with control messages, no `PACKET_STATISTICS`), so this module calls libc directly.
// Each `unsafe` block is one system call on buffers we own, sized as the kernel expects; nothing else
// in the workspace allows unsafe code.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::iface;
use crate::packet::{LinkType, Packet, Timestamp};

/// `PACKET_OUTGOING` from `<linux/if_packet.h>`: the frame was sent by this host.
const PACKET_OUTGOING: u8 = 4;
/// `PACKET_STATISTICS` (SOL_PACKET option): packets seen and dropped since the last read.
const PACKET_STATISTICS: libc::c_int = 6;
/// `SO_TIMESTAMPNS` / `SCM_TIMESTAMPNS` (asm-generic/socket.h): receive timestamps in nanoseconds.
const SO_TIMESTAMPNS: libc::c_int = 35;
/// `ARPHRD_ETHER` and `ARPHRD_LOOPBACK` (`<linux/if_arp.h>`): both carry an Ethernet header (lo's
/// addresses are all zeros). `ARPHRD_NONE` (tun devices) carries bare IP packets.
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_NONE: u16 = 65534;

/// The largest frame we keep: 262144 bytes, tcpdump's default snaplen (loopback's MTU is 65536).
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// What can go wrong opening or reading a live capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "capturing on {iface} needs the CAP_NET_RAW capability (a raw packet socket): run it as root \
(`sudo sister capture -i {iface} ...`), or give the binary the capability once with \
`sudo setcap cap_net_raw+ep $(command -v sister)`, or in Docker add `--cap-add NET_RAW` (compose: \
`cap_add: [NET_RAW]`)"
    )]
    NoPermission { iface: String },
    #[error("no interface named {name:?} (interfaces here: {available}); `sister capture --list` shows them with their addresses")]
    NoSuchInterface { name: String, available: String },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> CaptureError {
    let what = what.into();
    move |source| CaptureError::Io { what, source }
}

/// Turn the error of `socket()` into a [`CaptureError`]: EPERM/EACCES mean "no CAP_NET_RAW".
pub fn map_socket_error(iface: &str, e: io::Error) -> CaptureError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => CaptureError::NoPermission {
            iface: iface.to_string(),
        },
        _ => CaptureError::Io {
            what: format!("cannot open a packet socket for {iface}"),
            source: e,
        },
    }
}

/// Counters of a capture, as tcpdump prints them at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames the kernel handed to the socket (before our filter; after loopback de-duplication these
    /// include the dropped outgoing copies).
    pub received_by_kernel: u64,
    /// Frames the kernel dropped because the socket's buffer was full.
    pub dropped_by_kernel: u64,
    /// Loopback's duplicate outgoing copies we skipped.
    pub loopback_duplicates: u64,
}

/// An open live capture on one interface (or `any`).
pub struct LiveCapture {
    fd: OwnedFd,
    iface: String,
    linktype: LinkType,
    /// `-i any`: frames come without their link header (SOCK_DGRAM) and we prepend an SLL2 header.
    cooked: bool,
    loopback_index: Option<i32>,
    snaplen: u32,
    buf: Vec<u8>,
    stats: Stats,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("iface", &self.iface)
            .field("linktype", &self.linktype)
            .finish()
    }
}

/// The link type a packet socket on an interface of hardware type `arphrd` delivers, or `None` when we
/// must capture it "cooked" (SLL2).
pub fn linktype_of_arphrd(arphrd: u16) -> Option<LinkType> {
    match arphrd {
        ARPHRD_ETHER | ARPHRD_LOOPBACK => Some(LinkType::ETHERNET),
        ARPHRD_NONE => Some(LinkType::RAW),
        _ => None,
    }
}

impl LiveCapture {
    /// Open a capture on `iface` (`any` for every interface). `timeout` bounds each [`Self::next_packet`] call so
    /// the caller can check for Ctrl+C.
    pub fn open(iface: &str, snaplen: u32, timeout: Duration) -> Result<LiveCapture, CaptureError> {
        let any = iface == "any";
        let (ifindex, linktype, cooked) = if any {
            (0, LinkType::LINUX_SLL2, true)
        } else {
            let Some(ifindex) = iface::index_of(iface) else {
                return Err(CaptureError::NoSuchInterface {
                    name: iface.to_string(),
                    available: iface::names().join(", "),
                });
            };
            let arphrd = iface::arphrd_of(iface).unwrap_or(ARPHRD_ETHER);
            match linktype_of_arphrd(arphrd) {
                Some(lt) => (ifindex, lt, false),
                None => (ifindex, LinkType::LINUX_SLL2, true),
            }
        };
        let kind = if cooked { libc::SOCK_DGRAM } else { libc::SOCK_RAW };
        // SAFETY: plain system call with constant arguments; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(map_socket_error(iface, io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // A bigger receive buffer (4 MiB) so a burst does not overflow while we write to disk.
        set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 4 << 20).map_err(io_error("setsockopt SO_RCVBUF"))?;
        set_int(&fd, libc::SOL_SOCKET, SO_TIMESTAMPNS, 1).map_err(io_error("setsockopt SO_TIMESTAMPNS"))?;
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros().max(1000) as libc::suseconds_t,
        };
        // SAFETY: `tv` lives across the call and the length passed is its size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_error("setsockopt SO_RCVTIMEO")(io::Error::last_os_error()));
        }

        // SAFETY: an all-zero sockaddr_ll is valid; we fill the fields bind() reads.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io_error(format!("cannot bind the packet socket to {iface}"))(
                io::Error::last_os_error(),
            ));
        }
        if !any {
            // Promiscuous mode, as tcpdump and libpcap set it by default. What to notice: on a Linux
            // bridge (`br-…`, `docker0`) the frames one container sends to another are *forwarded* by
            // the bridge, not received by it, and reach a socket bound to the bridge only while the
            // bridge is promiscuous. Without this, a capture on a Docker bridge sees ARP and multicast
            // but none of the containers' TCP. The kernel drops the membership when the socket closes.
            // SAFETY: an all-zero packet_mreq is valid; we fill the fields the kernel reads.
            let mut mreq: libc::packet_mreq = unsafe { zeroed() };
            mreq.mr_ifindex = ifindex;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            // SAFETY: `mreq` lives across the call and the length passed is its size.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_ADD_MEMBERSHIP,
                    (&mreq as *const libc::packet_mreq).cast(),
                    size_of::<libc::packet_mreq>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                return Err(io_error(format!("cannot put {iface} in promiscuous mode"))(
                    io::Error::last_os_error(),
                ));
            }
        }
        let loopback_index = iface::index_of("lo");
        // Leave room for the SLL2 header we prepend in cooked mode.
        let buf = vec![0u8; snaplen as usize + SLL2_LEN];
        Ok(LiveCapture {
            fd,
            iface: iface.to_string(),
            linktype,
            cooked,
            loopback_index,
            snaplen,
            buf,
            stats: Stats::default(),
        })
    }

    /// The link type of the frames this capture returns (what the pcap file header must say).
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// The snaplen: frames longer than this are cut (their `orig_len` keeps the real length).
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// The next frame, or `None` when the timeout passed with nothing (or an interrupted call): check
    /// for Ctrl+C and call again.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.receive(0)
    }

    /// The next frame already queued in the socket, without waiting: `None` when the queue is empty.
    /// Used when stopping, so the frames the kernel already captured still reach the file.
    pub fn queued_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        self.receive(libc::MSG_DONTWAIT)
    }

    fn receive(&mut self, flags: libc::c_int) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            let header = if self.cooked { SLL2_LEN } else { 0 };
            let snaplen = self.snaplen as usize;
            // SAFETY: an all-zero sockaddr_ll is valid; recvmsg fills it in.
            let mut from: libc::sockaddr_ll = unsafe { zeroed() };
            let mut iov = libc::iovec {
                iov_base: self.buf[header..header + snaplen].as_mut_ptr().cast(),
                iov_len: snaplen,
            };
            // Room for one SCM_TIMESTAMPNS control message (a timespec) with its header, aligned.
            let mut control = [0u64; 8];
            // SAFETY: an all-zero msghdr is valid; we point it at buffers that outlive the call.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; 8]>() as _;
            // SAFETY: every pointer in `msg` refers to a live buffer of the stated length.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC | flags) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
                    Some(libc::ENETDOWN) | Some(libc::ENODEV) | Some(libc::ENXIO) => Err(io_error(format!(
                        "{} went down or was removed (a Docker bridge disappears with `docker compose down`); \
the packets captured until then are saved",
                        self.iface
                    ))(e)),
                    _ => Err(io_error(format!("reading from {}", self.iface))(e)),
                };
            }
            // With MSG_TRUNC a packet socket returns the frame's real length even when it was longer
            // than our buffer: that is the pcap record's orig_len.
            let wire_len = n as usize;
            let kept = wire_len.min(snaplen);
            if from.sll_pkttype == PACKET_OUTGOING && Some(from.sll_ifindex) == self.loopback_index {
                // The duplicate copy of a loopback packet (see the module comment).
                self.stats.loopback_duplicates += 1;
                continue;
            }
            let ts = timestamp_of(&msg).unwrap_or_else(now);
            let (start, orig_len) = if self.cooked {
                write_sll2(&mut self.buf[..SLL2_LEN], &from);
                (0, wire_len + SLL2_LEN)
            } else {
                (header, wire_len)
            };
            return Ok(Some(Packet {
                ts,
                linktype: self.linktype,
                data: &self.buf[start..header + kept],
                orig_len: orig_len.min(u32::MAX as usize) as u32,
                interface: 0,
            }));
        }
    }

    /// The counters so far (the kernel's are read, and reset by reading, here).
    pub fn stats(&mut self) -> Stats {
        let mut st = TpacketStats::default();
        let mut len = size_of::<TpacketStats>() as libc::socklen_t;
        // SAFETY: `st` is a repr(C) struct of the size we pass; the kernel writes at most `len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                (&mut st as *mut TpacketStats).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.stats.received_by_kernel += u64::from(st.tp_packets);
            self.stats.dropped_by_kernel += u64::from(st.tp_drops);
        }
        self.stats
    }
}

/// `struct tpacket_stats` from `<linux/if_packet.h>`.
#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    tp_packets: u32,
    tp_drops: u32,
}

fn set_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` lives across the call and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn now() -> Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_parts(d.as_secs() as i64, d.subsec_nanos())
}

/// The kernel's receive timestamp from the `SCM_TIMESTAMPNS` control message, if present.
fn timestamp_of(msg: &libc::msghdr) -> Option<Timestamp> {
    // SAFETY: the CMSG_* macros walk the control buffer recvmsg filled, within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Some(Timestamp::from_parts(ts.tv_sec as i64, ts.tv_nsec as u32));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// Length of the LINKTYPE_LINUX_SLL2 header.
const SLL2_LEN: usize = 20;

/// Fill a LINKTYPE_LINUX_SLL2 header (tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html) from the address
/// the kernel gave us: protocol (2, big-endian), reserved (2), interface index (4), ARPHRD type (2),
/// packet type (1), address length (1), address (8).
fn write_sll2(out: &mut [u8], from: &libc::sockaddr_ll) {
    out[0..2].copy_from_slice(&from.sll_protocol.to_ne_bytes()); // already network order
    out[2..4].copy_from_slice(&[0, 0]);
    out[4..8].copy_from_slice(&(from.sll_ifindex as u32).to_be_bytes());
    out[8..10].copy_from_slice(&from.sll_hatype.to_be_bytes());
    out[10] = from.sll_pkttype;
    out[11] = from.sll_halen.min(8);
    out[12..20].copy_from_slice(&from.sll_addr);
}

/// The interface index of `name` from the C library (a fallback when /sys is not mounted).
pub fn if_nametoindex(name: &str) -> Option<i32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_say_how_to_fix_them() {
        let e = map_socket_error("lo", io::Error::from_raw_os_error(libc::EPERM));
        let text = e.to_string();
        assert!(matches!(e, CaptureError::NoPermission { .. }));
        assert!(text.contains("CAP_NET_RAW"), "{text}");
        assert!(text.contains("sudo"), "{text}");
        assert!(text.contains("setcap cap_net_raw+ep"), "{text}");
        assert!(text.contains("--cap-add NET_RAW"), "{text}");
        let other = map_socket_error("lo", io::Error::from_raw_os_error(libc::EMFILE));
        assert!(matches!(other, CaptureError::Io { .. }));
    }

    #[test]
    fn link_types_of_hardware_types() {
        assert_eq!(linktype_of_arphrd(ARPHRD_ETHER), Some(LinkType::ETHERNET));
        assert_eq!(linktype_of_arphrd(ARPHRD_LOOPBACK), Some(LinkType::ETHERNET));
        assert_eq!(linktype_of_arphrd(ARPHRD_NONE), Some(LinkType::RAW));
        assert_eq!(linktype_of_arphrd(778), None); // ARPHRD_IPGRE: captured cooked
    }

    #[test]
    fn unknown_interface_is_named() {
        let e = LiveCapture::open("nosuch0", 1500, Duration::from_millis(10)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("nosuch0") && text.contains("lo"), "{text}");
    }

    #[test]
    fn sll2_header_layout() {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut from: libc::sockaddr_ll = unsafe { zeroed() };
        from.sll_protocol = 0x0800u16.to_be();
        from.sll_ifindex = 26;
        from.sll_hatype = 1;
        from.sll_pkttype = PACKET_OUTGOING;
        from.sll_halen = 6;
        from.sll_addr = [2, 0x42, 0xac, 0x14, 0, 4, 0, 0];
        let mut out = [0u8; SLL2_LEN];
        write_sll2(&mut out, &from);
        assert_eq!(
            out,
            [8, 0, 0, 0, 0, 0, 0, 26, 0, 1, 4, 6, 2, 0x42, 0xac, 0x14, 0, 4, 0, 0]
        );
    }
}
