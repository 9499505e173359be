//! `capture`: packets in and out of files, and off the wire.
//!
//! Modules:
//! - [`packet`]: the packet model shared by the reader, the live capture, the writer and the analyzer:
//!   [`Packet`] (`ts`, `linktype`, `data`, `orig_len`, `interface`), [`Timestamp`] (ns since the epoch),
//!   [`LinkType`] (LINKTYPE_ numbers, unknown ones kept);
//! - [`read`]: a streaming, bounded-memory reader for pcap (both byte orders, micro/nanosecond) and
//!   pcapng (SHB, IDB with `if_tsresol`/`if_tsoffset`, several interfaces, EPB, SPB, obsolete PB; other
//!   blocks skipped): `Reader::open(path)?` then `while let Some(p) = reader.next_packet()? { .. }`;
//! - [`write`]: a small pcap writer (classic libpcap format, micro- or nanosecond timestamps) whose files
//!   tshark and Wireshark open; used by `sister capture -w` and by the analyzer's benchmark;
//! - [`live`]: live capture from an interface through an `AF_PACKET` raw socket (no libpcap, so the binary
//!   stays static), dropping loopback's duplicate outgoing copies as libpcap does;
//! - [`session`]: one run of `sister capture` (open, filter, write, stop cleanly on Ctrl+C, count/duration);
//! - [`synth`]: synthetic lab traffic (MQTT, HTTP, ZMTP over TCP with consistent seq/ack) for benchmarks;
//! - [`filter`]: a tcpdump-like filter language (`tcp and port 1883`, `host 172.18.0.3 or arp`) parsed by
//!   hand and evaluated in user space;
//! - [`iface`]: the machine's interfaces and addresses, and which ones are Docker bridges;
//! - [`docker`]: what the docker CLI knows about networks and containers (a compose project's bridge, the
//!   names of the containers behind the IP addresses of a capture).

pub mod docker;
pub mod filter;
pub mod iface;
pub mod live;
pub mod packet;
pub mod read;
pub mod repeat;
pub mod session;
pub mod synth;
pub mod write;

pub use packet::{LinkType, OwnedPacket, Packet, Timestamp};
