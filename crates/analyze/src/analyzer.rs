//! The packet loop: frames in, conversations out, then the report.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use capture::read::{ReadError, Reader};
use capture::Packet;
use rustc_hash::{FxHashMap, FxHasher};
use wire::net::{self, IpRepr, Link, Network, Transport};

use crate::dissect::{Hints, Session};
use crate::flow::{di, owned, Conv, FollowChunk, Owned};
use crate::reassembly::Chunk;
use crate::report::build::{build_activity, build_conversation, build_hosts};
use crate::report::{self, *};

/// What can stop an analysis before it produces anything.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: ReadError,
    },
    #[error("cannot write the stream files to {path}: {source}")]
    StreamDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Settings of an analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Write each direction's reassembled bytes into this directory (tcpflow's file names).
    pub stream_dir: Option<PathBuf>,
    /// Record this conversation's content for `--follow`: its id (`3`) or its endpoints
    /// (`172.18.0.3:40792-172.18.0.2:2222`, either order).
    pub follow: Option<String>,
    /// Messages kept per conversation in the report (the rest are counted).
    pub max_messages: usize,
    /// Messages kept in the report over all conversations: with the per-conversation limit, what bounds
    /// the analyzer's memory on a capture of millions of messages (all are still counted).
    pub max_messages_total: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stream_dir: None,
            follow: None,
            max_messages: 1000,
            max_messages_total: 20_000,
        }
    }
}

/// The result: the report, and what `--follow` asked to keep.
#[derive(Debug)]
pub struct Analysis {
    pub report: Report,
    /// The followed conversation's content, if one was asked for and found.
    pub followed: Option<(Conversation, Vec<FollowChunk>)>,
    /// True when some input could not be read at all (the report is partial or empty).
    pub unusable: bool,
}

/// Analyze capture files one after the other.
pub fn analyze_files<P: AsRef<Path>>(paths: &[P], options: &Options) -> Result<Analysis, Error> {
    analyze_files_with_progress(paths, options, &mut |_, _| {})
}

/// How often (in packets) [`analyze_files_with_progress`] reports how far it has read.
const PROGRESS_EVERY: u64 = 8192;

/// [`analyze_files`], calling `progress(file index, bytes read in that file)` every few thousand
/// packets and at the end of each file (for `sister analyze`'s progress bar on large files).
pub fn analyze_files_with_progress<P: AsRef<Path>>(
    paths: &[P],
    options: &Options,
    progress: &mut dyn FnMut(usize, u64),
) -> Result<Analysis, Error> {
    if let Some(dir) = &options.stream_dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::StreamDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let mut a = Analyzer::new(options.clone());
    let mut unusable = false;
    for (index, path) in paths.iter().enumerate() {
        let path = path.as_ref();
        let name = path.display().to_string();
        a.summary.files.push(name.clone());
        let mut reader = match Reader::open(path) {
            Ok(r) => r,
            Err(source) => {
                if paths.len() == 1 {
                    return Err(Error::Read { path: name, source });
                }
                a.problems.push(format!("{name}: {source}"));
                unusable = true;
                continue;
            }
        };
        a.summary.formats.push(reader.format().name().to_string());
        loop {
            if reader.packets_read() % PROGRESS_EVERY == 0 {
                progress(index, reader.offset());
            }
            match reader.next_packet() {
                Ok(Some(p)) => a.packet(&p),
                Ok(None) => break,
                Err(e) => {
                    let read = reader.packets_read();
                    if read == 0 && paths.len() == 1 && !e.is_truncation() {
                        return Err(Error::Read {
                            path: name,
                            source: e,
                        });
                    }
                    a.problems.push(format!(
                        "{name}: {e}; the report covers the {read} packets before that point"
                    ));
                    if read == 0 {
                        unusable = true;
                    }
                    break;
                }
            }
        }
        progress(index, reader.offset());
        if reader.skipped_blocks() > 0 {
            a.problems.push(format!(
                "{name}: {} pcapng blocks without packets were skipped (statistics, name resolution...)",
                reader.skipped_blocks()
            ));
        }
    }
    let (report, followed) = a.finish();
    // Packets, but none of a link type sister decodes: nothing in the report can be trusted as a finding.
    if report.capture.packets > 0 && report.capture.link_types.iter().all(|l| l.contains("unknown")) {
        unusable = true;
    }
    Ok(Analysis {
        report,
        followed,
        unusable,
    })
}

/// A conversation's key in the table: both endpoints, the lower first (either direction finds it), and
/// UDP or TCP, packed into one array of bytes: hashing it is one call, where hashing the `SocketAddr`s
/// field by field cost a tenth of the analyzer's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConvKey([u8; 39]);

impl ConvKey {
    fn new(a: SocketAddr, b: SocketAddr, udp: bool) -> ConvKey {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut key = [0u8; 39];
        for (at, e) in [(0, lo), (19, hi)] {
            // A tag keeps 1.2.3.4 apart from the IPv6 address ::ffff:1.2.3.4.
            let (tag, ip) = match e.ip() {
                IpAddr::V4(v4) => (4, v4.to_ipv6_mapped().octets()),
                IpAddr::V6(v6) => (6, v6.octets()),
            };
            key[at] = tag;
            key[at + 1..at + 17].copy_from_slice(&ip);
            key[at + 17..at + 19].copy_from_slice(&e.port().to_be_bytes());
        }
        key[38] = u8::from(udp);
        ConvKey(key)
    }
}

/// Where a copy of a packet was seen: capture interface, SLL2 ifindex, SLL packet type.
type Vantage = (u32, Option<u32>, Option<u16>);

/// How far apart the two copies of one packet may be (they are 1-50 µs apart in practice).
const DUPLICATE_WINDOW_NS: i64 = 5_000_000;
/// Most packets remembered for duplicate detection.
const MAX_RECENT: usize = 65_536;

struct HostAcc {
    /// Source MAC addresses (as bytes: formatted once, for the report; the byte order is the text's).
    macs: BTreeSet<[u8; 6]>,
    packets_sent: u64,
    packets_received: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

/// The streaming analyzer: feed it packets, then `finish`.
pub struct Analyzer {
    options: Options,
    summary: CaptureSummary,
    problems: Vec<String>,
    first_ns: Option<i64>,
    last_ns: i64,
    max_ns: i64,
    link_types: BTreeSet<u16>,
    /// True once the capture shows it can hold two copies of a packet (cooked or multi-interface).
    multi_vantage: bool,
    /// Recent packets for duplicate detection: (time, hash of the IP packet, where seen). The tables
    /// here use rustc's Fx hasher, not std's SipHash: their keys come from the capture, not from an
    /// attacker who could pick colliding keys (the reason SipHash is std's default), and SipHash was
    /// a tenth of the analyzer's time.
    recent: FxHashMap<u64, (i64, Vantage)>,
    /// The same packets in arrival order, for forgetting them.
    recent_order: VecDeque<(i64, u64)>,
    /// Conversations by canonical 4-tuple (lower endpoint first) → index in `convs`.
    index: FxHashMap<ConvKey, usize>,
    convs: Vec<Conv>,
    /// Stream file names given so far (`--streams`).
    stream_names: std::collections::HashSet<String>,
    /// Endpoints seen accepting connections (SYN+ACK sent): a hint for mid-stream conversations.
    listeners: BTreeSet<SocketAddr>,
    /// Per host: its counters, and where they are by address (conversations keep their two hosts'
    /// places, so a TCP or UDP packet needs no lookup by address).
    hosts: Vec<HostAcc>,
    host_index: BTreeMap<IpAddr, usize>,
    other: BTreeMap<(String, String), (u64, f64)>,
    undecoded: BTreeMap<String, u64>,
    truncated_first: Option<f64>,
    /// Messages kept in the report so far, over all conversations.
    kept_total: usize,
}

impl Analyzer {
    pub fn new(options: Options) -> Self {
        Analyzer {
            options,
            summary: CaptureSummary::default(),
            problems: Vec::new(),
            first_ns: None,
            last_ns: 0,
            max_ns: i64::MIN,
            link_types: BTreeSet::new(),
            multi_vantage: false,
            recent: FxHashMap::default(),
            recent_order: VecDeque::new(),
            index: FxHashMap::default(),
            convs: Vec::new(),
            listeners: BTreeSet::new(),
            stream_names: std::collections::HashSet::new(),
            hosts: Vec::new(),
            host_index: BTreeMap::new(),
            other: BTreeMap::new(),
            undecoded: BTreeMap::new(),
            truncated_first: None,
            kept_total: 0,
        }
    }

    fn rel(&self, ns: i64) -> f64 {
        ns.saturating_sub(self.first_ns.unwrap_or(ns)) as f64 / 1e9
    }

    /// Take one captured frame.
    pub fn packet(&mut self, p: &Packet<'_>) {
        self.summary.packets += 1;
        let ns = p.ts.0;
        let first = *self.first_ns.get_or_insert(ns);
        if self.summary.packets > 1 && ns < self.last_ns {
            self.summary.time_went_backwards += 1;
        }
        self.last_ns = ns;
        self.max_ns = self.max_ns.max(ns);
        let _ = first;
        self.link_types.insert(p.linktype.0);
        let d = net::decode(p.linktype.0, p.data);
        // Duplicates: the same IP packet seen again from another vantage point (interface, SLL2 ifindex,
        // packet type) within a few ms. Only captures that can see a packet twice pay for the check:
        // cooked (`-i any`) captures and pcapng files with several interfaces.
        if matches!(d.link, Link::Sll(_)) || p.interface != 0 {
            self.multi_vantage = true;
        }
        if let (Network::Ip(_), true) = (&d.network, self.multi_vantage) {
            let vantage: Vantage = match &d.link {
                Link::Sll(s) => (p.interface, s.ifindex, Some(packet_type_code(s.packet_type))),
                _ => (p.interface, None, None),
            };
            let mut h = FxHasher::default();
            ip_packet_bytes(&d, p.data).hash(&mut h);
            let hash = h.finish();
            // Forget packets older than the window (and bound the table whatever the timestamps do).
            while let Some(&(t, old)) = self.recent_order.front() {
                if ns.abs_diff(t) <= DUPLICATE_WINDOW_NS as u64 && self.recent_order.len() <= MAX_RECENT {
                    break;
                }
                self.recent_order.pop_front();
                if self.recent.get(&old).is_some_and(|&(tt, _)| tt == t) {
                    self.recent.remove(&old);
                }
            }
            if let Some(&(t, v)) = self.recent.get(&hash) {
                if v != vantage && ns.abs_diff(t) <= DUPLICATE_WINDOW_NS as u64 {
                    self.summary.duplicates += 1;
                    return;
                }
            }
            self.recent.insert(hash, (ns, vantage));
            self.recent_order.push_back((ns, hash));
        }
        let t = self.rel(ns);
        self.summary.bytes += u64::from(p.orig_len);
        if p.is_truncated() || d.truncated {
            self.summary.truncated_packets += 1;
            self.truncated_first.get_or_insert(t);
        }
        if let Some(err) = &d.error {
            *self.undecoded.entry(err.clone()).or_default() += 1;
        }
        let frame_len = u64::from(p.orig_len);
        let src_mac = match &d.link {
            Link::Ethernet(e) => Some(e.src.0),
            _ => None,
        };
        match &d.network {
            Network::Arp(a) => {
                self.other_traffic("ARP", a.to_string(), t);
            }
            Network::Ip(ip) => {
                let (src, dst) = (ip.src(), ip.dst());
                // TCP and UDP packets (nearly all) find their hosts through their conversation.
                let (from, to) = match &d.transport {
                    Transport::Tcp(tcp) => {
                        let i = self.tcp(ip, tcp, d.payload, frame_len, ns, t);
                        self.convs[i].host_slots_from(src)
                    }
                    Transport::Udp(udp) => {
                        let s = SocketAddr::new(src, udp.src_port);
                        let dd = SocketAddr::new(dst, udp.dst_port);
                        let i = self.udp(s, dd, d.payload, frame_len, ns, t);
                        self.convs[i].host_slots_from(src)
                    }
                    _ => (self.host_slot(src), self.host_slot(dst)),
                };
                let h = &mut self.hosts[from];
                h.packets_sent += 1;
                h.bytes_sent += frame_len;
                if let Some(m) = src_mac {
                    if h.macs.len() < 8 {
                        h.macs.insert(m);
                    }
                }
                let h = &mut self.hosts[to];
                h.packets_received += 1;
                h.bytes_received += frame_len;
                match &d.transport {
                    Transport::Icmp(i) => {
                        let proto = if i.v6 { "ICMPv6" } else { "ICMP" };
                        self.other_traffic(proto, format!("{} {src} → {dst}", i.name()), t);
                    }
                    Transport::Other(n) => {
                        let what = if ip.is_fragment() {
                            format!("IP fragment {src} → {dst}")
                        } else {
                            format!("{src} → {dst}")
                        };
                        self.other_traffic(&net::ip::protocol::name(*n), what, t);
                    }
                    Transport::Tcp(_) | Transport::Udp(_) | Transport::None => {}
                }
            }
            Network::Other(et) if d.error.is_none() => {
                self.other_traffic(&et.to_string(), "not decoded".into(), t);
            }
            _ => {}
        }
    }

    /// Where the host's counters are in `hosts` (a new host gets a place).
    fn host_slot(&mut self, addr: IpAddr) -> usize {
        let hosts = &mut self.hosts;
        *self.host_index.entry(addr).or_insert_with(|| {
            hosts.push(HostAcc {
                macs: BTreeSet::new(),
                packets_sent: 0,
                packets_received: 0,
                bytes_sent: 0,
                bytes_received: 0,
            });
            hosts.len() - 1
        })
    }

    fn other_traffic(&mut self, proto: &str, what: String, t: f64) {
        let e = self.other.entry((proto.to_string(), what)).or_insert((0, t));
        e.0 += 1;
    }

    fn conversation(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        udp: bool,
        new_syn: bool,
        client_is_src: Option<bool>,
        (ns, t): (i64, f64),
    ) -> usize {
        let key = ConvKey::new(src, dst, udp);
        if let Some(&i) = self.index.get(&key) {
            let c = &self.convs[i];
            let closed = c.dirs.iter().any(|d| d.rst.is_some())
                || (c.dirs[0].fin.is_some() && c.dirs[1].fin.is_some());
            if !(udp || !new_syn || !closed) {
                // A new connection on a reused 4-tuple: the old one is over.
                let max = self.allowance(i);
                let before = self.convs[i].messages.kept.len();
                self.convs[i].finish(t, max);
                self.kept_total += self.convs[i].messages.kept.len() - before;
            } else {
                return i;
            }
        }
        // Neither a SYN nor a SYN+ACK opened it: the capture began after the connection did.
        let mid_stream = !udp && client_is_src.is_none();
        let client_is_src = client_is_src.unwrap_or_else(|| {
            if self.listeners.contains(&dst) {
                true
            } else if self.listeners.contains(&src) {
                false
            } else if udp {
                // The first datagram goes to the service, unless it clearly comes from one.
                !(src.port() < dst.port() && src.port() < 10_000 && dst.port() >= 32_768)
            } else {
                // Mid-stream: the service is on the lower port (ephemeral ports are high).
                src.port() > dst.port()
            }
        });
        let (client, server) = if client_is_src { (src, dst) } else { (dst, src) };
        let id = self.convs.len() as u32 + 1;
        let session = Session::new(Hints {
            server_port: server.port(),
            udp,
            mid_stream,
        });
        let mut conv = Conv::new(id, udp, client, server, t, ns, session);
        conv.host_slots = [self.host_slot(client.ip()), self.host_slot(server.ip())];
        if let Some(dir) = &self.options.stream_dir {
            if !udp {
                conv.open_stream_files(dir, &mut self.stream_names);
            }
        }
        if let Some(sel) = &self.options.follow {
            if follow_matches(sel, id, client, server) {
                conv.follow = Some(Vec::new());
            }
        }
        self.convs.push(conv);
        let i = self.convs.len() - 1;
        self.index.insert(key, i);
        i
    }

    /// A TCP segment; returns its conversation.
    fn tcp(
        &mut self,
        ip: &IpRepr,
        tcp: &net::TcpRepr,
        payload: &[u8],
        frame_len: u64,
        ns: i64,
        t: f64,
    ) -> usize {
        let src = SocketAddr::new(ip.src(), tcp.src_port);
        let dst = SocketAddr::new(ip.dst(), tcp.dst_port);
        let f = tcp.flags;
        let syn_only = f.syn() && !f.ack();
        let client_is_src = if syn_only {
            Some(true)
        } else if f.syn() && f.ack() {
            Some(false)
        } else {
            None
        };
        if f.syn() && f.ack() {
            self.listeners.insert(src);
        }
        let i = self.conversation(src, dst, false, syn_only, client_is_src, (ns, t));
        let max = self.allowance(i);
        let before = self.convs[i].messages.kept.len();
        self.tcp_segment(i, src, tcp, payload, frame_len, t, max);
        self.kept_total += self.convs[i].messages.kept.len() - before;
        i
    }

    /// Messages conversation `i` may still keep: its own limit, and what is left of the total.
    fn allowance(&self, i: usize) -> usize {
        let left = self.options.max_messages_total.saturating_sub(self.kept_total);
        self.options
            .max_messages
            .min(self.convs[i].messages.kept.len() + left)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_segment(
        &mut self,
        i: usize,
        src: SocketAddr,
        tcp: &net::TcpRepr,
        payload: &[u8],
        frame_len: u64,
        t: f64,
        max: usize,
    ) {
        let f = tcp.flags;
        let syn_only = f.syn() && !f.ack();
        let conv = &mut self.convs[i];
        conv.last = conv.last.max(t);
        let dir = conv.direction_of(src);
        let ds = &mut conv.dirs[di(dir)];
        ds.packets += 1;
        ds.bytes += frame_len;
        if syn_only {
            ds.syn.get_or_insert(t);
            ds.reasm.syn(tcp.seq);
            conv.mark('S', dir);
        } else if f.syn() {
            ds.synack.get_or_insert(t);
            ds.reasm.syn(tcp.seq);
            conv.mark('H', dir);
        }
        let other = 1 - di(dir);
        if f.ack() && !f.syn() && conv.dirs[other].synack.is_some() {
            conv.dirs[di(dir)].ack_after_synack = true;
        }
        if f.ack() && !f.syn() && !f.fin() && !f.rst() && payload.is_empty() {
            conv.mark('A', dir);
        }
        if tcp.window == 0 && !f.rst() && !f.syn() {
            let ds = &mut conv.dirs[di(dir)];
            ds.zero_windows += 1;
            ds.first_zero_window.get_or_insert(t);
            conv.mark('W', dir);
        }
        if !payload.is_empty() {
            conv.mark('D', dir);
            // The reassembler is taken out of the conversation while it hands the bytes on, so they go
            // to the dissector as slices of the packet (or of its own buffer), not copies. A hole
            // (rare) is noted only after the segment's classification, as the history letters go in
            // that order: from the first gap on, the chunks wait (copied) until then.
            let mut reasm = std::mem::take(&mut conv.dirs[di(dir)].reasm);
            let mut after_gap = Vec::new();
            let kind = reasm.segment(tcp.seq, payload, &mut |c| match c {
                Chunk::Data { offset, bytes } if after_gap.is_empty() => {
                    conv.dirs[di(dir)].payload_bytes += bytes.len() as u64;
                    conv.deliver(dir, t, offset, bytes, max)
                }
                c => after_gap.push(owned(c)),
            });
            conv.dirs[di(dir)].reasm = reasm;
            conv.classify(dir, kind, t);
            for c in after_gap {
                match c {
                    Owned::Data(off, b) => {
                        conv.dirs[di(dir)].payload_bytes += b.len() as u64;
                        conv.deliver(dir, t, off, &b, max)
                    }
                    Owned::Gap(off, len) => conv.gap(dir, t, off, len, max),
                }
            }
        }
        if f.fin() {
            let ds = &mut conv.dirs[di(dir)];
            ds.fin.get_or_insert(t);
            conv.mark('F', dir);
            if !conv.dirs[di(dir)].reasm.has_hole() {
                conv.end(dir, t, max);
            }
        }
        if f.rst() {
            conv.dirs[di(dir)].rst.get_or_insert(t);
            conv.mark('R', dir);
        }
        let both_fin = conv.dirs.iter().all(|d| d.fin.is_some() && !d.reasm.has_hole());
        if f.rst() || (f.fin() && both_fin) {
            conv.close_stream_files();
        }
    }

    /// A UDP datagram; returns its conversation.
    fn udp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        frame_len: u64,
        ns: i64,
        t: f64,
    ) -> usize {
        let i = self.conversation(src, dst, true, false, None, (ns, t));
        let max = self.allowance(i);
        let before = self.convs[i].messages.kept.len();
        let conv = &mut self.convs[i];
        conv.last = conv.last.max(t);
        let dir = conv.direction_of(src);
        let ds = &mut conv.dirs[di(dir)];
        ds.packets += 1;
        ds.bytes += frame_len;
        let offset = ds.payload_bytes;
        ds.payload_bytes += payload.len() as u64;
        if !payload.is_empty() {
            conv.deliver(dir, t, offset, payload, max);
        }
        self.kept_total += self.convs[i].messages.kept.len() - before;
        i
    }

    /// The end of the input: build the report.
    pub fn finish(mut self) -> (Report, Option<(Conversation, Vec<FollowChunk>)>) {
        let end_t = self.rel(self.max_ns.max(self.first_ns.unwrap_or(0)));
        for i in 0..self.convs.len() {
            let max = self.allowance(i);
            let before = self.convs[i].messages.kept.len();
            self.convs[i].finish(end_t, max);
            self.kept_total += self.convs[i].messages.kept.len() - before;
        }
        let mut summary = self.summary;
        summary.link_types = self
            .link_types
            .iter()
            .map(|&lt| capture::LinkType(lt).to_string())
            .collect();
        summary.start_time = self.first_ns.map(report::iso8601);
        summary.duration = end_t.max(0.0);
        let mut problems = self.problems;
        for (what, n) in &self.undecoded {
            problems.push(format!("{n} frames could not be fully decoded: {what}"));
        }
        for lt in &summary.link_types {
            if lt.contains("unknown") {
                problems.push(format!("frames with {lt} are counted but not decoded"));
            }
        }

        let mut anomalies = Vec::new();
        let mut conversations = Vec::new();
        let mut followed = None;
        for c in &mut self.convs {
            let conv = build_conversation(c, &mut anomalies);
            if let Some(chunks) = c.follow.take() {
                followed = Some((conv.clone(), chunks));
            }
            conversations.push(conv);
        }
        if summary.truncated_packets > 0 {
            anomalies.push(Anomaly {
                kind: AnomalyKind::TruncatedPacket,
                conversation: None,
                t: self.truncated_first.unwrap_or(0.0),
                count: summary.truncated_packets,
                detail: "frames cut short by the capture's snaplen: their payload is incomplete".into(),
            });
        }
        anomalies.sort_by(|a, b| a.t.total_cmp(&b.t).then(a.kind.cmp(&b.kind)));

        let traffic = self
            .host_index
            .iter()
            .map(|(addr, &i)| host_traffic(addr, &self.hosts[i]));
        let hosts = build_hosts(traffic, &conversations);
        let activity = build_activity(&self.convs, &conversations);
        let mut other: Vec<OtherTraffic> = self
            .other
            .into_iter()
            .map(|((protocol, summary), (count, t))| OtherTraffic {
                protocol,
                summary,
                count,
                t,
            })
            .collect();
        other.sort_by(|a, b| a.t.total_cmp(&b.t));
        (
            Report {
                format_version: FORMAT_VERSION,
                capture: summary,
                hosts,
                conversations,
                activity,
                anomalies,
                other_traffic: other,
                problems,
            },
            followed,
        )
    }
}

fn packet_type_code(p: net::PacketType) -> u16 {
    match p {
        net::PacketType::Host => 0,
        net::PacketType::Broadcast => 1,
        net::PacketType::Multicast => 2,
        net::PacketType::OtherHost => 3,
        net::PacketType::Outgoing => 4,
        net::PacketType::Unknown(n) => n,
    }
}

/// The bytes of the IP packet inside a frame (what is identical in both copies of a duplicate).
fn ip_packet_bytes<'a>(d: &net::Decoded<'_>, frame: &'a [u8]) -> &'a [u8] {
    let link_len = match &d.link {
        Link::Ethernet(e) => 14 + 4 * e.vlans.len(),
        Link::Sll(s) => {
            if s.version == 2 {
                20
            } else {
                16
            }
        }
        Link::Loopback(_) => 4,
        _ => 0,
    };
    frame.get(link_len..).unwrap_or(&[])
}

/// A host as far as its packets tell: its address, MACs and counters. The report builder adds its
/// roles and notes, which come from the conversations.
fn host_traffic(addr: &IpAddr, h: &HostAcc) -> Host {
    Host {
        addr: addr.to_string(),
        name: None,
        macs: h.macs.iter().map(|&m| net::Mac(m).to_string()).collect(),
        roles: Vec::new(),
        notes: Vec::new(),
        packets_sent: h.packets_sent,
        packets_received: h.packets_received,
        bytes_sent: h.bytes_sent,
        bytes_received: h.bytes_received,
    }
}

/// Does `--follow SEL` name this conversation?
fn follow_matches(sel: &str, id: u32, client: SocketAddr, server: SocketAddr) -> bool {
    let sel = sel.trim();
    if let Ok(n) = sel.parse::<u32>() {
        return n == id;
    }
    let parts: Vec<&str> = sel.splitn(2, '-').collect();
    if parts.len() == 2 {
        if let (Ok(a), Ok(b)) = (parts[0].parse::<SocketAddr>(), parts[1].parse::<SocketAddr>()) {
            return (a == client && b == server) || (a == server && b == client);
        }
    }
    false
}

/// Live decoding (`sister capture --decode`, see [`crate::live`]): the messages the dissectors found
/// since the last call. `cursors` is the caller's: how many messages of each conversation it has seen.
impl Analyzer {
    pub fn drain_messages(
        &self,
        cursors: &mut Vec<usize>,
    ) -> Vec<(u32, SocketAddr, SocketAddr, crate::dissect::Msg)> {
        let mut out = Vec::new();
        cursors.resize(self.convs.len(), 0);
        for (c, seen) in self.convs.iter().zip(cursors.iter_mut()) {
            if c.messages.kept.len() > *seen {
                out.extend(
                    c.messages.kept[*seen..]
                        .iter()
                        .map(|m| (c.id, c.client, c.server, m.clone())),
                );
                *seen = c.messages.kept.len();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capture::{LinkType, Timestamp};
    use std::net::Ipv4Addr;
    use wire::net::{EtherType, EthernetRepr, Ipv4Repr, Mac, TcpFlags, TcpRepr};

    const C: [u8; 4] = [172, 18, 0, 3];
    const S: [u8; 4] = [172, 18, 0, 2];

    /// An Ethernet frame with one TCP segment (every header field a test varies is an argument).
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        seq: u32,
        flags: u16,
        window: u16,
        data: &[u8],
    ) -> Vec<u8> {
        let mut f = Vec::new();
        EthernetRepr {
            dst: Mac([2; 6]),
            src: Mac([3; 6]),
            vlans: vec![],
            ethertype: EtherType::IPV4,
        }
        .emit(&mut f);
        Ipv4Repr {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            protocol: 6,
            ttl: 64,
            ident: seq as u16,
            dont_fragment: true,
            more_fragments: false,
            frag_offset: 0,
            header_len: 20,
            total_len: 0,
        }
        .emit(20 + data.len(), &mut f);
        TcpRepr {
            src_port: sport,
            dst_port: dport,
            seq,
            ack: 1,
            flags: TcpFlags(flags),
            window,
            header_len: 20,
            mss: None,
            window_scale: None,
            sack_permitted: false,
            sack: vec![],
        }
        .emit(&mut f);
        f.extend_from_slice(data);
        f
    }

    fn feed(a: &mut Analyzer, ms: i64, lt: LinkType, frame: &[u8], orig_len: u32) {
        a.packet(&Packet {
            ts: Timestamp(ms * 1_000_000),
            linktype: lt,
            data: frame,
            orig_len,
            interface: 0,
        });
    }

    fn eth(a: &mut Analyzer, ms: i64, frame: Vec<u8>) {
        let n = frame.len() as u32;
        feed(a, ms, LinkType::ETHERNET, &frame, n);
    }

    const SYN: u16 = TcpFlags::SYN;
    const SYNACK: u16 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u16 = TcpFlags::ACK;
    const PSH: u16 = TcpFlags::PSH | TcpFlags::ACK;
    const FIN: u16 = TcpFlags::FIN | TcpFlags::ACK;

    #[test]
    fn echo_session_with_reordering_retransmission_zero_window_and_clock_going_back() {
        let mut a = Analyzer::new(Options::default());
        eth(&mut a, 0, tcp(C, S, 40000, 2222, 99, SYN, 64240, b""));
        eth(&mut a, 1, tcp(S, C, 2222, 40000, 499, SYNACK, 65160, b""));
        eth(&mut a, 2, tcp(C, S, 40000, 2222, 100, ACK, 502, b""));
        // "world" arrives before "hello " (out of order), then "hello " again (retransmission).
        eth(&mut a, 10, tcp(C, S, 40000, 2222, 106, PSH, 502, b"world"));
        eth(&mut a, 9, tcp(C, S, 40000, 2222, 100, PSH, 502, b"hello ")); // clock went back 1 ms
        eth(&mut a, 12, tcp(C, S, 40000, 2222, 100, PSH, 502, b"hello "));
        eth(
            &mut a,
            13,
            tcp(S, C, 2222, 40000, 500, PSH, 0, b"Echo: hello world"),
        );
        eth(&mut a, 20, tcp(C, S, 40000, 2222, 111, FIN, 502, b""));
        eth(&mut a, 21, tcp(S, C, 2222, 40000, 517, FIN, 509, b""));
        let (r, _) = a.finish();
        assert_eq!(r.capture.time_went_backwards, 1);
        let c = &r.conversations[0];
        assert_eq!((c.client.port, c.server.port), (40000, 2222));
        assert_eq!(c.client_to_server.payload_bytes, 11);
        let l = c.lifecycle.as_ref().unwrap();
        assert_eq!(
            (l.opened, l.closed, l.zeek_state.as_str()),
            (Opening::Handshake, Closing::Fin, "SF")
        );
        assert_eq!(
            l.zeek_history, "ShADTwdFf",
            "T: retransmission, w: zero window from the server"
        );
        let kinds: Vec<AnomalyKind> = r.anomalies.iter().map(|a| a.kind).collect();
        for k in [
            AnomalyKind::OutOfOrder,
            AnomalyKind::Retransmission,
            AnomalyKind::ZeroWindow,
        ] {
            assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
        }
        assert_eq!(c.messages.last().unwrap().summary, "Echo: 'hello world'");
    }

    #[test]
    fn sll2_duplicates_are_dropped_but_retransmissions_are_not() {
        let mut a = Analyzer::new(Options::default());
        let seg = tcp(C, S, 40000, 2222, 100, PSH, 502, b"hai");
        let sll2 = |ifindex: u8, pkttype: u8| {
            let mut f = vec![
                0x08, 0x00, 0, 0, 0, 0, 0, ifindex, 0, 1, pkttype, 6, 2, 0, 0, 0, 0, 3, 0, 0,
            ];
            f.extend_from_slice(&seg[14..]);
            f
        };
        let (one, two) = (sll2(26, 4), sll2(28, 3));
        let n = one.len() as u32;
        feed(&mut a, 0, LinkType::LINUX_SLL2, &one, n);
        feed(&mut a, 0, LinkType::LINUX_SLL2, &two, n); // the bridge's copy: dropped
        feed(&mut a, 300, LinkType::LINUX_SLL2, &one, n); // 300 ms later on the same interface: a retransmission
        let (r, _) = a.finish();
        assert_eq!((r.capture.packets, r.capture.duplicates), (3, 1));
        assert_eq!(r.conversations[0].client_to_server.packets, 2);
        assert!(r.anomalies.iter().any(|a| a.kind == AnomalyKind::Retransmission));
    }

    #[test]
    fn unknown_link_types_and_snaplen_cuts_are_reported() {
        let mut a = Analyzer::new(Options::default());
        feed(&mut a, 0, LinkType(147), b"\x01\x02\x03", 3);
        let seg = tcp(
            C,
            S,
            40000,
            2222,
            100,
            PSH,
            502,
            b"a long message cut by the snaplen",
        );
        feed(&mut a, 1, LinkType::ETHERNET, &seg[..60], seg.len() as u32);
        let (r, _) = a.finish();
        assert_eq!(r.capture.truncated_packets, 1);
        assert!(r.problems.iter().any(|p| p.contains("147")), "{:?}", r.problems);
        assert!(r.anomalies.iter().any(|a| a.kind == AnomalyKind::TruncatedPacket));
        assert_eq!(
            r.conversations[0].client_to_server.payload_bytes, 6,
            "what was captured is kept"
        );
    }

    #[test]
    fn refused_and_unanswered_syns() {
        let mut a = Analyzer::new(Options::default());
        eth(&mut a, 0, tcp(C, S, 40000, 2222, 99, SYN, 64240, b""));
        eth(
            &mut a,
            1,
            tcp(S, C, 2222, 40000, 0, TcpFlags::RST | TcpFlags::ACK, 0, b""),
        );
        eth(&mut a, 5, tcp(C, S, 40001, 3131, 99, SYN, 64240, b""));
        eth(&mut a, 1005, tcp(C, S, 40001, 3131, 99, SYN, 64240, b""));
        let (r, _) = a.finish();
        let states: Vec<&str> = r
            .conversations
            .iter()
            .map(|c| c.lifecycle.as_ref().unwrap().zeek_state.as_str())
            .collect();
        assert_eq!(states, ["REJ", "S0"]);
        let kinds: Vec<AnomalyKind> = r.anomalies.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [AnomalyKind::Refused, AnomalyKind::UnansweredSyn]);
    }

    #[test]
    fn a_reused_four_tuple_is_a_new_conversation() {
        let mut a = Analyzer::new(Options::default());
        for (i, base) in [0i64, 100].into_iter().enumerate() {
            let isn = 1000 * i as u32;
            eth(&mut a, base, tcp(C, S, 40000, 2222, isn, SYN, 64240, b""));
            eth(&mut a, base + 1, tcp(S, C, 2222, 40000, 5000, SYNACK, 64240, b""));
            eth(&mut a, base + 2, tcp(C, S, 40000, 2222, isn + 1, FIN, 502, b""));
            eth(&mut a, base + 3, tcp(S, C, 2222, 40000, 5001, FIN, 502, b""));
        }
        let (r, _) = a.finish();
        assert_eq!(r.conversations.len(), 2);
    }
}
