//! One run of `sister capture`: open the interface, filter, write the pcap file, stop cleanly.
//!
//! The loop is deliberately plain: read a frame (the socket's timeout wakes us every 200 ms so Ctrl+C is
//! noticed), decode its headers, test the filter, append it to the file, hand it to the caller (who
//! prints a line with `--decode`). Stopping, whether by Ctrl+C, `-c COUNT` or `--duration`, always goes
//! through the same exit: flush the file's buffer, `fsync` it, read the kernel's drop counter. A capture
//! interrupted at any moment is therefore a complete, valid pcap file.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::filter::{Fields, Filter};
use crate::live::{CaptureError, LiveCapture, Stats};
use crate::packet::{LinkType, Packet};
use crate::write::{PcapWriter, TsResolution};

/// How often the socket read returns with nothing, to look at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// How long, at most, the frames still queued are read out when stopping.
const DRAIN_AT_MOST: Duration = Duration::from_millis(500);
/// How often the file's buffer is flushed while capturing (what a `kill -9` can lose at most).
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What to capture and where to put it.
#[derive(Debug, Clone)]
pub struct Options {
    pub iface: String,
    pub snaplen: u32,
    pub write: Option<PathBuf>,
    pub resolution: TsResolution,
    /// Stop after this many packets that matched the filter.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    pub filter: Filter,
}

/// What a finished capture did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub linktype: LinkType,
    /// Frames read from the socket (loopback duplicates not counted).
    pub seen: u64,
    /// Frames that matched the filter (written to the file, if any).
    pub matched: u64,
    pub stats: Stats,
    pub elapsed: Duration,
    /// Why it stopped.
    pub stopped_by: StopReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Interrupted,
    Count,
    Duration,
}

/// Errors of a capture run.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Where the pcap goes: a file, or stdout (`-w -`, as tcpdump, to pipe into Wireshark).
enum Output {
    File(BufWriter<File>),
    Stdout(io::Stdout),
}

impl Output {
    fn is_stdout(&self) -> bool {
        matches!(self, Output::Stdout(_))
    }
}

impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(f) => f.write(buf),
            Output::Stdout(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stdout(s) => s.flush(),
        }
    }
}

/// The open capture, before the loop runs: lets the caller say what it is about to do.
pub struct Session {
    opts: Options,
    cap: LiveCapture,
    writer: Option<PcapWriter<Output>>,
}

impl Session {
    /// Open the interface and create the output file (the file is created only once the socket opened,
    /// so a permission error leaves no empty file behind).
    pub fn open(opts: Options) -> Result<Session, SessionError> {
        let cap = LiveCapture::open(&opts.iface, opts.snaplen, POLL)?;
        let writer = match &opts.write {
            None => None,
            Some(path) => {
                let err = |source| SessionError::Write {
                    path: path.display().to_string(),
                    source,
                };
                let out = if path.as_os_str() == "-" {
                    Output::Stdout(io::stdout())
                } else {
                    Output::File(BufWriter::with_capacity(
                        1 << 20,
                        File::create(path).map_err(err)?,
                    ))
                };
                let w = PcapWriter::new(out, u32::from(cap.linktype().0), opts.snaplen, opts.resolution)
                    .map_err(err)?;
                Some(w)
            }
        };
        Ok(Session { opts, cap, writer })
    }

    /// The link type of the frames (and of the file).
    pub fn linktype(&self) -> LinkType {
        self.cap.linktype()
    }

    /// Capture until `stop` is set, the count is reached or the duration has passed. `each` sees every
    /// packet that matched the filter, with its decoded headers.
    pub fn run(
        mut self,
        stop: &AtomicBool,
        mut each: impl FnMut(&Packet<'_>, &wire::net::Decoded<'_>),
    ) -> Result<Summary, SessionError> {
        let start = Instant::now();
        let mut last_flush = start;
        let mut seen = 0u64;
        let mut matched = 0u64;
        let path = self
            .opts
            .write
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let write_err = |source| SessionError::Write {
            path: path.clone(),
            source,
        };
        let mut failure = None;
        // When Ctrl+C or the duration ends the capture, the frames the kernel captured before that
        // moment are still in the socket's queue: they are read out (without waiting) before closing.
        let mut draining = false;
        let mut draining_reason = StopReason::Interrupted;
        let mut drain_started = Instant::now();
        let stopped_by = loop {
            if self.opts.count.is_some_and(|c| matched >= c) {
                break StopReason::Count;
            }
            if !draining {
                if stop.load(Ordering::Relaxed) {
                    draining = true;
                    draining_reason = StopReason::Interrupted;
                    drain_started = Instant::now();
                } else if self.opts.duration.is_some_and(|d| start.elapsed() >= d) {
                    draining = true;
                    draining_reason = StopReason::Duration;
                    drain_started = Instant::now();
                }
            }
            if let Some(w) = self.writer.as_mut() {
                if last_flush.elapsed() >= FLUSH_EVERY {
                    w.flush().map_err(write_err)?;
                    last_flush = Instant::now();
                }
            }
            // Once stopping (Ctrl+C or --duration), only what the kernel already queued is taken.
            let packet = if draining {
                // Bounded: on a busy link the queue refills as fast as we read it.
                if drain_started.elapsed() > DRAIN_AT_MOST {
                    break draining_reason;
                }
                match self.cap.queued_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) | Err(_) => break draining_reason,
                }
            } else {
                match self.cap.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => continue,
                    // The interface went away (a Docker bridge removed by `compose down`): stop, but
                    // close the file properly first, then say why.
                    Err(e) => {
                        failure = Some(e);
                        break StopReason::Interrupted;
                    }
                }
            };
            seen += 1;
            let decoded = wire::net::decode(packet.linktype.0, packet.data);
            if !self.opts.filter.matches(&Fields::from_decoded(&decoded)) {
                continue;
            }
            matched += 1;
            if let Some(w) = self.writer.as_mut() {
                w.write(&packet).map_err(write_err)?;
                if w.get_ref().is_stdout() {
                    // A pipe into Wireshark (`-w - | wireshark -k -i -`) wants each packet at once.
                    w.flush().map_err(write_err)?;
                }
            }
            each(&packet, &decoded);
        };
        if let Some(w) = self.writer.take() {
            if let Output::File(buffered) = w.finish().map_err(write_err)? {
                let file = buffered.into_inner().map_err(|e| write_err(e.into_error()))?;
                file.sync_all().map_err(write_err)?;
            }
        }
        if let Some(e) = failure {
            return Err(e.into());
        }
        Ok(Summary {
            linktype: self.cap.linktype(),
            seen,
            matched,
            stats: self.cap.stats(),
            elapsed: start.elapsed(),
            stopped_by,
        })
    }
}

/// A generic one-line description of a packet, as tcpdump prints it: time, who → whom, protocol, flags,
/// length and a preview of the payload. (`sister capture --decode` prints the analyzer's
/// protocol-aware line instead where a dissector recognises the message.)
pub fn describe(p: &Packet<'_>, d: &wire::net::Decoded<'_>) -> String {
    use wire::net::{Network, Transport};
    let time = format!(
        "{:02}:{:02}:{:02}.{:06}",
        (p.ts.secs() / 3600) % 24,
        (p.ts.secs() / 60) % 60,
        p.ts.secs() % 60,
        p.ts.subsec_nanos() / 1000
    );
    let (src, dst) = match &d.network {
        Network::Ip(ip) => (ip.src().to_string(), ip.dst().to_string()),
        Network::Arp(a) => return format!("{time} ARP {a}"),
        Network::Other(t) => return format!("{time} {t}, {} bytes", p.orig_len),
        Network::None => return format!("{time} {} bytes, not decoded", p.orig_len),
    };
    let preview = if d.payload.is_empty() {
        String::new()
    } else {
        let mut s = wire::escape::show(&d.payload[..d.payload.len().min(60)]);
        if d.payload.len() > 60 {
            s.push('…');
        }
        format!(": {s}")
    };
    match &d.transport {
        Transport::Tcp(t) => format!(
            "{time} TCP {src}:{} → {dst}:{} {} seq={} ack={} len={}{preview}",
            t.src_port,
            t.dst_port,
            t.flags,
            t.seq,
            t.ack,
            d.payload.len()
        ),
        Transport::Udp(u) => format!(
            "{time} UDP {src}:{} → {dst}:{} len={}{preview}",
            u.src_port,
            u.dst_port,
            d.payload.len()
        ),
        Transport::Icmp(i) => format!(
            "{time} {} {src} → {dst} {}",
            if i.v6 { "ICMPv6" } else { "ICMP" },
            i.name()
        ),
        Transport::Other(proto) => format!("{time} IP {src} → {dst} protocol {proto}"),
        Transport::None => format!("{time} IP {src} → {dst}"),
    }
}

/// Counts for the summary `--decode` prints at the end: packets per protocol and per conversation.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub by_protocol: std::collections::BTreeMap<String, u64>,
    /// (endpoint, endpoint, transport) with the endpoints in sorted order → packets.
    pub by_conversation: std::collections::BTreeMap<(String, String, &'static str), u64>,
    /// Endpoints seen receiving a SYN (without ACK): the servers. Elsewhere the lower port is taken as
    /// the server's, a guess the analyzer makes properly.
    servers: std::collections::BTreeSet<String>,
}

impl Tally {
    /// Count one packet.
    pub fn add(&mut self, d: &wire::net::Decoded<'_>) {
        use wire::net::{Network, Transport};
        let proto = match (&d.network, &d.transport) {
            (Network::Arp(_), _) => "ARP".to_string(),
            (_, Transport::Tcp(_)) => "TCP".to_string(),
            (_, Transport::Udp(_)) => "UDP".to_string(),
            (_, Transport::Icmp(i)) => if i.v6 { "ICMPv6" } else { "ICMP" }.to_string(),
            (Network::Ip(_), _) => "IP (other)".to_string(),
            (Network::Other(t), _) => t.to_string(),
            (Network::None, _) => "not decoded".to_string(),
        };
        *self.by_protocol.entry(proto).or_default() += 1;
        if let Network::Ip(ip) = &d.network {
            let (sp, dp, t) = match &d.transport {
                Transport::Tcp(t) => (t.src_port, t.dst_port, "TCP"),
                Transport::Udp(u) => (u.src_port, u.dst_port, "UDP"),
                _ => return,
            };
            let a = fmt_endpoint(ip.src(), sp);
            let b = fmt_endpoint(ip.dst(), dp);
            if let Transport::Tcp(tcp) = &d.transport {
                if tcp.flags.syn() && !tcp.flags.ack() {
                    self.servers.insert(b.clone());
                }
            }
            let key = if a <= b { (a, b, t) } else { (b, a, t) };
            *self.by_conversation.entry(key).or_default() += 1;
        }
    }

    /// The summary lines.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let protos: Vec<String> = self.by_protocol.iter().map(|(p, n)| format!("{p} {n}")).collect();
        out.push(format!("packets by protocol: {}", protos.join(", ")));
        let mut convs: Vec<_> = self.by_conversation.iter().collect();
        convs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for ((a, b, t), n) in convs.iter().take(20) {
            let port = |e: &str| {
                e.rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(0)
            };
            let a_serves = self.servers.contains(a.as_str())
                || (!self.servers.contains(b.as_str()) && port(a) < port(b));
            let (client, server) = if a_serves { (b, a) } else { (a, b) };
            out.push(format!("  {t} {client} → {server}: {n} packets"));
        }
        if convs.len() > 20 {
            out.push(format!("  … and {} more conversations", convs.len() - 20));
        }
        out
    }
}

fn fmt_endpoint(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}
