//! A small pcap writer: the classic libpcap file format that tcpdump writes and every tool reads.
//!
//! The format (see the pcap spec, draft-ietf-opsawg-pcap, §4 and §5) is one 24-byte file header and then,
//! per packet, a 16-byte record header followed by the captured bytes:
//!
//! ```text
//! file header   magic u32 | major u16 = 2 | minor u16 = 4 | reserved u32 = 0 | reserved u32 = 0
//!               | snaplen u32 | linktype u32 (LINKTYPE_ETHERNET = 1, LINKTYPE_LINUX_SLL = 113, ...)
//! record header ts_sec u32 | ts_frac u32 (µs or ns) | caplen u32 | origlen u32
//! ```
//!
//! The magic number says two things at once: the byte order (a reader that sees `d4 c3 b2 a1` knows the
//! writer was little-endian) and the timestamp resolution (`a1 b2 c3 d4` = microseconds, `a1 b2 3c 4d` =
//! nanoseconds). We write in the machine's own byte order, as libpcap does.
//!
//! What to notice: `caplen` (bytes kept) can be smaller than `origlen` (bytes on the wire) when the
//! capture's snaplen cut the packet; a reader must never trust `caplen` beyond the file's snaplen.
//!
//! Why our own writer: it is forty lines, the analyzer's benchmark writes a gigabyte with it, and the
//! stable `pcap-file` release writes wrong pcapng timestamps (see ARCHITECTURE.md).

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::packet::Packet;

/// `LINKTYPE_ETHERNET`: frames start with a 14-byte Ethernet II header.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// `LINKTYPE_RAW`: frames start directly with an IPv4 or IPv6 header (tun devices).
pub const LINKTYPE_RAW: u32 = 101;
/// `LINKTYPE_LINUX_SLL`: Linux "cooked" capture header (16 bytes), as tcpdump writes for `-i any`.
pub const LINKTYPE_LINUX_SLL: u32 = 113;

/// The magic number of a microsecond-resolution pcap file.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// The magic number of a nanosecond-resolution pcap file.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// How precise the timestamps in the file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TsResolution {
    /// Microseconds: what tcpdump writes by default, and what every reader understands.
    #[default]
    Micros,
    /// Nanoseconds (`tcpdump --time-stamp-precision=nano`).
    Nanos,
}

/// Writes a pcap file: the header on creation, then one record per [`PcapWriter::write_packet`].
///
/// Give it a buffered writer (`BufWriter<File>`): a record is two `write_all` calls. Call
/// [`PcapWriter::finish`] at the end to flush; dropping the writer without it may lose the buffer's tail.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    resolution: TsResolution,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header and return the writer.
    pub fn new(mut out: W, linktype: u32, snaplen: u32, resolution: TsResolution) -> io::Result<Self> {
        let magic = match resolution {
            TsResolution::Micros => MAGIC_MICROS,
            TsResolution::Nanos => MAGIC_NANOS,
        };
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&magic.to_ne_bytes());
        header[4..6].copy_from_slice(&2u16.to_ne_bytes()); // version 2.4, unchanged since 1998
        header[6..8].copy_from_slice(&4u16.to_ne_bytes());
        // bytes 8..16: "thiszone" and "sigfigs", both always 0 in practice (reserved in the spec)
        header[16..20].copy_from_slice(&snaplen.to_ne_bytes());
        header[20..24].copy_from_slice(&linktype.to_ne_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            snaplen,
            resolution,
            packets: 0,
        })
    }

    /// Append one packet captured at `ts` (time since the Unix epoch). `orig_len` is its length on the
    /// wire; `data` is what was captured, cut to the snaplen here if longer.
    pub fn write_packet(&mut self, ts: Duration, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let caplen = data.len().min(self.snaplen as usize);
        let frac = match self.resolution {
            TsResolution::Micros => ts.subsec_micros(),
            TsResolution::Nanos => ts.subsec_nanos(),
        };
        // The seconds field is 32 bits (unsigned in today's readers): good until 2106.
        let secs = ts.as_secs() as u32;
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&secs.to_ne_bytes());
        record[4..8].copy_from_slice(&frac.to_ne_bytes());
        record[8..12].copy_from_slice(&(caplen as u32).to_ne_bytes());
        record[12..16].copy_from_slice(&orig_len.max(caplen as u32).to_ne_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&data[..caplen])?;
        self.packets += 1;
        Ok(())
    }

    /// Append a captured [`Packet`] (its timestamp, original length and bytes).
    pub fn write(&mut self, p: &Packet<'_>) -> io::Result<()> {
        // pcap cannot store times before 1970; a negative timestamp becomes the epoch.
        let ts = Duration::new(
            p.ts.secs().max(0) as u64,
            if p.ts.secs() < 0 { 0 } else { p.ts.subsec_nanos() },
        );
        self.write_packet(ts, p.orig_len, p.data)
    }

    /// Append one packet stamped with the current time.
    pub fn write_now(&mut self, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.write_packet(now, orig_len, data)
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// How many packets were written.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flush everything buffered (safe to call at any time, e.g. periodically during a live capture).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and hand back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, 65535, TsResolution::Micros).unwrap();
        w.write_packet(Duration::new(1_700_000_000, 123_456_789), 60, &[0xaa; 4])
            .unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 4);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), MAGIC_MICROS);
        assert_eq!(u16::from_ne_bytes(bytes[4..6].try_into().unwrap()), 2);
        assert_eq!(u16::from_ne_bytes(bytes[6..8].try_into().unwrap()), 4);
        assert_eq!(u32::from_ne_bytes(bytes[16..20].try_into().unwrap()), 65535);
        assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 1);
        let rec = &bytes[24..40];
        assert_eq!(u32::from_ne_bytes(rec[0..4].try_into().unwrap()), 1_700_000_000);
        assert_eq!(u32::from_ne_bytes(rec[4..8].try_into().unwrap()), 123_456); // µs, truncated
        assert_eq!(u32::from_ne_bytes(rec[8..12].try_into().unwrap()), 4);
        assert_eq!(u32::from_ne_bytes(rec[12..16].try_into().unwrap()), 60);
        assert_eq!(&bytes[40..], &[0xaa; 4]);
    }

    #[test]
    fn nanosecond_magic_and_snaplen_cut() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_RAW, 8, TsResolution::Nanos).unwrap();
        w.write_packet(Duration::new(5, 123_456_789), 20, &[1; 20])
            .unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), MAGIC_NANOS);
        let rec = &bytes[24..40];
        assert_eq!(u32::from_ne_bytes(rec[4..8].try_into().unwrap()), 123_456_789);
        assert_eq!(
            u32::from_ne_bytes(rec[8..12].try_into().unwrap()),
            8,
            "caplen cut to snaplen"
        );
        assert_eq!(
            u32::from_ne_bytes(rec[12..16].try_into().unwrap()),
            20,
            "origlen kept"
        );
        assert_eq!(bytes.len(), 24 + 16 + 8);
    }

    /// The file must open in tshark, the reference reader (installed by .ci/run).
    #[test]
    fn tshark_reads_what_we_write() {
        // An Ethernet + IPv4 + UDP frame 10.0.0.1:1000 -> 10.0.0.2:2000 carrying "hi".
        let mut frame = Vec::new();
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let ip = [
            0x45, 0, 0, 30, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 10, 0, 0, b'h', b'i']);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut w = PcapWriter::new(file, LINKTYPE_ETHERNET, 262144, TsResolution::Nanos).unwrap();
        for i in 0..3 {
            w.write_packet(Duration::new(1_700_000_000 + i, 42), frame.len() as u32, &frame)
                .unwrap();
        }
        w.finish().unwrap();
        let out = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "udp.dstport",
                "-e",
                "frame.time_epoch",
            ])
            .output()
            .expect("tshark must be installed (.ci/run installs it)");
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("1\t2000\t1700000000.000000042"), "{text}");
    }
}
