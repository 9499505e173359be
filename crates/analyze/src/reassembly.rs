//! TCP reassembly for one direction of a connection: segments in, the byte stream out.
//!
//! TCP numbers every byte. The receiver (and an analyzer) rebuilds the stream by placing each segment's
//! bytes at `seq - ISN - 1`. A capture shows four ways this goes wrong, and this module tells them apart
//! as Wireshark does:
//! - **retransmission**: every byte of the segment was seen already (the sender timed out waiting for an
//!   ACK, or the capture saw the packet twice);
//! - **overlap**: part of the segment was seen already, part is new;
//! - **out of order**: the segment fills a hole left by a later segment that arrived first;
//! - **missing**: a hole nobody filled: those bytes never passed the capture point (or were sent before
//!   the capture started). The stream goes on after the hole and the hole is reported.
//!
//! Like smoltcp's `Assembler`, the state is the next expected offset plus the segments that arrived
//! ahead of it (keyed by offset). Memory is bounded: when more than [`MAX_PENDING`] bytes wait for a
//! hole to fill, the hole is declared missing and the stream moves on. Delivered bytes are not kept;
//! the caller (dissector, stream file) gets them as they become contiguous.

use std::collections::BTreeMap;

/// The most bytes held back waiting for a hole to fill, per direction.
pub const MAX_PENDING: usize = 4 * 1024 * 1024;

/// What the reassembler hands on, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Contiguous bytes at `offset` of the stream.
    Data { offset: u64, bytes: &'a [u8] },
    /// `len` bytes at `offset` that were never seen.
    Gap { offset: u64, len: u64 },
}

/// How one segment related to what was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// No payload.
    Empty,
    /// Exactly the next bytes.
    InOrder,
    /// All bytes seen already.
    Retransmission,
    /// Some bytes seen already.
    Overlap,
    /// Ahead of the next expected byte: a hole before it (for now).
    Ahead,
    /// Filled (part of) a hole: it arrived after a later segment.
    OutOfOrder,
}

/// Counters of one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub retransmissions: u64,
    pub overlaps: u64,
    pub out_of_order: u64,
    /// Holes that were never filled, and their total size.
    pub missing_segments: u64,
    pub missing_bytes: u64,
    /// Bytes handed on (each stream byte once).
    pub delivered: u64,
}

/// One direction's reassembler.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0 (ISN + 1, or the first seen seq when the capture started
    /// mid-stream).
    base: Option<u32>,
    /// Offset of the next expected byte.
    next: u64,
    /// Segments ahead of `next`, by offset (never overlapping each other).
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    pub stats: StreamStats,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// The SYN carries the initial sequence number: data starts at ISN + 1.
    pub fn syn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// True once the stream's origin is known.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// The stream offset of `seq` (may be negative: before the origin).
    fn offset_of(&self, seq: u32, base: u32) -> i64 {
        let expected = base.wrapping_add(self.next as u32);
        self.next as i64 + i64::from(seq.wrapping_sub(expected) as i32)
    }

    /// Where `seq` lands in the stream, for a FIN or a RST (None before the origin is known).
    pub fn offset(&self, seq: u32) -> Option<i64> {
        self.base.map(|b| self.offset_of(seq, b))
    }

    /// Bytes handed on so far (the offset of the next expected byte).
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Take one segment; hand on whatever became contiguous.
    pub fn segment(&mut self, seq: u32, data: &[u8], out: &mut dyn FnMut(Chunk<'_>)) -> SegmentKind {
        if data.is_empty() {
            return SegmentKind::Empty;
        }
        let base = *self.base.get_or_insert(seq);
        let start = self.offset_of(seq, base);
        let end = start + data.len() as i64;
        let next = self.next as i64;
        if end <= next {
            self.stats.retransmissions += 1;
            return SegmentKind::Retransmission;
        }
        if start > next {
            // A hole before it. Keep it (unless it repeats one already waiting).
            let start = start as u64;
            let kind = self.store(start, data);
            if self.pending_bytes > MAX_PENDING {
                self.skip_first_hole(out);
            }
            return kind;
        }
        // start <= next < end: new bytes from `next` on.
        let fresh = &data[(next - start) as usize..];
        let filled_hole = self.pending.keys().next().is_some();
        let kind = if start < next {
            self.stats.overlaps += 1;
            SegmentKind::Overlap
        } else if filled_hole {
            self.stats.out_of_order += 1;
            SegmentKind::OutOfOrder
        } else {
            SegmentKind::InOrder
        };
        self.deliver(fresh, out);
        self.drain(out);
        kind
    }

    fn store(&mut self, start: u64, data: &[u8]) -> SegmentKind {
        // Trim against segments already waiting, so pending never overlaps itself.
        let end = start + data.len() as u64;
        let mut pieces = vec![(start, end)];
        for (&s, d) in self.pending.range(..end) {
            let e = s + d.len() as u64;
            pieces = pieces
                .into_iter()
                .flat_map(|(a, b)| {
                    let mut v = Vec::new();
                    if a < s.min(b) {
                        v.push((a, s.min(b)));
                    }
                    if e.max(a) < b {
                        v.push((e.max(a), b));
                    }
                    v
                })
                .collect();
        }
        let new_bytes: u64 = pieces.iter().map(|(a, b)| b - a).sum();
        if new_bytes == 0 {
            self.stats.retransmissions += 1;
            return SegmentKind::Retransmission;
        }
        let partial = new_bytes < data.len() as u64;
        for (a, b) in pieces {
            let slice = &data[(a - start) as usize..(b - start) as usize];
            self.pending_bytes += slice.len();
            self.pending.insert(a, slice.to_vec());
        }
        if partial {
            self.stats.overlaps += 1;
            SegmentKind::Overlap
        } else {
            SegmentKind::Ahead
        }
    }

    fn deliver(&mut self, bytes: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        out(Chunk::Data {
            offset: self.next,
            bytes,
        });
        self.next += bytes.len() as u64;
        self.stats.delivered += bytes.len() as u64;
    }

    /// Hand on waiting segments that are now contiguous.
    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some((&s, _)) = self.pending.first_key_value() {
            if s > self.next {
                break;
            }
            let Some((s, d)) = self.pending.pop_first() else {
                break;
            };
            self.pending_bytes -= d.len();
            let e = s + d.len() as u64;
            if e > self.next {
                let fresh = &d[(self.next - s) as usize..];
                let fresh = fresh.to_vec();
                self.deliver(&fresh, out);
            }
        }
    }

    /// Declare the first hole missing and move past it.
    fn skip_first_hole(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((&s, _)) = self.pending.first_key_value() {
            if s > self.next {
                let len = s - self.next;
                out(Chunk::Gap {
                    offset: self.next,
                    len,
                });
                self.stats.missing_segments += 1;
                self.stats.missing_bytes += len;
                self.next = s;
            }
            self.drain(out);
        }
    }

    /// The end of the capture (or of the connection): every hole left is missing; hand on the rest.
    pub fn finish(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.pending.is_empty() {
            self.skip_first_hole(out);
        }
    }

    /// True when segments are waiting behind a hole.
    pub fn has_hole(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = (Vec<u8>, Vec<SegmentKind>, StreamStats, Vec<(u64, u64)>);

    fn run(segments: &[(u32, &[u8])]) -> Outcome {
        let mut r = Reassembler::new();
        r.syn(999);
        let mut stream = Vec::new();
        let mut gaps = Vec::new();
        let mut kinds = Vec::new();
        let mut sink = |c: Chunk<'_>| match c {
            Chunk::Data { offset, bytes } => {
                assert_eq!(offset as usize, stream.len());
                stream.extend_from_slice(bytes);
            }
            Chunk::Gap { offset, len } => {
                assert_eq!(offset as usize, stream.len());
                stream.extend(std::iter::repeat_n(b'?', len as usize));
                gaps.push((offset, len));
            }
        };
        for (seq, data) in segments {
            kinds.push(r.segment(*seq, data, &mut sink));
        }
        r.finish(&mut sink);
        (stream, kinds, r.stats.clone(), gaps)
    }

    #[test]
    fn in_order_and_retransmitted() {
        let (s, k, st, _) = run(&[(1000, b"hello "), (1006, b"world"), (1006, b"world")]);
        assert_eq!(s, b"hello world");
        assert_eq!(
            k,
            [
                SegmentKind::InOrder,
                SegmentKind::InOrder,
                SegmentKind::Retransmission
            ]
        );
        assert_eq!(st.retransmissions, 1);
    }

    #[test]
    fn out_of_order_and_overlap() {
        let (s, k, st, gaps) = run(&[(1006, b"world"), (1000, b"hello "), (1003, b"lo world!")]);
        assert_eq!(s, b"hello world!");
        assert_eq!(
            k,
            [SegmentKind::Ahead, SegmentKind::OutOfOrder, SegmentKind::Overlap]
        );
        assert_eq!((st.out_of_order, st.overlaps, gaps.len()), (1, 1, 0));
    }

    #[test]
    fn missing_segment_reported_at_the_end() {
        let (s, _, st, gaps) = run(&[(1000, b"ab"), (1005, b"fg")]);
        assert_eq!(s, b"ab???fg");
        assert_eq!(gaps, [(2, 3)]);
        assert_eq!((st.missing_segments, st.missing_bytes), (1, 3));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = Reassembler::new();
        r.syn(u32::MAX - 2);
        let mut got = Vec::new();
        let mut sink = |c: Chunk<'_>| {
            if let Chunk::Data { bytes, .. } = c {
                got.extend_from_slice(bytes)
            }
        };
        r.segment(u32::MAX - 1, b"abc", &mut sink);
        r.segment(1, b"de", &mut sink);
        assert_eq!(got, b"abcde");
    }

    #[test]
    fn ahead_segments_overlapping_each_other() {
        let (s, _, _, _) = run(&[(1004, b"efgh"), (1002, b"cdefghij"), (1000, b"ab")]);
        assert_eq!(s, b"abcdefghij");
    }

    #[test]
    fn pending_is_bounded() {
        let mut r = Reassembler::new();
        r.syn(0);
        let big = vec![7u8; 1024 * 1024];
        let mut delivered = 0u64;
        let mut sink = |c: Chunk<'_>| {
            if let Chunk::Data { bytes, .. } = c {
                delivered += bytes.len() as u64
            }
        };
        for i in 0..6u32 {
            r.segment(100 + i * (1024 * 1024), &big, &mut sink);
        }
        assert!(r.pending_bytes <= MAX_PENDING);
        assert!(r.stats.missing_segments >= 1);
    }
}
