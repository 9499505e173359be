//! Conversations: one TCP connection or one UDP exchange, with everything learned about it while the
//! packets streamed by (counts per direction, flags, reassembly, the dissector's messages).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::dissect::{Messages, Note, Session};
use crate::reassembly::{Reassembler, SegmentKind};
use crate::report::{Closing, Direction, Opening, Side};

/// Index of a direction in per-direction arrays: client→server 0, server→client 1.
pub fn di(d: Direction) -> usize {
    match d {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    }
}

pub const DIRS: [Direction; 2] = [Direction::ClientToServer, Direction::ServerToClient];

/// What happened in one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct DirState {
    pub packets: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub reasm: Reassembler,
    /// Time of the first SYN (without ACK), SYN+ACK, FIN, RST sent this way.
    pub syn: Option<f64>,
    pub synack: Option<f64>,
    pub fin: Option<f64>,
    pub rst: Option<f64>,
    /// An ACK sent this way after the other side's SYN+ACK.
    pub ack_after_synack: bool,
    pub zero_windows: u64,
    pub first_zero_window: Option<f64>,
    pub first_retrans: Option<f64>,
    pub first_ooo: Option<f64>,
    pub first_overlap: Option<f64>,
    /// The dissector was told this direction ended.
    pub ended: bool,
    /// Bytes after a FIN (a protocol violation worth noting) are simply reassembled.
    pub stream_file: Option<BufWriter<File>>,
    /// Where this direction's bytes go (`--streams`); the file is created at the first byte, so a
    /// direction without data leaves no file, as with tcpflow.
    pub stream_path: Option<std::path::PathBuf>,
    pub stream_created: bool,
    /// Where the next byte goes in the open file.
    pub stream_pos: u64,
    pub stream_error: Option<String>,
}

/// One conversation.
pub struct Conv {
    pub id: u32,
    pub udp: bool,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first: f64,
    pub last: f64,
    pub first_ns: i64,
    pub dirs: [DirState; 2],
    pub session: Session,
    /// The dissector's messages: the first ones in full, all of them counted (with the activity keys).
    pub messages: Messages,
    pub notes: Vec<Note>,
    /// Zeek history letters in order, with the direction that produced them.
    pub history: Vec<(char, Direction)>,
    /// Recorded for `--follow`: (direction, time, offset, bytes or gap length).
    pub follow: Option<Vec<FollowChunk>>,
    pub follow_bytes: usize,
    pub finished: bool,
    /// Where the client's and the server's counters are in the analyzer's host table.
    pub host_slots: [usize; 2],
}

/// One piece of a followed conversation.
#[derive(Debug, Clone)]
pub struct FollowChunk {
    pub direction: Direction,
    pub t: f64,
    pub offset: u64,
    pub data: Vec<u8>,
    /// Bytes missing before this chunk (a hole in the capture).
    pub gap: u64,
}

/// Most bytes kept for `--follow`.
pub const MAX_FOLLOW_BYTES: usize = 64 * 1024 * 1024;

impl Conv {
    pub fn new(
        id: u32,
        udp: bool,
        client: SocketAddr,
        server: SocketAddr,
        t: f64,
        ns: i64,
        session: Session,
    ) -> Conv {
        Conv {
            id,
            udp,
            client,
            server,
            first: t,
            last: t,
            first_ns: ns,
            dirs: [DirState::default(), DirState::default()],
            session,
            messages: Messages::default(),
            notes: Vec::new(),
            history: Vec::new(),
            follow: None,
            follow_bytes: 0,
            finished: false,
            host_slots: [0; 2],
        }
    }

    pub fn direction_of(&self, src: SocketAddr) -> Direction {
        if src == self.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }

    /// The host table places of (sender, receiver) of a packet from `src`.
    pub fn host_slots_from(&self, src: IpAddr) -> (usize, usize) {
        let [client, server] = self.host_slots;
        if src == self.client.ip() {
            (client, server)
        } else {
            (server, client)
        }
    }

    /// Note a Zeek history letter the first time it happens in a direction.
    pub fn mark(&mut self, letter: char, dir: Direction) {
        if !self.history.iter().any(|&(l, d)| l == letter && d == dir) {
            self.history.push((letter, dir));
        }
    }

    /// Open the stream files of both directions in `dir` (tcpflow's names).
    pub fn open_stream_files(&mut self, dir: &Path, used: &mut std::collections::HashSet<String>) {
        for d in DIRS {
            let (src, dst) = match d {
                Direction::ClientToServer => (self.client, self.server),
                Direction::ServerToClient => (self.server, self.client),
            };
            // tcpflow names a reused 4-tuple's later connections with a `c<N>` suffix.
            let base = tcpflow_name(src, dst);
            let mut name = base.clone();
            let mut n = 1;
            while used.contains(&name) {
                name = format!("{base}c{n}");
                n += 1;
            }
            used.insert(name.clone());
            self.dirs[di(d)].stream_path = Some(dir.join(name));
        }
    }

    /// The connection is over: flush and close its stream files (they are reopened if a late segment
    /// still brings bytes), so a capture of thousands of connections never holds thousands of files.
    pub fn close_stream_files(&mut self) {
        for d in &mut self.dirs {
            if let Some(mut f) = d.stream_file.take() {
                if let Err(e) = f.flush() {
                    d.stream_error = Some(e.to_string());
                }
            }
        }
    }

    /// Deliver reassembled bytes of `dir` to the dissector, the stream file and the follow record.
    pub fn deliver(&mut self, dir: Direction, t: f64, offset: u64, bytes: &[u8], max_messages: usize) {
        let d = &mut self.dirs[di(dir)];
        write_stream(d, offset, bytes);
        if let Some(f) = self.follow.as_mut() {
            if self.follow_bytes + bytes.len() <= MAX_FOLLOW_BYTES {
                self.follow_bytes += bytes.len();
                f.push(FollowChunk {
                    direction: dir,
                    t,
                    offset,
                    data: bytes.to_vec(),
                    gap: 0,
                });
            }
        }
        self.messages.limit = max_messages;
        self.session.data(dir, t, offset, bytes, &mut self.messages);
    }

    /// A hole of `len` bytes at `offset` in `dir`.
    pub fn gap(&mut self, dir: Direction, t: f64, offset: u64, len: u64, max_messages: usize) {
        self.mark('G', dir);
        let d = &mut self.dirs[di(dir)];
        // tcpflow leaves the hole in place (a sparse region reading as zeros): the bytes after it keep
        // their stream offsets, which `write_stream` seeks to.
        let _ = d;
        if let Some(f) = self.follow.as_mut() {
            f.push(FollowChunk {
                direction: dir,
                t,
                offset,
                data: Vec::new(),
                gap: len,
            });
        }
        self.messages.limit = max_messages;
        self.session.gap(dir, &mut self.messages);
    }

    /// This direction ended (FIN with nothing missing before it).
    pub fn end(&mut self, dir: Direction, t: f64, max_messages: usize) {
        if self.dirs[di(dir)].ended {
            return;
        }
        self.dirs[di(dir)].ended = true;
        self.messages.limit = max_messages;
        self.session.end(dir, t, &mut self.messages);
    }

    /// The end of the capture (or the connection was closed): flush everything.
    pub fn finish(&mut self, t_end: f64, max_messages: usize) {
        if self.finished {
            return;
        }
        self.finished = true;
        for dir in DIRS {
            let mut chunks = Vec::new();
            self.dirs[di(dir)].reasm.finish(&mut |c| chunks.push(owned(c)));
            let t = self.last;
            for c in chunks {
                match c {
                    Owned::Data(off, b) => self.deliver(dir, t, off, &b, max_messages),
                    Owned::Gap(off, len) => self.gap(dir, t, off, len, max_messages),
                }
            }
            if self.dirs[di(dir)].fin.is_some() {
                let t = self.dirs[di(dir)].fin.unwrap_or(t_end);
                self.end(dir, t, max_messages);
            }
        }
        let mut notes = Vec::new();
        self.messages.limit = max_messages;
        self.session.finish(
            self.last.max(t_end.min(self.last)),
            &mut self.messages,
            &mut notes,
        );
        self.notes.extend(notes);
        for d in &mut self.dirs {
            if let Some(f) = d.stream_file.as_mut() {
                let _ = f.flush();
            }
            d.stream_file = None;
        }
    }

    /// How the connection opened and closed.
    pub fn lifecycle(&self) -> (Opening, Closing, Option<Side>, Option<Side>, String) {
        let c = &self.dirs[0];
        let s = &self.dirs[1];
        let side = |i: usize| if i == 0 { Side::Client } else { Side::Server };
        let opened = if c.syn.is_some() && s.synack.is_some() {
            if c.ack_after_synack {
                Opening::Handshake
            } else {
                Opening::HandshakeIncomplete
            }
        } else if c.syn.is_some() && s.rst.is_some() {
            Opening::Refused
        } else if c.syn.is_some() {
            Opening::Unanswered
        } else if s.synack.is_some() {
            Opening::HandshakeIncomplete
        } else {
            Opening::MidStream
        };
        let first_fin_by = match (c.fin, s.fin) {
            (Some(a), Some(b)) => Some(if a <= b { side(0) } else { side(1) }),
            (Some(_), None) => Some(side(0)),
            (None, Some(_)) => Some(side(1)),
            _ => None,
        };
        let reset_by = match (c.rst, s.rst) {
            (Some(a), Some(b)) => Some(if a <= b { side(0) } else { side(1) }),
            (Some(_), None) => Some(side(0)),
            (None, Some(_)) => Some(side(1)),
            _ => None,
        };
        let closed = if opened == Opening::Refused {
            Closing::Refused
        } else if reset_by.is_some() {
            Closing::Reset
        } else if c.fin.is_some() && s.fin.is_some() {
            Closing::Fin
        } else if first_fin_by.is_some() {
            Closing::HalfClosed
        } else {
            Closing::StillOpen
        };
        let zeek = self.zeek_state(opened);
        (opened, closed, first_fin_by, reset_by, zeek)
    }

    /// Zeek's conn_state (see Zeek's `conn.log` documentation for the table).
    fn zeek_state(&self, opened: Opening) -> String {
        let (o, r) = (&self.dirs[0], &self.dirs[1]);
        let s = if o.syn.is_some() && r.synack.is_none() {
            if r.rst.is_some() {
                "REJ"
            } else if o.rst.is_some() {
                "RSTOS0"
            } else if o.fin.is_some() {
                "SH"
            } else {
                "S0"
            }
        } else if o.syn.is_none() && r.synack.is_some() {
            if r.rst.is_some() {
                "RSTRH"
            } else if r.fin.is_some() {
                "SHR"
            } else {
                "OTH"
            }
        } else if opened == Opening::MidStream {
            "OTH"
        } else {
            match (o.rst.or(None), r.rst, o.fin, r.fin) {
                (Some(a), Some(b), _, _) => {
                    if a <= b {
                        "RSTO"
                    } else {
                        "RSTR"
                    }
                }
                (Some(_), None, _, _) => "RSTO",
                (None, Some(_), _, _) => "RSTR",
                (None, None, Some(_), Some(_)) => "SF",
                (None, None, Some(_), None) => "S2",
                (None, None, None, Some(_)) => "S3",
                _ => "S1",
            }
        };
        s.to_string()
    }

    /// Zeek's history string.
    pub fn zeek_history(&self) -> String {
        self.history
            .iter()
            .map(|&(l, d)| match d {
                Direction::ClientToServer => l.to_ascii_uppercase(),
                Direction::ServerToClient => l.to_ascii_lowercase(),
            })
            .collect()
    }

    /// Record what a segment's classification means.
    pub fn classify(&mut self, dir: Direction, kind: SegmentKind, t: f64) {
        let d = &mut self.dirs[di(dir)];
        match kind {
            SegmentKind::Retransmission => {
                d.first_retrans.get_or_insert(t);
                self.mark('T', dir);
            }
            SegmentKind::OutOfOrder => {
                d.first_ooo.get_or_insert(t);
            }
            SegmentKind::Overlap => {
                d.first_overlap.get_or_insert(t);
                self.mark('T', dir);
            }
            _ => {}
        }
    }
}

fn write_stream(d: &mut DirState, offset: u64, bytes: &[u8]) {
    if d.stream_file.is_none() && d.stream_error.is_none() {
        if let Some(path) = d.stream_path.as_ref() {
            // Created (truncated) at the first byte; reopened without truncating after a close.
            let opened = if d.stream_created {
                std::fs::OpenOptions::new().write(true).open(path)
            } else {
                File::create(path)
            };
            match opened {
                Ok(f) => {
                    d.stream_file = Some(BufWriter::new(f));
                    d.stream_created = true;
                    d.stream_pos = u64::MAX;
                }
                Err(e) => d.stream_error = Some(format!("{}: {e}", path.display())),
            }
        }
    }
    if let Some(f) = d.stream_file.as_mut() {
        // Seek only across a hole (or after reopening): a seek flushes the buffer.
        let ok = if d.stream_pos == offset {
            f.write_all(bytes)
        } else {
            f.seek(SeekFrom::Start(offset)).and_then(|_| f.write_all(bytes))
        };
        d.stream_pos = offset + bytes.len() as u64;
        if let Err(e) = ok {
            d.stream_error = Some(e.to_string());
            d.stream_file = None;
        }
    }
}

/// tcpflow's file name for one direction: `172.018.000.003.40792-172.018.000.002.02222`.
pub fn tcpflow_name(src: SocketAddr, dst: SocketAddr) -> String {
    fn part(a: SocketAddr) -> String {
        match a.ip() {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{:03}.{:03}.{:03}.{:03}.{:05}", o[0], o[1], o[2], o[3], a.port())
            }
            IpAddr::V6(v6) => {
                let s: Vec<String> = v6.segments().iter().map(|s| format!("{s:04x}")).collect();
                format!("{}.{:05}", s.join(":"), a.port())
            }
        }
    }
    format!("{}-{}", part(src), part(dst))
}

pub enum Owned {
    Data(u64, Vec<u8>),
    Gap(u64, u64),
}

pub fn owned(c: crate::reassembly::Chunk<'_>) -> Owned {
    match c {
        crate::reassembly::Chunk::Data { offset, bytes } => Owned::Data(offset, bytes.to_vec()),
        crate::reassembly::Chunk::Gap { offset, len } => Owned::Gap(offset, len),
    }
}

/// Messages per conversation grouped for activity lines.
pub type Groups = BTreeMap<(String, String), Vec<(u32, IpAddr, SocketAddr)>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcpflow_names() {
        let a: SocketAddr = "172.18.0.3:40792".parse().unwrap();
        let b: SocketAddr = "172.18.0.2:2222".parse().unwrap();
        assert_eq!(tcpflow_name(a, b), "172.018.000.003.40792-172.018.000.002.02222");
    }
}
