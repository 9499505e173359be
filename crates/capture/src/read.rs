//! Reading capture files: classic pcap and pcapng, streaming, with bounded memory.
//!
//! ```no_run
//! let mut reader = capture::read::Reader::open("mqtt.pcap")?;
//! while let Some(packet) = reader.next_packet()? {
//!     println!("{} {} bytes on {}", packet.ts, packet.data.len(), packet.linktype);
//! }
//! # Ok::<(), capture::read::ReadError>(())
//! ```
//!
//! # The two formats
//! - **pcap** (libpcap's classic format, what `tcpdump -w` writes): a 24-byte file header (magic,
//!   version, snaplen, link type), then per packet a 16-byte record header (seconds, micro- or
//!   nanoseconds, captured length, original length) and the bytes. The magic number says both the byte
//!   order of the writer (`a1b2c3d4` read as-is or swapped) and the time unit (`a1b23c4d`: nanoseconds).
//! - **pcapng** (Wireshark's default, draft-ietf-opsawg-pcapng): a list of *blocks*, each
//!   `type | total length | body | total length`. A Section Header Block (SHB) starts each section and
//!   fixes its byte order; Interface Description Blocks (IDB) declare interfaces (link type, snaplen, and
//!   the timestamp unit `if_tsresol`); packets come in Enhanced Packet Blocks (EPB: interface, 64-bit
//!   timestamp), Simple Packet Blocks (SPB: interface 0, no timestamp) or the obsolete Packet Block (PB).
//!   Every other block (name resolution, statistics, decryption secrets, custom) is skipped and counted.
//!
//! # Why by hand and not `pcap-parser`
//! ARCHITECTURE.md planned `pcap-parser`; its 0.16 release does not read the obsolete Packet Block,
//! turns pcapng timestamps into 32-bit seconds, and its streaming buffer fails on blocks larger than the
//! buffer. The formats are small (this file), and the analyzer needs exact errors: which record, at which
//! byte offset, was cut or absurd. Memory stays bounded: one reusable buffer holds the current block,
//! and a block longer than [`MAX_BLOCK`] is refused as absurd instead of allocated.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::packet::{LinkType, Packet, Timestamp};

/// The largest block or record sister accepts (64 MiB). Real frames are at most 256 KiB (libpcap's
/// largest snaplen); anything beyond this is a corrupt length field, not a packet.
pub const MAX_BLOCK: usize = 64 * 1024 * 1024;

/// Why a capture file cannot be read (further).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the capture: {0}")]
    Io(#[from] io::Error),
    #[error(
        "not a pcap or pcapng file (it starts with {0:02x?}); sister reads what tcpdump -w, dumpcap and \
         Wireshark write"
    )]
    NotACapture(Vec<u8>),
    #[error("the file is empty")]
    Empty,
    #[error("the file ends in the middle of {what} at byte {offset} (the capture was cut short, perhaps still being written)")]
    Truncated { what: &'static str, offset: u64 },
    #[error("{what} at byte {offset} is corrupt: {reason}")]
    Invalid {
        what: &'static str,
        offset: u64,
        reason: String,
    },
}

impl ReadError {
    /// True when the file was readable up to this point and simply ends early: what was read so far is
    /// still worth a (partial) report.
    pub fn is_truncation(&self) -> bool {
        matches!(self, ReadError::Truncated { .. })
    }
}

/// Which of the two formats a file is, and its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap.
    Pcap {
        big_endian: bool,
        nanosecond: bool,
        version: (u16, u16),
    },
    /// pcapng (the byte order of the *first* section).
    PcapNg { big_endian: bool },
}

impl Format {
    /// A short name: `pcap`, `pcap (ns)`, `pcapng`.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Pcap {
                nanosecond: false, ..
            } => "pcap",
            Format::Pcap { nanosecond: true, .. } => "pcap (nanosecond)",
            Format::PcapNg { .. } => "pcapng",
        }
    }
}

/// One capture interface: pcap files have exactly one, pcapng files any number per section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub linktype: LinkType,
    pub snaplen: u32,
    /// The interface's name (`if_name`), when the file says it.
    pub name: Option<String>,
    /// Timestamp units per second (pcap: 1e6 or 1e9; pcapng: `if_tsresol`, default 1e6).
    pub units_per_sec: u64,
    /// Seconds added to every timestamp (pcapng `if_tsoffset`).
    pub offset_secs: i64,
}

// Block types of pcapng (draft-ietf-opsawg-pcapng §4 and appendix).
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const PB_OBSOLETE: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// A streaming reader over pcap or pcapng.
///
/// Memory use is one buffer as large as the largest block read so far (bounded by [`MAX_BLOCK`]) plus the
/// interface table and the input's own buffer ([`ReadAhead`]: 4 MiB at most); the file is never loaded
/// whole. A classic pcap record that lies whole in the input's buffer is lent from there, not copied.
pub struct Reader<R: BufRead> {
    input: R,
    format: Format,
    /// The current section's byte order (pcapng) or the file's (pcap).
    big_endian: bool,
    interfaces: Vec<Interface>,
    buf: Vec<u8>,
    /// Bytes consumed from the start of the file (for error messages).
    offset: u64,
    skipped_blocks: u64,
    packets: u64,
    /// A pcapng SHB already read while looking for the format (the first block is consumed in `new`).
    done: bool,
    /// Bytes of the input's buffer the last packet was lent (consumed when the next one is read).
    lent: usize,
}

impl Reader<ReadAhead> {
    /// Open a file (read ahead by a helper thread, see [`ReadAhead`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let file = File::open(path)
            .map_err(|e| ReadError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
        Reader::new(ReadAhead::new(file))
    }
}

/// How much [`ReadAhead`] reads at a time, and how many such blocks may wait to be consumed.
const READ_AHEAD_BLOCK: usize = 1 << 20;
const READ_AHEAD_BLOCKS: usize = 4;

/// A file read by a helper thread, a block ahead of its reader: the system calls and the kernel's copy
/// of the bytes (a tenth of the analyzer's time on a large capture) run on another core while this one
/// decodes. At most [`READ_AHEAD_BLOCKS`] blocks of [`READ_AHEAD_BLOCK`] bytes wait at a time, so memory
/// stays bounded however large the file; empty blocks go back to the thread to be filled again.
/// Dropping it stops the thread (its next send fails).
pub struct ReadAhead {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl ReadAhead {
    pub fn new(mut input: impl Read + Send + 'static) -> ReadAhead {
        let (full_tx, full) = sync_channel(READ_AHEAD_BLOCKS);
        let (empty, empty_rx) = sync_channel::<Vec<u8>>(READ_AHEAD_BLOCKS + 1);
        std::thread::spawn(move || loop {
            let mut block = empty_rx.try_recv().unwrap_or_default();
            block.resize(READ_AHEAD_BLOCK, 0);
            let mut got = 0;
            let result = loop {
                match input.read(&mut block[got..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        got += n;
                        if got == block.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            block.truncate(got);
            let last = got == 0 || result.is_err();
            // A block read before an error is handed on first; the error comes next.
            if got > 0 && full_tx.send(Ok(block)).is_err() {
                return;
            }
            if let Err(e) = result {
                let _ = full_tx.send(Err(e));
            }
            if last {
                return;
            }
        });
        ReadAhead {
            full,
            empty,
            block: Vec::new(),
            pos: 0,
            ended: false,
        }
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.block.len() && !self.ended {
            match self.full.recv() {
                Ok(Ok(next)) => {
                    let done = std::mem::replace(&mut self.block, next);
                    let _ = self.empty.try_send(done);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                // The thread is done: the end of the file.
                Err(_) => self.ended = true,
            }
        }
        Ok(&self.block[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.block.len());
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = out.len().min(available.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    let x = [b[at], b[at + 1]];
    if be {
        u16::from_be_bytes(x)
    } else {
        u16::from_le_bytes(x)
    }
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    }
}

/// Read exactly `buf.len()` bytes; `Ok(false)` if the input ended before the first byte, `Truncated` if
/// it ended in the middle.
fn read_full(
    input: &mut impl Read,
    buf: &mut [u8],
    what: &'static str,
    offset: u64,
) -> Result<bool, ReadError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(ReadError::Truncated { what, offset }),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(true)
}

impl<R: BufRead> Reader<R> {
    /// Start reading: the first bytes say which format it is.
    pub fn new(mut input: R) -> Result<Self, ReadError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match input.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if got == 0 {
            return Err(ReadError::Empty);
        }
        if got < 4 {
            return Err(ReadError::NotACapture(magic[..got].to_vec()));
        }
        let mut reader = Reader {
            input,
            format: Format::PcapNg { big_endian: false },
            big_endian: false,
            interfaces: Vec::new(),
            buf: Vec::new(),
            offset: 4,
            skipped_blocks: 0,
            packets: 0,
            done: false,
            lent: 0,
        };
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                reader.read_section_header()?;
                reader.format = Format::PcapNg {
                    big_endian: reader.big_endian,
                };
            }
            _ => {
                let (big_endian, nanosecond) = match u32::from_le_bytes(magic) {
                    0xa1b2_c3d4 => (false, false),
                    0xa1b2_3c4d => (false, true),
                    _ => match u32::from_be_bytes(magic) {
                        0xa1b2_c3d4 => (true, false),
                        0xa1b2_3c4d => (true, true),
                        _ => return Err(ReadError::NotACapture(magic.to_vec())),
                    },
                };
                let mut header = [0u8; 20];
                if !read_full(&mut reader.input, &mut header, "the pcap file header", 4)? {
                    return Err(ReadError::Truncated {
                        what: "the pcap file header",
                        offset: 4,
                    });
                }
                reader.offset = 24;
                let be = big_endian;
                let version = (u16_at(&header, 0, be), u16_at(&header, 2, be));
                let snaplen = u32_at(&header, 12, be);
                // The link type is the low 16 bits; the upper bits hold the FCS length flags
                // (pcap spec, "LinkType and additional information").
                let linktype = LinkType((u32_at(&header, 16, be) & 0xffff) as u16);
                reader.big_endian = be;
                reader.format = Format::Pcap {
                    big_endian,
                    nanosecond,
                    version,
                };
                reader.interfaces.push(Interface {
                    linktype,
                    snaplen,
                    name: None,
                    units_per_sec: if nanosecond { 1_000_000_000 } else { 1_000_000 },
                    offset_secs: 0,
                });
            }
        }
        Ok(reader)
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The interfaces declared so far (pcapng declares them as it goes).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// pcapng blocks skipped because they carry no packets (statistics, name resolution...).
    pub fn skipped_blocks(&self) -> u64 {
        self.skipped_blocks
    }

    /// Packets returned so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Bytes of the file consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next packet, `Ok(None)` at the end of the file. After an error the reader is finished.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, ReadError> {
        if self.done {
            return Ok(None);
        }
        self.input.consume(std::mem::take(&mut self.lent));
        let result = match self.format {
            Format::Pcap { .. } => self.next_pcap(),
            Format::PcapNg { .. } => self.next_pcapng(),
        };
        match result {
            Ok(Some((ts, linktype, range, orig_len, interface))) => {
                self.packets += 1;
                let data = if self.lent > 0 {
                    // Still the same buffer `lend` looked at: nothing is read here.
                    &self.input.fill_buf()?[range]
                } else {
                    &self.buf[range]
                };
                Ok(Some(Packet {
                    ts,
                    linktype,
                    data,
                    orig_len,
                    interface,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// Fill `self.buf` with `len` bytes of input.
    fn fill(&mut self, len: usize, what: &'static str) -> Result<(), ReadError> {
        self.buf.clear();
        self.buf.resize(len, 0);
        let offset = self.offset;
        if len > 0 && !read_full(&mut self.input, &mut self.buf, what, offset)? {
            return Err(ReadError::Truncated { what, offset });
        }
        self.offset += len as u64;
        Ok(())
    }

    /// Like [`Self::fill`], but when the input's buffer already holds the `len` bytes (the usual case:
    /// [`ReadAhead`] holds 1 MiB), lend them instead of copying: `self.lent` says how many, and they are
    /// consumed when the next packet is read. Returns the range of the bytes in whichever buffer.
    fn fill_or_lend(&mut self, len: usize, what: &'static str) -> Result<std::ops::Range<usize>, ReadError> {
        if len > 0 && self.input.fill_buf()?.len() >= len {
            self.lent = len;
            self.offset += len as u64;
        } else {
            self.fill(len, what)?;
        }
        Ok(0..len)
    }

    #[allow(clippy::type_complexity)]
    fn next_pcap(
        &mut self,
    ) -> Result<Option<(Timestamp, LinkType, std::ops::Range<usize>, u32, u32)>, ReadError> {
        let mut header = [0u8; 16];
        let at = self.offset;
        if !read_full(&mut self.input, &mut header, "a packet record header", at)? {
            return Ok(None);
        }
        self.offset += 16;
        let be = self.big_endian;
        let secs = u32_at(&header, 0, be);
        let frac = u32_at(&header, 4, be);
        let caplen = u32_at(&header, 8, be);
        let orig_len = u32_at(&header, 12, be);
        let iface = &self.interfaces[0];
        if caplen as usize > MAX_BLOCK {
            return Err(ReadError::Invalid {
                what: "a packet record",
                offset: at,
                reason: format!("it claims {caplen} captured bytes (more than any real frame)"),
            });
        }
        let ts = if iface.units_per_sec == 1_000_000_000 {
            Timestamp::from_parts(i64::from(secs), frac.min(999_999_999))
        } else {
            Timestamp::from_parts(i64::from(secs), frac.min(999_999).saturating_mul(1000))
        };
        let linktype = iface.linktype;
        let range = self.fill_or_lend(caplen as usize, "a packet's bytes")?;
        Ok(Some((ts, linktype, range, orig_len, 0)))
    }

    /// Read the rest of a Section Header Block (its type was already consumed).
    fn read_section_header(&mut self) -> Result<(), ReadError> {
        let at = self.offset - 4;
        let mut head = [0u8; 8];
        if !read_full(&mut self.input, &mut head, "a section header block", self.offset)? {
            return Err(ReadError::Truncated {
                what: "a section header block",
                offset: at,
            });
        }
        self.offset += 8;
        // The byte-order magic, written in the writer's order, tells how to read everything else,
        // including this block's own length (draft-ietf-opsawg-pcapng §4.1).
        let big_endian = match u32::from_le_bytes([head[4], head[5], head[6], head[7]]) {
            BYTE_ORDER_MAGIC => false,
            _ if u32::from_be_bytes([head[4], head[5], head[6], head[7]]) == BYTE_ORDER_MAGIC => true,
            _ => {
                return Err(ReadError::Invalid {
                    what: "a section header block",
                    offset: at,
                    reason: "its byte-order magic is not 1a2b3c4d".into(),
                })
            }
        };
        let total = u32_at(&head, 0, big_endian) as usize;
        if !(28..=MAX_BLOCK).contains(&total) || total % 4 != 0 {
            return Err(ReadError::Invalid {
                what: "a section header block",
                offset: at,
                reason: format!("its length {total} is impossible"),
            });
        }
        self.big_endian = big_endian;
        self.interfaces.clear(); // interface ids are per section
        self.fill(total - 12, "a section header block")?;
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn next_pcapng(
        &mut self,
    ) -> Result<Option<(Timestamp, LinkType, std::ops::Range<usize>, u32, u32)>, ReadError> {
        loop {
            let at = self.offset;
            let mut head = [0u8; 4];
            if !read_full(&mut self.input, &mut head, "a block header", at)? {
                return Ok(None);
            }
            self.offset += 4;
            // The SHB type reads the same in both byte orders (0a 0d 0d 0a), so a new section is
            // recognised before its byte order is known.
            if u32::from_be_bytes(head) == SHB {
                self.read_section_header()?;
                continue;
            }
            let be = self.big_endian;
            let block_type = u32_at(&head, 0, be);
            let mut len = [0u8; 4];
            if !read_full(&mut self.input, &mut len, "a block header", self.offset)? {
                return Err(ReadError::Truncated {
                    what: "a block header",
                    offset: at,
                });
            }
            self.offset += 4;
            let total = u32_at(&len, 0, be) as usize;
            if !(12..=MAX_BLOCK).contains(&total) || total % 4 != 0 {
                return Err(ReadError::Invalid {
                    what: "a pcapng block",
                    offset: at,
                    reason: format!("its length {total} is impossible (block type 0x{block_type:08x})"),
                });
            }
            // Body plus the trailing copy of the length.
            self.fill(total - 8, "a pcapng block")?;
            let body_len = total - 12;
            let trailer = u32_at(&self.buf, body_len, be) as usize;
            if trailer != total {
                return Err(ReadError::Invalid {
                    what: "a pcapng block",
                    offset: at,
                    reason: format!("its leading length {total} and trailing length {trailer} differ"),
                });
            }
            let bad = |reason: &str| ReadError::Invalid {
                what: "a pcapng block",
                offset: at,
                reason: reason.to_string(),
            };
            match block_type {
                IDB => {
                    if body_len < 8 {
                        return Err(bad("interface description block shorter than 8 bytes"));
                    }
                    let linktype = LinkType(u16_at(&self.buf, 0, be));
                    let snaplen = u32_at(&self.buf, 4, be);
                    let mut iface = Interface {
                        linktype,
                        snaplen,
                        name: None,
                        units_per_sec: 1_000_000,
                        offset_secs: 0,
                    };
                    for (code, value) in options(&self.buf[8..body_len], be) {
                        match code {
                            // if_name
                            2 => iface.name = Some(String::from_utf8_lossy(value).into_owned()),
                            // if_tsresol: bit 7 clear = 10^-n s, set = 2^-n s (§4.2)
                            9 if !value.is_empty() => {
                                let v = value[0];
                                let exp = u32::from(v & 0x7f);
                                let units = if v & 0x80 == 0 {
                                    10u64.checked_pow(exp)
                                } else {
                                    1u64.checked_shl(exp)
                                };
                                iface.units_per_sec = units
                                    .filter(|&u| u > 0)
                                    .ok_or_else(|| bad("if_tsresol out of range"))?;
                            }
                            // if_tsoffset: seconds added to every timestamp
                            14 if value.len() >= 8 => {
                                let b: [u8; 8] = [
                                    value[0], value[1], value[2], value[3], value[4], value[5], value[6],
                                    value[7],
                                ];
                                iface.offset_secs = if be {
                                    i64::from_be_bytes(b)
                                } else {
                                    i64::from_le_bytes(b)
                                };
                            }
                            _ => {}
                        }
                    }
                    self.interfaces.push(iface);
                }
                EPB | PB_OBSOLETE => {
                    if body_len < 20 {
                        return Err(bad("packet block shorter than its 20-byte header"));
                    }
                    let interface = if block_type == EPB {
                        u32_at(&self.buf, 0, be)
                    } else {
                        // Obsolete Packet Block: 16-bit interface id, 16-bit drops count.
                        u32::from(u16_at(&self.buf, 0, be))
                    };
                    let ts_high = u64::from(u32_at(&self.buf, 4, be));
                    let ts_low = u64::from(u32_at(&self.buf, 8, be));
                    let caplen = u32_at(&self.buf, 12, be) as usize;
                    let orig_len = u32_at(&self.buf, 16, be);
                    if caplen > body_len - 20 {
                        return Err(bad(&format!(
                            "packet claims {caplen} captured bytes but the block holds {}",
                            body_len - 20
                        )));
                    }
                    let Some(iface) = self.interfaces.get(interface as usize) else {
                        return Err(bad(&format!(
                            "packet on interface {interface}, but only {} interfaces were described",
                            self.interfaces.len()
                        )));
                    };
                    let ts =
                        units_to_timestamp((ts_high << 32) | ts_low, iface.units_per_sec, iface.offset_secs);
                    return Ok(Some((ts, iface.linktype, 20..20 + caplen, orig_len, interface)));
                }
                SPB => {
                    if body_len < 4 {
                        return Err(bad("simple packet block shorter than 4 bytes"));
                    }
                    let orig_len = u32_at(&self.buf, 0, be);
                    let Some(iface) = self.interfaces.first() else {
                        return Err(bad("simple packet block before any interface description"));
                    };
                    // An SPB has no caplen: it is the original length cut to the snaplen (§4.4).
                    let mut caplen = (orig_len as usize).min(body_len - 4);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    // No timestamp: it carries none. The epoch stands for "unknown".
                    return Ok(Some((Timestamp(0), iface.linktype, 4..4 + caplen, orig_len, 0)));
                }
                _ => self.skipped_blocks += 1,
            }
        }
    }
}

/// pcapng options: `code u16 | length u16 | value | padding to 4`, ending at code 0 or the end.
fn options(mut b: &[u8], be: bool) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let code = u16_at(b, 0, be);
        let len = u16_at(b, 2, be) as usize;
        if code == 0 {
            return None;
        }
        let value = b.get(4..4 + len)?;
        let padded = (4 + len + 3) & !3;
        b = b.get(padded..).unwrap_or(&[]);
        Some((code, value))
    })
}

/// `units` ticks of `1/units_per_sec` s after `offset_secs` → nanoseconds since the epoch, exactly
/// (128-bit arithmetic, saturating).
fn units_to_timestamp(units: u64, units_per_sec: u64, offset_secs: i64) -> Timestamp {
    let per = u128::from(units_per_sec.max(1));
    let secs = u128::from(units) / per;
    let frac = u128::from(units) % per;
    let nanos = (frac * 1_000_000_000 / per) as u32;
    let secs = i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .saturating_add(offset_secs);
    Timestamp::from_parts(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ahead_gives_the_bytes_in_order_then_the_error() {
        // Three and a half blocks, read back in odd-sized pieces.
        let data: Vec<u8> = (0..READ_AHEAD_BLOCK * 7 / 2).map(|i| (i % 251) as u8).collect();
        let mut r = ReadAhead::new(io::Cursor::new(data.clone()));
        let mut back = Vec::new();
        let mut piece = [0u8; 10_007];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&piece[..n]);
        }
        assert!(back == data, "{} bytes back of {}", back.len(), data.len());
        assert_eq!(r.read(&mut piece).unwrap(), 0, "the end stays the end");

        // An input that fails after some bytes: the bytes, then the error.
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = out.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut r = ReadAhead::new(Failing(100));
        let mut all = Vec::new();
        let e = r.read_to_end(&mut all).unwrap_err();
        assert_eq!((all.len(), e.to_string().as_str()), (100, "disk on fire"));
    }

    fn pcap_le(nano: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&(if nano { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4 }).to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        for (s, frac, data) in records {
            f.extend_from_slice(&s.to_le_bytes());
            f.extend_from_slice(&frac.to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32 + 10).to_le_bytes());
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn reads_pcap_micro_and_nano() {
        let f = pcap_le(false, &[(10, 5, b"abc"), (11, 0, b"")]);
        let mut r = Reader::new(&f[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.ts, p.data, p.orig_len),
            (Timestamp(10_000_005_000), &b"abc"[..], 13)
        );
        assert!(p.is_truncated());
        assert_eq!(r.next_packet().unwrap().unwrap().data, b"");
        assert!(r.next_packet().unwrap().is_none());

        let f = pcap_le(true, &[(10, 5, b"abc")]);
        let mut r = Reader::new(&f[..]).unwrap();
        assert_eq!(r.next_packet().unwrap().unwrap().ts, Timestamp(10_000_000_005));
    }

    #[test]
    fn reads_big_endian_pcap() {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
        f.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 101]);
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0x45]);
        let mut r = Reader::new(&f[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.linktype, p.ts, p.data),
            (LinkType::RAW, Timestamp(1_000_002_000), &[0x45u8][..])
        );
    }

    #[test]
    fn truncated_record_is_reported_with_its_offset() {
        let mut f = pcap_le(false, &[(1, 0, b"abcdef")]);
        f.truncate(f.len() - 2);
        let mut r = Reader::new(&f[..]).unwrap();
        let err = r.next_packet().unwrap_err();
        assert!(err.is_truncation(), "{err}");
        assert!(err.to_string().contains("byte 40"), "{err}");
    }

    #[test]
    fn packets_are_lent_from_the_input_buffer_or_copied_alike() {
        let records: Vec<(u32, u32, Vec<u8>)> = (0..50u32)
            .map(|i| (i, 0, (0..(i * 7) % 40).map(|b| b as u8 ^ i as u8).collect()))
            .collect();
        let refs: Vec<(u32, u32, &[u8])> = records.iter().map(|(s, u, d)| (*s, *u, &d[..])).collect();
        let f = pcap_le(false, &refs);
        fn read_all(mut r: Reader<impl BufRead>, len: usize) -> Vec<(Timestamp, Vec<u8>)> {
            let mut got = Vec::new();
            while let Some(p) = r.next_packet().unwrap() {
                got.push((p.ts, p.data.to_vec()));
            }
            assert_eq!(r.offset(), len as u64);
            got
        }
        // A slice lends every packet; a 13-byte buffer splits most records (copied), a 64-byte one
        // mixes both ways, and ReadAhead lends them from its blocks.
        let lent = read_all(Reader::new(&f[..]).unwrap(), f.len());
        assert_eq!(lent.len(), 50);
        for capacity in [13, 64] {
            let tiny = io::BufReader::with_capacity(capacity, &f[..]);
            let copied = read_all(Reader::new(tiny).unwrap(), f.len());
            assert!(copied == lent, "buffer of {capacity} bytes");
        }
        let ahead = ReadAhead::new(io::Cursor::new(f.clone()));
        let ahead = read_all(Reader::new(ahead).unwrap(), f.len());
        assert!(ahead == lent);
    }

    #[test]
    fn garbage_and_absurd_lengths_are_errors() {
        assert!(matches!(
            Reader::new(&b"hello world"[..]),
            Err(ReadError::NotACapture(_))
        ));
        assert!(matches!(Reader::new(&b""[..]), Err(ReadError::Empty)));
        let mut f = pcap_le(false, &[]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        let err = Reader::new(&f[..]).unwrap().next_packet().unwrap_err();
        assert!(err.to_string().contains("claims"), "{err}");
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let total = 12 + body.len().next_multiple_of(4);
        let mut b = Vec::new();
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&(total as u32).to_le_bytes());
        b.extend_from_slice(body);
        b.resize(total - 4, 0);
        b.extend_from_slice(&(total as u32).to_le_bytes());
        b
    }

    #[test]
    fn reads_pcapng_with_two_interfaces_and_tsresol() {
        let mut f = block(
            SHB,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        // interface 0: Ethernet, microseconds (default)
        f.extend(block(IDB, &[1, 0, 0, 0, 0, 0, 1, 0]));
        // interface 1: raw IP, nanoseconds (if_tsresol = 9), named "lo"
        f.extend(block(
            IDB,
            &[
                101, 0, 0, 0, 0, 0, 1, 0, 9, 0, 1, 0, 9, 0, 0, 0, 2, 0, 2, 0, b'l', b'o', 0, 0, 0, 0, 0, 0,
            ],
        ));
        // a statistics block, skipped
        f.extend(block(5, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        let epb = |iface: u32, ts: u64, data: &[u8]| {
            let mut b = Vec::new();
            b.extend_from_slice(&iface.to_le_bytes());
            b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            b.extend_from_slice(&(ts as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(data);
            block(EPB, &b)
        };
        f.extend(epb(0, 1_500_000, b"eth"));
        f.extend(epb(1, 1_500_000_001, b"ip"));
        f.extend(block(SPB, &[2, 0, 0, 0, b'x', b'y']));
        let mut r = Reader::new(&f[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.interface, p.linktype, p.ts, p.data),
            (0, LinkType::ETHERNET, Timestamp(1_500_000_000), &b"eth"[..])
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.interface, p.linktype, p.ts, p.data),
            (1, LinkType::RAW, Timestamp(1_500_000_001), &b"ip"[..])
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.data, b"xy");
        assert!(r.next_packet().unwrap().is_none());
        assert_eq!(r.skipped_blocks(), 1);
        assert_eq!(r.interfaces()[1].name.as_deref(), Some("lo"));
    }

    #[test]
    fn power_of_two_resolution() {
        assert_eq!(units_to_timestamp(3 << 20, 1 << 20, 0), Timestamp(3_000_000_000));
        assert_eq!(units_to_timestamp(1, 1 << 1, 5), Timestamp(5_500_000_000));
    }
}
